/**
 * Randomised trees from a seeded generator (names of random bytes, awkward sizes, holes,
 * duplicates, symlinks, hard links, fifos, devices, odd modes) written natively with each
 * compressor in turn, loop-mounted and compared entry by entry with their source.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { CodecName } from '../src/compress/codec.js';
import { Exclusions } from '../src/sysroot/exclude.js';
import { walkSysroot } from '../src/sysroot/walk.js';
import { writeSquashfs } from '../src/formats/squashfs/writer.js';
import { cannotMount } from './helpers/system.js';
import { makeRandomTree, verifyImageAgainst } from './helpers/squashfs.js';

const COMPRESSORS: CodecName[] = ['gzip', 'zstd', 'xz', 'lz4'];
const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];

describe('random trees round-trip through the kernel', { skip: cannotMount('squashfs') }, () => {
  for (const seed of SEEDS) {
    const compressor = COMPRESSORS[seed % COMPRESSORS.length]!;
    it(`seed ${seed}, ${compressor}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), `avocado-sqfs-random-${seed}-`));
      try {
        const src = join(dir, 'src');
        makeRandomTree(src, { seed, entries: 250, maxFileSize: 600_000 });
        const image = join(dir, 'image.sqfs');
        const { tree } = await walkSysroot(src, new Exclusions([]), '');
        await writeSquashfs(tree, image, { compressor, time: 4000000000 + seed, threads: 1 + (seed % 3) });
        assert.deepEqual(await verifyImageAgainst(image, src, 4000000000 + seed), []);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
