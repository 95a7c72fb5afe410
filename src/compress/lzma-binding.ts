/**
 * liblzma for xz, from lzma-native: its native module is loaded directly (not through the
 * package's stream wrapper), from one of two builds of the same liblzma 5.2.3 sources that give
 * the same bytes (test/xz-native.test.ts; scripts/optimise-xz.cjs checks a sample before it keeps
 * a build):
 * - build/Release, compiled at install with -O2 by our postinstall: twice as fast;
 * - the package's prebuilt binary for this platform (compiled without optimisation), otherwise.
 * `AVOCADO_XZ=prebuilt` or `=built` forces one (the tests compare them).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { dependencyVersion } from '../util/version.js';

export interface LzmaStream {
  streamEncoder_(filters: unknown[], check: number): number;
  streamDecoder_(memlimit: number | null, flags: number): number;
  setBufsize(size: number): number;
  code(chunk: Buffer | null, async: boolean): void;
  bufferHandler: (buf: Buffer | null, processed: unknown, err: unknown) => void;
}

export interface LzmaNative {
  Stream: new () => LzmaStream;
  FILTER_LZMA2: number;
  CHECK_CRC32: number;
  MODE_NORMAL: number;
  MF_BT4: number;
  versionString(): string;
}

export const XZ_ENV = 'AVOCADO_XZ';
export type XzChoice = 'auto' | 'prebuilt' | 'built';

const require = createRequire(import.meta.url);
/** Written by scripts/optimise-xz.cjs beside a build it made and checked. */
const MARKER = 'avocado-optimised.json';

export function xzChoice(env: NodeJS.ProcessEnv = process.env): XzChoice {
  const v = env[XZ_ENV] ?? '';
  if (v === '' || v === 'auto') return 'auto';
  if (v === 'prebuilt' || v === 'built') return v;
  throw new Error(`${XZ_ENV}=${v}: expected built, prebuilt or auto`);
}

let cached: { choice: XzChoice; binding: { native: LzmaNative; description: string } } | undefined;

/** This thread's liblzma, chosen by `AVOCADO_XZ`, and a description of which it is. */
export function lzmaBinding(): { native: LzmaNative; description: string } {
  const choice = xzChoice();
  if (cached?.choice === choice) return cached.binding;
  const dir = dirname(require.resolve('lzma-native/package.json'));
  const version = dependencyVersion('lzma-native');
  const built = join(dir, 'build', 'Release', 'lzma_native.node');
  const prebuilt = join(dir, 'prebuilds', `${process.platform}-${process.arch}`, 'node.napi.node');
  const load = (path: string, how: string) => {
    const native = require(path) as LzmaNative;
    return { native, description: `lzma-native ${version} (liblzma ${native.versionString()}, ${how})` };
  };
  let binding: { native: LzmaNative; description: string };
  if (choice === 'built') {
    if (!existsSync(built)) throw new Error(`${XZ_ENV}=built, but lzma-native was not compiled at install (${built} is missing)`);
    binding = load(built, builtHow(built));
  } else if (choice === 'prebuilt') {
    if (!existsSync(prebuilt)) throw new Error(`${XZ_ENV}=prebuilt, but lzma-native has no prebuilt binary for ${process.platform}-${process.arch}`);
    binding = load(prebuilt, 'its prebuilt binary, unoptimised');
  } else if (existsSync(built)) binding = load(built, builtHow(built));
  else if (existsSync(prebuilt)) binding = load(prebuilt, 'its prebuilt binary, unoptimised: no compiler at install, or AVOCADO_XZ_BUILD=0');
  else binding = { native: require('lzma-native') as LzmaNative, description: `lzma-native ${version}` };
  cached = { choice, binding };
  return binding;
}

function builtHow(built: string): string {
  try {
    const marker = JSON.parse(readFileSync(join(dirname(built), MARKER), 'utf8')) as { cflags?: string };
    return `compiled at install with ${marker.cflags ?? '-O2'}`;
  } catch {
    return 'compiled at install';
  }
}
