/**
 * The match finder of the HC (high compression) encoder: every position's 4-byte prefix is hashed
 * into a table of most recent positions, and each position links to the previous one with the
 * same hash (a chain of distances, at most 64 KiB back, LZ4's window). A search walks the chain
 * from the newest candidate, verifying each one, up to `attempts` candidates.
 *
 * Positions are kept as `base + index`, and each block raises `base` beyond the window instead
 * of clearing the tables: entries of earlier blocks then look too far away to be used.
 * Candidates are always verified byte by byte (4 bytes at a time where possible).
 */
import { MAX_DISTANCE, MIN_MATCH } from './block.js';

const HASH_BITS = 15;
const WINDOW_MASK = 0xffff;
/** Keeps `base + index` within int32. */
const BASE_LIMIT = 1 << 30;

export class HashChain {
  private readonly head = new Int32Array(1 << HASH_BITS).fill(-(MAX_DISTANCE + 1));
  private readonly chain = new Uint16Array(WINDOW_MASK + 1);
  private src: Uint8Array = new Uint8Array(0);
  private view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  private base = 0;
  /** Next position (index in `src`) not yet inserted. */
  private nextToInsert = 0;
  /** Offset of the match the last `find` or `findWider` returned. */
  offset = 0;
  /** Start of the match the last `findWider` returned. */
  matchStart = 0;

  constructor(private readonly attempts: number) {}

  /**
   * Starts a block at `src[start]`: nothing inserted before (in this or any other buffer) can be
   * matched, so a block's encoding depends on its own input only.
   */
  startBlock(src: Uint8Array, start: number): void {
    this.base += this.src.length + MAX_DISTANCE + 1;
    if (this.base + src.length > BASE_LIMIT) {
      this.head.fill(-(MAX_DISTANCE + 1));
      this.base = 0;
    }
    if (src !== this.src) {
      this.src = src;
      this.view = new DataView(src.buffer, src.byteOffset, src.byteLength);
    }
    this.nextToInsert = start;
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

    const first = view.getUint32(ip, true);
    let best = MIN_MATCH - 1;
    let cand = this.head[hash(first)]! - this.base;
    for (let n = this.attempts; n > 0 && cand >= lowLimit; n--) {
      // The byte that would make it longer than the best so far, then the first four.
      if (cand < ip && src[cand + best] === src[ip + best] && view.getUint32(cand, true) === first) {
        const len = MIN_MATCH + this.extend(cand + MIN_MATCH, ip + MIN_MATCH, limit);
        if (len > best) {
          best = len;
          this.offset = ip - cand;
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
    this.insertUpTo(ip);
    const lowLimit = Math.max(low, ip - MAX_DISTANCE);
    const maxForward = limit - ip;
    if (maxForward < MIN_MATCH) return 0;
    const first = view.getUint32(ip, true);
    let best = longest;
    let found = 0;
    let cand = this.head[hash(first)]! - this.base;
    for (let n = this.attempts; n > 0 && cand >= lowLimit; n--) {
      if (cand < ip && view.getUint32(cand, true) === first) {
        let back = 0;
        while (ip - back > minStart && cand - back > low && src[ip - back - 1] === src[cand - back - 1]) back++;
        // To be longer than `best`, the match must reach the byte at (its start + best).
        const need = best - back;
        if (need < maxForward && (need < MIN_MATCH || src[cand + need] === src[ip + need])) {
          const forward = MIN_MATCH + this.extend(cand + MIN_MATCH, ip + MIN_MATCH, limit);
          if (back + forward > best) {
            best = back + forward;
            found = best;
            this.offset = ip - cand;
            this.matchStart = ip - back;
            if (forward === maxForward && ip - back === minStart) break;
          }
        }
      }
      const d = chain[cand & WINDOW_MASK]!;
      if (d === 0) break;
      cand -= d;
    }
    return found;
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
    for (let p = this.nextToInsert; p < ip; p++) {
      const h = hash(view.getUint32(p, true));
      const d = base + p - head[h]!;
      chain[p & WINDOW_MASK] = d > 0 && d <= MAX_DISTANCE ? d : 0;
      head[h] = base + p;
    }
    if (ip > this.nextToInsert) this.nextToInsert = ip;
  }
}

function hash(v: number): number {
  return Math.imul(v, 2654435761) >>> (32 - HASH_BITS);
}
