/**
 * Sysroots deeper than PATH_MAX (500 levels of 8-byte names, 4.5 KB paths), as mksquashfs builds
 * them: walked, read and imaged by the native writers; an error about such a path is one short line.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BuildRequest } from '../src/engines/engine.js';
import { NativeEngine } from '../src/engines/native.js';
import { filesystemInfo } from '../src/formats/filesystems.js';
import { preOrder, type FileEntry } from '../src/sysroot/entry.js';
import { Exclusions } from '../src/sysroot/exclude.js';
import { SourceFile } from '../src/sysroot/source-file.js';
import { walkSysroot } from '../src/sysroot/walk.js';
import { BuildError } from '../src/util/errors.js';
import { withMountedImage } from './helpers/mount.js';
import { cannotMount } from './helpers/system.js';

const LEVELS = 500;
const NAME = 'abcdefgh';
let base: string;
let root: string;

/** Runs a shell script that goes down the chain by relative `cd`s (no path handed to the kernel is too long). */
function sh(script: string, cwd: string): string {
  return execFileSync('bash', ['-c', script], { cwd, encoding: 'utf8' });
}
/** `cd` down the whole chain, 100 levels at a time (a `cd` per level takes seconds: bash re-reads the long working directory each time). */
const down = `for i in $(seq ${LEVELS / 100}); do cd ${`${NAME}/`.repeat(100)}; done`;

before(() => {
  base = mkdtempSync(join(tmpdir(), 'avocado-deep-'));
  root = join(base, 'sysroot');
  mkdirSync(join(root, 'usr'), { recursive: true });
  sh(`cd usr && for i in $(seq ${LEVELS / 100}); do mkdir -p ${`${NAME}/`.repeat(100)} && cd ${`${NAME}/`.repeat(100)}; done && printf 'deep content\\n' > deep.txt && ln -s deep.txt link`, root);
});
// rm copes with any depth (fs.rmSync does not).
after(() => execFileSync('rm', ['-rf', base]));

async function deepFile(): Promise<{ file: FileEntry; entries: number }> {
  const { tree } = await walkSysroot(root, new Exclusions([]), '');
  const all = [...preOrder(tree.root)];
  const file = all.find((e) => e.kind === 'file' && e.name.toString() === 'deep.txt') as FileEntry | undefined;
  assert.ok(file, 'the deepest file was walked');
  return { file, entries: all.length };
}

describe(`a sysroot ${LEVELS} levels deep`, () => {
  it('is walked and read', async () => {
    const { file, entries } = await deepFile();
    assert.ok(file.source.length > 4096, `${file.source.length} bytes`);
    assert.equal(entries, 1 + 1 + LEVELS + 2);
    const src = new SourceFile(file);
    try {
      assert.equal(src.readNew(0, file.size).toString(), 'deep content\n');
    } finally {
      src.close();
    }
  });

  it('gives one short line when such a file changes', async () => {
    const { file } = await deepFile();
    sh(`cd usr && ${down} && rm deep.txt && ln -s /etc/passwd deep.txt`, root);
    try {
      assert.throws(
        () => new SourceFile(file),
        (e: unknown) => e instanceof BuildError && e.line.length < 400 && /^\/.*\/…\(\d+ more levels\)…\/(abcdefgh\/)+deep\.txt changed during the build: it is now a symlink; /.test(e.line),
      );
    } finally {
      sh(`cd usr && ${down} && rm deep.txt && printf 'deep content\\n' > deep.txt`, root);
    }
  });

  for (const value of ['squashfs', 'erofs', 'erofs-lz4'] as const) {
    const family = value.startsWith('erofs') ? 'erofs' : 'squashfs';
    it(`is imaged by the native ${value} writer`, { skip: cannotMount(family) }, async () => {
      const { tree, excluded } = await walkSysroot(root, new Exclusions([]), '');
      const req: BuildRequest = {
        tree,
        excluded,
        filesystem: filesystemInfo(value)!,
        sourceDateEpoch: 0,
        output: join(base, `${value}.raw`),
        signal: new AbortController().signal,
        progress: () => undefined,
        step: () => undefined,
        warn: () => undefined,
        verbose: () => undefined,
      };
      const engine = new NativeEngine();
      await engine.prepare(req);
      await engine.build(req);
      await withMountedImage(req.output, family, (mnt) => {
        assert.equal(sh(`cd usr && ${down} && cat deep.txt && readlink link`, mnt), 'deep content\ndeep.txt\n');
      });
    });
  }
});
