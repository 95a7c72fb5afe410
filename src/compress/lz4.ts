/**
 * LZ4 raw blocks (no frame, no size prefix), which is what the kernel's LZ4_decompress_safe
 * reads. lz4-napi (lz4_flex in Rust, prebuilt per platform in npm optional dependencies) prefixes
 * its output with the uncompressed size as a u32; we drop those four bytes.
 */
import { createRequire } from 'node:module';
import { dependencyVersion } from '../util/version.js';
import type { Codec, CodecSpec } from './codec.js';

interface Lz4Napi {
  compressSync(data: Buffer): Buffer;
}

const require = createRequire(import.meta.url);
const SIZE_PREFIX = 4;

export function lz4Codec(spec: CodecSpec): Codec {
  const lz4 = require('lz4-napi') as Lz4Napi;
  const version = dependencyVersion('lz4-napi');
  return {
    spec,
    description: `lz4-napi ${version}`,
    compress: (input) => {
      const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
      return lz4.compressSync(buf).subarray(SIZE_PREFIX);
    },
  };
}
