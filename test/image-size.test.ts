/**
 * The size an image's superblock declares (src/formats/image-size.ts), which the pipeline checks
 * before publishing an image: for images of every writer it is the file's size (squashfs: up to
 * the 4 KiB padding), so an image that lost its last block falls short of it (the --runs-on
 * tests see that happen for real, with a full disk behind NFS).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { declaredImageSize, IMAGE_HEAD_BYTES } from '../src/formats/image-size.js';
import { makeCornerTree, writeReleaseFiles } from './helpers/corner-tree.js';
import { TestProject } from './helpers/project.js';
import { missingTools } from './helpers/system.js';

describe('declared image size', () => {
  const cases = [
    { engine: 'native', fs: 'squashfs' },
    { engine: 'native', fs: 'erofs' },
    { engine: 'native', fs: 'erofs-lz4' },
    { engine: 'tools', fs: 'squashfs', skip: missingTools('mksquashfs') },
    { engine: 'tools', fs: 'erofs-lz4', skip: missingTools('mkfs.erofs') },
  ];
  for (const c of cases) {
    it(`${c.engine} ${c.fs}: the superblock declares the file's size`, { skip: c.skip }, () => {
      const p = new TestProject(`default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n    filesystem: ${c.fs}\n`);
      try {
        const sysroot = p.makeSysroot('t', 'app');
        makeCornerTree(sysroot, { maxNameLength: 200 });
        writeReleaseFiles(sysroot, 'app-1.0.0');
        const r = p.run(['ext', 'image', 'app', '--engine', c.engine]);
        assert.equal(r.code, 0, r.stderr);
        const image = readFileSync(p.image('t', 'app', '1.0.0'));
        const family = c.fs.startsWith('squashfs') ? 'squashfs' : 'erofs';
        const declared = declaredImageSize(family, image.subarray(0, IMAGE_HEAD_BYTES));
        assert.ok(declared <= image.length && declared > image.length - 4096, `${declared} vs ${image.length}`);
        if (family === 'erofs') assert.equal(declared, image.length);
        assert.throws(() => declaredImageSize(family === 'erofs' ? 'squashfs' : 'erofs', image.subarray(0, IMAGE_HEAD_BYTES)), /bad magic/);
      } finally {
        p.remove();
      }
    });
  }
});
