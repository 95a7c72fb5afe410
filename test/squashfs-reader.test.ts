/**
 * The squashfs reader (src/formats/squashfs/reader.ts) against the source trees and the kernel:
 * the corner-case tree and a random tree, written by our writer and by mksquashfs with every
 * compressor we write, read back and compared entry by entry (type, mode, owner, size, content
 * sha256, link target, device number, hard-link groups, link counts, mtime); xattrs of every
 * prefix and file type from mksquashfs, against the source tree and the kernel; describe() field
 * by field, layout() against an independent reading of the superblock and tables, and
 * checkStructures() on good images and on images patched where only it looks; what it cannot
 * decode and hostile images (a seeded fuzz of real images) give ImageFormatError, never anything else.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { deflateSync } from 'node:zlib';
import type { CodecName } from '../src/compress/codec.js';
import { blockDecompressor, type DecompressorName } from '../src/compress/decompress.js';
import { ImageFormatError } from '../src/formats/errors.js';
import type { ImageRegion } from '../src/formats/image-reader.js';
import { SquashfsReader, type SquashfsEntry } from '../src/formats/squashfs/reader.js';
import { writeSquashfs } from '../src/formats/squashfs/writer.js';
import { decodeRdev, encodeRdev } from '../src/formats/entry-limits.js';
import { blockCount, decodeStoredSize } from '../src/formats/squashfs/data.js';
import { decodeDirectoryEntry, decodeDirectoryHeader, encodeDirectoryListing } from '../src/formats/squashfs/directory.js';
import { NO_FRAGMENT, packRef, unpackRef } from '../src/formats/squashfs/format.js';
import {
  decodeDirectoryIndexEntry,
  decodeInodeBody,
  decodeInodeHeader,
  encodeDeviceInode,
  encodeExtDirectoryInode,
  encodeFileInode,
  encodeIpcInode,
  encodeSymlinkInode,
  inodeFixedSize,
  type InodeHeader,
} from '../src/formats/squashfs/inode.js';
import { decodeMetadataHeader, encodeMetadataBlock } from '../src/formats/squashfs/metadata.js';
import { decodeFragmentEntry, decodeIdEntry, encodeFragmentEntries, encodeIdEntries, lookupTableBlocks } from '../src/formats/squashfs/tables.js';
import { ALWAYS_EXCLUDED, Exclusions } from '../src/sysroot/exclude.js';
import { walkSysroot } from '../src/sysroot/walk.js';
import { makeCornerTree } from './helpers/corner-tree.js';
import { withMountedImage } from './helpers/mount.js';
import { makeRandomTree, readImage, rng, snapshotImage } from './helpers/squashfs.js';
import { cannotMount, isRoot, missingTools } from './helpers/system.js';
import { compareTrees, snapshotTree } from './helpers/tree.js';

const T = 1700000000;
const COMPRESSORS: CodecName[] = ['gzip', 'zstd', 'xz', 'lz4'];

let dir: string;
let corner: string;
let random: string;
let small: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'avocado-sqfs-reader-'));
  corner = join(dir, 'corner');
  mkdirSync(corner);
  makeCornerTree(corner, { bigDirEntries: 3000 });
  random = join(dir, 'random');
  makeRandomTree(random, { seed: 11, entries: 200, maxFileSize: 400_000 });
  small = join(dir, 'small');
  makeRandomTree(small, { seed: 12, entries: 40, maxFileSize: 300_000 });
});
after(() => {
  if (xattrSrc) execFileSync('umount', [xattrSrc]);
  rmSync(dir, { recursive: true, force: true });
});

async function ours(src: string, compressor: CodecName, name: string): Promise<string> {
  const image = join(dir, `${name}-${compressor}.sqfs`);
  const { tree } = await walkSysroot(src, new Exclusions([]), '');
  await writeSquashfs(tree, image, { compressor, time: T, threads: 2 });
  return image;
}

function theirs(src: string, compressor: string, name: string, extra: string[] = []): string {
  const image = join(dir, `${name}-${compressor}-mksquashfs.sqfs`);
  execFileSync('mksquashfs', [src, image, '-noappend', '-no-xattrs', '-all-root', '-comp', compressor, '-mkfs-time', String(T), '-all-time', String(T), '-quiet', '-no-progress', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  return image;
}

describe('squashfs decoders read what the encoders write', () => {
  const H: InodeHeader = { mode: 0o4755, uidIndex: 1, gidIndex: 2, mtime: T, inodeNumber: 9 };
  /** Header, fixed fields and the tail's start of an encoded inode. */
  const decode = (b: Buffer) => {
    const head = decodeInodeHeader(b);
    const fixed = inodeFixedSize(head.type)!;
    return { head, body: decodeInodeBody(head.type, b.subarray(16, 16 + fixed)), tail: b.subarray(16 + fixed) };
  };

  it('inodes of every kind', () => {
    const basic = { startBlock: 96, fileSize: 300000, fragment: 3, fragmentOffset: 17, blockSizes: [1234, 131072 | (1 << 24)], sparseBytes: 0, nlink: 1 };
    let d = decode(encodeFileInode(H, basic));
    assert.deepEqual(d.head, { ...H, type: 2 });
    assert.deepEqual(d.body, { kind: 'file', startBlock: 96, fileSize: 300000, fragment: 3, fragmentOffset: 17, sparseBytes: 0, nlink: 1, xattr: 0xffffffff });
    assert.equal(blockCount(300000, 131072, 3), 2);
    assert.deepEqual([d.tail.readUInt32LE(0), d.tail.readUInt32LE(4)], basic.blockSizes);
    d = decode(encodeFileInode(H, { ...basic, nlink: 2, fileSize: 5 * 2 ** 32, fragment: NO_FRAGMENT, sparseBytes: 131072, blockSizes: [0] }));
    assert.equal(d.head.type, 9);
    assert.deepEqual(d.body, { kind: 'file', startBlock: 96, fileSize: 5 * 2 ** 32, fragment: NO_FRAGMENT, fragmentOffset: 17, sparseBytes: 131072, nlink: 2, xattr: 0xffffffff });
    d = decode(encodeSymlinkInode(H, { nlink: 1, target: Buffer.from('../x') }));
    assert.deepEqual(d.body, { kind: 'symlink', nlink: 1, targetLength: 4 });
    assert.equal(d.tail.toString(), '../x');
    d = decode(encodeDeviceInode(H, { kind: 'block', nlink: 1, rdev: encodeRdev(300, 70000)! }));
    assert.equal(d.body.kind, 'block');
    assert.deepEqual(decodeRdev((d.body as { rdev: number }).rdev), { major: 300, minor: 70000 });
    assert.deepEqual(decode(encodeIpcInode(H, { kind: 'socket', nlink: 3 })).body, { kind: 'socket', nlink: 3, xattr: 0xffffffff });
    d = decode(encodeExtDirectoryInode(H, { startBlock: 8200, offset: 40, nlink: 4, fileSize: 70000, parentInode: 12, index: [{ index: 8190, start: 8200, name: Buffer.from('mm') }] }));
    assert.deepEqual(d.body, { kind: 'dir', nlink: 4, fileSize: 70000, startBlock: 8200, parentInode: 12, indexCount: 1, offset: 40, xattr: 0xffffffff });
    assert.deepEqual(decodeDirectoryIndexEntry(d.tail), { index: 8190, start: 8200, nameLength: 2 });
    assert.equal(inodeFixedSize(15), undefined);
  });

  it('directory headers and entries', () => {
    const { bytes } = encodeDirectoryListing([{ name: Buffer.from('a'), type: 2, inode: { block: 8200, offset: 30 }, inodeNumber: 40 }, { name: Buffer.from('bc'), type: 1, inode: { block: 8200, offset: 90 }, inodeNumber: 38 }], false);
    assert.deepEqual(decodeDirectoryHeader(bytes), { count: 2, startBlock: 8200, inodeNumber: 40 });
    assert.deepEqual(decodeDirectoryEntry(bytes.subarray(12)), { offset: 30, inodeDelta: 0, type: 2, nameLength: 1 });
    assert.deepEqual(decodeDirectoryEntry(bytes.subarray(21)), { offset: 90, inodeDelta: -2, type: 1, nameLength: 2 });
  });

  it('metadata headers, stored sizes, lookup tables, references', () => {
    assert.deepEqual(decodeMetadataHeader(encodeMetadataBlock(Buffer.alloc(8192), (b) => deflateSync(b)).readUInt16LE(0)).compressed, true);
    assert.deepEqual(decodeMetadataHeader(encodeMetadataBlock(Buffer.from('x'), (b) => deflateSync(b)).readUInt16LE(0)), { length: 1, compressed: false });
    assert.deepEqual(decodeStoredSize(131072 | (1 << 24)), { length: 131072, compressed: false });
    assert.deepEqual(decodeStoredSize(0x80001234), { length: 0x80001234, compressed: true });
    assert.deepEqual(decodeFragmentEntry(encodeFragmentEntries([{ start: 2 ** 40, size: 77 }, { start: 5, size: 6 }]), 16), { start: 5, size: 6 });
    assert.equal(decodeIdEntry(encodeIdEntries([0, 4294967295]), 4), 4294967295);
    assert.equal(lookupTableBlocks(512, 16), 1);
    assert.equal(lookupTableBlocks(513, 16), 2);
    assert.deepEqual(unpackRef(packRef({ block: 2 ** 31, offset: 8191 })), { block: 2 ** 31, offset: 8191 });
  });
});

describe('squashfs reader: our images', () => {
  for (const compressor of COMPRESSORS) {
    it(`reads the corner tree and a random tree (${compressor}) as they were built`, async () => {
      for (const [name, src] of [['corner', corner], ['random', random]] as const) {
        const image = await ours(src, compressor, name);
        const read = await snapshotImage(image);
        assert.deepEqual(compareTrees(read, snapshotTree(src, { exclude: ALWAYS_EXCLUDED }), { mtime: T }), [], `${name} tree`);
      }
    });
  }

  it('yields the superblock, names as bytes and entries in sorted pre-order', async () => {
    const reader = await SquashfsReader.open(await ours(corner, 'gzip', 'order'));
    try {
      assert.equal(reader.superblock.compressionId, 1);
      assert.equal(reader.compressor, 'gzip');
      const paths: Buffer[] = [];
      for await (const e of reader.entries()) paths.push(e.path);
      assert.equal(paths[0]!.length, 0, 'the root first');
      const sorted = [...paths].sort((a, b) => {
        // Pre-order by components: compare component by component, bytes.
        const ca = a.length ? splitBytes(a) : [];
        const cb = b.length ? splitBytes(b) : [];
        for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
          const c = Buffer.compare(ca[i]!, cb[i]!);
          if (c) return c;
        }
        return ca.length - cb.length;
      });
      assert.deepEqual(paths, sorted);
    } finally {
      await reader.close();
    }
  });
});

function splitBytes(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (let i = 0; i <= b.length; i++)
    if (i === b.length || b[i] === 0x2f) {
      out.push(b.subarray(from, i));
      from = i + 1;
    }
  return out;
}

describe('squashfs reader: mksquashfs images', { skip: missingTools('mksquashfs') }, () => {
  for (const compressor of COMPRESSORS) {
    it(`reads mksquashfs's corner tree and random tree (${compressor})`, async () => {
      for (const [name, src] of [['corner', corner], ['random', random]] as const) {
        const read = await snapshotImage(theirs(src, compressor, name));
        assert.deepEqual(compareTrees(read, snapshotTree(src), { mtime: T }), [], `${name} tree`);
      }
    });
  }

  it('reads mksquashfs images of other block sizes, with tail-end fragments and without fragments', async () => {
    for (const [compressor, extra] of [['gzip', ['-b', '4096', '-tailends']], ['zstd', ['-b', '1048576', '-no-fragments']], ['lz4', ['-b', '65536', '-always-use-fragments']]] as const) {
      const read = await snapshotImage(theirs(random, compressor, `blocks-${extra[1]}`, [...extra]));
      assert.deepEqual(compareTrees(read, snapshotTree(random), { mtime: T }), [], `${compressor} ${extra.join(' ')}`);
    }
  });

  it('reads an image holding user xattrs (no root needed) as the tree it was made of, xattrs included', async (t) => {
    const src = join(dir, 'xattr-src');
    mkdirSync(join(src, 'd'), { recursive: true });
    writeFileSync(join(src, 'f'), 'hi\n');
    const set = spawnSync('python3', ['-c', "import os; [os.setxattr(p, b'user.k', b'v', follow_symlinks=False) for p in ('f', 'd')]"], { cwd: src });
    if (set.status !== 0) return t.skip('no user xattrs on this filesystem');
    const image = join(dir, 'xattr.sqfs');
    execFileSync('mksquashfs', [src, image, '-noappend', '-all-root', '-xattrs', '-all-time', String(T), '-quiet', '-no-progress']);
    assert.deepEqual(compareTrees(await snapshotImage(image), snapshotTree(src), { mtime: T }), []);
    const read = await xattrsRead(image);
    assert.deepEqual(read, xattrsOnDisk(src));
    assert.equal(read.get('f'), `user.k=${Buffer.from('v').toString('hex')}`);
  });

  it('names lzo as a compressor it cannot read', async () => {
    const image = theirs(random, 'lzo', 'lzo');
    await assert.rejects(SquashfsReader.open(image), (e: Error) => e instanceof ImageFormatError && /superblock at 0x14: squashfs compressor lzo \(id 3\) is not supported for reading$/.test(e.message));
  });
});

describe('squashfs reader against the kernel', { skip: cannotMount('squashfs') }, () => {
  for (const compressor of COMPRESSORS) {
    it(`reads what the kernel mounts (${compressor}, ours and mksquashfs's)`, async () => {
      const images = [await ours(corner, compressor, 'kernel')];
      if (!missingTools('mksquashfs')) images.push(theirs(random, compressor, 'kernel'));
      for (const image of images) {
        const read = await snapshotImage(image);
        const mounted = await withMountedImage(image, 'squashfs', (mnt) => snapshotTree(mnt));
        assert.deepEqual(compareTrees(read, mounted, { mtime: T }), [], image);
        // Inode numbers are the kernel's too, so hard-link groups are the same inodes.
        for (const [p, e] of read) assert.equal(e.ino, mounted.get(p)!.ino, p);
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Xattrs, as mksquashfs writes them (our writer stores none). The tree lives on a tmpfs of its
// own: ext4 keeps no value longer than its 4 KiB block, tmpfs keeps up to 64 KiB, and trusted.*
// and security.* on every file type (Linux allows user.* only on regular files and directories).

/**
 * Several attributes per file, of all three prefixes; a value of 5000 bytes and one of 20000
 * (past a metadata block), values of 150 bytes on a file with 40 of them (out of line), one value
 * on six inodes and one set on two files (shared), an empty value, a name that is not UTF-8, a
 * hard link, a symlink, devices, a fifo, a socket, and a directory with attributes whose listing
 * (600 files, a set each) needs an index.
 */
const XATTR_TREE_PY = String.raw`
import os, socket, sys
os.chdir(sys.argv[1])
def put(path, name, value):
    os.setxattr(path, name, value, follow_symlinks=False)
def write(path, data):
    with open(path, 'wb') as f:
        f.write(data)
os.makedirs('d/e')
os.makedirs('bigdir')
write('a', b'a\n')
write('big', bytes(range(256)) * 1200)
write('b', b'b\n')
write('c', b'c\n')
write('many', b'many\n')
write('t', b'linked twice\n')
os.link('t', 'd/hard')
write('plain', b'no xattrs\n')
os.symlink('a', 'sl')
os.symlink('a', 'plain-sl')
os.mknod('chr', 0o20640, os.makedev(1, 3))
os.mknod('blk', 0o60600, os.makedev(259, 70000))
os.mkfifo('fifo')
s = socket.socket(socket.AF_UNIX)
s.bind('sock')
s.close()
for i in range(600):
    write('bigdir/a-name-long-enough-for-an-index-%03d' % i, b'')
    put('bigdir/a-name-long-enough-for-an-index-%03d' % i, 'user.i', b'%d' % i)
put('a', 'user.x', b'y')
put('a', 'user.a2', b'two')
put('a', 'user.long', bytes((i * 31 + 7) & 255 for i in range(5000)))
put('a', 'trusted.t', b'trusted a')
put('a', 'security.s', b'sec a')
for p in ('a', 'big', 'b', 'c', 'd', 't'):
    put(p, 'user.shared', b'one value on six inodes, stored once')
put('big', 'user.huge', bytes((i * 7) & 255 for i in range(20000)))
for p in ('b', 'c'):
    put(p, 'user.same', b'the same set on two files')
for i in range(40):
    put('many', 'user.n%02d' % i, bytes([i]) * 150)
put('many', b'user.\xc3\xa9t\xff', b'\x00\x01 binary')
put('d', 'user.dir', b'd')
put('d', 'security.d', b'sd')
put('d/e', 'user.empty', b'')
put('bigdir', 'trusted.bigdir', b'indexed')
put('t', 'user.hard', b'h')
put('t', 'trusted.h', b'th')
put('sl', 'trusted.sl', b'on a symlink')
put('sl', 'security.sl', b's')
for p in ('chr', 'blk', 'fifo', 'sock'):
    put(p, 'trusted.' + p, p.encode() * 3)
    put(p, 'security.' + p, b'S')
`;

/**
 * Distinct attribute sets in the tree above: 614 inodes have attributes (t and d/hard are one), b
 * and c share one set; more than the 512 ids of one metadata block.
 */
const XATTR_SETS = 613;

/** Path → "name=hexvalue …", names sorted by bytes, for every entry under `root` as Linux lists them. */
function xattrsOnDisk(root: string): Map<string, string> {
  const py = String.raw`
import os, sys
root = os.fsencode(sys.argv[1])
def visit(rel):
    p = os.path.join(root, rel) if rel else root
    xs = sorted((os.fsencode(n), os.getxattr(p, n, follow_symlinks=False)) for n in os.listxattr(p, follow_symlinks=False))
    sys.stdout.write(rel.hex() + ' ' + ' '.join(n.hex() + '=' + v.hex() for n, v in xs) + '\n')
    if os.path.isdir(p) and not os.path.islink(p):
        for n in sorted(os.listdir(p)):
            visit(os.path.join(rel, n) if rel else n)
visit(b'')
`;
  const out = new Map<string, string>();
  for (const line of execFileSync('python3', ['-c', py, root], { maxBuffer: 64 << 20 }).toString().split('\n')) {
    if (!line) continue;
    const [path, ...xattrs] = line.split(' ');
    const shown = xattrs.filter(Boolean).map((x) => {
      const [n, v] = x.split('=');
      return `${Buffer.from(n!, 'hex').toString('latin1')}=${v}`;
    });
    out.set(Buffer.from(path!, 'hex').toString('latin1'), shown.join(' '));
  }
  return out;
}

/** The same map, as the reader decodes the image. */
async function xattrsRead(image: string): Promise<Map<string, string>> {
  const reader = await SquashfsReader.open(image);
  try {
    const out = new Map<string, string>();
    for await (const e of reader.entries()) out.set(e.path.toString('latin1'), e.xattrs.map((x) => `${x.name.toString('latin1')}=${x.value.toString('hex')}`).join(' '));
    return out;
  } finally {
    await reader.close();
  }
}

const xattrSkip = isRoot() ? missingTools('mksquashfs', 'python3') : 'needs root (trusted.* xattrs, device nodes, a tmpfs of its own)';
let xattrSrc: string | undefined;
/** Why the tree could not be made, once tried. */
let xattrTreeProblem: string | undefined;
const xattrImages = new Map<string, string>();

/** The xattr tree, on its tmpfs (made on first use, unmounted before the temporary directory goes). */
function xattrTree(): string | undefined {
  if (xattrSrc || xattrTreeProblem) return xattrSrc;
  const at = join(dir, 'xattr-tmpfs');
  mkdirSync(at);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64m,mode=755', 'tmpfs', at], { encoding: 'utf8' });
  if (mounted.status !== 0) {
    xattrTreeProblem = `cannot mount a tmpfs: ${mounted.stderr.trim()}`;
    return undefined;
  }
  xattrSrc = at;
  execFileSync('python3', ['-c', XATTR_TREE_PY, at]);
  return at;
}

/** mksquashfs of the xattr tree (owners and times kept: they are the source's). */
function xattrImage(compressor: string, extra: string[] = []): string {
  const key = [compressor, ...extra].join(' ');
  let image = xattrImages.get(key);
  if (!image) {
    image = join(dir, `xattrs-${xattrImages.size}-${compressor}.sqfs`);
    execFileSync('mksquashfs', [xattrTree()!, image, '-noappend', '-xattrs', '-comp', compressor, '-mkfs-time', String(T), '-quiet', '-no-progress', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
    xattrImages.set(key, image);
  }
  return image;
}

const XATTR_VARIANTS: [string, string[]][] = [
  ['gzip', []],
  // Key/value stream and id table stored uncompressed: what the test below walks by hand.
  ['zstd', ['-noX']],
];

describe('squashfs reader: xattrs from mksquashfs', { skip: xattrSkip }, () => {
  for (const [compressor, extra] of XATTR_VARIANTS) {
    it(`decodes every attribute as the source tree has it (${[compressor, ...extra].join(' ')})`, async (t) => {
      const src = xattrTree();
      if (!src) return t.skip(xattrTreeProblem);
      const image = xattrImage(compressor, extra);
      const read = await xattrsRead(image);
      assert.deepEqual(read, xattrsOnDisk(src));
      // The tree holds what the comparison is meant to cover.
      const names = (p: string) => read.get(p)!.split(' ').filter(Boolean).map((x) => x.split('=')[0]);
      assert.deepEqual(names('a'), ['security.s', 'trusted.t', 'user.a2', 'user.long', 'user.shared', 'user.x']);
      assert.equal(names('many').length, 41);
      assert.ok(names('many').includes('user.\xc3\xa9t\xff'));
      for (const p of ['sl', 'chr', 'blk', 'fifo', 'sock']) assert.deepEqual(names(p), [`security.${p}`, `trusted.${p}`], p);
      assert.equal(read.get('d/hard'), read.get('t'));
      assert.equal(read.get('d/e'), 'user.empty=');
      assert.equal(read.get('plain'), '');
      assert.equal(read.get('plain-sl'), '');
      assert.equal(read.get(''), '');
      assert.deepEqual(names('big'), ['user.huge', 'user.shared']);
      // Everything else about the entries too, hard links and devices included.
      assert.deepEqual(compareTrees(await snapshotImage(image), snapshotTree(src)), []);
    });
  }

  it('decodes every attribute as the kernel shows it', { skip: cannotMount('squashfs') }, async (t) => {
    if (!xattrTree()) return t.skip(xattrTreeProblem);
    for (const [compressor, extra] of XATTR_VARIANTS) {
      const image = xattrImage(compressor, extra);
      const mounted = await withMountedImage(image, 'squashfs', (mnt) => xattrsOnDisk(mnt));
      assert.deepEqual(await xattrsRead(image), mounted, image);
    }
  });

  it('the image holds what the tree is meant to exercise: extended inodes of every type, an indexed directory, shared ids, out-of-line values, all three prefixes', (t) => {
    if (!xattrTree()) return t.skip(xattrTreeProblem);
    // The test helper's own decoding (gzip only).
    const decoded = readImage(xattrImage('gzip')).entries;
    const types = Object.fromEntries(['a', 'd', 'sl', 'blk', 'chr', 'fifo', 'sock', 'plain', 'plain-sl', 'bigdir'].map((p) => [p, decoded.get(p)!.inode.type]));
    assert.deepEqual(types, { a: 9, d: 8, sl: 10, blk: 11, chr: 12, fifo: 13, sock: 14, plain: 2, 'plain-sl': 3, bigdir: 8 });
    assert.ok(decoded.get('bigdir')!.inode.index!.length > 0, 'bigdir has a directory index');
    // Walked by hand in the -noX image, whose key/value and id metadata blocks are stored as is.
    const b = readFileSync(xattrImage('zstd', ['-noX']));
    const tableStart = Number(b.readBigUInt64LE(56));
    const kvStart = Number(b.readBigUInt64LE(tableStart));
    const ids = b.readUInt32LE(tableStart + 8);
    assert.equal(ids, XATTR_SETS);
    const idBlock = Number(b.readBigUInt64LE(tableStart + 16));
    const kv = storedBlocks(b, kvStart, idBlock);
    const id = storedBlocks(b, idBlock, tableStart).data;
    const seen = { outOfLine: 0, prefixes: new Set<number>(), keys: 0 };
    for (let i = 0; i < ids; i++) {
      const ref = id.readBigUInt64LE(16 * i);
      let p = kv.blockAt.get(Number(ref >> 16n))! + Number(ref & 0xffffn);
      for (let k = id.readUInt32LE(16 * i + 8); k > 0; k--) {
        const type = kv.data.readUInt16LE(p);
        p += 4 + kv.data.readUInt16LE(p + 2);
        if (type & 0x100) seen.outOfLine++;
        seen.prefixes.add(type & 0xff);
        seen.keys++;
        p += 4 + kv.data.readUInt32LE(p);
      }
    }
    assert.deepEqual([...seen.prefixes].sort(), [0, 1, 2]);
    assert.ok(seen.outOfLine >= 40, `${seen.outOfLine} out-of-line values`);
    // a 6, big 2, b and c 2, many 41, d 3, d/e 1, bigdir 1, t 3, sl 2, the devices, fifo and socket 2 each, bigdir's files 1 each.
    assert.equal(seen.keys, 69 + 600, 'keys over all sets');
  });
});

/** The payloads of the uncompressed metadata blocks in [start, end), and where each block's data begins. */
function storedBlocks(b: Buffer, start: number, end: number): { data: Buffer; blockAt: Map<number, number> } {
  const parts: Buffer[] = [];
  const blockAt = new Map<number, number>();
  let length = 0;
  for (let at = start; at < end; ) {
    const header = b.readUInt16LE(at);
    assert.ok(header & 0x8000, `metadata block at 0x${at.toString(16)} is compressed`);
    blockAt.set(at - start, length);
    parts.push(b.subarray(at + 2, at + 2 + (header & 0x7fff)));
    length += header & 0x7fff;
    at += 2 + (header & 0x7fff);
  }
  return { data: Buffer.concat(parts), blockAt };
}

// ---------------------------------------------------------------------------------------------
// describe(), layout() and checkStructures() of good images.

interface ExpectedDescription {
  compressor: string;
  compressorOptions: Record<string, number | string | boolean>;
  blockSize: number;
  features: string[];
  kernelMin: string;
}

/** describe() field by field, against what it should say and against the superblock's own bytes. */
async function checkDescription(image: string, want: ExpectedDescription): Promise<void> {
  const b = readFileSync(image);
  const reader = await SquashfsReader.open(image);
  try {
    const d = reader.describe();
    const { compressor, compressorOptions, blockSize, features } = d;
    assert.deepEqual({ compressor, compressorOptions, blockSize, features, kernelMin: d.kernelMin.version }, want, image);
    assert.equal(d.family, 'squashfs');
    assert.equal(d.kernelMin.because, `squashfs 4.0 with ${want.compressor}`);
    assert.equal(d.blockSize, b.readUInt32LE(12));
    assert.equal(d.time, b.readUInt32LE(8));
    assert.equal(d.time, T);
    assert.equal(d.timeNsec, 0);
    assert.equal(d.bytesUsed, Number(b.readBigUInt64LE(40)));
    assert.equal(d.fileSize, b.length);
    assert.equal(d.inodeCount, b.readUInt32LE(4));
    const inodes = new Set<number>();
    for await (const e of reader.entries()) inodes.add(e.inodeNumber);
    assert.equal(d.inodeCount, inodes.size, 'inode_count is the number of inodes reached');
    const u64 = (at: number) => (b.readBigUInt64LE(at) === 0xffffffffffffffffn ? 'none' : Number(b.readBigUInt64LE(at)));
    assert.deepEqual(d.superblock, {
      rootInode: `0x${b.readBigUInt64LE(32).toString(16)}`,
      inodeCount: b.readUInt32LE(4),
      mkfsTime: T,
      blockSize: b.readUInt32LE(12),
      fragmentCount: b.readUInt32LE(16),
      compressionId: b.readUInt16LE(20),
      blockLog: b.readUInt16LE(22),
      flags: b.readUInt16LE(24),
      idCount: b.readUInt16LE(26),
      versionMajor: 4,
      versionMinor: 0,
      bytesUsed: Number(b.readBigUInt64LE(40)),
      idTableStart: u64(48),
      xattrIdTableStart: u64(56),
      inodeTableStart: u64(64),
      directoryTableStart: u64(72),
      fragmentTableStart: u64(80),
      exportTableStart: u64(88),
    });
  } finally {
    await reader.close();
  }
}

/**
 * layout() and checkStructures() of a good image: the regions sorted, not overlapping, inside the
 * file and covering all of it; the superblock, the compressor options, every table the superblock
 * points at, every file's blocks and every fragment block where an independent decoding puts them.
 */
async function checkLayout(image: string): Promise<ImageRegion[]> {
  const b = readFileSync(image);
  const reader = await SquashfsReader.open(image);
  try {
    await reader.checkStructures();
    const layout = await reader.layout();
    const sb = reader.superblock;
    const show = (r: ImageRegion | undefined) => JSON.stringify(r);
    assert.deepEqual(layout[0], { start: 0, end: 96, what: 'superblock' });
    for (const r of layout) assert.ok(r.start < r.end && r.end <= b.length, `${image}: ${show(r)} in ${b.length} bytes`);
    // Well-formed images leave no gaps: every byte is something's.
    for (let i = 1; i < layout.length; i++) assert.equal(layout[i - 1]!.end, layout[i]!.start, `${image}: ${show(layout[i - 1])} then ${show(layout[i])}`);
    assert.equal(layout.at(-1)!.end, b.length);
    const at = (position: number) => layout.find((r) => r.start <= position && position < r.end);
    const exactly = (what: string, start: number, end: number) => assert.deepEqual(layout.find((r) => r.what === what), { start, end, what }, `${image}: ${what}`);
    if (sb.flags & 0x400) exactly('compressor options', 96, 98 + (b.readUInt16LE(96) & 0x7fff));
    else assert.equal(layout.find((r) => r.what === 'compressor options'), undefined);
    exactly('inode table', sb.inodeTableStart, sb.directoryTableStart);
    assert.equal(at(sb.directoryTableStart)?.what, 'directory table');
    assert.equal(at(sb.directoryTableStart)?.start, sb.directoryTableStart);
    // Each lookup table from its first metadata block to its index's end.
    const lookup = (what: string, indexStart: number, count: number, size: number, from?: number) => {
      const blocks = lookupTableBlocks(count, size);
      const first = from ?? Math.min(...Array.from({ length: blocks }, (_, i) => Number(b.readBigUInt64LE(indexStart + 8 * i))));
      exactly(what, first, indexStart + 8 * blocks);
    };
    lookup('id table', sb.idTableStart, sb.idCount, 4);
    if (sb.exportTableStart !== undefined) lookup('export table', sb.exportTableStart, sb.inodeCount, 8);
    else assert.equal(layout.find((r) => r.what === 'export table'), undefined);
    if (sb.fragmentCount) lookup('fragment table', sb.fragmentTableStart, sb.fragmentCount, 16);
    if (sb.xattrIdTableStart !== undefined) {
      lookup('xattr table', sb.xattrIdTableStart + 16, b.readUInt32LE(sb.xattrIdTableStart + 8), 16, Number(b.readBigUInt64LE(sb.xattrIdTableStart)));
      assert.equal(at(sb.xattrIdTableStart)?.what, 'xattr table');
    }
    if (b.length > sb.bytesUsed) exactly('padding', sb.bytesUsed, b.length);
    // Every file's blocks, named by the first file that has them (duplicates share them).
    const fragments = await fragmentEntries(b, reader.compressor);
    assert.equal(fragments.length, sb.fragmentCount);
    for (const [i, f] of fragments.entries()) exactly(`fragment block ${i}`, f.start, f.start + decodeStoredSize(f.size).length);
    const named = new Set<number>();
    let files = 0;
    for await (const e of reader.entries()) {
      if (!e.file) continue;
      const length = e.file.blockSizes.reduce((n, s) => n + decodeStoredSize(s).length, 0);
      if (!length) continue;
      files++;
      const r = at(e.file.startBlock);
      assert.deepEqual([r?.start, r?.end], [e.file.startBlock, e.file.startBlock + length], `${image}: blocks of /${e.path}`);
      if (!named.has(r!.start)) assert.equal(r!.what, `data of /${e.path.toString('utf8')}`);
      named.add(r!.start);
    }
    assert.equal(layout.filter((r) => r.what.startsWith('data of /')).length, named.size);
    assert.equal(layout.length, named.size + fragments.length + layout.filter((r) => !r.what.startsWith('data of /') && !r.what.startsWith('fragment block ')).length);
    assert.ok(files > 0 || sb.fragmentCount > 0, `${image}: the image holds data`);
    return layout;
  } finally {
    await reader.close();
  }
}

/** The fragment table, decoded without the reader (its index, its metadata blocks). */
async function fragmentEntries(b: Buffer, compressor: string): Promise<{ start: number; size: number }[]> {
  const count = b.readUInt32LE(16);
  if (!count) return [];
  const decompress = await blockDecompressor(compressor as DecompressorName);
  const indexStart = Number(b.readBigUInt64LE(80));
  const parts: Buffer[] = [];
  for (let i = 0; i < lookupTableBlocks(count, 16); i++) {
    const at = Number(b.readBigUInt64LE(indexStart + 8 * i));
    const header = b.readUInt16LE(at);
    const raw = b.subarray(at + 2, at + 2 + (header & 0x7fff));
    parts.push(header & 0x8000 ? raw : decompress(raw, 8192));
  }
  const table = Buffer.concat(parts);
  return Array.from({ length: count }, (_, i) => decodeFragmentEntry(table, 16 * i));
}

const OUR_FEATURES = ['ALWAYS_FRAGMENTS', 'DUPLICATES', 'EXPORTABLE', 'NO_XATTRS'];
const KERNEL_MIN: Record<string, string> = { gzip: '2.6.29', xz: '2.6.38', lz4: '3.19', zstd: '4.14' };

describe('squashfs reader: describe(), layout() and checkStructures() of good images', () => {
  for (const compressor of COMPRESSORS) {
    it(`our writer (${compressor})`, async () => {
      const image = await ours(small, compressor, 'describe');
      await checkDescription(image, {
        compressor,
        compressorOptions: compressor === 'lz4' ? { version: 1, hc: false } : {},
        blockSize: 131072,
        features: compressor === 'lz4' ? [...OUR_FEATURES, 'COMPRESSOR_OPTIONS'] : OUR_FEATURES,
        kernelMin: KERNEL_MIN[compressor]!,
      });
      const layout = await checkLayout(image);
      assert.ok(layout.some((r) => r.what === 'fragment table') && layout.some((r) => r.what === 'export table'));
    });
  }

  it('our writer: the corner tree (3000-entry directory, sparse and duplicate files)', async () => {
    await checkLayout(await ours(corner, 'zstd', 'layout'));
  });

  const PLAIN = ['DUPLICATES', 'EXPORTABLE', 'NO_XATTRS'];
  const THEIRS: [string[], Omit<ExpectedDescription, 'kernelMin'>][] = [
    [['gzip', '-Xcompression-level', '6', '-b', '65536'], { compressor: 'gzip', compressorOptions: { level: 6, windowBits: 15, strategies: 0 }, blockSize: 65536, features: [...PLAIN, 'COMPRESSOR_OPTIONS'] }],
    [['xz', '-Xdict-size', '65536'], { compressor: 'xz', compressorOptions: { dictionarySize: 65536, executableFilters: 0 }, blockSize: 131072, features: [...PLAIN, 'COMPRESSOR_OPTIONS'] }],
    [['xz', '-Xbcj', 'x86,arm'], { compressor: 'xz', compressorOptions: { dictionarySize: 131072, executableFilters: 9 }, blockSize: 131072, features: [...PLAIN, 'COMPRESSOR_OPTIONS'] }],
    [['lz4', '-Xhc'], { compressor: 'lz4', compressorOptions: { version: 1, hc: true }, blockSize: 131072, features: [...PLAIN, 'COMPRESSOR_OPTIONS'] }],
    // 15 is zstd's default: no options block.
    [['zstd', '-Xcompression-level', '15'], { compressor: 'zstd', compressorOptions: {}, blockSize: 131072, features: PLAIN }],
    [['zstd', '-Xcompression-level', '19'], { compressor: 'zstd', compressorOptions: { level: 19 }, blockSize: 131072, features: [...PLAIN, 'COMPRESSOR_OPTIONS'] }],
    [['gzip', '-no-fragments', '-noId'], { compressor: 'gzip', compressorOptions: {}, blockSize: 131072, features: ['NO_FRAGMENTS', ...PLAIN, 'UNCOMPRESSED_IDS'] }],
    [['gzip', '-no-exports', '-always-use-fragments'], { compressor: 'gzip', compressorOptions: {}, blockSize: 131072, features: ['ALWAYS_FRAGMENTS', 'DUPLICATES', 'NO_XATTRS'] }],
    // -noI stores the id table uncompressed too, but 4.5.1 then sets no flag for it.
    [['gzip', '-noI', '-noD', '-noF', '-no-duplicates'], { compressor: 'gzip', compressorOptions: {}, blockSize: 131072, features: ['UNCOMPRESSED_INODES', 'UNCOMPRESSED_DATA', 'UNCOMPRESSED_FRAGMENTS', 'EXPORTABLE', 'NO_XATTRS'] }],
  ];
  for (const [[compressor, ...options], want] of THEIRS) {
    it(`mksquashfs -comp ${compressor} ${options.join(' ')}`, { skip: missingTools('mksquashfs') }, async () => {
      const image = theirs(random, compressor!, `describe${options.join('')}`, options);
      await checkDescription(image, { ...want, kernelMin: KERNEL_MIN[compressor!]! });
      const layout = await checkLayout(image);
      assert.equal(layout.some((r) => r.what === 'fragment table'), !options.includes('-no-fragments'));
      assert.equal(layout.some((r) => r.what === 'export table'), !options.includes('-no-exports'));
    });
  }

  it('mksquashfs: fragment and export tables over several metadata blocks', { skip: missingTools('mksquashfs') }, async () => {
    // 4 KiB blocks; 600 files of 3000 random bytes, a fragment block each; 500 empty files more.
    const src = join(dir, 'many-fragments');
    mkdirSync(src);
    const r = rng(5);
    for (let i = 0; i < 600; i++) writeFileSync(join(src, `f${i}`), Buffer.from(Array.from({ length: 3000 }, () => Math.floor(r() * 256))));
    for (let i = 0; i < 500; i++) writeFileSync(join(src, `e${i}`), '');
    const image = theirs(src, 'gzip', 'many-fragments', ['-b', '4096']);
    await checkLayout(image);
    const b = readFileSync(image);
    assert.ok(b.readUInt32LE(16) > 512 && b.readUInt32LE(4) > 1024, `${b.readUInt32LE(16)} fragments, ${b.readUInt32LE(4)} inodes`);
  });

  it('mksquashfs -comp lzo: open names lzo as unsupported, options block or not', { skip: missingTools('mksquashfs') }, async () => {
    for (const options of [[], ['-Xalgorithm', 'lzo1x_999', '-Xcompression-level', '7']] as string[][]) {
      const image = theirs(small, 'lzo', `describe${options.join('')}`, options);
      await assert.rejects(SquashfsReader.open(image), (e: Error) => e instanceof ImageFormatError && /superblock at 0x14: squashfs compressor lzo \(id 3\) is not supported for reading$/.test(e.message));
    }
  });

  it('mksquashfs with xattrs', { skip: xattrSkip }, async (t) => {
    if (!xattrTree()) return t.skip(xattrTreeProblem);
    for (const [compressor, extra] of [...XATTR_VARIANTS, ['lz4', ['-no-fragments', '-no-exports']] as [string, string[]]]) {
      const image = xattrImage(compressor, extra);
      const opts: Record<string, number | boolean> = compressor === 'lz4' ? { version: 1, hc: false } : {};
      const features = [...(extra.includes('-no-fragments') ? ['NO_FRAGMENTS'] : []), 'DUPLICATES', ...(extra.includes('-no-exports') ? [] : ['EXPORTABLE']), ...(extra.includes('-noX') ? ['UNCOMPRESSED_XATTRS'] : []), ...(compressor === 'lz4' ? ['COMPRESSOR_OPTIONS'] : [])];
      await checkDescription(image, { compressor, compressorOptions: opts, blockSize: 131072, features, kernelMin: KERNEL_MIN[compressor]! });
      const layout = await checkLayout(image);
      assert.ok(layout.some((r) => r.what === 'xattr table'));
    }
  });
});

describe('squashfs reader: hostile images', () => {
  it('names the structure and offset of a truncated image and of a bad superblock', async () => {
    const image = await ours(random, 'gzip', 'hostile');
    const bytes = readFileSync(image);
    const cut = join(dir, 'cut.sqfs');
    writeFileSync(cut, bytes.subarray(0, 50));
    await assert.rejects(SquashfsReader.open(cut), /cut\.sqfs: superblock at 0x0: the file is 50 bytes, shorter than the 96-byte superblock$/);
    writeFileSync(cut, bytes.subarray(0, bytes.length >> 1));
    await assert.rejects(SquashfsReader.open(cut), /superblock at 0x28: bytes_used says \d+ bytes, the file is \d+ \(truncated\?\)$/);
    const bad = Buffer.from(bytes);
    bad.writeUInt32LE(3000, 12);
    writeFileSync(cut, bad);
    await assert.rejects(SquashfsReader.open(cut), /superblock at 0xc: block size 3000 is not a power of two/);
    // An inode reference past the inode table, and one at an offset past its block.
    const inodeStart = Number(bytes.readBigUInt64LE(64));
    const far = Buffer.from(bytes);
    far.writeBigUInt64LE(0x7fff0000n << 16n, 32);
    writeFileSync(cut, far);
    await assert.rejects(readAll(cut), new RegExp(`inode table block at 0x${(inodeStart + 0x7fff0000).toString(16)}: outside the table \\(0x${inodeStart.toString(16)}\\.\\.0x[0-9a-f]+\\)$`));
    far.writeBigUInt64LE(8191n, 32);
    writeFileSync(cut, far);
    await assert.rejects(readAll(cut), (e: Error) => e instanceof ImageFormatError && /inode table block at 0x[0-9a-f]+: /.test(e.message));
    // The superblock's compressor: unknown ids are named as such.
    const unknown = Buffer.from(bytes);
    unknown.writeUInt16LE(9, 20);
    writeFileSync(cut, unknown);
    await assert.rejects(SquashfsReader.open(cut), /superblock at 0x14: squashfs compressor unknown \(id 9\) is not supported for reading$/);
  });

  it('rejects a metadata block header longer than 8 KiB', async () => {
    const image = await ours(random, 'gzip', 'header');
    const bytes = Buffer.from(readFileSync(image));
    const dirStart = Number(bytes.readBigUInt64LE(72));
    bytes.writeUInt16LE(9000, dirStart);
    const bad = join(dir, 'header.sqfs');
    writeFileSync(bad, bytes);
    await assert.rejects(readAll(bad), new RegExp(`directory table block at 0x${dirStart.toString(16)}: header says 9000 bytes, not within 1\\.\\.8192$`));
  });

  it('finds a directory loop', { skip: missingTools('mksquashfs') }, async () => {
    // The root holds one empty directory "a", its listing the directory table's only one, stored
    // uncompressed (-noI); it is patched so that "a" refers to the root's own inode.
    const src = join(dir, 'loop-src');
    mkdirSync(join(src, 'a'), { recursive: true });
    const image = join(dir, 'loop-mksquashfs.sqfs');
    execFileSync('mksquashfs', [src, image, '-noappend', '-no-xattrs', '-all-root', '-noI', '-quiet', '-no-progress']);
    const reader = await SquashfsReader.open(image);
    let rootNumber = 0;
    for await (const e of reader.entries()) if (e.path.length === 0) rootNumber = e.inodeNumber;
    await reader.close();
    const bytes = Buffer.from(readFileSync(image));
    const root = bytes.readBigUInt64LE(32);
    const at = Number(bytes.readBigUInt64LE(72)) + 2; // the listing, after its block header
    assert.equal(bytes.readUInt32LE(at), 0, 'one entry');
    bytes.writeUInt32LE(Number(root >> 16n), at + 4);
    bytes.writeUInt32LE(rootNumber, at + 8);
    bytes.writeUInt16LE(Number(root & 0xffffn), at + 12);
    bytes.writeInt16LE(0, at + 14);
    const bad = join(dir, 'loop.sqfs');
    writeFileSync(bad, bytes);
    await assert.rejects(readAll(bad), (e: Error) => e instanceof ImageFormatError && /directory table block at 0x[0-9a-f]+: "\/a": directory inode \d+ reached twice \(a directory loop\)$/.test(e.message));
  });

  /** The image of structuresImage() and where its fields are; every block it patches is stored uncompressed. */
  async function structures() {
    const image = structuresImage()!;
    const good = readFileSync(image);
    const sb = { inodes: Number(good.readBigUInt64LE(64)), fragments: Number(good.readBigUInt64LE(80)), exports: Number(good.readBigUInt64LE(88)), xattrs: Number(good.readBigUInt64LE(56)), bytesUsed: Number(good.readBigUInt64LE(40)) };
    /** An uncompressed metadata block's payload position, from a lookup table's index entry. */
    const storedBlock = (b: Buffer, indexAt: number) => {
      const at = Number(b.readBigUInt64LE(indexAt));
      assert.ok(b.readUInt16LE(at) & 0x8000, `block at 0x${at.toString(16)} is stored uncompressed`);
      return at + 2;
    };
    const patched = (patch: (b: Buffer) => void) => {
      const b = Buffer.from(good);
      patch(b);
      return writeImage('structures-patched.sqfs', b);
    };
    const reader = await SquashfsReader.open(image);
    const entries = new Map<string, SquashfsEntry>();
    for await (const e of reader.entries()) entries.set(e.path.toString(), e);
    await reader.close();
    /** Position of an inode of `type`. */
    const inodeAt = (path: string, type: number) => {
      const ref = entries.get(path)!.inode;
      assert.ok(good.readUInt16LE(sb.inodes + ref.block) & 0x8000, 'inodes stored uncompressed');
      const at = sb.inodes + ref.block + 2 + ref.offset;
      assert.equal(good.readUInt16LE(at), type, `${path} has an inode of type ${type}`);
      return at;
    };
    /** Position of a file's xattr index (an extended file inode: 16-byte header, the xattr index at 36). */
    const xattrField = (path: string) => inodeAt(path, 9) + 16 + 36;
    const kvStart = Number(good.readBigUInt64LE(sb.xattrs));
    /** Position of xattr id `id`'s entry, and of its first key. */
    const xattrId = (id: number) => {
      const entry = storedBlock(good, sb.xattrs + 16) + 16 * id;
      const key = unpackRef(good.readBigUInt64LE(entry));
      assert.ok(good.readUInt16LE(kvStart + key.block) & 0x8000, 'xattrs stored uncompressed');
      return { entry, block: kvStart + key.block, key: kvStart + key.block + 2 + key.offset };
    };
    const ids = { a: good.readUInt32LE(xattrField('a')), b: good.readUInt32LE(xattrField('b')) };
    assert.notEqual(ids.a, ids.b);
    return { image, good, sb, storedBlock, patched, inodeAt, xattrField, xattrId, ids };
  }
  const rejects = async (path: string, read: (path: string) => Promise<void>, re: RegExp) =>
    assert.rejects(read(path), (e: Error) => e instanceof ImageFormatError && re.test(e.message) && !/\n/.test(e.message));

  it('checkStructures() names the structure and offset of a bad export entry, fragment entry, padding, xattr key, inode count, overlap', { skip: missingTools('mksquashfs', 'python3') }, async (t) => {
    if (!structuresImage()) return t.skip('no user xattrs on this filesystem');
    const { image, good, sb, storedBlock, patched, inodeAt, xattrField, xattrId, ids } = await structures();
    await checkStructures(image);
    /** entries() and content() find nothing: the fault is only where checkStructures() looks. */
    const onlyThere = async (path: string, re: RegExp) => {
      await readAll(path);
      await rejects(path, checkStructures, re);
    };

    // (a) The export table's first two references swapped.
    await onlyThere(
      patched((b) => {
        const refs = storedBlock(b, sb.exports);
        const first = b.readBigUInt64LE(refs);
        b.writeBigUInt64LE(b.readBigUInt64LE(refs + 8), refs);
        b.writeBigUInt64LE(first, refs + 8);
      }),
      new RegExp(`: export table at 0x${sb.exports.toString(16)}: entry for inode 1 points at inode 2$`),
    );
    // (b) A fragment entry's stored size past the block size (content() of a, b and c's tail finds it too).
    const fragmentStart = Number(good.readBigUInt64LE(storedBlock(good, sb.fragments)));
    await rejects(
      patched((b) => b.writeUInt32LE(131073 | (1 << 24), storedBlock(b, sb.fragments) + 8)),
      checkStructures,
      // The layout check meets it first (the block would end past the filesystem); the block read names the size.
      new RegExp(`: fragment block 0 at 0x${fragmentStart.toString(16)}: (stored size 131073 is not within 1\\.\\.131072|ends at 0x[0-9a-f]+, past the filesystem's \\d+ bytes \\(bytes_used\\))$`),
    );
    // (c) A byte of the padding after bytes_used.
    assert.ok(good.length > sb.bytesUsed + 1, 'the image is padded');
    await onlyThere(
      patched((b) => (b[b.length - 2] = 7)),
      new RegExp(`: padding at 0x${(good.length - 2).toString(16)}: byte 7 after the filesystem's ${sb.bytesUsed} bytes, where only zero padding belongs$`),
    );
    // (d) An xattr id that no inode uses any more (b's inode is pointed at a's id), its first
    // key's prefix type made 3.
    const bId = xattrId(ids.b);
    await onlyThere(
      patched((b) => {
        b.writeUInt32LE(ids.a, xattrField('b'));
        assert.equal(b.readUInt16LE(bId.key), 0, 'a user. key');
        b.writeUInt16LE(3, bId.key);
      }),
      new RegExp(`: xattr table block at 0x${bId.block.toString(16)}: xattr id ${ids.b}: key 0 has type 0x3, not user\\., trusted\\. or security\\.$`),
    );
    // (e) inode_count one more than the directories reach.
    await onlyThere(
      patched((b) => b.writeUInt32LE(b.readUInt32LE(4) + 1, 4)),
      /: superblock at 0x4: inode_count says \d+, the directories reach \d+ inodes$/,
    );
    // (f) c's blocks (a basic file inode, start_block at 16) moved over the superblock, and past
    // the image's end: layout() refuses the second too.
    const layoutOf = async (path: string) => {
      const reader = await SquashfsReader.open(path);
      try {
        await reader.layout();
      } finally {
        await reader.close();
      }
    };
    await rejects(patched((b) => b.writeUInt32LE(0, inodeAt('c', 2) + 16)), checkStructures, /: superblock at 0x0: overlaps data of \/c \(0x0\.\.0x[0-9a-f]+\)$/);
    const past = patched((b) => b.writeUInt32LE(sb.bytesUsed - 8, inodeAt('c', 2) + 16));
    for (const read of [layoutOf, checkStructures]) await rejects(past, read, new RegExp(`: data of /c at 0x${(sb.bytesUsed - 8).toString(16)}: ends at 0x[0-9a-f]+, past the filesystem's ${sb.bytesUsed} bytes \\(bytes_used\\)$`));
  });

  it('refuses xattr counts, names and values that Linux could not hold, before reading them', { skip: missingTools('mksquashfs', 'python3') }, async (t) => {
    if (!structuresImage()) return t.skip('no user xattrs on this filesystem');
    const { sb, patched, xattrId, ids } = await structures();
    const a = xattrId(ids.a);
    const b = xattrId(ids.b);
    // a's keys, sorted: user.a = "1" inline, then user.k, 300 bytes, out of line.
    const aSecondKey = a.key + 4 + 1 + 4 + 1;
    const outOfLine = (image: Buffer) => {
      assert.equal(image.readUInt16LE(aSecondKey), 0x100, 'user.k out of line');
      const ref = unpackRef(image.readBigUInt64LE(aSecondKey + 4 + 1 + 4));
      const at = Number(image.readBigUInt64LE(sb.xattrs)) + ref.block + 2 + ref.offset;
      assert.equal(image.readUInt32LE(at), 300);
      return at;
    };
    await rejects(
      patched((image) => image.writeUInt32LE(10000, a.entry + 8)),
      readAll,
      new RegExp(`: xattr table block at 0x${a.block.toString(16)}: xattr id ${ids.a}: 10000 attributes, more than the 9362 whose names Linux lists \\(65536 bytes, XATTR_LIST_MAX\\)$`),
    );
    await rejects(
      patched((image) => image.writeUInt16LE(65535, b.key + 2)),
      readAll,
      new RegExp(`: xattr table block at 0x${b.block.toString(16)}: xattr id ${ids.b}: key 0: the names come to more than the 65536 bytes Linux lists \\(XATTR_LIST_MAX\\)$`),
    );
    await rejects(
      patched((image) => image.writeUInt32LE(70000, b.key + 4 + 1)),
      readAll,
      new RegExp(`: xattr id ${ids.b}: key 0's value is 70000 bytes, more than Linux's 65536 \\(XATTR_SIZE_MAX\\)$`),
    );
    await rejects(
      patched((image) => image.writeUInt32LE(65537, outOfLine(image))),
      readAll,
      new RegExp(`: xattr id ${ids.a}: key 1's out-of-line value is 65537 bytes, more than Linux's 65536 \\(XATTR_SIZE_MAX\\)$`),
    );
  });

  it('survives 200 seeded mutations of real images: each read, describe(), layout() and checkStructures() succeeds or throws ImageFormatError, within its budget', async (t) => {
    const images = [readFileSync(await ours(small, 'gzip', 'fuzz')), readFileSync(theirsOrOurs('fuzz'))];
    // With xattrs, every table stored as is: the mutations reach the xattr decoders too.
    const withXattrs = missingTools('mksquashfs', 'python3') ? undefined : structuresImage();
    if (withXattrs) images.push(readFileSync(withXattrs));
    const r = rng(20261202);
    const int = (n: number) => Math.floor(r() * n);
    const mutated = join(dir, 'mutated.sqfs');
    const started = Date.now();
    const outcomes = { ok: 0, format: 0 };
    for (let i = 0; i < 200; i++) {
      const original = images[i % images.length]!;
      let b = Buffer.from(original);
      const kind = i % 4;
      if (kind === 0) for (let k = 0, n = 1 + int(8); k < n; k++) b[int(b.length)] ^= 1 << int(8);
      else if (kind === 1) b = b.subarray(0, int(b.length));
      else if (kind === 2) {
        // Overwrite a superblock position or count with something plausible or absurd.
        const field = [4, 12, 16, 24, 26, 32, 40, 48, 56, 64, 72, 80, 88][int(13)]!;
        const value = r() < 0.5 ? BigInt(int(b.length)) : BigInt.asUintN(64, BigInt(Math.floor(r() * 2 ** 52)) << BigInt(int(12)));
        if (field === 24 || field === 26) b.writeUInt16LE(int(0x10000), field);
        else if (field < 32) b.writeUInt32LE(Number(value & 0xffffffffn), field);
        else b.writeBigUInt64LE(value, field);
      } else {
        // Overwrite 4 bytes inside the metadata (inode/directory tables and after) with a random u32.
        const from = Number(original.readBigUInt64LE(64));
        b.writeUInt32LE(int(2 ** 32), from + int(Math.max(1, b.length - from - 4)));
      }
      writeFileSync(mutated, b);
      const outcome = await withBudget(readEverything(mutated), 2000, `mutation ${i} (kind ${kind})`);
      if (outcome === 'ok') outcomes.ok++;
      else {
        assert.ok(outcome instanceof ImageFormatError, `mutation ${i} (kind ${kind}): ${outcome instanceof Error ? outcome.stack : String(outcome)}`);
        assert.doesNotMatch(outcome.message, /\n/);
        outcomes.format++;
      }
    }
    t.diagnostic(`${outcomes.ok} read, ${outcomes.format} refused, in ${Date.now() - started} ms`);
    assert.ok(Date.now() - started < 10_000, `200 reads took ${Date.now() - started} ms`);
    assert.ok(outcomes.format > 50, `only ${outcomes.format} mutations were noticed`);
  });
});

function theirsOrOurs(name: string): string {
  // Inodes, directories and fragments stored uncompressed: the mutations reach the decoders' fields.
  return missingTools('mksquashfs') ? join(dir, `${name}-gzip.sqfs`) : theirs(small, 'zstd', name, ['-noI', '-noF']);
}

/** Reads every entry and every file's content. */
async function readAll(image: string): Promise<void> {
  const reader = await SquashfsReader.open(image);
  try {
    for await (const e of reader.entries()) if (e.type === 'file') for await (const _ of reader.content(e));
  } finally {
    await reader.close();
  }
}

/**
 * A small mksquashfs image with every table stored uncompressed (-noI -noF -noX, -noI implies
 * -noId), so that a test can patch one field: a and b with xattr sets of their own, c with data
 * blocks and a tail, a directory with an xattr; undefined where user xattrs cannot be set.
 */
function structuresImage(): string | undefined {
  const src = join(dir, 'structures-src');
  const image = join(dir, 'structures.sqfs');
  if (existsSync(image)) return image;
  mkdirSync(join(src, 'd'), { recursive: true });
  writeFileSync(join(src, 'a'), 'a\n');
  writeFileSync(join(src, 'b'), 'b\n');
  writeFileSync(join(src, 'c'), Buffer.alloc(200_000, 'c'));
  const py = "import os, sys; os.chdir(sys.argv[1]); [os.setxattr(p, n, v) for p, n, v in (('a', 'user.k', b'v' * 300), ('a', 'user.a', b'1'), ('b', 'user.k', b'b'), ('d', 'user.d', b'd'))]";
  if (spawnSync('python3', ['-c', py, src]).status !== 0) return undefined;
  execFileSync('mksquashfs', [src, image, '-noappend', '-all-root', '-xattrs', '-noI', '-noF', '-noX', '-mkfs-time', String(T), '-quiet', '-no-progress'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return image;
}

function writeImage(name: string, bytes: Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

async function checkStructures(image: string): Promise<void> {
  const reader = await SquashfsReader.open(image);
  try {
    await reader.checkStructures();
  } finally {
    await reader.close();
  }
}

/**
 * Everything the reader offers: describe(), layout() (before content() has looked at any block,
 * and sorted, not overlapping, inside the file), every entry and file, checkStructures().
 */
async function readEverything(image: string): Promise<void> {
  const reader = await SquashfsReader.open(image);
  try {
    reader.describe();
    const layout = await reader.layout();
    for (const [i, r] of layout.entries())
      if (!(r.start < r.end && r.end <= reader.fileSize) || (i > 0 && layout[i - 1]!.end > r.start)) throw new Error(`layout of ${reader.fileSize} bytes: ${JSON.stringify(layout[i - 1])} then ${JSON.stringify(r)}`);
    for await (const e of reader.entries()) if (e.type === 'file') for await (const _ of reader.content(e));
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
