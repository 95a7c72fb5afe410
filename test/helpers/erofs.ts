/**
 * Independent readers for the EROFS tests: a strict LZ4 block decoder and (below) a small EROFS
 * image decoder. They share no code with the writer on purpose.
 */
import { withMountedImage } from './mount.js';
import { compareTrees, snapshotTree, type TreeSnapshot } from './tree.js';

/**
 * Decodes one LZ4 block that must decode to exactly `size` bytes, enforcing the end-of-block
 * rules the kernel's decoder relies on: the last sequence is literals only, the last 5 bytes are
 * literals, and the last match starts at least 12 bytes before the end.
 */
export function decodeLz4Block(src: Uint8Array, size: number): Buffer {
  const out = Buffer.alloc(size);
  let ip = 0;
  let op = 0;
  const length = (n: number): number => {
    if (n !== 15) return n;
    for (;;) {
      if (ip >= src.length) throw new Error('lz4: truncated length');
      const b = src[ip++]!;
      n += b;
      if (b !== 255) return n;
    }
  };
  for (;;) {
    if (ip >= src.length) throw new Error('lz4: missing final literals');
    const token = src[ip++]!;
    const literals = length(token >> 4);
    if (ip + literals > src.length || op + literals > size) throw new Error('lz4: literals overrun');
    out.set(src.subarray(ip, ip + literals), op);
    ip += literals;
    op += literals;
    if (ip === src.length) {
      if ((token & 15) !== 0) throw new Error('lz4: last sequence has a match length');
      break;
    }
    const offset = src[ip]! | (src[ip + 1]! << 8);
    ip += 2;
    if (offset === 0 || offset > op) throw new Error(`lz4: bad offset ${offset} at ${op}`);
    const match = length(token & 15) + 4;
    if (op > size - 12) throw new Error('lz4: a match starts within the last 12 bytes');
    if (op + match > size - 5) throw new Error('lz4: a match reaches into the last 5 bytes');
    for (let i = 0; i < match; i++, op++) out[op] = out[op - offset]!;
  }
  if (op !== size) throw new Error(`lz4: decoded ${op} bytes, expected ${size}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// EROFS image decoding (from the on-disk format: the kernel's fs/erofs/erofs_fs.h and zmap.c).

export const BLOCK = 4096;

export interface DecodedSuperblock {
  magic: number;
  checksum: number;
  featureCompat: number;
  blkszbits: number;
  rootNid: number;
  inodes: bigint;
  buildTime: bigint;
  buildTimeNsec: number;
  blocks: number;
  metaBlkaddr: number;
  uuid: Buffer;
  volumeName: Buffer;
  featureIncompat: number;
  u1: number;
}

export function decodeSuperblock(img: Buffer): DecodedSuperblock {
  const b = img.subarray(1024, 1024 + 128);
  return {
    magic: b.readUInt32LE(0),
    checksum: b.readUInt32LE(4),
    featureCompat: b.readUInt32LE(8),
    blkszbits: b[12]!,
    rootNid: b.readUInt16LE(14),
    inodes: b.readBigUInt64LE(16),
    buildTime: b.readBigUInt64LE(24),
    buildTimeNsec: b.readUInt32LE(32),
    blocks: b.readUInt32LE(36),
    metaBlkaddr: b.readUInt32LE(40),
    uuid: Buffer.from(b.subarray(48, 64)),
    volumeName: Buffer.from(b.subarray(64, 80)),
    featureIncompat: b.readUInt32LE(80),
    u1: b.readUInt16LE(84),
  };
}

export interface DecodedInode {
  nid: number;
  /** Absolute position. */
  at: number;
  extended: boolean;
  layout: number;
  mode: number;
  nlink: number;
  size: number;
  u: number;
  ino: number;
  uid: number;
  gid: number;
  mtime: bigint;
  /** Bytes of the inode itself. */
  isize: number;
  raw: Buffer;
}

export function decodeInode(img: Buffer, sb: DecodedSuperblock, nid: number): DecodedInode {
  const at = sb.metaBlkaddr * BLOCK + nid * 32;
  const format = img.readUInt16LE(at);
  const extended = (format & 1) === 1;
  if (format >> 4) throw new Error(`nid ${nid}: unknown i_format bits ${format}`);
  if (img.readUInt16LE(at + 2) !== 0) throw new Error(`nid ${nid}: has xattrs`);
  const isize = extended ? 64 : 32;
  const raw = Buffer.from(img.subarray(at, at + isize));
  return extended
    ? {
        nid, at, extended, layout: (format >> 1) & 7, isize, raw,
        mode: raw.readUInt16LE(4), size: Number(raw.readBigUInt64LE(8)), u: raw.readUInt32LE(16), ino: raw.readUInt32LE(20),
        uid: raw.readUInt32LE(24), gid: raw.readUInt32LE(28), mtime: raw.readBigUInt64LE(32), nlink: raw.readUInt32LE(44),
      }
    : {
        nid, at, extended, layout: (format >> 1) & 7, isize, raw,
        mode: raw.readUInt16LE(4), nlink: raw.readUInt16LE(6), size: raw.readUInt32LE(8), u: raw.readUInt32LE(16), ino: raw.readUInt32LE(20),
        uid: raw.readUInt16LE(24), gid: raw.readUInt16LE(26), mtime: sb.buildTime,
      };
}

/** The bytes of a flat (plain or inline) inode's data. */
export function flatData(img: Buffer, inode: DecodedInode): Buffer {
  if (inode.layout !== 0 && inode.layout !== 2) throw new Error(`nid ${inode.nid}: layout ${inode.layout} is not flat`);
  const inline = inode.layout === 2;
  const full = inline ? Math.floor(inode.size / BLOCK) : Math.ceil(inode.size / BLOCK);
  const parts = [img.subarray(inode.u * BLOCK, inode.u * BLOCK + full * BLOCK)];
  if (inline) {
    const tail = inode.size - full * BLOCK;
    const start = inode.at + inode.isize;
    if (Math.floor(start / BLOCK) !== Math.floor((start + tail - 1) / BLOCK)) throw new Error(`nid ${inode.nid}: inline data crosses a block`);
    parts.push(img.subarray(start, start + tail));
  }
  return Buffer.concat(parts).subarray(0, inode.size);
}

export interface DecodedDirent {
  name: Buffer;
  nid: number;
  type: number;
}

/** A directory's entries, checking what the kernel checks (name offsets, order). */
export function decodeDirectory(data: Buffer): DecodedDirent[] {
  const out: DecodedDirent[] = [];
  for (let base = 0; base < data.length; base += BLOCK) {
    const blk = data.subarray(base, Math.min(data.length, base + BLOCK));
    const first = blk.readUInt16LE(8);
    if (first === 0 || first % 12 || first >= BLOCK) throw new Error(`bad first name offset ${first}`);
    const count = first / 12;
    for (let i = 0; i < count; i++) {
      const off = blk.readUInt16LE(12 * i + 8);
      let end = i + 1 < count ? blk.readUInt16LE(12 * (i + 1) + 8) : blk.length;
      if (i + 1 === count) {
        const nul = blk.indexOf(0, off);
        if (nul >= 0) end = nul;
      }
      const name = Buffer.from(blk.subarray(off, end));
      if (name.length < 1 || name.length > 255) throw new Error(`bad name length ${name.length}`);
      out.push({ name, nid: Number(blk.readBigUInt64LE(12 * i)), type: blk[12 * i + 10]! });
    }
  }
  for (let i = 1; i < out.length; i++) if (Buffer.compare(out[i - 1]!.name, out[i]!.name) >= 0) throw new Error(`names out of order: ${out[i - 1]!.name} ${out[i]!.name}`);
  return out;
}

export interface DecodedExtent {
  offset: number;
  length: number;
  /** Block of its pcluster. */
  block: number;
  blocks: number;
  compressed: boolean;
}

/**
 * A compact-index compressed file's map header and extents, decoded the way the kernel's zmap.c
 * reads them (lcluster types and deltas per pack, block addresses counted from each pack's base).
 */
export function decodeCompressedFile(img: Buffer, inode: DecodedInode): { advise: number; algorithm: number; clusterbits: number; mapBytes: number; extents: DecodedExtent[] } {
  if (inode.layout !== 3) throw new Error(`nid ${inode.nid}: layout ${inode.layout} is not compact compressed`);
  const hpos = Math.ceil((inode.at + inode.isize) / 8) * 8;
  const advise = img.readUInt16LE(hpos + 4);
  const algorithm = img[hpos + 6]!;
  const clusterbits = img[hpos + 7]!;
  const big = (advise & 2) !== 0;
  const ebase = hpos + 8;
  const total = Math.ceil(inode.size / BLOCK);
  let initial = (32 - (ebase % 32)) / 4;
  if (initial === 8) initial = 0;
  const twoB = advise & 1 && initial < total ? Math.floor((total - initial) / 16) * 16 : 0;
  interface Lc { type: number; lo: number; pack: number; index: number; vcnt: number; bits: number }
  const lcs: Lc[] = [];
  const packOf = (lcn: number): { pos: number; amortized: number } => {
    if (lcn < initial) return { pos: ebase + lcn * 4, amortized: 4 };
    if (lcn < initial + twoB) return { pos: ebase + initial * 4 + (lcn - initial) * 2, amortized: 2 };
    return { pos: ebase + initial * 4 + twoB * 2 + (lcn - initial - twoB) * 4, amortized: 4 };
  };
  for (let lcn = 0; lcn < total; lcn++) {
    const { pos, amortized } = packOf(lcn);
    const vcnt = amortized === 4 ? 2 : 16;
    const packBytes = vcnt * amortized;
    const pack = pos - (pos % packBytes);
    const index = (pos - pack) / amortized;
    const bits = ((packBytes - 4) * 8) / vcnt;
    const bitpos = index * bits;
    const v = img.readUInt32LE(pack + (bitpos >> 3)) >>> (bitpos & 7);
    lcs.push({ type: (v >>> 12) & 3, lo: v & 0xfff, pack, index, vcnt, bits });
  }
  const lastPackEnd = total ? lcs[total - 1]!.pack + lcs[total - 1]!.vcnt * (lcs[total - 1]!.vcnt === 2 ? 4 : 2) : ebase;
  const pblkOf = (lcn: number): number => {
    // A head's block: its pack's base plus the pclusters counted before it within the pack.
    const lc = lcs[lcn]!;
    const base = img.readUInt32LE(lc.pack + lc.vcnt * (lc.vcnt === 2 ? 4 : 2) - 4);
    const at = (i: number) => {
      const bitpos = i * lc.bits;
      const v = img.readUInt32LE(lc.pack + (bitpos >> 3)) >>> (bitpos & 7);
      return { type: (v >>> 12) & 3, lo: v & 0xfff };
    };
    let i = lc.index;
    let nblk = big ? 0 : 1;
    while (i > 0) {
      --i;
      const e = at(i);
      if (e.type === 2) {
        if (big && e.lo & 0x800) {
          --i;
          nblk += e.lo & 0x7ff;
          continue;
        }
        if (big) {
          if (e.lo <= 1) throw new Error('bogus delta in a big-pcluster pack');
          i -= e.lo - 2;
          continue;
        }
        i -= e.lo;
        if (i >= 0) ++nblk;
        continue;
      }
      ++nblk;
    }
    return base + nblk;
  };
  const extents: DecodedExtent[] = [];
  for (let lcn = 0; lcn < total; lcn++) {
    const lc = lcs[lcn]!;
    if (lc.type === 2) continue;
    const offset = lcn * BLOCK + lc.lo;
    if (offset >= inode.size) continue; // the head at the end of the file
    let blocks = 1;
    if (lc.type === 1 && big && lcn + 1 < total && lcs[lcn + 1]!.type === 2) {
      const next = lcs[lcn + 1]!;
      if (!(next.lo & 0x800)) throw new Error(`lcluster ${lcn + 1}: no CBLKCNT after a big-pcluster head`);
      blocks = next.lo & 0x7ff;
    }
    extents.push({ offset, length: 0, block: pblkOf(lcn), blocks, compressed: lc.type === 1 });
  }
  for (let i = 0; i < extents.length; i++) extents[i]!.length = (i + 1 < extents.length ? extents[i + 1]!.offset : inode.size) - extents[i]!.offset;
  return { advise, algorithm, clusterbits, mapBytes: lastPackEnd - hpos, extents };
}

export interface ImageEntry {
  path: string;
  inode: DecodedInode;
  type: number;
}

/** Every path of an image (latin1 of the bytes, '' for the root) with its inode. */
export function walkImage(img: Buffer): Map<string, ImageEntry> {
  const sb = decodeSuperblock(img);
  const out = new Map<string, ImageEntry>();
  const stack: ImageEntry[] = [{ path: '', inode: decodeInode(img, sb, sb.rootNid), type: 2 }];
  while (stack.length) {
    const e = stack.pop()!;
    out.set(e.path, e);
    if ((e.inode.mode & 0o170000) !== 0o040000) continue;
    for (const d of decodeDirectory(flatData(img, e.inode))) {
      if (d.name.equals(Buffer.from('.')) || d.name.equals(Buffer.from('..'))) continue;
      const name = d.name.toString('latin1');
      stack.push({ path: e.path ? `${e.path}/${name}` : name, inode: decodeInode(img, sb, d.nid), type: d.type });
    }
  }
  return out;
}

/**
 * Loop-mounts an EROFS image and compares it with the source entry by entry (helpers/tree.ts);
 * `source` is a directory or its snapshot.
 */
export async function verifyErofsAgainst(image: string, source: string | TreeSnapshot, mtime: number, exclude: Iterable<string> = []): Promise<string[]> {
  const expected = typeof source === 'string' ? snapshotTree(source, { exclude }) : source;
  return withMountedImage(image, 'erofs', (dir) => compareTrees(snapshotTree(dir), expected, { mtime }));
}
