/**
 * The match finder of the HC (high compression) encoder: every position's 4-byte prefix is hashed
 * into a table of most recent positions, and each position links to the previous one with the
 * same hash (a chain of distances, at most 64 KiB back, LZ4's window). A search walks the chain
 * from the newest candidate, verifying each one, up to `attempts` candidates.
 *
 * Positions are kept as `base + index`, and each block raises `base` beyond the window instead
 * of clearing the tables: entries of earlier blocks then look too far away to be used.
 * Candidates are always verified byte by byte (4 bytes at a time where possible).
 *
 * Runs of one byte value (zero padding, mostly) fill the chain of that value's four bytes with
 * one entry per byte of every earlier run: a search would spend its attempts inside a few runs.
 * So a search from a position where such a run starts looks instead for the run's last byte and
 * the three after it, among positions preceded by a run at least as long (`runLength` tells):
 * only those matches go past the run. The run itself always matches one byte back.
 */
import { MAX_DISTANCE, MIN_MATCH } from './block.js';

const HASH_BITS = 15;
/** Run lengths 2^0 … 2^16 (the window) for `longRuns`. */
const RUN_BUCKETS = 17;
/** Earlier runs examined for a match of a run alone. */
const RUN_SEARCH = 32;
const WINDOW_MASK = 0xffff;
/** Keeps `base + index` within int32. */
const BASE_LIMIT = 1 << 30;

export class HashChain {
  private readonly head = new Int32Array(1 << HASH_BITS).fill(-(MAX_DISTANCE + 1));
  private readonly chain = new Uint16Array(WINDOW_MASK + 1);
  /** How many equal bytes end at each inserted position, itself included. */
  private readonly runLength = new Int32Array(WINDOW_MASK + 1);
  private blockStart = 0;
  /**
   * Per byte value and k: where the latest run of that byte that reached 2^k bytes starts (as
   * `base + index`), for runs longer than the recent ones `earlierRuns` sees.
   */
  private readonly longRuns = new Int32Array(256 * RUN_BUCKETS).fill(-(MAX_DISTANCE + 1));
  private readonly runStarts = new Int32Array(RUN_SEARCH);
  private readonly runEnds = new Int32Array(RUN_SEARCH);
  private src: Uint8Array = new Uint8Array(0);
  private view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  private base = 0;
  /** Next position (index in `src`) not yet inserted. */
  private nextToInsert = 0;
  /** Offset of the match the last `find` or `findWider` returned. */
  offset = 0;
  /** Start of the match the last `findWider` returned. */
  matchStart = 0;
  /** Length of the match `wider` found, or of the run `longRun` found. */
  private length = 0;
  // The run (of one byte) the last search started in, kept for the next searches in it: where
  // it starts and ends (scanned up to `runLimit`), and how many earlier runs `earlierRuns` found.
  private runFrom = -1;
  private runTo = 0;
  private runLimit = 0;
  private runCount = 0;

  constructor(private readonly attempts: number) {}

  /**
   * Starts a block at `src[start]`: nothing inserted before (in this or any other buffer) can be
   * matched, so a block's encoding depends on its own input only.
   */
  startBlock(src: Uint8Array, start: number): void {
    this.base += this.src.length + MAX_DISTANCE + 1;
    if (this.base + src.length > BASE_LIMIT) {
      this.head.fill(-(MAX_DISTANCE + 1));
      this.longRuns.fill(-(MAX_DISTANCE + 1));
      this.base = 0;
    }
    if (src !== this.src) {
      this.src = src;
      this.view = new DataView(src.buffer, src.byteOffset, src.byteLength);
    }
    this.nextToInsert = start;
    this.blockStart = start;
    this.runFrom = -1;
  }

  /**
   * The longest match for position `ip` that starts at or after `low` and ends at or before
   * `limit`: its length (0 if shorter than 4), its offset in `this.offset`. Inserts every
   * position before `ip` first.
   */
  find(ip: number, low: number, limit: number): number {
    const src = this.src;
    const view = this.view;
    const chain = this.chain;
    this.insertUpTo(ip);
    const lowLimit = Math.max(Math.min(low, ip), ip - MAX_DISTANCE);
    const maxLength = limit - ip;
    if (maxLength < MIN_MATCH) return 0;

    let first = view.getUint32(ip, true);
    let best = MIN_MATCH - 1;
    // From a run: the run itself one byte back; recent runs as long, which may go on past it;
    // then older matches of the run's last byte (`at`), preceded by a run as long.
    let at = ip;
    let run = 0;
    if (isRun(first)) {
      this.ourRun(ip, lowLimit, limit, first);
      const end = this.runTo;
      if (ip > lowLimit && src[ip - 1] === src[ip]) {
        best = end - ip;
        this.offset = 1;
      }
      for (let k = this.runCount - 1; k >= 0; k--) {
        const runEnd = this.runEnds[k]!;
        const length = runEnd - this.runStarts[k]!;
        const len = length < end - ip ? length : end - ip + this.extend(runEnd, end, limit);
        if (len > best) {
          best = len;
          this.offset = ip - (runEnd - Math.min(length, end - ip));
        }
      }
      if (best < end - ip) {
        const start = this.longRun(src[ip]!, end - ip, lowLimit);
        if (start >= 0) {
          const len = Math.min(end - ip, this.length);
          if (len > best) {
            best = len;
            this.offset = ip - start;
          }
        }
      }
      if (end + 1 > limit || best === maxLength) return best >= MIN_MATCH ? best : 0;
      at = end - 3;
      run = at - ip;
      first = view.getUint32(at, true);
    }
    let cand = this.head[hash(first)]! - this.base;
    for (let n = this.attempts; n > 0 && cand >= lowLimit + run; n--) {
      // The byte that would make it longer than the best so far, then the first four.
      if (cand < ip && src[cand - run + best] === src[ip + best] && view.getUint32(cand, true) === first && this.runLength[cand & WINDOW_MASK]! > run) {
        const len = run + MIN_MATCH + this.extend(cand + MIN_MATCH, at + MIN_MATCH, limit);
        if (len > best) {
          best = len;
          this.offset = at - cand;
          if (len === maxLength) break;
        }
      }
      const d = chain[cand & WINDOW_MASK]!;
      if (d === 0) break;
      cand -= d;
    }
    return best >= MIN_MATCH ? best : 0;
  }

  /**
   * The longest match found from position `ip` that may also extend backwards down to `minStart`
   * (not before `low` in its source), ends at or before `limit`, and is longer than `longest`:
   * its length (0 if none), start in `this.matchStart`, offset in `this.offset`.
   */
  findWider(ip: number, minStart: number, low: number, limit: number, longest: number): number {
    const src = this.src;
    const view = this.view;
    const chain = this.chain;
    const runLength = this.runLength;
    this.insertUpTo(ip);
    const lowLimit = Math.max(low, ip - MAX_DISTANCE);
    if (limit - ip < MIN_MATCH) return 0;
    let first = view.getUint32(ip, true);
    let best = longest;
    let found = 0;
    // In a run: the run itself, then matches from its last byte (`at`), whose run before it
    // (`ownRun` bytes, `at` included) counts as matching without comparing it byte by byte.
    let at = ip;
    let ownRun = 1;
    if (isRun(first)) {
      this.ourRun(ip, lowLimit, limit, first);
      const end = this.runTo;
      const start = Math.max(this.runFrom, low, minStart + 1);
      // Repeating the byte before it, our run from its second byte on.
      const self = src[start - 1] === src[ip] ? start : start + 1;
      if (self > low && self <= ip && end - self > best) {
        best = found = end - self;
        this.offset = 1;
        this.matchStart = self;
      }
      // Recent runs: the position ending where ours ends (the match may go on past both) and the
      // one starting where ours starts (it may go on before both).
      for (let k = this.runCount - 1; k >= 0; k--) {
        const runStart = this.runStarts[k]!;
        const runEnd = this.runEnds[k]!;
        const endAligned = Math.max(runStart, runEnd - (end - ip));
        const startAligned = runStart + (ip - start);
        if (this.wider(endAligned, ip, minStart, low, limit, best)) best = found = this.length;
        if (startAligned !== endAligned && startAligned + MIN_MATCH <= runEnd && this.wider(startAligned, ip, minStart, low, limit, best)) best = found = this.length;
      }
      if (start === ip) {
        const long = this.longRun(src[ip]!, end - ip, lowLimit);
        if (long >= 0 && long + MIN_MATCH <= ip && this.wider(long, ip, minStart, low, limit, best)) best = found = this.length;
      }
      if (end + 1 > limit) return found;
      at = end - 3;
      ownRun = at + 1 - start;
      first = view.getUint32(at, true);
    }
    const maxForward = limit - at;
    // The offset is taken from `at`, which may lie past `ip`.
    const chainLow = Math.max(lowLimit, at - MAX_DISTANCE);
    let cand = this.head[hash(first)]! - this.base;
    for (let n = this.attempts; n > 0 && cand >= chainLow; n--) {
      // Preceded by a run at least as long as ours from `ip`: the match contains `ip`.
      if (cand < ip && view.getUint32(cand, true) === first && runLength[cand & WINDOW_MASK]! > at - ip) {
        let back = Math.min(runLength[cand & WINDOW_MASK]!, ownRun, cand - low + 1) - 1;
        while (at - back > minStart && cand - back > low && src[at - back - 1] === src[cand - back - 1]) back++;
        // To be longer than `best`, the match must reach the byte at (its start + best).
        const need = best - back;
        if (need < maxForward && (need < MIN_MATCH || src[cand + need] === src[at + need])) {
          const forward = MIN_MATCH + this.extend(cand + MIN_MATCH, at + MIN_MATCH, limit);
          if (back + forward > best) {
            best = back + forward;
            found = best;
            this.offset = at - cand;
            this.matchStart = at - back;
          }
        }
      }
      const d = chain[cand & WINDOW_MASK]!;
      if (d === 0) break;
      cand -= d;
    }
    return found;
  }

  /**
   * Whether the match of `ip` with `c` (`c` < `ip`, their first 4 bytes equal), extended backwards
   * as `findWider` does, is longer than `best`: then its length is in `length`, start and offset
   * in `matchStart` and `offset`.
   */
  private wider(c: number, ip: number, minStart: number, low: number, limit: number, best: number): boolean {
    const src = this.src;
    let back = 0;
    while (ip - back > minStart && c - back > low && src[ip - back - 1] === src[c - back - 1]) back++;
    const length = back + this.extend(c, ip, limit);
    if (length <= best) return false;
    this.length = length;
    this.matchStart = ip - back;
    this.offset = ip - c;
    return true;
  }

  /**
   * The latest runs of the byte `word` repeats before `ip` (at most RUN_SEARCH, from `low` on),
   * each found once however long, into `runStarts` and `runEnds`; returns how many.
   */
  private earlierRuns(ip: number, low: number, word: number): number {
    const view = this.view;
    let count = 0;
    let cand = this.head[hash(word)]! - this.base;
    while (count < RUN_SEARCH && cand >= low) {
      if (view.getUint32(cand, true) === word) {
        // The latest position of a run comes first: its run ends 4 bytes later, unless that
        // run is ours (reaches `ip`).
        const start = Math.max(low, cand + 1 - this.runLength[cand & WINDOW_MASK]!);
        if (cand + MIN_MATCH <= ip) {
          this.runStarts[count] = start;
          this.runEnds[count++] = cand + MIN_MATCH;
        }
        cand = start;
      }
      const d = this.chain[cand & WINDOW_MASK]!;
      if (d === 0) break;
      cand -= d;
    }
    return count;
  }

  /**
   * The start of the latest run of `byte` at least `length` long (or else of the longest length
   * 2^k below that) from `low` on, -1 if none; `this.length` is the run length known to be there.
   */
  private longRun(byte: number, length: number, low: number): number {
    for (let k = 32 - Math.clz32(length - 1); k >= 2; k--) {
      const start = this.longRuns[byte * RUN_BUCKETS + Math.min(k, RUN_BUCKETS - 1)]! - this.base;
      if (start >= low) {
        this.length = 1 << Math.min(k, RUN_BUCKETS - 1);
        return start;
      }
    }
    return -1;
  }

  /**
   * Finds the run of `src[ip]` that `ip` is in (`word`: four of its bytes): `runFrom`, `runTo`
   * (at most `limit`), and the earlier runs (`runCount` of them, from `low` on); the searches
   * from the next positions of a run reuse them.
   */
  private ourRun(ip: number, low: number, limit: number, word: number): void {
    const src = this.src;
    const from = ip > this.blockStart && src[ip - 1] === src[ip] ? ip - this.runLength[(ip - 1) & WINDOW_MASK]! : ip;
    if (from === this.runFrom && limit === this.runLimit && (this.runCount === 0 || this.runStarts[this.runCount - 1]! >= low)) return;
    this.runFrom = from;
    this.runLimit = limit;
    let end = ip;
    while (end < limit && src[end] === src[ip]) end++;
    this.runTo = end;
    this.runCount = this.earlierRuns(ip, low, word);
  }

  /** How many bytes from `a` and `b` (a < b) are equal, stopping at `limit` for `b`. */
  private extend(a: number, b: number, limit: number): number {
    const view = this.view;
    const src = this.src;
    const from = b;
    while (b + 4 <= limit && view.getUint32(a, true) === view.getUint32(b, true)) {
      a += 4;
      b += 4;
    }
    while (b < limit && src[a] === src[b]) {
      a++;
      b++;
    }
    return b - from;
  }

  private insertUpTo(ip: number): void {
    const view = this.view;
    const head = this.head;
    const chain = this.chain;
    const base = this.base;
    const src = this.src;
    const runLength = this.runLength;
    let p = this.nextToInsert;
    let length = p > this.blockStart ? runLength[(p - 1) & WINDOW_MASK]! : 0;
    for (; p < ip; p++) {
      length = length && src[p] === src[p - 1] ? length + 1 : 1;
      runLength[p & WINDOW_MASK] = length;
      // Where runs reach 4, 8, 16 … bytes (shorter ones are no match).
      if (length >= 4 && (length & (length - 1)) === 0 && length <= MAX_DISTANCE) this.longRuns[src[p]! * RUN_BUCKETS + 31 - Math.clz32(length)] = base + p + 1 - length;
      const h = hash(view.getUint32(p, true));
      const d = base + p - head[h]!;
      chain[p & WINDOW_MASK] = d > 0 && d <= MAX_DISTANCE ? d : 0;
      head[h] = base + p;
    }
    if (ip > this.nextToInsert) this.nextToInsert = ip;
  }
}

/** Whether the four bytes of `v` are equal. */
function isRun(v: number): boolean {
  return (v & 0xff) * 0x01010101 === v;
}

function hash(v: number): number {
  return Math.imul(v, 2654435761) >>> (32 - HASH_BITS);
}
