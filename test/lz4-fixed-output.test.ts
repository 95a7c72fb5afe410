/**
 * The LZ4 fixed-output ("destSize") encoder: every block decodes (with a strict decoder and with
 * lz4-napi's, an independent implementation) to exactly the input prefix it claims, fits the
 * capacity, follows the end-of-block rules, and holds as much input as expected on inputs whose
 * best encoding is known. The optimal-parse encoder passes the same checks, and holds more input
 * than the greedy one overall.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { DEFAULT_ATTEMPTS, Lz4FixedOutputEncoder, Lz4OptimalEncoder } from '../src/compress/lz4/fixed-output.js';
import type { FixedOutputCompressor } from '../src/compress/fixed-output.js';
import { ClusterPacker, packWithSecondPass, unpackClusters } from '../src/formats/erofs/clusters.js';
import { clusterOptions, LZ4_ATTEMPTS, LZ4_SECOND_PASS } from '../src/formats/erofs/compression.js';
import { pseudoRandom, pseudoText } from './helpers/corner-tree.js';
import { decodeLz4Block } from './helpers/erofs.js';

const lz4napi = createRequire(import.meta.url)('lz4-napi') as { uncompressSync(data: Uint8Array): Buffer };

/** lz4-napi reads a u32 size prefix before the raw block. */
function napiDecode(block: Uint8Array, size: number): Buffer {
  const framed = Buffer.alloc(4 + block.length);
  framed.writeUInt32LE(size, 0);
  framed.set(block, 4);
  return lz4napi.uncompressSync(framed);
}

const text = pseudoText;

/** Compresses `data` into consecutive blocks of `capacity`, checking each one. */
function roundTrip(data: Buffer, capacity: number, encoder: FixedOutputCompressor = new Lz4FixedOutputEncoder()): { blocks: number; sizes: number[] } {
  const dst = new Uint8Array(capacity);
  const sizes: number[] = [];
  for (let pos = 0; pos < data.length; ) {
    const r = encoder.compress(data, pos, data.length, dst, capacity);
    assert.ok(r.written <= capacity, `block of ${r.written} bytes exceeds ${capacity}`);
    assert.ok(r.consumed > 0);
    assert.notEqual(dst[0], 0, 'a block never starts with a zero byte (EROFS zero padding)');
    const block = dst.subarray(0, r.written);
    const expected = data.subarray(pos, pos + r.consumed);
    assert.ok(decodeLz4Block(block, r.consumed).equals(expected), `block at ${pos} decodes to other bytes`);
    assert.ok(napiDecode(block, r.consumed).equals(expected), `lz4-napi decodes the block at ${pos} to other bytes`);
    sizes.push(r.consumed);
    pos += r.consumed;
  }
  return { blocks: sizes.length, sizes };
}

describe('LZ4 fixed-output encoder', () => {
  const inputs: [string, Buffer][] = [
    ['random', pseudoRandom(50_000, 11)],
    ['zeros', Buffer.alloc(3 << 20)],
    ['text', text(200_000, 5)],
    ['short period', Buffer.from('ab'.repeat(30_000))],
    ['mixed', Buffer.concat([pseudoRandom(5000, 3), text(30_000, 9), Buffer.alloc(20_000), pseudoRandom(7000, 3), text(9000, 9)])],
  ];
  for (const capacity of [4096, 65536]) {
    for (const [name, data] of inputs) {
      it(`round-trips ${name} data in ${capacity}-byte blocks`, () => {
        roundTrip(data, capacity);
      });
    }
  }

  it('takes the whole input when it fits, and tiny inputs as literals', () => {
    const dst = new Uint8Array(4096);
    const enc = new Lz4FixedOutputEncoder();
    for (const size of [1, 5, 12, 13, 100]) {
      const data = text(size, 1);
      const r = enc.compress(data, 0, size, dst, 4096);
      assert.equal(r.consumed, size);
      assert.ok(decodeLz4Block(dst.subarray(0, r.written), size).equals(data));
    }
    const t = text(8000, 2);
    assert.equal(enc.compress(t, 0, t.length, dst, 4096).consumed, t.length);
  });

  it('fills a block with incompressible data up to the literal overhead', () => {
    const data = pseudoRandom(10_000, 4);
    const encoder = new Lz4FixedOutputEncoder();
    const dst = new Uint8Array(4096);
    // A literals-only block: a token, then 15 + 255 + 255 … as length bytes, then the literals.
    const blockSize = (n: number) => 1 + (n < 15 ? 0 : 1 + Math.floor((n - 15) / 255)) + n;
    for (let room = 1; room <= 4096; room += room < 600 ? 1 : 97) {
      let most = 0;
      while (blockSize(most + 1) <= room) most++;
      const r = encoder.compress(data, 0, data.length, dst, room);
      assert.equal(r.consumed, most, `room ${room}`);
      assert.equal(r.written, blockSize(most));
      assert.ok(decodeLz4Block(dst.subarray(0, r.written), most).equals(data.subarray(0, most)));
    }
  });

  it('packs long runs near the format limit and never matches before the block start', () => {
    // A 1 MiB run of zeros: 4 KiB holds almost 255 × 4 KiB of it.
    const zeros = Buffer.alloc(1 << 20);
    const { sizes } = roundTrip(zeros, 4096);
    assert.equal(sizes.length, 2);
    assert.ok(sizes[0]! > 1_000_000);
    // The second block starts fresh: its first bytes cannot refer to the first block.
    const data = Buffer.concat([text(20_000, 8), text(20_000, 8)]);
    roundTrip(data, 4096);
  });

  it('ends a block that holds all the input with its last match 12 bytes before the end at least', () => {
    // Small text whose block ends with the input, not with the room: the matches chosen near the
    // end were once moved past that limit (the kernel then fails to decompress the cluster).
    for (const encoder of [new Lz4FixedOutputEncoder(64), new Lz4FixedOutputEncoder(), new Lz4OptimalEncoder()]) {
      for (let seed = 1; seed <= 60; seed++) {
        for (const size of [100, 300, 1000]) roundTrip(text(size + (seed % 13), seed), 4096, encoder);
      }
    }
  });

  it('never refers more than 64 KiB back, also from inside a run (large clusters)', () => {
    // A copy of a run ending just over 64 KiB before the run: a search from inside the run once
    // measured the window from the run's start and took that copy (offset 65536 and more).
    const noise = (n: number, seed: number) => Buffer.from(pseudoRandom(n, seed).map((b) => b | 1));
    const head = noise(12, 1);
    const run = Buffer.concat([head, Buffer.alloc(8), Buffer.from('Q'), noise(16, 2)]);
    const nearCopy = Buffer.concat([head, Buffer.alloc(3), Buffer.from('Z')]);
    for (const extra of [0, 1, 2]) {
      const gap = noise(65536 + extra - run.length - nearCopy.length - 200, 4);
      const data = Buffer.concat([noise(500, 3), run, gap, nearCopy, noise(200, 5), run, noise(300, 6)]);
      roundTrip(data, 131072, new Lz4FixedOutputEncoder(64));
      roundTrip(data, 65536, new Lz4FixedOutputEncoder(64));
    }
  });

  it('gives the same bytes whatever was compressed before (no state leaks between blocks or buffers)', () => {
    const data = text(100_000, 3);
    const a = new Lz4FixedOutputEncoder();
    const b = new Lz4FixedOutputEncoder();
    b.compress(pseudoRandom(70_000, 1), 0, 70_000, new Uint8Array(4096), 4096);
    b.compress(data, 500, 90_000, new Uint8Array(4096), 4096);
    const da = new Uint8Array(4096);
    const db = new Uint8Array(4096);
    for (const start of [0, 7, 20_000]) {
      const copy = Buffer.from(data);
      const ra = a.compress(data, start, data.length, da, 4096);
      const rb = b.compress(copy, start, copy.length, db, 4096);
      assert.deepEqual(ra, rb);
      assert.ok(Buffer.from(da.subarray(0, ra.written)).equals(Buffer.from(db.subarray(0, rb.written))));
    }
  });
});

describe('LZ4 optimal-parse encoder', () => {
  const inputs: [string, Buffer][] = [
    ['random', pseudoRandom(30_000, 12)],
    ['zeros', Buffer.alloc(1 << 20)],
    ['text', text(120_000, 6)],
    ['short period', Buffer.from('abc'.repeat(20_000))],
    ['mixed', Buffer.concat([pseudoRandom(3000, 5), text(20_000, 2), Buffer.alloc(9000), pseudoRandom(4000, 5), text(9000, 2), Buffer.alloc(300, 7)])],
  ];
  for (const capacity of [4096, 16384]) {
    for (const [name, data] of inputs) {
      it(`round-trips ${name} data in ${capacity}-byte blocks`, () => {
        roundTrip(data, capacity, new Lz4OptimalEncoder(12));
      });
    }
  }

  it('holds more input per block than the greedy parse, on the whole', () => {
    // A heuristic (one path per position, the longest match's lengths), so not on every block.
    const greedy = new Lz4FixedOutputEncoder();
    const optimal = new Lz4OptimalEncoder(DEFAULT_ATTEMPTS);
    const dst = new Uint8Array(4096);
    let gained = 0;
    for (const [, data] of inputs) {
      for (const start of [0, 1000, 5000]) {
        gained += optimal.compress(data, start, data.length, dst, 4096).consumed - greedy.compress(data, start, data.length, dst, 4096).consumed;
      }
    }
    assert.ok(gained > 0, `the optimal parse held ${-gained} bytes less`);
  });

  it('gives the same bytes whatever was compressed before', () => {
    const data = text(60_000, 4);
    const a = new Lz4OptimalEncoder(12);
    const b = new Lz4OptimalEncoder(12);
    b.compress(pseudoRandom(50_000, 2), 0, 50_000, new Uint8Array(4096), 4096);
    const da = new Uint8Array(4096);
    const db = new Uint8Array(4096);
    for (const start of [0, 9, 30_000]) {
      const ra = a.compress(data, start, data.length, da, 4096);
      const rb = b.compress(data, start, data.length, db, 4096);
      assert.deepEqual(ra, rb);
      assert.ok(Buffer.from(da.subarray(0, ra.written)).equals(Buffer.from(db.subarray(0, rb.written))));
    }
  });
});

describe('LZ4 encoders: golden bytes', () => {
  // The blocks of a fixed input, hashed. They were first those of the TypeScript encoder the
  // WebAssembly one replaced (the same bytes, checked on the corpora): a change here changes
  // every erofs-lz4 image, so it must be deliberate.
  const data = Buffer.concat([text(150_000, 31), Buffer.alloc(40_000), pseudoRandom(20_000, 32), Buffer.alloc(3000, 0xaa), text(30_000, 33)]);
  const cases: [string, () => FixedOutputCompressor, number, string][] = [
    ['greedy', () => new Lz4FixedOutputEncoder(), 4096, '7b446b32b4f9b25553e770c34366d6cf6819332a7e97f048acb6c84dfdd4c974'],
    ['greedy', () => new Lz4FixedOutputEncoder(), 65536, 'd913ece8bee896691098041070c22d64ac618de3f8f3402f4d9a835a32f5eaae'],
    ['optimal', () => new Lz4OptimalEncoder(), 4096, '8ce0b9c243bd22b2efe01f7781641836a6d6af590b49f5e1532cb68e114d896b'],
    ['optimal', () => new Lz4OptimalEncoder(), 16384, 'ebc66a521b8448931e9f66f8809755bd851add94019adab320e35d762b964412'],
  ];
  for (const [name, make, capacity, expected] of cases) {
    it(`gives the pinned blocks: ${name} parse, ${capacity}-byte blocks`, () => {
      const encoder = make();
      const hash = createHash('sha256');
      const dst = new Uint8Array(capacity);
      for (let pos = 0; pos < data.length; ) {
        const r = encoder.compress(data, pos, data.length, dst, capacity);
        hash.update(`${r.consumed} `);
        hash.update(dst.subarray(0, r.written));
        pos += r.consumed;
      }
      assert.equal(hash.digest('hex'), expected);
    });
  }
});

describe('erofs-lz4 second pass', () => {
  const greedy = new ClusterPacker(new Lz4FixedOutputEncoder(LZ4_ATTEMPTS), clusterOptions(4096));
  const optimal = new ClusterPacker(new Lz4OptimalEncoder(), clusterOptions(4096));

  /** The clusters' input, decoded from their right-aligned (zero-padded) blocks. */
  function decodeClusters(packed: Buffer): Buffer {
    const { clusters, blocks } = unpackClusters(packed);
    const parts: Buffer[] = [];
    let at = 0;
    for (const c of clusters) {
      const data = blocks.subarray(at, at + c.blocks * 4096);
      at += c.blocks * 4096;
      if (!c.compressed) parts.push(data.subarray(0, c.length));
      else {
        let skip = 0;
        while (data[skip] === 0) skip++;
        parts.push(decodeLz4Block(data.subarray(skip), c.length));
      }
    }
    return Buffer.concat(parts);
  }

  // Input cut a few bytes past what the first three clusters hold: those bytes would take a raw
  // block of their own.
  const data = text(200_000, 21);
  const firstClusters = unpackClusters(greedy.pack(data)).clusters;
  const held = firstClusters.slice(0, 3).reduce((n, c) => n + c.length, 0);
  const piece = data.subarray(0, held + 8);

  it('packs the end of a piece again where a small raw remainder is left, and keeps the result with fewer blocks', () => {
    const once = unpackClusters(greedy.pack(piece));
    const last = once.clusters.at(-1)!;
    assert.ok(!last.compressed && last.length <= LZ4_SECOND_PASS.maxRemainder, 'no small raw remainder to absorb');
    const twice = packWithSecondPass(greedy, optimal, LZ4_SECOND_PASS, piece);
    assert.ok(unpackClusters(twice).blocks.length < once.blocks.length, 'the second pass saved no block');
    assert.ok(decodeClusters(twice).equals(piece));
  });

  it('keeps the clusters before the end, and packs only enough of them again', () => {
    // A long piece: the clusters far from the end are the first pass's, byte for byte.
    const long = data.subarray(0, firstClusters.slice(0, 12).reduce((n, c) => n + c.length, 0) + 8);
    const once = unpackClusters(greedy.pack(long));
    const twice = unpackClusters(packWithSecondPass(greedy, optimal, LZ4_SECOND_PASS, long));
    assert.ok(decodeClusters(packWithSecondPass(greedy, optimal, LZ4_SECOND_PASS, long)).equals(long));
    const repacked = Math.ceil(8 / LZ4_SECOND_PASS.gainPerCluster) + 1;
    const kept = once.clusters.length - 1 - repacked;
    assert.deepEqual(twice.clusters.slice(0, kept), once.clusters.slice(0, kept));
    assert.ok(twice.blocks.subarray(0, kept * 4096).equals(once.blocks.subarray(0, kept * 4096)));
  });

  it('leaves pieces alone whose remainder is not small', () => {
    const bigRemainder = data.subarray(0, held + 4000);
    assert.ok(packWithSecondPass(greedy, optimal, LZ4_SECOND_PASS, bigRemainder).equals(greedy.pack(bigRemainder)));
  });
});
