/**
 * `-r/--runtime` and the runtime in effect (reference §1–§3, §10): the four sources and their
 * precedence, the implicit runtime, an unknown runtime, `{{ avocado.runtime }}` and the board,
 * the sysroot ext build, ext image and ext clean agree on (the runtime's when the Avocado CLI
 * made one, else the legacy one, through its /opt/_avocado compat link too), and the warning for
 * an extension the runtime does not list. Real CLI processes; images are mounted when root.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { withMountedImage } from './helpers/mount.js';
import { TestProject } from './helpers/project.js';
import { cannotMount } from './helpers/system.js';
import { compareTrees, snapshotTree } from './helpers/tree.js';

const projects: TestProject[] = [];
after(() => projects.forEach((p) => p.remove()));

function project(yaml: string): TestProject {
  const p = new TestProject(yaml, 'avocado-runtime-');
  projects.push(p);
  return p;
}

const warnings = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('warning: ')).map((l) => l.slice('warning: '.length));
const errors = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('error: ')).map((l) => l.slice('error: '.length));

const TWO = `default_target: t
runtimes:
  dev:
    extensions: [app]
  prod:
    target_board: prod-board
    extensions:
      - app: {enabled: false}
extensions:
  app:
    version: "1.0.0-{{ avocado.runtime }}"
    types: [sysext]
`;

/** ext build --json: the runtime in effect, and the step line of ext image (which fails: no sysroot... unless built). */
function runtimeOf(p: TestProject, args: string[], env?: Record<string, string>) {
  const r = p.run(['ext', 'build', 'app', '--json', ...args], env);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  const step = r.stderr.split('\n').find((l) => l.startsWith('› runtime '));
  return { runtime: doc.runtime, version: doc.version, step };
}

describe('the runtime in effect', () => {
  it('-r > AVOCADO_RUNTIME > default_runtime > the sole runtime, with the source in a step line', () => {
    const p = project(`${TWO}default_runtime: dev\n`);
    assert.deepEqual(runtimeOf(p, ['-r', 'prod'], { AVOCADO_RUNTIME: 'dev' }), { runtime: { name: 'prod', source: '-r' }, version: '1.0.0-prod', step: '› runtime prod (from -r)' });
    assert.deepEqual(runtimeOf(p, ['--runtime=prod']).runtime, { name: 'prod', source: '-r' });
    assert.deepEqual(runtimeOf(p, [], { AVOCADO_RUNTIME: 'prod' }), { runtime: { name: 'prod', source: 'AVOCADO_RUNTIME' }, version: '1.0.0-prod', step: '› runtime prod (from AVOCADO_RUNTIME)' });
    assert.deepEqual(runtimeOf(p, [], { AVOCADO_RUNTIME: '' }), { runtime: { name: 'dev', source: 'default_runtime' }, version: '1.0.0-dev', step: '› runtime dev (from default_runtime)' }, 'an empty AVOCADO_RUNTIME is unset');

    const sole = project(TWO.replace(/ {2}prod:\n(.*\n){3}/, ''));
    assert.deepEqual(runtimeOf(sole, []), { runtime: { name: 'dev', source: 'sole runtime in avocado.yaml' }, version: '1.0.0-dev', step: '› runtime dev (from sole runtime in avocado.yaml)' });
  });

  it('none with two runtimes and no choice: no step line, --verbose says why, and {{ avocado.runtime }} is an error', () => {
    const p = project(TWO.replace('1.0.0-{{ avocado.runtime }}', '1.0.0'));
    const r = p.run(['ext', 'build', 'app', '--json', '--verbose']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).runtime, undefined);
    assert.doesNotMatch(r.stderr, /› runtime /);
    assert.match(r.stderr, /no runtime in effect: .*avocado\.yaml defines dev, prod and none is chosen \(-r, AVOCADO_RUNTIME or default_runtime\)/);
    assert.match(r.stderr, /sysroot .*_avocado\/t\/extensions\/app: no runtime in effect/);
    const templated = project(TWO).run(['ext', 'build', 'app']);
    assert.equal(templated.code, 2);
    assert.match(errors(templated.stderr)[0]!, /avocado\.yaml:11:14: extensions\.app\.version: '\{\{ avocado\.runtime \}\}' has no value: no runtime is selected; pass -r\/--runtime/);
  });

  it('the implicit runtime default of the Avocado CLI: no runtimes:, but default_target and rootfs', () => {
    const p = project('default_target: t\nrootfs:\n  filesystem: squashfs\nextensions:\n  app:\n    version: "1.0.0-{{ avocado.runtime }}"\n');
    const got = runtimeOf(p, ['--verbose']);
    assert.deepEqual(got.runtime, { name: 'default', source: 'implicit runtime' });
    assert.equal(got.version, '1.0.0-default');
    assert.match(got.step!, /^› runtime default \(from the implicit runtime: .* has no runtimes:, and the Avocado CLI assumes 'default' when default_target and a top-level rootfs, initramfs or kernel are set\)/);
    assert.deepEqual(runtimeOf(p, ['-r', 'default']).runtime, { name: 'default', source: '-r' });
    const r = p.run(['ext', 'build', 'app']);
    assert.deepEqual(warnings(r.stderr), [], 'the implicit runtime lists no extensions: no membership warning');
    const none = project('default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n');
    assert.equal(runtimeOf(none, []).runtime, undefined, 'without rootfs/initramfs/kernel there is no implicit runtime');
  });

  it('an unknown runtime is a configuration error (exit 2) listing those defined, whatever its source', () => {
    const p = project(TWO);
    const cases: [string[], Record<string, string> | undefined, string, RegExp][] = [
      [['-r', 'staging'], undefined, '', /^runtime 'staging' \(from -r\) is not defined in .*avocado\.yaml; runtimes defined: dev, prod$/],
      [['-r', 'prd'], undefined, '', /^runtime 'prd' \(from -r\) is not defined in .*; did you mean 'prod'\? runtimes defined: dev, prod$/],
      [[], { AVOCADO_RUNTIME: 'qa' }, '', /^runtime 'qa' \(from AVOCADO_RUNTIME\) is not defined in .*; runtimes defined: dev, prod$/],
      [[], undefined, 'default_runtime: "{{ env.RT }}"\n', /^.*avocado\.yaml:13:18: default_runtime: runtime 'from-env' \(from default_runtime\) is not defined in .*; runtimes defined: dev, prod$/],
    ];
    for (const [args, env, extra, message] of cases) {
      p.writeConfig(TWO + extra);
      for (const cmd of ['image', 'build', 'clean']) {
        const r = p.run(['ext', cmd, 'app', ...args], { RT: 'from-env', ...env });
        assert.equal(r.code, 2, `${cmd} ${args.join(' ')}: ${r.stderr}`);
        assert.equal(errors(r.stderr).length, 1, r.stderr);
        assert.match(errors(r.stderr)[0]!, message);
      }
    }
    assert.ok(!existsSync(p.volume), 'nothing was written');
    const bare = project('default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n');
    const r = bare.run(['ext', 'image', 'app', '-r', 'dev']);
    assert.equal(r.code, 2);
    assert.match(errors(r.stderr)[0]!, /runtime 'dev' \(from -r\) is not defined in .*; the file defines no runtimes: fix -r\/--runtime, or add it under runtimes:$/);
    const empty = bare.run(['ext', 'image', 'app', '-r', '']);
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /--runtime needs a non-empty value/);
  });

  it('-r gives {{ avocado.runtime }} and the runtime\'s target_board', () => {
    const p = project(`default_target: t
runtimes:
  dev: {}
  prod: {target_board: prod-board}
extensions:
  "bsp-{{ avocado.target.board }}":
    version: "1.0.0-{{ avocado.runtime }}"
    types: [sysext]
`);
    const r = p.run(['ext', 'build', 'bsp-prod-board', '-r', 'prod', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).version, '1.0.0-prod');
    assert.equal(p.run(['ext', 'image', 'bsp-prod-board', '-r', 'prod']).code, 0);
    assert.ok(existsSync(p.image('t', 'bsp-prod-board', '1.0.0-prod')));
    const dev = p.run(['ext', 'build', 'bsp-t', '-r', 'dev', '--json']);
    assert.equal(dev.code, 0, dev.stderr);
    assert.equal(JSON.parse(dev.stdout).version, '1.0.0-dev', 'dev has no target_board: the board is the target');
  });

  it('warns when the runtime does not list the extension (names, {name: options} entries, target- blocks)', () => {
    const p = project(`default_target: t
runtimes:
  dev:
    extensions:
      - base
      - app: {enabled: false}
      - [not, a, name]
  prod:
    extensions: [base]
    target-special:
      extensions: [app]
extensions:
  app: {version: "1.0.0", types: [sysext]}
`);
    const dev = p.run(['ext', 'build', 'app', '-r', 'dev']);
    assert.equal(dev.code, 0, dev.stderr);
    assert.deepEqual(warnings(dev.stderr), [
      `${join(p.dir, 'avocado.yaml')}:7:9: runtimes.dev.extensions[2]: not an extension name or a mapping of one name to its options (- app: {enabled: false}); ignored, as the Avocado CLI ignores it`,
    ]);
    const prod = p.run(['ext', 'build', 'app', '-r', 'prod']);
    assert.deepEqual(warnings(prod.stderr), [
      `${join(p.dir, 'avocado.yaml')}:9:17: runtimes.prod.extensions: extension 'app' is not a member of runtime 'prod'; building it standalone: add it to runtimes.prod.extensions to include it in the runtime`,
    ]);
    const image = p.run(['ext', 'image', 'app', '-r', 'prod', '--json']);
    assert.equal(image.code, 0, image.stderr);
    assert.deepEqual(JSON.parse(image.stdout).warnings, [
      `${join(p.dir, 'avocado.yaml')}:9:17: runtimes.prod.extensions: extension 'app' is not a member of runtime 'prod'; imaging it standalone: add it to runtimes.prod.extensions to include it in the runtime`,
    ]);
    const special = p.run(['ext', 'build', 'app', '-r', 'prod', '-t', 'special']);
    assert.deepEqual(warnings(special.stderr), [], 'target-special lists it');
    assert.deepEqual(warnings(p.run(['ext', 'clean', 'app', '-r', 'prod']).stderr), [], 'ext clean does not warn (neither does the Avocado CLI)');
  });

  it('says once, in --verbose, what the Avocado CLI also does with a runtime (avocado.lock); help says it too', () => {
    const p = project(TWO.replace('1.0.0-{{ avocado.runtime }}', '1.0.0'));
    const r = p.run(['ext', 'build', 'app', '-r', 'dev', '--verbose']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr.match(/the Avocado CLI also requires avocado\.lock/g)?.length, 1, r.stderr);
    assert.match(r.stderr, /with a runtime the Avocado CLI also requires avocado\.lock to list the target's rootfs \('avocado install' first\); avocado does not read avocado\.lock/);
    for (const cmd of ['image', 'build', 'clean']) {
      const help = p.run(['ext', cmd, '--help']).stdout;
      assert.match(help, /-r, --runtime <RUNTIME>\s+runtime, as under runtimes: in avocado\.yaml\s+\(default: \$AVOCADO_RUNTIME, then default_runtime,\s+then the only runtime\)/);
      if (cmd !== 'clean') assert.match(help, /does\s+not require avocado\.lock to list the target's rootfs/);
    }
  });
});

const YAML = `default_target: t
default_runtime: dev
runtimes:
  dev:
    extensions: [app]
extensions:
  app:
    version: "1.0.0"
    types: [sysext]
    overlay: ov
`;

describe('the sysroot with a runtime: ext build, ext image and ext clean agree', () => {
  function withOverlay(): TestProject {
    const p = project(YAML);
    mkdirSync(join(p.dir, 'ov/usr/bin'), { recursive: true });
    writeFileSync(join(p.dir, 'ov/usr/bin/app'), '#!/bin/sh\necho app\n', { mode: 0o755 });
    return p;
  }

  async function buildAndImage(p: TestProject, expected: string, args: string[] = []) {
    const built = p.run(['ext', 'build', 'app', '--json', '--verbose', ...args]);
    assert.equal(built.code, 0, built.stderr);
    const b = JSON.parse(built.stdout);
    assert.equal(b.sysroot, expected);
    const imaged = p.run(['ext', 'image', 'app', '--json', '--verbose', ...args]);
    assert.equal(imaged.code, 0, imaged.stderr);
    const i = JSON.parse(imaged.stdout);
    assert.equal(i.sysroot, expected, 'ext image reads what ext build wrote');
    assert.equal(i.image.path, p.image('t', 'app', '1.0.0'), 'the output path does not depend on the runtime');
    assert.ok(existsSync(join(expected, 'usr/bin/app')));
    if (!cannotMount('squashfs'))
      await withMountedImage(i.image.path, 'squashfs', (dir) => assert.deepEqual(compareTrees(snapshotTree(dir), snapshotTree(expected), { mtime: 0 }), []));
    return { built, imaged, b, i };
  }

  it('the runtime\'s sysroot when the Avocado CLI made one', async () => {
    const p = withOverlay();
    const scoped = join(p.volume, 't/runtimes/dev/extensions/app');
    mkdirSync(join(scoped, 'usr/share/from-sdk'), { recursive: true });
    writeFileSync(join(scoped, 'usr/share/from-sdk/pkg'), 'installed by the SDK\n');
    const { built, imaged, b } = await buildAndImage(p, scoped);
    assert.equal(b.sysrootScope, 'runtime');
    for (const r of [built, imaged]) assert.match(r.stderr, /sysroot .*\/t\/runtimes\/dev\/extensions\/app: runtime dev is in effect and has one \(made by the Avocado CLI\)/);
    assert.match(imaged.stderr, /› walking .*\/t\/runtimes\/dev\/extensions\/app/);
    assert.ok(!existsSync(p.sysroot('t', 'app')), 'the legacy sysroot is not created');
    assert.ok(existsSync(join(scoped, 'usr/share/from-sdk/pkg')));

    const cleaned = p.run(['ext', 'clean', 'app', '--json']);
    assert.equal(cleaned.code, 0, cleaned.stderr);
    assert.deepEqual(JSON.parse(cleaned.stdout).removed.map((r: { what: string; path: string }) => [r.what, r.path]), [
      ['sysroot', scoped],
      ['image', p.image('t', 'app', '1.0.0')],
      ['build record', join(p.volume, 't/.avocado-ext/app.build.json')],
    ]);
  });

  it('the legacy sysroot when the runtime has none, or no runtime is in effect', async () => {
    const p = withOverlay();
    const { built, b } = await buildAndImage(p, p.sysroot('t', 'app'));
    assert.equal(b.sysrootScope, 'legacy');
    assert.match(built.stderr, /sysroot .*\/t\/extensions\/app: runtime dev has none at .*\/t\/runtimes\/dev\/extensions\/app, so the legacy one/);
    p.writeConfig(YAML.replace('default_runtime: dev\n', '').replace('  dev:', '  dev: {}\n  prod:'));
    await buildAndImage(p, p.sysroot('t', 'app'));
    const cleaned = p.run(['ext', 'clean', 'app']);
    assert.equal(cleaned.code, 0, cleaned.stderr);
    assert.ok(!existsSync(p.sysroot('t', 'app')));
  });

  it('follows the Avocado CLI\'s compat link <target>/extensions -> /opt/_avocado/<target>/runtimes/<rt>/extensions inside the volume', async () => {
    const p = withOverlay();
    const scoped = join(p.volume, 't/runtimes/dev/extensions/app');
    mkdirSync(scoped, { recursive: true });
    symlinkSync('/opt/_avocado/t/runtimes/dev/extensions', join(p.volume, 't/extensions'));
    // Two runtimes and none chosen: no runtime in effect, the legacy path, through the link.
    p.writeConfig(YAML.replace('default_runtime: dev\n', '').replace('  dev:', '  prod: {}\n  dev:'));
    const { built } = await buildAndImage(p, scoped);
    assert.match(built.stderr, /\/t\/extensions is the Avocado CLI's link to \/opt\/_avocado\/t\/runtimes\/dev\/extensions, which is .*\/t\/runtimes\/dev\/extensions here/);
    // The same tree chosen as the runtime's: ext build's record still applies (same directory).
    const again = p.run(['ext', 'build', 'app', '-r', 'dev']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(warnings(again.stderr), []);
    assert.match(again.stderr, /› overlay .*: 3 entries into .*\/t\/runtimes\/dev\/extensions\/app, 0 copied, 3 unchanged/);
  });

  it('warns when both the runtime\'s and a separate legacy sysroot exist, and ext build\'s record of the other one is not applied', () => {
    const p = withOverlay();
    // Built without a runtime first (legacy), then the Avocado CLI made the runtime's sysroot.
    p.writeConfig(YAML.replace('default_runtime: dev\n', '').replace('  dev:', '  prod: {}\n  dev:'));
    assert.equal(p.run(['ext', 'build', 'app']).code, 0);
    p.writeConfig(YAML);
    const scoped = join(p.volume, 't/runtimes/dev/extensions/app');
    mkdirSync(scoped, { recursive: true });
    const r = p.run(['ext', 'build', 'app']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(warnings(r.stderr), [
      `${p.sysroot('t', 'app')} holds a sysroot of app too; it is not used while runtime dev is in effect (its sysroot is ${scoped})`,
      `${join(p.volume, 't/.avocado-ext/app.build.json')} records a build into ${p.sysroot('t', 'app')}, not ${scoped}: not applied, so nothing an earlier build wrote is removed from ${scoped} this time`,
    ]);
    assert.ok(existsSync(join(p.sysroot('t', 'app'), 'usr/bin/app')), 'the legacy sysroot is left alone');
    assert.ok(existsSync(join(scoped, 'usr/bin/app')));
    assert.equal(JSON.parse(readFileSync(join(p.volume, 't/.avocado-ext/app.build.json'), 'utf8')).sysroot, scoped);
  });
});
