/**
 * Each codec's output is the raw stream format the kernel's squashfs decompressor expects, checked
 * by decoding it with an independent decoder and by reading the stream headers; the worker pool
 * and the ordered queue give the same bytes in the same order whatever the thread count and
 * timing, bound the work in flight, and stop on close.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { inflateSync } from 'node:zlib';
import { loadCodec, type CodecName } from '../src/compress/codec.js';
import { OrderedQueue } from '../src/compress/ordered.js';
import { CompressionPool } from '../src/compress/pool.js';
import { loadWasm } from '../src/compress/zstd.js';
import { pseudoRandom } from './helpers/corner-tree.js';
import { hasTool } from './helpers/system.js';

const require = createRequire(import.meta.url);
const BLOCK = 131072;
/** sha256 of the gzip codec's output for the inputs of the test that uses it (pako 3.0.3, level 6). */
const GZIP_DIGEST = '73ffc54d82cf056c4bee8c79b8ceb3e06fa4a3f52536a195a48cc47737763bda';
const text = Buffer.alloc(BLOCK);
for (let i = 0; i < BLOCK; i += 40) text.write(`line ${i} of a compressible block\n`, i);

describe('codecs', () => {
  it('gzip: a zlib stream (deflate, 32 KiB window, valid header check) that inflates back', async () => {
    const c = await loadCodec({ name: 'gzip', blockSize: BLOCK });
    const out = Buffer.from(c.compress(text));
    assert.equal(out[0], 0x78, 'CM=8 (deflate), CINFO=7 (32 KiB window)');
    assert.equal(out.readUInt16BE(0) % 31, 0, 'FCHECK');
    assert.ok(out.length < text.length / 10);
    assert.deepEqual(inflateSync(out), text);
  });

  it('gzip: the same bytes as ever (the encoder is pinned by the lockfile, not taken from Node)', async () => {
    // A new digest means every squashfs image changes: say so in the change that causes it.
    const c = await loadCodec({ name: 'gzip', blockSize: BLOCK });
    const mixed = Buffer.concat([text.subarray(0, BLOCK / 2), pseudoRandom(BLOCK / 4, 9), text.subarray(0, BLOCK / 4)]);
    const hash = createHash('sha256');
    for (const input of [text, mixed, pseudoRandom(BLOCK, 3), Buffer.alloc(0)]) hash.update(c.compress(input));
    assert.equal(hash.digest('hex'), GZIP_DIGEST);
  });

  it('zstd: one single-segment frame with the content size, so its window is the block', async () => {
    const c = await loadCodec({ name: 'zstd', blockSize: BLOCK });
    const out = Buffer.from(c.compress(text));
    assert.equal(out.readUInt32LE(0), 0xfd2fb528);
    assert.ok(out[4]! & 0x20, 'single-segment flag');
    await loadWasm('decoding'); // instantiates the WebAssembly module, which the native codec leaves alone
    const zstd = require('@bokuweb/zstd-wasm') as { decompress(b: Uint8Array): Uint8Array };
    assert.deepEqual(Buffer.from(zstd.decompress(out)), text);
  });

  it('zstd: loading the codec again in the same thread keeps the first one working', async () => {
    const a = await loadCodec({ name: 'zstd', blockSize: BLOCK });
    const before = Buffer.from(a.compress(text));
    await loadCodec({ name: 'zstd', blockSize: BLOCK });
    assert.deepEqual(Buffer.from(a.compress(text)), before);
  });

  it('xz: one .xz stream with a CRC32 check and an LZMA2 dictionary of the block size', { skip: hasTool('xz') ? undefined : 'needs xz (xz-utils)' }, async () => {
    const c = await loadCodec({ name: 'xz', blockSize: BLOCK });
    const out = Buffer.from(c.compress(text));
    assert.deepEqual(out.subarray(0, 6), Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]));
    assert.equal(out[7], 0x01, 'check type CRC32');
    // Block header: size byte, flags (one filter), filter id 0x21 (LZMA2), props size 1, dict byte.
    assert.equal(out[12 + 2], 0x21);
    const dictByte = out[12 + 4]!;
    const dict = (2 | (dictByte & 1)) << (dictByte / 2 + 11);
    assert.equal(dict, BLOCK);
    assert.deepEqual(execFileSync('xz', ['-dc'], { input: out }), text);
  });

  it('lz4: a raw block with no size prefix, which decodes to the input', async () => {
    const c = await loadCodec({ name: 'lz4', blockSize: BLOCK });
    const out = Buffer.from(c.compress(text));
    const lz4 = require('lz4-napi') as { uncompressSync(b: Buffer): Buffer };
    const prefixed = Buffer.concat([Buffer.from([0, 0, 2, 0]), out]); // lz4-napi's own framing: u32 size
    assert.deepEqual(lz4.uncompressSync(prefixed), text);
    assert.ok(out.length < BLOCK / 2);
  });

  for (const name of ['gzip', 'zstd', 'xz', 'lz4'] as CodecName[])
    it(`${name}: random data comes back larger or equal (the writer then stores it raw)`, async () => {
      const c = await loadCodec({ name, blockSize: BLOCK });
      assert.ok(c.compress(pseudoRandom(BLOCK, 5)).length >= BLOCK - 16);
    });
});

describe('compression pool', () => {
  const blocks = (n: number) => Array.from({ length: n }, (_, i) => (i % 3 ? text.subarray(0, 1000 + i * 997) : pseudoRandom(5000 + i, i + 1)));

  it('gives the same bytes as the codec, in submission order, on the main thread (0) or with 1 or 3 threads', async () => {
    const codec = await loadCodec({ name: 'gzip', blockSize: BLOCK });
    const expected = blocks(30).map((b) => {
      const c = Buffer.from(codec.compress(b));
      return c.length < b.length ? c.toString('hex') : `raw:${Buffer.from(b).toString('hex')}`;
    });
    for (const threads of [0, 1, 3]) {
      const pool = await CompressionPool.start({ name: 'gzip', blockSize: BLOCK }, threads);
      try {
        const got: string[] = [];
        const queue = new OrderedQueue<{ data: Buffer; compressed: boolean }>(4);
        for (const b of blocks(30)) await queue.add(pool.compress(Uint8Array.prototype.slice.call(b)), (r) => got.push(r.compressed ? r.data.toString('hex') : `raw:${r.data.toString('hex')}`));
        await queue.drain();
        assert.deepEqual(got, expected, `${threads} threads`);
      } finally {
        await pool.close();
      }
    }
  });

  for (const threads of [0, 1])
    it(`rejects pending blocks when closed, and later ones at once (${threads} threads)`, async () => {
      const pool = await CompressionPool.start({ name: 'xz', blockSize: BLOCK }, threads);
      const pending = Array.from({ length: 6 }, () => pool.compress(Buffer.from(text)).then(() => 'done', (e: Error) => e.message));
      await pool.close(new Error('stop'));
      assert.ok((await Promise.all(pending)).includes('stop'));
      await assert.rejects(pool.compress(Buffer.from(text)), /stop/);
    });
});

describe('ordered queue', () => {
  it('delivers in submission order whatever the completion order, with at most `limit` outstanding', async () => {
    const q = new OrderedQueue<number>(3);
    const delivered: number[] = [];
    let maxOutstanding = 0;
    for (let i = 0; i < 20; i++) {
      const delay = (i * 7) % 5;
      await q.add(new Promise((resolve) => setTimeout(() => resolve(i), delay)), (v) => delivered.push(v));
      maxOutstanding = Math.max(maxOutstanding, q.size);
    }
    await q.drain();
    assert.deepEqual(delivered, Array.from({ length: 20 }, (_, i) => i));
    assert.ok(maxOutstanding < 3);
  });

  it('bounds the weight outstanding, and the number of results whatever their weights', async () => {
    // Pieces of 100 "bytes" against a limit of 250: at most two wait; weightless writes in turn
    // pass freely, up to 5 results in all.
    const q = new OrderedQueue<number>(250, 5);
    const delivered: number[] = [];
    const never = new Promise<number>(() => undefined);
    await q.add(never, () => undefined, 100);
    await q.add(Promise.resolve(1), (v) => delivered.push(v), 0);
    await q.add(Promise.resolve(2), (v) => delivered.push(v), 0);
    await q.add(Promise.resolve(3), () => undefined, 100);
    assert.equal(q.size, 4);
    let fifth = false;
    void q.add(Promise.resolve(4), () => undefined, 0).then(() => (fifth = true));
    await new Promise((resolve) => setImmediate(resolve));
    // Weight 200 < 250, but 5 results: the fifth add waits for the head, which never comes.
    assert.equal(fifth, false);
    assert.deepEqual(delivered, []);
    const r = new OrderedQueue<number>(250, 100);
    await r.add(Promise.resolve(1), () => undefined, 100);
    await r.add(Promise.resolve(2), () => undefined, 100);
    assert.equal(r.size, 2);
    await r.add(Promise.resolve(3), () => undefined, 100);
    assert.equal(r.size, 2, 'the third piece (weight 300 >= 250) waits for the oldest');
  });

  it('reports a failure when its turn comes, without an unhandled rejection for later ones', async () => {
    const q = new OrderedQueue<number>(10);
    await q.add(Promise.resolve(1), () => undefined);
    await q.add(Promise.reject(new Error('bad block')), () => undefined);
    await q.add(Promise.reject(new Error('later')), () => undefined);
    await assert.rejects(q.drain(), /bad block/);
  });
});
