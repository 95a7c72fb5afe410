/** Ctrl-C (or SIGTERM, SIGHUP) during a build: exit 130 (143, 129), temporaries removed, the tool stopped, the previous image intact. */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeReleaseFiles } from './helpers/corner-tree.js';
import { CLI, TestProject } from './helpers/project.js';
import { missingTools } from './helpers/system.js';

const CASES = [
  // xz keeps the native writer busy long enough to be interrupted mid-build.
  { engine: 'native', filesystem: 'squashfs-xz', signal: 'SIGINT', status: 130 },
  { engine: 'tools', filesystem: 'squashfs', signal: 'SIGINT', status: 130 },
  { engine: 'tools', filesystem: 'squashfs', signal: 'SIGTERM', status: 143 },
  // The terminal closing (ssh session lost) stops the build the same way.
  { engine: 'native', filesystem: 'squashfs-xz', signal: 'SIGHUP', status: 129 },
] as const;

describe('interrupting a build', { skip: missingTools('mksquashfs', 'pgrep') }, () => {
  for (const { engine, filesystem, signal, status } of CASES) {
    it(`${signal} with the ${engine} engine: exits ${status} and loses nothing`, async () => {
      const p = new TestProject(`default_target: t\nengine: ${engine}\nextensions:\n  big:\n    version: "1.0.0"\n    filesystem: ${filesystem}\n`);
      try {
        const sysroot = p.makeSysroot('t', 'big');
        writeReleaseFiles(sysroot, 'big-1.0.0');
        mkdirSync(join(sysroot, 'usr/share'), { recursive: true });
        assert.equal(p.run(['ext', 'image', 'big']).code, 0);
        const image = p.image('t', 'big', '1.0.0');
        const good = readFileSync(image);
        // Enough incompressible data for gzip to take seconds.
        for (let i = 0; i < 12; i++) writeFileSync(join(sysroot, `usr/share/blob${i}`), randomBytes(8 << 20));

        const child = spawn(process.execPath, [CLI, 'ext', 'image', 'big'], { cwd: p.dir, stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d) => (stderr += d));
        const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
        const outDir = join(image, '..');
        for (let i = 0; i < 200 && !readdirSync(outDir).some((n) => n.endsWith('.tmp')); i++) await sleep(25);
        assert.ok(readdirSync(outDir).some((n) => n.endsWith('.tmp')), 'the build started writing');
        child.kill(signal);
        const code = await exited;
        assert.equal(code, status, stderr);
        assert.match(stderr, /error: interrupted; temporary files removed, previous image unchanged/);
        assert.deepEqual(readdirSync(outDir), ['big-1.0.0.raw']);
        assert.deepEqual(readFileSync(image), good);
        await sleep(200);
        let running = '';
        try {
          running = execFileSync('pgrep', ['-f', `mksquashfs ${p.dir}`]).toString();
        } catch {
          // pgrep exits 1 when nothing matches
        }
        assert.equal(running, '', 'mksquashfs was stopped');
        // Worker threads die with the process; nothing of ours may be left running.
        let ours = '';
        try {
          ours = execFileSync('pgrep', ['-f', `${CLI} ext image big`]).toString();
        } catch {
          // none
        }
        assert.equal(ours, '');
      } finally {
        p.remove();
      }
    });
  }
});

/** Nothing that could wait forever is waited on: a fifo, a device or a directory as -C is exit 2 at once. */
describe('nothing waits on a fifo or a device', () => {
  const base = mkdtempSync(join(tmpdir(), 'avocado-fifo-'));
  after(() => rmSync(base, { recursive: true, force: true }));
  const fifo = join(base, 'fifo');
  execFileSync('mkfifo', [fifo]);
  mkdirSync(join(base, 'empty-dir'));
  mkdirSync(join(base, 'project'));
  writeFileSync(join(base, 'project/avocado.yaml'), 'default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n');

  const cases: [string, RegExp][] = [
    [fifo, /^error: -C .*\/fifo: is a fifo, not a file; pass -C <path\/to\/avocado\.yaml>$/],
    ['/dev/zero', /^error: -C \/dev\/zero: is a character device, not a file; pass -C/],
    [join(base, 'empty-dir'), /^error: -C .*\/empty-dir: is a directory without avocado\.yaml in it; pass -C/],
  ];
  // SIGKILL at the time limit: a CLI stuck on the fifo ignores SIGTERM, which would leave spawnSync waiting.
  const run = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: base, encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' });
  for (const [config, message] of cases)
    it(`-C ${config.startsWith(base) ? config.slice(base.length + 1) : config}: exit 2 at once, one line`, () => {
      const r = run(['ext', 'image', 'app', '-C', config]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr.trimEnd(), message);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1);
    });

  it('-C naming a directory uses its avocado.yaml', () => {
    const r = run(['ext', 'image', 'app', '-C', join(base, 'project'), '--dry-run']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /extension sysroot does not exist: .*project\/_avocado\/t\/extensions\/app/);
  });

  it('a config file that is a fifo when it is read is refused, not waited on', () => {
    // In a child process with a time limit: an open that waits on the fifo would keep this runner from exiting.
    const tree = new URL('../src/config/tree.js', import.meta.url).href;
    const script = `import { loadYamlFile } from ${JSON.stringify(tree)};\ntry { await loadYamlFile(${JSON.stringify(fifo)}); console.log('read it'); } catch (e) { console.log(e.constructor.name, e.message); }`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' });
    assert.equal(r.signal, null, 'the read did not return');
    assert.match(r.stdout, /^ConfigError config file .*\/fifo is a fifo, not a file$/m, r.stderr);
  });
});
