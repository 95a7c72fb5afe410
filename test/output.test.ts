/**
 * Publishing the image and the process around it: --out holds this build's bytes whatever a
 * concurrent build does, nothing is written through a symlink planted in the volume, temporaries
 * of killed builds are reclaimed (only those), output and file-system errors get one line each.
 * Real processes, signals, pipes and mounts; every wait bounded.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeReleaseFiles } from './helpers/corner-tree.js';
import { CLI, REPO, TestProject } from './helpers/project.js';
import { isRoot, missingTools } from './helpers/system.js';

const YAML = 'default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n';

function project(yaml = YAML): TestProject {
  const p = new TestProject(yaml);
  const sysroot = p.makeSysroot('t', 'app');
  writeReleaseFiles(sysroot, 'app-1.0.0');
  mkdirSync(join(sysroot, 'usr/bin'), { recursive: true });
  writeFileSync(join(sysroot, 'usr/bin/app'), 'app');
  return p;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const oneErrorLine = (stderr: string) => {
  assert.equal(stderr.split('\n').filter((l) => l.startsWith('error:')).length, 1, stderr);
  assert.doesNotMatch(stderr, /\n\s+at |internal error/, stderr);
};

describe('--out', () => {
  it("holds this build's bytes while another process keeps replacing the volume's image", async () => {
    const p = project();
    try {
      assert.equal(p.run(['ext', 'image', 'app']).code, 0);
      const image = p.image('t', 'app', '1.0.0');
      const decoy = join(p.dir, 'decoy');
      writeFileSync(decoy, 'not this build'.repeat(1000));
      // A stand-in for a concurrent build of the same image: renames other bytes over it, nonstop.
      const rival = spawn(
        process.execPath,
        ['-e', `const fs = require('fs'); const end = Date.now() + 60000; while (Date.now() < end) { try { fs.linkSync(${JSON.stringify(decoy)}, ${JSON.stringify(`${image}.rival`)}); } catch {} try { fs.renameSync(${JSON.stringify(`${image}.rival`)}, ${JSON.stringify(image)}); } catch {} }`],
        { stdio: 'ignore' },
      );
      try {
        await sleep(300);
        for (let i = 0; i < 3; i++) {
          const out = join(p.dir, `out${i}`);
          const r = await runAsync(p.dir, ['ext', 'image', 'app', '--out', out, '--json']);
          assert.equal(r.code, 0, r.stderr);
          const doc = JSON.parse(r.stdout);
          const copied = readFileSync(join(out, 'app-1.0.0.raw'));
          assert.equal(copied.subarray(0, 4).toString('latin1'), 'hsqs', 'the copy is a squashfs image, not the rival bytes');
          assert.equal(sha256(copied), doc.image.sha256, 'the printed sha256 is that of the copy');
          assert.equal(copied.length, doc.image.size);
        }
      } finally {
        rival.kill('SIGKILL');
      }
    } finally {
      p.remove();
    }
  });

  it("'' is refused (exit 2) instead of meaning the working directory", () => {
    const p = project();
    try {
      const r = p.run(['ext', 'image', 'app', '--out', '']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /error: --out: the directory is empty; give one \(--out \. for the current directory\)/);
      assert.ok(!existsSync(join(p.dir, 'app-1.0.0.raw')));
    } finally {
      p.remove();
    }
  });

  it('/proc/x fails at once (exit 1) instead of spinning', () => {
    const p = project();
    try {
      const r = spawnSync(process.execPath, [CLI, 'ext', 'image', 'app', '--out', '/proc/x'], { cwd: p.dir, encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' });
      assert.equal(r.status, 1, `${r.signal ?? ''} ${r.stderr}`);
      assert.match(r.stderr, /error: cannot copy the image to \/proc\/x\/app-1\.0\.0\.raw: .*\/proc\/x.*; the image itself is at .*app-1\.0\.0\.raw/);
      oneErrorLine(r.stderr);
    } finally {
      p.remove();
    }
  });

  it('that is a dangling symlink is named as one', () => {
    const p = project();
    try {
      symlinkSync(join(p.dir, 'nowhere'), join(p.dir, 'dist'));
      const r = p.run(['ext', 'image', 'app', '--out', 'dist']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /cannot copy the image to .*\/dist\/app-1\.0\.0\.raw: cannot use .*\/dist: it is a symlink to .*\/nowhere, which does not exist/);
      oneErrorLine(r.stderr);
    } finally {
      p.remove();
    }
  });
});

describe('the volume', () => {
  it('a symlink planted at <target>/output (or below) is refused: nothing is written through it', () => {
    const p = project();
    const outside = join(p.dir, 'outside');
    try {
      mkdirSync(outside);
      for (const planted of ['t/output', 't/output/extensions']) {
        rmSync(join(p.volume, 't/output'), { recursive: true, force: true });
        mkdirSync(join(p.volume, planted, '..'), { recursive: true });
        symlinkSync(outside, join(p.volume, planted));
        const r = p.run(['ext', 'image', 'app']);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, new RegExp(`error: .*_avocado/${planted} is a symlink \\(to .*outside\\); avocado writes only inside the volume .*_avocado; remove the link`));
        oneErrorLine(r.stderr);
        assert.deepEqual(readdirSync(outside), [], `nothing written through ${planted}`);
      }
    } finally {
      p.remove();
    }
  });
});

describe('temporaries of killed builds', { skip: missingTools('pgrep') }, () => {
  it('are removed by the next build when their process is gone, and only those', async () => {
    const p = project('default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n    filesystem: squashfs-xz\n');
    try {
      assert.equal(p.run(['ext', 'image', 'app']).code, 0);
      const outDir = join(p.image('t', 'app', '1.0.0'), '..');
      for (let i = 0; i < 3; i++) writeFileSync(join(p.sysroot('t', 'app'), `usr/bin/blob${i}`), randomBytes(8 << 20));
      const child = spawn(process.execPath, [CLI, 'ext', 'image', 'app'], { cwd: p.dir, stdio: 'ignore' });
      const exited = new Promise((resolve) => child.on('exit', resolve));
      const temps = () => readdirSync(outDir).filter((n) => n.endsWith('.tmp'));
      for (let i = 0; i < 400 && !temps().length; i++) await sleep(25);
      child.kill('SIGKILL');
      await exited;
      const [left] = temps();
      assert.ok(left, 'the killed build left its temporary');
      const m = /^\.avocado\.([0-9a-f]{8})\.(\d+)\.(\d+)\.[0-9a-f]{8}\.tmp$/.exec(left!);
      assert.ok(m, left);
      const owner = m![1];
      // The test runner is alive: its temporaries stay; with another start time the PID was reused.
      const myStart = readFileSync('/proc/self/stat', 'latin1').split(') ')[1]!.split(' ')[19];
      const live = `.avocado.${owner}.${process.pid}.${myStart}.0000aaaa.tmp`;
      const reused = `.avocado.${owner}.${process.pid}.1.0000bbbb.tmp`;
      const otherHost = `.avocado.00000000.${child.pid}.${m![3]}.0000cccc.tmp`;
      const notOurs = `.app-1.0.0.raw.${child.pid}-0000dddd.tmp`;
      const engineFile = `.avocado.${owner}.${child.pid}.${m![3]}.0000eeee.tmp.exclude`;
      for (const n of [live, reused, otherHost, notOurs, engineFile]) writeFileSync(join(outDir, n), 'x');

      const r = p.run(['ext', 'image', 'app']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(readdirSync(outDir).sort(), [live, notOurs, otherHost, 'app-1.0.0.raw'].sort());
    } finally {
      p.remove();
    }
  });
});

describe('output that cannot be written', () => {
  it('--json into a closed pipe ends quietly', () => {
    const p = project();
    try {
      // stdout is a pipe whose reader has gone: `avocado … --json | true`.
      const r = spawnSync('sh', ['-c', `( sleep 0.5; exec ${process.execPath} ${CLI} ext image app --json ) | true`], { cwd: p.dir, encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /error|\n\s+at /);
    } finally {
      p.remove();
    }
  });

  it('--json into a full device is one error line, exit 1', { skip: existsSync('/dev/full') ? false : 'no /dev/full' }, () => {
    const p = project();
    try {
      const full = openSync('/dev/full', 'w');
      try {
        const r = spawnSync(process.execPath, [CLI, 'ext', 'image', 'app', '--json'], { cwd: p.dir, stdio: ['ignore', full, 'pipe'], encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
        assert.equal(r.status, 1, r.stderr);
        assert.match(r.stderr, /error: cannot write to standard output: no space left on the device \(ENOSPC\); free some space where it goes, or send it elsewhere/);
        oneErrorLine(r.stderr);
      } finally {
        closeSync(full);
      }
    } finally {
      p.remove();
    }
  });

  it('no dependency installs a process-wide handler when loaded and used', () => {
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
    const script = `
      const events = ['uncaughtException', 'unhandledRejection', 'exit', 'beforeExit', 'warning', 'SIGINT', 'SIGTERM', 'SIGHUP'];
      const count = () => JSON.stringify(events.map((e) => process.listenerCount(e)));
      const before = count();
      const { createRequire } = await import('node:module');
      const require = createRequire(${JSON.stringify(join(REPO, 'package.json'))});
      for (const dep of ${JSON.stringify(Object.keys(pkg.dependencies))}) { try { require(dep); } catch { await import(dep); } }
      const { loadCodec } = await import(${JSON.stringify(join(REPO, 'dist/src/compress/codec.js'))});
      for (const name of ['gzip', 'zstd', 'xz', 'lz4']) (await loadCodec({ name, blockSize: 131072 })).compress(Buffer.alloc(4096, 1));
      const after = count();
      if (after !== before) { console.error('listeners', before, '->', after); process.exit(1); }
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO, encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
    assert.equal(r.status, 0, r.stderr);
  });
});

describe('the working directory', () => {
  it('removed under the shell: one line, exit 2, with an absolute -C', () => {
    const p = project();
    try {
      const gone = join(p.dir, 'gone');
      mkdirSync(gone);
      const r = spawnSync('sh', ['-c', `cd ${gone} && rmdir ${gone} && exec ${process.execPath} ${CLI} ext image app -C ${join(p.dir, 'avocado.yaml')}`], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /error: the working directory no longer exists .*; cd to an existing directory/);
      oneErrorLine(r.stderr);
    } finally {
      p.remove();
    }
  });
});

describe('file-system errors name the path and what to do', () => {
  it('a read-only output directory and a read-only volume', { skip: isRoot() && !missingTools('mount', 'umount') ? false : 'needs root to mount' }, () => {
    const p = project();
    try {
      const outDir = join(p.volume, 't/output/extensions');
      mkdirSync(outDir, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro', 'tmpfs', outDir]);
      try {
        const r = p.run(['ext', 'image', 'app']);
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /error: cannot write in .*_avocado\/t\/output\/extensions: it is on a read-only file system; remount it read-write, or choose another directory/);
        oneErrorLine(r.stderr);
      } finally {
        execFileSync('umount', [outDir]);
      }
      rmSync(join(p.volume, 't/output'), { recursive: true });
      execFileSync('mount', ['--bind', p.volume, p.volume]);
      try {
        execFileSync('mount', ['-o', 'remount,bind,ro', p.volume]);
        const r = p.run(['ext', 'image', 'app']);
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /error: cannot create .*_avocado\/t\/output: it is on a read-only file system/);
        oneErrorLine(r.stderr);
      } finally {
        execFileSync('umount', [p.volume]);
      }
    } finally {
      p.remove();
    }
  });

  it('an unprivileged user and a volume that root owns', { skip: isRoot() && !missingTools('setpriv') ? false : 'needs root to run as nobody (setpriv)' }, () => {
    const p = project();
    try {
      chmodSync(p.dir, 0o755);
      const asNobody = () =>
        spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, 'ext', 'image', 'app'], { cwd: p.dir, encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
      // Root built once: the directory exists and cannot be written.
      assert.equal(p.run(['ext', 'image', 'app']).code, 0);
      let r = asNobody();
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /error: cannot write in .*_avocado\/t\/output\/extensions: permission denied \(running as uid 65534, it belongs to uid 0\); run as a user who may write there/);
      oneErrorLine(r.stderr);
      assert.equal(statSync(p.image('t', 'app', '1.0.0')).uid, 0);
      // No output directory: it cannot be created.
      rmSync(join(p.volume, 't/output'), { recursive: true });
      r = asNobody();
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /error: cannot create .*_avocado\/t\/output: permission denied \(running as uid 65534, it belongs to uid 0\)/);
      oneErrorLine(r.stderr);
    } finally {
      p.remove();
    }
  });
});

describe('long extension names', () => {
  // extension-release.NAME-1.0.0 is the longest file name made of them: 255 bytes at most.
  const yaml = (name: string) => `default_target: t\nextensions:\n  ${name}:\n    version: "1.0.0"\n`;
  it('that make too long a file name are exit 2 at the name', () => {
    for (const length of [232, 300]) {
      const name = 'n'.repeat(length);
      const p = new TestProject(yaml(name));
      try {
        for (const command of ['image', 'build']) {
          const r = p.run(['ext', command, name]);
          assert.equal(r.code, 2, r.stderr);
          assert.match(r.stderr, new RegExp(`error: .*avocado\\.yaml:3:3: extensions\\.n+: extension name and version make a file name of ${length + 24} bytes .*longer than the 255 file systems allow; shorten the name or the version by ${length - 231} bytes`));
        }
      } finally {
        p.remove();
      }
    }
  });
  it('up to the limit build and image', () => {
    const name = 'n'.repeat(231);
    const p = new TestProject(yaml(name));
    try {
      p.makeSysroot('t', name);
      const b = p.run(['ext', 'build', name]);
      assert.equal(b.code, 0, b.stderr);
      const r = p.run(['ext', 'image', name]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(existsSync(p.image('t', name, '1.0.0')));
    } finally {
      p.remove();
    }
  });
});

function runAsync(cwd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
