/**
 * "gzip" as squashfs means it: a zlib stream (RFC 1950 header and Adler-32), which the kernel
 * inflates with zlib_inflate whatever compressor produced it. libdeflate (compiled to
 * WebAssembly, shipped in the `libdeflate` npm package) at level 7 writes smaller streams than
 * zlib's level 9 — mksquashfs's default — in about a tenth of the time (bench/RESULTS-squashfs.md).
 * Decoders need no compressor options for it, so the image carries none.
 */
import { zlib as libdeflateZlib } from 'libdeflate';
import { packageVersion, type Codec, type CodecSpec } from './codec.js';

export const GZIP_DEFAULT_LEVEL = 7;

export function gzipCodec(spec: CodecSpec): Codec {
  const level = spec.level ?? GZIP_DEFAULT_LEVEL;
  return {
    spec,
    description: `libdeflate ${packageVersion('libdeflate')} (WebAssembly) level ${level}`,
    compress: (input) => libdeflateZlib(input, level),
  };
}
