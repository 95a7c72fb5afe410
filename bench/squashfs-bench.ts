/**
 * Native squashfs writer vs mksquashfs on real sysroots, for every compressor.
 *
 *   npm run build && node dist/bench/squashfs-bench.js [--corpus python,perl,kernel]
 *       [--compressors gzip,zstd,xz,lz4] [--runs 3] [--work /var/tmp/avocado-bench] [--random]
 *
 * Corpora come from ../shared/corpus/make-sysroot.sh (or $AVOCADO_MAKE_SYSROOT). Runs alternate
 * (ours, mksquashfs, ours, …) so that drift in machine speed hits both; each run is a separate
 * process timed from outside, its peak RSS taken from /usr/bin/time. mksquashfs gets the settings
 * that match ours: -noappend -no-xattrs -all-root, same compressor, 128 KiB blocks.
 * --random also builds a large seeded random tree and checks it round-trips through the kernel.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { corpus as corpusDir, machineLine, mb, median, timed, type Run } from './harness.js';

const { values } = parseArgs({
  options: {
    corpus: { type: 'string', default: 'python,perl,kernel' },
    compressors: { type: 'string', default: 'gzip,zstd,xz,lz4' },
    runs: { type: 'string', default: '3' },
    work: { type: 'string', default: '/var/tmp/avocado-bench' },
    random: { type: 'boolean', default: false },
  },
});

const BUILD = fileURLToPath(new URL('./squashfs-build.js', import.meta.url));
const runs = Number(values.runs);
mkdirSync(values.work, { recursive: true });

const mksquashfsVersion = /version (\S+)/.exec(execFileSync('mksquashfs', ['-version'], { encoding: 'utf8' }))?.[1];
console.log(machineLine(`mksquashfs ${mksquashfsVersion}`, runs));
console.log('| corpus | compressor | ours wall s | mksquashfs wall s | wall ratio | ours RSS MB | mksquashfs RSS MB | ours size MB | mksquashfs size MB | size ratio |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const corpus of values.corpus.split(',')) {
  const src = corpusDir(values.work, corpus);
  for (const comp of values.compressors.split(',')) {
    const ours: Run[] = [];
    const theirs: Run[] = [];
    const oursImg = join(values.work, `${corpus}-${comp}-native.sqfs`);
    const theirsImg = join(values.work, `${corpus}-${comp}-mksquashfs.sqfs`);
    for (let i = 0; i < runs; i++) {
      ours.push(timed(process.execPath, [BUILD, src, oursImg, comp], oursImg));
      theirs.push(timed('mksquashfs', [src, theirsImg, '-noappend', '-no-xattrs', '-all-root', '-comp', comp, '-b', '131072', '-quiet', '-no-progress'], theirsImg));
    }
    const o = { wall: median(ours.map((r) => r.wall)), rss: median(ours.map((r) => r.rssKiB)), size: ours[0]!.size };
    const t = { wall: median(theirs.map((r) => r.wall)), rss: median(theirs.map((r) => r.rssKiB)), size: theirs[0]!.size };
    console.log(
      `| ${corpus} | ${comp} | ${o.wall.toFixed(2)} | ${t.wall.toFixed(2)} | ${(o.wall / t.wall).toFixed(2)} | ${(o.rss / 1024).toFixed(0)} | ${(t.rss / 1024).toFixed(0)} | ${mb(o.size)} | ${mb(t.size)} | ${(o.size / t.size).toFixed(4)} |`,
    );
    rmSync(oursImg, { force: true });
    rmSync(theirsImg, { force: true });
  }
}

if (values.random) {
  const { makeRandomTree, verifyImageAgainst } = await import('../test/helpers/squashfs.js');
  const dir = join(values.work, 'random-large');
  rmSync(dir, { recursive: true, force: true });
  const stats = makeRandomTree(dir, { seed: 20240601, entries: 20_000, maxFileSize: 3 << 20 });
  const img = join(values.work, 'random-large.sqfs');
  for (const comp of values.compressors.split(',')) {
    const run = timed(process.execPath, [BUILD, dir, img, comp], img);
    const diffs = await verifyImageAgainst(img, dir, 1700000000);
    console.log(`random tree (${stats.entries} entries, ${mb(stats.bytes)} MB), ${comp}: ${run.wall.toFixed(2)} s, ${diffs.length ? `${diffs.length} DIFFERENCES: ${diffs.slice(0, 5).join('; ')}` : 'mounted, identical to the source'}`);
  }
  rmSync(img, { force: true });
}
