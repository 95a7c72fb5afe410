/**
 * Golden bytes for each on-disk structure the EROFS writer encodes, written out field by field
 * from the format (the kernel's fs/erofs/erofs_fs.h), then the same encoders checked against what
 * mkfs.erofs 1.5 writes for the same input: its superblock and checksum, inodes, directories and
 * compressed-file indexes are decoded by the independent reader in helpers/erofs.ts and encoded
 * again with our functions, which must give mkfs.erofs's bytes.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CompressionMapEncoder, MAX_EXTENT, encodeCompressionMap, compressionMapSize, lclusterIndexes, type Extent } from '../src/formats/erofs/compression-map.js';
import { crc32c } from '../src/formats/erofs/crc32c.js';
import { DOT, DOTDOT, directorySize, encodeDirectory, withDots, type Dirent } from '../src/formats/erofs/directory.js';
import { encodeRdev } from '../src/formats/entry-limits.js';
import { encodeInode, needsExtendedInode } from '../src/formats/erofs/inode.js';
import { MetadataLayout, nidAt } from '../src/formats/erofs/metadata-layout.js';
import { encodeCompressionConfigs, encodeSuperblock, lz4Config, sealBlockZero, zstdConfig } from '../src/formats/erofs/superblock.js';
import { makeCornerTree } from './helpers/corner-tree.js';
import { missingTools } from './helpers/system.js';
import { BLOCK, decodeCompressedFile, decodeDirectory, decodeSuperblock, flatData, walkImage, type DecodedInode } from './helpers/erofs.js';

/** Hex with spaces and comments allowed, for readable goldens. */
const hex = (s: string) => Buffer.from(s.replace(/#[^\n]*/g, '').replace(/\s+/g, ''), 'hex');
const T = 1700000000; // 0x6553f100

describe('EROFS superblock', () => {
  it('computes CRC-32C (Castagnoli) as the standard check value says', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  });

  it('encodes every field where erofs_fs.h puts it', () => {
    const sb = encodeSuperblock({ featureCompat: 3, featureIncompat: 1, rootNid: 36, inodeCount: 5, buildTime: T, blocks: 0x1234, metaBlkaddr: 0, algorithmsOrLz4Distance: 0xffff });
    assert.deepEqual(
      sb,
      hex(`
        e2e1f5e0 00000000 03000000   # magic, checksum (sealed later), feature_compat
        0c 00 2400                   # blkszbits 12, no extension slots, root nid 36
        0500000000000000             # inodes
        00f1536500000000 00000000    # build time, nsec
        34120000 00000000 00000000   # blocks, meta_blkaddr, xattr_blkaddr
        00000000000000000000000000000000  # uuid (nil)
        00000000000000000000000000000000  # volume name (empty, NUL-terminated)
        01000000 ffff 0000 0000 00 00 00000000  # incompat, lz4 distance, devices, devt slot, dirblkbits, prefixes
        0000000000000000 00 00 0000 00000000 0000000000000000 0000000000000000`),
    );
  });

  it('writes the compression records 4-byte aligned after the superblock', () => {
    assert.deepEqual(encodeCompressionConfigs([lz4Config(16)]), hex('0e00 ffff 1000 00000000000000000000'));
    assert.deepEqual(encodeCompressionConfigs([zstdConfig(20)]), hex('0600 00 0a 00000000'));
    // Two records: the second starts on the next 4-byte boundary (1152 + 16 = 1168).
    assert.deepEqual(encodeCompressionConfigs([zstdConfig(15), lz4Config(1)]), hex('0e00 ffff 0100 00000000000000000000 0600 00 05 00000000'));
  });

  it('seals block 0 with the CRC-32C register over bytes 1024..4095 (checksum field as zero, no final inversion)', () => {
    const block = Buffer.alloc(BLOCK);
    block.write('EROFS', 2000);
    sealBlockZero(block);
    const copy = Buffer.from(block);
    copy.writeUInt32LE(0, 1028);
    assert.equal(block.readUInt32LE(1028), ~crc32c(copy.subarray(1024)) >>> 0);
  });
});

describe('EROFS inodes', () => {
  it('encodes a compact inode (32 bytes)', () => {
    const b = encodeInode({ mode: 0o100755, layout: 2, size: 0x1234, nlink: 3, u: 0xffffffff, ino: 7, mtime: T });
    assert.deepEqual(b, hex('0400 0000 ed81 0300 34120000 00000000 ffffffff 07000000 0000 0000 00000000'));
  });

  it('encodes an extended inode (64 bytes) for sizes past 4 GiB', () => {
    const size = 5 * 2 ** 30 + 1;
    assert.ok(needsExtendedInode(size, 1));
    const b = encodeInode({ mode: 0o100644, layout: 4, size, nlink: 1, u: 0, ino: 9, mtime: T });
    assert.deepEqual(b, hex('0900 0000 a481 0000 0100004001000000 00000000 09000000 00000000 00000000 00f1536500000000 00000000 01000000 00000000000000000000000000000000'));
  });

  it('encodes device numbers as new_encode_dev', () => {
    assert.equal(encodeRdev(1, 3), 0x0103);
    assert.equal(encodeRdev(300, 70000), (70000 & 0xff) | (300 << 8) | ((70000 & ~0xff) << 12));
    assert.equal(encodeRdev(4096, 0), undefined);
  });
});

describe('EROFS directories', () => {
  const d = (name: string, nid: number, type = 1): Dirent => ({ name: Buffer.from(name, 'latin1'), nid, type });

  it('sorts "." and ".." as ordinary names (bytes below 0x2e come first)', () => {
    const names = ['+plus', '-dash', 'a', 'b.', '\xff'].map((n) => ({ name: Buffer.from(n, 'latin1') }));
    const sorted = withDots(names, { name: DOT }, { name: DOTDOT });
    assert.deepEqual(sorted.map((n) => n.name.toString('latin1')), ['+plus', '-dash', '.', '..', 'a', 'b.', '\xff']);
  });

  it('writes dirents then names, the first name offset counting the entries', () => {
    const data = encodeDirectory([d('.', 36, 2), d('..', 36, 2), d('a', 40)]);
    assert.deepEqual(
      data,
      hex(`
        2400000000000000 2400 02 00   # "." → nid 36, name at 36, dir
        2400000000000000 2500 02 00   # ".." at 37
        2800000000000000 2700 01 00   # "a" → nid 40 at 39, regular file
        2e 2e2e 61`),
    );
    assert.equal(directorySize([DOT, DOTDOT, Buffer.from('a')]), 40);
  });

  it('starts a new block with the entry that does not fit, and sizes the directory to its last byte', () => {
    // 12 + 200 bytes each: 19 entries fill 4028 bytes of the first block, the 20th starts block 2.
    const entries = Array.from({ length: 25 }, (_, i) => d(String(i).padStart(2, '0') + 'x'.repeat(198), 100 + i));
    const data = encodeDirectory(entries);
    assert.equal(data.length, BLOCK + 6 * 212);
    assert.equal(data.readUInt16LE(8), 19 * 12);
    assert.equal(data.readUInt16LE(BLOCK + 8), 6 * 12);
    assert.deepEqual(decodeDirectory(data).map((e) => e.nid), entries.map((e) => e.nid));
  });
});

describe('EROFS compressed-file indexes', () => {
  it('describes each lcluster: heads with their offset, NONHEAD with the distance back and ahead, a PLAIN head at a mid-lcluster end', () => {
    // Extents: 6000 bytes compressed, 4096 raw, 3000 compressed (file 13096 bytes, 4 lclusters).
    const extents = [
      { offset: 0, length: 6000, compressed: true, blocks: 1 },
      { offset: 6000, length: 4096, compressed: false, blocks: 1 },
      { offset: 10096, length: 3000, compressed: true, blocks: 1 },
    ];
    assert.deepEqual(lclusterIndexes(13096, extents, false), [
      { type: 1, clusterofs: 0, delta0: 0, delta1: 0 },
      { type: 0, clusterofs: 6000 - 4096, delta0: 0, delta1: 0 },
      { type: 1, clusterofs: 10096 - 8192, delta0: 0, delta1: 0 },
      { type: 0, clusterofs: 13096 % 4096, delta0: 0, delta1: 0 },
    ]);
    // A big pcluster: the first NONHEAD holds the block count.
    const big = lclusterIndexes(5 * BLOCK, [{ offset: 0, length: 5 * BLOCK, compressed: true, blocks: 2 }], true);
    assert.deepEqual(big.map((i) => [i.type, i.delta0, i.delta1]), [[1, 0, 0], [2, 0x802, 4], [2, 2, 3], [2, 3, 2], [2, 4, 1]]);
  });

  it('packs compact indexes: 4-byte units to a 32-byte boundary, then 2-byte units by sixteen, each pack ending in its base block', () => {
    // Inode at 0 (32 bytes), map header at 32, indexes from 40: (32 - 40 % 32) / 4 = 6 lclusters in
    // 4-byte units, then 16 in 2-byte units, then the rest in 4-byte units.
    const size = 23 * BLOCK;
    assert.equal(compressionMapSize(32, size), 8 + 24 + 32 + 8);
    const extents = [{ offset: 0, length: size, compressed: true, blocks: 1 }];
    const map = encodeCompressionMap({ size, extents, algorithm: 0, bigPcluster: false, firstBlock: 100, inodeEnd: 32 });
    // Header: advise COMPACTED_2B, LZ4, lcluster bits 0.
    assert.deepEqual(map.subarray(0, 8), hex('00000000 0100 00 00'));
    // First 4-byte pack: HEAD1 offset 0, then a NONHEAD that, last in its pack, carries the
    // distance ahead (23 - 1 = 22), 16 bits each with the type in bits 12-13; base 99 (the
    // kernel finds a pack's first head at base + 1).
    assert.deepEqual(map.subarray(8, 16), hex('0010 1620 63000000'));
    // Second pack: lcluster 2 back 2, lcluster 3 ahead 20; base 100 after one head.
    assert.deepEqual(map.subarray(16, 24), hex('0220 1420 64000000'));
    // Third pack: lclusters 4 and 5, the last of a pack carrying the distance ahead (23 - 5 = 18).
    assert.deepEqual(map.subarray(24, 32), hex('0420 1220 64000000'));
    // 2-byte pack of lclusters 6..21: 14 bits each; lcluster 6 = NONHEAD delta 6.
    const first14 = map.readUInt16LE(32) & 0x3fff;
    assert.equal(first14, (2 << 12) | 6);
    // The final 4-byte pack: lcluster 22 alone (not last in its pack: distance back 22), padded.
    assert.deepEqual(map.subarray(64, 72), hex('1620 0000 64000000'));
  });

  it('encodes the map as extents arrive, holding at most one pack of indexes besides the map, and the kernel-style reader finds every extent', () => {
    // A file of every kind of extent, in varying runs: long compressed ones (the most the indexes
    // describe), 1 MiB ones as sparse files give (of up to 4 blocks with big pclusters), short
    // ones, raw blocks, a mid-lcluster end.
    for (const big of [false, true]) {
      const extents: Extent[] = [];
      let offset = 0;
      const push = (length: number, compressed: boolean, blocks = 1) => {
        extents.push({ offset, length, compressed, blocks });
        offset += length;
      };
      for (let k = 0; k < 40; k++) {
        push(k % 7 === 0 ? MAX_EXTENT : (1 << 20) - 4096 * (k % 3), true, big ? 1 + (k % 4) : 1);
        for (let r = 0; r < k % 5; r++) push(BLOCK, false);
        push(6000 + 97 * k, true);
      }
      push(3000, false);
      const size = offset;
      const firstBlock = 5000;
      const inodeEnd = 64 + 32 * (extents.length % 3); // the packs start at different places
      const encoder = new CompressionMapEncoder({ size, algorithm: 0, bigPcluster: big, firstBlock, inodeEnd });
      for (const e of extents) {
        encoder.add(e);
        assert.ok(encoder.unwritten <= 16, `${encoder.unwritten} lclusters held`);
      }
      const map = encoder.finish();
      assert.equal(map.length, compressionMapSize(inodeEnd, size));
      const img = Buffer.concat([Buffer.alloc(inodeEnd), map, Buffer.alloc(8)]);
      const decoded = decodeCompressedFile(img, { layout: 3, at: 0, isize: inodeEnd, size } as DecodedInode);
      let block = firstBlock;
      const expected = extents.map((e) => {
        const at = block;
        block += e.blocks;
        return { ...e, block: at };
      });
      assert.deepEqual(decoded.extents, expected);
      assert.equal(decoded.mapBytes, map.length);
    }
  });

  it('keeps the same small state for a sparse file past 4 GiB (a million lclusters)', () => {
    const size = 4 * 2 ** 30 + 12345;
    const encoder = new CompressionMapEncoder({ size, algorithm: 0, bigPcluster: false, firstBlock: 1, inodeEnd: 32 });
    const run = 1040384; // the input one 4 KiB LZ4 pcluster of zeros holds
    for (let offset = 0; offset < size; offset += run) {
      encoder.add({ offset, length: Math.min(run, size - offset), compressed: true, blocks: 1 });
      assert.ok(encoder.unwritten <= 16);
    }
    assert.equal(encoder.finish().length, compressionMapSize(32, size));
  });
});

describe('EROFS metadata layout', () => {
  it('keeps items on 32-byte slots, within one block, filling the fullest block that has room', () => {
    const layout = new MetadataLayout(1024 + 128);
    assert.deepEqual(layout.placeInBlockZero(32 + 27), { areaBlock: 0, offset: 1152 });
    assert.deepEqual(layout.place(4000), { areaBlock: 1, offset: 0 });
    assert.deepEqual(layout.place(64), { areaBlock: 1, offset: 4000 });
    assert.deepEqual(layout.place(100), { areaBlock: 0, offset: 1216 });
    assert.deepEqual(layout.place(9000), { areaBlock: 2, offset: 0 });
    // The rest of the last block of that item (3 × 4096 - 9024 = 3264 bytes) is still usable.
    assert.deepEqual(layout.place(3000), { areaBlock: 4, offset: 9024 - 2 * BLOCK });
    assert.deepEqual(layout.place(1000), { areaBlock: 0, offset: 1344 });
  });

  it('numbers items by 32-byte slot from byte 0, past 2^31 bytes too', () => {
    assert.equal(nidAt({ areaBlock: 0, offset: 1152 }, 1000), 36);
    assert.equal(nidAt({ areaBlock: 1, offset: 64 }, 10), (10 * BLOCK + 64) / 32);
    // Metadata after 3 GiB of data.
    assert.equal(nidAt({ areaBlock: 2, offset: 32 }, 786432), ((786432 + 1) * BLOCK + 32) / 32);
  });
});

const skipMkfs = missingTools('mkfs.erofs');

describe('our encoders give mkfs.erofs 1.5 bytes for what it wrote', { skip: skipMkfs }, () => {
  let dir: string;
  let src: string;
  const mkfs = (image: string, ...extra: string[]) => {
    execFileSync('mkfs.erofs', ['--quiet', `-T${T}`, '-U', '00000000-0000-0000-0000-000000000000', '-x', '-1', '--all-root', ...extra, image, src]);
    return readFileSync(image);
  };
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'avocado-erofs-format-'));
    src = join(dir, 'src');
    mkdirSync(src);
    // mkfs.erofs 1.5 fails on 255-byte names.
    makeCornerTree(src, { bigDirEntries: 3000, maxNameLength: 254 });
    rmSync(join(src, 'var'), { recursive: true });
    for (const n of [4095, 4096, 4097, 4064, 4065, 8193, 300_001]) writeFileSync(join(src, `usr/share/size-${n}`), Buffer.alloc(n, `${n}`));
    const text = Buffer.from(Array.from({ length: 40_000 }, (_, i) => `line ${i % 977} of a compressible file\n`).join(''));
    writeFileSync(join(src, 'usr/share/text'), text);
    const fd2 = openSync(join(src, 'usr/share/text-with-zeros'), 'w');
    writeSync(fd2, text.subarray(0, 100_000), 0, 100_000, 0);
    writeSync(fd2, text.subarray(0, 50_000), 0, 50_000, 3_000_000);
    closeSync(fd2);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('superblock and its checksum', () => {
    const img = mkfs(join(dir, 'plain.img'));
    const sb = decodeSuperblock(img);
    const ours = encodeSuperblock({
      featureCompat: sb.featureCompat,
      featureIncompat: sb.featureIncompat,
      rootNid: sb.rootNid,
      inodeCount: Number(sb.inodes),
      buildTime: Number(sb.buildTime),
      blocks: sb.blocks,
      metaBlkaddr: sb.metaBlkaddr,
      algorithmsOrLz4Distance: sb.u1,
    });
    const theirs = Buffer.from(img.subarray(1024, 1152));
    theirs.writeUInt32LE(0, 4);
    assert.deepEqual(ours, theirs);
    const block0 = Buffer.from(img.subarray(0, BLOCK));
    sealBlockZero(block0);
    assert.equal(block0.readUInt32LE(1028), sb.checksum);
  });

  it('every inode (compact and extended) and every directory', () => {
    const img = mkfs(join(dir, 'plain.img'));
    const entries = walkImage(img);
    assert.ok(entries.size > 3000);
    let extended = 0;
    for (const [path, e] of entries) {
      const i = e.inode;
      const ours = encodeInode({ mode: i.mode, layout: i.layout as 0, size: i.size, nlink: i.nlink, u: i.u, ino: i.ino, mtime: Number(i.mtime) });
      assert.deepEqual(ours, i.raw, `inode of ${JSON.stringify(path)}`);
      if (i.extended) extended++;
      if ((i.mode & 0o170000) === 0o040000) {
        const data = flatData(img, i);
        assert.deepEqual(encodeDirectory(decodeDirectory(data)), data, `directory ${JSON.stringify(path)}`);
      }
    }
    // (mkfs.erofs 1.5 stores holes in full, so a file past 4 GiB is left to the golden test above.)
    assert.equal(extended, 0);
  });

  for (const [name, extra, big] of [
    ['4 KiB clusters (-zlz4hc)', ['-zlz4hc'], false],
    ['16 KiB big pclusters (-zlz4hc -C16384)', ['-zlz4hc', '-C16384'], true],
  ] as const) {
    it(`compressed-file map headers and compact indexes, ${name}`, () => {
      const img = mkfs(join(dir, 'z.img'), ...extra);
      let compared = 0;
      for (const [path, e] of walkImage(img)) {
        if (e.inode.layout !== 3) continue;
        const decoded = decodeCompressedFile(img, e.inode);
        const ext = decoded.extents;
        // Our encoder assumes a file's pclusters are contiguous, as mkfs.erofs writes them.
        for (let k = 1; k < ext.length; k++) assert.equal(ext[k]!.block, ext[k - 1]!.block + ext[k - 1]!.blocks, `${path}: pclusters contiguous`);
        const ours = encodeCompressionMap({
          size: e.inode.size,
          extents: ext,
          algorithm: decoded.algorithm as 0,
          bigPcluster: big,
          firstBlock: ext[0]!.block,
          inodeEnd: e.inode.at + e.inode.isize,
        });
        const hpos = e.inode.at + e.inode.isize;
        assert.deepEqual(ours, img.subarray(hpos, hpos + ours.length), `map of ${JSON.stringify(path)}`);
        assert.equal(ours.length, decoded.mapBytes);
        compared++;
      }
      assert.ok(compared >= 5, `${compared} compressed files compared`);
    });
  }
});
