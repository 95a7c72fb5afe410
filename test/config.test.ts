/** avocado.yaml: interpolation, target overrides, validation messages with file:line:col and YAML path. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Project } from '../src/config/project.js';
import { nodeAt, type CScalar } from '../src/config/tree.js';
import { ConfigError, UsageError, printable } from '../src/util/errors.js';
import { avocado } from './helpers/project.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function load(yaml: string, opts: { target?: string; targetBoard?: string; env?: Record<string, string> } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'avocado-config-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'avocado.yaml'), yaml);
  const warnings: string[] = [];
  const project = await Project.load({ cwd: dir, env: opts.env ?? {}, target: opts.target, targetBoard: opts.targetBoard, warn: (m) => warnings.push(m) });
  return { project, warnings, dir };
}

async function loadError(yaml: string, opts: Parameters<typeof load>[1] = {}, ext = 'app'): Promise<Error> {
  try {
    const { project } = await load(yaml, opts);
    project.extension(ext);
  } catch (e) {
    return e as Error;
  }
  assert.fail('expected an error');
}

/** Rejects with an avocado error whose one line (message and hint) matches. */
async function rejectsLine(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: ConfigError) => {
    assert.match(e.line, re);
    return true;
  });
}

function throwsLine(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: ConfigError) => {
    assert.match(e.line, re);
    return true;
  });
}

describe('target', () => {
  const yaml = 'default_target: from-config\nextensions:\n  app:\n    version: "1.0.0"\n';
  it('takes --target over AVOCADO_TARGET over default_target', async () => {
    assert.equal((await load(yaml, { target: 'cli', env: { AVOCADO_TARGET: 'env' } })).project.target, 'cli');
    assert.equal((await load(yaml, { env: { AVOCADO_TARGET: 'env' } })).project.target, 'env');
    const { project } = await load(yaml, { env: { AVOCADO_TARGET: '' } });
    assert.equal(project.target, 'from-config');
    assert.equal(project.targetSource, 'default_target');
  });
  it('says how to set one when there is none', async () => {
    const e = await loadError('extensions: {app: {version: "1.0.0"}}\n');
    assert.ok(e instanceof ConfigError);
    assert.match(e.message + (e as ConfigError).hint, /-t\/--target.*AVOCADO_TARGET.*default_target/);
  });
  it('rejects an empty --target and a target that is not a directory name', async () => {
    await assert.rejects(load(yaml, { target: '' }), UsageError);
    await assert.rejects(load(yaml, { target: '../x' }), /cannot be used as a directory name/);
  });
  it('interpolates default_target from the environment', async () => {
    const { project } = await load('default_target: "{{ env.BOARD }}"\n', { env: { BOARD: 'rpi5' } });
    assert.equal(project.target, 'rpi5');
  });
});

describe('interpolation', () => {
  it('replaces env, config and avocado.target in values and keys', async () => {
    const { project } = await load(
      [
        'default_target: qemux86-64',
        'distro: {release: "2024"}',
        'base: "{{ config.distro.release }}"',
        'extensions:',
        '  "bsp-{{ avocado.target }}":',
        '    version: "1.{{ config.distro.release }}.{{ env.PATCH }}"',
        '    var_files: ["var/lib/{{ avocado.target }}/**", "{{ config.base }}/x"]',
      ].join('\n'),
      { env: { PATCH: '7' } },
    );
    const ext = project.extension('bsp-qemux86-64');
    assert.equal(ext.version, '1.2024.7');
    assert.deepEqual(ext.varFiles.map((v) => v.pattern), ['var/lib/qemux86-64/**', '2024/x']);
  });
  it('warns once for an unset environment variable and uses an empty string', async () => {
    const { project, warnings } = await load('default_target: t\nextensions:\n  app:\n    version: "1.0.0{{ env.NOPE }}"\n    var_files: ["{{ env.NOPE }}var/x"]\n');
    assert.equal(project.extension('app').version, '1.0.0');
    assert.equal(warnings.filter((w) => w.includes("'NOPE'")).length, 1);
  });
  it('reports a missing config path with its line', async () => {
    const e = await loadError('default_target: t\nextensions:\n  app:\n    version: "{{ config.nope.x }}"\n');
    assert.match(e.message, /avocado\.yaml:4:14: extensions\.app\.version: config path 'config\.nope\.x' not found/);
  });
  it('reports a reference cycle when the value is read', async () => {
    const { project } = await load('default_target: t\na: "{{ config.b }}"\nb: "{{ config.a }}"\n');
    assert.throws(() => project.read(['a']), /avocado\.yaml:2:4: a: references form a cycle: config\.b -> config\.a -> config\.b/);
  });
  it('rejects an unknown context in a value that is read', async () => {
    const e = await loadError('default_target: t\nextensions:\n  app:\n    version: "{{ foo.bar }}"\n');
    assert.match(e.message, /avocado\.yaml:4:14: extensions\.app\.version: unknown template context 'foo'/);
  });
  it('resolves avocado.distro.*, avocado.runtime and avocado.extensions.<name>.<key>', async () => {
    const { project } = await load(
      [
        'default_target: t',
        'distro: {release: 2024, channel: edge}',
        'runtimes: {dev: {}}',
        'extensions:',
        '  base: {version: "2.0.0"}',
        '  app:',
        '    version: "1.0.0"',
        '    var_files: ["{{ avocado.distro.release }}-{{ avocado.distro.channel }}", "{{ avocado.runtime }}", "v{{ avocado.extensions.base.version }}"]',
      ].join('\n'),
    );
    assert.deepEqual(project.extension('app').varFiles.map((v) => v.pattern), ['2024-edge', 'dev', 'v2.0.0']);
  });
  it('makes an unresolvable avocado value an error where it is used, and nothing elsewhere', async () => {
    const yaml = [
      'default_target: t',
      'runtimes: {a: {}, b: {}}',
      'kernel: {version: "{{ avocado.kernel.version }}"}',
      'extensions:',
      '  app:',
      '    version: "1.0.0"',
      '    var_files: ["{{ avocado.nope }}"]',
      '  other:',
      '    version: "1.0.0"',
      '    var_files: ["{{ avocado.runtime }}"]',
      '  ok:',
      '    version: "1.0.0"',
      '    packages: {"x-{{ avocado.runtime }}": "{{ config.nope }}"}',
    ].join('\n');
    const { project, warnings } = await load(yaml);
    assert.throws(() => project.extension('app'), (e: ConfigError) => {
      assert.match(e.line, /avocado\.yaml:7:17: extensions\.app\.var_files\[0\]: unknown value '\{\{ avocado\.nope \}\}'; use avocado\.target, avocado\.target\.board/);
      return true;
    });
    assert.throws(() => project.extension('other'), /avocado\.yaml:10:17: .*'\{\{ avocado\.runtime \}\}' has no value: no runtime is selected/);
    assert.equal(project.extension('ok').version, '1.0.0', 'packages are not read by ext build/image');
    assert.deepEqual(warnings, []);
  });
});

describe('avocado.target.board', () => {
  const yaml = (top = '') =>
    `default_target: qemux86-64\n${top}extensions:\n  "avocado-bsp-{{ avocado.target.board }}":\n    version: "1.0.0"\n    overlay: "overlays/{{ avocado.target.board }}"\n`;
  it('falls back to the target, as the Avocado CLI does', async () => {
    const { project, warnings } = await load(yaml());
    assert.deepEqual(project.extensionNames(), ['avocado-bsp-qemux86-64']);
    assert.equal(project.extension('avocado-bsp-qemux86-64').overlay?.dir, 'overlays/qemux86-64');
    assert.deepEqual(warnings, []);
  });
  it('takes --target-board > AVOCADO_TARGET_BOARD > the runtime\'s target_board > default_target_board', async () => {
    const top = 'default_target_board: from-config\nruntimes:\n  dev:\n    target_board: from-runtime\n';
    const names = async (opts: Parameters<typeof load>[1], t = top) => (await load(yaml(t), opts)).project.extensionNames();
    assert.deepEqual(await names({ targetBoard: 'flag', env: { AVOCADO_TARGET_BOARD: 'env' } }), ['avocado-bsp-flag']);
    assert.deepEqual(await names({ env: { AVOCADO_TARGET_BOARD: 'env' } }), ['avocado-bsp-env']);
    assert.deepEqual(await names({ env: { AVOCADO_TARGET_BOARD: '' } }), ['avocado-bsp-from-runtime'], 'an empty variable is unset');
    assert.deepEqual(await names({}, top + '  prod: {}\n'), ['avocado-bsp-from-config'], 'two runtimes and no default_runtime: none selected');
    assert.deepEqual(await names({}, top + '  prod: {target_board: p}\ndefault_runtime: prod\n'), ['avocado-bsp-p']);
    assert.deepEqual(await names({ env: { AVOCADO_RUNTIME: 'prod' } }, top + '  prod: {target_board: q}\n'), ['avocado-bsp-q']);
    assert.deepEqual(await names({}, 'default_target_board: "{{ env.BOARD }}"\n'), ['avocado-bsp-'], 'an unset variable in it: empty, with its warning');
  });
  it('rejects an empty --target-board', async () => {
    await assert.rejects(load(yaml(), { targetBoard: '' }), UsageError);
  });
  it('cannot be used by default_target', async () => {
    await rejectsLine(load('default_target: "x-{{ avocado.target.board }}"\n'), /avocado\.yaml:1:17: default_target: .*cannot be used in default_target.*; pass --target-board, set AVOCADO_TARGET_BOARD or default_target_board/);
  });
});

describe('what is reported, and when', () => {
  it('reports an unset variable only where the build reads it, once', async () => {
    const { project, warnings } = await load(
      [
        'default_target: t',
        'sdk:',
        '  image: "sdk:{{ env.RELEASE }}"',
        '  container_args: ["-e X={{ env.RELEASE }}"]',
        'runtimes: {dev: {packages: {a: "{{ env.UNUSED }}"}}}',
        'extensions:',
        '  app:',
        '    version: "1.0.0"',
        '  other:',
        '    version: "{{ env.OTHER_VERSION }}"',
      ].join('\n'),
    );
    assert.equal(project.extension('app').version, '1.0.0');
    assert.deepEqual(warnings, [], 'sdk.*, runtimes and the other extension are not read');
    const image = project.read(['sdk', 'image']);
    assert.ok(image?.kind === 'scalar' && image.value === 'sdk:');
    project.read(['sdk', 'image']);
    project.read(['sdk', 'container_args']);
    assert.deepEqual(warnings, [`${project.file}:3:10: sdk.image: environment variable 'RELEASE' is not set, replacing it with an empty string`]);
    assert.equal(project.read(['sdk', 'nope']), undefined);
  });
  it('reports a problem of a referenced value where the reference is read', async () => {
    const { project, warnings } = await load('default_target: t\nbase: "{{ env.NOPE }}x"\nextensions:\n  app:\n    version: "1.0.0"\n    var_files: ["{{ config.base }}"]\n');
    assert.deepEqual(project.extension('app').varFiles.map((v) => v.pattern), ['x']);
    assert.deepEqual(warnings, [`${project.file}:2:7: base: environment variable 'NOPE' is not set, replacing it with an empty string`]);
  });
  it('does not call a key used through {{ config.KEY }} unknown, and suggests the key a typo means', async () => {
    const { project, warnings } = await load(
      [
        'default_target: t',
        'base_image: ghcr.io/x',
        'mystery: 1',
        'soruce_date_epoch: 5',
        'initramf: {}',
        'sdk: {image: "{{ config.base_image }}:1"}',
        'extensions:',
        '  app:',
        '    version: "1.0.0"',
        '    filesytem: erofs',
        '    verison: "x"',
        '    files: {a: b}',
      ].join('\n'),
    );
    project.extension('app');
    assert.deepEqual(warnings, [
      `${project.file}:4:1: soruce_date_epoch: unknown top-level key 'soruce_date_epoch' (ignored); did you mean 'source_date_epoch'?`,
      `${project.file}:10:5: extensions.app.filesytem: unknown extension key 'filesytem' (ignored); did you mean 'filesystem'?`,
      `${project.file}:11:5: extensions.app.verison: unknown extension key 'verison' (ignored); did you mean 'version'?`,
      `${project.file}:12:5: extensions.app.files: unknown extension key 'files' (ignored)`,
    ]);
  });
  it('names the old forms of extensions: and types', async () => {
    const e = await loadError('default_target: t\next:\n  app:\n    version: "1.0.0"\n');
    assert.match((e as ConfigError).line, /avocado\.yaml:2:1: ext: extension 'app' is under 'ext:', the old name of 'extensions:'.*; rename ext: to extensions:/);
    const { project, warnings } = await load('default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n    sysext: false\n    confext: true\n');
    assert.deepEqual(project.extension('app').types, ['sysext', 'confext']);
    assert.deepEqual(warnings, [`${project.file}:5:5: extensions.app.sysext: 'sysext: false, confext: true' is the old form of types and is not read; write types: [confext]; until then both types, the default, are built`]);
  });
  it('says where the settings of an extension with a source: are', async () => {
    const e = await loadError('default_target: t\nextensions:\n  app:\n    source: {type: package, version: "*"}\n');
    assert.match((e as ConfigError).line, /avocado\.yaml:3:3: extensions\.app: extension 'app' comes from source: package: its settings .* are in its own avocado\.yaml/);
  });
  it('names the placeholder of the avocado init template', async () => {
    await rejectsLine(load('default_target: "{target}"\n'), /avocado\.yaml:1:17: default_target: '\{target\}' is a placeholder of the avocado init template; write your target there/);
    const { project } = await load('default_target: "{target}"\nsupported_targets:\n  - {target}\nextensions: {app: {version: "1.0.0", x: {}}}\n', { target: 'qemux86-64' });
    throwsLine(() => project.extension('app'), /avocado\.yaml:3:5: supported_targets\[0\]: must be a target name, not the mapping \{target\}; '\{target\}' is a placeholder/);
  });
  it('reports two keys that interpolate to the same name when that entry is read', async () => {
    const { project } = await load('default_target: t\nextensions:\n  app-t: {version: "1.0.0"}\n  "app-{{ avocado.target }}": {version: "2.0.0"}\n  other: {version: "1.0.0"}\n');
    assert.equal(project.extension('other').version, '1.0.0');
    assert.throws(() => project.extension('app-t'), /avocado\.yaml:4:3: .*key 'app-\{\{ avocado\.target \}\}' interpolates to 'app-t', the name of the key at line 3 too/);
  });
  it('suggests the extension meant', async () => {
    const e = await loadError('default_target: t\nextensions:\n  peridio: {version: "1.0.0"}\n', {}, 'peridoi');
    assert.match((e as ConfigError).line, /extension 'peridoi' is not defined in .*; did you mean 'peridio'\? known extensions: peridio/);
  });
});

describe('target overrides', () => {
  const yaml = [
    'default_target: qemux86-64',
    'extensions:',
    '  app:',
    '    version: "1.0.0"',
    '    var_files: [var/a/**, var/b/**]',
    '    overlay: {dir: base, mode: merge}',
    '    target-rpi4:',
    '      version: "2.0.0"',
    '      var_files: [var/c/**]',
    '      overlay: {mode: opaque}',
    '      filesystem: erofs-lz4',
    '    kernel-6.1:',
    '      version: "9.9.9"',
  ].join('\n');
  it('applies nothing for another target', async () => {
    const ext = (await load(yaml)).project.extension('app');
    assert.equal(ext.version, '1.0.0');
    assert.equal(ext.filesystem.value, 'squashfs');
    assert.equal(ext.filesystemSource, 'default');
  });
  it('deep-merges maps and replaces lists for the matching target', async () => {
    const ext = (await load(yaml, { target: 'rpi4' })).project.extension('app');
    assert.equal(ext.version, '2.0.0');
    assert.deepEqual(ext.varFiles.map((v) => v.pattern), ['var/c/**']);
    assert.deepEqual({ dir: ext.overlay?.dir, mode: ext.overlay?.mode }, { dir: 'base', mode: 'opaque' });
    assert.equal(ext.filesystem.value, 'erofs-lz4');
    assert.equal(ext.filesystemSource, 'extensions.app.target-rpi4.filesystem');
  });
  it('points errors inside an override block at the block', async () => {
    const e = await loadError(yaml.replace('version: "2.0.0"', 'version: 2.0'), { target: 'rpi4' });
    assert.match(e.message, /avocado\.yaml:8:16: extensions\.app\.target-rpi4\.version: is a YAML number; quote it .*"2\.0\.0"/);
  });
  it('refuses an override block of the target that is not a mapping, and accepts an empty one', async () => {
    const base = 'default_target: rpi4\nextensions:\n  app:\n    version: "1.0.0"\n';
    assert.match(((await loadError(`${base}    target-rpi4: 2.0.0\n`)) as ConfigError).line, /avocado\.yaml:5:18: extensions\.app\.target-rpi4: must be a mapping of the settings for target 'rpi4', merged over those of extensions\.app; it is a single value; write target-rpi4: followed by indented settings/);
    assert.match(((await loadError(`${base}    target-rpi4: [a]\n`)) as ConfigError).line, /extensions\.app\.target-rpi4: .*; it is a list/);
    assert.equal((await load(`${base}    target-rpi4:\n    target-other: 5\n`)).project.extension('app').version, '1.0.0');
  });
});

describe('extension settings', () => {
  const base = (ext: string, top = '') => `default_target: t\n${top}extensions:\n  app:\n${ext}`;
  it('defaults types to sysext and confext and the filesystem to squashfs', async () => {
    const ext = (await load(base('    version: "1.0.0"\n'))).project.extension('app');
    assert.deepEqual(ext.types, ['sysext', 'confext']);
    assert.equal(ext.filesystem.value, 'squashfs');
  });
  it('inherits rootfs.filesystem', async () => {
    const ext = (await load(base('    version: "1.0.0"\n', 'rootfs: {filesystem: erofs}\n'))).project.extension('app');
    assert.equal(ext.filesystem.value, 'erofs');
    assert.equal(ext.filesystemSource, 'rootfs.filesystem');
  });
  it('rejects a numeric version, saying to quote it', async () => {
    const e = await loadError(base('    version: 1.0\n'));
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /avocado\.yaml:4:14: extensions\.app\.version: is a YAML number; quote it .*"1\.0\.0"/);
  });
  it('rejects a version that is not semver, and a missing one', async () => {
    assert.match((await loadError(base('    version: "1.0"\n'))).message, /'1\.0' is not a semantic version/);
    assert.match((await loadError(base('    version: "v1.0.0"\n'))).message, /not a semantic version/);
    assert.match((await loadError(base('    types: [sysext]\n'))).message, /extensions\.app\.version: is required/);
  });
  it('accepts pre-release and build metadata', async () => {
    assert.equal((await load(base('    version: "1.2.3-rc.1+build.5"\n'))).project.extension('app').version, '1.2.3-rc.1+build.5');
  });
  it('rejects unknown filesystems', async () => {
    assert.match((await loadError(base('    version: "1.0.0"\n    filesystem: ext4\n'))).message, /extensions\.app\.filesystem: unknown filesystem 'ext4'; expected one of squashfs, erofs/);
  });
  it('rejects bad types', async () => {
    assert.match((await loadError(base('    version: "1.0.0"\n    types: [sysext, portable]\n'))).message, /extensions\.app\.types\[1\]: must be sysext or confext/);
    assert.match((await loadError(base('    version: "1.0.0"\n    types: []\n'))).message, /must name at least one/);
  });
  it('lists the known extensions when the name is unknown', async () => {
    const e = await loadError(base('    version: "1.0.0"\n') + '  other:\n    version: "1.0.0"\n', {}, 'nope');
    assert.match((e as ConfigError).line, /extension 'nope' is not defined in .*avocado\.yaml; known extensions: app, other/);
  });
  it('validates source_date_epoch when it is read', async () => {
    const epoch = async (yaml: string, env: Record<string, string> = {}) => (await load(`default_target: t\n${yaml}`, { env })).project.sourceDateEpoch;
    assert.equal(await epoch(''), 0);
    assert.equal(await epoch('source_date_epoch: 1700000000\n'), 1700000000);
    assert.equal(await epoch('source_date_epoch: "{{ env.SDE }}"\n', { SDE: '42' }), 42);
    await assert.rejects(epoch('source_date_epoch: 4294967296\n'), /avocado\.yaml:2:20: source_date_epoch: must be a whole number from 0 to 4294967295/);
    await assert.rejects(epoch('source_date_epoch: -1\n'), /source_date_epoch/);
    await assert.rejects(epoch('source_date_epoch: "{{ env.SDE }}"\n'), /source_date_epoch: must be a whole number .*got ""  ?\(written "\{\{ env\.SDE \}\}"\)/);
  });
  it('reads src_dir relative to avocado.yaml', async () => {
    const { project, dir } = await load('default_target: t\nsrc_dir: "{{ env.SRC }}/x"\n', { env: { SRC: 'a' } });
    assert.equal(project.sourceDir, join(dir, 'a/x'));
  });
  it('reports YAML syntax errors with a position', async () => {
    await assert.rejects(load('default_target: t\nextensions:\n  app: [\n'), /avocado\.yaml:\d+:\d+: invalid YAML/);
  });
  it('rejects a repeated key, naming it and both lines', async () => {
    const yaml = 'default_target: t\nextensions:\n  app:\n    types: [sysext]\n    packages: [curl]\n    packages:\n      x: "*"\n';
    await assert.rejects(load(yaml), (e: ConfigError) => {
      assert.equal(e.exitCode, 2);
      assert.match(
        e.line,
        /avocado\.yaml:6:5: extensions\.app\.packages: key 'packages' is repeated: it is also at line 5, column 5; YAML allows a key once per mapping \(the Avocado CLI rejects this file too\): merge the two into one$/,
      );
      return true;
    });
  });
  it('reads YAML merge keys', async () => {
    const { project } = await load('default_target: t\ncommon: &c {version: "1.0.0", types: [sysext]}\nextensions:\n  app:\n    <<: *c\n    types: [confext]\n');
    const ext = project.extension('app');
    assert.equal(ext.version, '1.0.0');
    assert.deepEqual(ext.types, ['confext']);
  });
});

describe('hostile configuration', () => {
  it('prints every error and warning on one line, control characters escaped', async () => {
    const e = await loadError('default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n    filesystem: "a\\nerror: forged\\0\\e[31m"\n');
    assert.ok(e instanceof ConfigError);
    assert.equal((e as ConfigError).line.split('\n').length, 1);
    assert.match((e as ConfigError).line, /unknown filesystem 'a\\nerror: forged\\0\\x1b\[31m'/);
    assert.equal(printable('tab\tstays, \u2028 and \x7f do not'), 'tab\tstays, \\u2028 and \\x7f do not');
    assert.equal(printable(printable('a\r\nb')), 'a\\r\\nb');
    // Through the command line, in text and in JSON, errors and warnings alike.
    const { dir } = await load('default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n    "odd\\nkey": 1\n    filesystem: "a\\nb"\n');
    const text = avocado(['ext', 'image', 'app', '--dry-run'], { cwd: dir, timeoutMs: 30_000 });
    assert.equal(text.code, 2);
    assert.deepEqual(
      text.stderr.trimEnd().split('\n').map((l) => l.replace(/^(\w+):.*/, '$1')),
      ['warning', 'error'],
      text.stderr,
    );
    const json = avocado(['ext', 'image', 'app', '--dry-run', '--json'], { cwd: dir, timeoutMs: 30_000 });
    const doc = JSON.parse(json.stdout);
    assert.match(doc.error.message, /unknown filesystem 'a\\nb'/);
    assert.match(doc.warnings[0], /unknown extension key 'odd\\nkey'/);
  });
});

describe('hostile YAML', () => {
  const head = 'default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n';
  /** Nine anchors, each a list of nine aliases of the one before: 9^9 values from 500 bytes. */
  const bomb = ['a0: &a0 [x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 8 }, (_, i) => `a${i + 1}: &a${i + 1} [${Array(9).fill(`*a${i}`).join(', ')}]`)].join('\n');

  it('refuses an alias bomb at the alias that passes the limit, quickly', async () => {
    const started = performance.now();
    await rejectsLine(load(`${head}${bomb}\n`), /avocado\.yaml:10:10: a5\[0\]: the aliases of this file expand to more than 100000 values \(an alias bomb\?\)/);
    assert.ok(performance.now() - started < 5_000, `took ${performance.now() - started} ms`);
    // Aliases that expand to fewer values are read.
    const { project } = await load(`${head}${bomb.split('\n').slice(0, 4).join('\n')}\n`);
    const a3 = project.read(['a3']);
    assert.equal(a3?.kind === 'seq' && a3.items.length, 9);
  });
  it('resolves each alias once (many aliases load in linear time)', async () => {
    const many = Array.from({ length: 5000 }, (_, i) => `k${i}: *d`).join('\n');
    // Searching the document for each alias's anchor took 48 s here on a busy machine.
    const started = performance.now();
    const { project } = await load(`${head}d: &d {a: 1}\n${many}\n`);
    assert.ok(performance.now() - started < 8_000, `took ${performance.now() - started} ms`);
    assert.equal(nodeAt(project.read(['k4999']), ['a'])?.origin.line, 5);
  });
  it('refuses an alias inside the value it names, with its line and a short path', async () => {
    await rejectsLine(load(`${head}a: &a\n  b: *a\n`), /^[^\n]*avocado\.yaml:6:6: a\.b: alias \*a is inside the value of &a, which would contain itself without end/);
    await rejectsLine(load(`${head}a: &a\n  <<: *a\n`), /avocado\.yaml:6:7: a: alias \*a is inside/);
    await rejectsLine(load(`${head}a: &a [[*a]]\n`), /avocado\.yaml:5:9: a\[0\]\[0\]: alias \*a is inside/);
  });
  it('gives a deep nesting its line and a short path', async () => {
    await rejectsLine(load(`${head}x: ${'['.repeat(300)}${']'.repeat(300)}\n`), /avocado\.yaml:5:204: x\[0\]\[0\]\[0\]\[0\]\[0\]…\(191 more\)…\[0\]\[0\]\[0\]\[0\]: YAML nesting is deeper than 200 levels$/);
  });
  it('refuses a file too long to be a configuration, before parsing it', async () => {
    const started = performance.now();
    await rejectsLine(load(`${head}${'k: v\n'.repeat(1 << 20)}`), /avocado\.yaml has 5242938 characters; avocado reads files of up to 4194304; is it the right file\?/);
    assert.ok(performance.now() - started < 3_000, `took ${performance.now() - started} ms`);
  });
  it('refuses a merge key without a mapping, and names an unresolved alias in one', async () => {
    for (const merge of ['{<<}', '{<<: 5}', '{<<: [{a: 1}, 3]}', '{<<: }'])
      await rejectsLine(load(`${head}x: ${merge}\n`), /avocado\.yaml:5:\d+: x: '<<' \(a merge key\) must be followed by a mapping or a list of mappings/);
    for (const merge of ['{<<: *nope}', '{<<: [*nope]}'])
      await rejectsLine(load(`${head}x: ${merge}\n`), /avocado\.yaml:5:\d+: x: unresolved alias \*nope; define the anchor &nope before the alias$/);
    await assert.rejects(load(`${head}x: {<<}\n`), (e: Error) => !e.message.includes('Symbol'));
  });
});

describe('hostile interpolation', () => {
  const head = 'default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n';
  /** v0 uses v1 twice, v1 uses v2 twice, …: vN is 2^(n-N) long. */
  const doubling = (n: number, from = 0) =>
    Array.from({ length: n - from }, (_, i) => `v${from + i}: "{{ config.v${from + i + 1} }}{{ config.v${from + i + 1} }}"`).join('\n') + `\nv${n}: x\n`;

  it('interpolates each value once, and refuses one that grows too long at its line', async () => {
    const started = performance.now();
    const { project } = await load(`${head}${doubling(40)}`);
    assert.equal(project.extension('app').version, '1.0.0');
    assert.ok(performance.now() - started < 5_000, `took ${performance.now() - started} ms`);
    assert.equal((project.read(['v21']) as CScalar).value, 'x'.repeat(2 ** 19));
    // v20 is 2^20 characters, the most a value may have; v19 would be twice that.
    throwsLine(() => project.read(['v0']), /avocado\.yaml:24:6: v19: interpolates to more than 1048576 characters; check the \{\{ config\.… \}\} references in it/);
  });
  it('bounds all interpolated values together', async () => {
    const many = Array.from({ length: 140 }, (_, i) => `k${i}: "x{{ config.v1 }}"`).join('\n');
    const { project } = await load(`${head}${doubling(20)}${many}\n`);
    assert.equal((project.read(['k3']) as CScalar).value, `x${'x'.repeat(2 ** 19)}`);
    throwsLine(() => project.read(['k139']), /avocado\.yaml:\d+:7: k139: the interpolated values of this file pass 67108864 characters in all/);
  });
  it('bounds a chain of references', async () => {
    const chain = (name: string, n: number) => Array.from({ length: n }, (_, i) => `${name}${i}: "{{ config.${name}${i + 1} }}"`).join('\n') + `\n${name}${n}: end\n`;
    const { project } = await load(`${head}${chain('c', 150)}${chain('d', 90)}`);
    assert.equal((project.read(['d0']) as CScalar).value, 'end');
    throwsLine(() => project.read(['c0']), /avocado\.yaml:105:7: c100: references lead through more than 100 values \(config\.c1 -> … -> config\.c101\); refer to the value itself/);
  });
});
