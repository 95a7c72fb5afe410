/**
 * Block decompressors for the readers: one call per block, the output capped at what the block
 * may hold (`limit`), so that a hostile block cannot make us allocate more than the format allows.
 * They throw plain errors; the reader names the structure and offset. gzip is node:zlib; xz is
 * liblzma through lzma-native (the xz encoder's library); lz4 is lz4-napi (lz4_flex); zstd is
 * @bokuweb/zstd-wasm, whose frame header we check first since it allocates what the header claims.
 */
import { createRequire } from 'node:module';
import { inflateSync } from 'node:zlib';
import { lzmaBinding } from './lzma-binding.js';
import { zstdWasmModule } from './zstd.js';

export type BlockDecompressor = (input: Buffer, limit: number) => Buffer;
export type DecompressorName = 'gzip' | 'xz' | 'lz4' | 'zstd';

const require = createRequire(import.meta.url);

export async function blockDecompressor(name: DecompressorName): Promise<BlockDecompressor> {
  switch (name) {
    case 'gzip':
      return (input, limit) => inflateSync(input, { maxOutputLength: Math.max(limit, 1) });
    case 'xz':
      return xzDecompressor();
    case 'lz4':
      return lz4Decompressor();
    case 'zstd': {
      const zstd = await zstdWasmModule();
      return (input, limit) => {
        const size = zstdFrameContentSize(input);
        if (size !== undefined && size > limit) throw new Error(`zstd frame says ${size} bytes, more than ${limit}`);
        return Buffer.from(zstd.decompress(input, { defaultHeapSize: limit }));
      };
    }
  }
}

/** The content size a zstd frame header declares, if it declares one (RFC 8878, 3.1.1.1). */
export function zstdFrameContentSize(b: Buffer): number | undefined {
  if (b.length < 6 || b.readUInt32LE(0) !== 0xfd2fb528) throw new Error('not a zstd frame (bad magic)');
  const fhd = b[4]!;
  const fcsFlag = fhd >> 6;
  const singleSegment = (fhd >> 5) & 1;
  const dictBytes = [0, 1, 2, 4][fhd & 3]!;
  const fcsBytes = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag]!;
  const at = 5 + (singleSegment ? 0 : 1) + dictBytes;
  if (at + fcsBytes > b.length) throw new Error('zstd frame header truncated');
  switch (fcsBytes) {
    case 0:
      return undefined;
    case 1:
      return b[at]!;
    case 2:
      return b.readUInt16LE(at) + 256;
    case 4:
      return b.readUInt32LE(at);
    default:
      return Number(b.readBigUInt64LE(at));
  }
}

function xzDecompressor(): BlockDecompressor {
  const lzma = lzmaBinding().native;
  return (input, limit) => {
    const stream = new lzma.Stream();
    // A memory limit for the dictionary: squashfs's is at most the block size (1 MiB), plus slack.
    const ret = stream.streamDecoder_(64 << 20, 0);
    if (ret !== 0) throw new Error(`xz: cannot set up the decoder (liblzma error ${ret})`);
    stream.setBufsize(Math.max(limit, 4096));
    const out: Buffer[] = [];
    let total = 0;
    let error: unknown;
    stream.bufferHandler = (buf, _processed, err) => {
      if (err) error ??= err;
      else if (buf) {
        total += buf.length;
        if (total > limit) error ??= new Error(`xz stream holds more than ${limit} bytes`);
        else out.push(buf);
      }
    };
    stream.code(input, false);
    stream.code(null, false);
    if (error) throw error instanceof Error ? error : new Error(`xz: ${String(error)}`);
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  };
}

function lz4Decompressor(): BlockDecompressor {
  const lz4 = require('lz4-napi') as { uncompressSync(data: Uint8Array): Buffer };
  return (input, limit) => {
    // lz4-napi wants lz4_flex's size prefix: the most the block may decompress to.
    const prefixed = Buffer.allocUnsafe(4 + input.length);
    prefixed.writeUInt32LE(limit, 0);
    input.copy(prefixed, 4);
    return lz4.uncompressSync(prefixed);
  };
}
