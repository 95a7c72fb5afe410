/**
 * Native squashfs images read back by the kernel and by unsquashfs, for every compressor: the
 * corner-case tree (every file type, hard links, modes, 255-byte and non-UTF-8 names, a
 * 10,000-entry directory, deep nesting, long and dangling symlinks, identical files, block + 1
 * sizes; and, gzip only, a sparse file past 4 GiB) is loop-mounted and compared entry by entry with the sysroot, then
 * extracted with unsquashfs; rebuilds are byte-identical whatever the thread count, the order the
 * tree was created in, and the sysroot's owners and times.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, ftruncateSync, lchownSync, lutimesSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CodecName } from '../src/compress/codec.js';
import { ALWAYS_EXCLUDED, Exclusions } from '../src/sysroot/exclude.js';
import { walkSysroot } from '../src/sysroot/walk.js';
import { writeSquashfs } from '../src/formats/squashfs/writer.js';
import { makeCornerTree } from './helpers/corner-tree.js';
import { cannotMount, missingTools } from './helpers/system.js';
import { compareTrees, snapshotTree } from './helpers/tree.js';
import { withMountedImage } from './helpers/mount.js';
import { readImage, verifyImageAgainst } from './helpers/squashfs.js';

const T = 1700000000;
const COMPRESSORS: CodecName[] = ['gzip', 'zstd', 'xz', 'lz4'];
const UNSQUASHFS_NAME: Record<CodecName, string> = { gzip: 'gzip', zstd: 'zstd', xz: 'xz', lz4: 'lz4' };

async function build(src: string, image: string, compressor: CodecName, threads?: number): Promise<string> {
  const { tree } = await walkSysroot(src, new Exclusions([]), '');
  await writeSquashfs(tree, image, { compressor, time: T, threads });
  return createHash('sha256').update(readFileSync(image)).digest('hex');
}

/** The corner tree plus what the image writer in particular must handle. */
function makeTree(root: string): void {
  mkdirSync(root, { recursive: true });
  makeCornerTree(root, { bigDirEntries: 10_000 });
  writeFileSyncBytes(join(root, 'usr/share/two-blocks-exactly'), Buffer.alloc(2 * 131072, 0x5a));
  writeFileSyncBytes(join(root, 'usr/share/one-byte'), Buffer.from('1'));
}

function writeFileSyncBytes(path: string, data: Buffer): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, data);
  } finally {
    closeSync(fd);
  }
}

const skip = cannotMount('squashfs') ?? missingTools('unsquashfs');

describe('native squashfs images, read by the kernel and unsquashfs', { skip }, () => {
  let dir: string;
  let src: string;
  const shas = new Map<CodecName, string>();
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'avocado-sqfs-kernel-'));
    src = join(dir, 'src');
    makeTree(src);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const compressor of COMPRESSORS) {
    describe(compressor, () => {
      let image: string;
      before(async () => {
        image = join(dir, `${compressor}.sqfs`);
        shas.set(compressor, await build(src, image, compressor));
      });

      it('mounts and matches the sysroot entry by entry', async () => {
        const diffs = await verifyImageAgainst(image, src, T, ALWAYS_EXCLUDED);
        assert.deepEqual(diffs, []);
      });

      it('is read by unsquashfs -s, -lls and -d without complaint, and extracts the same tree', () => {
        const s = execFileSync('unsquashfs', ['-s', image], { encoding: 'utf8' });
        assert.match(s, new RegExp(`Compression ${UNSQUASHFS_NAME[compressor]}`));
        assert.match(s, /Block size 131072/);
        assert.match(s, /Filesystem is exportable via NFS/);
        const lls = spawnSync('unsquashfs', ['-lls', image], { encoding: 'utf8', maxBuffer: 64 << 20 });
        assert.equal(lls.status, 0, lls.stderr);
        assert.equal(lls.stderr, '');
        assert.match(lls.stdout, /squashfs-root\/usr\/share\/big\/entry-09999/);
        const out = join(dir, `extract-${compressor}`);
        const x = spawnSync('unsquashfs', ['-q', '-n', '-d', out, image], { encoding: 'utf8', maxBuffer: 64 << 20 });
        assert.equal(x.status, 0, x.stderr);
        try {
          // unsquashfs cannot recreate hard links or the image's times; compare what it does write.
          const expected = snapshotTree(src, { exclude: ALWAYS_EXCLUDED });
          const got = snapshotTree(out);
          const diffs = compareTrees(got, expected).filter((d) => !/link count|hard-link groups|mtime/.test(d));
          assert.deepEqual(diffs, []);
        } finally {
          rmSync(out, { recursive: true, force: true });
        }
      });
    });
  }

  it('rebuilds byte-identically with one thread and on the main thread, from a tree made in another order with other owners and times', async () => {
    const again = await build(src, join(dir, 'one-thread.sqfs'), 'gzip', 1);
    assert.equal(again, shas.get('gzip'));
    assert.equal(await build(src, join(dir, 'main-thread.sqfs'), 'gzip', 0), shas.get('gzip'));
    // The same content copied to tmpfs, whose readdir order (newest first) differs from ext4's
    // hash order, with other inode numbers, owners and times.
    const other = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'avocado-sqfs-other-'));
    const umask = process.umask(0o077);
    try {
      execFileSync('cp', ['-a', `${src}/.`, other]);
      for (const p of ['usr/bin/tool', 'usr/share', 'usr/lib/libfoo.so']) {
        lchownSync(join(other, p), 1234, 5678);
        lutimesSync(join(other, p), 1, 2);
      }
      assert.equal(await build(other, join(dir, 'other.sqfs'), 'gzip', 3), shas.get('gzip'));
    } finally {
      process.umask(umask);
      rmSync(other, { recursive: true, force: true });
    }
  });
});

describe('a sparse file past 4 GiB', { skip }, () => {
  const SIZE = 5 * 2 ** 30 + 12345;
  it('is stored as holes in an extended inode, mounts with the right size and bytes, and lists in unsquashfs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'avocado-sqfs-sparse-'));
    try {
      const src = join(dir, 'src');
      mkdirSync(src);
      // Mostly holes, data in the middle of one block past 4 GiB, and a short tail.
      const fd = openSync(join(src, 'sparse-5g'), 'w');
      try {
        ftruncateSync(fd, SIZE);
        writeSync(fd, Buffer.from('in the middle'), 0, 13, 2 ** 32 + 7);
      } finally {
        closeSync(fd);
      }
      const image = join(dir, 'sparse.sqfs');
      await build(src, image, 'gzip');
      assert.ok(statSync(image).size < 64 * 1024, 'holes take no space');
      const inode = readImage(image).entries.get('sparse-5g')!.inode;
      assert.equal(inode.type, 9);
      assert.equal(inode.fileSize, SIZE);
      assert.equal(inode.blockSizes!.filter((s) => s !== 0).length, 1, 'one stored block, the rest holes');
      // Hashing 5 GiB twice would take most of a minute: check the size and the bytes around the data.
      await withMountedImage(image, 'squashfs', (mnt) => {
        const path = join(mnt, 'sparse-5g');
        assert.equal(statSync(path).size, SIZE);
        const fd = openSync(path, 'r');
        try {
          for (const at of [0, 2 ** 32 - 300_000, 2 ** 32, SIZE - 200_000]) {
            const got = Buffer.alloc(300_000);
            const n = readSync(fd, got, 0, got.length, at);
            const want = Buffer.alloc(Math.min(got.length, SIZE - at));
            if (at === 2 ** 32) Buffer.from('in the middle').copy(want, 7);
            assert.equal(n, want.length);
            assert.deepEqual(got.subarray(0, n), want, `bytes at ${at}`);
          }
        } finally {
          closeSync(fd);
        }
      });
      const lls = execFileSync('unsquashfs', ['-lls', image], { encoding: 'utf8' });
      assert.match(lls, new RegExp(`${SIZE} \\S+ \\S+ squashfs-root/sparse-5g`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
