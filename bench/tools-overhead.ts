/**
 * How much the tools engine adds to the bare tool: `avocado ext image` (tools engine) against
 * the same mksquashfs / mkfs.erofs command line run directly, on the same corpus, alternating
 * runs. Prints median wall time and peak RSS of each and the difference.
 *
 *   node dist/bench/tools-overhead.js [--runs 3] [--corpus python,perl,kernel] [--fs squashfs,erofs,erofs-lz4]
 *
 * Corpora come from ../shared/corpus/make-sysroot.sh and are kept in $AVOCADO_BENCH_DIR
 * (default /var/tmp/avocado-bench).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    corpus: { type: 'string', default: 'python,perl,kernel' },
    fs: { type: 'string', default: 'squashfs,erofs,erofs-lz4' },
  },
});
const runs = Number(values.runs);
const base = process.env.AVOCADO_BENCH_DIR ?? '/var/tmp/avocado-bench';
const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const makeSysroot = fileURLToPath(new URL('../../../shared/corpus/make-sysroot.sh', import.meta.url));
const volume = join(base, 'volume');
const NIL = '00000000-0000-0000-0000-000000000000';

interface Sample {
  wall: number;
  rssKiB: number;
}

/** Runs argv under /usr/bin/time and returns wall seconds and peak RSS. */
function timed(argv: string[], cwd: string): Sample {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', ...argv], { cwd, encoding: 'utf8', env: { ...process.env, CI: '1' } });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed:\n${r.stderr}`);
  const [wall, rss] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { wall: wall!, rssKiB: rss! };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function corpusDir(preset: string): string {
  const dir = join(volume, 'bench', 'extensions', preset);
  if (!existsSync(join(dir, 'usr'))) execFileSync(makeSysroot, [dir, preset], { stdio: 'inherit' });
  return dir;
}

function bareTool(fs: string, src: string, out: string): string[] {
  if (fs === 'squashfs')
    return ['mksquashfs', src, out, '-noappend', '-no-xattrs', '-all-root', '-reproducible', '-exit-on-error', '-no-progress', '-quiet', '-mkfs-time', '0', '-all-time', '0', '-comp', 'gzip', '-b', '131072'];
  return ['mkfs.erofs', '--quiet', '-T0', '-U', NIL, '-x', '-1', '--all-root', ...(fs === 'erofs-lz4' ? ['-zlz4hc'] : []), out, src];
}

mkdirSync(base, { recursive: true });
console.log(`machine: ${cpus().length} cores, ${cpus()[0]?.model}; node ${process.version}; ${runs} alternating runs each`);
console.log('| corpus | filesystem | bare tool wall | avocado wall | added | ratio | bare RSS | avocado RSS | image |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const preset of values.corpus!.split(',')) {
  const src = corpusDir(preset);
  for (const fs of values.fs!.split(',')) {
    writeFileSync(join(base, 'avocado.yaml'), `default_target: bench\nengine: tools\nextensions:\n  ${preset}:\n    version: "1.0.0"\n    filesystem: ${fs}\n`);
    const bareOut = join(base, `bare-${preset}.img`);
    const ours: Sample[] = [];
    const bare: Sample[] = [];
    for (let i = 0; i < runs; i++) {
      rmSync(bareOut, { force: true });
      bare.push(timed(bareTool(fs, src, bareOut), base));
      ours.push(timed([process.execPath, cli, 'ext', 'image', preset, '--volume', volume], base));
    }
    const size = Number(execFileSync('stat', ['-c', '%s', join(volume, 'bench/output/extensions', `${preset}-1.0.0.raw`)]).toString());
    const b = median(bare.map((s) => s.wall));
    const o = median(ours.map((s) => s.wall));
    console.log(
      `| ${preset} | ${fs} | ${b.toFixed(2)} s | ${o.toFixed(2)} s | ${(o - b).toFixed(2)} s | ${(o / b).toFixed(3)} | ${(median(bare.map((s) => s.rssKiB)) / 1024).toFixed(0)} MiB | ${(median(ours.map((s) => s.rssKiB)) / 1024).toFixed(0)} MiB | ${(size / 1e6).toFixed(1)} MB |`,
    );
    rmSync(bareOut, { force: true });
  }
}

