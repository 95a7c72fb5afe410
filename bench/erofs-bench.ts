/**
 * Native EROFS writer vs mkfs.erofs on real sysroots.
 *
 *   npm run build && flock /tmp/avocado-bench.lock node dist/bench/erofs-bench.js
 *       [--corpus python,perl,kernel] [--variants erofs,erofs-lz4,erofs-lz4-64k,erofs-zst]
 *       [--runs 3] [--work /var/tmp/erofs-corpus]
 *
 * Runs alternate (ours, mkfs.erofs, ours, …) so that drift in machine speed hits both; each run
 * is a separate process timed from outside (bench/harness.ts). mkfs.erofs gets the flags that
 * match ours: -T<epoch> -U <nil uuid> -x -1 --all-root, plus -zlz4hc (and -C<size> for larger
 * clusters). erofs-zst has no reference tool here (erofs-utils 1.5 has no zstd): its row shows
 * ours only, with the native squashfs-zst writer next to it for comparison. As root, each of our
 * images is then loop-mounted and compared with the corpus entry by entry (content, modes, links,
 * times), so that a figure never stands for a broken image.
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
    variants: { type: 'string', default: 'erofs,erofs-lz4,erofs-lz4-64k,erofs-zst' },
    runs: { type: 'string', default: '3' },
    work: { type: 'string', default: '/var/tmp/erofs-corpus' },
  },
});

const EROFS_BUILD = fileURLToPath(new URL('./erofs-build.js', import.meta.url));
const SQUASHFS_BUILD = fileURLToPath(new URL('./squashfs-build.js', import.meta.url));
/** The time erofs-build.js stamps (its -T for mkfs.erofs). */
const EPOCH = 1700000000;
const NIL_UUID = '00000000-0000-0000-0000-000000000000';

interface Variant {
  /** erofs-build.js arguments after SYSROOT IMAGE. */
  readonly ours: string[];
  /** mkfs.erofs options, or undefined when there is no reference. */
  readonly mkfs?: string[];
}

const VARIANTS: Record<string, Variant> = {
  erofs: { ours: ['none'], mkfs: [] },
  'erofs-lz4': { ours: ['lz4hc', '4096'], mkfs: ['-zlz4hc'] },
  'erofs-lz4-64k': { ours: ['lz4hc', '65536'], mkfs: ['-zlz4hc', '-C65536'] },
  'erofs-lz4-128k': { ours: ['lz4hc', '131072'], mkfs: ['-zlz4hc', '-C131072'] },
  'erofs-zst': { ours: ['zstd', '4096'] },
};

const runs = Number(values.runs);
mkdirSync(values.work, { recursive: true });
const erofsUtils = execFileSync('dpkg-query', ['-W', '-f', '${Version}', 'erofs-utils'], { encoding: 'utf8' }).trim();
console.log(machineLine(`mkfs.erofs ${erofsUtils}`, runs));
console.log('| corpus | filesystem | ours wall s | mkfs.erofs wall s | wall ratio | ours RSS MB | mkfs.erofs RSS MB | ours size MB | mkfs.erofs size MB | size ratio |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
const summarize = (rs: Run[]) => ({ wall: median(rs.map((r) => r.wall)), rss: median(rs.map((r) => r.rssKiB)), size: rs[0]!.size });
// As root, our images are mounted and compared with the corpus (snapshot taken once per corpus).
const verify = process.getuid?.() === 0 ? await import('../test/helpers/erofs.js') : undefined;
const { snapshotTree } = await import('../test/helpers/tree.js');
for (const name of values.corpus.split(',')) {
  const src = corpusDir(values.work, name);
  const expected = verify ? snapshotTree(src) : undefined;
  for (const v of values.variants.split(',')) {
    const variant = VARIANTS[v];
    if (!variant) throw new Error(`unknown variant ${v}; known: ${Object.keys(VARIANTS).join(', ')}`);
    const oursImg = join(values.work, `${name}-${v}-native.img`);
    const theirsImg = join(values.work, `${name}-${v}-mkfs.img`);
    const ours: Run[] = [];
    const theirs: Run[] = [];
    for (let i = 0; i < runs; i++) {
      ours.push(timed(process.execPath, [EROFS_BUILD, src, oursImg, ...variant.ours], oursImg));
      if (variant.mkfs)
        theirs.push(timed('mkfs.erofs', ['--quiet', `-T${EPOCH}`, '-U', NIL_UUID, '-x', '-1', '--all-root', ...variant.mkfs, theirsImg, src], theirsImg));
    }
    const o = summarize(ours);
    if (verify && expected) {
      const diffs = await verify.verifyErofsAgainst(oursImg, expected, EPOCH);
      if (diffs.length) console.log(`${name} ${v}: our image DIFFERS from the corpus (${diffs.length}): ${diffs.slice(0, 5).join('; ')}`);
    }
    if (variant.mkfs) {
      const t = summarize(theirs);
      console.log(
        `| ${name} | ${v} | ${o.wall.toFixed(2)} | ${t.wall.toFixed(2)} | ${(o.wall / t.wall).toFixed(2)} | ${(o.rss / 1024).toFixed(0)} | ${(t.rss / 1024).toFixed(0)} | ${mb(o.size)} | ${mb(t.size)} | ${(o.size / t.size).toFixed(4)} |`,
      );
    } else {
      console.log(`| ${name} | ${v} | ${o.wall.toFixed(2)} | — | — | ${(o.rss / 1024).toFixed(0)} | — | ${mb(o.size)} | — | — |`);
      // For comparison: the native squashfs writer with zstd on the same tree.
      const sqfsImg = join(values.work, `${name}-squashfs-zst-native.img`);
      const s = summarize(Array.from({ length: runs }, () => timed(process.execPath, [SQUASHFS_BUILD, src, sqfsImg, 'zstd'], sqfsImg)));
      console.log(`| ${name} | (squashfs-zst, native) | ${s.wall.toFixed(2)} | — | — | ${(s.rss / 1024).toFixed(0)} | — | ${mb(s.size)} | — | — |`);
      rmSync(sqfsImg, { force: true });
    }
    rmSync(oursImg, { force: true });
    rmSync(theirsImg, { force: true });
  }
}
