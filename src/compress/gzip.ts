/**
 * "gzip" as squashfs means it: a zlib stream (RFC 1950 header and Adler-32), which the kernel
 * inflates with zlib_inflate. Node's built-in zlib, level 9 and a 32 KiB window by default, as
 * mksquashfs.
 */
import { deflateSync } from 'node:zlib';
import type { Codec, CodecSpec } from './codec.js';

export const GZIP_DEFAULT_LEVEL = 9;

export function gzipCodec(spec: CodecSpec): Codec {
  const level = spec.level ?? GZIP_DEFAULT_LEVEL;
  return {
    spec,
    description: `node:zlib ${process.versions.zlib} level ${level}`,
    compress: (input) => deflateSync(input, { level, windowBits: 15, memLevel: 8 }),
  };
}
