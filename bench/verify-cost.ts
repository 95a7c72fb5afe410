/**
 * What reading an image back costs: `avocado ext image` with and without `--verify`, and
 * `avocado ext verify NAME` (structures, every block, comparison with the sysroot) and
 * `ext verify IMAGE` (the image alone), on the same corpus, alternating runs, medians. Also
 * `ext inspect` and `ext diff` of the image against a copy of itself with one byte changed, and
 * the reference tools' full read of the same image for scale (fsck.erofs --extract; unsquashfs
 * extracting into a scratch directory).
 *
 *   node dist/bench/verify-cost.js [--runs 3] [--corpus perl,kernel] [--fs squashfs,erofs-lz4]
 *
 * Corpora (../shared/corpus/make-sysroot.sh) are kept under $AVOCADO_BENCH_DIR (default
 * /var/tmp/avocado-bench), laid out as a volume.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { corpus, machineLine, median, timed, type Run } from './harness.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    corpus: { type: 'string', default: 'perl,kernel' },
    fs: { type: 'string', default: 'squashfs,erofs-lz4' },
  },
});
const runs = Number(values.runs);
const base = process.env.AVOCADO_BENCH_DIR ?? '/var/tmp/avocado-bench';
const cli = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));
const volume = join(base, 'volume');

mkdirSync(join(volume, 'bench/extensions'), { recursive: true });
console.log(machineLine('avocado ext image with and without --verify; ext verify, inspect, diff', runs));
console.log('| corpus | filesystem | image | image --verify | added | ext verify NAME | ext verify IMAGE | ext inspect | ext diff (1 byte) | reference reader | peak RSS image / --verify / verify MB |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const preset of values.corpus!.split(',')) {
  corpus(join(volume, 'bench/extensions'), preset);
  for (const fs of values.fs!.split(',')) {
    const config = join(base, 'avocado.yaml');
    writeFileSync(config, `default_target: bench\nextensions:\n  ${preset}:\n    version: "1.0.0"\n    filesystem: ${fs}\n`);
    const image = join(volume, 'bench/output/extensions', `${preset}-1.0.0.raw`);
    const avocado = (args: string[], readsImage = false) => timed(process.execPath, [cli, ...args, '-C', config, '--volume', volume], image, { readsImage });
    const plain: Run[] = [];
    const verified: Run[] = [];
    const verifyName: Run[] = [];
    const verifyImage: Run[] = [];
    const inspect: Run[] = [];
    const diff: Run[] = [];
    const reference: Run[] = [];
    const changed = join(base, `changed-${preset}.raw`);
    for (let i = 0; i < runs; i++) {
      plain.push(avocado(['ext', 'image', preset]));
      verified.push(avocado(['ext', 'image', preset, '--verify']));
      verifyName.push(avocado(['ext', 'verify', preset], true));
      verifyImage.push(avocado(['ext', 'verify', image], true));
      inspect.push(avocado(['ext', 'inspect', preset], true));
      copyFileSync(image, changed);
      const b = readFileSync(changed);
      b[8] = b[8]! ^ 1;
      writeFileSync(changed, b);
      diff.push(timedAllowing(process.execPath, [cli, 'ext', 'diff', image, changed], image));
      // The reference tools' own full read: fsck.erofs decompresses every file; unsquashfs -cat-less: list with attributes.
      reference.push(fs.startsWith('erofs') ? timed('fsck.erofs', ['--extract', image], image, { readsImage: true }) : timed('sh', ['-c', 'unsquashfs -n -d "$1" "$0" > /dev/null && rm -rf "$1"', image, join(base, 'unsq')], image, { readsImage: true }));
    }
    const w = (xs: Run[]) => median(xs.map((r) => r.wall));
    const s = (x: number) => `${x.toFixed(2)} s`;
    const rss = (xs: Run[]) => (median(xs.map((r) => r.rssKiB)) / 1024).toFixed(0);
    console.log(
      `| ${preset} | ${fs} | ${s(w(plain))} | ${s(w(verified))} | ${s(w(verified) - w(plain))} | ${s(w(verifyName))} | ${s(w(verifyImage))} | ${s(w(inspect))} | ${s(w(diff))} | ${s(w(reference))} (${fs.startsWith('erofs') ? 'fsck.erofs' : 'unsquashfs -d, extracting'}) | ${rss(plain)} / ${rss(verified)} / ${rss(verifyName)} |`,
    );
  }
}

/** `ext diff` exits 1 for different images: time it all the same. */
function timedAllowing(cmd: string, args: string[], image: string): Run {
  return timed('sh', ['-c', `"$0" "$@" > /dev/null; [ $? -le 1 ]`, cmd, ...args], image, { readsImage: true });
}
