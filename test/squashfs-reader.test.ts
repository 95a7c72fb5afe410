/**
 * The squashfs reader (src/formats/squashfs/reader.ts) against the source trees and the kernel:
 * the corner-case tree and a random tree, written by our writer and by mksquashfs with every
 * compressor we write, read back and compared entry by entry (type, mode, owner, size, content
 * sha256, link target, device number, hard-link groups, link counts, mtime); what it cannot decode
 * and hostile images (a seeded fuzz of real images) give ImageFormatError, never anything else.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { deflateSync } from 'node:zlib';
import type { CodecName } from '../src/compress/codec.js';
import { ImageFormatError } from '../src/formats/errors.js';
import { SquashfsReader } from '../src/formats/squashfs/reader.js';
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
import { makeRandomTree, rng, snapshotImage } from './helpers/squashfs.js';
import { cannotMount, missingTools } from './helpers/system.js';
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
after(() => rmSync(dir, { recursive: true, force: true }));

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

  it('reads an image holding xattrs (which it does not decode yet) as the tree it was made of', async (t) => {
    const src = join(dir, 'xattr-src');
    mkdirSync(join(src, 'd'), { recursive: true });
    writeFileSync(join(src, 'f'), 'hi\n');
    const set = spawnSync('python3', ['-c', "import os; [os.setxattr(p, b'user.k', b'v', follow_symlinks=False) for p in ('f', 'd')]"], { cwd: src });
    if (set.status !== 0) return t.skip('no user xattrs on this filesystem');
    const image = join(dir, 'xattr.sqfs');
    execFileSync('mksquashfs', [src, image, '-noappend', '-all-root', '-xattrs', '-all-time', String(T), '-quiet', '-no-progress']);
    assert.deepEqual(compareTrees(await snapshotImage(image), snapshotTree(src), { mtime: T }), []);
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

  it('survives 200 seeded mutations of real images: each read succeeds or throws ImageFormatError, within its budget', async (t) => {
    const images = [readFileSync(await ours(small, 'gzip', 'fuzz')), readFileSync(theirsOrOurs('fuzz'))];
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
        const field = [4, 12, 16, 26, 32, 40, 48, 64, 72, 80, 88][int(11)]!;
        const value = r() < 0.5 ? BigInt(int(b.length)) : BigInt.asUintN(64, BigInt(Math.floor(r() * 2 ** 52)) << BigInt(int(12)));
        if (field === 26) b.writeUInt16LE(int(0x10000), field);
        else if (field < 32) b.writeUInt32LE(Number(value & 0xffffffffn), field);
        else b.writeBigUInt64LE(value, field);
      } else {
        // Overwrite 4 bytes inside the metadata (inode/directory tables and after) with a random u32.
        const from = Number(original.readBigUInt64LE(64));
        b.writeUInt32LE(int(2 ** 32), from + int(Math.max(1, b.length - from - 4)));
      }
      writeFileSync(mutated, b);
      const outcome = await withBudget(readAll(mutated), 2000, `mutation ${i} (kind ${kind})`);
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
