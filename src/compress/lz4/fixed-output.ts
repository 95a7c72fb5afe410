/**
 * LZ4 "destSize" compression with HC-quality matches: encodes the longest prefix of the input
 * whose LZ4 block fits in a given number of bytes, as `LZ4_compress_HC_destSize` does for
 * mkfs.erofs. EROFS stores each such block in a fixed-size physical cluster, so the more input
 * one block holds, the smaller the image.
 */
import {
  LAST_LITERALS,
  MATCH_FIND_LIMIT,
  MIN_MATCH,
  extraLengthBytes,
  lastLiteralsFitting,
  longestMatchFitting,
  sequenceSize,
  writeLastLiterals,
  writeSequence,
} from './block.js';
import type { FitResult, FixedOutputCompressor } from '../fixed-output.js';
import { HashChain } from './hash-chain.js';

/** Candidates examined per search: the quality/speed knob (LZ4HC level 9 examines 256). */
export const DEFAULT_ATTEMPTS = 256;
/**
 * Where the next match is looked for: this many bytes before the end of the current one, but at
 * least PROBE_MIN bytes after its start (short matches would otherwise only be probed at their
 * second byte).
 */
const PROBE_BACK = 3;
const PROBE_MIN = 2;
/** The most overlapping matches considered together. */
const MAX_CHAIN = 32;
/** The longest match whose length fits in its token (4 + 14). */
const SHORT_MATCH_MAX = MIN_MATCH + 14;

/** Bytes `n` literals take in a sequence, besides the token. */
function literalsCost(n: number): number {
  return n + extraLengthBytes(n);
}

export class Lz4FixedOutputEncoder implements FixedOutputCompressor {
  private readonly finder: HashChain;
  // The chain of candidate matches and the choice among them (see `chooseMatches`).
  private readonly chainStart = new Int32Array(MAX_CHAIN);
  private readonly chainEnd = new Int32Array(MAX_CHAIN);
  private readonly chainOffset = new Int32Array(MAX_CHAIN);
  private readonly cost = new Int32Array(MAX_CHAIN);
  private readonly from = new Int32Array(MAX_CHAIN);
  private readonly before = new Int32Array(MAX_CHAIN);
  private readonly path = new Int32Array(MAX_CHAIN);
  private readonly reversed = new Int32Array(MAX_CHAIN);

  constructor(attempts = DEFAULT_ATTEMPTS) {
    this.finder = new HashChain(attempts);
  }

  /**
   * Encodes the longest prefix of `src[start, end)` whose block fits in `dst[0, capacity)`.
   * Matches never reach before `start`: the block decodes on its own.
   *
   * Parsing: where no match starts, a literal. Where one does, it is extended backwards over
   * pending literals; then we look near its end for a longer match reaching further, near that
   * one's end for another, and so on, and choose which of these overlapping matches to write
   * (`chooseMatches`). A sequence is written only if the literals-only sequence every block ends
   * with still fits after it; when the next one does not, the block ends with as many literals
   * as the room left holds.
   */
  compress(src: Uint8Array, start: number, end: number, dst: Uint8Array, capacity: number): FitResult {
    const finder = this.finder;
    finder.startBlock(src, start);
    const matchLimit = end - LAST_LITERALS;
    const lastMatchStart = end - MATCH_FIND_LIMIT;
    let op = 0;
    let anchor = start;
    let ip = start;

    const cs = this.chainStart;
    const ce = this.chainEnd;
    const co = this.chainOffset;
    // Literals the block could still end with: searching past them is pointless.
    let literalRoom = lastLiteralsFitting(capacity);
    while (ip <= lastMatchStart && ip - anchor < literalRoom) {
      const length = finder.find(ip, start, matchLimit);
      if (length === 0) {
        ip++;
        continue;
      }
      // A chain of overlapping matches, each found near the end of the previous one and
      // reaching further.
      let s0 = ip;
      const o0 = finder.offset;
      while (s0 > anchor && s0 - o0 > start && src[s0 - 1] === src[s0 - 1 - o0]) s0--;
      cs[0] = s0;
      ce[0] = ip + length;
      co[0] = o0;
      let n = 1;
      while (n < MAX_CHAIN) {
        const probe = Math.max(ce[n - 1]! - PROBE_BACK, cs[n - 1]! + PROBE_MIN);
        if (probe > lastMatchStart || probe <= cs[n - 1]!) break;
        const wider = finder.findWider(probe, cs[n - 1]!, start, matchLimit, ce[n - 1]! - cs[n - 1]!);
        if (wider === 0) break;
        cs[n] = finder.matchStart;
        ce[n] = finder.matchStart + wider;
        co[n] = finder.offset;
        n++;
      }
      const used = this.chooseMatches(n, anchor, lastMatchStart);
      let stopped = false;
      for (let u = 0; u < used; u++) {
        const j = this.path[u]!;
        const from = this.from[j]!;
        const to = u + 1 < used ? Math.min(ce[j]!, this.from[this.path[u + 1]!]!) : ce[j]!;
        if (!this.fits(op, from - anchor, to - from, capacity)) {
          // The block is full. End it with this match cut short, if that holds more input than
          // ending with literals now.
          const length = this.longestFitting(op, from - anchor, to - from, capacity);
          if (length > 0) {
            const after = op + sequenceSize(from - anchor, length);
            const withMatch = from + length + Math.min(end - from - length, lastLiteralsFitting(capacity - after));
            const withLiterals = anchor + Math.min(end - anchor, lastLiteralsFitting(capacity - op));
            if (withMatch > withLiterals) {
              op = writeSequence(dst, op, src, anchor, from - anchor, co[j]!, length);
              anchor = from + length;
            }
          }
          stopped = true;
          break;
        }
        op = writeSequence(dst, op, src, anchor, from - anchor, co[j]!, to - from);
        anchor = to;
      }
      if (stopped) break;
      ip = anchor;
      literalRoom = lastLiteralsFitting(capacity - op);
    }

    const literals = Math.min(end - anchor, lastLiteralsFitting(capacity - op));
    op = writeLastLiterals(dst, op, src, anchor, literals);
    return { consumed: anchor + literals - start, written: op };
  }

  /**
   * Picks which matches of the chain to write, the last one always: the cheapest cover of
   * [anchor, end of the last match) in bytes (literals, 3 per sequence, extra length bytes). A
   * match may start later than found (it then gives up its first bytes) so that the one before
   * it keeps 4, but never past `lastMatchStart` (a block's last match starts 12 bytes before its
   * end at least). Leaves the chosen indexes in `path` and their starts in `from`; returns how many.
   */
  private chooseMatches(n: number, anchor: number, lastMatchStart: number): number {
    const cs = this.chainStart;
    const ce = this.chainEnd;
    const cost = this.cost;
    const from = this.from;
    const before = this.before;
    for (let j = 0; j < n; j++) {
      // Reached with literals only, from the anchor.
      let best = literalsCost(cs[j]! - anchor) + 3;
      let bestFrom = cs[j]!;
      let bestBefore = -1;
      for (let i = 0; i < j; i++) {
        const f = Math.max(cs[j]!, from[i]! + MIN_MATCH);
        if (ce[j]! - f < MIN_MATCH || f > lastMatchStart || cost[i]! < 0) continue;
        // The match before ends at f (or earlier, literals filling the gap): its extra length
        // bytes are known now.
        const c = cost[i]! + extraLengthBytes(Math.min(ce[i]!, f) - from[i]! - MIN_MATCH) + literalsCost(Math.max(0, f - ce[i]!)) + 3;
        // On a tie, a path through matches rather than literals.
        if (c < best || (c === best && bestBefore < 0)) {
          best = c;
          bestFrom = f;
          bestBefore = i;
        }
      }
      cost[j] = best;
      from[j] = bestFrom;
      before[j] = bestBefore;
    }
    let count = 0;
    for (let j = n - 1; j >= 0; j = before[j]!) this.reversed[count++] = j;
    for (let u = 0; u < count; u++) this.path[u] = this.reversed[count - 1 - u]!;
    // Where two chosen matches overlap, the first keeps up to 18 bytes (the longest without an
    // extra length byte) and the second starts later: neither costs more, the second may cost less.
    for (let u = 0; u + 1 < count; u++) {
      const a = this.path[u]!;
      const b = this.path[u + 1]!;
      const cut = Math.min(from[a]! + SHORT_MATCH_MAX, ce[a]!, ce[b]! - MIN_MATCH, lastMatchStart);
      if (cut > from[b]!) from[b] = cut;
    }
    return count;
  }

  /** The longest match (from 4 to `length`) whose sequence `fits`, or 0. */
  private longestFitting(op: number, literals: number, length: number, capacity: number): number {
    const room = capacity - op - sequenceSize(literals, MIN_MATCH) - (1 + LAST_LITERALS);
    let m = Math.min(length, longestMatchFitting(room));
    while (m >= MIN_MATCH && !this.fits(op, literals, m, capacity)) m--;
    return m >= MIN_MATCH ? m : 0;
  }

  /**
   * Whether a sequence still leaves room for the literals every block ends with: at least 5, and
   * enough that its match starts 12 bytes before the end.
   */
  private fits(op: number, literals: number, length: number, capacity: number): boolean {
    const reserve = 1 + Math.max(LAST_LITERALS, MATCH_FIND_LIMIT - length);
    return op + sequenceSize(literals, length) + reserve <= capacity;
  }
}
