/**
 * zstd through @bokuweb/zstd-wasm (the reference C library compiled to WebAssembly, shipped in
 * the npm package: no compiler, no download). A one-shot compression of a block of at most
 * `blockSize` bytes gives a single-segment frame whose window is the content size, within what the
 * kernel's decoder allows (max(block size, 8 KiB)). Level 15 by default, as mksquashfs.
 */
import { createRequire } from 'node:module';
import { dependencyVersion } from '../util/version.js';
import type { Codec, CodecSpec } from './codec.js';

export const ZSTD_DEFAULT_LEVEL = 15;

export interface ZstdWasm {
  init(): Promise<void>;
  compress(buf: Uint8Array, level?: number): Uint8Array;
  createCCtx(): number;
  compressUsingDict(cctx: number, buf: Uint8Array, dict: Uint8Array, level?: number): Uint8Array;
}

const require = createRequire(import.meta.url);

/** Instantiated once per thread: a second init() replaces the module under the first's feet. */
let ready: Promise<ZstdWasm> | undefined;

/** The module, instantiated on first use in this thread (also used by EROFS's fixed-output zstd). */
export function zstdWasm(): Promise<ZstdWasm> {
  ready ??= (async () => {
    const zstd = require('@bokuweb/zstd-wasm') as ZstdWasm;
    await zstd.init();
    return zstd;
  })();
  return ready;
}

export async function zstdCodec(spec: CodecSpec): Promise<Codec> {
  const zstd = await zstdWasm();
  const level = spec.level ?? ZSTD_DEFAULT_LEVEL;
  const version = dependencyVersion('@bokuweb/zstd-wasm');
  return {
    spec,
    description: `@bokuweb/zstd-wasm ${version} level ${level}`,
    // The library returns a view into its WebAssembly memory, which the next call overwrites.
    compress: (input) => Buffer.from(zstd.compress(input, level)),
  };
}
