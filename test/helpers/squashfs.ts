/**
 * A small, independent squashfs reader for tests: decodes the superblock, the inode and
 * directory tables and the lookup tables of an image (gzip or uncompressed metadata) into plain
 * objects, so that our images and mksquashfs's can be compared structure by structure. It shares
 * no code with the writer on purpose, beyond the superblock decoder. snapshotImage, at the end,
 * is the other way round: the product's reader (src/formats/squashfs/reader.ts) giving an image's
 * entries in the shape of a mounted tree's snapshot.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, linkSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { withMountedImage } from './mount.js';
import { createHash } from 'node:crypto';
import { compareTrees, snapshotTree, type EntrySnapshot, type TreeSnapshot } from './tree.js';
import { decodeSuperblock } from '../../src/formats/squashfs/superblock.js';
import { SquashfsReader } from '../../src/formats/squashfs/reader.js';

export type DecodedSuperblock = ReturnType<typeof decodeSuperblock>;

export interface DecodedInode {
  type: number;
  mode: number;
  uidIndex: number;
  gidIndex: number;
  mtime: number;
  number: number;
  nlink?: number;
  fileSize?: number;
  startBlock?: number;
  fragment?: number;
  fragmentOffset?: number;
  blockSizes?: number[];
  sparse?: number;
  target?: string;
  rdev?: number;
  xattr?: number;
  parent?: number;
  dirStart?: number;
  dirOffset?: number;
  index?: { index: number; start: number; name: string }[];
}

export interface DecodedEntry {
  /** Path (latin1 of the bytes), '' for the root. */
  path: string;
  /** Type recorded in the parent's directory entry (basic 1..7); 1 for the root. */
  listedType: number;
  inode: DecodedInode;
  /** Inode reference as block << 16 | offset. */
  ref: bigint;
}

export interface DecodedImage {
  sb: DecodedSuperblock;
  entries: Map<string, DecodedEntry>;
  /** Per directory path: how many headers its listing has. */
  headers: Map<string, number>;
  fragments: { start: number; size: number }[];
  exportRefs: bigint[];
  ids: number[];
  compressorOptions?: Buffer;
}

interface MetadataStream {
  data: Buffer;
  /** Compressed offset (from the table start) of each block → its uncompressed offset. */
  blockAt: Map<number, number>;
}

function decompress(sb: DecodedSuperblock, bytes: Buffer): Buffer {
  if (sb.compressionId !== 1) throw new Error(`test reader: compression ${sb.compressionId} not supported (gzip only)`);
  return inflateSync(bytes);
}

function readMetadata(img: Buffer, sb: DecodedSuperblock, start: number, end: number): MetadataStream {
  const parts: Buffer[] = [];
  const blockAt = new Map<number, number>();
  let pos = start;
  let out = 0;
  while (pos < end) {
    const header = img.readUInt16LE(pos);
    const len = header & 0x7fff;
    const raw = img.subarray(pos + 2, pos + 2 + len);
    const block = header & 0x8000 ? raw : decompress(sb, raw);
    if (block.length > 8192) throw new Error('metadata block larger than 8 KiB');
    blockAt.set(pos - start, out);
    parts.push(block);
    out += block.length;
    pos += 2 + len;
  }
  if (pos !== end) throw new Error(`metadata overran its table: ${pos} > ${end}`);
  return { data: Buffer.concat(parts), blockAt };
}

/** Reads a lookup table (index array at `indexStart`) of `count` entries of `size` bytes. */
function readLookupTable(img: Buffer, sb: DecodedSuperblock, indexStart: number, count: number, size: number): Buffer {
  const blocks = Math.ceil((count * size) / 8192);
  const parts: Buffer[] = [];
  for (let i = 0; i < blocks; i++) {
    const at = Number(img.readBigUInt64LE(indexStart + 8 * i));
    const header = img.readUInt16LE(at);
    const raw = img.subarray(at + 2, at + 2 + (header & 0x7fff));
    parts.push(header & 0x8000 ? raw : decompress(sb, raw));
  }
  return Buffer.concat(parts).subarray(0, count * size);
}

function decodeInode(d: Buffer, p: number, blockSize: number): DecodedInode {
  const ino: DecodedInode = {
    type: d.readUInt16LE(p),
    mode: d.readUInt16LE(p + 2),
    uidIndex: d.readUInt16LE(p + 4),
    gidIndex: d.readUInt16LE(p + 6),
    mtime: d.readUInt32LE(p + 8),
    number: d.readUInt32LE(p + 12),
  };
  const b = p + 16;
  const blockList = (at: number, size: number, fragment: number) => {
    const n = fragment === 0xffffffff ? Math.ceil(size / blockSize) : Math.floor(size / blockSize);
    return Array.from({ length: n }, (_, i) => d.readUInt32LE(at + 4 * i));
  };
  switch (ino.type) {
    case 1:
      Object.assign(ino, { dirStart: d.readUInt32LE(b), nlink: d.readUInt32LE(b + 4), fileSize: d.readUInt16LE(b + 8), dirOffset: d.readUInt16LE(b + 10), parent: d.readUInt32LE(b + 12) });
      break;
    case 8: {
      Object.assign(ino, { nlink: d.readUInt32LE(b), fileSize: d.readUInt32LE(b + 4), dirStart: d.readUInt32LE(b + 8), parent: d.readUInt32LE(b + 12), dirOffset: d.readUInt16LE(b + 18), xattr: d.readUInt32LE(b + 20) });
      const count = d.readUInt16LE(b + 16);
      ino.index = [];
      let at = b + 24;
      for (let i = 0; i < count; i++) {
        const len = d.readUInt32LE(at + 8) + 1;
        ino.index.push({ index: d.readUInt32LE(at), start: d.readUInt32LE(at + 4), name: d.subarray(at + 12, at + 12 + len).toString('latin1') });
        at += 12 + len;
      }
      break;
    }
    case 2: {
      const size = d.readUInt32LE(b + 12);
      const fragment = d.readUInt32LE(b + 4);
      Object.assign(ino, { startBlock: d.readUInt32LE(b), fragment, fragmentOffset: d.readUInt32LE(b + 8), fileSize: size, nlink: 1, blockSizes: blockList(b + 16, size, fragment) });
      break;
    }
    case 9: {
      const size = Number(d.readBigUInt64LE(b + 8));
      const fragment = d.readUInt32LE(b + 28);
      Object.assign(ino, {
        startBlock: Number(d.readBigUInt64LE(b)),
        fileSize: size,
        sparse: Number(d.readBigUInt64LE(b + 16)),
        nlink: d.readUInt32LE(b + 24),
        fragment,
        fragmentOffset: d.readUInt32LE(b + 32),
        xattr: d.readUInt32LE(b + 36),
        blockSizes: blockList(b + 40, size, fragment),
      });
      break;
    }
    case 3:
    case 10: {
      const len = d.readUInt32LE(b + 4);
      Object.assign(ino, { nlink: d.readUInt32LE(b), fileSize: len, target: d.subarray(b + 8, b + 8 + len).toString('latin1') });
      break;
    }
    case 4:
    case 5:
    case 11:
    case 12:
      Object.assign(ino, { nlink: d.readUInt32LE(b), rdev: d.readUInt32LE(b + 4) });
      break;
    case 6:
    case 7:
    case 13:
    case 14:
      Object.assign(ino, { nlink: d.readUInt32LE(b) });
      break;
    default:
      throw new Error(`unknown inode type ${ino.type}`);
  }
  return ino;
}

export function readImage(path: string): DecodedImage {
  const img = readFileSync(path);
  const sb = decodeSuperblock(img);
  const fragments: { start: number; size: number }[] = [];
  const fragmentBytes = sb.fragmentCount ? readLookupTable(img, sb, sb.fragmentTableStart, sb.fragmentCount, 16) : Buffer.alloc(0);
  for (let i = 0; i < sb.fragmentCount; i++) fragments.push({ start: Number(fragmentBytes.readBigUInt64LE(16 * i)), size: fragmentBytes.readUInt32LE(16 * i + 8) });
  // The directory table ends where the first lookup table's first block begins.
  const firstTable = sb.fragmentCount ? Number(img.readBigUInt64LE(sb.fragmentTableStart)) : sb.exportTableStart !== undefined ? Number(img.readBigUInt64LE(sb.exportTableStart)) : Number(img.readBigUInt64LE(sb.idTableStart));
  const inodes = readMetadata(img, sb, sb.inodeTableStart, sb.directoryTableStart);
  const dirs = readMetadata(img, sb, sb.directoryTableStart, firstTable);
  const inodeAt = (ref: bigint) => {
    const base = inodes.blockAt.get(Number(ref >> 16n));
    if (base === undefined) throw new Error(`inode reference ${ref} does not start a metadata block`);
    return decodeInode(inodes.data, base + Number(ref & 0xffffn), sb.blockSize);
  };
  const entries = new Map<string, DecodedEntry>();
  const headers = new Map<string, number>();
  const stack: DecodedEntry[] = [{ path: '', listedType: 1, inode: inodeAt(sb.rootInode), ref: sb.rootInode }];
  while (stack.length) {
    const e = stack.pop()!;
    entries.set(e.path, e);
    if (e.inode.type !== 1 && e.inode.type !== 8) continue;
    const base = dirs.blockAt.get(e.inode.dirStart!);
    if (base === undefined) throw new Error(`directory ${e.path} starts at no metadata block`);
    let p = base + e.inode.dirOffset!;
    const end = p + e.inode.fileSize! - 3;
    let count = 0;
    while (p < end) {
      count++;
      const n = dirs.data.readUInt32LE(p) + 1;
      const start = dirs.data.readUInt32LE(p + 4);
      const number = dirs.data.readUInt32LE(p + 8);
      if (n > 256) throw new Error(`directory ${e.path}: header with ${n} entries`);
      p += 12;
      for (let i = 0; i < n; i++) {
        const offset = dirs.data.readUInt16LE(p);
        const delta = dirs.data.readInt16LE(p + 2);
        const type = dirs.data.readUInt16LE(p + 4);
        const len = dirs.data.readUInt16LE(p + 6) + 1;
        const name = dirs.data.subarray(p + 8, p + 8 + len).toString('latin1');
        p += 8 + len;
        const ref = (BigInt(start) << 16n) | BigInt(offset);
        const inode = inodeAt(ref);
        if (inode.number !== number + delta) throw new Error(`${e.path}/${name}: entry says inode ${number + delta}, inode says ${inode.number}`);
        stack.push({ path: e.path ? `${e.path}/${name}` : name, listedType: type, inode, ref });
      }
    }
    headers.set(e.path, count);
  }
  const exportRefs: bigint[] = [];
  if (sb.exportTableStart !== undefined) {
    const bytes = readLookupTable(img, sb, sb.exportTableStart, sb.inodeCount, 8);
    for (let i = 0; i < sb.inodeCount; i++) exportRefs.push(bytes.readBigUInt64LE(8 * i));
  }
  const idBytes = readLookupTable(img, sb, sb.idTableStart, sb.idCount, 4);
  const ids = Array.from({ length: sb.idCount }, (_, i) => idBytes.readUInt32LE(4 * i));
  const compressorOptions = sb.flags & 0x0400 ? img.subarray(96, 98 + (img.readUInt16LE(96) & 0x7fff)) : undefined;
  return { sb, entries, headers, fragments, exportRefs, ids, compressorOptions };
}

/** Deterministic 32-bit generator (mulberry32): the same seed gives the same tree on any host. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RandomTreeOptions {
  seed: number;
  /** Entries to create, roughly. */
  entries: number;
  /** Largest regular file. */
  maxFileSize: number;
}

/**
 * A random tree: nested directories, files of awkward sizes (empty, one byte, block multiples,
 * block + 1, mostly-zero, compressible and random, duplicates), symlinks (dangling, long),
 * hard links across directories, fifos, sockets-free (Node cannot bind them cheaply), device nodes
 * when root, random modes with setuid/setgid/sticky, and names of random bytes (1–255, not UTF-8
 * in general). Names never start with "var" so that the walk's fixed exclusions do not apply.
 */
export function makeRandomTree(root: string, opts: RandomTreeOptions): { entries: number; bytes: number } {
  const r = rng(opts.seed);
  const int = (n: number) => Math.floor(r() * n);
  const pick = <T>(xs: readonly T[]) => xs[int(xs.length)]!;
  mkdirSync(root, { recursive: true });
  chmodSync(root, 0o755);
  const dirs: Buffer[] = [Buffer.from(root)];
  const files: Buffer[] = [];
  const names = new Set<string>();
  let bytes = 0;
  const block = 131072;
  const sizes = [0, 1, 2, 100, 4095, 4096, 4097, block - 1, block, block + 1, 2 * block, 3 * block + 17];
  const name = (): Buffer => {
    for (;;) {
      const len = r() < 0.05 ? 200 + int(56) : 1 + int(24);
      const b = Buffer.alloc(len);
      for (let i = 0; i < len; i++) {
        let c = r() < 0.7 ? 0x61 + int(26) : 1 + int(255);
        if (c === 0x2f) c = 0x5f;
        b[i] = c;
      }
      if (b.equals(Buffer.from('.')) || b.equals(Buffer.from('..')) || b.subarray(0, 3).equals(Buffer.from('var'))) continue;
      const parent = pick(dirs);
      const full = Buffer.concat([parent, Buffer.from('/'), b]);
      if (names.has(full.toString('latin1'))) continue;
      names.add(full.toString('latin1'));
      return full;
    }
  };
  const content = (size: number): Buffer => {
    const kind = int(4);
    if (kind === 0) return Buffer.alloc(size); // all zeros: sparse blocks, tiny fragments
    if (kind === 1) {
      const b = Buffer.alloc(size);
      for (let i = 0; i < size; i++) b[i] = int(256);
      return b;
    }
    const text = Buffer.from(`line ${int(1000)} of some text ${opts.seed}\n`);
    const b = Buffer.alloc(size);
    for (let i = 0; i < size; i += text.length) text.copy(b, i);
    if (kind === 3 && size > block) b.fill(0, block, Math.min(size, 2 * block)); // a hole in the middle
    return b;
  };
  for (let i = 0; i < opts.entries; i++) {
    const kind = r();
    const path = name();
    if (kind < 0.15) {
      mkdirSync(path);
      chmodSync(path, pick([0o755, 0o700, 0o1777, 0o2755, 0o555]));
      dirs.push(path);
    } else if (kind < 0.75) {
      const size = r() < 0.4 ? pick(sizes) : int(r() < 0.9 ? 20000 : opts.maxFileSize);
      const data = files.length && r() < 0.05 ? readFileSync(pick(files)) : content(size);
      writeFileSync(path, data);
      chmodSync(path, pick([0o644, 0o755, 0o600, 0o4755, 0o2711, 0o444, 0o7777]));
      files.push(path);
      bytes += data.length;
    } else if (kind < 0.85) {
      const target = r() < 0.1 ? 'x'.repeat(1000 + int(3000)) : pick(['../', '', 'dangling/', '/abs/']) + name().subarray(root.length + 1).toString('latin1').replace(/[^\x20-\x7e]/g, '_');
      symlinkSync(target, path);
    } else if (kind < 0.93 && files.length) {
      linkSync(pick(files), path);
    } else if (kind < 0.97) {
      // Node has no mkfifo/mknod; Python takes the path as bytes, whatever they are.
      execFileSync('python3', ['-c', 'import os,sys; os.mkfifo(bytes.fromhex(sys.argv[1]), 0o640)', path.toString('hex')]);
    } else if (process.getuid?.() === 0) {
      const type = pick(['S_IFBLK', 'S_IFCHR']);
      execFileSync('python3', ['-c', `import os,sys,stat; os.mknod(bytes.fromhex(sys.argv[1]), stat.${type} | 0o600, os.makedev(${int(4096)}, ${int(1 << 20)}))`, path.toString('hex')]);
    }
  }
  return { entries: names.size + 1, bytes };
}

/** Loop-mounts `image` and compares it with `source` entry by entry (see helpers/tree.ts). */
export async function verifyImageAgainst(image: string, source: string, mtime: number, exclude: Iterable<string> = []): Promise<string[]> {
  const expected = snapshotTree(source, { exclude });
  return withMountedImage(image, 'squashfs', (dir) => compareTrees(snapshotTree(dir), expected, { mtime }));
}

const SNAPSHOT_TYPES = { dir: 'dir', file: 'file', symlink: 'symlink', 'block-device': 'blk', 'char-device': 'chr', fifo: 'fifo', socket: 'sock' } as const;

/** dev_t as glibc's makedev builds it (what lstat reports), for comparing with tree snapshots. */
function makedev(major: number, minor: number): number {
  return major * 256 + (minor & 0xff) + Math.floor(minor / 256) * 0x100000;
}

/**
 * An image's entries as src/formats/squashfs/reader.ts reads them, in the shape of a mounted
 * tree's snapshot (helpers/tree.ts), content hashed from the reader's decompressed stream.
 */
export async function snapshotImage(image: string): Promise<TreeSnapshot> {
  const reader = await SquashfsReader.open(image);
  try {
    const out: TreeSnapshot = new Map();
    for await (const e of reader.entries()) {
      const snap: EntrySnapshot = { type: SNAPSHOT_TYPES[e.type], mode: e.mode, uid: e.uid, gid: e.gid, nlink: e.nlink, mtime: e.mtime, ino: e.inodeNumber };
      if (e.type === 'file') {
        const h = createHash('sha256');
        let n = 0;
        for await (const chunk of reader.content(e)) {
          h.update(chunk);
          n += chunk.length;
        }
        if (n !== e.size) throw new Error(`${e.path.toString('latin1')}: content of ${n} bytes, size ${e.size}`);
        Object.assign(snap, { size: e.size, sha256: h.digest('hex') });
      }
      if (e.target) snap.target = e.target.toString('latin1');
      if (e.rdev) snap.rdev = makedev(e.rdev.major, e.rdev.minor);
      out.set(e.path.toString('latin1'), snap);
    }
    return out;
  } finally {
    await reader.close();
  }
}
