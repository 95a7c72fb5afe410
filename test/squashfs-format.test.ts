/**
 * Golden bytes for each on-disk structure the squashfs writer encodes, written out field by field
 * from the format (kernel fs/squashfs/squashfs_fs.h), and a structural comparison with what
 * mksquashfs 4.5.1 writes for the same tree, decoded by the independent reader in
 * helpers/squashfs.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { deflateSync, inflateSync } from 'node:zlib';
import { Exclusions } from '../src/sysroot/exclude.js';
import { walkSysroot } from '../src/sysroot/walk.js';
import { squashfsCompression } from '../src/formats/squashfs/compressor.js';
import { directoryNeedsIndex, encodeDirectoryListing, type DirectoryChild } from '../src/formats/squashfs/directory.js';
import {
  encodeDeviceInode,
  encodeDirectoryInode,
  encodeExtDirectoryInode,
  encodeFileInode,
  encodeIpcInode,
  encodeSymlinkInode,
  type InodeHeader,
} from '../src/formats/squashfs/inode.js';
import { encodeRdev } from '../src/formats/entry-limits.js';
import { encodeMetadataBlock, MetadataWriter } from '../src/formats/squashfs/metadata.js';
import { decodeSuperblock, encodeSuperblock } from '../src/formats/squashfs/superblock.js';
import { encodeExportEntries, encodeFragmentEntries, encodeIdEntries, encodeLookupTable } from '../src/formats/squashfs/tables.js';
import { writeSquashfs } from '../src/formats/squashfs/writer.js';
import { makeCornerTree } from './helpers/corner-tree.js';
import { missingTools } from './helpers/system.js';
import { readImage, type DecodedEntry } from './helpers/squashfs.js';

/** Hex with spaces and comments allowed, for readable goldens. */
const hex = (s: string) => Buffer.from(s.replace(/#[^\n]*/g, '').replace(/\s+/g, ''), 'hex');
const gzip = (b: Uint8Array) => deflateSync(b, { level: 9 });
const T = 1700000000; // 0x6553f100 → 00 f1 53 65
const H: InodeHeader = { mode: 0o644, uidIndex: 0, gidIndex: 0, mtime: T, inodeNumber: 7 };
const HEADER = (type: string, mode: string) => `${type} ${mode} 0000 0000 00f15365 07000000`;

describe('squashfs superblock', () => {
  const sb = {
    inodeCount: 5,
    mkfsTime: T,
    blockSize: 131072,
    fragmentCount: 1,
    compressionId: 1,
    flags: 0x02e0,
    idCount: 1,
    rootInode: 0x200040n,
    bytesUsed: 0x1234,
    idTableStart: 0x1220,
    inodeTableStart: 0x1000,
    directoryTableStart: 0x1100,
    fragmentTableStart: 0x1200,
    exportTableStart: 0x1210,
  };
  const golden = hex(`
    68737173 05000000 00f15365 00000200   # magic "hsqs", inodes, mkfs_time, block_size
    01000000 0100 1100 e002 0100 0400 0000 # fragments, gzip, block_log 17, flags, ids, version 4.0
    4000200000000000                       # root inode: block 0x20, offset 0x40
    3412000000000000 2012000000000000      # bytes_used, id table
    ffffffffffffffff                       # no xattrs
    0010000000000000 0011000000000000      # inode table, directory table
    0012000000000000 1012000000000000      # fragment table, export table`);

  it('encodes every field at its offset', () => assert.deepEqual(encodeSuperblock(sb), golden));
  it('decodes what it encodes', () => assert.deepEqual({ ...decodeSuperblock(golden) }, { ...sb, xattrIdTableStart: undefined, blockLog: 17, versionMajor: 4, versionMinor: 0 }));
  it('writes all-ones for an absent export table', () => assert.equal(encodeSuperblock({ ...sb, exportTableStart: undefined }).readBigUInt64LE(88), 0xffffffffffffffffn));
  it('refuses block sizes the kernel refuses', () => assert.throws(() => encodeSuperblock({ ...sb, blockSize: 3000 })));
});

describe('squashfs metadata blocks', () => {
  it('stores a block compressed when that is smaller, with the length in the header', () => {
    const payload = Buffer.alloc(8192, 0x41);
    const block = encodeMetadataBlock(payload, gzip);
    const len = block.readUInt16LE(0);
    assert.equal(len & 0x8000, 0);
    assert.equal(len, block.length - 2);
    assert.deepEqual(inflateSync(block.subarray(2)), payload);
  });

  it('stores a block raw, with bit 15 set, when compression does not shrink it', () => {
    const payload = hex('0102030405');
    assert.deepEqual(encodeMetadataBlock(payload, gzip), hex('0580 0102030405'));
  });

  it('cuts a table into 8 KiB blocks and gives references as ⟨compressed block start, offset⟩', () => {
    const w = new MetadataWriter(gzip);
    w.append(Buffer.alloc(5000, 1));
    assert.deepEqual(w.position, { block: 0, offset: 5000 });
    w.append(Buffer.alloc(5000, 2)); // crosses into the second block
    const first = encodeMetadataBlock(Buffer.concat([Buffer.alloc(5000, 1), Buffer.alloc(3192, 2)]), gzip);
    assert.deepEqual(w.position, { block: first.length, offset: 1808 });
    assert.deepEqual(w.refAt(4999), { block: 0, offset: 4999 });
    assert.deepEqual(w.refAt(8192 + 10), { block: first.length, offset: 10 });
    assert.equal(w.length, 10000);
    const table = w.finish();
    assert.deepEqual(table.subarray(0, first.length), first);
    assert.deepEqual(inflateSync(table.subarray(first.length + 2)), Buffer.alloc(1808, 2));
  });
});

describe('squashfs inodes', () => {
  it('basic directory (type 1)', () => {
    const b = encodeDirectoryInode({ ...H, mode: 0o755 }, { startBlock: 0x30, offset: 0x44, nlink: 3, fileSize: 0x2d, parentInode: 9 });
    assert.deepEqual(b, hex(`${HEADER('0100', 'ed01')} 30000000 03000000 2d00 4400 09000000`));
  });

  it('extended directory (type 8) with its index', () => {
    const b = encodeExtDirectoryInode(
      { ...H, mode: 0o755 },
      { startBlock: 0x30, offset: 0x44, nlink: 2, fileSize: 0x12345, parentInode: 9, index: [{ index: 0x2010, start: 0x1f0, name: Buffer.from('abc') }] },
    );
    assert.deepEqual(b, hex(`${HEADER('0800', 'ed01')} 02000000 45230100 30000000 09000000 0100 4400 ffffffff  10200000 f0010000 02000000 616263`));
  });

  it('basic file (type 2): blocks, then the tail in a fragment', () => {
    const b = encodeFileInode(H, { startBlock: 0x60, fileSize: 131073, fragment: 0, fragmentOffset: 0x10, blockSizes: [0x1000], sparseBytes: 0, nlink: 1 });
    assert.deepEqual(b, hex(`${HEADER('0200', 'a401')} 60000000 00000000 10000000 01000200 00100000`));
  });

  it('extended file (type 9) for hard links, holes and sizes past 4 GiB', () => {
    const b = encodeFileInode(H, {
      startBlock: 0x1_0000_0000,
      fileSize: 5 * 2 ** 30 + 1,
      fragment: 0xffffffff,
      fragmentOffset: 0,
      blockSizes: [0, 0x1000020],
      sparseBytes: 131072,
      nlink: 2,
    });
    assert.deepEqual(b, hex(`${HEADER('0900', 'a401')} 0000000001000000 0100004001000000 0000020000000000 02000000 ffffffff 00000000 ffffffff 00000000 20000001`));
  });

  it('symlink (3), devices (4 block, 5 char), fifo (6), socket (7)', () => {
    assert.deepEqual(encodeSymlinkInode({ ...H, mode: 0o777 }, { nlink: 1, target: Buffer.from('ab') }), hex(`${HEADER('0300', 'ff01')} 01000000 02000000 6162`));
    assert.deepEqual(encodeDeviceInode(H, { kind: 'block', nlink: 1, rdev: encodeRdev(8, 1)! }), hex(`${HEADER('0400', 'a401')} 01000000 01080000`));
    assert.deepEqual(encodeDeviceInode(H, { kind: 'char', nlink: 2, rdev: encodeRdev(1, 3)! }), hex(`${HEADER('0500', 'a401')} 02000000 03010000`));
    assert.deepEqual(encodeIpcInode(H, { kind: 'fifo', nlink: 1 }), hex(`${HEADER('0600', 'a401')} 01000000`));
    assert.deepEqual(encodeIpcInode({ ...H, mode: 0o4755 }, { kind: 'socket', nlink: 1 }), hex(`${HEADER('0700', 'ed09')} 01000000`));
  });

  it('device numbers in Linux encoding, with the minor split around the major', () => {
    assert.equal(encodeRdev(259, 300), 0x0011032c);
    assert.equal(encodeRdev(300, 70000), 0x11112c70);
    assert.equal(encodeRdev(4096, 0), undefined);
    assert.equal(encodeRdev(1, 1 << 20), undefined);
  });
});

describe('squashfs directory listings', () => {
  const child = (name: string, number: number, block = 0, offset = 0, type = 2): DirectoryChild => ({ name: Buffer.from(name), type, inode: { block, offset }, inodeNumber: number });

  it('one header, then entries: inode offset, number delta, basic type, name length − 1, name', () => {
    const { bytes, indexPoints } = encodeDirectoryListing([child('a', 5, 0x20, 0x10), child('bc', 4, 0x20, 0x40, 1)], false);
    assert.deepEqual(bytes, hex(`01000000 20000000 05000000   1000 0000 0200 0000 61   4000 ffff 0100 0100 6263`));
    assert.deepEqual(indexPoints, []);
  });

  it('starts a new header when the inode block changes, after 256 entries, and when the delta leaves s16', () => {
    const blocks = encodeDirectoryListing([child('a', 1, 0), child('b', 2, 100)], false).bytes;
    assert.equal(blocks.readUInt32LE(0), 0);
    assert.equal(blocks.readUInt32LE(12 + 9 + 4), 100); // second header's inode block
    const many = Array.from({ length: 300 }, (_, i) => child(`n${String(i).padStart(3, '0')}`, i + 1));
    const listing = encodeDirectoryListing(many, false).bytes;
    assert.equal(listing.readUInt32LE(0), 255);
    assert.equal(listing.readUInt32LE(12 + 256 * 12), 43);
    const far = encodeDirectoryListing([child('a', 1), child('b', 40000)], false).bytes;
    assert.equal(far.readUInt32LE(12 + 9 + 8), 40000); // second header's base
  });

  it('indexes large directories every 8 KiB of listing, each index point starting a header', () => {
    const many = Array.from({ length: 3000 }, (_, i) => child(`${'x'.repeat(40)}${String(i).padStart(5, '0')}`, i + 1));
    assert.ok(directoryNeedsIndex(many));
    assert.ok(!directoryNeedsIndex(many.slice(0, 100)));
    const { bytes, indexPoints } = encodeDirectoryListing(many, true);
    assert.ok(indexPoints.length >= Math.floor(bytes.length / 8192) - 1);
    for (const p of indexPoints) {
      const firstName = bytes.subarray(p.offset + 12 + 8, p.offset + 12 + 8 + bytes.readUInt16LE(p.offset + 12 + 6) + 1);
      assert.deepEqual(firstName, p.name, 'an index point is a header followed by the named entry');
    }
    const gaps = indexPoints.map((p, i) => p.offset - (i ? indexPoints[i - 1]!.offset : 0));
    assert.ok(gaps.every((g) => g <= 8192), `gaps ${gaps}`);
  });
});

describe('squashfs lookup tables and compressor options', () => {
  it('fragment, export and id entries', () => {
    assert.deepEqual(encodeFragmentEntries([{ start: 0x1234, size: 0x1000100 }]), hex('3412000000000000 00010001 00000000'));
    assert.deepEqual(encodeExportEntries([{ block: 0x30, offset: 0x44 }]), hex('4400300000000000'));
    assert.deepEqual(encodeIdEntries([0, 1000]), hex('00000000 e8030000'));
  });

  it('packs entries into metadata blocks followed by the index of their absolute positions', () => {
    const entries = encodeIdEntries(Array.from({ length: 3000 }, (_, i) => i)); // 12000 bytes: two blocks
    const t = encodeLookupTable(entries, 1000, gzip);
    const first = encodeMetadataBlock(entries.subarray(0, 8192), gzip);
    const second = encodeMetadataBlock(entries.subarray(8192), gzip);
    assert.deepEqual(t.bytes, Buffer.concat([first, second, hex(`e803000000000000`), Buffer.from(new BigUint64Array([BigInt(1000 + first.length)]).buffer)]));
    assert.equal(t.indexStart, 1000 + first.length + second.length);
  });

  it('lz4 always carries an options block (version 1 = legacy raw blocks); the others use the defaults', () => {
    assert.deepEqual(squashfsCompression({ name: 'lz4', blockSize: 131072 }), { id: 5, options: hex('0880 01000000 00000000') });
    assert.deepEqual(squashfsCompression({ name: 'gzip', blockSize: 131072 }), { id: 1 });
    assert.deepEqual(squashfsCompression({ name: 'xz', blockSize: 131072 }), { id: 4 });
    assert.deepEqual(squashfsCompression({ name: 'zstd', blockSize: 131072 }), { id: 6 });
  });
});

describe('squashfs structure compared with mksquashfs', { skip: missingTools('mksquashfs') }, () => {
  it('decodes to the same superblock flags and the same inodes and directory entries, path by path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'avocado-sqfs-cmp-'));
    try {
      const src = join(dir, 'src');
      execFileSync('mkdir', [src]);
      makeCornerTree(src, { bigDirEntries: 3000 });
      rmSync(join(src, 'var'), { recursive: true }); // the walk always leaves out parts of it
      const ours = join(dir, 'ours.sqfs');
      const theirs = join(dir, 'theirs.sqfs');
      const { tree } = await walkSysroot(src, new Exclusions([]), '');
      await writeSquashfs(tree, ours, { compressor: 'gzip', time: T, threads: 2 });
      // -tailends: pack tails into fragments as we do; the times and owners we always set.
      execFileSync('mksquashfs', [src, theirs, '-noappend', '-no-xattrs', '-all-root', '-tailends', '-mkfs-time', String(T), '-all-time', String(T), '-quiet', '-no-progress']);
      const a = readImage(ours);
      const b = readImage(theirs);
      for (const f of ['mkfsTime', 'blockSize', 'blockLog', 'compressionId', 'flags', 'idCount', 'versionMajor', 'versionMinor'] as const) assert.equal(a.sb[f], b.sb[f], f);
      assert.deepEqual(a.ids, b.ids);
      assert.equal(a.exportRefs.length, a.sb.inodeCount);
      assert.deepEqual([...a.entries.keys()].sort(), [...b.entries.keys()].sort());
      // Positions and inode numbers are layout choices; everything else must agree. mksquashfs
      // 4.5.1 does not share the inode of hard-linked symlinks (nlink 1 twice); we do.
      const shape = (e: DecodedEntry) => {
        const { number: _n, startBlock: _s, fragment, fragmentOffset: _o, parent: _p, dirStart: _d, dirOffset: _f, index, blockSizes, nlink, ...rest } = e.inode;
        return { ...rest, listedType: e.listedType, blocks: blockSizes?.length, inFragment: fragment === undefined ? undefined : fragment !== 0xffffffff, indexEntries: index?.length, nlink: e.inode.type === 3 ? undefined : nlink };
      };
      for (const [path, ea] of a.entries) assert.deepEqual(shape(ea), shape(b.entries.get(path)!), path);
      assert.equal(a.headers.get('usr/share/big'), b.headers.get('usr/share/big'), 'headers of the 3000-entry directory');
      for (const path of ['usr/lib/libfoo.so', 'usr/lib/libfoo-link-to-symlink']) assert.equal(a.entries.get(path)!.inode.nlink, 2);
      // Every export entry points at the inode with that number.
      for (const e of a.entries.values()) assert.equal(a.exportRefs[e.inode.number - 1], e.ref);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
