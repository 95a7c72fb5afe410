/**
 * The whole `avocado ext image` command against the bare mksquashfs / mkfs.erofs that the
 * benchmark is pointed at (the newest releases, built by hand, or the distribution's), each with
 * its best settings for this machine's cores, on the same corpus, alternating runs, medians; every
 * image of both is loop-mounted and compared with the corpus (as root).
 *
 *   node dist/bench/vs-tools.js [--runs 3] [--corpus python,perl,kernel]
 *       [--fs squashfs,squashfs-zst,squashfs-xz,squashfs-lz4,erofs,erofs-lz4,erofs-lz4-64k,erofs-zst]
 *       [--mksquashfs PATH] [--mkfs-erofs PATH]
 *
 * The tools also come from AVOCADO_BENCH_MKSQUASHFS and AVOCADO_BENCH_MKFS_EROFS, else the PATH.
 * mksquashfs runs with -processors <cores>; mkfs.erofs with --workers=<cores> where it has the
 * option (erofs-utils ≥ 1.8). Corpora (../shared/corpus/make-sysroot.sh) are kept under
 * $AVOCADO_BENCH_DIR (default /var/tmp/avocado-bench), laid out as a volume.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { corpus, machineLine, mb, median, timed, type Run } from './harness.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    corpus: { type: 'string', default: 'python,perl,kernel' },
    fs: { type: 'string', default: 'squashfs,squashfs-zst,squashfs-xz,squashfs-lz4,erofs,erofs-lz4,erofs-lz4-64k,erofs-zst' },
    mksquashfs: { type: 'string', default: process.env.AVOCADO_BENCH_MKSQUASHFS ?? 'mksquashfs' },
    'mkfs-erofs': { type: 'string', default: process.env.AVOCADO_BENCH_MKFS_EROFS ?? 'mkfs.erofs' },
  },
});
const runs = Number(values.runs);
const cores = availableParallelism();
const base = process.env.AVOCADO_BENCH_DIR ?? '/var/tmp/avocado-bench';
const cli = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));
const volume = join(base, 'volume');
const NIL = '00000000-0000-0000-0000-000000000000';
const mksquashfs = values.mksquashfs!;
const mkfsErofs = values['mkfs-erofs']!;

const version = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return /(\d+\.\d+(\.\d+)?)/.exec(`${r.stdout}${r.stderr}`)?.[1] ?? '?';
};
const sqVersion = version(mksquashfs, ['-version']);
const erVersion = version(mkfsErofs, ['--version']);
const erofsWorkers = /--workers/.test(spawnSync(mkfsErofs, ['--help'], { encoding: 'utf8' }).stdout ?? '') ? [`--workers=${cores}`] : [];

/** Our filesystem value and cluster size, and the tool's command line, per variant. */
function variant(fs: string, src: string, out: string): { value: string; cluster?: number; tool: [string, string[]] } {
  const sq = (comp: string, extra: string[] = []): [string, string[]] => [
    mksquashfs,
    [src, out, '-noappend', '-no-xattrs', '-all-root', '-mkfs-time', '0', '-all-time', '0', '-quiet', '-no-progress', '-processors', String(cores), '-b', '131072', '-comp', comp, ...extra],
  ];
  const er = (extra: string[]): [string, string[]] => [mkfsErofs, ['--quiet', '-T0', '-U', NIL, '-x', '-1', '--all-root', ...erofsWorkers, ...extra, out, src]];
  switch (fs) {
    case 'squashfs':
      return { value: fs, tool: sq('gzip') };
    case 'squashfs-zst':
      return { value: fs, tool: sq('zstd', ['-Xcompression-level', '15']) };
    case 'squashfs-xz':
      return { value: fs, tool: sq('xz') };
    case 'squashfs-lz4':
      return { value: fs, tool: sq('lz4') };
    case 'erofs':
      return { value: fs, tool: er([]) };
    case 'erofs-lz4':
      return { value: fs, tool: er(['-zlz4hc']) };
    case 'erofs-lz4-64k':
      return { value: 'erofs-lz4', cluster: 65536, tool: er(['-zlz4hc', '-C65536']) };
    case 'erofs-zst':
      return { value: fs, tool: er(['-zzstd']) };
    default:
      throw new Error(`unknown variant ${fs}`);
  }
}

const check = process.getuid?.() === 0;
const helpers = check ? { sq: await import('../test/helpers/squashfs.js'), er: await import('../test/helpers/erofs.js'), tree: await import('../test/helpers/tree.js') } : undefined;

mkdirSync(join(volume, 'bench/extensions'), { recursive: true });
console.log(machineLine(`avocado ext image (whole command) vs mksquashfs ${sqVersion} and mkfs.erofs ${erVersion}${erofsWorkers.length ? ` ${erofsWorkers[0]}` : ''}`, runs));
console.log(`# tools: ${mksquashfs}, ${mkfsErofs}${check ? '; every image loop-mounted and compared with the corpus' : '; not root: images not mounted'}`);
console.log('| corpus | variant | ours wall | tool wall | time ratio | ours size MB | tool size MB | size ratio | ours RSS MB | tool RSS MB | mounted and equal |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
for (const preset of values.corpus!.split(',')) {
  const src = corpus(join(volume, 'bench/extensions'), preset);
  const expected = helpers?.tree.snapshotTree(src);
  for (const fs of values.fs!.split(',')) {
    const toolImage = join(base, `${preset}-${fs}-tool.img`);
    const v = variant(fs, src, toolImage);
    const config = join(base, 'avocado.yaml');
    writeFileSync(config, `default_target: bench\nextensions:\n  ${preset}:\n    version: "1.0.0"\n    filesystem: ${v.value}\n${v.cluster ? `    erofs_cluster_size: ${v.cluster}\n` : ''}`);
    const ourImage = join(volume, 'bench/output/extensions', `${preset}-1.0.0.raw`);
    const ours: Run[] = [];
    const tool: Run[] = [];
    for (let i = 0; i < runs; i++) {
      ours.push(timed(process.execPath, [cli, 'ext', 'image', preset, '-C', config, '--volume', volume], ourImage));
      tool.push(timed(v.tool[0], v.tool[1], toolImage));
    }
    let equal = 'not checked';
    if (helpers && expected) {
      const family = fs.startsWith('erofs') ? 'erofs' : 'squashfs';
      const compare = (image: string) => (family === 'erofs' ? helpers.er.verifyErofsAgainst(image, expected, 0) : helpers.sq.verifyImageAgainst(image, src, 0));
      const [a, b] = [await compare(ourImage), await compare(toolImage)];
      equal = a.length || b.length ? `DIFFER: ours ${a.length} (${a.slice(0, 2).join('; ')}), tool ${b.length} (${b.slice(0, 2).join('; ')})` : 'both';
    }
    const w = (xs: Run[]) => median(xs.map((r) => r.wall));
    const rss = (xs: Run[]) => (median(xs.map((r) => r.rssKiB)) / 1024).toFixed(0);
    const [os, ts] = [ours[0]!.size, tool[0]!.size];
    console.log(`| ${preset} | ${fs} | ${w(ours).toFixed(2)} s | ${w(tool).toFixed(2)} s | ${(w(ours) / w(tool)).toFixed(2)} | ${mb(os)} | ${mb(ts)} | ${(os / ts).toFixed(4)} | ${rss(ours)} | ${rss(tool)} | ${equal} |`);
    rmSync(toolImage, { force: true });
  }
}
