/**
 * The real consumer, for native EROFS images: `ext build` then `ext image` (native engine) gives
 * an image that systemd-sysext merges, the extension's files appear under /usr and go away on
 * unmerge. Same recipe as sysext.test.ts (VERIFY.md): a private mount namespace with a tmpfs /run.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { TestProject } from './helpers/project.js';
import { cannotMount, missingTools } from './helpers/system.js';

const YAML = (fs: string) => `default_target: qemux86-64
extensions:
  hello:
    version: "1.2.3"
    filesystem: ${fs}
    overlay: overlay
`;

for (const value of ['erofs', 'erofs-lz4', 'erofs-zst']) {
  describe(`systemd-sysext merges a native ${value} image`, { skip: cannotMount('erofs') ?? missingTools('systemd-sysext', 'unshare') }, () => {
    it('shows the extension under /usr and unmerges cleanly', () => {
      const p = new TestProject(YAML(value));
      const root = mkdtempSync(join(tmpdir(), 'avocado-erofs-sysext-'));
      try {
        const overlay = join(p.dir, 'overlay/usr/bin');
        mkdirSync(overlay, { recursive: true });
        // Large enough to be compressed in the compressed variants.
        writeFileSync(join(overlay, 'hello'), `#!/bin/sh\necho hello\n${'# padding line\n'.repeat(2000)}`);
        chmodSync(join(overlay, 'hello'), 0o755);
        let r = p.run(['ext', 'build', 'hello']);
        assert.equal(r.code, 0, r.stderr);
        r = p.run(['ext', 'image', 'hello', '--engine', 'native']);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr + r.stdout, /native EROFS writer/);

        mkdirSync(join(root, 'usr/lib'), { recursive: true });
        writeFileSync(join(root, 'usr/lib/os-release'), 'ID=debian\nVERSION_ID=12\n');
        mkdirSync(join(root, 'var/lib/extensions'), { recursive: true });
        copyFileSync(p.image('qemux86-64', 'hello', '1.2.3'), join(root, 'var/lib/extensions/hello-1.2.3.raw'));
        const out = execFileSync(
          'unshare',
          [
            '-m', '--propagation', 'shared', 'sh', '-euc',
            [
              'mount -t tmpfs tmpfs /run',
              'systemd-sysext merge --root="$1"',
              'echo "--- list"; systemd-sysext list --root="$1" --json=short',
              'echo "--- run"; sh "$1/usr/bin/hello"',
              'systemd-sysext unmerge --root="$1"',
              'echo "--- after"; ls "$1/usr/bin" 2>/dev/null || true',
            ].join('; '),
            'sh', root,
          ],
          { encoding: 'utf8', env: { ...process.env, SYSTEMD_LOG_LEVEL: 'info' } },
        );
        assert.match(out, /--- list\n.*"name":"hello-1\.2\.3"/);
        assert.match(out, /--- run\nhello\n/);
        assert.match(out, /--- after\n$/);
      } finally {
        rmSync(root, { recursive: true, force: true });
        p.remove();
      }
    });
  });
}
