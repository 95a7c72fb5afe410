/** avocado.yaml: interpolation, target overrides, validation messages with file:line:col and YAML path. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Project } from '../src/config/project.js';
import { ConfigError, UsageError } from '../src/util/errors.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function load(yaml: string, opts: { target?: string; env?: Record<string, string> } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'avocado-config-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'avocado.yaml'), yaml);
  const warnings: string[] = [];
  const project = await Project.load({ cwd: dir, env: opts.env ?? {}, target: opts.target, warn: (m) => warnings.push(m) });
  return { project, warnings, dir };
}

async function loadError(yaml: string, opts: { target?: string; env?: Record<string, string> } = {}, ext = 'app'): Promise<Error> {
  try {
    const { project } = await load(yaml, opts);
    project.extension(ext);
  } catch (e) {
    return e as Error;
  }
  assert.fail('expected an error');
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
  it('reports a reference cycle', async () => {
    const e = await loadError('default_target: t\na: "{{ config.b }}"\nb: "{{ config.a }}"\n');
    assert.match(e.message, /cycle: config\.b -> config\.a -> config\.b/);
  });
  it('rejects an unknown context', async () => {
    const e = await loadError('default_target: t\nx: "{{ foo.bar }}"\n');
    assert.match(e.message, /unknown template context 'foo'/);
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
  it('warns about unknown keys instead of failing', async () => {
    const { project, warnings } = await load(base('    version: "1.0.0"\n    verison: "x"\n', 'mystery: 1\n'));
    project.extension('app');
    assert.ok(warnings.some((w) => /unknown top-level key 'mystery'/.test(w)));
    assert.ok(warnings.some((w) => /avocado\.yaml:6:\d+: unknown extension key 'verison'/.test(w)));
  });
  it('validates source_date_epoch', async () => {
    assert.equal((await load('default_target: t\nsource_date_epoch: 1700000000\n')).project.sourceDateEpoch, 1700000000);
    assert.equal((await load('default_target: t\nsource_date_epoch: "{{ env.SDE }}"\n', { env: { SDE: '42' } })).project.sourceDateEpoch, 42);
    await assert.rejects(load('default_target: t\nsource_date_epoch: 4294967296\n'), /avocado\.yaml:2:20: source_date_epoch: must be a whole number from 0 to 4294967295/);
    await assert.rejects(load('default_target: t\nsource_date_epoch: -1\n'), /source_date_epoch/);
  });
  it('reports YAML syntax errors with a position', async () => {
    await assert.rejects(load('default_target: t\nextensions:\n  app: [\n'), /avocado\.yaml:\d+:\d+: invalid YAML/);
    await assert.rejects(load('a: 1\na: 2\n'), /invalid YAML: Map keys must be unique/);
  });
});
