/**
 * LZ4 "destSize" compression with a cost-optimal parse: the same result as fixed-output.ts (the
 * longest prefix of the input whose block fits), but chosen by dynamic programming over every
 * position instead of greedily. For each position it knows the fewest output bytes that encode
 * the input before it, either ending with a match there (`price`) or with literals after one
 * (`best`), from the longest match found at every position and each of its shorter lengths; the
 * block then ends where the most input fits, with its final literals. Its blocks hold ≈0.3 % more
 * input than the greedy parse's on kernel modules, for about six times the time: it is meant for
 * the few files where that saves a block (erofs/data.ts).
 */
import { LAST_LITERALS, MATCH_FIND_LIMIT, MIN_MATCH, extraLengthBytes, lastLiteralsFitting, longestMatchFitting, writeLastLiterals, writeSequence } from './block.js';
import type { FitResult } from '../fixed-output.js';
import { DEFAULT_ATTEMPTS } from './fixed-output.js';
import { HashChain } from './hash-chain.js';

const UNREACHED = 0x3fffffff;
/**
 * A match this long is taken whole: only its full length is priced, and no match is looked for
 * inside it until its last LONG_MATCH bytes (runs of zeros would otherwise cost time quadratic
 * in their length).
 */
const LONG_MATCH = 256;
/** Bytes a match adds besides its extra length bytes: token and offset. */
const MATCH_COST = 3;

export class Lz4OptimalEncoder {
  private readonly finder: HashChain;
  // Per position from the block start (index 0): see the file comment. A match ending at i
  // starts at `matchStart[i]`, with `matchOffset[i]`; `best[i]` counts the literals since
  // `literalsFrom[i]`, a position where `price` holds.
  private price = new Int32Array(0);
  private matchStart = new Int32Array(0);
  private matchOffset = new Int32Array(0);
  private best = new Int32Array(0);
  private literalsFrom = new Int32Array(0);
  /** Positions reached by some match so far (their `price` is set). */
  private reached = 0;
  private readonly path: number[] = [];

  constructor(attempts = DEFAULT_ATTEMPTS) {
    this.finder = new HashChain(attempts);
  }

  /**
   * Encodes the longest prefix of `src[start, end)` whose block fits in `dst[0, capacity)`, as
   * Lz4FixedOutputEncoder.compress does.
   */
  compress(src: Uint8Array, start: number, end: number, dst: Uint8Array, capacity: number): FitResult {
    const finder = this.finder;
    finder.startBlock(src, start);
    const matchLimit = end - LAST_LITERALS;
    const lastMatchStart = end - MATCH_FIND_LIMIT;
    const span = end - start;
    this.reached = 0;
    this.grow(1);
    this.price[0] = 0;
    this.matchStart[0] = -1;
    let longEnd = -1;
    let longOffset = 0;
    let furthestStart = 0;
    let furthestEnd = 0;
    let furthestCost = 0;
    let i = 0;
    for (; i <= span; i++) {
      this.grow(i + 1);
      const price = this.price;
      if (i > this.reached) price[i] = UNREACHED;
      // The cheaper of: a sequence boundary here, or one more literal after the best before.
      let cost = price[i]!;
      let from = i;
      if (i > 0) {
        const literals = i - this.literalsFrom[i - 1]!;
        const more = this.best[i - 1]! + literalsCostStep(literals);
        if (more < cost) {
          cost = more;
          from = this.literalsFrom[i - 1]!;
        }
      }
      this.best[i] = cost;
      this.literalsFrom[i] = from;
      // A match from here would leave no room for the final literals.
      const full = cost + MATCH_COST + 1 + LAST_LITERALS > capacity;
      if (full && i >= this.reached) break;
      if (full || start + i > lastMatchStart) continue;
      if (i + LONG_MATCH <= longEnd) {
        this.relax(i, longEnd - i, longOffset, cost, false);
        continue;
      }
      const found = finder.find(start + i, start, matchLimit);
      if (found === 0) continue;
      // No longer than what leaves room for the final sequence: a run of zeros matches far
      // beyond what a block's length bytes can say.
      const length = Math.min(found, longestMatchFitting(capacity - cost - MATCH_COST - 1 - LAST_LITERALS));
      // The ends that the furthest-reaching match so far (from less than 255 bytes back) already
      // prices as low: its cost is lower by a byte at least, its extra length bytes higher by one
      // at most.
      const shorter = length < LONG_MATCH;
      const priced = cost > furthestCost && i - furthestStart < 255 ? furthestEnd - i : 0;
      this.relax(i, length, finder.offset, cost, shorter, priced);
      if (shorter && (i + length > furthestEnd || cost <= furthestCost)) {
        furthestStart = i;
        furthestEnd = i + length;
        furthestCost = cost;
      }
      if (length >= LONG_MATCH) {
        longEnd = i + length;
        longOffset = finder.offset;
      }
    }

    // The block end holding the most input: after some match (or none), the most literals that
    // still fit, at least 5 of them and reaching 12 bytes past the match start.
    const last = Math.min(this.reached, i, span);
    let endAt = Math.min(span, lastLiteralsFitting(capacity));
    let lastMatchEnd = 0;
    for (let q = 1; q <= last; q++) {
      const price = this.price[q]!;
      if (price >= UNREACHED || q + capacity - price <= endAt) continue;
      const x = q + Math.min(span - q, lastLiteralsFitting(capacity - price));
      if (x > endAt && x - q >= LAST_LITERALS && x - this.matchStart[q]! >= MATCH_FIND_LIMIT) {
        endAt = x;
        lastMatchEnd = q;
      }
    }

    const path = this.path;
    path.length = 0;
    for (let q = lastMatchEnd; q > 0; q = this.literalsFrom[this.matchStart[q]!]!) path.push(q);
    let op = 0;
    let anchor = 0;
    for (let k = path.length - 1; k >= 0; k--) {
      const q = path[k]!;
      const from = this.matchStart[q]!;
      op = writeSequence(dst, op, src, start + anchor, from - anchor, this.matchOffset[q]!, q - from);
      anchor = q;
    }
    op = writeLastLiterals(dst, op, src, start + anchor, endAt - anchor);
    return { consumed: endAt, written: op };
  }

  /**
   * Prices a match from `i` of `length` bytes (offset `offset`) after `cost` bytes: at its end,
   * and if `shorter`, at the end of each shorter length too.
   */
  private relax(i: number, length: number, offset: number, cost: number, shorter: boolean, priced = 0): void {
    const top = i + length;
    this.grow(top + 1);
    const price = this.price;
    for (let q = this.reached + 1; q <= top; q++) price[q] = UNREACHED;
    if (top > this.reached) this.reached = top;
    for (let m = shorter ? Math.max(MIN_MATCH, priced + 1) : length; m <= length; m++) {
      const c = cost + MATCH_COST + (m < MIN_MATCH + 15 ? 0 : extraLengthBytes(m - MIN_MATCH));
      if (c < price[i + m]!) {
        price[i + m] = c;
        this.matchStart[i + m] = i;
        this.matchOffset[i + m] = offset;
      }
    }
  }

  /** Makes the per-position arrays hold at least `n` positions, keeping their contents. */
  private grow(n: number): void {
    if (this.price.length >= n) return;
    const size = Math.max(n, this.price.length * 2, 1 << 15);
    const bigger = (a: Int32Array) => {
      const b = new Int32Array(size);
      b.set(a);
      return b;
    };
    this.price = bigger(this.price);
    this.matchStart = bigger(this.matchStart);
    this.matchOffset = bigger(this.matchOffset);
    this.best = bigger(this.best);
    this.literalsFrom = bigger(this.literalsFrom);
  }
}

/** What the `n`th literal of a run adds: itself, and a length byte at 15, 270, 525 … */
function literalsCostStep(n: number): number {
  return n >= 15 && (n - 15) % 255 === 0 ? 2 : 1;
}
