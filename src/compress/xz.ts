/**
 * xz as squashfs needs it: a complete .xz stream per block, with a CRC32 check (the kernel's
 * decoder rejects CRC64, xz's default) and an LZMA2 dictionary no larger than the block size (the
 * dictionary the kernel preallocates when the image has no compressor options). liblzma through
 * lzma-native (lzma-binding.ts says which build); its native stream is driven synchronously so
 * that one block is one call on the worker's own thread.
 */
import type { Codec, CodecSpec } from './codec.js';
import { lzmaBinding } from './lzma-binding.js';

export const XZ_DEFAULT_LEVEL = 6;

export function xzCodec(spec: CodecSpec): Codec {
  const { native: lzma, description } = lzmaBinding();
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
    description: `${description}: preset 6, ${spec.blockSize >> 10} KiB dictionary, CRC32`,
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
