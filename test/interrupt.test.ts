/** Ctrl-C (or SIGTERM, SIGHUP) during a build: exit 130 (143, 129), temporaries removed, the tool stopped, the previous image intact. */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
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
