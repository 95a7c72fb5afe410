#!/usr/bin/env node
/*
 * postinstall: rebuild lzma-native's liblzma with optimisation. Its prebuilt binary compiles
 * liblzma 5.2.3 without -O2 (the package's build sets CFLAGS=-fPIC alone), which makes xz
 * twice as slow as it need be. The same sources compiled here with -O2 give the same bytes
 * (checked below on a sample before the build is kept, and by test/xz-native.test.ts).
 *
 * Never fails the install: without a compiler, node-gyp or time, or if the bytes differ, the
 * prebuilt binary stays in use and one line says why. AVOCADO_XZ_BUILD=0 skips it.
 * Plain CommonJS with no dependencies: it runs before anything is compiled.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, rmSync, writeFileSync } = require('node:fs');
const { dirname, join } = require('node:path');

/** Written beside the binary once it is built and checked: what src/compress/xz.ts reports. */
const MARKER = 'avocado-optimised.json';
const TIMEOUT_MS = 300_000;

function say(line) {
  process.stderr.write(`avocado-ext: ${line}\n`);
}

function main() {
  if (process.env.AVOCADO_XZ_BUILD === '0') return say('AVOCADO_XZ_BUILD=0: xz keeps lzma-native\'s prebuilt liblzma');
  let dir;
  try {
    dir = dirname(require.resolve('lzma-native/package.json', { paths: [join(__dirname, '..')] }));
  } catch {
    return; // not installed (yet): nothing to do
  }
  const built = join(dir, 'build', 'Release', 'lzma_native.node');
  if (existsSync(join(dir, 'build', 'Release', MARKER)) && existsSync(built)) return;
  const gyp = process.env.npm_config_node_gyp;
  if (!gyp || !existsSync(gyp)) return say('xz keeps lzma-native\'s prebuilt liblzma (unoptimised, half the speed): node-gyp not found (run under npm)');
  say('building lzma-native\'s liblzma with -O2 for xz (about 30 s; AVOCADO_XZ_BUILD=0 skips it)');
  const env = { ...process.env, CFLAGS: `-O2 ${process.env.CFLAGS ?? ''}`.trim() };
  const r = spawnSync(process.execPath, [gyp, 'rebuild'], { cwd: dir, env, encoding: 'utf8', timeout: TIMEOUT_MS, maxBuffer: 64 << 20 });
  if (r.status !== 0 || !existsSync(built)) {
    rmSync(join(dir, 'build'), { recursive: true, force: true });
    const last = `${r.stderr ?? ''}${r.stdout ?? ''}`.trim().split('\n').filter((l) => /error|not found/i.test(l)).pop();
    return say(`xz keeps lzma-native's prebuilt liblzma (unoptimised): the build failed${r.error ? ` (${r.error.message})` : ''}${last ? `: ${last.trim()}` : ''}`);
  }
  const prebuilt = join(dir, 'prebuilds', `${process.platform}-${process.arch}`, 'node.napi.node');
  if (existsSync(prebuilt)) {
    const check = spawnSync(process.execPath, ['-e', SAME_BYTES, prebuilt, built], { encoding: 'utf8', timeout: 60_000 });
    if (check.status !== 0) {
      rmSync(join(dir, 'build'), { recursive: true, force: true });
      return say(`xz keeps lzma-native's prebuilt liblzma: the optimised build gives other bytes (${(check.stderr || check.stdout).trim().split('\n')[0]})`);
    }
  }
  writeFileSync(join(dir, 'build', 'Release', MARKER), `${JSON.stringify({ cflags: env.CFLAGS, comparedWith: existsSync(prebuilt) ? prebuilt : null })}\n`);
  say('xz: lzma-native\'s liblzma rebuilt with -O2 (same bytes as the prebuilt one)');
}

/** Compresses a sample with both binaries as squashfs-xz does; exits 1 if the streams differ. */
const SAME_BYTES = `
const [a, b] = process.argv.slice(1).map((p) => require(p));
const sample = Buffer.alloc(262144);
let x = 12345;
for (let i = 0; i < sample.length; i++) { x = (x * 1103515245 + 12345) >>> 0; sample[i] = i % 3 ? 97 + ((x >>> 16) % 7) : x >>> 24; }
const xz = (n, block) => {
  const s = new n.Stream();
  const filters = [{ id: n.FILTER_LZMA2, options: { dictSize: 131072, lc: 3, lp: 0, pb: 2, mode: n.MODE_NORMAL, niceLen: 64, mf: n.MF_BT4, depth: 0 } }];
  if (s.streamEncoder_(filters, n.CHECK_CRC32) !== 0) throw new Error('encoder set-up failed');
  s.setBufsize(block.length + 4096);
  const out = [];
  s.bufferHandler = (buf) => { if (buf) out.push(buf); };
  s.code(block, false);
  s.code(null, false);
  return Buffer.concat(out);
};
for (let at = 0; at < sample.length; at += 65536) {
  const block = sample.subarray(at, at + 131072);
  if (!xz(a, block).equals(xz(b, block))) { console.error('streams differ at sample offset ' + at); process.exit(1); }
}
`;

try {
  main();
} catch (e) {
  say(`xz keeps lzma-native's prebuilt liblzma: ${e instanceof Error ? e.message : String(e)}`);
}
