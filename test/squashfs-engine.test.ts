/**
 * The native engine as the pipeline uses it: what `prepare` reports, the EROFS fallback to the
 * tools engine (said in the line the build prints), prompt abort, and a file that cannot be read
 * or changes during the build becoming a BuildError that names it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BuildRequest } from '../src/engines/engine.js';
import { DEFAULT_ENGINE } from '../src/engines/index.js';
import { NativeEngine } from '../src/engines/native.js';
import { filesystemInfo } from '../src/formats/filesystems.js';
import { Exclusions } from '../src/sysroot/exclude.js';
import { walkSysroot } from '../src/sysroot/walk.js';
import { BuildError } from '../src/util/errors.js';
import { withMountedImage } from './helpers/mount.js';
import { pseudoRandom } from './helpers/corner-tree.js';
import { cannotMount } from './helpers/system.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'avocado-native-engine-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function request(src: string, value: string, signal = new AbortController().signal): Promise<BuildRequest> {
  const { tree, excluded } = await walkSysroot(src, new Exclusions([]), '');
  return {
    tree,
    excluded,
    filesystem: filesystemInfo(value)!,
    sourceDateEpoch: 1700000000,
    output: join(dir, `${value}-${Math.random().toString(36).slice(2)}.raw`),
    signal,
    progress: () => undefined,
    step: () => undefined,
    warn: () => undefined,
    verbose: () => undefined,
  };
}

function sysroot(name: string, files: Record<string, Buffer | string>): string {
  const root = join(dir, name);
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(join(root, p, '..'), { recursive: true });
    writeFileSync(join(root, p), content);
  }
  return root;
}

describe('native engine', () => {
  it('is the default engine, and squashfs-zst/-xz/-lz4 can be built', () => {
    assert.equal(DEFAULT_ENGINE, 'native');
    for (const v of ['squashfs', 'squashfs-zst', 'squashfs-xz', 'squashfs-lz4']) assert.equal(filesystemInfo(v)?.family, 'squashfs', v);
  });

  it('names the writer, the compression library and the threads', async () => {
    const engine = new NativeEngine();
    const src = sysroot('small', { 'usr/lib/a': 'a\n' });
    assert.match(await engine.prepare(await request(src, 'squashfs')), /^native squashfs writer, gzip \(pako .* level 6\), (\d+ threads|on the main thread \(a small tree\))$/);
    assert.match(await engine.prepare(await request(src, 'squashfs-xz')), /xz \(lzma-native/);
  });

  it('builds squashfs that mounts', { skip: cannotMount('squashfs') }, async () => {
    const engine = new NativeEngine();
    const req = await request(sysroot('mountable', { 'usr/lib/a': 'hello\n' }), 'squashfs-lz4');
    await engine.prepare(req);
    await engine.build(req);
    await withMountedImage(req.output, 'squashfs', (mnt) => assert.equal(readFileSync(join(mnt, 'usr/lib/a'), 'utf8'), 'hello\n'));
  });

  it('stops promptly when aborted, rejecting with the abort reason', async () => {
    const src = sysroot('big', { 'usr/lib/big': pseudoRandom(48 << 20, 9) });
    const controller = new AbortController();
    const engine = new NativeEngine();
    const req = await request(src, 'squashfs-xz', controller.signal);
    await engine.prepare(req);
    const started = performance.now();
    setTimeout(() => controller.abort(new Error('interrupted for the test')), 300);
    await assert.rejects(engine.build(req), /interrupted for the test/);
    assert.ok(performance.now() - started < 5000, `took ${performance.now() - started} ms`);
  });

  it('reports a file that vanished after the walk, naming it', async () => {
    const src = sysroot('vanish', { 'usr/lib/gone': 'x'.repeat(1000) });
    const engine = new NativeEngine();
    const req = await request(src, 'squashfs');
    unlinkSync(join(src, 'usr/lib/gone'));
    await assert.rejects(engine.build(req), (e: unknown) => e instanceof BuildError && /cannot read .*usr\/lib\/gone: it was removed after the walk/.test(e.message));
  });

  it('reports a file that shrank or grew during the build', async () => {
    const src = sysroot('change', { 'usr/lib/shrinks': 'y'.repeat(300_000), 'usr/lib/grows': 'z'.repeat(10) });
    const engine = new NativeEngine();
    const req = await request(src, 'squashfs');
    truncateSync(join(src, 'usr/lib/shrinks'), 1000);
    await assert.rejects(engine.build(req), (e: unknown) => e instanceof BuildError && /usr\/lib\/shrinks changed during the build: it is shorter/.test(e.message));
    writeFileSync(join(src, 'usr/lib/shrinks'), 'y'.repeat(300_000));
    writeFileSync(join(src, 'usr/lib/grows'), 'z'.repeat(20));
    await assert.rejects(engine.build(req), (e: unknown) => e instanceof BuildError && /usr\/lib\/grows changed during the build: it is longer/.test(e.message));
  });
});
