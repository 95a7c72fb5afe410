/**
 * "gzip" as squashfs means it: a zlib stream (RFC 1950 header and Adler-32), which the kernel
 * inflates with zlib_inflate whatever compressor produced it. pako is zlib's deflate ported to
 * JavaScript and pinned by our lockfile, so no Node version or CPU feature can change its bytes
 * (Node's bundled zlib is Chromium's fork, whose output is allowed to differ by CPU and release;
 * test/compress-codecs pins pako's). Level 6, zlib's default: level 9 (mksquashfs's default)
 * makes streams 0.5–1 % smaller in 5–13 times the time (README, Measurements). Decoders need no
 * compressor options for it, so the image carries none.
 */
import { deflate } from 'pako';
import { dependencyVersion } from '../util/version.js';
import type { Codec, CodecSpec } from './codec.js';

export const GZIP_DEFAULT_LEVEL = 6;

export function gzipCodec(spec: CodecSpec): Codec {
  const level = spec.level ?? GZIP_DEFAULT_LEVEL;
  return {
    spec,
    description: `pako ${dependencyVersion('pako')}, zlib level ${level}`,
    compress: (input) => deflate(input, { level, windowBits: 15, memLevel: 8 }),
  };
}
