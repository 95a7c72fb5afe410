/**
 * How much the tools engine adds to the bare tool: `avocado ext image --engine tools` against the
 * same mksquashfs / mkfs.erofs command line run directly, on the same corpus, alternating runs.
 * Prints median wall time and peak RSS of each and the difference.
 *
 *   node dist/bench/tools-overhead.js [--runs 3] [--corpus python,perl,kernel] [--fs squashfs,erofs,erofs-lz4]
 *
 * Corpora (../shared/corpus/make-sysroot.sh) are kept under $AVOCADO_BENCH_DIR (default
 * /var/tmp/avocado-bench), laid out as a volume so that avocado finds them as sysroots.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { corpus, machineLine, mb, median, timed, type Run } from './harness.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    corpus: { type: 'string', default: 'python,perl,kernel' },
    fs: { type: 'string', default: 'squashfs,erofs,erofs-lz4' },
  },
});
const runs = Number(values.runs);
const base = process.env.AVOCADO_BENCH_DIR ?? '/var/tmp/avocado-bench';
const cli = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));
const volume = join(base, 'volume');
const NIL = '00000000-0000-0000-0000-000000000000';

/** The command line the tools engine runs, without avocado around it. */
function bareTool(fs: string, src: string, out: string): [string, string[]] {
  if (fs === 'squashfs')
    return ['mksquashfs', [src, out, '-noappend', '-no-xattrs', '-all-root', '-reproducible', '-exit-on-error', '-no-progress', '-quiet', '-mkfs-time', '0', '-all-time', '0', '-comp', 'gzip', '-b', '131072']];
  return ['mkfs.erofs', ['--quiet', '-T0', '-U', NIL, '-x', '-1', '--all-root', ...(fs === 'erofs-lz4' ? ['-zlz4hc'] : []), out, src]];
}

mkdirSync(join(volume, 'bench/extensions'), { recursive: true });
console.log(machineLine('avocado --engine tools vs the bare tool', runs));
console.log('| corpus | filesystem | bare tool wall | avocado wall | added | ratio | bare RSS MB | avocado RSS MB | image MB |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|');
for (const preset of values.corpus!.split(',')) {
  const src = corpus(join(volume, 'bench/extensions'), preset);
  for (const fs of values.fs!.split(',')) {
    writeFileSync(join(base, 'avocado.yaml'), `default_target: bench\nengine: tools\nextensions:\n  ${preset}:\n    version: "1.0.0"\n    filesystem: ${fs}\n`);
    const bareOut = join(base, `bare-${preset}.img`);
    const ours: Run[] = [];
    const bare: Run[] = [];
    for (let i = 0; i < runs; i++) {
      const [cmd, args] = bareTool(fs, src, bareOut);
      bare.push(timed(cmd, args, bareOut));
      ours.push(timed(process.execPath, [cli, 'ext', 'image', preset, '-C', join(base, 'avocado.yaml'), '--volume', volume], join(volume, 'bench/output/extensions', `${preset}-1.0.0.raw`)));
    }
    const b = median(bare.map((s) => s.wall));
    const o = median(ours.map((s) => s.wall));
    const rss = (xs: Run[]) => (median(xs.map((s) => s.rssKiB)) / 1024).toFixed(0);
    console.log(`| ${preset} | ${fs} | ${b.toFixed(2)} s | ${o.toFixed(2)} s | ${(o - b).toFixed(2)} s | ${(o / b).toFixed(3)} | ${rss(bare)} | ${rss(ours)} | ${mb(ours[0]!.size)} |`);
  }
}
