/**
 * The EROFS reader (src/formats/erofs/reader.ts) against the source trees and the kernel: the
 * corner-case tree and a random tree written by our writer (uncompressed, LZ4 in 4 KiB and
 * 64 KiB clusters, zstd), and trees with xattrs (user, trusted, security.capability, POSIX ACLs)
 * and hard links written by mkfs.erofs 1.5 in every layout it makes (flat and inline, FULL and
 * COMPACT indexes, LZ4 and LZ4HC, big pclusters, ztailpacking, 4- and 8-byte chunk indexes,
 * extended inodes with their own times), read back and compared entry by entry with the source
 * and with the kernel's mount (type, mode, owner, size, content sha256, target, device number,
 * hard links, inode numbers, times to the nanosecond, xattrs). A hand-built DEFLATE image is
 * read and mounted; what the reader cannot decode is named; hostile images (a seeded fuzz of
 * real images) give ImageFormatError and nothing else.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, ftruncateSync, linkSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import { ImageFormatError } from '../src/formats/errors.js';
import { decodeChunkEntry, decodeChunkFormat } from '../src/formats/erofs/chunk-map.js';
import {
  compactIndexPlan,
  compactPackOf,
  compressionMapSize,
  decodeCompactPack,
  decodeFullIndex,
  decodeMapHeader,
  encodeCompressionMap,
  lclusterIndexes,
  type Extent,
} from '../src/formats/erofs/compression-map.js';
import { erofsCompression, type ErofsCompressor } from '../src/formats/erofs/compression.js';
import { decodeDirectoryBlock, encodeDirectory, withDots } from '../src/formats/erofs/directory.js';
import { Algorithm, ClusterType, Compat, DecodeError, FileType, Incompat, Layout, NULL_ADDR, type AlgorithmId } from '../src/formats/erofs/format.js';
import { decodeInode, encodeInode } from '../src/formats/erofs/inode.js';
import { ErofsReader, type ErofsEntry } from '../src/formats/erofs/reader.js';
import {
  algorithmBitmap,
  blockZeroChecksum,
  decodeCompressionConfigs,
  decodeSuperblock,
  encodeCompressionConfigs,
  encodeSuperblock,
  lz4Config,
  sealBlockZero,
  zstdConfig,
  type CompressionConfig,
} from '../src/formats/erofs/superblock.js';
import { writeErofs } from '../src/formats/erofs/writer.js';
import { decodeXattrEntry, xattrAreaSize } from '../src/formats/erofs/xattr.js';
import type { ImageRegion } from '../src/formats/image-reader.js';
import { ALWAYS_EXCLUDED, Exclusions } from '../src/sysroot/exclude.js';
import { walkSysroot } from '../src/sysroot/walk.js';
import { makeCornerTree, pseudoRandom, pseudoText } from './helpers/corner-tree.js';
import { withMountedImage } from './helpers/mount.js';
import { makeRandomTree, rng } from './helpers/squashfs.js';
import { cannotMount, missingTools } from './helpers/system.js';
import { compareTrees, snapshotTree, type EntrySnapshot, type TreeSnapshot } from './helpers/tree.js';

const T = 1700000000;
const noMount = cannotMount('erofs');
const noMkfs = missingTools('mkfs.erofs', 'python3');

let dir: string;
let corner: string;
let random: string;
let small: string;
let xattrTree: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'avocado-erofs-reader-'));
  corner = join(dir, 'corner');
  mkdirSync(corner);
  // mkfs.erofs 1.5 fails on 255-byte names.
  makeCornerTree(corner, { bigDirEntries: 3000, maxNameLength: 254 });
  // Text (several LZ4 extents per lcluster boundary), and 2 MiB of zero blocks (chunk-based in
  // our uncompressed images, 4-byte and 8-byte chunk indexes with mkfs --chunksize).
  writeFileSync(join(corner, 'usr/share/text'), pseudoText(300_000, 5));
  const fd = openSync(join(corner, 'usr/share/sparse'), 'w');
  ftruncateSync(fd, 3 << 20);
  writeSync(fd, Buffer.from('data in the middle'), 0, 18, 1 << 20);
  closeSync(fd);
  random = join(dir, 'random');
  makeRandomTree(random, { seed: 21, entries: 200, maxFileSize: 400_000 });
  small = join(dir, 'small');
  makeRandomTree(small, { seed: 22, entries: 30, maxFileSize: 100_000 });
  xattrTree = join(dir, 'xattrs');
  makeXattrTree(xattrTree);
});
after(() => rmSync(dir, { recursive: true, force: true }));

interface Variant {
  readonly name: string;
  readonly compressor?: ErofsCompressor;
  readonly clusterSize?: number;
  readonly describe: { compressor: string; clusterSize?: number; kernelMin: string; because: string };
}

const OURS: Variant[] = [
  { name: 'erofs', describe: { compressor: 'none', clusterSize: undefined, kernelMin: '5.15', because: 'CHUNKED_FILE' } },
  { name: 'erofs-lz4', compressor: 'lz4hc', describe: { compressor: 'lz4', clusterSize: 4096, kernelMin: '5.4', because: 'EROFS' } },
  { name: 'erofs-lz4-64k', compressor: 'lz4hc', clusterSize: 65536, describe: { compressor: 'lz4', clusterSize: 65536, kernelMin: '5.13', because: 'BIG_PCLUSTER' } },
  { name: 'erofs-zst', compressor: 'zstd', describe: { compressor: 'zstd', clusterSize: 4096, kernelMin: '6.10', because: 'zstd compression' } },
];

async function ours(src: string, v: Variant, name: string): Promise<string> {
  const image = join(dir, `${name}-${v.name}.erofs`);
  const { tree } = await walkSysroot(src, new Exclusions([]), '');
  await writeErofs(tree, image, { compression: v.compressor && erofsCompression(v.compressor, v.clusterSize), time: T, threads: 2 });
  return image;
}

function mkfs(src: string, name: string, opts: string[], time = true): string {
  const image = join(dir, `${name}.mkfs.erofs`);
  execFileSync('mkfs.erofs', [...opts, ...(time ? [`-T${T}`] : []), '--all-root', '-U', '0ddba11c-0000-4000-8000-000000000001', image, src], { stdio: ['ignore', 'ignore', 'pipe'] });
  return image;
}

/** Files with xattrs of every prefix (shared ones among them: mkfs shares those used thrice), hard links, extended inodes. */
function makeXattrTree(root: string): void {
  mkdirSync(join(root, 'd/e'), { recursive: true });
  chmodSync(root, 0o755);
  writeFileSync(join(root, 'plain'), 'no xattrs\n');
  writeFileSync(join(root, 'a'), 'a\n');
  writeFileSync(join(root, 'cap'), pseudoRandom(9000, 3));
  writeFileSync(join(root, 'text'), pseudoText(70_000, 9));
  writeFileSync(join(root, 'd/e/deep'), pseudoText(5000, 2));
  linkSync(join(root, 'a'), join(root, 'd/a-link'));
  symlinkSync('a', join(root, 'sl'));
  const py = `
import os, struct, sys
r = sys.argv[1]
def acl(entries):
    return struct.pack('<I', 2) + b''.join(struct.pack('<HHI', t, p, i) for t, p, i in entries)
U = 0xffffffff
for p in ('a', 'd', 'text', 'd/e/deep'):
    os.setxattr(os.path.join(r, p), 'user.shared', b'used by four inodes')
os.setxattr(os.path.join(r, 'a'), 'user.empty', b'')
os.setxattr(os.path.join(r, 'a'), 'user.long', bytes(range(256)) * 8)
os.setxattr(os.path.join(r, 'text'), 'trusted.t', b'trusted value')
os.setxattr(os.path.join(r, 'd'), 'security.s', b'sec')
os.setxattr(os.path.join(r, 'sl'), 'trusted.on-symlink', b'x', follow_symlinks=False)
os.setxattr(os.path.join(r, 'text'), 'system.posix_acl_access', acl([(1, 6, U), (2, 4, 1000), (4, 4, U), (0x10, 4, U), (0x20, 4, U)]))
os.setxattr(os.path.join(r, 'd/e'), 'system.posix_acl_default', acl([(1, 7, U), (4, 5, U), (0x20, 5, U)]))
`;
  execFileSync('python3', ['-c', py, root]);
  if (!missingTools('setcap')) execFileSync('setcap', ['cap_net_raw+ep', join(root, 'cap')]);
  // Times of their own (mkfs without -T gives these inodes extended inodes).
  execFileSync('touch', ['-h', '-d', '@1600000000.123456789', join(root, 'sl')]);
  execFileSync('touch', ['-d', '@1650000000.5', join(root, 'cap')]);
}

// ---------------------------------------------------------------------------------------------
// Snapshots: the reader's and the kernel's, in helpers/tree.ts's shape, plus xattrs and times.

const SNAPSHOT_TYPES = { dir: 'dir', file: 'file', symlink: 'symlink', 'block-device': 'blk', 'char-device': 'chr', fifo: 'fifo', socket: 'sock' } as const;

/** dev_t as glibc's makedev builds it (what lstat reports). */
function makedev(major: number, minor: number): number {
  return major * 256 + (minor & 0xff) + Math.floor(minor / 256) * 0x100000;
}

interface FullSnapshot {
  tree: TreeSnapshot;
  /** Path → "seconds.nanoseconds xattr=hex …", the xattrs sorted by name. */
  extra: Map<string, string>;
}

async function readImage(image: string): Promise<FullSnapshot & { entries: ErofsEntry[]; reader: { describe: ReturnType<ErofsReader['describe']>; layout: ImageRegion[] } }> {
  const reader = await ErofsReader.open(image);
  try {
    const tree: TreeSnapshot = new Map();
    const extra = new Map<string, string>();
    const entries: ErofsEntry[] = [];
    for await (const e of reader.entries()) {
      entries.push(e);
      const snap: EntrySnapshot = { type: SNAPSHOT_TYPES[e.type], mode: e.mode, uid: e.uid, gid: e.gid, nlink: e.nlink, mtime: e.mtime, ino: e.inodeNumber };
      if (e.type === 'file') {
        const h = createHash('sha256');
        let n = 0;
        for await (const chunk of reader.content(e)) {
          h.update(chunk);
          n += chunk.length;
        }
        assert.equal(n, e.size, `${e.path}: content of ${n} bytes, size ${e.size}`);
        Object.assign(snap, { size: e.size, sha256: h.digest('hex') });
      }
      if (e.target) snap.target = e.target.toString('latin1');
      if (e.rdev) snap.rdev = makedev(e.rdev.major, e.rdev.minor);
      const key = e.path.toString('latin1');
      tree.set(key, snap);
      extra.set(key, `${e.mtime}.${e.mtimeNsec} ${e.xattrs.map((x) => `${x.name.toString('latin1')}=${x.value.toString('hex')}`).join(' ')}`);
    }
    await reader.checkStructures();
    return { tree, extra, entries, reader: { describe: reader.describe(), layout: await reader.layout() } };
  } finally {
    await reader.close();
  }
}

/** The mounted tree's xattrs and nanosecond times, as the kernel gives them. */
function kernelExtra(mnt: string): Map<string, string> {
  const py = `
import os, sys
root = os.fsencode(sys.argv[1])
def visit(rel):
    p = os.path.join(root, rel) if rel else root
    st = os.lstat(p)
    xs = sorted((os.fsencode(n), os.getxattr(p, n, follow_symlinks=False)) for n in os.listxattr(p, follow_symlinks=False))
    sys.stdout.write(rel.hex() + ' ' + '%d.%d' % (st.st_mtime_ns // 10**9, st.st_mtime_ns % 10**9) + ' ' + ' '.join(n.hex() + '=' + v.hex() for n, v in xs) + '\\n')
    if os.path.isdir(p) and not os.path.islink(p):
        for n in sorted(os.listdir(p)):
            visit(os.path.join(rel, n) if rel else n)
visit(b'')
`;
  const out = new Map<string, string>();
  for (const line of execFileSync('python3', ['-c', py, mnt], { maxBuffer: 64 << 20 }).toString().split('\n')) {
    if (!line) continue;
    const [path, time, ...xattrs] = line.split(' ');
    const shown = xattrs.filter(Boolean).map((x) => {
      const [n, v] = x.split('=');
      return `${Buffer.from(n!, 'hex').toString('latin1')}=${v}`;
    });
    out.set(Buffer.from(path!, 'hex').toString('latin1'), `${time} ${shown.join(' ')}`);
  }
  return out;
}

/** Compares what the reader gives with what the kernel mounts, every attribute and inode number. */
async function compareWithKernel(image: string, read: FullSnapshot): Promise<void> {
  const mounted = await withMountedImage(image, 'erofs', (mnt) => ({ tree: snapshotTree(mnt), extra: kernelExtra(mnt) }));
  assert.deepEqual(compareTrees(read.tree, mounted.tree), [], `${image}: against the kernel`);
  for (const [p, e] of read.tree) assert.equal(e.ino, mounted.tree.get(p)!.ino, `${image}: inode number of ${p}`);
  for (const [p, x] of read.extra) assert.equal(x, mounted.extra.get(p), `${image}: times and xattrs of ${JSON.stringify(p)}`);
  for (const [p, e] of read.tree) assert.equal(e.mtime, mounted.tree.get(p)!.mtime, p);
}

/** Layout invariants: sorted, not overlapping, inside the file; the superblock first. */
function checkLayout(layout: ImageRegion[], size: number): void {
  assert.deepEqual(layout[0], { start: 1024, end: 1152, what: 'superblock' });
  for (let i = 1; i < layout.length; i++) assert.ok(layout[i - 1]!.end <= layout[i]!.start, `${JSON.stringify(layout[i - 1])} then ${JSON.stringify(layout[i])}`);
  assert.ok(layout.at(-1)!.end <= size);
  assert.ok(layout.some((r) => r.what === 'inode of /'));
}

// ---------------------------------------------------------------------------------------------

describe('EROFS decoders read what the encoders write', () => {
  it('the superblock, every field, its checksum and the compression records', () => {
    const uuid = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const b = encodeSuperblock({ featureCompat: 3, featureIncompat: 3, rootNid: 40, inodeCount: 2 ** 40, buildTime: T, blocks: 77, metaBlkaddr: 5, uuid, algorithmsOrLz4Distance: 9 });
    b.writeUInt32LE(123456789, 32);
    b.writeUInt32LE(6, 44);
    b.write('label', 64, 'latin1');
    b.writeUInt16LE(2, 86);
    b.writeUInt16LE(7, 88);
    b[90] = 1;
    b[91] = 4;
    b.writeUInt32LE(99, 92);
    b.writeBigUInt64LE(12345n, 96);
    b[104] = 1;
    b[13] = 2;
    const sb = decodeSuperblock(b);
    assert.deepEqual({ ...sb, uuid: sb.uuid.toString('hex'), volumeName: sb.volumeName.toString('latin1') }, {
      checksum: 0, featureCompat: 3, blockBits: 12, extraSlots: 2, rootNid: 40, inodeCount: 2 ** 40, buildTime: T, buildTimeNsec: 123456789, blocks: 77, metaBlkaddr: 5, xattrBlkaddr: 6,
      uuid: uuid.toString('hex'), volumeName: 'label\0\0\0\0\0\0\0\0\0\0\0', featureIncompat: 3, algorithmsOrLz4Distance: 9, extraDevices: 2, devtSlotoff: 7, dirblkbits: 1,
      xattrPrefixCount: 4, xattrPrefixStart: 99, packedNid: 12345, xattrFilterReserved: 1,
    });
    const block0 = Buffer.alloc(4096);
    b.copy(block0, 1024);
    sealBlockZero(block0);
    assert.equal(blockZeroChecksum(block0), block0.readUInt32LE(1028));
    assert.equal(decodeSuperblock(block0.subarray(1024)).checksum, blockZeroChecksum(block0));
    const configs: CompressionConfig[] = [zstdConfig(17), lz4Config(16)];
    const records = encodeCompressionConfigs(configs);
    const decoded = decodeCompressionConfigs(records, 1152, algorithmBitmap(configs));
    assert.deepEqual(decoded.records.map((r) => [r.algorithm, r.at, r.options]), [[0, 1152, { max_distance: 65535, max_pclusterblks: 16 }], [3, 1168, { windowlog: 17 }]]);
    assert.equal(decoded.end, 1152 + records.length);
    assert.throws(() => decodeCompressionConfigs(records.subarray(0, 20), 1152, 9), (e: unknown) => e instanceof DecodeError && e.offset === 16 && /record of zstd is cut off/.test(e.message));
    const bad = Buffer.from(records);
    bad[16 + 2 + 1] = 11;
    assert.throws(() => decodeCompressionConfigs(bad, 1152, 9), /zstd windowlog 11 \+ 10 is more than a 1 MiB window/);
    assert.throws(() => decodeCompressionConfigs(records, 1152, 1 << 5), /algorithm 5 is not one the format defines/);
  });

  it('compact and extended inodes', () => {
    const compact = decodeInode(encodeInode({ mode: 0o104755, layout: Layout.FLAT_INLINE, size: 5000, nlink: 3, u: 17, ino: 9, mtime: T }));
    assert.deepEqual(compact, { extended: false, layout: 2, formatHigh: 0, xattrCount: 0, mode: 0o104755, nlink: 3, size: 5000, u: 17, ino: 9, uid: 0, gid: 0, mtime: 0 });
    const extended = decodeInode(encodeInode({ mode: 0o100644, layout: Layout.CHUNK_BASED, size: 2 ** 33 + 5, nlink: 1, u: 0, ino: 10, mtime: T }));
    assert.deepEqual(extended, { extended: true, layout: 4, formatHigh: 0, xattrCount: 0, mode: 0o100644, nlink: 1, size: 2 ** 33 + 5, u: 0, ino: 10, uid: 0, gid: 0, mtime: T, mtimeNsec: 0 });
    assert.equal(xattrAreaSize(0), 0);
    assert.equal(xattrAreaSize(3), 20);
  });

  it('directory blocks, names sorted with the dots, across blocks', () => {
    const names = Array.from({ length: 500 }, (_, i) => Buffer.from(`name-${String(i).padStart(4, '0')}-${'x'.repeat(i % 40)}`));
    const entries = withDots<{ name: Buffer; type: number; nid: number }>(names.map((name, i) => ({ name, type: FileType.REG, nid: 1000 + i })), { name: Buffer.from('.'), type: FileType.DIR, nid: 36 }, { name: Buffer.from('..'), type: FileType.DIR, nid: 36 });
    const data = encodeDirectory(entries);
    assert.ok(data.length > 3 * 4096);
    const decoded = [];
    for (let at = 0; at < data.length; at += 4096) decoded.push(...decodeDirectoryBlock(data.subarray(at, Math.min(data.length, at + 4096))));
    assert.deepEqual(decoded, entries);
    const bad = Buffer.from(data.subarray(0, 4096));
    bad.writeUInt16LE(13, 8);
    assert.throws(() => decodeDirectoryBlock(bad), (e: unknown) => e instanceof DecodeError && e.offset === 8 && /first name offset 13/.test(e.message));
    const swapped = Buffer.from(data.subarray(0, 4096));
    const [one, two] = [swapped.readUInt16LE(12 + 8), swapped.readUInt16LE(24 + 8)];
    swapped.writeUInt16LE(two, 12 + 8);
    swapped.writeUInt16LE(one, 24 + 8);
    assert.throws(() => decodeDirectoryBlock(swapped), new RegExp(`entry 1: its name at ${two}\\.\\.${one} is not within`));
  });

  it('compact indexes: every lcluster, and every head\'s block, as the kernel derives them', () => {
    /** Extents of these lengths (plain when `blocks` is 0: one raw block) laid end to end. */
    const run = (pieces: [number, number][]): Extent[] => {
      let offset = 0;
      return pieces.map(([length, blocks]) => {
        const e = { offset, length, compressed: blocks > 0, blocks: Math.max(1, blocks) };
        offset += length;
        return e;
      });
    };
    const cases: { size: number; extents: Extent[]; big: boolean; inodeEnd: number }[] = [
      // Fixed-output 4 KiB pclusters: extents starting mid-lcluster, a plain one, an end head.
      { size: 50_000, big: false, inodeEnd: 1184 + 32, extents: run([[9000, 1], [4096, 0], [30000, 1], [6904, 1]]) },
      // Big pclusters (CBLKCNT), over the 2-byte run of sixteen lclusters per pack.
      { size: 400_000, big: true, inodeEnd: 4096 + 64, extents: run([[57000, 2], [57000, 5], [57000, 1], [4096, 0], [57000, 3], [57000, 4], [110904, 9]]) },
    ];
    for (const c of cases) {
      const firstBlock = 7;
      const map = encodeCompressionMap({ size: c.size, algorithm: Algorithm.LZ4, bigPcluster: c.big, firstBlock, inodeEnd: c.inodeEnd, extents: c.extents });
      assert.equal(map.length, compressionMapSize(c.inodeEnd, c.size));
      const header = decodeMapHeader(map);
      assert.equal(header.algorithmHead1, 0);
      const image = Buffer.alloc(c.inodeEnd + map.length);
      map.copy(image, c.inodeEnd);
      const total = Math.ceil(c.size / 4096);
      const plan = compactIndexPlan(c.inodeEnd + 8, total, (header.advise & 1) === 1);
      const expected = lclusterIndexes(c.size, c.extents, c.big);
      const blocks = new Map<number, number>();
      let block = firstBlock;
      for (const e of c.extents) {
        blocks.set(Math.floor(e.offset / 4096), block);
        block += e.blocks;
      }
      for (let lcn = 0; lcn < total; lcn++) {
        const pack = compactPackOf(plan, lcn);
        const got = decodeCompactPack(image.subarray(pack.at, pack.at + pack.bytes), pack.slots, Math.min(pack.slots, total - lcn + pack.slot), 12, c.big)[pack.slot]!;
        const want = expected[lcn]!;
        assert.equal(got.type, want.type, `lcluster ${lcn}`);
        if (want.type === ClusterType.NONHEAD) {
          if (want.delta0 & 0x800) assert.equal(got.compressedBlocks, want.delta0 & 0x7ff);
          else assert.ok(got.delta0 >= 1 && got.delta0 <= want.delta0, `lcluster ${lcn}: delta0 ${got.delta0}`);
        } else {
          assert.equal(got.clusterofs, want.clusterofs, `lcluster ${lcn}`);
          if (blocks.has(lcn)) assert.equal(got.blkaddr, blocks.get(lcn), `lcluster ${lcn}: head block`);
        }
      }
    }
  });

  it('FULL indexes, chunk formats and entries, xattr entries', () => {
    const full = Buffer.alloc(8);
    full.writeUInt16LE(ClusterType.HEAD1 | 0x8000, 0);
    full.writeUInt16LE(1976, 2);
    full.writeUInt32LE(123, 4);
    assert.deepEqual(decodeFullIndex(full), { type: 1, clusterofs: 1976, blkaddr: 123, delta0: 0, partialRef: true });
    full.writeUInt16LE(ClusterType.NONHEAD, 0);
    full.writeUInt16LE(0x800 | 16, 4);
    full.writeUInt16LE(15, 6);
    assert.deepEqual(decodeFullIndex(full), { type: 2, clusterofs: 0, blkaddr: 0, delta0: 1, delta1: 15, compressedBlocks: 16, partialRef: false });
    assert.deepEqual(decodeChunkFormat(0x21, 12), { chunkBits: 13, entrySize: 8, bit48: false, unknownBits: 0 });
    assert.deepEqual(decodeChunkFormat(0x80, 12).unknownBits, 0x80);
    const entry = Buffer.from([0, 0, 2, 0, 5, 0, 0, 0]);
    assert.deepEqual(decodeChunkEntry(entry, 8), { block: 5, device: 2 });
    assert.deepEqual(decodeChunkEntry(Buffer.alloc(4, 0xff), 4), { block: undefined, device: 0 });
    assert.equal(NULL_ADDR, 0xffffffff);
    const x = Buffer.from([4, 6, 3, 0, ...Buffer.from('selinux'), 1, 2, 3]);
    x[0] = 7;
    assert.deepEqual(decodeXattrEntry(x), { name: Buffer.from('security.selinux'), value: Buffer.from([1, 2, 3]) });
    assert.equal(decodeXattrEntry(Buffer.alloc(4)), undefined);
    x[1] = 0x81;
    assert.throws(() => decodeXattrEntry(x), /long prefix \(XATTR_PREFIXES\)/);
  });
});

describe('EROFS reader: our images', () => {
  for (const v of OURS) {
    it(`reads the corner tree and a random tree (${v.name}) as they were built, and as the kernel mounts them`, async () => {
      for (const [name, src] of [['corner', corner], ['random', random]] as const) {
        const image = await ours(src, v, name);
        const read = await readImage(image);
        assert.deepEqual(compareTrees(read.tree, snapshotTree(src, { exclude: ALWAYS_EXCLUDED }), { mtime: T }), [], `${name} tree`);
        for (const x of read.extra.values()) assert.match(x, new RegExp(`^${T}\\.0 $`), 'no xattrs, every time the build time');
        checkLayout(read.reader.layout, readFileSync(image).length);
        if (name === 'corner') {
          const d = read.reader.describe;
          assert.deepEqual({ compressor: d.compressor, clusterSize: d.clusterSize, kernelMin: d.kernelMin.version, because: d.kernelMin.because }, v.describe);
          assert.equal(d.bytesUsed, d.fileSize);
          assert.equal(d.time, T);
          assert.equal(d.inodeCount, read.reader.describe.superblock.inos);
          const layouts = new Set(read.entries.map((e) => e.layout));
          assert.ok(layouts.has(v.compressor ? Layout.COMPRESSED_COMPACT : Layout.CHUNK_BASED), `layouts ${[...layouts]}`);
          assert.ok(read.reader.layout.some((r) => r.what === 'data of /usr/share/text'));
          assert.ok(read.reader.layout.some((r) => r.what === 'directory /usr/share/big'));
        }
        if (!noMount) await compareWithKernel(image, read);
      }
    });
  }

  it('yields entries in sorted pre-order, names as bytes, hard links as one nid', async () => {
    const { entries } = await readImage(await ours(corner, OURS[0]!, 'order'));
    assert.equal(entries[0]!.path.length, 0, 'the root first');
    const split = (b: Buffer) => (b.length ? b.toString('latin1').split('/') : []);
    for (let i = 1; i < entries.length; i++) {
      const a = split(entries[i - 1]!.path);
      const b = split(entries[i]!.path);
      let c = 0;
      for (let k = 0; k < Math.min(a.length, b.length) && !c; k++) c = Buffer.compare(Buffer.from(a[k]!, 'latin1'), Buffer.from(b[k]!, 'latin1'));
      assert.ok(c < 0 || (c === 0 && a.length < b.length), `${entries[i - 1]!.path} before ${entries[i]!.path}`);
    }
    const byPath = new Map(entries.map((e) => [e.path.toString('latin1'), e]));
    assert.equal(byPath.get('usr/bin/foo-hardlink')!.nid, byPath.get('usr/lib/libfoo.so.1')!.nid);
    assert.equal(byPath.get('usr/lib/libfoo.so.1')!.nlink, 3);
    assert.ok(byPath.has(`usr/share/latin1-\xe9\xff-name`));
  });
});

describe('EROFS reader: mkfs.erofs images', { skip: noMkfs }, () => {
  const CASES: [string, string[], boolean][] = [
    ['uncompressed', [], true],
    ['lz4hc', ['-zlz4hc'], true],
    ['lz4', ['-zlz4'], true],
    ['lz4hc-big', ['-zlz4hc', '-C65536'], true],
    ['lz4hc-full', ['-zlz4hc', '-Elegacy-compress'], true],
    ['lz4hc-ztail', ['-zlz4hc', '-Eztailpacking'], true],
    ['lz4hc-big-full-ztail', ['-zlz4hc,12', '-C16384', '-Elegacy-compress', '-Eztailpacking'], true],
    ['chunks-8k', ['--chunksize=8192'], true],
    ['chunk-indexes', ['--chunksize=4096', '-Eforce-chunk-indexes'], true],
    ['noinline', ['-Enoinline_data'], true],
    ['extended', ['-Eforce-inode-extended'], true],
    ['own-times', ['-zlz4hc', '-Eztailpacking'], false],
  ];
  for (const [name, opts, fixedTime] of CASES) {
    it(`reads mkfs.erofs ${opts.join(' ') || '(no options)'}${fixedTime ? '' : ' without -T'}: the corner tree and the xattr tree, as the kernel mounts them`, async () => {
      for (const [tree, src] of [['corner', corner], ['xattrs', xattrTree]] as const) {
        const image = mkfs(src, `${tree}-${name}`, opts, fixedTime);
        const read = await readImage(image);
        if (fixedTime) assert.deepEqual(compareTrees(read.tree, snapshotTree(src), { mtime: T }), [], `${tree} tree`);
        checkLayout(read.reader.layout, readFileSync(image).length);
        if (!noMount) await compareWithKernel(image, read);
        if (tree === 'xattrs') {
          const text = read.entries.find((e) => e.path.toString() === 'text')!;
          assert.deepEqual(text.xattrs.map((x) => x.name.toString()), ['system.posix_acl_access', 'trusted.t', 'user.shared']);
          if (!missingTools('setcap')) assert.deepEqual(read.entries.find((e) => e.path.toString() === 'cap')!.xattrs.map((x) => x.name.toString()), ['security.capability']);
          assert.ok(read.reader.layout.some((r) => r.what === 'shared xattrs'), 'user.shared is shared');
        }
      }
    });
  }

  it('describes mkfs.erofs images: compressor, options, cluster size, features, the oldest kernel', async () => {
    const big = await readImage(mkfs(xattrTree, 'describe-big', ['-zlz4hc', '-C65536', '-Eztailpacking']));
    const d = big.reader.describe;
    assert.equal(d.compressor, 'lz4');
    assert.deepEqual(d.compressorOptions, { 'lz4.max_distance': 65535, 'lz4.max_pclusterblks': 16 });
    assert.equal(d.clusterSize, 65536);
    assert.deepEqual(d.features, ['SB_CHKSUM', 'MTIME', 'ZERO_PADDING', 'COMPR_CFGS', 'BIG_PCLUSTER', 'ZTAILPACKING']);
    assert.deepEqual(d.kernelMin, { version: '5.17', because: 'ZTAILPACKING' });
    assert.equal(d.superblock.uuid, '0ddba11c-0000-4000-8000-000000000001');
    assert.ok(big.reader.layout.some((r) => r.what === 'compression configs'));
    const plain = (await readImage(mkfs(xattrTree, 'describe-plain', []))).reader.describe;
    assert.deepEqual([plain.compressor, plain.clusterSize, plain.kernelMin.version], ['none', undefined, '5.4']);
    const chunked = (await readImage(mkfs(corner, 'describe-chunked', ['--chunksize=4096']))).reader.describe;
    assert.deepEqual(chunked.kernelMin, { version: '5.15', because: 'CHUNKED_FILE' });
  });
});

// ---------------------------------------------------------------------------------------------
// A hand-built image: block 0 holds the superblock, the compression records, the root directory
// (inline) and one compressed file whose map holds a single HEAD1 extent; block 1 its pcluster.

interface HandImage {
  readonly algorithm: number;
  readonly records: CompressionConfig[];
  readonly pcluster: Buffer;
  readonly content: Buffer;
}

function handImage(h: HandImage): Buffer {
  const img = Buffer.alloc(2 * 4096);
  const records = encodeCompressionConfigs(h.records);
  const rootAt = Math.ceil((1152 + records.length) / 32) * 32;
  const fileAt = rootAt + 128;
  const dirents = encodeDirectory(withDots([{ name: Buffer.from('file'), type: FileType.REG, nid: fileAt / 32 }], { name: Buffer.from('.'), type: FileType.DIR, nid: rootAt / 32 }, { name: Buffer.from('..'), type: FileType.DIR, nid: rootAt / 32 }));
  encodeInode({ mode: 0o40755, layout: Layout.FLAT_INLINE, size: dirents.length, nlink: 2, u: NULL_ADDR, ino: 1, mtime: T }).copy(img, rootAt);
  dirents.copy(img, rootAt + 32);
  encodeInode({ mode: 0o100644, layout: Layout.COMPRESSED_COMPACT, size: h.content.length, nlink: 1, u: 1, ino: 2, mtime: T }).copy(img, fileAt);
  encodeCompressionMap({ size: h.content.length, algorithm: h.algorithm as AlgorithmId, bigPcluster: false, firstBlock: 1, inodeEnd: fileAt + 32, extents: [{ offset: 0, length: h.content.length, compressed: true, blocks: 1 }] }).copy(img, fileAt + 32);
  encodeSuperblock({ featureCompat: Compat.SB_CHKSUM, featureIncompat: Incompat.ZERO_PADDING | Incompat.COMPR_CFGS, rootNid: rootAt / 32, inodeCount: 2, buildTime: T, blocks: 2, metaBlkaddr: 0, algorithmsOrLz4Distance: algorithmBitmap(h.records) }).copy(img, 1024);
  records.copy(img, 1152);
  assert.ok(h.pcluster.length <= 4096 && h.pcluster[0] !== 0);
  h.pcluster.copy(img, 2 * 4096 - h.pcluster.length);
  sealBlockZero(img.subarray(0, 4096));
  return img;
}

const DEFLATE_RECORD: CompressionConfig = { algorithm: 2 as AlgorithmId, payload: Buffer.from([15, 0, 0, 0, 0, 0]) };
const LZMA_RECORD: CompressionConfig = { algorithm: 1 as AlgorithmId, payload: Buffer.from([0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) };

async function readAllOf(image: string): Promise<Map<string, Buffer>> {
  const reader = await ErofsReader.open(image);
  try {
    const out = new Map<string, Buffer>();
    for await (const e of reader.entries()) {
      if (e.type !== 'file') continue;
      const parts: Buffer[] = [];
      for await (const c of reader.content(e)) parts.push(c);
      out.set(e.path.toString('latin1'), Buffer.concat(parts));
    }
    return out;
  } finally {
    await reader.close();
  }
}

function writeImage(name: string, bytes: Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

const isFormatError = (re: RegExp) => (e: unknown) => e instanceof ImageFormatError && re.test(e.message) && !e.message.includes('\n');

describe('EROFS reader: what it cannot decode, and the hand-built DEFLATE image', () => {
  it('reads raw DEFLATE pclusters (and the kernel mounts the same)', async (t) => {
    const content = pseudoText(12000, 4);
    const image = writeImage('deflate.erofs', handImage({ algorithm: 2, records: [DEFLATE_RECORD], pcluster: deflateRawSync(content, { level: 9 }), content }));
    const read = await readAllOf(image);
    assert.ok(read.get('file')!.equals(content));
    const reader = await ErofsReader.open(image);
    await reader.checkStructures();
    assert.deepEqual([reader.describe().compressor, reader.describe().kernelMin.version, reader.describe().compressorOptions], ['deflate', '6.6', { 'deflate.windowbits': 15 }]);
    await reader.close();
    if (!noMount) {
      // DEFLATE is a kernel option that defaults to off.
      const mounted = await withMountedImage(image, 'erofs', (mnt) => readFileSync(join(mnt, 'file'))).catch((e: Error) => void t.diagnostic(`not mounted (no DEFLATE in this kernel?): ${e.message}`));
      if (mounted) assert.ok(mounted.equals(content), 'the kernel reads the same');
    }
  });

  it('reads a flat inode without blocks (i_u 0xFFFFFFFF) as zeros, as Linux 6.15 does', async () => {
    const src = join(dir, 'unmapped');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'z'), pseudoRandom(8192, 1));
    const image = await ours(src, OURS[0]!, 'unmapped');
    const z = (await collectEntries(image)).find((e) => e.path.toString() === 'z')!;
    assert.equal(z.layout, Layout.FLAT_PLAIN);
    const b = Buffer.from(readFileSync(image));
    b.writeUInt32LE(NULL_ADDR, z.nid * 32 + 16);
    if (z.nid * 32 < 4096) sealBlockZero(b.subarray(0, 4096));
    const patched = writeImage('unmapped.erofs', b);
    assert.ok((await readAllOf(patched)).get('z')!.equals(Buffer.alloc(8192)));
    if (!noMount) assert.ok((await withMountedImage(patched, 'erofs', (mnt) => readFileSync(join(mnt, 'z')))).equals(Buffer.alloc(8192)), 'the kernel reads zeros too');
  });

  it('names MicroLZMA, fragments, dedupe, interlaced pclusters, long xattr prefixes, 48-bit, metabox, extra devices, other block sizes', async () => {
    const content = pseudoText(12000, 4);
    const lzma = writeImage('lzma.erofs', handImage({ algorithm: 1, records: [LZMA_RECORD], pcluster: Buffer.from([0x5d, 1, 2, 3]), content }));
    await assert.rejects(readAllOf(lzma), isFormatError(/pcluster at 0x1000: "\/file" at 0: lzma \(MicroLZMA\) is not supported for reading$/));
    const deflate = handImage({ algorithm: 2, records: [DEFLATE_RECORD], pcluster: deflateRawSync(content), content });
    const mapAt = deflate.indexOf(Buffer.from([1, 0, 2, 0]), 1152); // h_advise COMPACTED_2B, algorithm 2, clusterbits 0
    assert.ok(mapAt > 1152);
    const fragment = Buffer.from(deflate);
    fragment[mapAt + 3] = 0x80;
    await assert.rejects(readAllOf(writeImage('fragment.erofs', fragment)), isFormatError(/compression map at 0x[0-9a-f]+: "\/file": the file is kept in the packed inode \(FRAGMENTS\), which is not supported for reading$/));
    const interlaced = Buffer.from(deflate);
    interlaced[mapAt] |= 0x10;
    await assert.rejects(readAllOf(writeImage('interlaced.erofs', interlaced)), isFormatError(/interlaced plain pclusters are not supported/));
    const wrongAlgorithm = Buffer.from(deflate);
    wrongAlgorithm[mapAt + 2] = 3;
    await assert.rejects(readAllOf(writeImage('inconsistent.erofs', wrongAlgorithm)), isFormatError(/algorithm zstd is not in the superblock's available algorithms \(0x4\)$/));
    const superblock = (patch: (b: Buffer) => void) => {
      const b = Buffer.from(deflate);
      patch(b);
      return writeImage('patched.erofs', b);
    };
    await assert.rejects(ErofsReader.open(superblock((b) => b.writeUInt32LE(b.readUInt32LE(1104) | Incompat.BIT48, 1104))), isFormatError(/superblock at 0x450: the 48-bit layout \(48BIT, Linux 6\.15\) is not supported for reading$/));
    await assert.rejects(ErofsReader.open(superblock((b) => b.writeUInt32LE(b.readUInt32LE(1104) | Incompat.METABOX, 1104))), isFormatError(/METABOX, Linux 6\.17/));
    await assert.rejects(ErofsReader.open(superblock((b) => b.writeUInt32LE(b.readUInt32LE(1104) | 0x200, 1104))), isFormatError(/unknown incompatible features 0x200$/));
    await assert.rejects(ErofsReader.open(superblock((b) => b.writeUInt16LE(1, 1110))), isFormatError(/superblock at 0x456: 1 extra devices \(DEVICE_TABLE\)/));
    await assert.rejects(ErofsReader.open(superblock((b) => (b[1036] = 9))), isFormatError(/superblock at 0x40c: block size 2\^9 is not supported \(only 4096-byte blocks are read\)$/));
  });

  it('names dedupe (partially referenced pclusters), long xattr prefixes and extra devices in mkfs.erofs images', { skip: noMkfs }, async () => {
    const full = mkfs(xattrTree, 'dedupe', ['-zlz4hc', '-Elegacy-compress']);
    const reader = await ErofsReader.open(full);
    const text = (await collect(reader.entries())).find((e) => e.path.toString() === 'text')!;
    await reader.close();
    const bytes = Buffer.from(readFileSync(full));
    // The file's first FULL index: after its inode, xattrs, the map header and 8 reserved bytes.
    const inodeAt = text.nid * 32;
    const icount = bytes.readUInt16LE(inodeAt + 2);
    const first = Math.ceil((inodeAt + 32 + xattrAreaSize(icount)) / 8) * 8 + 16;
    assert.equal(bytes.readUInt16LE(first) & 3, ClusterType.HEAD1);
    bytes.writeUInt16LE(bytes.readUInt16LE(first) | 0x8000, first);
    await assert.rejects(readAllOf(writeImage('dedupe.erofs', bytes)), isFormatError(new RegExp(`compression map at 0x${first.toString(16)}: "/text": lcluster 0: a partially referenced pcluster \\(DEDUPE\\), which is not supported for reading$`)));
    // A long prefix: the first inline entry of "a" gets name index 0x80.
    const xattrs = Buffer.from(readFileSync(full));
    const a = (await collectEntries(full)).find((e) => e.path.toString() === 'a')!;
    const area = a.nid * 32 + 32;
    const inlineAt = area + 12 + 4 * xattrs[area + 4]!;
    xattrs[inlineAt + 1] = 0x80;
    await assert.rejects(collectEntries(writeImage('prefix.erofs', xattrs)), isFormatError(/xattrs at 0x[0-9a-f]+: nid \d+ \("\/a"\): name index 0x80 is a long prefix \(XATTR_PREFIXES\), which is not supported$/));
    const blob = join(dir, 'blob.img');
    const image = join(dir, 'blobdev.erofs');
    const made = spawnSync('mkfs.erofs', [`--blobdev=${blob}`, '--chunksize=4096', `-T${T}`, image, xattrTree], { stdio: 'ignore' });
    if (made.status === 0) await assert.rejects(readAllOf(image), isFormatError(/extra devices/));
  });
});

async function collect<T>(g: AsyncGenerator<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of g) out.push(x);
  return out;
}

async function collectEntries(image: string): Promise<ErofsEntry[]> {
  const reader = await ErofsReader.open(image);
  try {
    return await collect(reader.entries());
  } finally {
    await reader.close();
  }
}

describe('EROFS reader: hostile images', () => {
  let image: string;
  let bytes: Buffer;
  before(async () => {
    image = await ours(small, OURS[1]!, 'hostile');
    bytes = readFileSync(image);
  });
  const patched = (patch: (b: Buffer) => void, reseal = true) => {
    const b = Buffer.from(bytes);
    patch(b);
    if (reseal) sealBlockZero(b.subarray(0, 4096));
    return writeImage('hostile-patched.erofs', b);
  };
  const check = async (path: string) => {
    const r = await ErofsReader.open(path);
    try {
      await r.checkStructures();
    } finally {
      await r.close();
    }
  };

  it('names the structure and offset of a truncated image and a bad superblock', async () => {
    await assert.rejects(ErofsReader.open(writeImage('cut.erofs', bytes.subarray(0, 1100))), isFormatError(/cut\.erofs: superblock at 0x0: the file is 1100 bytes, too short for the superblock at 1024\.\.1152$/));
    await assert.rejects(ErofsReader.open(patched((b) => b.writeUInt32LE(0x12345678, 1024))), isFormatError(/superblock at 0x400: bad magic 0x12345678, not an EROFS image$/));
    const half = writeImage('half.erofs', bytes.subarray(0, 8192));
    await assert.rejects(check(half), isFormatError(/superblock at 0x424: blocks says \d+ blocks \(\d+ bytes\), the file is 8192 \(truncated\?\)$/));
    await assert.rejects(readAllOf(half), isFormatError(/past the file's end at 0x2000$/));
  });

  it('refuses every short truncation with ImageFormatError, extension slots and compression records included', async () => {
    const big = readFileSync(await ours(small, OURS[2]!, 'cut-big'));
    const slots = Buffer.from(big);
    slots[1024 + 13] = 2;
    for (const source of [bytes, big, slots])
      for (const length of [0, 1000, 1151, 1152, 1160, 1200, 4095, 4096, 4097, 8191, 12000, source.length - 1]) {
        const outcome = await readEverything(writeImage('cut.erofs', source.subarray(0, length))).then(() => 'ok', (e: unknown) => e);
        assert.ok(outcome instanceof ImageFormatError, `${length} bytes: ${outcome instanceof Error ? outcome.stack : String(outcome)}`);
      }
  });

  it('checks the checksum, dirblkbits, the volume name, inos and the compression records', async () => {
    await assert.rejects(check(patched((b) => (b[1024 + 600] ^= 1), false)), isFormatError(/superblock at 0x404: checksum 0x[0-9a-f]+ does not match block 0 \(0x[0-9a-f]+\)$/));
    await assert.rejects(check(patched((b) => (b[1024 + 90] = 1))), isFormatError(/superblock at 0x45a: dirblkbits 1/));
    await assert.rejects(check(patched((b) => b.fill(0x41, 1024 + 64, 1024 + 80))), isFormatError(/superblock at 0x440: the volume name has no NUL terminator$/));
    await assert.rejects(check(patched((b) => b.writeBigUInt64LE(b.readBigUInt64LE(1040) + 1n, 1040))), isFormatError(/superblock at 0x410: inos says \d+ inodes, the image holds \d+$/));
    const big = await ours(small, OURS[2]!, 'hostile-big');
    const b = Buffer.from(readFileSync(big));
    b[1152 + 2 + 2] = 0xff; // lz4 max_pclusterblks
    b[1152 + 2 + 3] = 0xff;
    sealBlockZero(b.subarray(0, 4096));
    await assert.rejects(check(writeImage('cfg.erofs', b)), isFormatError(/compression configs at 0x480: lz4 max_pclusterblks 65535 is more than 1 MiB of blocks$/));
  });

  it('finds a directory loop, a dirent of the wrong type, a name out of order', async () => {
    // The root holds ".", "..", "a" (a directory), "f" and "g"; its listing is inline in block 0.
    const src = join(dir, 'tiny');
    mkdirSync(join(src, 'a'), { recursive: true });
    writeFileSync(join(src, 'f'), 'f');
    writeFileSync(join(src, 'g'), 'g');
    const tiny = readFileSync(await ours(src, OURS[0]!, 'tiny'));
    const root = (await collectEntries(writeImage('tiny.erofs', tiny)))[0]!;
    assert.equal(root.layout, Layout.FLAT_INLINE);
    const listingAt = root.nid * 32 + 32;
    const names = decodeDirectoryBlock(tiny.subarray(listingAt, listingAt + root.size)).map((d) => d.name.toString());
    assert.deepEqual(names, ['.', '..', 'a', 'f', 'g']);
    const patch = (fn: (b: Buffer) => void) => {
      const b = Buffer.from(tiny);
      fn(b);
      sealBlockZero(b.subarray(0, 4096));
      return writeImage('tiny-patched.erofs', b);
    };
    await assert.rejects(collectEntries(patch((b) => b.writeBigUInt64LE(BigInt(root.nid), listingAt + 12 * 2))), isFormatError(/directory at 0x[0-9a-f]+: "\/a": directory nid \d+ reached twice \(a directory loop\)$/));
    await assert.rejects(collectEntries(patch((b) => (b[listingAt + 12 * 3 + 10] = FileType.SYMLINK))), isFormatError(new RegExp(`directory at 0x${(listingAt + 36).toString(16)}: "/f": listed as file type 7, its inode \\(nid \\d+\\) is a file$`)));
    const fAt = listingAt + tiny.readUInt16LE(listingAt + 12 * 3 + 8);
    await assert.rejects(collectEntries(patch((b) => (b[fAt] = 0x7e))), isFormatError(new RegExp(`directory at 0x${(listingAt + 48).toString(16)}: "/": "/g" is not after "/~" \\(names must be sorted by bytes and unique\\)$`)));
    await assert.rejects(collectEntries(patch((b) => b.writeBigUInt64LE(5n, listingAt))), isFormatError(/: \. refers to nid 5, not \d+$/));
  });

  it(`survives 300 seeded mutations of real images: each read succeeds or throws ImageFormatError, within its budget`, { skip: noMkfs }, async (t) => {
    const sources = [
      readFileSync(await ours(small, OURS[0]!, 'fuzz')),
      readFileSync(await ours(small, OURS[2]!, 'fuzz')),
      readFileSync(mkfs(xattrTree, 'fuzz-ztail', ['-zlz4hc', '-Eztailpacking', '-C16384'])),
      readFileSync(mkfs(xattrTree, 'fuzz-full', ['-zlz4', '-Elegacy-compress'])),
      readFileSync(mkfs(small, 'fuzz-chunks', ['--chunksize=4096', '-Eforce-chunk-indexes'])),
    ];
    // Where the metadata is in each image (inodes, xattrs, indexes, directory blocks).
    const metadata: ImageRegion[][] = [];
    for (let k = 0; k < sources.length; k++) {
      const r = await ErofsReader.open(writeImage(`fuzz-source-${k}.erofs`, sources[k]!));
      metadata.push((await r.layout()).filter((x) => !x.what.startsWith('data of ')));
      await r.close();
    }
    const r = rng(20261203);
    const int = (n: number) => Math.floor(r() * n);
    const mutated = join(dir, 'mutated.erofs');
    const started = Date.now();
    const outcomes = { ok: 0, format: 0 };
    for (let i = 0; i < 300; i++) {
      const k = i % sources.length;
      const original = sources[k]!;
      let b = Buffer.from(original);
      const kind = i % 4;
      if (kind === 0) for (let n = 1 + int(8); n > 0; n--) b[int(b.length)] ^= 1 << int(8);
      else if (kind === 1) b = b.subarray(0, int(b.length));
      else if (kind === 2) {
        // A superblock field, then the checksum made right again so that the reads go on.
        const field = [8, 12, 13, 14, 16, 24, 32, 36, 40, 44, 80, 84, 86, 90][int(14)]!;
        const value = r() < 0.5 ? int(64) : int(2 ** 32);
        if (field === 12 || field === 13 || field === 90) b[1024 + field] = value & 0xff;
        else if (field === 14 || field === 84 || field === 86) b.writeUInt16LE(value & 0xffff, 1024 + field);
        else b.writeUInt32LE(value >>> 0, 1024 + field);
        sealBlockZero(b.subarray(0, 4096));
      } else {
        const regions = metadata[k]!;
        const region = regions[int(regions.length)]!;
        const at = Math.min(b.length - 4, region.start + int(Math.max(1, region.end - region.start)));
        b.writeUInt32LE(r() < 0.3 ? int(64) : int(2 ** 32), at);
        if (at < 4096) sealBlockZero(b.subarray(0, 4096));
      }
      writeFileSync(mutated, b);
      const outcome = await withBudget(readEverything(mutated), 2000, `mutation ${i} (kind ${kind}, image ${k})`);
      if (outcome === 'ok') outcomes.ok++;
      else {
        assert.ok(outcome instanceof ImageFormatError, `mutation ${i} (kind ${kind}, image ${k}): ${outcome instanceof Error ? outcome.stack : String(outcome)}`);
        assert.doesNotMatch(outcome.message, /\n/);
        outcomes.format++;
      }
    }
    t.diagnostic(`${outcomes.ok} read, ${outcomes.format} refused, in ${Date.now() - started} ms`);
    assert.ok(Date.now() - started < 10_000, `300 reads took ${Date.now() - started} ms`);
    assert.ok(outcomes.format > 100, `only ${outcomes.format} mutations were noticed`);
  });
});

/** Opens, reads every entry and file (up to 64 MiB of content), the layout, the structures. */
async function readEverything(image: string): Promise<void> {
  const reader = await ErofsReader.open(image);
  try {
    reader.describe();
    let budget = 64 << 20;
    for await (const e of reader.entries())
      if (e.type === 'file')
        for await (const c of reader.content(e)) {
          budget -= c.length;
          if (budget < 0) break;
        }
    await reader.layout();
    await reader.checkStructures();
  } finally {
    await reader.close();
  }
}

/** 'ok', or what the read threw; a read that outlives its budget fails the test. */
async function withBudget(read: Promise<void>, ms: number, what: string): Promise<'ok' | unknown> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: read still running after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([read.then(() => 'ok' as const, (e: unknown) => e), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
