/** `avocado ext clean`: what it removes, what it leaves, read-only and foreign-owned sysroots, paths outside the volume. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { CLI, TestProject } from './helpers/project.js';
import { isRoot } from './helpers/system.js';
import { snapshotTree } from './helpers/tree.js';

const YAML = `default_target: t
extensions:
  app:
    version: "2.0.0"
    types: [sysext]
    overlay: ov
  app-extra:
    version: "1.0.0"
    types: [sysext]
`;

function file(path: string | Buffer, text = 'x'): void {
  mkdirSync(dirname(path.toString()), { recursive: true });
  writeFileSync(path, text);
}

/** A project with a built app, images of two app versions and of app-extra, stamps, and a second target. */
function setUp(): TestProject {
  const p = new TestProject(YAML);
  file(join(p.dir, 'ov/usr/bin/app'));
  assert.equal(p.run(['ext', 'build', 'app']).code, 0);
  for (const f of ['app-2.0.0.raw', 'app-1.9.0-rc.1.raw', 'app-extra-1.0.0.raw', 'app-notes.raw']) file(join(p.volume, 't/output/extensions', f));
  file(join(p.volume, 't/.stamps/ext/app/build.stamp'), '{}');
  file(join(p.sysroot('t', 'app-extra'), 'usr/bin/extra'));
  file(join(p.sysroot('other', 'app'), 'usr/bin/app'));
  return p;
}

describe('avocado ext clean', () => {
  it("removes the sysroot, every version's image, the record and the stamps, and nothing of other extensions or targets", () => {
    const p = setUp();
    try {
      const r = p.run(['ext', 'clean', 'app', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout);
      const v = (rel: string) => join(p.volume, rel);
      assert.deepEqual(
        doc.removed.map((x: { what: string; path: string }) => [x.what, x.path]),
        [
          ['sysroot', v('t/extensions/app')],
          ['image', v('t/output/extensions/app-1.9.0-rc.1.raw')],
          ['image', v('t/output/extensions/app-2.0.0.raw')],
          ['build record', v('t/.avocado-ext/app.build.json')],
          ['stamps', v('t/.stamps/ext/app')],
        ],
      );
      assert.match(r.stderr, /removed sysroot .*\/t\/extensions\/app \(\d+ entries\)/);
      assert.deepEqual(readdirSync(v('t/output/extensions')).sort(), ['app-extra-1.0.0.raw', 'app-notes.raw']);
      assert.ok(existsSync(p.sysroot('t', 'app-extra')));
      assert.ok(existsSync(p.sysroot('other', 'app')));
      assert.ok(!existsSync(v('t/.avocado-ext')), 'the empty record directory goes');

      const again = p.run(['ext', 'clean', 'app']);
      assert.equal(again.code, 0);
      assert.match(again.stderr, /nothing to remove: app has no sysroot, image or build record for target t/);
      const other = p.run(['ext', 'clean', '-e', 'app', '-t', 'other', '-C', join(p.dir, 'avocado.yaml'), '--volume', p.volume]);
      assert.equal(other.code, 0, other.stderr);
      assert.match(other.stderr, /cleaned app for target other: removed its sysroot/);
      assert.ok(!existsSync(p.sysroot('other', 'app')));
    } finally {
      p.remove();
    }
  });

  it('wants an extension of avocado.yaml', () => {
    const p = new TestProject(YAML);
    try {
      const r = p.run(['ext', 'clean', 'nope']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /extension 'nope' is not defined in .*avocado\.yaml; known extensions: app, app-extra/);
      assert.match(p.run(['ext', 'clean']).stderr, /no extension named: avocado ext clean <NAME>/);
    } finally {
      p.remove();
    }
  });

  it('refuses a path that resolves outside the volume, removing nothing', () => {
    const p = setUp();
    const outside = mkdtempSync(join(tmpdir(), 'avocado-outside-'));
    try {
      file(join(outside, 'extensions/app-2.0.0.raw'));
      rmSync(join(p.volume, 't/output'), { recursive: true });
      symlinkSync(outside, join(p.volume, 't/output'));
      const before = snapshotTree(p.volume);
      const r = p.run(['ext', 'clean', 'app']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /app-2\.0\.0\.raw resolves to .*avocado-outside-.*, outside the volume .*; nothing was removed/);
      assert.deepEqual(snapshotTree(p.volume), before);
      assert.ok(existsSync(join(outside, 'extensions/app-2.0.0.raw')));
    } finally {
      p.remove();
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('removes a sysroot with read-only directories, files of other users and non-UTF-8 names', { skip: isRoot() ? false : 'needs root (chown)' }, () => {
    const p = setUp();
    try {
      const s = p.sysroot('t', 'app');
      const odd = Buffer.from(`${s}/usr/share/\xe9\xff`, 'latin1');
      file(join(s, 'usr/share/x/y'));
      mkdirSync(odd);
      file(Buffer.concat([odd, Buffer.from('/f')]));
      chownSync(join(s, 'usr/share/x/y'), 65534, 65534);
      chmodSync(join(s, 'usr/share/x/y'), 0o400);
      chownSync(join(s, 'usr/share/x'), 65534, 65534);
      for (const d of [odd, join(s, 'usr/share/x'), join(s, 'usr/share'), join(s, 'usr')]) chmodSync(d, 0o555);
      const r = p.run(['ext', 'clean', 'app']);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!existsSync(s));
    } finally {
      p.remove();
    }
  });

  it('as its owner, gets through read-only directories it owns', { skip: isRoot() ? false : 'needs root (to run the CLI as another user)' }, () => {
    const p = setUp();
    try {
      const s = p.sysroot('t', 'app');
      file(join(s, 'usr/share/ro/deeper/f'));
      const chownTree = (dir: string) => {
        chownSync(dir, 65534, 65534);
        for (const n of readdirSync(dir, { withFileTypes: true })) {
          if (n.isDirectory()) chownTree(join(dir, n.name));
          else chownSync(join(dir, n.name), 65534, 65534);
        }
      };
      chownTree(p.volume);
      chmodSync(p.dir, 0o755);
      chmodSync(join(s, 'usr/share/ro/deeper'), 0o500);
      chmodSync(join(s, 'usr/share/ro'), 0o000);
      const r = spawnSync(process.execPath, [CLI, 'ext', 'clean', 'app'], { cwd: p.dir, uid: 65534, gid: 65534, encoding: 'utf8', env: { PATH: process.env.PATH } });
      assert.equal(r.status, 0, r.stderr);
      assert.ok(!existsSync(s));
    } finally {
      p.remove();
    }
  });
});
