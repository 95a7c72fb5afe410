/**
 * The command line as a user meets it: help, version, completion, every bad input with its
 * message and exit status (2 usage/config, 1 build), and that nothing is lost on failure.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeReleaseFiles } from './helpers/corner-tree.js';
import { CLI, TestProject, avocado } from './helpers/project.js';
import { missingTools } from './helpers/system.js';

const YAML = `default_target: qemux86-64
extensions:
  app:
    version: "1.0.0"
  other:
    version: "2.0.0"
`;

describe('help, version, completion', () => {
  const cwd = process.cwd();
  it('prints help with examples and exit statuses', () => {
    const r = avocado(['ext', 'image', '--help'], { cwd });
    assert.equal(r.code, 0);
    for (const s of ['--config <CONFIG>', '--extension <EXTENSION>', '--target <TARGET>', '--out <OUT_DIR>', '--container-arg <ARG>', '--dnf-arg <ARG>', '--runs-on <USER@HOST>', '--nfs-port <PORT>', '--sdk-arch <ARCH>', '--engine <ENGINE>', '--verbose', '--json', 'Examples:', 'Exit status', 'erofs-zst', 'kernel ≥ 6.10'])
      assert.ok(r.stdout.includes(s), `help lacks ${s}`);
    assert.equal(avocado(['help', 'ext'], { cwd }).code, 0);
    const nested = avocado(['help', 'ext', 'image'], { cwd });
    assert.equal(nested.code, 0);
    assert.match(nested.stdout, /Usage: avocado ext image/);
    const bare = avocado([], { cwd });
    assert.equal(bare.code, 2, 'no command is a usage error');
    assert.match(bare.stderr, /Usage: avocado/);
    assert.match(avocado(['--help'], { cwd }).stdout, /ext build my-app/);
  });
  it('prints its name and the version from package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    const r = avocado(['--version'], { cwd });
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), `avocado-ext ${pkg.version}`);
  });
  it('generates completion scripts from the command tree', () => {
    const bash = avocado(['completion', 'bash'], { cwd }).stdout;
    assert.match(bash, /complete -F _avocado avocado/);
    assert.match(bash, /'ext image'\) __avocado_subs=''/);
    assert.match(bash, /'ext image\|--sdk-arch'\) __avocado_k='w:aarch64 arm64 x86-64 x86_64 amd64' ;;/);
    execFileSync('bash', ['-n'], { input: bash });
    // Ask bash itself what it completes after `avocado ext image --e`.
    const out = execFileSync('bash', ['-c', `${bash}\nCOMP_WORDS=(avocado ext image --e); COMP_CWORD=3; _avocado; echo "\${COMPREPLY[@]}"`]).toString();
    assert.deepEqual(out.trim().split(' ').sort(), ['--engine', '--extension']);
    const fish = avocado(['completion', 'fish'], { cwd }).stdout;
    assert.match(fish, /-n "__avocado_at 'ext image'" -l out -d 'also copy the image [^']*' -x -a '\(__fish_complete_directories/);
    // Each shell for real, with a project: test/completion.test.ts.
    assert.match(avocado(['completion', 'zsh'], { cwd }).stdout, /^#compdef avocado/);
    assert.equal(avocado(['completion', 'tcsh'], { cwd }).code, 2);
  });
});

describe('bad input', () => {
  let p: TestProject;
  before(() => {
    p = new TestProject(YAML);
  });
  after(() => p.remove());

  const cases: { name: string; args: string[]; env?: Record<string, string>; yaml?: string; code: number; stderr: RegExp }[] = [
    { name: 'unknown option', args: ['ext', 'image', 'app', '--bogus'], code: 2, stderr: /unknown option '--bogus'/ },
    { name: 'no extension', args: ['ext', 'image'], code: 2, stderr: /no extension named: avocado ext image <NAME>; extensions in .*avocado\.yaml: app, other/ },
    { name: 'NAME and -e disagree', args: ['ext', 'image', 'app', '-e', 'other'], code: 2, stderr: /named twice, as 'app' and as -e 'other'/ },
    { name: 'unknown extension', args: ['ext', 'image', 'nope'], code: 2, stderr: /extension 'nope' is not defined in .*; known extensions: app, other/ },
    { name: 'missing sysroot', args: ['ext', 'image', 'app'], code: 2, stderr: /extension sysroot does not exist: .*_avocado\/qemux86-64\/extensions\/app; create it with 'avocado ext build app -t qemux86-64'/ },
    { name: 'bad --sdk-arch', args: ['ext', 'image', 'app', '--sdk-arch', 'mips'], code: 2, stderr: /--sdk-arch: unsupported SDK architecture 'mips'; use aarch64/ },
    { name: 'empty --runs-on user', args: ['ext', 'image', 'app', '--runs-on', '@host'], code: 2, stderr: /--runs-on: the user name cannot be empty in '@host'/ },
    { name: 'empty --runs-on host', args: ['ext', 'image', 'app', '--runs-on', 'me@'], code: 2, stderr: /--runs-on: the host name cannot be empty/ },
    { name: 'bad --runs-on host', args: ['ext', 'image', 'app', '--runs-on', 'me@bad host;rm'], code: 2, stderr: /is not a valid host name/ },
    { name: '--nfs-port out of range', args: ['ext', 'image', 'app', '--runs-on', 'h', '--nfs-port', '70000'], code: 2, stderr: /--nfs-port: '70000' is not a port number; give a number from 1 to 65535/ },
    { name: '--nfs-port without --runs-on', args: ['ext', 'image', 'app', '--nfs-port', '12050'], code: 2, stderr: /--nfs-port only applies with --runs-on/ },
    { name: '--runs-on with --engine native', args: ['ext', 'image', 'app', '--runs-on', 'me@build', '--engine', 'native'], code: 2, stderr: /--runs-on me@build builds in the SDK container on that host, but the native engine \(from --engine\) builds on this machine; drop one of --engine and --runs-on/ },
    { name: '--runs-on with engine: tools', args: ['ext', 'image', 'app', '--runs-on', 'build'], yaml: `engine: tools\n${YAML}`, code: 2, stderr: /--runs-on build builds in the SDK container on that host, but the tools engine \(from engine in .*avocado\.yaml:1\) builds on this machine; add --engine container, or drop --runs-on/ },
    { name: '--runs-on with AVOCADO_ENGINE=native', args: ['ext', 'image', 'app', '--runs-on', 'build'], env: { AVOCADO_ENGINE: 'native' }, code: 2, stderr: /but the native engine \(from AVOCADO_ENGINE\) builds on this machine/ },
    { name: 'unknown engine', args: ['ext', 'image', 'app', '--engine', 'magic'], code: 2, stderr: /--engine.*magic/ },
    { name: 'bad AVOCADO_ENGINE', args: ['ext', 'image', 'app'], env: { AVOCADO_ENGINE: 'magic' }, code: 2, stderr: /AVOCADO_ENGINE: unknown engine 'magic'; choose one of native, tools, container/ },
    { name: 'no target', args: ['ext', 'image', 'app'], yaml: 'extensions: {app: {version: "1.0.0"}}\n', code: 2, stderr: /no target given; pass -t\/--target <target>, set AVOCADO_TARGET, or set default_target in/ },
    { name: 'numeric version', args: ['ext', 'image', 'app'], yaml: 'default_target: t\nextensions:\n  app:\n    version: 1.0\n', code: 2, stderr: /avocado\.yaml:4:14: extensions\.app\.version: is a YAML number; quote it/ },
    { name: 'missing config file', args: ['ext', 'image', 'app', '-C', 'nope.yaml'], code: 2, stderr: /config file not found: .*nope\.yaml; pass -C <file>/ },
  ];
  for (const c of cases) {
    it(`${c.name}: exit ${c.code}`, () => {
      p.writeConfig(c.yaml ?? YAML);
      const r = p.run(c.args, c.env);
      assert.equal(r.code, c.code, r.stderr);
      assert.match(r.stderr, c.stderr);
      assert.equal(r.stdout, '');
      // One line per error; no stack without --verbose.
      assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('error:')).length, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    });
  }

  it('shows the stack with --verbose', () => {
    p.writeConfig(YAML);
    const r = p.run(['ext', 'image', 'nope', '--verbose']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /\n\s+at /);
  });

  it('reports errors as JSON on stdout with --json', () => {
    p.writeConfig(YAML);
    const r = p.run(['ext', 'image', 'nope', '--json']);
    assert.equal(r.code, 2);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.ok, false);
    assert.equal(doc.error.exitCode, 2);
    assert.match(doc.error.message, /extension 'nope' is not defined/);
  });
});

describe('builds that fail keep the previous image', { skip: missingTools('mksquashfs') }, () => {
  it('a failing build leaves the good image and no temporary file', () => {
    const p = new TestProject(YAML);
    try {
      const sysroot = p.makeSysroot('qemux86-64', 'app');
      mkdirSync(join(sysroot, 'usr/bin'), { recursive: true });
      writeFileSync(join(sysroot, 'usr/bin/app'), 'v1');
      writeReleaseFiles(sysroot, 'app-1.0.0');
      assert.equal(p.run(['ext', 'image', 'app']).code, 0);
      const image = p.image('qemux86-64', 'app', '1.0.0');
      const good = readFileSync(image);

      // --out that cannot be written: exit 1, and the image in the volume is still there.
      writeFileSync(join(p.dir, 'a-file'), '');
      const out = p.run(['ext', 'image', 'app', '--out', 'a-file/dist']);
      assert.equal(out.code, 1, out.stderr);
      assert.match(out.stderr, /error: cannot copy the image to .*a-file\/dist\/app-1\.0\.0\.raw: cannot use .*a-file\/dist: a component of the path is not a directory; the image itself is at .*app-1\.0\.0\.raw/);


      // Without mksquashfs on PATH the tools engine fails before writing anything.
      writeFileSync(join(sysroot, 'usr/bin/app'), 'v2');
      const r = p.run(['ext', 'image', 'app', '--engine', 'tools'], { PATH: '/nonexistent' });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /mksquashfs is not installed; install squashfs-tools/);
      assert.deepEqual(readFileSync(image), good);
      assert.deepEqual(readdirSync(join(image, '..')), ['app-1.0.0.raw']);

      // A bad config after a good build: nothing touched either.
      p.writeConfig(YAML.replace('"1.0.0"', '1.0'));
      assert.equal(p.run(['ext', 'image', 'app']).code, 2);
      assert.deepEqual(readFileSync(image), good);
    } finally {
      p.remove();
    }
  });
});

describe('options for the container engine', { skip: missingTools('mksquashfs') }, () => {
  it('are validated and reported as unused, never silently ignored', () => {
    const p = new TestProject(YAML);
    try {
      const sysroot = p.makeSysroot('qemux86-64', 'app');
      writeReleaseFiles(sysroot, 'app-1.0.0');
      const r = p.run(['ext', 'image', 'app', '--container-arg', '-e A="b c"', '--container-arg=--rm', '--dnf-arg', '--nogpgcheck', '--sdk-arch', 'ARM64']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /warning: --container-arg \(2\) is passed to the SDK container, which needs --engine container; the (tools|native) engine builds on this machine and ignores it/);
      assert.match(r.stderr, /warning: --dnf-arg \(1\)/);
      assert.match(r.stderr, /warning: --sdk-arch aarch64 selects the SDK container platform \(linux\/arm64\)/);
    } finally {
      p.remove();
    }
  });
});

describe('terminal output', { skip: missingTools('script', 'mksquashfs') }, () => {
  // `script` runs the command on a pseudo-terminal, as a user at a terminal would.
  const onTty = (p: TestProject, args: string, env: Record<string, string>) =>
    execFileSync('script', ['-qec', `${process.execPath} ${CLI} ${args}`, '/dev/null'], {
      cwd: p.dir,
      env: { PATH: process.env.PATH ?? '', TERM: 'xterm', ...env },
    }).toString('latin1');

  it('draws progress and colours on a TTY only, and honours NO_COLOR', () => {
    const p = new TestProject(YAML);
    try {
      const sysroot = p.makeSysroot('qemux86-64', 'app');
      writeReleaseFiles(sysroot, 'app-1.0.0');
      mkdirSync(join(sysroot, 'usr/share'), { recursive: true });
      writeFileSync(join(sysroot, 'usr/share/blob'), randomBytes(24 << 20));
      const tty = onTty(p, 'ext image app --engine tools', {});
      assert.match(tty, /\r\x1b\[2K/, 'a progress line is drawn and cleared');
      assert.match(tty, /\x1b\[3\dm/, 'colours on a terminal');
      const noColor = onTty(p, 'ext image app --engine tools', { NO_COLOR: '1' });
      assert.doesNotMatch(noColor, /\x1b\[3\dm/);
      const ci = onTty(p, 'ext image app --engine tools', { CI: 'true' });
      assert.doesNotMatch(ci, /\r\x1b\[2K/, 'no progress in CI');
      const piped = p.run(['ext', 'image', 'app', '--engine', 'tools']);
      assert.doesNotMatch(piped.stderr, /\x1b/, 'nothing but text in a pipe');
    } finally {
      p.remove();
    }
  });
});

describe('settings that do not apply', () => {
  it('erofs_cluster_size with a squashfs value is reported, not silently ignored', () => {
    const p = new TestProject('default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n    erofs_cluster_size: 65536\n');
    try {
      writeReleaseFiles(p.makeSysroot('t', 'app'), 'app-1.0.0');
      const r = p.run(['ext', 'image', 'app']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /warning: extensions\.app\.erofs_cluster_size applies to compressed EROFS \(erofs-lz4, erofs-zst\) only; ignored for squashfs/);
      p.writeConfig('default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n    filesystem: erofs-lz4\n    erofs_cluster_size: 5000\n');
      const bad = p.run(['ext', 'image', 'app']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /avocado\.yaml:6:25: extensions\.app\.erofs_cluster_size: must be a power of two from 4096 to 262144/);
    } finally {
      p.remove();
    }
  });
});
