/**
 * The tools engine end to end through the CLI: for each filesystem value, the corner-case tree
 * is imaged, loop-mounted and compared entry by entry with the sysroot minus the exclusions,
 * read back by unsquashfs / fsck.erofs, and rebuilt byte-identically after the sysroot's times,
 * owners and the umask change.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, lchownSync, lstatSync, lutimesSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { makeCornerTree, writeReleaseFiles } from './helpers/corner-tree.js';
import { withMountedImage } from './helpers/mount.js';
import { TestProject } from './helpers/project.js';
import { cannotMount, isRoot, missingTools } from './helpers/system.js';
import { compareTrees, snapshotTree } from './helpers/tree.js';

const SDE = 1700000000;
const EXPECTED_EXCLUDED = [
  'opt/vendor/cache',
  'var/cache/dnf',
  'var/lib/app',
  'var/lib/dnf',
  'var/lib/docker',
  'var/lib/rpm',
  'var/log/app.log',
  'var/log/dnf.log',
  'var/log/hawkey.log',
  'var/log/sub/deeper.log',
];

function yaml(filesystem: string): string {
  return `default_target: qemux86-64
source_date_epoch: ${SDE}
extensions:
  corner:
    version: "1.0.0"
    filesystem: ${filesystem}
    var_files:
      - var/lib/app/**
      - /var/log/**/*.log
      - var/lib/docker/
      - "**/vendor/cache"
`;
}

const VALUES = [
  { value: 'squashfs', fstype: 'squashfs' as const, tools: ['mksquashfs', 'unsquashfs'], maxName: 255 },
  { value: 'erofs', fstype: 'erofs' as const, tools: ['mkfs.erofs', 'fsck.erofs'], maxName: 254 },
  { value: 'erofs-lz4', fstype: 'erofs' as const, tools: ['mkfs.erofs', 'fsck.erofs'], maxName: 254 },
];

for (const v of VALUES) {
  describe(`tools engine, filesystem ${v.value}`, { skip: missingTools(...v.tools) ?? cannotMount(v.fstype) }, () => {
    const p = new TestProject(yaml(v.value));
    const sysroot = p.makeSysroot('qemux86-64', 'corner');
    makeCornerTree(sysroot, { bigDirEntries: 10_000, maxNameLength: v.maxName });
    writeReleaseFiles(sysroot, 'corner-1.0.0');
    const image = p.image('qemux86-64', 'corner', '1.0.0');
    let firstSha = '';

    it('builds, lists the exclusions and prints the result as JSON', () => {
      const r = p.run(['ext', 'image', 'corner', '--engine', 'tools', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout);
      assert.equal(doc.ok, true);
      assert.equal(doc.image.path, image);
      assert.equal(doc.filesystem, v.value);
      assert.equal(doc.engine, 'tools');
      assert.deepEqual(doc.excluded.map((x: { path: string }) => x.path), EXPECTED_EXCLUDED);
      assert.match(doc.image.sha256, /^[0-9a-f]{64}$/);
      assert.equal(doc.image.size, readFileSync(image).length);
      firstSha = doc.image.sha256;
    });

    it('mounts and matches the sysroot entry by entry', async () => {
      const expected = snapshotTree(sysroot, { exclude: EXPECTED_EXCLUDED });
      await withMountedImage(image, v.fstype, (dir) => {
        const diffs = compareTrees(snapshotTree(dir), expected, { mtime: SDE });
        assert.deepEqual(diffs, []);
      });
    });

    it('is read back without complaint by the reference tool', () => {
      const out = mkdtempSync(join(tmpdir(), 'avocado-extract-'));
      try {
        if (v.fstype === 'squashfs') {
          const info = execFileSync('unsquashfs', ['-s', image]).toString();
          assert.match(info, /Compression gzip/);
          assert.match(info, /Block size 131072/);
          assert.match(info, /Xattrs are not stored/);
          assert.match(execFileSync('unsquashfs', ['-lls', image]).toString(), /squashfs-root\/usr\/bin\/setuid-tool/);
          execFileSync('unsquashfs', ['-no-progress', '-quiet', '-strict-errors', '-d', join(out, 'x'), image]);
        } else {
          execFileSync('fsck.erofs', [`--extract=${join(out, 'x')}`, image], { stdio: 'pipe' });
        }
        // The extraction holds the same paths, types, modes and contents.
        const extracted = snapshotTree(join(out, 'x'));
        const expected = snapshotTree(sysroot, { exclude: EXPECTED_EXCLUDED });
        // fsck.erofs 1.5 --extract makes hard links separate files and drops setuid/setgid; the
        // kernel mount above checks those. Extractors also do not recreate sockets as sockets.
        const erofsExtractLimits = v.fstype === 'erofs' ? /hard-link groups|link count|-tool": mode/ : /^$/;
        const diffs = compareTrees(extracted, expected).filter((d) => !/owner|"usr\/share\/socket": type/.test(d) && !erofsExtractLimits.test(d));
        assert.deepEqual(diffs, []);
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    });

    it('rebuilds byte-identically after times, owners and the umask change', { skip: isRoot() ? undefined : 'needs root to chown' }, () => {
      assert.ok(firstSha);
      const paths = execFileSync('find', [sysroot, '-print0']).toString('latin1').split('\0').filter(Boolean).map((s) => Buffer.from(s, 'latin1'));
      for (const path of paths) {
        const st = lstatSync(path);
        lchownSync(path, 1234, 5678);
        // chown clears setuid/setgid; put the mode back, only owners and times are meant to change
        if (!st.isSymbolicLink()) chmodSync(path, st.mode & 0o7777);
        lutimesSync(path, 1_000_000 + paths.length, 2_000_000_000);
      }
      const r = p.run(['ext', 'image', 'corner', '--engine', 'tools', '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).image.sha256, firstSha);
      const umasked = execFileSync('sh', ['-c', `umask 077 && exec "$0" "$@"`, process.execPath, ...cliArgs(p)], { cwd: p.dir }).toString();
      assert.equal(JSON.parse(umasked).image.sha256, firstSha);
      p.remove();
    });
  });
}

function cliArgs(_p: TestProject): string[] {
  return [new URL('../src/cli/main.js', import.meta.url).pathname, 'ext', 'image', 'corner', '--engine', 'tools', '--json'];
}

describe('tools engine limits', { skip: missingTools('mkfs.erofs') }, () => {
  it('says what to do about erofs-zst and 255-byte names with erofs-utils 1.5', () => {
    const version = execFileSync('sh', ['-c', 'mkfs.erofs /nonexistent-x/a /nonexistent-x/b 2>&1 || true']).toString();
    if (!/mkfs\.erofs 1\.5/.test(version)) return;
    const p = new TestProject(yaml('erofs-zst'));
    try {
      const sysroot = p.makeSysroot('qemux86-64', 'corner');
      writeReleaseFiles(sysroot, 'corner-1.0.0');
      let r = p.run(['ext', 'image', 'corner', '--engine', 'tools']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /mkfs\.erofs 1\.5 has no zstd compressor \(it has lz4hc, lz4\), which filesystem erofs-zst needs; install erofs-utils 1\.8 or newer, built with libzstd \(Debian\/Ubuntu: apt-get install erofs-utils; Fedora: dnf install erofs-utils\); Debian 12 ships 1\.5, without it; or choose erofs-lz4, or the native engine\n/);
      p.writeConfig(yaml('erofs'));
      writeFileSync(join(sysroot, 'n'.repeat(255)), '');
      r = p.run(['ext', 'image', 'corner', '--engine', 'tools']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /mkfs\.erofs 1\.5 fails on names of 255 bytes, such as n{255}; rename it, or use a newer erofs-utils/);
    } finally {
      p.remove();
    }
  });
});

describe('a build that runs out of disk space', { skip: cannotMount('squashfs') ?? missingTools('mksquashfs') }, () => {
  it('fails with exit 1, keeps the previous image and leaves no temporary file', () => {
    const p = new TestProject(yaml('squashfs'));
    const volume = mkdtempSync(join(tmpdir(), 'avocado-small-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', volume]);
    try {
      const sysroot = join(volume, 'qemux86-64/extensions/corner');
      execFileSync('mkdir', ['-p', join(sysroot, 'usr')]);
      writeReleaseFiles(sysroot, 'corner-1.0.0');
      writeFileSync(join(sysroot, 'usr/small'), 'small');
      assert.equal(p.run(['ext', 'image', 'corner', '--volume', volume]).code, 0);
      const image = join(volume, 'qemux86-64/output/extensions/corner-1.0.0.raw');
      const good = readFileSync(image);
      // Incompressible data the size of what is left: the new image cannot fit.
      writeFileSync(join(sysroot, 'usr/big'), execFileSync('head', ['-c', '600000', '/dev/urandom']));
      chmodSync(join(sysroot, 'usr/big'), 0o644);
      const r = p.run(['ext', 'image', 'corner', '--volume', volume]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /error: (mksquashfs failed|no space left)/);
      assert.deepEqual(readFileSync(image), good);
      assert.deepEqual(execFileSync('ls', ['-A', join(volume, 'qemux86-64/output/extensions')]).toString().trim().split('\n'), ['corner-1.0.0.raw']);
    } finally {
      execFileSync('umount', [volume]);
      rmSync(volume, { recursive: true, force: true });
      p.remove();
    }
  });
});
