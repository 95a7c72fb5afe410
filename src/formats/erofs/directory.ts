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
import { BLOCK_SIZE, DecodeError, MAX_NAME } from './format.js';

export const DIRENT_SIZE = 12;
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

/**
 * The entries of one directory block, in stored order: `block` is the part of the block that
 * belongs to the directory (the block size, or less in the last block: i_size decides). Checks
 * what the kernel checks before it uses an entry (the first name offset, each name's bounds and
 * length), and that names hold neither NUL nor '/'. The order across entries is the caller's to
 * check. Throws DecodeError with offsets within the block.
 */
export function decodeDirectoryBlock(block: Buffer): Dirent[] {
  if (block.length < DIRENT_SIZE) throw new DecodeError(0, `${block.length} bytes cannot hold a directory entry`);
  const first = block.readUInt16LE(8);
  if (first < DIRENT_SIZE || first % DIRENT_SIZE || first >= block.length) throw new DecodeError(8, `the first name offset ${first} is not a multiple of ${DIRENT_SIZE} inside the block's ${block.length} bytes`);
  const count = first / DIRENT_SIZE;
  const out: Dirent[] = [];
  for (let i = 0; i < count; i++) {
    const at = i * DIRENT_SIZE;
    const nameAt = block.readUInt16LE(at + 8);
    let end: number;
    if (i + 1 < count) end = block.readUInt16LE(at + DIRENT_SIZE + 8);
    else {
      const nul = nameAt < block.length ? block.indexOf(0, nameAt) : -1;
      end = nul >= 0 ? nul : block.length;
    }
    if (nameAt < first || end <= nameAt || end > block.length) throw new DecodeError(at + 8, `entry ${i}: its name at ${nameAt}..${end} is not within ${first}..${block.length}`);
    if (end - nameAt > MAX_NAME) throw new DecodeError(at + 8, `entry ${i}: a ${end - nameAt}-byte name, more than ${MAX_NAME}`);
    const name = Buffer.from(block.subarray(nameAt, end));
    if (name.includes(0) || name.includes(0x2f)) throw new DecodeError(nameAt, `entry ${i}: the name ${JSON.stringify(name.toString('latin1'))} holds NUL or '/'`);
    const nid = block.readBigUInt64LE(at);
    if (nid > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError(at, `entry ${i}: nid ${nid} is absurd`);
    out.push({ name, nid: Number(nid), type: block[at + 10]! });
  }
  return out;
}
