/**
 * Peak memory of the native writers against the size of one file: a tree holding a single sparse
 * file of 1, 10 and 20 GiB (holes read as zeros; a few 64 KiB ranges of seeded random bytes and a
 * text tail mark where data sits), built by every filesystem value, each build a separate
 * process measured by /usr/bin/time. Flat figures mean memory does not grow with file size.
 *
 *   npm run build && flock /tmp/avocado-bench.lock node dist/bench/big-file-memory.js
 *       [--sizes 1,10,20] [--filesystems erofs,erofs-lz4,erofs-lz4-64k,erofs-zst,squashfs,squashfs-zst]
 *       [--runs 1] [--work /var/tmp/avocado-bench/big-file] [--verify]
 *
 * With --runs N, the wall time and peak RSS are medians of N builds. --verify (root): loop-mounts
 * each image and compares the file with its source, every byte.
 */
import { closeSync, mkdirSync, openSync, readSync, rmSync, writeSync, ftruncateSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { machineLine, mb, median, timed, type Run } from './harness.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1,10,20' },
    filesystems: { type: 'string', default: 'erofs,erofs-lz4,erofs-lz4-64k,erofs-zst,squashfs,squashfs-zst' },
    work: { type: 'string', default: '/var/tmp/avocado-bench/big-file' },
    runs: { type: 'string', default: '1' },
    verify: { type: 'boolean', default: false },
  },
});

const EROFS_BUILD = fileURLToPath(new URL('./erofs-build.js', import.meta.url));
const SQUASHFS_BUILD = fileURLToPath(new URL('./squashfs-build.js', import.meta.url));

/** How each filesystem value is built: the build script and its arguments after SYSROOT IMAGE. */
const BUILDS: Record<string, { readonly script: string; readonly args: string[]; readonly fstype: 'erofs' | 'squashfs' }> = {
  erofs: { script: EROFS_BUILD, args: ['none'], fstype: 'erofs' },
  'erofs-lz4': { script: EROFS_BUILD, args: ['lz4hc', '4096'], fstype: 'erofs' },
  'erofs-lz4-64k': { script: EROFS_BUILD, args: ['lz4hc', '65536'], fstype: 'erofs' },
  'erofs-zst': { script: EROFS_BUILD, args: ['zstd', '4096'], fstype: 'erofs' },
  squashfs: { script: SQUASHFS_BUILD, args: ['gzip'], fstype: 'squashfs' },
  'squashfs-zst': { script: SQUASHFS_BUILD, args: ['zstd'], fstype: 'squashfs' },
};

const GiB = 2 ** 30;
const MARK = 64 << 10;
const TAIL = 3000;

/** A sparse file of `size` bytes with seeded data at eight evenly spaced places and at its end. */
async function makeSparseFile(path: string, size: number): Promise<void> {
  const { pseudoRandom, pseudoText } = await import('../test/helpers/corner-tree.js');
  const fd = openSync(path, 'w');
  try {
    ftruncateSync(fd, size);
    for (let k = 0; k < 8; k++) writeSync(fd, pseudoRandom(MARK, k + 1), 0, MARK, Math.floor((size * k) / 8 / 4096) * 4096 + 1234);
    writeSync(fd, pseudoText(TAIL, 99), 0, TAIL, size - TAIL);
  } finally {
    closeSync(fd);
  }
}

/** Where two files of equal length first differ, or undefined. */
function firstDifference(a: string, b: string, size: number): number | undefined {
  const fa = openSync(a, 'r');
  const fb = openSync(b, 'r');
  const CHUNK = 8 << 20;
  const ba = Buffer.alloc(CHUNK);
  const bb = Buffer.alloc(CHUNK);
  try {
    for (let at = 0; at < size; at += CHUNK) {
      const n = Math.min(CHUNK, size - at);
      if (readSync(fa, ba, 0, n, at) !== n || readSync(fb, bb, 0, n, at) !== n) return at;
      if (!ba.subarray(0, n).equals(bb.subarray(0, n))) {
        for (let i = 0; i < n; i++) if (ba[i] !== bb[i]) return at + i;
      }
    }
    return readSync(fb, bb, 0, 1, size) === 0 ? undefined : size;
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
}

const sizes = values.sizes.split(',').map(Number);
const filesystems = values.filesystems.split(',');
for (const f of filesystems) if (!BUILDS[f]) throw new Error(`unknown filesystem ${f}; known: ${Object.keys(BUILDS).join(', ')}`);
const tree = join(values.work, 'tree');
rmSync(values.work, { recursive: true, force: true });
mkdirSync(tree, { recursive: true });
const mount = values.verify ? await import('../test/helpers/mount.js') : undefined;

const runs = Number(values.runs);
console.log(machineLine('a tree of one sparse file', runs > 1 ? runs : undefined, false));
console.log('| file GiB | filesystem | wall s | peak RSS MB | image MB | read back |');
console.log('|---:|---|---:|---:|---:|---|');
for (const gib of sizes) {
  const size = gib * GiB;
  const file = join(tree, 'sparse');
  await makeSparseFile(file, size);
  for (const f of filesystems) {
    const b = BUILDS[f]!;
    const img = join(values.work, `${f}-${gib}g.img`);
    const done: Run[] = [];
    for (let i = 0; i < runs; i++) done.push(timed(process.execPath, [b.script, tree, img, ...b.args], img));
    const run = { wall: median(done.map((r) => r.wall)), rssKiB: median(done.map((r) => r.rssKiB)), size: done[0]!.size };
    let check = '—';
    if (mount) {
      const diff = await mount.withMountedImage(img, b.fstype, (dir) => firstDifference(file, join(dir, 'sparse'), size));
      check = diff === undefined ? 'identical' : `DIFFERS at ${diff}`;
    }
    console.log(`| ${gib} | ${f} | ${run.wall.toFixed(1)} | ${Math.round(run.rssKiB / 1024)} | ${mb(run.size)} | ${check} |`);
    rmSync(img, { force: true });
  }
}
rmSync(values.work, { recursive: true, force: true });
