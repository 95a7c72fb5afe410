/**
 * Native EROFS images read back by the kernel and by fsck.erofs, for every variant: the
 * corner-case tree (every file type, hard links, modes, 255-byte and non-UTF-8 names, a
 * 10,000-entry directory, deep nesting, long and dangling symlinks, a sparse file past 4 GiB,
 * sizes around block boundaries) is loop-mounted and compared entry by entry with the sysroot;
 * fsck.erofs 1.5 checks the uncompressed and LZ4 images and extracts them; rebuilds are
 * byte-identical whatever the thread count, the order the tree was created in, and the sysroot's
 * owners, times and umask; seeded random trees round-trip.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, ftruncateSync, lchownSync, lutimesSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { erofsCompression, type ErofsCompressor } from '../src/formats/erofs/compression.js';
import { writeErofs, type ErofsSummary } from '../src/formats/erofs/writer.js';
import { ALWAYS_EXCLUDED, Exclusions } from '../src/sysroot/exclude.js';
import { walkSysroot } from '../src/sysroot/walk.js';
import { makeCornerTree, pseudoRandom, pseudoText } from './helpers/corner-tree.js';
import { cannotMount, missingTools } from './helpers/system.js';
import { compareTrees, snapshotTree, type TreeSnapshot } from './helpers/tree.js';
import { makeRandomTree } from './helpers/squashfs.js';
import { verifyErofsAgainst, walkImage } from './helpers/erofs.js';

const T = 1700000000;

interface Variant {
  readonly name: string;
  readonly compressor?: ErofsCompressor;
  readonly clusterSize?: number;
  /** fsck.erofs 1.5 knows no zstd. */
  readonly fsck: boolean;
}

const VARIANTS: Variant[] = [
  { name: 'erofs', fsck: true },
  { name: 'erofs-lz4', compressor: 'lz4hc', fsck: true },
  { name: 'erofs-lz4, 64 KiB clusters', compressor: 'lz4hc', clusterSize: 65536, fsck: true },
  { name: 'erofs-zst', compressor: 'zstd', fsck: false },
];

async function build(src: string, image: string, v: Variant, threads?: number): Promise<{ sha: string; summary: ErofsSummary }> {
  const { tree } = await walkSysroot(src, new Exclusions([]), '');
  const summary = await writeErofs(tree, image, { compression: v.compressor && erofsCompression(v.compressor, v.clusterSize), time: T, threads });
  return { sha: createHash('sha256').update(readFileSync(image)).digest('hex'), summary };
}

function writeBytes(path: string, data: Buffer): void {
  writeFileSync(path, data);
}

/** The corner tree plus what the image writer in particular must handle. */
function makeTree(root: string, sparse: boolean): void {
  mkdirSync(root, { recursive: true });
  makeCornerTree(root, { bigDirEntries: 10_000 });
  if (sparse) {
    // Past 4 GiB, mostly holes, with data in the middle of one block and a short tail.
    const fd = openSync(join(root, 'usr/share/sparse-4g'), 'w');
    try {
      ftruncateSync(fd, 2 ** 32 + 12345);
      writeSync(fd, Buffer.from('in the middle'), 0, 13, 2 ** 32 + 7);
    } finally {
      closeSync(fd);
    }
  }
  // Around the block size and the inline-tail limit (4096 - 32), compressible and not.
  for (const n of [1, 4063, 4064, 4065, 4095, 4096, 4097, 8191, 8192, 8193, 12288, 65536 + 1]) {
    writeBytes(join(root, `usr/share/size-${n}`), Buffer.alloc(n, n % 251));
    writeBytes(join(root, `usr/share/text-${n}`), Buffer.from('erofs '.repeat(n).slice(0, n)));
  }
  // Text of many sizes; these sizes and seeds made blocks that end with their input, which the
  // encoder once ended with a match too close to the end (4 KiB clusters: the first three).
  mkdirSync(join(root, 'usr/share/texts'));
  for (let i = 0; i < 48; i++) writeBytes(join(root, 'usr/share/texts', `t${i}`), pseudoText(4100 + i * 1499, i + 1));
  for (const [size, seed] of [[4100, 4], [4135, 39], [4158, 62], [13788, 57]] as const) writeBytes(join(root, 'usr/share/texts', `end-${size}`), pseudoText(size, seed));
  // A run whose copy ends just over 64 KiB before it, with compressible data in between so that
  // one large cluster spans both (LZ4 offsets stop at 65535).
  const noise = (n: number, seed: number) => Buffer.from(pseudoRandom(n, seed).map((b) => b | 1));
  const run = Buffer.concat([noise(12, 1), Buffer.alloc(8), Buffer.from('Q'), noise(16, 2)]);
  const nearCopy = Buffer.concat([run.subarray(0, 15), Buffer.from('Z')]);
  const farRun = [pseudoText(500, 3), run, pseudoText(65536 - run.length - nearCopy.length - 200, 4), nearCopy, pseudoText(200, 5), run, pseudoText(300, 6)];
  writeBytes(join(root, 'usr/share/far-run'), Buffer.concat(farRun));
  // A directory whose entries end exactly at a block boundary: 12 × (12 + 329) = 4092, plus "." and "..".
  mkdirSync(join(root, 'usr/share/exact'));
  for (let i = 0; i < 12; i++) writeBytes(join(root, 'usr/share/exact', `${i}`.padStart(2, '0') + 'e'.repeat(237)), Buffer.from(`${i}`));
}

const skip = cannotMount('erofs') ?? missingTools('fsck.erofs');

describe('native EROFS images, read by the kernel and fsck.erofs', { skip }, () => {
  let dir: string;
  let src: string;
  let small: string;
  let expected: TreeSnapshot;
  const shas = new Map<string, string>();
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'avocado-erofs-kernel-'));
    src = join(dir, 'src');
    makeTree(src, true);
    // The same without the 5 GiB file, for fsck.erofs --extract (which would write it out).
    small = join(dir, 'small');
    makeTree(small, false);
    expected = snapshotTree(src, { exclude: ALWAYS_EXCLUDED });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const v of VARIANTS) {
    describe(v.name, () => {
      let image: string;
      let summary: ErofsSummary;
      before(async () => {
        image = join(dir, `${v.name.replace(/\W+/g, '-')}.img`);
        const r = await build(src, image, v);
        shas.set(v.name, r.sha);
        summary = r.summary;
      });

      it('mounts and matches the sysroot entry by entry', async () => {
        const diffs = await verifyErofsAgainst(image, expected, T);
        assert.deepEqual(diffs, []);
      });

      it('stores what it should how it should', () => {
        const entries = walkImage(readFileSync(image));
        const at = (p: string) => entries.get(p)!.inode;
        // Holes: chunk-based when uncompressed (nothing stored), compressed otherwise.
        assert.equal(at('usr/share/sparse-4g').layout, v.compressor ? 3 : 4);
        assert.ok(at('usr/share/sparse-4g').extended);
        assert.equal(summary.kernelMin, v.compressor === 'zstd' ? '6.10' : v.clusterSize ? '5.13' : v.compressor ? '5.4' : '5.15');
        // Small files and directories have their tails inline; compressible large files are compressed.
        assert.equal(at('usr/share/size-4064').layout, 2);
        assert.equal(at('usr/share/size-4065').layout, 0);
        assert.equal(at('usr/share/empty-dir').layout, 2);
        if (v.compressor) assert.equal(at('usr/share/text-65537').layout, 3);
        assert.equal(at('usr/share/random').layout, 2, 'incompressible data is stored flat');
      });

      if (v.fsck) {
        it('passes fsck.erofs, and fsck.erofs --extract reproduces the tree', async () => {
          const check = spawnSync('fsck.erofs', [image], { encoding: 'utf8' });
          assert.equal(check.status, 0, check.stdout + check.stderr);
          const smallImage = join(dir, `small-${v.name.replace(/\W+/g, '-')}.img`);
          await build(small, smallImage, v);
          const out = join(dir, `extract-${v.name.replace(/\W+/g, '-')}`);
          const x = spawnSync('fsck.erofs', [`--extract=${out}`, smallImage], { encoding: 'utf8', maxBuffer: 64 << 20 });
          assert.equal(x.status, 0, x.stdout + x.stderr);
          try {
            // fsck.erofs 1.5 recreates neither hard links, setuid/setgid bits nor times.
            const expected = snapshotTree(small, { exclude: ALWAYS_EXCLUDED });
            const got = snapshotTree(out);
            const diffs = compareTrees(got, expected).filter((d) => !/link count|hard-link groups|mtime|: mode /.test(d));
            assert.deepEqual(diffs, []);
            for (const [p, e] of got) assert.equal(e.mode & 0o777, expected.get(p)!.mode & 0o777, `permission bits of ${p}`);
          } finally {
            rmSync(out, { recursive: true, force: true });
          }
        });
      }
    });
  }

  it('rebuilds byte-identically with one thread and on the main thread, from a tree made in another order with other owners, times and umask', async () => {
    const lz4 = VARIANTS[1]!;
    assert.equal((await build(src, join(dir, 'one-thread.img'), lz4, 1)).sha, shas.get(lz4.name));
    assert.equal((await build(src, join(dir, 'main-thread.img'), lz4, 0)).sha, shas.get(lz4.name));
    // The same content copied to tmpfs, whose readdir order (newest first) differs from ext4's
    // hash order, with other inode numbers, owners and times.
    const other = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'avocado-erofs-other-'));
    const umask = process.umask(0o077);
    try {
      execFileSync('cp', ['-a', '--sparse=always', `${src}/.`, other]);
      for (const p of ['usr/bin/tool', 'usr/share', 'usr/lib/libfoo.so']) {
        lchownSync(join(other, p), 1234, 5678);
        lutimesSync(join(other, p), 1, 2);
      }
      assert.equal((await build(other, join(dir, 'other.img'), lz4, 3)).sha, shas.get(lz4.name));
      assert.equal((await build(other, join(dir, 'other-plain.img'), VARIANTS[0]!)).sha, shas.get(VARIANTS[0]!.name));
    } finally {
      process.umask(umask);
      rmSync(other, { recursive: true, force: true });
    }
  });

  for (const seed of [1, 2]) {
    it(`round-trips seeded random tree ${seed} through the kernel in every variant`, async () => {
      const tree = join(dir, `random-${seed}`);
      makeRandomTree(tree, { seed, entries: 800, maxFileSize: 200_000 });
      const source = snapshotTree(tree);
      for (const v of VARIANTS) {
        const image = join(dir, `random-${seed}.img`);
        await build(tree, image, v, seed);
        const diffs = await verifyErofsAgainst(image, source, T);
        assert.deepEqual(diffs, [], v.name);
        if (v.fsck) {
          const check = spawnSync('fsck.erofs', [image], { encoding: 'utf8' });
          assert.equal(check.status, 0, `${v.name}: ${check.stdout}${check.stderr}`);
        }
      }
    });
  }
});
