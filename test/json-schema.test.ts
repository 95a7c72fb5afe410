/**
 * The JSON Schema shipped for editors (schema/avocado.schema.json) says what the CLI says: it is
 * the one generated from the zod schema, it accepts the example and the real project files of the
 * Avocado CLI that the CLI loads (unknown keys included), and it rejects the values the CLI
 * rejects. Judged by ajv, a JSON Schema validator independent of the generator.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Ajv, type ErrorObject } from 'ajv';
import { parse } from 'yaml';
import { avocadoJsonSchema } from '../scripts/avocado-schema.js';
import { Project } from '../src/config/project.js';
import { REPO } from './helpers/project.js';

const SCHEMA_FILE = join(REPO, 'schema/avocado.schema.json');
const RUST_CONFIGS = join(process.env.AVOCADO_SHARED ?? join(REPO, '../shared'), 'rust-cli-configs');

const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as Record<string, unknown>;
const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);

function schemaErrors(doc: unknown): ErrorObject[] {
  return validate(doc) ? [] : [...(validate.errors ?? [])];
}

const work = mkdtempSync(join(tmpdir(), 'avocado-schema-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** The CLI's verdict on a project file: undefined if it loads and every extension validates, else the error. */
/** `target`: as -t (default qemux86-64); '' for none, so that default_target is read. */
async function cliError(yaml: string, env: Record<string, string> = {}, target = 'qemux86-64'): Promise<string | undefined> {
  const file = join(work, 'avocado.yaml');
  writeFileSync(file, yaml);
  try {
    const project = await Project.load({ configPath: file, cwd: work, env, target: target || undefined, warn: () => {} });
    // The CLI checks a value when it reads it: read everything ext image reads.
    void project.sourceDateEpoch;
    void project.engine;
    for (const name of project.extensionNames()) project.extension(name);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

const base = (ext: string) => `default_target: qemux86-64\nextensions:\n  app:\n    version: "1.0.0"\n${ext}`;

describe('JSON Schema of avocado.yaml', () => {
  it('is the one generated from the zod schema (the build wrote it)', () => {
    assert.deepEqual(schema, avocadoJsonSchema());
    assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
  });

  it('accepts examples/hello/avocado.yaml', () => {
    assert.deepEqual(schemaErrors(parse(readFileSync(join(REPO, 'examples/hello/avocado.yaml'), 'utf8'))), []);
  });

  it('accepts every real Avocado CLI project file that the CLI loads, unknown keys and all', { skip: existsSync(RUST_CONFIGS) ? undefined : `needs ${RUST_CONFIGS}` }, async () => {
    const files = execFileSync('find', [RUST_CONFIGS, '-name', '*.yaml'], { encoding: 'utf8' }).trim().split('\n').sort();
    assert.ok(files.length >= 20, `found ${files.length} files`);
    let loaded = 0;
    const template = join(RUST_CONFIGS, 'configs/default.yaml');
    for (const file of files) {
      if (file === template) continue; // below
      const text = readFileSync(file, 'utf8');
      try {
        await Project.load({ configPath: file, cwd: work, env: {}, target: 'qemux86-64', warn: () => {} });
      } catch {
        continue; // duplicate keys, or a template the CLI rejects (configs/default.yaml); below
      }
      loaded++;
      assert.deepEqual(schemaErrors(parse(text)), [], file);
    }
    assert.ok(loaded >= 18, `the CLI loaded ${loaded} files`);
    // configs/default.yaml is the `avocado init` template: `supported_targets: [{target}]` is a
    // mapping in YAML, which the CLI reports when it reads supported_targets and the schema always.
    if (existsSync(template)) assert.ok(schemaErrors(parse(readFileSync(template, 'utf8'))).some((e) => e.instancePath.startsWith('/supported_targets')));
  });

  const rejected: [what: string, yaml: string, path: string, target?: string][] = [
    ['an unknown filesystem', base('    filesystem: ext4\n'), '/extensions/app/filesystem'],
    ['a filesystem in a target block (the CLI: when building for that target)', base('    target-rpi4:\n      filesystem: btrfs\n'), '/extensions/app/target-rpi4/filesystem', 'rpi4'],
    ['an unknown rootfs.filesystem', `rootfs:\n  filesystem: zfs\n${base('')}`, '/rootfs/filesystem'],
    ['a YAML number as version', 'extensions:\n  app:\n    version: 1.0\n', '/extensions/app/version'],
    ['a version that is not semver', 'extensions:\n  app:\n    version: "1.0"\n', '/extensions/app/version'],
    ['a cluster size that is not a power of two', base('    filesystem: erofs-lz4\n    erofs_cluster_size: 3000\n'), '/extensions/app/erofs_cluster_size'],
    ['a cluster size above 256 KiB', base('    filesystem: erofs-lz4\n    erofs_cluster_size: 524288\n'), '/extensions/app/erofs_cluster_size'],
    ['an unknown image type', base('    types: [sysext, portable]\n'), '/extensions/app/types/1'],
    ['a type listed twice', base('    types: [sysext, sysext]\n'), '/extensions/app/types'],
    ['no type', base('    types: []\n'), '/extensions/app/types'],
    ['a string for var_files', base('    var_files: var/lib/app\n'), '/extensions/app/var_files'],
    ['an unknown overlay mode', base('    overlay:\n      dir: overlay\n      mode: copy\n'), '/extensions/app/overlay'],
    ['a string for reload_service_manager', base('    reload_service_manager: "yes"\n'), '/extensions/app/reload_service_manager'],
    ['a negative source_date_epoch', `source_date_epoch: -1\n${base('')}`, '/source_date_epoch'],
    ['a fractional source_date_epoch', `source_date_epoch: 1.5\n${base('')}`, '/source_date_epoch'],
    ['source_date_epoch past 2106', `source_date_epoch: 4294967296\n${base('')}`, '/source_date_epoch'],
    ['a list for default_target', `default_target: [a, b]\nextensions: {}\n`, '/default_target', ''],
    ['a list for extensions', 'default_target: qemux86-64\nextensions: [app]\n', '/extensions'],
  ];
  for (const [what, yaml, path, target] of rejected)
    it(`rejects ${what}, as the CLI does`, async () => {
      assert.ok(await cliError(yaml, {}, target), 'the CLI rejects it');
      const errors = schemaErrors(parse(yaml));
      assert.ok(errors.some((e) => e.instancePath === path), `schema errors: ${JSON.stringify(errors.map((e) => [e.instancePath, e.message]))}`);
    });

  it('rejects an unknown engine (the CLI does when it picks the engine)', () => {
    assert.ok(schemaErrors(parse(`engine: fast\n${base('')}`)).some((e) => e.instancePath === '/engine'));
  });

  const accepted: [what: string, yaml: string, env: Record<string, string>][] = [
    ['every filesystem and cluster size', base('    filesystem: erofs-zst\n    erofs_cluster_size: 65536\n    target-rpi4:\n      filesystem: squashfs-xz\n'), {}],
    ['templates where the CLI interpolates them', base('    filesystem: "{{ env.FS }}"\n').replace('"1.0.0"', '"{{ env.V }}"'), { FS: 'erofs', V: '2.0.0-rc.1' }],
    ['source_date_epoch as a string of digits', `source_date_epoch: "1700000000"\n${base('')}`, {}],
    ['unknown keys at every level', `my_key: 1\nsdk:\n  image: x\n  extra: [1]\n${base('    my_ext_key: {a: 1}\n    overlay: {dir: o, mode: opaque, preprocess: true}\n')}`, {}],
    ['an extension without a version (an error only when that extension is imaged)', 'extensions:\n  app:\n    types: [sysext]\n', {}],
  ];
  for (const [what, yaml, env] of accepted)
    it(`accepts ${what}`, async () => {
      assert.deepEqual(schemaErrors(parse(yaml)), []);
      if (!what.startsWith('an extension without')) assert.equal(await cliError(yaml, env), undefined);
    });
});
