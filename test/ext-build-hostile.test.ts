/**
 * `avocado ext build` with hostile input: names that would be paths, values that would inject
 * keys into the release files, symlinks in the sysroot leading out of it, an overlay outside
 * the project. Each case runs the real CLI on real directories; what lies outside the sysroot
 * (a stand-in for the host) must be byte for byte as before.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { execFileSync } from 'node:child_process';
import { keyOf } from '../src/extbuild/disk.js';
import { readOverlay } from '../src/extbuild/overlay.js';
import { SysrootPlan } from '../src/extbuild/plan.js';
import { BuildError } from '../src/util/errors.js';
import { TestProject } from './helpers/project.js';
import { snapshotTree } from './helpers/tree.js';

function put(root: string, rel: string, text: string): void {
  mkdirSync(join(root, rel, '..'), { recursive: true });
  writeFileSync(join(root, rel), text);
}

const yaml = (extra: string, types = '') => `default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n${types}    overlay: ov\n${extra}`;
const UNIT = '[Unit]\nDescription=app\n\n[Install]\nWantedBy=multi-user.target\n';

/** A project with an overlay shipping app.service, and a "host" directory beside it. */
function project(extra: string, types = ''): { p: TestProject; host: string } {
  const p = new TestProject(yaml(extra, types));
  put(join(p.dir, 'ov'), 'usr/lib/systemd/system/app.service', UNIT);
  const host = join(p.dir, 'host');
  put(host, 'etc/systemd/system/victim.service', UNIT);
  put(host, 'dir/extension-release.d/extension-release.app-0.9.0', 'ID=_any\n');
  return { p, host };
}

describe('ext build: unit names', () => {
  it('refuses enable_services entries that are not unit names, at their line, before writing anything (ext image too)', () => {
    const { p, host } = project('    enable_services: [app.service, X]\n');
    try {
      const before = snapshotTree(host);
      const cases: [string, RegExp][] = [
        ['"../../../../../../../../../..' + host + '/etc/systemd/system/victim.service"', /holds characters a unit name cannot have/],
        ['"app.service\\nID=evil"', /"app\.service\\nID=evil" is not a unit name: it does not end in a unit type/],
        ['"evil\\nID=x.service"', /"evil\\nID=x\.service" is not a unit name: it holds characters/],
        ['"app\\0.service"', /"app\\u0000\.service" is not a unit name/],
        ['".."', /"\.\." is not a unit name/],
        ['""', /"" is not a unit name: it is empty/],
        ['app', /"app" is not a unit name: it does not end in a unit type/],
        ['"@.service"', /starts with '@'/],
      ];
      for (const [value, message] of cases) {
        p.writeConfig(yaml(`    enable_services: [app.service, ${value}]\n`));
        for (const args of [['ext', 'build', 'app'], ['ext', 'image', 'app', '--dry-run']]) {
          const r = p.run(args);
          assert.equal(r.code, 2, `${value}: ${r.stderr}`);
          assert.match(r.stderr, /^error: .*avocado\.yaml:6:36: extensions\.app\.enable_services\[1\]: /m, value);
          assert.match(r.stderr, message, value);
          assert.match(r.stderr, /; give unit file names such as app\.service\n/, value);
          assert.equal(r.stderr.trimEnd().split('\n').filter((l) => l.startsWith('error:')).length, 1);
        }
        assert.ok(!existsSync(p.volume), `${value}: nothing is written`);
      }
      // Templates and instances are unit names.
      p.writeConfig(yaml('    enable_services: [app.service, "get@.service", "getty@tty1.service", "a:b\\\\x2d.socket"]\n'));
      assert.match(p.run(['ext', 'build', 'app']).stderr, /enable_services lists get@\.service, but the sysroot has no such unit/);
      assert.deepEqual(snapshotTree(host), before, 'the host is untouched');
    } finally {
      p.remove();
    }
  });

  it("refuses [Install] values that are not unit names, at the unit file's line, and writes nothing", () => {
    const { p, host } = project('    enable_services: [app.service]\n');
    try {
      const unit = join(p.dir, 'ov/usr/lib/systemd/system/app.service');
      const before = snapshotTree(host);
      const cases: [string, number, RegExp][] = [
        [`WantedBy=../../../../../../../../..${host}/etc/systemd/system`, 5, /WantedBy= names "\.\.\/.*", which is not a unit name/],
        ['WantedBy=multi-user.target \\\n  ../../x.target', 5, /WantedBy= names "\.\.\/\.\.\/x\.target"/],
        ['RequiredBy=..', 5, /RequiredBy= names "\.\.", which is not a unit name/],
        ['WantedBy=multi-user.target\nWantedBy=default', 6, /WantedBy= names "default", which is not a unit name: it does not end in a unit type/],
      ];
      for (const [install, line, message] of cases) {
        writeFileSync(unit, `[Unit]\nDescription=app\n\n[Install]\n${install}\n`);
        const r = p.run(['ext', 'build', 'app']);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, new RegExp(`^error: ${unit.replace(/[.]/g, '\\.')}:${line}: \\[Install\\] `, 'm'), install);
        assert.match(r.stderr, message, install);
        assert.match(r.stderr, /; fix the unit file \(\/usr\/lib\/systemd\/system\/app\.service in the image\)/);
        assert.ok(!existsSync(p.volume), 'nothing is written');
      }
      assert.deepEqual(snapshotTree(host), before, 'no directory or link outside the sysroot');
    } finally {
      p.remove();
    }
  });
});

describe('ext build: release file values', () => {
  const cases: [string, string, RegExp][] = [
    ['scopes: [system, "initrd\\nID=evil"]', 'scopes[1]', /"initrd\\nID=evil" is not a scope: use system, initrd, portable/],
    ['sysext_scopes: [sytem]', 'sysext_scopes[0]', /"sytem" is not a scope/],
    ['confext_scopes: ["system\\nARCHITECTURE=arm64"]', 'confext_scopes[0]', /is not a scope/],
    ['on_merge: "echo hi\\nID=evil"', 'on_merge', /"echo hi\\nID=evil" holds a newline, which an extension-release value cannot hold .*: write it on one line/],
    ['on_merge: [ok, "a\\rb"]', 'on_merge[1]', /holds a carriage return/],
    ['on_unmerge: ["x\\0"]', 'on_unmerge[0]', /"x\\u0000" holds a NUL/],
    ['modprobe: ["m\\nARCHITECTURE=x86-64"]', 'modprobe[0]', /holds a newline/],
    [`on_merge: ["${'x'.repeat(5000)}\\n"]`, 'on_merge[0]', /: "x{77}\.\.\." holds a newline/],
  ];
  it('refuses a value that would add a key, at its YAML path, in ext build and ext image --dry-run', () => {
    const p = new TestProject('');
    try {
      for (const [line, path, message] of cases) {
        p.writeConfig(`default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n    ${line}\n`);
        for (const args of [['ext', 'build', 'app'], ['ext', 'image', 'app', '--dry-run']]) {
          const r = p.run(args);
          assert.equal(r.code, 2, `${line}: ${r.stderr}`);
          assert.match(r.stderr, new RegExp(`^error: .*avocado\\.yaml:5:\\d+: extensions\\.app\\.${path.replace(/[[\]]/g, '\\$&')}: `, 'm'), line);
          assert.match(r.stderr, message, line);
        }
        assert.ok(!existsSync(p.volume), `${line}: nothing is written`);
      }
    } finally {
      p.remove();
    }
  });

  it('escapes what it can: quotes, $, backticks and backslashes stay inside the value', () => {
    const p = new TestProject('default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n    types: [sysext]\n    scopes: [system, initrd]\n    on_merge: [\'echo "$X" `id` \\ ID=x\', "tab\there"]\n');
    try {
      const r = p.run(['ext', 'build', 'app']);
      assert.equal(r.code, 0, r.stderr);
      const text = readFileSync(join(p.sysroot('t', 'app'), 'usr/lib/extension-release.d/extension-release.app-1.0.0'), 'utf8');
      assert.equal(text, 'ID=_any\nEXTENSION_RELOAD_MANAGER=0\nSYSEXT_SCOPE=system initrd\nAVOCADO_ON_MERGE="echo \\"\\$X\\" \\`id\\` \\\\ ID=x"\nAVOCADO_ON_MERGE="tab\there"\n');
    } finally {
      p.remove();
    }
  });
});

describe('ext build: symlinks in the sysroot', () => {
  it('refuses a directory that is a symlink out of the sysroot, naming it and its target; the target is untouched', () => {
    const { p, host } = project('');
    try {
      const sysroot = p.makeSysroot('t', 'app');
      symlinkSync(join(host, 'dir'), join(sysroot, 'etc'));
      const before = snapshotTree(host);
      let r = p.run(['ext', 'build', 'app']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`^error: the sysroot has a symlink at etc \\(-> ${host}/dir\\), where the confext release file needs a directory: ext build reads and writes nothing through a symlink, which could lead out of the sysroot; replace etc in ${sysroot} by a directory, or remove it`, 'm'),
      );
      // One level down, and relative.
      rmSync(join(sysroot, 'etc'));
      mkdirSync(join(sysroot, 'etc'));
      symlinkSync('../../../../../host/dir/extension-release.d', join(sysroot, 'etc/extension-release.d'));
      r = p.run(['ext', 'build', 'app']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /the sysroot has a symlink at etc\/extension-release\.d \(-> \.\.\/\.\.\/\.\.\/\.\.\/\.\.\/host\/dir\/extension-release\.d\)/);
      assert.deepEqual(snapshotTree(host), before, 'nothing written or removed through the symlink');
    } finally {
      p.remove();
    }
  });

  it('does not remove what an earlier build wrote once a symlink leads there', () => {
    const { p, host } = project('');
    try {
      assert.equal(p.run(['ext', 'build', 'app']).code, 0);
      const sysroot = p.sysroot('t', 'app');
      // etc moves to the host and a symlink takes its place: the same inodes, now outside.
      renameSync(join(sysroot, 'etc'), join(host, 'moved-etc'));
      symlinkSync(join(host, 'moved-etc'), join(sysroot, 'etc'));
      const before = snapshotTree(host);
      p.writeConfig(yaml('', '    types: [sysext]\n'));
      const r = p.run(['ext', 'build', 'app', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout);
      assert.deepEqual(doc.removed, []);
      assert.deepEqual(
        doc.kept.map((k: { path: string; reason: string }) => `${k.path}: ${k.reason}`),
        [
          'etc: replaced since ext build wrote it',
          `etc/extension-release.d: below the symlink etc (-> ${host}/moved-etc)`,
          `etc/extension-release.d/extension-release.app-1.0.0: below the symlink etc (-> ${host}/moved-etc)`,
        ],
      );
      assert.deepEqual(snapshotTree(host), before, 'the files outside the sysroot stay');
    } finally {
      p.remove();
    }
  });

  it('reads no unit file and detects no content through a symlink', () => {
    const { p, host } = project('    enable_services: [victim.service]\n', '    types: [confext]\n');
    try {
      const sysroot = p.makeSysroot('t', 'app');
      mkdirSync(join(sysroot, 'etc'));
      symlinkSync(join(host, 'etc/systemd'), join(sysroot, 'etc/systemd'));
      put(host, 'local/lib/sysusers.d/host.conf', 'u host - -\n');
      const before = snapshotTree(host);
      let r = p.run(['ext', 'build', 'app']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`enable_services: the sysroot has a symlink at etc/systemd \\(-> ${host}/etc/systemd\\), where enable_services needs a directory to look for etc/systemd/system/victim\\.service in`));
      rmSync(join(sysroot, 'etc/systemd'));

      // The unit itself a symlink to a host unit: not followed either.
      mkdirSync(join(sysroot, 'etc/systemd/system'), { recursive: true });
      symlinkSync(join(host, 'etc/systemd/system/victim.service'), join(sysroot, 'etc/systemd/system/victim.service'));
      r = p.run(['ext', 'build', 'app']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /enable_services lists victim\.service, but the sysroot has it only as the symlink etc\/systemd\/system\/victim\.service, which ext build does not follow; ship the unit file itself/);
      assert.deepEqual(readdirSync(join(sysroot, 'etc/systemd/system')), ['victim.service'], 'no link was made');

      // usr/local leads to the host, whose sysusers.d has a .conf: no systemd-sysusers hook for it.
      mkdirSync(join(sysroot, 'usr'));
      symlinkSync(join(host, 'local'), join(sysroot, 'usr/local'), 'dir');
      p.writeConfig(yaml('', '    types: [sysext]\n'));
      r = p.run(['ext', 'build', 'app']);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(readFileSync(join(sysroot, 'usr/lib/extension-release.d/extension-release.app-1.0.0'), 'utf8'), /sysusers/);
      assert.deepEqual(snapshotTree(host), before);
    } finally {
      p.remove();
    }
  });

  it('lists nothing beyond a symlink (other versions, detected content) and plans no removal through one', async () => {
    const { p, host } = project('');
    try {
      const sysroot = p.makeSysroot('t', 'app');
      symlinkSync(join(host, 'dir'), join(sysroot, 'etc'));
      const plan = new SysrootPlan(sysroot, undefined);
      assert.deepEqual(await plan.namesIn(keyOf('etc/extension-release.d')), []);
      assert.deepEqual(await plan.namesIn(keyOf('etc')), [], 'the symlink itself is not a directory to list');
      assert.deepEqual(await plan.keysUnder(keyOf('etc/extension-release.d')), []);
      await plan.remove(keyOf('etc/extension-release.d/extension-release.app-0.9.0'), 'another version');
      const before = snapshotTree(host);
      const applied = await plan.apply({ hint: 'fix it', onFailure: async () => undefined });
      assert.deepEqual(applied.removed, []);
      assert.deepEqual(snapshotTree(host), before);
    } finally {
      p.remove();
    }
  });

  it('checks each parent again right before writing and removing: a symlink swapped in after planning is refused', async () => {
    const { p, host } = project('');
    try {
      const sysroot = p.makeSysroot('t', 'app');
      put(sysroot, 'usr/share/app/old', 'old');
      const outside = join(host, 'share');
      put(outside, 'app/keep', 'host');
      const before = snapshotTree(host);
      const plan = new SysrootPlan(sysroot, undefined);
      await plan.addFile(keyOf('usr/share/app/new'), 'new\n', { what: 'a test file' });
      await plan.remove(keyOf('usr/share/app/old'), 'another version');
      // Between the plan and the writes, usr/share becomes a symlink to the host.
      renameSync(join(sysroot, 'usr/share'), join(p.dir, 'was-share'));
      symlinkSync(outside, join(sysroot, 'usr/share'));
      let saved: unknown;
      await assert.rejects(
        plan.apply({ hint: 'fix it', onFailure: async (r) => void (saved = r) }),
        (e: unknown) => e instanceof BuildError && /^usr\/share in .* changed during the build \(it is now a symlink to .*\/host\/share\); nothing was written through it$/.test(e.message),
      );
      assert.ok(saved instanceof Map, 'what was written so far is handed over to be recorded');
      assert.deepEqual(snapshotTree(host), before, 'nothing written or removed outside the sysroot');
    } finally {
      p.remove();
    }
  });

  it('notices a symlink swapped in between two writes in one directory', async () => {
    const { p, host } = project('');
    try {
      const sysroot = p.makeSysroot('t', 'app');
      put(sysroot, 'usr/share/app/old1', 'old');
      put(sysroot, 'usr/share/app/old2', 'old');
      const outside = join(host, 'share');
      put(outside, 'app/old2', 'host');
      const before = snapshotTree(host);
      const plan = new SysrootPlan(sysroot, undefined);
      await plan.remove(keyOf('usr/share/app/old1'), 'another version');
      await plan.remove(keyOf('usr/share/app/old2'), 'another version');
      // apply asks the signal before each step: the second time, usr/share becomes a symlink.
      let steps = 0;
      const swapping = {
        throwIfAborted() {
          if (++steps !== 2) return;
          renameSync(join(sysroot, 'usr/share'), join(p.dir, 'was-share'));
          symlinkSync(outside, join(sysroot, 'usr/share'));
        },
      } as unknown as AbortSignal;
      await assert.rejects(plan.apply({ signal: swapping, hint: 'fix it', onFailure: async () => undefined }), /^BuildError: usr\/share in .* changed during the build \(it is now a symlink to /);
      assert.ok(!existsSync(join(p.dir, 'was-share/app/old1')), 'the first removal happened');
      assert.deepEqual(snapshotTree(host), before, "the host's app/old2 stays");
    } finally {
      p.remove();
    }
  });
});

describe('ext build: overlay files swapped after the overlay was read', () => {
  for (const swap of ['fifo', 'symlink'] as const) {
    it(`neither waits on nor follows a ${swap} put in an overlay file's place`, async () => {
      const { p, host } = project('');
      try {
        const sysroot = p.makeSysroot('t', 'app');
        const ov = join(p.dir, 'ov');
        const overlay = await readOverlay(ov, { dir: 'ov', mode: 'merge' } as Parameters<typeof readOverlay>[1]);
        const plan = new SysrootPlan(sysroot, undefined);
        await plan.addOverlay(overlay.items, { what: 'the overlay' });
        const unit = join(ov, 'usr/lib/systemd/system/app.service');
        rmSync(unit);
        if (swap === 'fifo') execFileSync('mkfifo', [unit]);
        else symlinkSync(join(host, 'etc/systemd/system/victim.service'), unit);
        await assert.rejects(
          plan.apply({ hint: 'fix it', onFailure: async () => undefined }),
          (e: unknown) => e instanceof BuildError && /^overlay file .*app\.service changed during ext build: it is (no longer a regular file|now a symlink)$/.test(e.message),
        );
        assert.ok(!existsSync(join(sysroot, 'usr/lib/systemd/system/app.service')), 'nothing copied in its place');
      } finally {
        p.remove();
      }
    });
  }
});

describe('ext build: overlay outside the project', () => {
  it('warns at the YAML path for an overlay outside the project, and refuses one holding the volume', () => {
    const p = new TestProject('');
    try {
      const outside = join(p.dir, 'elsewhere');
      put(outside, 'usr/bin/tool', 'tool');
      mkdirSync(join(p.dir, 'proj'));
      const write = (dir: string) => p.writeConfig(`default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n    types: [sysext]\n    overlay: ${dir}\n`, 'proj/avocado.yaml');
      write('../elsewhere');
      let r = p.run(['ext', 'build', 'app', '-C', 'proj/avocado.yaml']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`^warning: .*proj/avocado\\.yaml:6:14: extensions\\.app\\.overlay: overlay directory '\\.\\./elsewhere' is ${outside}, outside the project .*/proj: ext build copies all of it into the sysroot and the image; move it into the project if that is not meant$`, 'm'),
      );
      r = p.run(['ext', 'build', 'app', '-C', 'proj/avocado.yaml', '--strict']);
      assert.notEqual(r.code, 0, '--strict refuses it');

      // Inside the project (through a symlink that stays inside): no warning.
      put(join(p.dir, 'proj/ov'), 'usr/bin/tool', 'tool');
      symlinkSync('ov', join(p.dir, 'proj/ov-link'));
      write('ov-link');
      r = p.run(['ext', 'build', 'app', '-C', 'proj/avocado.yaml']);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /outside the project/);

      write('.');
      r = p.run(['ext', 'build', 'app', '-C', 'proj/avocado.yaml']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /avocado\.yaml:6:14: extensions\.app\.overlay: overlay directory '\.' \(.*\/proj\) holds the volume .*\/proj\/_avocado: ext build would copy the sysroot into itself; point overlay: at a directory of its own/);
    } finally {
      p.remove();
    }
  });
});
