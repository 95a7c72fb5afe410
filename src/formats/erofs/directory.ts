/**
 * Directory data: blocks of 12-byte dirents (u64 nid, u16 name offset within the block, u8 file
 * type, u8 0) followed by the names, unterminated; a name ends where the next begins, the last
 * one at the first NUL or the end of the data. "." and ".." are stored as entries.
 *
 * The kernel looks a name up by binary search over the blocks (by each block's first name), then
 * within the block, comparing bytes as unsigned: every name, "." and ".." included, must be in
 * strict byte order. Entries are packed greedily; one that does not fit starts the next block.
 * The directory's size is its full blocks plus the bytes used in the last one.
 */
import { BLOCK_SIZE } from './format.js';

const DIRENT_SIZE = 12;
export const DOT = Buffer.from('.');
export const DOTDOT = Buffer.from('..');

export interface Dirent {
  readonly name: Buffer;
  readonly type: number;
  readonly nid: number;
}

/** Merges "." and ".." into names already sorted by bytes (they sort like any name). */
export function withDots<T extends { readonly name: Buffer }>(sorted: readonly T[], dot: T, dotdot: T): T[] {
  const out: T[] = [];
  const dots = [dot, dotdot];
  for (const e of sorted) {
    while (dots.length && Buffer.compare(dots[0]!.name, e.name) < 0) out.push(dots.shift()!);
    out.push(e);
  }
  out.push(...dots);
  return out;
}

/** Index of the first entry of each block. */
function blockStarts(nameLengths: readonly number[]): number[] {
  const starts: number[] = [];
  let used = BLOCK_SIZE;
  nameLengths.forEach((len, i) => {
    if (used + DIRENT_SIZE + len > BLOCK_SIZE) {
      starts.push(i);
      used = 0;
    }
    used += DIRENT_SIZE + len;
  });
  return starts;
}

/** The size of a directory whose entries (dots included, in order) have these names. */
export function directorySize(names: readonly Buffer[]): number {
  const lengths = names.map((n) => n.length);
  const starts = blockStarts(lengths);
  if (!starts.length) return 0;
  const last = starts[starts.length - 1]!;
  let used = 0;
  for (let i = last; i < lengths.length; i++) used += DIRENT_SIZE + lengths[i]!;
  return (starts.length - 1) * BLOCK_SIZE + used;
}

/** The directory's data: full blocks, then the used part of the last. */
export function encodeDirectory(entries: readonly Dirent[]): Buffer {
  const starts = blockStarts(entries.map((e) => e.name.length));
  const size = directorySize(entries.map((e) => e.name));
  const out = Buffer.alloc(size);
  starts.forEach((first, b) => {
    const end = b + 1 < starts.length ? starts[b + 1]! : entries.length;
    const base = b * BLOCK_SIZE;
    let nameAt = (end - first) * DIRENT_SIZE;
    for (let i = first; i < end; i++) {
      const e = entries[i]!;
      const at = base + (i - first) * DIRENT_SIZE;
      out.writeBigUInt64LE(BigInt(e.nid), at);
      out.writeUInt16LE(nameAt, at + 8);
      out.writeUInt8(e.type, at + 10);
      e.name.copy(out, base + nameAt);
      nameAt += e.name.length;
    }
  });
  return out;
}
