/**
 * `avocado ext build` with hostile input: names that would be paths, values that would inject
 * keys into the release files, symlinks in the sysroot leading out of it, an overlay outside
 * the project. Each case runs the real CLI on real directories; what lies outside the sysroot
 * (a stand-in for the host) must be byte for byte as before.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
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
