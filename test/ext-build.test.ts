/** `avocado ext build`: overlay copy, release files as the Avocado CLI writes them, service links. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { releaseFileContent, quoteValue } from '../src/extbuild/release.js';
import { installTargets } from '../src/extbuild/services.js';
import { CLI, TestProject } from './helpers/project.js';
import { isRoot } from './helpers/system.js';
import { snapshotTree } from './helpers/tree.js';

function overlayFile(root: string, rel: string, text: string, mode = 0o644): void {
  mkdirSync(join(root, rel, '..'), { recursive: true });
  writeFileSync(join(root, rel), text);
  chmodSync(join(root, rel), mode);
}

describe('release file content', () => {
  const ext = {
    reloadServiceManager: true,
    sysextScopes: ['system', 'portable'],
    confextScopes: ['system'],
    modprobe: ['nvidia', 'i2c-dev'],
    onMerge: ['echo "merged $NAME"'],
    onUnmerge: ['systemctl restart foo'],
    enableServices: ['a.service', 'b.timer'],
  } as unknown as Parameters<typeof releaseFileContent>[1];
  it('writes the sysext fields and hooks detected from content', () => {
    const found = { kernelModules: true, sysusers: { sysext: true, confext: false }, tmpfiles: { sysext: true, confext: false }, ldconfig: true };
    assert.equal(
      releaseFileContent('sysext', ext, found),
      [
        'ID=_any',
        'EXTENSION_RELOAD_MANAGER=1',
        'SYSEXT_SCOPE=system portable',
        'AVOCADO_ON_MERGE="depmod"',
        'AVOCADO_ON_MERGE="modprobe nvidia"',
        'AVOCADO_ON_MERGE="modprobe i2c-dev"',
        'AVOCADO_ON_MERGE="systemd-sysusers"',
        'AVOCADO_ON_MERGE="systemd-tmpfiles --create"',
        'AVOCADO_ON_MERGE="echo \\"merged \\$NAME\\""',
        'AVOCADO_ON_UNMERGE="systemctl restart foo"',
        '',
      ].join('\n'),
    );
  });
  it('writes the confext fields, ldconfig and enabled services', () => {
    const found = { kernelModules: true, sysusers: { sysext: false, confext: true }, tmpfiles: { sysext: false, confext: false }, ldconfig: true };
    assert.equal(
      releaseFileContent('confext', ext, found),
      'ID=_any\nEXTENSION_RELOAD_MANAGER=1\nCONFEXT_SCOPE=system\nAVOCADO_ON_MERGE="systemd-sysusers"\nAVOCADO_ON_MERGE="ldconfig"\nAVOCADO_ON_MERGE="echo \\"merged \\$NAME\\""\nAVOCADO_ON_UNMERGE="systemctl restart foo"\nAVOCADO_ENABLE_SERVICES="a.service b.timer"\n',
    );
  });
  it('quotes values for os-release parsers', () => {
    assert.equal(quoteValue('a "b" `c` $d \\e'), '"a \\"b\\" \\`c\\` \\$d \\\\e"');
  });
  it('reads [Install] targets', () => {
    const at = (line: number) => (name: string) => ({ name, line });
    assert.deepEqual(installTargets('[Unit]\nWantedBy=no.target\n[Install]\nWantedBy=a.target b.target\nWantedBy=c.target,d.target\nRequiredBy=e.target\n# WantedBy=x\nWantedBy=f.target \\\n  g.target\n'), {
      wantedBy: [...['a.target', 'b.target'].map(at(4)), ...['c.target', 'd.target'].map(at(5)), ...['f.target', 'g.target'].map(at(8))],
      requiredBy: [{ name: 'e.target', line: 6 }],
    });
  });
});

describe('avocado ext build', () => {
  it('copies the overlay exactly, writes release files, links services, removes other versions', () => {
    const p = new TestProject(`default_target: rpi4
extensions:
  app:
    version: "2.0.0"
    overlay: files
    enable_services: [app.service]
    reload_service_manager: true
    packages: {curl: "*"}
`);
    try {
      const o = join(p.dir, 'files');
      overlayFile(o, 'usr/bin/app', 'app', 0o4755);
      overlayFile(o, 'usr/lib/modules/6.1/extra/drv.ko.xz', 'ko');
      overlayFile(o, 'usr/lib/tmpfiles.d/app.conf', 'd /run/app');
      overlayFile(o, 'etc/app/app.conf', 'x=1', 0o600);
      overlayFile(o, 'etc/ld.so.conf.d/app.conf', '/usr/lib/app');
      overlayFile(o, 'usr/lib/systemd/system/app.service', '[Service]\nExecStart=/usr/bin/app\n[Install]\nWantedBy=multi-user.target\nRequiredBy=network.target\n');
      overlayFile(o, '.hidden', 'merge copies dot-files');
      const sysroot = p.makeSysroot('rpi4', 'app');
      overlayFile(sysroot, 'usr/lib/extension-release.d/extension-release.app-1.0.0', 'ID=_any\n');
      overlayFile(sysroot, 'usr/lib/extension-release.d/extension-release.app-extra-1.0.0', 'ID=_any\n');
      overlayFile(sysroot, 'usr/share/from-sdk', 'kept');

      const r = p.run(['ext', 'build', 'app', '--json'], {});
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /warning: packages configured: installing packages .* needs the Avocado SDK and is not done here/);
      const doc = JSON.parse(r.stdout);
      assert.deepEqual(doc.releaseFiles, ['usr/lib/extension-release.d/extension-release.app-2.0.0', 'etc/extension-release.d/extension-release.app-2.0.0']);
      assert.deepEqual(doc.removedReleaseFiles, ['usr/lib/extension-release.d/extension-release.app-1.0.0']);

      assert.equal(lstatSync(join(sysroot, 'usr/bin/app')).mode & 0o7777, 0o4755);
      assert.equal(lstatSync(join(sysroot, 'etc/app/app.conf')).mode & 0o7777, 0o600);
      assert.ok(existsSync(join(sysroot, '.hidden')));
      assert.ok(existsSync(join(sysroot, 'usr/share/from-sdk')), 'merge keeps what was there');
      assert.ok(existsSync(join(sysroot, 'usr/lib/extension-release.d/extension-release.app-extra-1.0.0')), "another extension's release file is not touched");
      assert.equal(
        readFileSync(join(sysroot, 'usr/lib/extension-release.d/extension-release.app-2.0.0'), 'utf8'),
        'ID=_any\nEXTENSION_RELOAD_MANAGER=1\nSYSEXT_SCOPE=system\nAVOCADO_ON_MERGE="depmod"\nAVOCADO_ON_MERGE="systemd-tmpfiles --create"\n',
      );
      assert.equal(
        readFileSync(join(sysroot, 'etc/extension-release.d/extension-release.app-2.0.0'), 'utf8'),
        'ID=_any\nEXTENSION_RELOAD_MANAGER=1\nCONFEXT_SCOPE=system\nAVOCADO_ON_MERGE="ldconfig"\nAVOCADO_ENABLE_SERVICES="app.service"\n',
      );
      assert.equal(readlinkSync(join(sysroot, 'etc/systemd/system/multi-user.target.wants/app.service')), '/usr/lib/systemd/system/app.service');
      assert.equal(readlinkSync(join(sysroot, 'etc/systemd/system/network.target.requires/app.service')), '/usr/lib/systemd/system/app.service');
      assert.equal(lstatSync(join(sysroot, 'etc/extension-release.d')).mode & 0o777, 0o755);
    } finally {
      p.remove();
    }
  });

  it('opaque mode copies the top-level entries but not dot-files', () => {
    const p = new TestProject('default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n    types: [sysext]\n    overlay: {dir: ov-link, mode: opaque}\n');
    try {
      overlayFile(join(p.dir, 'ov'), 'usr/bin/x', 'x', 0o755);
      overlayFile(join(p.dir, 'ov'), '.git-keep', '');
      symlinkSync('ov', join(p.dir, 'ov-link')); // the overlay directory may be a symlink
      assert.equal(p.run(['ext', 'build', 'app']).code, 0);
      const sysroot = p.sysroot('t', 'app');
      assert.ok(existsSync(join(sysroot, 'usr/bin/x')));
      assert.ok(!existsSync(join(sysroot, '.git-keep')));
      assert.ok(!existsSync(join(sysroot, 'etc/extension-release.d')), 'no confext release file without confext in types');
    } finally {
      p.remove();
    }
  });

  it('fails clearly on a missing overlay, a missing unit, a unit without targets', () => {
    const yaml = (extra: string) => `default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n${extra}`;
    const p = new TestProject(yaml('    overlay: nope\n'));
    try {
      let r = p.run(['ext', 'build', 'app']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /avocado\.yaml:5:14: extensions\.app\.overlay: overlay directory 'nope' not found: .*\/nope; create it/);
      p.writeConfig(yaml('    enable_services: [ghost.service]\n'));
      r = p.run(['ext', 'build', 'app']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /enable_services lists ghost\.service, but the sysroot has no such unit/);
      overlayFile(p.sysroot('t', 'app'), 'etc/systemd/system/ghost.service', '[Service]\nExecStart=/bin/true\n');
      r = p.run(['ext', 'build', 'app']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /its \[Install\] section has no WantedBy= or RequiredBy=; add one/);
      p.writeConfig(yaml('    types: [sysext]\n    enable_services: [ghost.service]\n'));
      r = p.run(['ext', 'build', 'app']);
      assert.equal(r.code, 0);
      assert.match(r.stderr, /warning: extensions\.app\.enable_services is set but confext is not in types/);
    } finally {
      p.remove();
    }
  });

  it('fails before writing anything: the volume is byte-for-byte as before', () => {
    const yaml = (extra: string) => `default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n    overlay: ov\n${extra}`;
    const p = new TestProject(yaml('    enable_services: [app.service]\n'));
    try {
      const o = join(p.dir, 'ov');
      overlayFile(o, 'usr/bin/app', 'v1', 0o755);
      overlayFile(o, 'usr/lib/systemd/system/app.service', '[Install]\nWantedBy=multi-user.target\n');
      let r = p.run(['ext', 'build', 'app']);
      assert.equal(r.code, 0, r.stderr);
      const before = snapshotTree(p.volume);
      const unchanged = (what: string) => assert.deepEqual(snapshotTree(p.volume), before, `${what} changed the volume`);

      // A changed overlay plus a unit that does not exist: the overlay is not copied, no release file is written.
      overlayFile(o, 'usr/bin/app', 'v2', 0o755);
      p.writeConfig(yaml('    enable_services: [app.service, ghost.service]\n'));
      r = p.run(['ext', 'build', 'app']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /enable_services lists ghost\.service, but the sysroot has no such unit/);
      unchanged('a missing unit');

      // The unit is in the sysroot only because the previous build copied it; the overlay no longer has it.
      rmSync(join(o, 'usr/lib/systemd'), { recursive: true });
      p.writeConfig(yaml('    enable_services: [app.service]\n'));
      r = p.run(['ext', 'build', 'app']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /enable_services lists app\.service, but the sysroot has no such unit .*\(overlay included\)/);
      unchanged('a unit the build would remove');

      // A unit without [Install] targets, given by the overlay.
      overlayFile(o, 'usr/lib/systemd/system/app.service', '[Service]\nExecStart=/usr/bin/app\n');
      r = p.run(['ext', 'build', 'app']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /its \[Install\] section has no WantedBy= or RequiredBy=/);
      unchanged('a unit without targets');

      // A directory of the package manager where the overlay has a file.
      overlayFile(o, 'usr/lib/systemd/system/app.service', '[Install]\nWantedBy=multi-user.target\n');
      mkdirSync(join(p.sysroot('t', 'app'), 'usr/share/conflict'), { recursive: true });
      overlayFile(o, 'usr/share/conflict', 'file');
      const before2 = snapshotTree(p.volume);
      r = p.run(['ext', 'build', 'app']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /the sysroot has a directory at usr\/share\/conflict, where the overlay 'ov' needs a file; remove usr\/share\/conflict from .*ext clean/);
      assert.deepEqual(snapshotTree(p.volume), before2, 'a conflict changed the volume');

      // A missing overlay, with no volume yet: nothing is created.
      const q = new TestProject(yaml(''));
      try {
        assert.equal(q.run(['ext', 'build', 'app']).code, 2);
        assert.ok(!existsSync(q.volume), 'no volume is created by a failed build');
      } finally {
        q.remove();
      }
    } finally {
      p.remove();
    }
  });

  it('removes what an earlier build wrote and this one does not, never what it did not write', () => {
    const p = new TestProject('default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n    overlay: ov\n    enable_services: [app.service]\n');
    try {
      const o = join(p.dir, 'ov');
      const sysroot = p.makeSysroot('t', 'app');
      overlayFile(sysroot, 'usr/share/pkg/installed-by-dnf', 'rpm');
      overlayFile(sysroot, 'usr/bin/from-dnf', 'rpm', 0o755);
      overlayFile(o, 'usr/bin/app', 'app', 0o755);
      overlayFile(o, 'usr/bin/old', 'old', 0o755);
      overlayFile(o, 'usr/bin/replaced', 'ours');
      overlayFile(o, 'usr/share/app/data/a.txt', 'a');
      overlayFile(o, 'usr/share/pkg/ours', 'ours');
      overlayFile(o, 'usr/share/x', 'file, later a directory');
      const latin1Name = Buffer.from(join(o, 'usr/share/l\xe9-\xff'), 'latin1');
      writeFileSync(latin1Name, 'non-UTF-8');
      overlayFile(o, 'usr/lib/systemd/system/app.service', '[Install]\nWantedBy=multi-user.target\n');
      symlinkSync('app', join(o, 'usr/bin/app-link'));

      let r = p.run(['ext', 'build', 'app', '--json']);
      assert.equal(r.code, 0, r.stderr);
      let doc = JSON.parse(r.stdout);
      const entries = doc.overlay.entries;
      assert.equal(doc.overlay.copied + doc.overlay.unchanged, entries);
      assert.ok(!doc.record.startsWith(`${sysroot}/`), 'the record is not in the sysroot');
      const record = JSON.parse(readFileSync(doc.record, 'utf8'));
      assert.equal(record.schemaVersion, 1);
      assert.ok(record.paths.some((x: { pathBase64?: string }) => x.pathBase64 === Buffer.from('usr/share/l\xe9-\xff', 'latin1').toString('base64')));
      assert.ok(!record.paths.some((x: { path?: string }) => x.path === 'usr/bin/from-dnf' || x.path === 'usr/share/pkg' || x.path === 'usr'), 'what was there is not recorded');

      // Nothing changed: the same count, nothing copied.
      r = p.run(['ext', 'build', 'app', '--json']);
      doc = JSON.parse(r.stdout);
      assert.deepEqual([doc.overlay.entries, doc.overlay.copied, doc.overlay.unchanged], [entries, 0, entries]);
      assert.match(r.stderr, new RegExp(`${entries} entries into .*, 0 copied, ${entries} unchanged`));
      assert.deepEqual(doc.removed, []);

      // The package manager replaces one of our files (a new inode); the overlay drops files, a
      // directory, a non-UTF-8 name, the unit; a file becomes a directory; confext is dropped.
      writeFileSync(join(sysroot, 'usr/bin/replaced.rpmnew'), 'rpm');
      renameSync(join(sysroot, 'usr/bin/replaced.rpmnew'), join(sysroot, 'usr/bin/replaced'));
      for (const rel of ['usr/bin/old', 'usr/bin/replaced', 'usr/share/app', 'usr/share/pkg/ours', 'usr/share/x', 'usr/bin/app-link']) rmSync(join(o, rel), { recursive: true });
      rmSync(latin1Name);
      overlayFile(o, 'usr/share/x/now-a-dir', 'd');
      p.writeConfig('default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n    types: [sysext]\n    overlay: ov\n');
      r = p.run(['ext', 'build', 'app', '--json', '--verbose']);
      assert.equal(r.code, 0, r.stderr);
      doc = JSON.parse(r.stdout);
      assert.deepEqual(doc.removed.sort(), [
        'etc',
        'etc/extension-release.d',
        'etc/extension-release.d/extension-release.app-1.0.0',
        'etc/systemd',
        'etc/systemd/system',
        'etc/systemd/system/multi-user.target.wants',
        'etc/systemd/system/multi-user.target.wants/app.service',
        'usr/bin/app-link',
        'usr/bin/old',
        'usr/share/app',
        'usr/share/app/data',
        'usr/share/app/data/a.txt',
        'usr/share/l\\xe9-\\xff',
        'usr/share/pkg/ours',
        'usr/share/x',
      ]);
      assert.deepEqual(doc.kept, [{ path: 'usr/bin/replaced', reason: 'replaced since ext build wrote it' }]);
      assert.match(r.stderr, /removed 15 path\(s\) an earlier ext build wrote that this build no longer writes/);
      assert.match(r.stderr, /^ {2}removed usr\/bin\/old/m);
      assert.match(r.stderr, /left 1 path\(s\) in place .* \(e\.g\. usr\/bin\/replaced\): not removed/);
      assert.equal(readFileSync(join(sysroot, 'usr/bin/replaced'), 'utf8'), 'rpm', "the package manager's file stays");
      assert.equal(readFileSync(join(sysroot, 'usr/share/pkg/installed-by-dnf'), 'utf8'), 'rpm');
      assert.ok(existsSync(join(sysroot, 'usr/bin/from-dnf')));
      assert.equal(readFileSync(join(sysroot, 'usr/share/x/now-a-dir'), 'utf8'), 'd');
      assert.ok(!existsSync(join(sysroot, 'etc')), 'directories the build created and that became empty go');
      assert.deepEqual(readdirSync(join(sysroot, 'usr/bin')).sort(), ['app', 'from-dnf', 'replaced']);
    } finally {
      p.remove();
    }
  });

  it('keeps a directory it created when something else put files in it, and removes it once it is empty', () => {
    const p = new TestProject('default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n    types: [sysext]\n    overlay: ov\n');
    try {
      const o = join(p.dir, 'ov');
      overlayFile(o, 'opt/app/bin/app', 'app', 0o755);
      assert.equal(p.run(['ext', 'build', 'app']).code, 0);
      const sysroot = p.sysroot('t', 'app');
      overlayFile(sysroot, 'opt/app/plugin', 'from a package');
      rmSync(join(o, 'opt'), { recursive: true });
      overlayFile(o, 'usr/bin/x', 'x');
      let r = p.run(['ext', 'build', 'app', '--json', '-v']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout).removed.sort(), ['opt/app/bin', 'opt/app/bin/app']);
      assert.match(r.stderr, /kept opt\/app: not empty/);
      assert.ok(existsSync(join(sysroot, 'opt/app/plugin')));
      rmSync(join(sysroot, 'opt/app/plugin'));
      r = p.run(['ext', 'build', 'app', '--json']);
      assert.deepEqual(JSON.parse(r.stdout).removed.sort(), ['opt', 'opt/app']);
      assert.deepEqual(readdirSync(sysroot).sort(), ['usr']);
    } finally {
      p.remove();
    }
  });

  it('ignores an unreadable record with a warning, and the closing hint keeps -t, -C and --volume', () => {
    const p = new TestProject('default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n    types: [sysext]\n');
    try {
      mkdirSync(join(p.dir, 'my project'));
      p.writeConfig('default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n    types: [sysext]\n', 'my project/avocado.yaml');
      let r = p.run(['ext', 'build', 'app', '-t', 'rpi4', '-C', 'my project/avocado.yaml']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /ready\n {2}next: avocado ext image app -t rpi4 -C 'my project\/avocado\.yaml'\n/);
      r = p.run(['--volume', 'vol', 'ext', 'build', 'app']);
      assert.match(r.stderr, /ready\n {2}next: avocado --volume vol ext image app\n/);
      writeFileSync(join(p.dir, 'vol/t/.avocado-ext/app.build.json'), '{"schemaVersion": 1');
      r = p.run(['--volume', 'vol', 'ext', 'build', 'app']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /warning: .*app\.build\.json is not a build record of this version .*: ignored, so nothing an earlier build wrote is removed this time/);
      assert.equal(JSON.parse(readFileSync(join(p.dir, 'vol/t/.avocado-ext/app.build.json'), 'utf8')).extension, 'app', 'a new record replaces it');
    } finally {
      p.remove();
    }
  });

  it('as a user: an unreadable overlay file fails the checks; a write error records what was written', { skip: isRoot() ? false : 'needs root (to run the CLI as another user)' }, () => {
    const p = new TestProject('default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n    types: [sysext]\n    overlay: ov\n');
    try {
      const o = join(p.dir, 'ov');
      overlayFile(o, 'usr/bin/a', 'a');
      overlayFile(o, 'usr/bin/secret', 's', 0o600);
      overlayFile(o, 'usr/share/z', 'z');
      chmodSync(p.dir, 0o755);
      chownSync(p.dir, 65534, 65534);
      for (const rel of ['ov', 'ov/usr', 'ov/usr/bin', 'ov/usr/bin/a', 'ov/usr/share', 'ov/usr/share/z']) chownSync(join(p.dir, rel), 65534, 65534);
      const asNobody = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: p.dir, uid: 65534, gid: 65534, encoding: 'utf8', env: { PATH: process.env.PATH } });
      let r = asNobody(['ext', 'build', 'app']);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /overlay directory 'ov' holds 1 file\(s\) this user cannot read \(usr\/bin\/secret\); make them readable/);
      assert.ok(!existsSync(p.volume));

      // The sysroot's usr/share belongs to root and is read-only: usr/bin is written, usr/share/z is not.
      chownSync(join(p.dir, 'ov/usr/bin/secret'), 65534, 65534);
      mkdirSync(join(p.sysroot('t', 'app'), 'usr/share'), { recursive: true });
      for (const rel of ['', 't', 't/extensions', 't/extensions/app', 't/extensions/app/usr']) chownSync(join(p.volume, rel), 65534, 65534);
      chmodSync(join(p.sysroot('t', 'app'), 'usr/share'), 0o555);
      r = asNobody(['ext', 'build', 'app']);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /error: cannot write usr\/share\/z in .*\/t\/extensions\/app: EACCES \(.*\); fix that and run ext build again \(what was written before the error is recorded in .*app\.build\.json\)/);
      const recorded = JSON.parse(readFileSync(join(p.volume, 't/.avocado-ext/app.build.json'), 'utf8')).paths.map((x: { path: string }) => x.path);
      assert.deepEqual(recorded, ['usr/bin', 'usr/bin/a', 'usr/bin/secret']);
      assert.deepEqual(readdirSync(join(p.sysroot('t', 'app'), 'usr/share')), [], 'no temporary file is left');
    } finally {
      p.remove();
    }
  });

  it("ext image warns when AVOCADO_ENABLE_SERVICES names a unit the sysroot lacks", () => {
    const p = new TestProject('default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n    types: [confext]\n    overlay: ov\n    enable_services: [app.service]\n');
    try {
      overlayFile(join(p.dir, 'ov'), 'etc/systemd/system/app.service', '[Install]\nWantedBy=multi-user.target\n');
      assert.equal(p.run(['ext', 'build', 'app']).code, 0);
      rmSync(join(p.sysroot('t', 'app'), 'etc/systemd/system/app.service'));
      const r = p.run(['ext', 'image', 'app']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /warning: etc\/extension-release\.d\/extension-release\.app-1\.0\.0: AVOCADO_ENABLE_SERVICES names app\.service, but the sysroot has no app\.service in etc\/systemd\/system or usr\/lib\/systemd\/system/);
    } finally {
      p.remove();
    }
  });
});

