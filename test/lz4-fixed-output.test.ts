/**
 * The LZ4 fixed-output ("destSize") encoder: every block decodes (with a strict decoder and with
 * lz4-napi's, an independent implementation) to exactly the input prefix it claims, fits the
 * capacity, follows the end-of-block rules, and holds as much input as expected on inputs whose
 * best encoding is known.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { lastLiteralsFitting, lastLiteralsSize, sequenceSize, writeLastLiterals, writeSequence } from '../src/compress/lz4/block.js';
import { Lz4FixedOutputEncoder } from '../src/compress/lz4/fixed-output.js';
import { pseudoRandom } from './helpers/corner-tree.js';
import { decodeLz4Block } from './erofs-helpers.js';

const lz4napi = createRequire(import.meta.url)('lz4-napi') as { uncompressSync(data: Uint8Array): Buffer };

/** lz4-napi reads a u32 size prefix before the raw block. */
function napiDecode(block: Uint8Array, size: number): Buffer {
  const framed = Buffer.alloc(4 + block.length);
  framed.writeUInt32LE(size, 0);
  framed.set(block, 4);
  return lz4napi.uncompressSync(framed);
}

function text(size: number, seed: number): Buffer {
  const words = ['erofs', 'squashfs', 'cluster', 'block', 'inode', 'the', 'of', 'a', 'kernel', 'extent', '\n', ' = ', '0x', 'return'];
  const out = Buffer.alloc(size);
  let x = seed;
  for (let i = 0; i < size; ) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    i += out.write(words[(x >>> 16) % words.length]! + ' ', i);
  }
  return out;
}

/** Compresses `data` into consecutive blocks of `capacity`, checking each one. */
function roundTrip(data: Buffer, capacity: number, encoder = new Lz4FixedOutputEncoder()): { blocks: number; sizes: number[] } {
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

describe('LZ4 block format', () => {
  it('writes tokens, length extensions, offsets and final literals as the format defines', () => {
    const src = Buffer.from('abcdefghijklmnopqrstuvwxyz');
    const dst = new Uint8Array(64);
    // 3 literals, offset 2, match of 4: token 0x30, "abc", 02 00.
    assert.deepEqual([...dst.subarray(0, writeSequence(dst, 0, src, 0, 3, 2, 4))], [0x30, 0x61, 0x62, 0x63, 0x02, 0x00]);
    // 15 literals: token F, then 0 extra; match 4 + 15 = 19: low nibble F, then 0 extra.
    const n = writeSequence(dst, 0, src, 0, 15, 1, 19);
    assert.deepEqual([...dst.subarray(0, n)], [0xff, 0x00, ...src.subarray(0, 15), 0x01, 0x00, 0x00]);
    assert.equal(n, sequenceSize(15, 19));
    // 270 literals: 15 + 255 → F, FF, 00.
    assert.equal(lastLiteralsSize(270), 1 + 2 + 270);
    assert.equal(lastLiteralsSize(14), 15);
    const big = Buffer.alloc(300, 0x41);
    const out = new Uint8Array(400);
    const m = writeLastLiterals(out, 0, big, 0, 270);
    assert.deepEqual([...out.subarray(0, 3)], [0xf0, 0xff, 0x00]);
    assert.equal(m, 273);
  });

  it('fits the most literals a room holds', () => {
    for (let room = 1; room < 1200; room++) {
      const n = lastLiteralsFitting(room);
      assert.ok(lastLiteralsSize(n) <= room);
      assert.ok(lastLiteralsSize(n + 1) > room);
    }
  });
});

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
    const r = new Lz4FixedOutputEncoder().compress(data, 0, data.length, new Uint8Array(4096), 4096);
    // 4096 = token + 16 length bytes (15 + 255 × 15 + …) + literals.
    assert.equal(r.written, 4096);
    assert.equal(r.consumed, lastLiteralsFitting(4096));
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
