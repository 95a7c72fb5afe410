/** `avocado ext build`: overlay copy, release files as the Avocado CLI writes them, service links. */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { releaseFileContent, quoteValue } from '../src/extbuild/release.js';
import { installTargets } from '../src/extbuild/services.js';
import { TestProject } from './helpers/project.js';

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
    assert.deepEqual(installTargets('[Unit]\nWantedBy=no.target\n[Install]\nWantedBy=a.target b.target\nWantedBy=c.target,d.target\nRequiredBy=e.target\n# WantedBy=x\n'), {
      wantedBy: ['a.target', 'b.target', 'c.target', 'd.target'],
      requiredBy: ['e.target'],
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
    const p = new TestProject('default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n    types: [sysext]\n    overlay: {dir: ov, mode: opaque}\n');
    try {
      overlayFile(join(p.dir, 'ov'), 'usr/bin/x', 'x', 0o755);
      overlayFile(join(p.dir, 'ov'), '.git-keep', '');
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
});
