/**
 * The everyday command line around ext image, as real processes: several extensions at once
 * (NAME..., --all, --keep-going, one JSON array), --dry-run (nothing written), --filesystem,
 * --strict, every warning in --json, help and version, and the closing lines; and the reporter's
 * progress (bar with rate and ETA on a TTY, a line every ~10 s elsewhere) with a test clock.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Reporter } from '../src/cli/reporter.js';
import { writeReleaseFiles } from './helpers/corner-tree.js';
import { TestProject, avocado } from './helpers/project.js';
import { missingTools } from './helpers/system.js';
import { snapshotTree } from './helpers/tree.js';

const YAML = `default_target: t
extensions:
  a:
    version: "1.0.0"
    types: [sysext]
    var_files: [var/lib/a/**]
  b:
    version: "2.0.0"
    types: [sysext]
  c:
    version: "3.0.0"
    types: [sysext]
`;

function project(withC = true): TestProject {
  const p = new TestProject(YAML);
  for (const [name, version] of [['a', '1.0.0'], ['b', '2.0.0'], ...(withC ? [['c', '3.0.0']] : [])] as const) {
    const root = p.makeSysroot('t', name);
    writeReleaseFiles(root, `${name}-${version}`, ['sysext']);
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    writeFileSync(join(root, 'usr/bin', name), `#!/bin/sh\necho ${name}\n`);
  }
  mkdirSync(join(p.sysroot('t', 'a'), 'var/lib/a'), { recursive: true });
  writeFileSync(join(p.sysroot('t', 'a'), 'var/lib/a/state'), 'state');
  return p;
}

describe('several extensions at once', () => {
  let p: TestProject;
  before(() => {
    p = project(false); // c has no sysroot: its build fails
  });
  after(() => p.remove());

  it('ext image A B builds each in order, one closing block each and a summary', () => {
    const r = p.run(['ext', 'image', 'b', 'a']);
    assert.equal(r.code, 0, r.stderr);
    const done = r.stderr.split('\n').filter((l) => l.startsWith('✔'));
    assert.equal(done.length, 3, r.stderr);
    assert.match(done[0]!, /b-2\.0\.0\.raw/);
    assert.match(done[1]!, /a-1\.0\.0\.raw/);
    assert.equal(done[2], '✔ 2 of 2 extensions done');
  });

  it('--all stops at the first failure; --keep-going goes on and exits with its status; --json is one array', () => {
    const stop = p.run(['ext', 'image', '--all']);
    assert.equal(stop.code, 2, stop.stderr);
    assert.match(stop.stderr, /error: ext image c: extension sysroot does not exist/);
    assert.match(stop.stderr, /error: 2 of 3 extensions done; failed: c\n/);

    const order = new TestProject(YAML.replace(/  c:\n.*\n.*\n$/, '').replace('extensions:\n', 'extensions:\n  c:\n    version: "3.0.0"\n'));
    try {
      for (const [name, version] of [['a', '1.0.0'], ['b', '2.0.0']]) writeReleaseFiles(order.makeSysroot('t', name!), `${name}-${version}`, ['sysext']);
      const halted = order.run(['ext', 'image', '--all', '--json']);
      assert.equal(halted.code, 2, halted.stderr);
      const docs = JSON.parse(halted.stdout);
      assert.equal(docs.length, 1, 'nothing after the first failure');
      assert.match(halted.stderr, /not attempted after the failure: a, b \(--keep-going goes on\)/);
      assert.ok(!existsSync(order.image('t', 'a', '1.0.0')));

      const going = order.run(['ext', 'image', '--all', '--keep-going', '--json']);
      assert.equal(going.code, 2, going.stderr);
      const all = JSON.parse(going.stdout);
      assert.deepEqual(all.map((d: { extension: string; ok: boolean }) => [d.extension, d.ok]), [['c', false], ['a', true], ['b', true]]);
      assert.equal(all[0].error.exitCode, 2);
      assert.match(all[0].error.message, /extension sysroot does not exist/);
      assert.ok(existsSync(order.image('t', 'b', '2.0.0')));
    } finally {
      order.remove();
    }
  });

  it('ext build A B too', () => {
    const r = p.run(['ext', 'build', 'a', 'b', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).map((d: { extension: string }) => d.extension), ['a', 'b']);
  });

  for (const c of [
    { name: '--all with a NAME', args: ['ext', 'image', 'a', '--all'], stderr: /--all builds every extension of .*; it cannot be given with NAME/ },
    { name: '-e with other NAMEs', args: ['ext', 'image', 'a', 'b', '-e', 'a'], stderr: /the extensions are named twice, as 'a' 'b' and as -e 'a'/ },
    { name: 'a NAME twice', args: ['ext', 'image', 'a', 'a'], stderr: /extension 'a' is named more than once/ },
    { name: 'an unknown NAME among known ones', args: ['ext', 'image', 'a', 'nope'], stderr: /extension 'nope' is not defined in .*; known extensions: a, b, c/ },
  ])
    it(`${c.name}: exit 2 before anything is built`, () => {
      const before = snapshotTree(p.volume);
      const r = p.run(c.args);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, c.stderr);
      assert.deepEqual(snapshotTree(p.volume), before);
    });
});

describe('--dry-run', () => {
  it('says what would be built and why each path is left out, and writes nothing', () => {
    const p = project();
    try {
      const before = snapshotTree(p.dir);
      const r = p.run(['ext', 'image', 'a', '--dry-run', '--out', 'dist']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /✔ dry run: .*_avocado\/t\/output\/extensions\/a-1\.0\.0\.raw would be built, nothing was written\n/);
      assert.match(r.stderr, /\n {2}squashfs \(from default\), engine native \(from default\), source_date_epoch 0\n/);
      assert.match(r.stderr, /\n {2}excluded var\/lib\/a\/ {2}\(var_files 'var\/lib\/a\/\*\*', .*avocado\.yaml:6\)\n/);
      assert.match(r.stderr, /\n {2}would be copied to .*dist\/a-1\.0\.0\.raw\n/);
      const json = p.run(['ext', 'image', 'a', '--dry-run', '--json', '--filesystem', 'erofs-zst', '--engine', 'tools']);
      assert.equal(json.code, 0, json.stderr);
      const doc = JSON.parse(json.stdout);
      assert.equal(doc.dryRun, true);
      assert.equal(doc.filesystem, 'erofs-zst');
      assert.equal(doc.filesystemSource, '--filesystem');
      assert.equal(doc.engine, 'tools');
      assert.match(doc.image.path, /a-1\.0\.0\.raw$/);
      assert.deepEqual(doc.excluded.map((x: { path: string; pattern: string }) => [x.path, x.pattern]), [['var/lib/a', 'var/lib/a/**']]);
      assert.deepEqual(snapshotTree(p.dir), before, 'nothing written, not even the volume');
    } finally {
      p.remove();
    }
  });
});

describe('--filesystem, --strict and warnings in --json', () => {
  let p: TestProject;
  before(() => {
    p = project();
  });
  after(() => p.remove());

  it('--filesystem overrides the configured value for one build, reported as the source', () => {
    const r = p.run(['ext', 'image', 'b', '--filesystem', 'erofs-lz4', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).filesystemSource, '--filesystem');
    assert.equal(readFileSync(p.image('t', 'b', '2.0.0')).readUInt32LE(1024), 0xe0f5e1e2, 'an EROFS image');
    const bad = p.run(['ext', 'image', 'b', '--filesystem', 'ext4']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /argument 'ext4' is invalid\. Allowed choices are squashfs, erofs/);
  });

  it('--json lists every warning, the configuration\'s too; --strict makes them errors (exit 2) before anything is written', () => {
    p.writeConfig(YAML.replace('    types: [sysext]\n    var_files', '    types: [sysext]\n    filesytem: erofs\n    var_files').replace('default_target: t\n', 'default_target: t\nsource_date_epoch: 0\n'));
    const r = p.run(['ext', 'image', 'a', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const warnings: string[] = JSON.parse(r.stdout).warnings;
    assert.ok(warnings.some((w) => /unknown extension key 'filesytem'.*did you mean 'filesystem'\?/.test(w)), JSON.stringify(warnings));
    const image = p.image('t', 'a', '1.0.0');
    const good = readFileSync(image);
    writeFileSync(join(p.sysroot('t', 'a'), 'usr/bin/a'), 'changed');
    const strict = p.run(['ext', 'image', 'a', '--strict', '--json']);
    assert.equal(strict.code, 2, strict.stderr);
    const doc = JSON.parse(strict.stdout);
    assert.equal(doc.ok, false);
    assert.match(doc.error.message, /--strict: the warning above is an error|--strict: the \d+ warnings above are errors/);
    assert.ok(doc.warnings.length >= 1);
    assert.deepEqual(readFileSync(image), good, 'nothing written');
    p.writeConfig(YAML);
    assert.equal(p.run(['ext', 'image', 'b', '--strict']).code, 0, 'no warning, no error');
  });

  it('the tools engine does not claim the native compressor; the closing lines stay within 120 columns', { skip: missingTools('mksquashfs') }, () => {
    const r = p.run(['ext', 'image', 'b', '--engine', 'tools', '--out', 'dist']);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /pako|libdeflate|zlib level/);
    assert.match(r.stderr, /› filesystem squashfs: squashfs, gzip, 128 KiB blocks \(from default\)\n/);
    const closing = r.stderr.slice(r.stderr.indexOf('✔')).trimEnd().split('\n');
    assert.match(closing[1]!, /^ {2}sha256:[0-9a-f]{64}$/);
    assert.match(closing[2]!, /^ {2}copied to .*dist\/b-2\.0\.0\.raw$/);
    for (const line of closing) assert.ok(line.length <= 120 || line.includes(p.dir), `${line.length} columns: ${line}`);
  });
});

describe('help and version', () => {
  const cwd = process.cwd();
  it('avocado help exits 0; help for a command that does not exist is a usage error', () => {
    const help = avocado(['help'], { cwd });
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: avocado/);
    const nosuch = avocado(['help', 'nosuch'], { cwd });
    assert.equal(nosuch.code, 2);
    assert.match(nosuch.stderr, /error: avocado help: no command 'nosuch'; commands: ext, completion/);
    assert.equal(avocado(['help', 'ext', 'image'], { cwd }).code, 0);
    assert.equal(avocado(['help', 'ext', 'nosuch'], { cwd }).code, 2);
  });

  it('--version --verbose names Node and every compression library', () => {
    const r = avocado(['--version', '--verbose'], { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^avocado-ext \d+\.\d+\.\d+\nnode v\d+/);
    for (const lib of [/gzip \(squashfs\): pako \d/, /zstd .*(zstd-napi|@bokuweb\/zstd-wasm) \d/, /xz .*lzma-native \d/, /lz4 .*lz4-napi \d/]) assert.match(r.stdout, lib);
  });

  it('a reader that stops early is not an error', () => {
    const out = execFileSync('sh', ['-c', `"${process.execPath}" "${join(cwd, 'dist/src/cli/main.js')}" ext image --help | head -1; echo "status $?"`], { encoding: 'utf8' });
    assert.match(out, /^Usage: avocado ext image/);
    assert.doesNotMatch(out, /EPIPE/);
  });
});

/** A stream that keeps what is written, as a TTY or not. */
function sink(tty: boolean): Writable & { text: string; isTTY: boolean; columns: number } {
  const w = new Writable({
    write(chunk: Buffer, _e, cb) {
      w.text += chunk.toString();
      cb();
    },
  }) as Writable & { text: string; isTTY: boolean; columns: number };
  w.text = '';
  w.isTTY = tty;
  w.columns = 100;
  return w;
}

describe('progress', () => {
  it('elsewhere than a TTY: a line every ~10 s with the share read, the rate and the time left', () => {
    let t = 0;
    const err = sink(false);
    const r = new Reporter({ json: false, verbose: false, stderr: err as unknown as NodeJS.WriteStream, env: {}, now: () => t });
    const MiB = 1 << 20;
    r.progress(0, 100 * MiB);
    t = 5000;
    r.progress(20 * MiB, 100 * MiB);
    assert.equal(err.text, '', 'nothing within 10 s');
    t = 10_000;
    r.progress(40 * MiB, 100 * MiB);
    assert.equal(err.text, '› 40% of 100.0 MiB read, 4.00 MiB/s, ETA 15 s\n');
    t = 12_000;
    r.progress(50 * MiB, 100 * MiB);
    assert.equal(String(err.text).split('\n').length, 2, 'not again before 10 more seconds');
  });

  it('on a TTY: a bar with rate and ETA, cleared before the next line', () => {
    let t = 0;
    const err = sink(true);
    const r = new Reporter({ json: false, verbose: false, color: false, stderr: err as unknown as NodeJS.WriteStream, env: { TERM: 'xterm' }, now: () => t });
    r.progress(0, 1000);
    t = 2000;
    r.progress(500, 1000);
    assert.match(err.text, /\r\x1b\[2K\[#{15}\.{15}\] {2}50% 500 B \/ 1000 B {2}250 B\/s {2}ETA 2 s$/);
    r.step('next');
    assert.match(err.text, /\r\x1b\[2K› next\n$/);
  });
});

describe('ext image with a runtime', () => {
  it('--json names the runtime in effect; the hint for a missing sysroot keeps -r', () => {
    const p = new TestProject(`default_target: t\nruntimes:\n  dev:\n    extensions: [a]\n  prod:\n    extensions: [a]\nextensions:\n  a:\n    version: "1.0.0"\n    types: [sysext]\n`);
    try {
      const missing = p.run(['ext', 'image', 'a', '-r', 'dev']);
      assert.equal(missing.code, 2, missing.stderr);
      assert.match(missing.stderr, /create it with 'avocado ext build a -t t -r dev'/);
      writeReleaseFiles(p.makeSysroot('t', 'a'), 'a-1.0.0', ['sysext']);
      const r = p.run(['ext', 'image', 'a', '--dry-run', '--json'], { AVOCADO_RUNTIME: 'prod' });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout).runtime, { name: 'prod', source: 'AVOCADO_RUNTIME' });
    } finally {
      p.remove();
    }
  });
});
