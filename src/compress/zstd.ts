/**
 * zstd, from one of two builds of libzstd that give the same bytes (tested block by block and
 * image by image in test/zstd-native.test.ts; a change to either's version in package-lock.json
 * must keep those tests passing):
 * - zstd-napi (an npm optional dependency whose install script compiles its bundled libzstd with
 *   node-gyp), in about half the CPU time; used when it is installed and loads;
 * - @bokuweb/zstd-wasm (compiled to WebAssembly, shipped in the package: no compiler), otherwise.
 * `AVOCADO_ZSTD=wasm` forces the WebAssembly build, `AVOCADO_ZSTD=native` requires the native one.
 * Both make the same C calls: ZSTD_compress for squashfs blocks (native: ZSTD_compressCCtx on a
 * reused context, which is what ZSTD_compress runs), ZSTD_compress_usingDict with no dictionary
 * for EROFS's fixed-output trials. A one-shot compression of a block of at most `blockSize` bytes
 * gives a single-segment frame whose window is the content size, within what the kernel's decoder
 * allows (max(block size, 8 KiB)). Level 15 by default, as mksquashfs.
 */
import { createRequire } from 'node:module';
import { dependencyVersion } from '../util/version.js';
import type { Codec, CodecSpec } from './codec.js';

export const ZSTD_DEFAULT_LEVEL = 15;

/** One thread's zstd: frames are owned copies, valid after the next call. */
export interface ZstdLibrary {
  /** e.g. "zstd-napi 0.0.13 (libzstd 1.5.7, native)". */
  readonly description: string;
  /** ZSTD_compress's frame. */
  compress(input: Uint8Array, level: number): Uint8Array;
  /** ZSTD_compress_usingDict with no dictionary (erofs-utils' call), on a context reused for every call. */
  compressNoDict(input: Uint8Array, level: number): Uint8Array;
}

interface ZstdWasm {
  init(): Promise<void>;
  compress(buf: Uint8Array, level?: number): Uint8Array;
  decompress(buf: Uint8Array, opts?: { defaultHeapSize?: number }): Uint8Array;
  createCCtx(): number;
  compressUsingDict(cctx: number, buf: Uint8Array, dict: Uint8Array, level?: number): Uint8Array;
}

interface ZstdNapiBinding {
  versionString(): string;
  compressBound(size: number): number;
  CCtx: new () => {
    compress(dst: Uint8Array, src: Uint8Array, level: number): number;
    compressUsingDict(dst: Uint8Array, src: Uint8Array, dict: Uint8Array, level: number): number;
  };
}

const require = createRequire(import.meta.url);
const NO_DICTIONARY = new Uint8Array(0);
export const ZSTD_ENV = 'AVOCADO_ZSTD';
export type ZstdChoice = 'auto' | 'native' | 'wasm';

/** `AVOCADO_ZSTD`: unset or empty = auto. */
export function zstdChoice(env: NodeJS.ProcessEnv = process.env): ZstdChoice {
  const v = env[ZSTD_ENV] ?? '';
  if (v === '' || v === 'auto') return 'auto';
  if (v === 'native' || v === 'wasm') return v;
  throw new Error(`${ZSTD_ENV}=${v}: expected native, wasm or auto`);
}

/** Per thread, one library per choice (`AVOCADO_ZSTD` is read on each call, so tests can switch it). */
const loaded = new Map<ZstdChoice, Promise<ZstdLibrary>>();

/** This thread's zstd (also used by EROFS's fixed-output zstd), chosen by `AVOCADO_ZSTD`. */
export async function zstdLibrary(): Promise<ZstdLibrary> {
  const choice = zstdChoice();
  let library = loaded.get(choice);
  if (!library) loaded.set(choice, (library = chooseLibrary(choice)));
  return library;
}

async function chooseLibrary(choice: ZstdChoice): Promise<ZstdLibrary> {
  if (choice === 'wasm') return loadWasm(`${ZSTD_ENV}=wasm`);
  let native: ZstdLibrary;
  try {
    native = loadNative();
  } catch (e) {
    const why = nativeFailure(e as NodeJS.ErrnoException);
    if (choice === 'native') throw new Error(`${ZSTD_ENV}=native, but ${why}`);
    return loadWasm(why);
  }
  return native;
}

function nativeFailure(e: NodeJS.ErrnoException): string {
  if (e.code === 'MODULE_NOT_FOUND' && /'zstd-napi\/binding'/.test(e.message)) return 'zstd-napi is not installed';
  if (e.code === 'MODULE_NOT_FOUND') return 'zstd-napi is installed but not built (`npm rebuild zstd-napi` builds it)';
  return `zstd-napi does not load (${e.message.split('\n')[0]})`;
}

/** Loads a separate instance (exported for the tests, which compare it with the native one). */
export function loadNative(): ZstdLibrary {
  const binding = require('zstd-napi/binding') as ZstdNapiBinding;
  const version = dependencyVersion('zstd-napi');
  const cctx = new binding.CCtx();
  let scratch = Buffer.alloc(0);
  const room = (n: number) => {
    const bound = binding.compressBound(n);
    if (scratch.length < bound) scratch = Buffer.allocUnsafe(bound);
    return scratch;
  };
  return {
    description: `zstd-napi ${version} (libzstd ${binding.versionString()}, native)`,
    compress: (input, level) => {
      const dst = room(input.length);
      return Buffer.from(dst.subarray(0, cctx.compress(dst, input, level)));
    },
    compressNoDict: (input, level) => {
      const dst = room(input.length);
      return Buffer.from(dst.subarray(0, cctx.compressUsingDict(dst, input, NO_DICTIONARY, level)));
    },
  };
}

/** Instantiated once per thread: a second init() replaces the module under the first's feet. */
let wasmModule: Promise<ZstdWasm> | undefined;

/** The WebAssembly module itself, instantiated once per thread (the image readers decompress with it). */
export function zstdWasmModule(): Promise<ZstdWasm> {
  wasmModule ??= (async () => {
    const zstd = require('@bokuweb/zstd-wasm') as ZstdWasm;
    await zstd.init();
    return zstd;
  })();
  return wasmModule;
}

/** The WebAssembly build (exported for the tests); `why` says why it, not the native one, runs. */
export async function loadWasm(why: string): Promise<ZstdLibrary> {
  const zstd = await zstdWasmModule();
  const version = dependencyVersion('@bokuweb/zstd-wasm');
  const cctx = zstd.createCCtx();
  return {
    description: `@bokuweb/zstd-wasm ${version} (WebAssembly: ${why})`,
    // Both return copies out of the WebAssembly memory.
    compress: (input, level) => zstd.compress(input, level),
    compressNoDict: (input, level) => zstd.compressUsingDict(cctx, input, NO_DICTIONARY, level),
  };
}

export async function zstdCodec(spec: CodecSpec): Promise<Codec> {
  const zstd = await zstdLibrary();
  const level = spec.level ?? ZSTD_DEFAULT_LEVEL;
  return {
    spec,
    description: `${zstd.description}, level ${level}`,
    compress: (input) => zstd.compress(input, level),
  };
}
