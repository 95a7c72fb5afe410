/**
 * The sysroot changing under a build: a walked file swapped for a symlink, another file or a
 * fifo, and a directory swapped for a symlink while it is walked. What is read must be what was
 * walked, a fifo must never block, and each case is a BuildError naming the path.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { BuildRequest } from '../src/engines/engine.js';
import { NativeEngine } from '../src/engines/native.js';
import { filesystemInfo } from '../src/formats/filesystems.js';
import { findDuplicates } from '../src/formats/squashfs/dedup.js';
import { findEntry, type FileEntry, type SysrootTree } from '../src/sysroot/entry.js';
import { Exclusions, type ExclusionRule } from '../src/sysroot/exclude.js';
import { lintSysroot } from '../src/sysroot/lint.js';
import { SourceFile } from '../src/sysroot/source-file.js';
import { walkSysroot } from '../src/sysroot/walk.js';
import { BuildError } from '../src/util/errors.js';
import { writeReleaseFiles } from './helpers/corner-tree.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'avocado-swap-'));
  dirs.push(d);
  return d;
}

/** A sysroot with usr/lib/data holding `content`, and a file outside it with the same length (the "secret"). */
function setup(content = 'public data\n') {
  const base = tempDir();
  const root = join(base, 'sysroot');
  mkdirSync(join(root, 'usr/lib'), { recursive: true });
  writeFileSync(join(root, 'usr/lib/data'), content);
  const secret = join(base, 'secret');
  writeFileSync(secret, 'S'.repeat(content.length));
  return { root, secret, data: join(root, 'usr/lib/data') };
}

async function walked(root: string): Promise<SysrootTree> {
  return (await walkSysroot(root, new Exclusions([]), 'hint')).tree;
}

function fileAt(tree: SysrootTree, rel: string): FileEntry {
  const e = findEntry(tree.root, rel);
  assert.equal(e?.kind, 'file');
  return e as FileEntry;
}

const changed = (how: RegExp) => (e: unknown) => e instanceof BuildError && /usr\/lib\/data changed during the build: /.test(e.message) && how.test(e.message);

describe('reading a file that was swapped after the walk', () => {
  it('refuses a symlink in its place (same size as the file)', async () => {
    const { root, secret, data } = setup();
    const file = fileAt(await walked(root), 'usr/lib/data');
    unlinkSync(data);
    symlinkSync(secret, data);
    assert.throws(() => new SourceFile(file), changed(/it is now a symlink/));
  });

  it('refuses another file of the same size renamed over it', async () => {
    const { root, secret, data } = setup();
    const file = fileAt(await walked(root), 'usr/lib/data');
    renameSync(secret, data);
    assert.throws(() => new SourceFile(file), changed(/it was replaced by another file/));
  });

  it('refuses a parent directory swapped for a symlink out of the sysroot', async () => {
    const { root } = setup();
    const file = fileAt(await walked(root), 'usr/lib/data');
    const outside = join(root, '..', 'elsewhere');
    mkdirSync(outside);
    writeFileSync(join(outside, 'data'), 'S'.repeat(file.size));
    rmSync(join(root, 'usr/lib'), { recursive: true });
    symlinkSync(outside, join(root, 'usr/lib'));
    assert.throws(() => new SourceFile(file), changed(/it was replaced by another file/));
  });

  it('refuses a fifo in its place at once, without blocking', async () => {
    // In a child process with a time limit: an open that blocks on the fifo would hang this test runner.
    const { root, data } = setup();
    const script = `
      import { walkSysroot } from ${JSON.stringify(moduleUrl('../src/sysroot/walk.js'))};
      import { Exclusions } from ${JSON.stringify(moduleUrl('../src/sysroot/exclude.js'))};
      import { findEntry } from ${JSON.stringify(moduleUrl('../src/sysroot/entry.js'))};
      import { SourceFile } from ${JSON.stringify(moduleUrl('../src/sysroot/source-file.js'))};
      import { execFileSync } from 'node:child_process';
      import { unlinkSync } from 'node:fs';
      const { tree } = await walkSysroot(${JSON.stringify(root)}, new Exclusions([]), '');
      unlinkSync(${JSON.stringify(data)});
      execFileSync('mkfifo', [${JSON.stringify(data)}]);
      try { new SourceFile(findEntry(tree.root, 'usr/lib/data')); console.log('read it'); } catch (e) { console.log(e.message); }
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' });
    assert.equal(r.signal, null, 'the open did not return');
    assert.match(r.stdout, /usr\/lib\/data changed during the build: it is now a fifo/, r.stderr);
  });

  it('reads the walked file as before when nothing changed', async () => {
    const { root } = setup('hello\n');
    const file = fileAt(await walked(root), 'usr/lib/data');
    const src = new SourceFile(file);
    try {
      assert.equal(src.readNew(0, 6).toString(), 'hello\n');
      src.checkNotLonger();
    } finally {
      src.close();
    }
  });
});

function moduleUrl(rel: string): string {
  return new URL(rel, import.meta.url).href;
}

describe('every reader of file content checks what it opens', () => {
  async function request(root: string, value: string): Promise<BuildRequest> {
    const { tree, excluded } = await walkSysroot(root, new Exclusions([]), '');
    return {
      tree,
      excluded,
      filesystem: filesystemInfo(value)!,
      sourceDateEpoch: 0,
      output: join(tempDir(), 'out.raw'),
      signal: new AbortController().signal,
      progress: () => undefined,
      step: () => undefined,
      warn: () => undefined,
      verbose: () => undefined,
    };
  }

  for (const value of ['squashfs', 'erofs', 'erofs-lz4']) {
    it(`the native ${value} writer`, async () => {
      const { root, secret, data } = setup('x'.repeat(5000));
      const engine = new NativeEngine();
      const req = await request(root, value);
      await engine.prepare(req);
      unlinkSync(data);
      symlinkSync(secret, data);
      await assert.rejects(engine.build(req), changed(/it is now a symlink/));
    });
  }

  it('the squashfs duplicate finder', async () => {
    const { root, secret, data } = setup('same\n');
    writeFileSync(join(root, 'usr/lib/twin'), 'same\n');
    const tree = await walked(root);
    unlinkSync(data);
    symlinkSync(secret, data);
    assert.throws(() => findDuplicates([fileAt(tree, 'usr/lib/data'), fileAt(tree, 'usr/lib/twin')]), changed(/it is now a symlink/));
  });

  it('the release-file lint', async () => {
    const root = join(tempDir(), 'sysroot');
    writeReleaseFiles(root, 'app-1.0.0', ['sysext']);
    const rel = join(root, 'usr/lib/extension-release.d/extension-release.app-1.0.0');
    const tree = await walked(root);
    const other = join(root, '..', 'other');
    writeFileSync(other, 'X'.repeat(fileAt(tree, 'usr/lib/extension-release.d/extension-release.app-1.0.0').size));
    unlinkSync(rel);
    symlinkSync(other, rel);
    await assert.rejects(lintSysroot({ root: tree.root, name: 'app', version: '1.0.0', types: ['sysext'] }), (e: unknown) => e instanceof BuildError && /extension-release\.app-1\.0\.0 changed during the build: it is now a symlink/.test(e.message));
  });
});

describe('a directory swapped while it is walked', () => {
  /** Swaps `usr/lib` for a symlink to a directory outside the sysroot right after the walk has looked at it, before it is listed. */
  class SwappingExclusions extends Exclusions {
    constructor(private readonly swap: () => void) {
      super([]);
    }
    override match(path: string, isDirectory: boolean): ExclusionRule | undefined {
      if (path === 'usr/lib') this.swap();
      return super.match(path, isDirectory);
    }
  }

  it('is not followed out of the sysroot', async () => {
    const { root, secret } = setup();
    const outside = join(root, '..', 'host-dir');
    mkdirSync(outside);
    renameSync(secret, join(outside, 'shadow'));
    const swap = () => {
      renameSync(join(root, 'usr/lib'), join(root, 'usr/lib.old'));
      symlinkSync(outside, join(root, 'usr/lib'));
    };
    await assert.rejects(walkSysroot(root, new SwappingExclusions(swap), ''), (e: unknown) => e instanceof BuildError && /usr\/lib changed during the build: it is no longer a directory/.test(e.message));
  });
});

