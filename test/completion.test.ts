/**
 * Shell completion for real: the generated scripts loaded by bash (driving the function through
 * COMP_WORDS), by zsh (installed as `_avocado` in $fpath, a fresh interactive shell under zpty,
 * compinit, the first TAB) and by fish (`complete -C`), each asked what it offers after a line:
 * subcommands, options, the extension names, targets and runtimes of a temporary project (or of
 * the -C file typed), fixed values, file names only where a file is wanted. And the hidden
 * `avocado __complete`: its candidates, its silence on failure, its latency.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FILESYSTEMS } from '../src/formats/filesystems.js';
import { OPTION_VALUES } from '../src/cli/program.js';
import { CLI, TestProject, avocado } from './helpers/project.js';
import { hasTool } from './helpers/system.js';

/** Records the modules a process loads (helpers/module-trace.ts). */
const MODULE_TRACE = new URL('./helpers/module-trace.js', import.meta.url).href;

const YAML = `default_target: qemux86-64
supported_targets: [qemux86-64, raspberrypi4]
runtimes:
  dev: {extensions: [app]}
  prod: {}
extensions:
  app:
    version: "1.0.0"
    target-jetson:
      filesystem: erofs
  "bsp-{{ avocado.target }}":
    version: "1.0.0"
    overlay:
      target-rpi5: {dir: rpi5}
`;

const EXTENSIONS = ['app', 'bsp-qemux86-64'];
const TARGETS = ['jetson', 'qemux86-64', 'raspberrypi4', 'rpi5'];
const RUNTIMES = ['dev', 'prod'];

// Made when the file loads: the cases below name these paths as the suites are defined.
const p = new TestProject(YAML, 'avocado-completion-');
// Things a file-name completion would offer: none of them may appear where a name is wanted.
writeFileSync(join(p.dir, 'notes.txt'), 'x');
mkdirSync(join(p.dir, 'subdir'));
const other = new TestProject('extensions:\n  elsewhere: {version: "1.0.0"}\n', 'avocado-completion-other-');
// `avocado` on PATH, as installed.
const bin = mkdtempSync(join(tmpdir(), 'avocado-completion-bin-'));
writeFileSync(join(bin, 'avocado'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} "$@"\n`);
chmodSync(join(bin, 'avocado'), 0o755);
const env: Record<string, string> = { ...(process.env as Record<string, string>), PATH: `${bin}:${process.env.PATH}` };
for (const k of Object.keys(env)) if (k.startsWith('AVOCADO_')) delete env[k];
after(() => {
  p.remove();
  other.remove();
  rmSync(bin, { recursive: true, force: true });
});

const script = (shell: string) => {
  const r = avocado(['completion', shell], { cwd: p.dir });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
};
const sorted = (a: Iterable<string>) => [...new Set(a)].sort();

/** The lines each shell is asked about, and what it must offer (exactly, or at least `includes`). */
interface Case {
  readonly line: string;
  readonly exactly?: string[];
  readonly includes?: string[];
  readonly excludes?: string[];
}

const CASES = (): Case[] => [
  { line: 'avocado ', includes: ['ext', 'completion'], excludes: ['__complete', 'notes.txt'] },
  { line: 'avocado ext ', exactly: ['build', 'clean', 'diff', 'help', 'image', 'inspect', 'verify'] },
  { line: 'avocado ext image ', exactly: EXTENSIONS },
  { line: 'avocado ext build a', exactly: ['app'] },
  { line: 'avocado ext image -', includes: ['-t', '--target', '-r', '--runtime', '-C', '--config', '--out', '--engine', '--json', '--volume'] },
  { line: 'avocado ext image -t ', exactly: TARGETS },
  { line: 'avocado ext image --target r', exactly: ['raspberrypi4', 'rpi5'] },
  { line: 'avocado ext image -e ', exactly: EXTENSIONS },
  { line: 'avocado ext clean -r ', exactly: RUNTIMES },
  { line: 'avocado ext build --runtime ', exactly: RUNTIMES },
  { line: 'avocado ext image --engine ', exactly: ['container', 'native', 'tools'] },
  { line: 'avocado ext image --sdk-arch a', exactly: ['aarch64', 'amd64', 'arm64'] },
  { line: 'avocado ext image app ', exactly: EXTENSIONS }, // NAME...: more names
  { line: 'avocado ext clean app ', exactly: [] },
  { line: 'avocado ext image --runs-on ', exactly: [] },
  { line: 'avocado ext image -t qemux86-64 ', exactly: EXTENSIONS },
  { line: `avocado ext image -C ${join(other.dir, 'avocado.yaml')} `, exactly: ['elsewhere'] },
  { line: `avocado ext image -C ${join(other.dir, 'avocado.yaml')} -t qemux86-64 -e `, exactly: ['elsewhere'] },
  { line: 'avocado ext image -C ', includes: ['avocado.yaml', 'notes.txt', 'subdir'] },
  { line: 'avocado ext image --out ', includes: ['subdir'], excludes: ['notes.txt', 'avocado.yaml'] },
  { line: 'avocado --volume subdir ext image ', exactly: EXTENSIONS },
  { line: 'avocado completion ', exactly: ['bash', 'fish', 'zsh'] },
  ...(filesystemOption() ? [{ line: 'avocado ext image --filesystem ', exactly: sorted(FILESYSTEMS.map((f) => f.value)) }] : []),
];

/** `--filesystem` on ext image (being added): completed from FILESYSTEMS once it exists. */
function filesystemOption(): boolean {
  return /--filesystem\b/.test(avocado(['ext', 'image', '--help'], { cwd: p.dir }).stdout);
}

function check(offered: string[], c: Case, shell: string): void {
  const got = sorted(offered.map((o) => o.replace(/\/$/, '').replace(/^.*\/(?=[^/]+$)/, '')));
  const why = `${shell}: '${c.line}' offered ${JSON.stringify(got)}`;
  if (c.exactly) assert.deepEqual(got, sorted(c.exactly), why);
  for (const w of c.includes ?? []) assert.ok(got.includes(w), `${why}, not ${w}`);
  for (const w of c.excludes ?? []) assert.ok(!got.includes(w), `${why}, with ${w}`);
  for (const f of ['notes.txt', 'subdir']) if (!c.includes?.includes(f) && !c.excludes?.includes(f)) assert.ok(!got.includes(f), `${why}: a file name`);
}

describe('avocado __complete (called by the scripts)', () => {
  const complete = (args: string[], cwd = p.dir) => avocado(['__complete', ...args], { cwd });
  it('prints the extension names, targets and runtimes of the nearest avocado.yaml, or of --config', () => {
    const sub = join(p.dir, 'subdir');
    assert.deepEqual(complete(['extensions'], sub).stdout.split('\n').filter(Boolean), EXTENSIONS, 'from a directory below the project');
    assert.deepEqual(sorted(complete(['targets']).stdout.split('\n').filter(Boolean)), TARGETS);
    assert.equal(complete(['targets']).stdout.split('\n')[0], 'qemux86-64', 'default_target first');
    assert.deepEqual(complete(['runtimes']).stdout, 'dev\nprod\n');
    assert.deepEqual(complete(['extensions', '--config', join(other.dir, 'avocado.yaml')]).stdout, 'elsewhere\n');
    const implicit = new TestProject('default_target: t\nrootfs: {filesystem: squashfs}\n');
    try {
      assert.equal(complete(['runtimes'], implicit.dir).stdout, 'default\n', 'the implicit runtime');
    } finally {
      implicit.remove();
    }
  });

  it('prints nothing, on stdout and stderr, and exits 0 on any problem', () => {
    const nowhere = mkdtempSync(join(tmpdir(), 'avocado-completion-none-'));
    const broken = new TestProject('extensions: [unclosed\n');
    try {
      for (const [args, cwd] of [[['extensions'], nowhere], [['extensions'], broken.dir], [['bogus'], p.dir], [[], p.dir], [['extensions', '--config', '/nonexistent/avocado.yaml'], p.dir]] as const) {
        const r = complete([...args], cwd);
        assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', ''], `__complete ${args.join(' ')} in ${cwd}`);
      }
      const extra = complete(['runtimes', '--bogus', 'x', 'y']);
      assert.deepEqual([extra.code, extra.stdout, extra.stderr], [0, 'dev\nprod\n', ''], 'options and arguments it does not know are ignored');
    } finally {
      rmSync(nowhere, { recursive: true, force: true });
      broken.remove();
    }
  });

  it('is quick: it loads the YAML reader and nothing that builds (no schema, walk, engine, format or codec)', () => {
    const traceDir = mkdtempSync(join(tmpdir(), 'avocado-completion-trace-'));
    try {
      const trace = join(traceDir, 'modules.txt');
      // main.js, not the bundle bin.js runs: the trace sees modules only as files (the bundle
      // evaluates the same modules as lazily, but in one file).
      const r = spawnSync(process.execPath, ['--import', MODULE_TRACE, join(dirname(CLI), 'main.js'), '__complete', 'extensions'], {
        cwd: p.dir,
        env: { ...process.env, AVOCADO_TRACE_MODULES: trace },
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(r.status, 0, r.stderr);
      assert.ok(r.stdout.length > 0, 'it answered');
      const loaded = [...new Set(readFileSync(trace, 'utf8').split('\n').filter(Boolean))];
      assert.ok(loaded.some((u) => u.includes('/dist/src/config/tree.js')), 'the YAML reader is loaded');
      const heavy = /\/dist\/src\/(image|sysroot|compress|volume|extbuild|container)\/|\/dist\/src\/config\/(project|schema)\.js$|\/node_modules\/(zod|pako|lzma-native|lz4-napi|zstd-napi|@bokuweb|picomatch)\//;
      assert.deepEqual(loaded.filter((u) => heavy.test(u)), [], 'nothing beyond what completion needs');
    } finally {
      rmSync(traceDir, { recursive: true, force: true });
    }
  });

  it('offers every filesystem value for --filesystem', () => {
    const values = OPTION_VALUES['--filesystem'];
    assert.ok(Array.isArray(values));
    assert.deepEqual(values.map((v) => (typeof v === 'string' ? v : v.value)), FILESYSTEMS.map((f) => f.value));
  });
});

describe('bash completion', { skip: hasTool('bash') ? undefined : 'needs bash' }, () => {
  let file: string;
  before(() => {
    file = join(bin, 'avocado.bash');
    writeFileSync(file, script('bash'));
  });

  /** COMP_WORDS as bash makes them (COMP_WORDBREAKS splits at '='), the function run, COMPREPLY. */
  function offered(line: string): string[] {
    const words = line.split(' ').flatMap((w) => (/^--[^=]+=/.test(w) ? [w.slice(0, w.indexOf('=')), '=', w.slice(w.indexOf('=') + 1)] : [w]));
    const r = spawnSync('bash', ['--norc', '--noprofile', '-c', 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _avocado; printf "%s\\n" "${COMPREPLY[@]}"', 'bash', file, ...words], { cwd: p.dir, env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    return r.stdout.split('\n').filter(Boolean);
  }

  it('is valid bash and registers _avocado without default file completion', () => {
    const text = script('bash');
    assert.equal(spawnSync('bash', ['-n'], { input: text }).status, 0);
    assert.match(text, /^complete -F _avocado avocado$/m, 'no -o default: nothing offered means nothing, not file names');
  });
  for (const c of CASES()) it(`'${c.line}'`, () => check(offered(c.line), c, 'bash'));
  it(`'avocado ext image --config=' and '--config=FILE -e '`, () => {
    check(offered('avocado ext image --config='), { line: '--config=', includes: ['avocado.yaml', 'notes.txt', 'subdir'] }, 'bash');
    check(offered(`avocado ext image --config=${join(other.dir, 'avocado.yaml')} -e `), { line: '--config=FILE -e', exactly: ['elsewhere'] }, 'bash');
  });
});

/** Runs one zsh line through a fresh interactive zsh (zpty): compinit finds _avocado in $fpath; the first TAB. */
const ZSHRC = `PS1='%% '
fpath=("$AVOCADO_TEST_FPATH" $fpath)
autoload -Uz compinit && compinit -u -d "$ZDOTDIR/.zcompdump"
# Print each match offered (compadd wrapped), then a marker when completion is over.
compadd() {
  if (( \${@[(I)-[OAD]]} )); then builtin compadd "$@"; return; fi
  local -a __avocado_test_m
  builtin compadd -O __avocado_test_m "$@"
  local m
  for m in $__avocado_test_m; do print -r -- "<<match>>$m"; done
  builtin compadd "$@"
}
__avocado_test_done() { print -r -- '<<done>>' }
comppostfuncs=(__avocado_test_done)
`;
const ZDRIVER = `zmodload zsh/zpty
export ZDOTDIR=$1 AVOCADO_TEST_FPATH=$2
zpty z zsh -i
zpty -w -n z "$3"$'\\t'
local line
while zpty -r z line; do
  [[ $line == *'<<done>>'* ]] && break
  [[ $line == *'<<match>>'* ]] && print -r -- "\${\${line##*<<match>>}%%[$'\\r\\n']*}"
done
zpty -d z
`;

describe('zsh completion, installed as _avocado in $fpath', { skip: hasTool('zsh') ? undefined : 'needs zsh (apt-get install zsh)' }, () => {
  let dir: string;
  before(() => {
    dir = join(bin, 'zsh');
    mkdirSync(join(dir, 'fpath'), { recursive: true });
    mkdirSync(join(dir, 'home'));
    writeFileSync(join(dir, 'fpath', '_avocado'), script('zsh'));
    writeFileSync(join(dir, 'home', '.zshrc'), ZSHRC);
    writeFileSync(join(dir, 'drive.zsh'), ZDRIVER);
  });

  function offered(line: string): string[] {
    const r = spawnSync('zsh', ['-f', join(dir, 'drive.zsh'), join(dir, 'home'), join(dir, 'fpath'), line], { cwd: p.dir, env, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, `${r.stderr} ${r.error ?? ''}`);
    return r.stdout.split('\n').filter(Boolean);
  }

  it('is valid zsh and starts with #compdef avocado, for compinit', () => {
    const text = script('zsh');
    assert.match(text, /^#compdef avocado\n/);
    assert.equal(spawnSync('zsh', ['-n'], { input: text }).status, 0);
  });
  for (const c of CASES()) it(`first TAB after '${c.line}'`, () => check(offered(c.line), c, 'zsh'));
  it(`'avocado ext image --config=' and '--config=FILE -e '`, () => {
    check(offered('avocado ext image --config='), { line: '--config=', includes: ['avocado.yaml', 'notes.txt', 'subdir'] }, 'zsh');
    check(offered(`avocado ext image --config=${join(other.dir, 'avocado.yaml')} -e `), { line: '--config=FILE -e', exactly: ['elsewhere'] }, 'zsh');
  });
});

describe('fish completion', { skip: hasTool('fish') ? undefined : 'needs fish (apt-get install fish)' }, () => {
  let file: string;
  before(() => {
    file = join(bin, 'avocado.fish');
    writeFileSync(file, script('fish'));
  });

  /** What fish would offer after the line: candidates with their descriptions. */
  function offeredWithDescriptions(line: string): [string, string][] {
    const r = spawnSync('fish', ['--no-config', '-c', 'source $argv[1]; complete -C $argv[2]', file, line], { cwd: p.dir, env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    return r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string]);
  }
  const offered = (line: string) => offeredWithDescriptions(line).map(([w]) => w);

  it('is valid fish', () => assert.equal(spawnSync('fish', ['--no-config', '-n', file]).status, 0));
  for (const c of CASES()) it(`'${c.line}'`, () => check(offered(c.line), c, 'fish'));
  it('offers no subcommand after ext image, and shows descriptions', () => {
    assert.deepEqual(sorted(offered('avocado ext image ')), EXTENSIONS, 'no image/build/clean');
    assert.deepEqual(sorted(offered('avocado ext build app ')), EXTENSIONS, 'NAME...: more names, never subcommands');
    assert.deepEqual(sorted(offered('avocado ext clean app ')), []);
    const subs = new Map(offeredWithDescriptions('avocado ext '));
    assert.equal(subs.get('image'), 'Create a squashfs or EROFS image from an extension sysroot');
    assert.equal(subs.get('clean'), 'Remove an extension\'s sysroot and images from the volume');
    const opts = new Map(offeredWithDescriptions('avocado ext image --'));
    assert.match(opts.get('--runtime') ?? '', /^runtime, as under runtimes: in avocado\.yaml/);
    assert.match(opts.get('--out') ?? '', /^also copy the image to OUT_DIR/);
  });
  it('completes --opt=VALUE', () => {
    check(offered('avocado ext image --target='), { line: '--target=', exactly: TARGETS.map((t) => `--target=${t}`) }, 'fish');
  });
});
