/**
 * xz as squashfs needs it: a complete .xz stream per block, with a CRC32 check (the kernel's
 * decoder rejects CRC64, xz's default) and an LZMA2 dictionary no larger than the block size (the
 * dictionary the kernel preallocates when the image has no compressor options). liblzma through
 * lzma-native, whose npm package ships prebuilt binaries for common platforms; its native stream
 * is driven synchronously so that one block is one call on the worker's own thread.
 */
import { createRequire } from 'node:module';
import type { Codec, CodecSpec } from './codec.js';

interface LzmaStream {
  streamEncoder_(filters: unknown[], check: number): number;
  setBufsize(size: number): number;
  code(chunk: Buffer | null, async: boolean): void;
  bufferHandler: (buf: Buffer | null, processed: unknown, err: unknown) => void;
}

interface LzmaNative {
  Stream: new () => LzmaStream;
  FILTER_LZMA2: number;
  CHECK_CRC32: number;
  MODE_NORMAL: number;
  MF_BT4: number;
  version: string;
}

const require = createRequire(import.meta.url);

export const XZ_DEFAULT_LEVEL = 6;

export function xzCodec(spec: CodecSpec): Codec {
  const lzma = require('lzma-native') as LzmaNative;
  if ((spec.level ?? XZ_DEFAULT_LEVEL) !== XZ_DEFAULT_LEVEL) throw new Error('xz: only the default preset (6) is supported');
  // Preset 6 field by field: lzma-native applies a preset after the fields, which would bring
  // back the preset's 8 MiB dictionary.
  const filters = [
    {
      id: lzma.FILTER_LZMA2,
      options: { dictSize: spec.blockSize, lc: 3, lp: 0, pb: 2, mode: lzma.MODE_NORMAL, niceLen: 64, mf: lzma.MF_BT4, depth: 0 },
    },
  ];
  return {
    spec,
    description: `lzma-native ${lzma.version} (liblzma preset 6, ${spec.blockSize >> 10} KiB dictionary, CRC32)`,
    compress: (input) => {
      const stream = new lzma.Stream();
      const ret = stream.streamEncoder_(filters, lzma.CHECK_CRC32);
      if (ret !== 0) throw new Error(`xz: cannot set up the encoder (liblzma error ${ret})`);
      stream.setBufsize(input.length + 4096);
      const out: Buffer[] = [];
      let error: unknown;
      stream.bufferHandler = (buf, _processed, err) => {
        if (err) error = err;
        else if (buf) out.push(buf);
      };
      stream.code(Buffer.from(input.buffer, input.byteOffset, input.byteLength), false);
      stream.code(null, false);
      if (error) throw error instanceof Error ? error : new Error(`xz: ${String(error)}`);
      return out.length === 1 ? out[0]! : Buffer.concat(out);
    },
  };
}
