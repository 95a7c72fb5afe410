/**
 * The real consumer: `ext build` then `ext image` gives an image that systemd-sysext merges, and
 * the extension's files appear under /usr. Merged in a private mount namespace with a tmpfs
 * /run (VERIFY.md). systemd 252 (Debian 12) has no systemd-confext; the confext half of the
 * image is checked by mounting it instead.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { withMountedImage } from './helpers/mount.js';
import { TestProject } from './helpers/project.js';
import { cannotMount, missingTools } from './helpers/system.js';

const YAML = (fs: string) => `default_target: qemux86-64
extensions:
  hello:
    version: "1.2.3"
    filesystem: ${fs}
    overlay: overlay
    enable_services: [hello.service]
    var_files: [var/lib/hello/**]
`;

function writeOverlay(dir: string): void {
  const f = (rel: string, text: string, mode = 0o644) => {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
    chmodSync(join(dir, rel), mode);
  };
  // Large enough to be stored compressed by every compressed variant.
  f('usr/bin/hello', `#!/bin/sh\necho hello\n${'# padding line\n'.repeat(2000)}`, 0o755);
  f('usr/lib/systemd/system/hello.service', '[Service]\nExecStart=/usr/bin/hello\n[Install]\nWantedBy=multi-user.target\n');
  f('etc/hello/hello.conf', 'GREETING=hi\n');
  f('var/lib/hello/state', '0\n');
}

/** Runs systemd-sysext with `args` against ROOT in a private mount namespace; returns what `inner` printed. */
function inNamespace(root: string, inner: string): string {
  return execFileSync('unshare', ['-m', '--propagation', 'shared', 'sh', '-euc', `mount -t tmpfs tmpfs /run; ${inner}`, 'sh', root], {
    encoding: 'utf8',
    env: { ...process.env, SYSTEMD_LOG_LEVEL: 'info' },
  });
}

for (const fs of [
  { engine: 'native', value: 'squashfs', fstype: 'squashfs' as const, tools: [] },
  { engine: 'native', value: 'squashfs-zst', fstype: 'squashfs' as const, tools: [] },
  { engine: 'native', value: 'erofs', fstype: 'erofs' as const, tools: [] },
  { engine: 'native', value: 'erofs-lz4', fstype: 'erofs' as const, tools: [] },
  { engine: 'native', value: 'erofs-zst', fstype: 'erofs' as const, tools: [] },
  { engine: 'tools', value: 'squashfs', fstype: 'squashfs' as const, tools: ['mksquashfs'] },
  { engine: 'tools', value: 'erofs-lz4', fstype: 'erofs' as const, tools: ['mkfs.erofs'] },
]) {
  describe(`systemd-sysext merges a ${fs.value} image (${fs.engine} engine) from ext build + ext image`, {
    skip: cannotMount(fs.fstype) ?? missingTools('systemd-sysext', 'unshare', ...fs.tools),
  }, () => {
    it('shows the extension under /usr and unmerges cleanly', async () => {
      const p = new TestProject(YAML(fs.value));
      const root = mkdtempSync(join(tmpdir(), 'avocado-sysext-root-'));
      try {
        writeOverlay(join(p.dir, 'overlay'));
        let r = p.run(['ext', 'build', 'hello']);
        assert.equal(r.code, 0, r.stderr);
        r = p.run(['ext', 'image', 'hello', '--engine', fs.engine, '--out', 'dist']);
        assert.equal(r.code, 0, r.stderr);
        assert.doesNotMatch(r.stderr, /warning/, 'a freshly built sysroot passes the release-file lint');
        const image = join(p.dir, 'dist', 'hello-1.2.3.raw');

        mkdirSync(join(root, 'usr/lib'), { recursive: true });
        writeFileSync(join(root, 'usr/lib/os-release'), 'ID=debian\nVERSION_ID=12\n');
        mkdirSync(join(root, 'var/lib/extensions'), { recursive: true });
        mkdirSync(join(root, 'opt'), { recursive: true });
        copyFileSync(image, join(root, 'var/lib/extensions/hello-1.2.3.raw'));

        const out = inNamespace(root, [
          'systemd-sysext merge --root="$1"',
          'echo "--- list"; systemd-sysext list --root="$1" --json=short',
          'echo "--- run"; sh "$1/usr/bin/hello"',
          'echo "--- unit"; cat "$1/usr/lib/systemd/system/hello.service"',
          'systemd-sysext unmerge --root="$1"',
          'echo "--- after"; ls "$1/usr/bin" 2>/dev/null || true',
        ].join('; '));
        assert.match(out, /--- list\n.*"name":"hello-1\.2\.3"/);
        assert.match(out, /--- run\nhello\n/);
        assert.match(out, /WantedBy=multi-user\.target/);
        assert.match(out, /--- after\n$/);

        // The confext half: release file, config and the enablement symlink, nothing from /var.
        await withMountedImage(image, fs.fstype, (dir) => {
          assert.equal(readFileSync(join(dir, 'etc/extension-release.d/extension-release.hello-1.2.3'), 'utf8'), 'ID=_any\nEXTENSION_RELOAD_MANAGER=0\nCONFEXT_SCOPE=system\nAVOCADO_ENABLE_SERVICES="hello.service"\n');
          assert.equal(readFileSync(join(dir, 'etc/hello/hello.conf'), 'utf8'), 'GREETING=hi\n');
          assert.equal(execFileSync('readlink', [join(dir, 'etc/systemd/system/multi-user.target.wants/hello.service')]).toString().trim(), '/usr/lib/systemd/system/hello.service');
          assert.throws(() => readFileSync(join(dir, 'var/lib/hello/state')));
        });
      } finally {
        rmSync(root, { recursive: true, force: true });
        p.remove();
      }
    });
  });

  it(`ignores a ${fs.value} image (${fs.engine} engine) that the lint warned about`, { skip: cannotMount(fs.fstype) ?? missingTools('systemd-sysext', 'unshare', ...fs.tools) }, () => {
    const p = new TestProject(YAML(fs.value).replace(/\n    overlay:.*\n    enable_services:.*\n/, '\n'));
    const root = mkdtempSync(join(tmpdir(), 'avocado-sysext-root-'));
    try {
      const sysroot = p.makeSysroot('qemux86-64', 'hello');
      writeOverlay(sysroot);
      // A release file for another version only: the image name does not match it.
      mkdirSync(join(sysroot, 'usr/lib/extension-release.d'), { recursive: true });
      writeFileSync(join(sysroot, 'usr/lib/extension-release.d/extension-release.hello-1.0.0'), 'ID=_any\n');
      const r = p.run(['ext', 'image', 'hello', '--engine', fs.engine]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /warning: systemd-sysext will ignore hello-1\.2\.3\.raw: usr\/lib\/extension-release\.d\/extension-release\.hello-1\.2\.3 is missing/);
      mkdirSync(join(root, 'usr/lib'), { recursive: true });
      writeFileSync(join(root, 'usr/lib/os-release'), 'ID=debian\nVERSION_ID=12\n');
      mkdirSync(join(root, 'var/lib/extensions'), { recursive: true });
      copyFileSync(p.image('qemux86-64', 'hello', '1.2.3'), join(root, 'var/lib/extensions/hello-1.2.3.raw'));
      const out = inNamespace(root, 'systemd-sysext merge --root="$1" 2>&1 || true; ls "$1/usr/bin" 2>/dev/null || echo "no usr/bin"');
      assert.doesNotMatch(out, /Merged extensions/);
      assert.match(out, /no usr\/bin/);
    } finally {
      rmSync(root, { recursive: true, force: true });
      p.remove();
    }
  });
}
