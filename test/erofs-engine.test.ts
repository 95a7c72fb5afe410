/**
 * EROFS through the native engine and the CLI: the line `prepare` prints, images for every EROFS
 * value that mount, `erofs_cluster_size` from avocado.yaml (validated, reaching both engines),
 * prompt abort, and files that vanish or change during the build becoming a BuildError naming
 * them.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BuildRequest } from '../src/engines/engine.js';
import { NativeEngine } from '../src/engines/native.js';
import { filesystemInfo } from '../src/formats/filesystems.js';
import { Exclusions } from '../src/sysroot/exclude.js';
import { walkSysroot } from '../src/sysroot/walk.js';
import { BuildError } from '../src/util/errors.js';
import { pseudoRandom, writeReleaseFiles } from './helpers/corner-tree.js';
import { withMountedImage } from './helpers/mount.js';
import { TestProject } from './helpers/project.js';
import { cannotMount, missingTools } from './helpers/system.js';
import { decodeSuperblock } from './helpers/erofs.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'avocado-erofs-engine-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function request(src: string, value: string, opts: { signal?: AbortSignal; clusterSize?: number } = {}): Promise<BuildRequest> {
  const { tree, excluded } = await walkSysroot(src, new Exclusions([]), '');
  return {
    tree,
    excluded,
    filesystem: filesystemInfo(value)!,
    erofsClusterSize: opts.clusterSize,
    sourceDateEpoch: 1700000000,
    output: join(dir, `${value}-${Math.random().toString(36).slice(2)}.raw`),
    signal: opts.signal ?? new AbortController().signal,
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

const text = (n: number) => Buffer.from('the native EROFS writer\n'.repeat(Math.ceil(n / 24)).slice(0, n));

describe('native engine, EROFS', () => {
  it('names the writer, compression, cluster size, threads and the oldest kernel that mounts the image', async () => {
    const engine = new NativeEngine();
    const src = sysroot('small', { 'usr/lib/a': 'a\n' });
    assert.match(await engine.prepare(await request(src, 'erofs')), /^native EROFS writer, uncompressed; mounts on Linux ≥ 5\.4 \(5\.15 if/);
    assert.match(await engine.prepare(await request(src, 'erofs-lz4')), /^native EROFS writer, LZ4HC, 4 KiB clusters, (\d+ threads|on the main thread \(a small tree\)); mounts on Linux ≥ 5\.4$/);
    assert.match(await engine.prepare(await request(src, 'erofs-lz4', { clusterSize: 65536 })), /LZ4HC, 64 KiB clusters, .*Linux ≥ 5\.13$/);
    assert.match(await engine.prepare(await request(src, 'erofs-zst')), /^native EROFS writer, zstd level 3 \((zstd-napi|@bokuweb\/zstd-wasm) \d.*\), 4 KiB clusters, .*Linux ≥ 6\.10$/);
    assert.match(await engine.prepare(await request(src, 'erofs', { clusterSize: 65536 })), /erofs_cluster_size applies to compressed EROFS only/);
    await assert.rejects(engine.prepare(await request(src, 'erofs-lz4', { clusterSize: 5000 })), (e: unknown) => e instanceof BuildError && /power of two/.test(e.message));
  });

  for (const value of ['erofs', 'erofs-lz4', 'erofs-zst']) {
    it(`builds ${value} that mounts`, { skip: cannotMount('erofs') }, async () => {
      const engine = new NativeEngine();
      const req = await request(sysroot(`mountable-${value}`, { 'usr/lib/a': 'hello\n', 'usr/lib/t': text(100_000) }), value);
      await engine.prepare(req);
      await engine.build(req);
      await withMountedImage(req.output, 'erofs', (mnt) => {
        assert.equal(readFileSync(join(mnt, 'usr/lib/a'), 'utf8'), 'hello\n');
        assert.ok(readFileSync(join(mnt, 'usr/lib/t')).equals(text(100_000)));
      });
    });
  }

  it('stops promptly when aborted, rejecting with the abort reason', async () => {
    const src = sysroot('big', { 'usr/lib/big': Buffer.concat([pseudoRandom(24 << 20, 9), text(24 << 20)]) });
    const controller = new AbortController();
    const engine = new NativeEngine();
    const req = await request(src, 'erofs-lz4', { signal: controller.signal });
    await engine.prepare(req);
    const started = performance.now();
    setTimeout(() => controller.abort(new Error('interrupted for the test')), 300);
    await assert.rejects(engine.build(req), /interrupted for the test/);
    assert.ok(performance.now() - started < 5000, `took ${performance.now() - started} ms`);
  });

  for (const value of ['erofs', 'erofs-lz4']) {
    it(`reports a file that vanished after the walk, naming it (${value})`, async () => {
      const src = sysroot(`vanish-${value}`, { 'usr/lib/gone': text(30_000) });
      const engine = new NativeEngine();
      const req = await request(src, value);
      unlinkSync(join(src, 'usr/lib/gone'));
      await assert.rejects(engine.build(req), (e: unknown) => e instanceof BuildError && /cannot read .*usr\/lib\/gone: it was removed after the walk/.test(e.message));
    });

    it(`reports a file that shrank or grew during the build (${value})`, async () => {
      const src = sysroot(`change-${value}`, { 'usr/lib/shrinks': text(300_000), 'usr/lib/grows': 'z'.repeat(10) });
      const engine = new NativeEngine();
      const req = await request(src, value);
      truncateSync(join(src, 'usr/lib/shrinks'), 1000);
      await assert.rejects(engine.build(req), (e: unknown) => e instanceof BuildError && /usr\/lib\/shrinks changed during the build: it is shorter/.test(e.message));
      writeFileSync(join(src, 'usr/lib/shrinks'), text(300_000));
      writeFileSync(join(src, 'usr/lib/grows'), 'z'.repeat(20));
      await assert.rejects(engine.build(req), (e: unknown) => e instanceof BuildError && /usr\/lib\/grows changed during the build: it is longer/.test(e.message));
    });
  }
});

describe('erofs_cluster_size in avocado.yaml', () => {
  const yaml = (fs: string, size: string) => `default_target: qemux86-64
extensions:
  app:
    version: "1.0.0"
    filesystem: ${fs}
    erofs_cluster_size: ${size}
`;
  function project(fs: string, size: string): TestProject {
    const p = new TestProject(yaml(fs, size));
    const root = p.makeSysroot('qemux86-64', 'app');
    writeReleaseFiles(root, 'app-1.0.0');
    mkdirSync(join(root, 'usr/share/app'), { recursive: true });
    writeFileSync(join(root, 'usr/share/app/data'), text(200_000));
    return p;
  }

  it('is validated at its line', () => {
    const p = project('erofs-lz4', '5000');
    try {
      const r = p.run(['ext', 'image', 'app']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /avocado\.yaml:6:\d+: extensions\.app\.erofs_cluster_size: must be a power of two from 4096 to 262144/);
    } finally {
      p.remove();
    }
  });

  for (const engine of ['native', 'tools']) {
    it(`gives big clusters with the ${engine} engine`, { skip: cannotMount('erofs') ?? (engine === 'tools' ? missingTools('mkfs.erofs', 'dump.erofs') : undefined) }, async () => {
      const p = project('erofs-lz4', '65536');
      try {
        const r = p.run(['ext', 'image', 'app', '--engine', engine]);
        assert.equal(r.code, 0, r.stderr);
        assert.doesNotMatch(r.stderr, /unknown extension key/);
        const image = p.image('qemux86-64', 'app', '1.0.0');
        const sb = decodeSuperblock(readFileSync(image));
        assert.equal(sb.featureIncompat & 2, 2, 'big pclusters (COMPR_CFGS) in the superblock');
        if (engine === 'tools') assert.match(execFileSync('dump.erofs', ['-s', image], { encoding: 'utf8' }), /big_pcluster/);
        await withMountedImage(image, 'erofs', (mnt) => assert.ok(readFileSync(join(mnt, 'usr/share/app/data')).equals(text(200_000))));
      } finally {
        p.remove();
      }
    });
  }
});
