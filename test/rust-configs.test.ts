/**
 * The 23 real avocado.yaml files of the Rust Avocado CLI's repository (../shared/rust-cli-configs,
 * data for tests, never copied into this repository): each is loaded by the real CLI the way
 * `ext image` loads it, with the exact configuration warnings and errors it must give and its
 * exit status; then `ext build` + `ext image` run on four of them and the images are mounted.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { withMountedImage } from './helpers/mount.js';
import { REPO, TestProject } from './helpers/project.js';
import { cannotMount } from './helpers/system.js';
import { compareTrees, snapshotTree } from './helpers/tree.js';

const CONFIGS = join(REPO, '..', 'shared', 'rust-cli-configs');
const absent = existsSync(CONFIGS) ? false : `needs the Rust CLI's configuration files in ${CONFIGS} (../shared/rust-cli-configs beside the repository)`;

/** Every *.yaml below the directory, relative to it, sorted. */
function yamlFiles(dir: string, rel = ''): string[] {
  return readdirSync(join(dir, rel), { withFileTypes: true })
    .flatMap((d) => (d.isDirectory() ? yamlFiles(dir, join(rel, d.name)) : d.name.endsWith('.yaml') ? [join(rel, d.name)] : []))
    .sort();
}

const projects: TestProject[] = [];
after(() => projects.forEach((p) => p.remove()));

/** A temporary project holding a copy of one of the files as avocado.yaml. */
function projectWith(file: string): TestProject {
  const p = new TestProject(readFileSync(join(CONFIGS, file), 'utf8'), 'avocado-rustcfg-');
  projects.push(p);
  return p;
}

/** Runs avocado with -C on the copy; its warning and error lines, with the project directory as TMP. */
function run(p: TestProject, args: string[], env?: Record<string, string>) {
  const r = p.run([...args, '-C', join(p.dir, 'avocado.yaml')], env);
  const lines = r.stderr.split('\n').map((l) => l.split(p.dir).join('TMP'));
  return {
    code: r.code,
    stderr: r.stderr,
    warnings: lines.filter((l) => l.startsWith('warning: ')).map((l) => l.slice('warning: '.length)),
    errors: lines.filter((l) => l.startsWith('error: ')).map((l) => l.slice('error: '.length)),
  };
}

const F = 'TMP/avocado.yaml';
/** The error of a configuration that loaded: the sysroot has not been built yet. */
const NO_SYSROOT = /^extension sysroot does not exist: TMP\/_avocado\//;
const VERSION_REQUIRED = (line: number, ext: string) => `${F}:${line}:5: extensions.${ext}.version: is required: give the extension a semver version, e.g. version: "1.0.0"`;
const NO_EXTENSIONS = (ext: string) => `extension '${ext}' is not defined in ${F}; the file defines no extensions: add one under extensions:`;
const NO_TARGET = `no target given; pass -t/--target <target>, set AVOCADO_TARGET, or set default_target in ${F}`;
const UNDER_EXT = (line: number, ext: string) =>
  `${F}:${line}:1: ext: extension '${ext}' is under 'ext:', the old name of 'extensions:', which neither avocado nor the Avocado CLI reads any more; rename ext: to extensions:`;
const FROM_PACKAGE = (line: number, key: string, ext: string) =>
  `${F}:${line}:3: extensions.${key}: extension '${ext}' comes from source: package: its settings (version, types, …) are in its own avocado.yaml, which the Rust Avocado CLI fetches ('avocado ext install ${ext}' with that tool; avocado-ext has no ext install); avocado-ext reads only this file: build the extension with the Rust Avocado CLI, or write its settings (at least version) under extensions.${ext}`;
/** The Avocado CLI's warning for an extension its runtime does not list (the fixtures' sole runtime `default` lists none). */
const NOT_MEMBER = (at: string, ext: string, runtime: string, verb: 'building' | 'imaging') =>
  `${F}:${at}: runtimes.${runtime}: extension '${ext}' is not a member of runtime '${runtime}'; ${verb} it standalone: add it to runtimes.${runtime}.extensions to include it in the runtime`;
const FILES_UNKNOWN = (line: number, ext: string) => `${F}:${line}:5: extensions.${ext}.files: unknown extension key 'files' (ignored)`;

interface Case {
  readonly file: string;
  readonly args: string[];
  readonly env?: Record<string, string>;
  readonly warnings: string[];
  /** The one error line; a configuration that loads ends at NO_SYSROOT. */
  readonly error: string | RegExp;
}

const CASES: Case[] = [
  { file: 'avocado.yaml', args: ['avocado-ext-cli'], warnings: [], error: NO_TARGET },
  {
    file: 'avocado.yaml',
    args: ['avocado-ext-cli', '-t', 'qemux86-64'],
    warnings: [`${F}:8:14: extensions.avocado-ext-cli.version: environment variable 'AVOCADO_EXT_VERSION' is not set, replacing it with an empty string`],
    error: `${F}:8:14: extensions.avocado-ext-cli.version: '' is not a semantic version: use MAJOR.MINOR.PATCH with optional -pre-release and +build, e.g. "1.0.0", "2.1.3-rc.1" (written '{{ env.AVOCADO_EXT_VERSION }}')`,
  },
  // sdk.image's unset AVOCADO_DISTRO_RELEASE is not read by the native engine: no warning.
  { file: 'avocado.yaml', args: ['avocado-ext-cli', '-t', 'qemux86-64'], env: { AVOCADO_EXT_VERSION: '0.5.0' }, warnings: [], error: NO_SYSROOT },
  {
    file: 'configs/default.yaml',
    args: ['app'],
    warnings: [],
    error: `${F}:3:17: default_target: '{target}' is a placeholder of the avocado init template; write your target there (e.g. qemux86-64), or pass -t/--target <target>`,
  },
  { file: 'configs/default.yaml', args: ['app', '-t', 'qemux86-64'], warnings: [], error: NO_SYSROOT },
  { file: 'configs/default.yaml', args: ['avocado-ext-dev', '-t', 'qemux86-64'], warnings: [], error: FROM_PACKAGE(36, 'avocado-ext-dev', 'avocado-ext-dev') },
  // The board: the target by default, else --target-board > AVOCADO_TARGET_BOARD.
  {
    file: 'configs/default.yaml',
    args: ['avocado-bsp-qemux86-64', '-t', 'qemux86-64'],
    warnings: [],
    error: FROM_PACKAGE(46, 'avocado-bsp-{{ avocado.target.board }}', 'avocado-bsp-qemux86-64'),
  },
  {
    file: 'configs/default.yaml',
    args: ['avocado-bsp-rpi5', '-t', 'raspberrypi5', '--target-board', 'rpi5'],
    env: { AVOCADO_TARGET_BOARD: 'other' },
    warnings: [],
    error: FROM_PACKAGE(46, 'avocado-bsp-{{ avocado.target.board }}', 'avocado-bsp-rpi5'),
  },
  {
    file: 'configs/default.yaml',
    args: ['avocado-bsp-imx8', '-t', 'imx'],
    env: { AVOCADO_TARGET_BOARD: 'imx8' },
    warnings: [],
    error: FROM_PACKAGE(46, 'avocado-bsp-{{ avocado.target.board }}', 'avocado-bsp-imx8'),
  },
  { file: 'docs/container-dev/lab/avocado.yaml', args: ['app'], warnings: [], error: NO_TARGET },
  { file: 'docs/container-dev/lab/avocado.yaml', args: ['app', '-t', 'qemux86-64'], warnings: [], error: NO_EXTENSIONS('app') },
  { file: 'examples/comprehensive-users-example.yaml', args: ['avocado-dev', '-t', 'x86_64'], warnings: [], error: UNDER_EXT(13, 'avocado-dev') },
  { file: 'examples/signing-keys-example.yaml', args: ['app'], warnings: [], error: NO_EXTENSIONS('app') },
  { file: 'examples/sysroot-example.yaml', args: ['my-extension'], warnings: [], error: UNDER_EXT(13, 'my-extension') },
  { file: 'tests/fixtures/configs/complex.yaml', args: ['web-server'], warnings: [], error: VERSION_REQUIRED(14, 'web-server') },
  { file: 'tests/fixtures/configs/complex.yaml', args: ['config-only'], warnings: [FILES_UNKNOWN(24, 'config-only')], error: VERSION_REQUIRED(22, 'config-only') },
  { file: 'tests/fixtures/configs/complex.yaml', args: ['monitoring'], warnings: [], error: VERSION_REQUIRED(37, 'monitoring') },
  {
    file: 'tests/fixtures/configs/external-config.yaml',
    args: ['external-extension'],
    warnings: [],
    error: `${F}:8:5: extensions.external-extension.packages: key 'packages' is repeated: it is also at line 6, column 5; YAML allows a key once per mapping (the Avocado CLI rejects this file too): merge the two into one`,
  },
  { file: 'tests/fixtures/configs/minimal.yaml', args: ['app'], warnings: [], error: NO_EXTENSIONS('app') },
  { file: 'tests/fixtures/configs/nested-config.yaml', args: ['nested-extension'], warnings: [], error: NO_TARGET },
  { file: 'tests/fixtures/configs/nested-config.yaml', args: ['nested-extension', '-t', 'qemux86-64'], warnings: [], error: VERSION_REQUIRED(4, 'nested-extension') },
  {
    file: 'tests/fixtures/configs/with-both-extensions.yaml',
    args: ['test-both'],
    warnings: [
      `${F}:9:5: extensions.test-both.sysext: 'sysext: true, confext: true' is the old form of types and is not read; write types: [sysext, confext] instead (the default, so the image is the same)`,
      FILES_UNKNOWN(13, 'test-both'),
    ],
    error: VERSION_REQUIRED(9, 'test-both'),
  },
  { file: 'tests/fixtures/configs/with-confext.yaml', args: ['test-confext'], warnings: [FILES_UNKNOWN(11, 'test-confext')], error: VERSION_REQUIRED(9, 'test-confext') },
  {
    file: 'tests/fixtures/configs/with-external-extensions.yaml',
    args: ['main-extension'],
    warnings: [],
    error: `${F}:11:5: extensions.main-extension.packages: key 'packages' is repeated: it is also at line 9, column 5; YAML allows a key once per mapping (the Avocado CLI rejects this file too): merge the two into one`,
  },
  // Neither the unset TEST_PKG_ENV_VAR_INTERP (runtimes) nor base_image, nested (used through
  // {{ config.… }}) or derived_image, reference_nested (not misspellings) are reported.
  {
    file: 'tests/fixtures/configs/with-interpolation.yaml',
    args: ['test-ext'],
    warnings: [`${F}:43:14: extensions.test-ext.version: environment variable 'EXT_VERSION_ENV_VAR_INTERP' is not set, replacing it with an empty string`],
    error: `${F}:43:14: extensions.test-ext.version: '' is not a semantic version: use MAJOR.MINOR.PATCH with optional -pre-release and +build, e.g. "1.0.0", "2.1.3-rc.1" (written "{{ env.EXT_VERSION_ENV_VAR_INTERP }}")`,
  },
  { file: 'tests/fixtures/configs/with-interpolation.yaml', args: ['test-ext'], env: { EXT_VERSION_ENV_VAR_INTERP: '1.2.3' }, warnings: [], error: NO_SYSROOT },
  {
    file: 'tests/fixtures/configs/with-interpolation.yaml',
    args: ['test-ext-with-ref'],
    warnings: [`${F}:47:13: extensions.test-ext-with-ref.image.type: avocado builds .raw images only (a .kab needs kabtool, in the Avocado SDK); ext image writes test-ext-with-ref-3.2.1.raw`],
    error: NO_SYSROOT,
  },
  { file: 'tests/fixtures/configs/with-nested-target-config.yaml', args: ['avocado-ext-webkit'], warnings: [NOT_MEMBER('11:3', 'avocado-ext-webkit', 'default', 'imaging')], error: NO_SYSROOT },
  {
    file: 'tests/fixtures/configs/with-nested-target-config.yaml',
    args: ['avocado-ext-webkit', '-t', 'reterminal-dm'],
    warnings: [
      `${F}:29:5: extensions.avocado-ext-webkit.reterminal-dm: bare target sub-key 'reterminal-dm' in extensions.avocado-ext-webkit is deprecated; use 'target-reterminal-dm:' instead`,
      NOT_MEMBER('11:3', 'avocado-ext-webkit', 'default', 'imaging'),
    ],
    error: NO_SYSROOT,
  },
  { file: 'tests/fixtures/configs/with-overlay-merge.yaml', args: ['peridio'], warnings: [], error: VERSION_REQUIRED(9, 'peridio') },
  { file: 'tests/fixtures/configs/with-overlay-merge.yaml', args: ['legacy'], warnings: [], error: VERSION_REQUIRED(16, 'legacy') },
  { file: 'tests/fixtures/configs/with-overlay-opaque.yaml', args: ['peridio'], warnings: [], error: VERSION_REQUIRED(9, 'peridio') },
  { file: 'tests/fixtures/configs/with-overlay.yaml', args: ['peridio'], warnings: [], error: VERSION_REQUIRED(9, 'peridio') },
  {
    file: 'tests/fixtures/configs/with-overlay.yaml',
    args: ['peridoi'],
    warnings: [],
    error: `extension 'peridoi' is not defined in ${F}; did you mean 'peridio'? known extensions: peridio`,
  },
  { file: 'tests/fixtures/configs/with-permissions.yaml', args: ['app'], warnings: [], error: NO_EXTENSIONS('app') },
  { file: 'tests/fixtures/configs/with-signing-keys.yaml', args: ['app'], warnings: [], error: NO_EXTENSIONS('app') },
  { file: 'tests/fixtures/configs/with-sysext.yaml', args: ['test-sysext'], warnings: [], error: VERSION_REQUIRED(9, 'test-sysext') },
  { file: 'tests/fixtures/configs/with-users.yaml', args: ['avocado-dev'], warnings: [], error: VERSION_REQUIRED(9, 'avocado-dev') },
  { file: 'tests/workflows/runtime_from_scratch/avocado.yaml', args: ['ext-2'], warnings: [], error: UNDER_EXT(14, 'ext-2') },
];

describe('the Rust CLI\'s avocado.yaml files, loaded by ext image', { skip: absent }, () => {
  it('covers every file there is', () => {
    const files = yamlFiles(CONFIGS);
    assert.equal(files.length, 23);
    assert.deepEqual([...new Set(CASES.map((c) => c.file))].sort(), files);
  });

  for (const c of CASES) {
    const env = c.env ? ` ${Object.entries(c.env).map(([k, v]) => `${k}=${v}`).join(' ')}` : '';
    it(`${c.file}: ext image ${c.args.join(' ')}${env}`, () => {
      const p = projectWith(c.file);
      const r = run(p, ['ext', 'image', ...c.args], c.env);
      assert.equal(r.code, 2, r.stderr);
      assert.deepEqual(r.warnings, c.warnings, r.stderr);
      assert.equal(r.errors.length, 1, r.stderr);
      if (typeof c.error === 'string') assert.equal(r.errors[0], c.error);
      else assert.match(r.errors[0]!, c.error);
    });
  }

  it('offers --target-board on ext build and ext image', () => {
    const p = projectWith('configs/default.yaml');
    for (const cmd of ['build', 'image']) assert.match(p.run(['ext', cmd, '--help']).stdout, /--target-board <BOARD> +board for \{\{ avocado\.target\.board \}\}/);
  });
});

interface Build {
  readonly file: string;
  readonly ext: string;
  readonly version: string;
  readonly target: string;
  readonly args: string[];
  readonly env?: Record<string, string>;
  /** Files of the overlay the config points at, made in the temporary project. */
  readonly overlay?: { readonly dir: string; readonly files: Record<string, string> };
  /** The configuration's warnings, which both commands give. */
  readonly configWarnings: string[];
  /** The runtime in effect that does not list the extension: a warning of each command (its line:col). */
  readonly notMemberOf?: { readonly runtime: string; readonly at: string };
  /** The warnings ext build adds. */
  readonly buildWarnings: string[];
  /** Paths the image must hold, besides the release files. */
  readonly expect: string[];
}

const BUILDS: Build[] = [
  {
    // A legacy bare target block supplies the overlay; enable_services links the unit it ships.
    file: 'tests/fixtures/configs/with-nested-target-config.yaml',
    ext: 'avocado-ext-webkit',
    version: '1.0.0',
    target: 'reterminal-dm',
    args: ['-t', 'reterminal-dm'],
    overlay: {
      dir: 'extensions/webkit/overlays/reterminal-dm',
      files: {
        'usr/bin/cog': '#!/bin/sh\necho cog\n',
        'usr/lib/systemd/system/cog.service': '[Unit]\nDescription=Cog\n[Service]\nExecStart=/usr/bin/cog\n[Install]\nWantedBy=multi-user.target\n',
        'etc/cog.conf': 'fullscreen=true\n',
      },
    },
    configWarnings: [`${F}:29:5: extensions.avocado-ext-webkit.reterminal-dm: bare target sub-key 'reterminal-dm' in extensions.avocado-ext-webkit is deprecated; use 'target-reterminal-dm:' instead`],
    notMemberOf: { runtime: 'default', at: '11:3' },
    buildWarnings: [],
    expect: ['usr/bin/cog', 'usr/lib/systemd/system/cog.service', 'etc/cog.conf', 'etc/systemd/system/multi-user.target.wants/cog.service'],
  },
  {
    // The version comes from the environment, and so does the image's name.
    file: 'tests/fixtures/configs/with-interpolation.yaml',
    ext: 'test-ext',
    version: '1.2.3',
    target: 'x86_64-unknown-linux-gnu',
    args: [],
    env: { EXT_VERSION_ENV_VAR_INTERP: '1.2.3' },
    configWarnings: [],
    buildWarnings: [],
    expect: [],
  },
  {
    file: 'avocado.yaml',
    ext: 'avocado-ext-cli',
    version: '0.5.0',
    target: 'qemux86-64',
    args: ['-t', 'qemux86-64', '--target-board', 'qemux86-64-board'],
    env: { AVOCADO_EXT_VERSION: '0.5.0' },
    configWarnings: [],
    buildWarnings: ['packages, sdk configured: installing packages and running SDK steps needs the Avocado SDK and is not done here; only the overlay and release files are written'],
    expect: [],
  },
  {
    file: 'configs/default.yaml',
    ext: 'app',
    version: '0.1.0',
    target: 'qemux86-64',
    args: ['-t', 'qemux86-64'],
    configWarnings: [],
    buildWarnings: [],
    expect: [],
  },
];

describe('ext build + ext image on the Rust CLI\'s files', { skip: absent }, () => {
  for (const b of BUILDS) {
    it(`${b.file}: ${b.ext} ${b.version}`, async (t) => {
      const p = projectWith(b.file);
      if (b.overlay)
        for (const [rel, text] of Object.entries(b.overlay.files)) {
          const path = join(p.dir, b.overlay.dir, rel);
          mkdirSync(join(path, '..'), { recursive: true });
          writeFileSync(path, text);
          chmodSync(path, rel.startsWith('usr/bin/') ? 0o755 : 0o644);
        }
      const built = run(p, ['ext', 'build', b.ext, ...b.args], b.env);
      assert.equal(built.code, 0, built.stderr);
      const member = (verb: 'building' | 'imaging') => (b.notMemberOf ? [NOT_MEMBER(b.notMemberOf.at, b.ext, b.notMemberOf.runtime, verb)] : []);
      assert.deepEqual(built.warnings, [...b.configWarnings, ...member('building'), ...b.buildWarnings]);

      const imaged = run(p, ['ext', 'image', b.ext, ...b.args], b.env);
      assert.equal(imaged.code, 0, imaged.stderr);
      assert.deepEqual(imaged.warnings, [...b.configWarnings, ...member('imaging')], 'ext image gives the configuration warnings only: the sysroot passes the lint');
      const image = p.image(b.target, b.ext, b.version);
      assert.ok(existsSync(image), `${image} exists`);

      const sysroot = p.sysroot(b.target, b.ext);
      const release = `usr/lib/extension-release.d/extension-release.${b.ext}-${b.version}`;
      for (const rel of [release, ...b.expect]) assert.ok(lstatSync(join(sysroot, rel), { throwIfNoEntry: false }), `${rel} in the sysroot`);

      const why = cannotMount('squashfs');
      if (why) return t.skip(`image not mounted: ${why}`);
      await withMountedImage(image, 'squashfs', (dir) => {
        assert.deepEqual(compareTrees(snapshotTree(dir), snapshotTree(sysroot), { mtime: 0 }), []);
        assert.match(readFileSync(join(dir, release), 'utf8'), /^ID=_any\n/);
      });
    });
  }
});
