/**
 * `ext inspect`, `ext diff`, `ext verify` and `ext image --verify`, run as the real CLI on images
 * of every filesystem value built from the corner-case tree, and checked against independent
 * oracles: the kernel's loop mount (listing, mtree), mksquashfs-built images (tools engine), and
 * images damaged on purpose. No mount is needed by the commands themselves; the oracles need root.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FILESYSTEMS } from '../src/formats/filesystems.js';
import { displayPath } from '../src/sysroot/entry.js';
import { openImage } from '../src/formats/open-image.js';
import { makeCornerTree, pseudoText, writeReleaseFiles } from './helpers/corner-tree.js';
import { withMountedImage } from './helpers/mount.js';
import { TestProject } from './helpers/project.js';
import { cannotMount, missingTools } from './helpers/system.js';

const SDE = 1700000000;
const YAML = `default_target: t
source_date_epoch: ${SDE}
extensions:
  app:
    version: "1.0.0"
    types: [sysext, confext]
    var_files: [var/lib/app/**]
`;

let p: TestProject;
let sysroot: string;
before(() => {
  p = new TestProject(YAML, 'avocado-read-');
  sysroot = p.makeSysroot('t', 'app');
  // 255-byte names: mkfs.erofs 1.5 fails on them, and the tools engine builds EROFS here too.
  makeCornerTree(sysroot, { bigDirEntries: 300, maxNameLength: 200 });
  writeReleaseFiles(sysroot, 'app-1.0.0', ['sysext', 'confext']);
  writeFileSync(join(sysroot, 'usr/share/text'), pseudoText(400_000, 3));
  mkdirSync(join(sysroot, 'var/lib/app'), { recursive: true });
  writeFileSync(join(sysroot, 'var/lib/app/state'), 'left out\n');
});
after(() => p.remove());

const image = () => p.image('t', 'app', '1.0.0');
const json = (r: { stdout: string }) => JSON.parse(r.stdout);

describe('every filesystem value: built with --verify, then inspected and verified', () => {
  for (const fs of FILESYSTEMS) {
    it(fs.value, () => {
      const built = p.run(['ext', 'image', 'app', '--filesystem', fs.value, '--verify', '--json']);
      assert.equal(built.code, 0, built.stderr);
      const result = json(built);
      assert.ok(result.verified.entries > 300, built.stdout);
      assert.equal(result.verified.bytes, result.fileBytes);

      const verified = p.run(['ext', 'verify', 'app', '--json']);
      assert.equal(verified.code, 0, verified.stdout + verified.stderr);
      assert.deepEqual(json(verified).differences, []);
      assert.equal(json(verified).entries, result.entries);

      const inspected = json(p.run(['ext', 'inspect', 'app', '--json']));
      assert.equal(inspected.format.family, fs.family);
      assert.equal(inspected.format.compressor, fs.compressor === 'lz4hc' ? 'lz4' : fs.compressor);
      assert.equal(inspected.entries.total, result.entries);
      assert.equal(inspected.entries.fileBytes, result.fileBytes);
      assert.equal(inspected.image.sha256, result.image.sha256);
      assert.equal(inspected.times.image, SDE);
      assert.equal(inspected.times.oldestEntry, SDE);
      assert.equal(inspected.times.newestEntry, SDE);
      assert.deepEqual(inspected.releaseFiles.map((r: { type: string }) => r.type), ['sysext', 'confext']);
      // The same checks as the build's, made on the image: here, the corner tree's files under var/.
      assert.deepEqual(inspected.systemd, result.warnings);
      assert.match(inspected.systemd.join('\n'), /outside \/usr, \/opt, \/etc will be in the image but never merged/);
      assert.match(inspected.format.kernelMin.version, /^\d+\.\d+/);
    });
  }
});

describe('ext inspect', () => {
  before(() => assert.equal(p.run(['ext', 'image', 'app', '--filesystem', 'squashfs']).code, 0));

  it('prints the summary: format, sizes, counts, times, kernel, release files, systemd', () => {
    const r = p.run(['ext', 'inspect', 'app']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\/.*app-1\.0\.0\.raw\n/);
    assert.match(r.stdout, /\n {2}format {4}squashfs, gzip, 128 KiB blocks\n/);
    assert.match(r.stdout, /\n {2}sha256 {4}[0-9a-f]{64}\n/);
    assert.match(r.stdout, /\n {2}time {6}2023-11-14 22:13:20 UTC \(1700000000\); every entry the same\n/);
    assert.match(r.stdout, /\n {2}kernel {4}Linux ≥ 2\.6\.29/);
    assert.match(r.stdout, /\n {2}sysext {4}\/usr\/lib\/extension-release\.d\/extension-release\.app-1\.0\.0: ID=_any SYSEXT_SCOPE=system\n/);
    assert.match(r.stdout, /\n {2}systemd {3}systemd-sysext and systemd-confext will merge it as app-1\.0\.0\n/);
  });

  it('says why systemd would skip a copy under another name', () => {
    const copy = join(p.dir, 'renamed-2.0.raw');
    copyFileSync(image(), copy);
    const r = p.run(['ext', 'inspect', copy]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /systemd-sysext and systemd-confext will ignore renamed-2\.0\.raw: it holds neither usr\/lib\/extension-release\.d\/extension-release\.renamed-2\.0 nor .*\(it holds \/usr\/lib\/extension-release\.d\/extension-release\.app-1\.0\.0.*was the image renamed\?\)/);
    const noRaw = join(p.dir, 'app-1.0.0.img');
    copyFileSync(image(), noRaw);
    assert.match(p.run(['ext', 'inspect', noRaw]).stdout, /only pick up images named \*\.raw/);
  });

  for (const fs of ['squashfs', 'erofs-lz4'] as const) {
    it(`--list and --mtree match the kernel's view of the mounted image (${fs})`, { skip: cannotMount(fs === 'squashfs' ? 'squashfs' : 'erofs') }, async () => {
      assert.equal(p.run(['ext', 'image', 'app', '--filesystem', fs]).code, 0);
      const list = p.run(['ext', 'inspect', 'app', '--list']);
      assert.equal(list.code, 0, list.stderr);
      const mtree = p.run(['ext', 'inspect', 'app', '--mtree']);
      assert.equal(mtree.code, 0, mtree.stderr);
      await withMountedImage(image(), fs === 'squashfs' ? 'squashfs' : 'erofs', (dir) => {
        assert.equal(mtree.stdout, mtreeOf(dir));
        const paths = list.stdout.trimEnd().split('\n').map((l) => l.replace(/ -> .*$/, '').replace(/^.* \d{4}-\d\d-\d\d \d\d:\d\d:\d\d /, ''));
        assert.deepEqual(paths, mtreePaths(dir));
      });
      const line = list.stdout.split('\n').find((l) => l.endsWith('/usr/bin/setuid-tool'));
      assert.match(line!, /^-rwsr-xr-x +1 0 +0 +7 2023-11-14 22:13:20 \/usr\/bin\/setuid-tool$/);
    });
  }

  it('a damaged or foreign file: one line naming the structure and offset, exit 1', () => {
    assert.equal(p.run(['ext', 'image', 'app', '--filesystem', 'squashfs']).code, 0);
    const cut = join(p.dir, 'cut.raw');
    copyFileSync(image(), cut);
    truncateSync(cut, 4096);
    const r = p.run(['ext', 'inspect', cut]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^error: squashfs image .*cut\.raw: superblock at 0x28: bytes_used says \d+ bytes, the file is 4096 \(truncated\?\)\n$/);
    const text = join(p.dir, 'text.raw');
    writeFileSync(text, 'hello, not an image\n'.repeat(100));
    const t = p.run(['ext', 'inspect', text]);
    assert.equal(t.code, 1);
    assert.match(t.stderr, /neither a squashfs image \(no magic at byte 0\) nor an EROFS image/);
  });

  it('NAME: an unknown one, or one without an image, is a usage error with the way out', () => {
    const unknown = p.run(['ext', 'inspect', 'nope']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /nope is neither an image file nor an extension of .*avocado\.yaml; extensions: app/);
    rmSync(image());
    const missing = p.run(['ext', 'inspect', 'app']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /extension app has no image for target t: .* does not exist; build it with 'avocado ext image app'/);
    assert.equal(p.run(['ext', 'inspect', './nope.raw']).code, 2);
  });
});

describe('ext diff', () => {
  let first: string;
  before(() => {
    assert.equal(p.run(['ext', 'image', 'app', '--filesystem', 'squashfs']).code, 0);
    first = join(p.dir, 'first.raw');
    copyFileSync(image(), first);
  });

  it('a copy is identical: exit 0', () => {
    const r = p.run(['ext', 'diff', 'app', first]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^app and .*first\.raw are identical \(sha256 [0-9a-f]{64}\)\n$/);
  });

  it('changed entries: which attributes, and content; exit 1', () => {
    const tool = join(sysroot, 'usr/bin/tool');
    const before = readFileSync(tool);
    try {
      writeFileSync(tool, Buffer.concat([before.subarray(0, 4), Buffer.from('X'), before.subarray(5)]));
      chmodSync(tool, 0o700);
      writeFileSync(join(sysroot, 'usr/bin/new'), 'new\n');
      assert.equal(p.run(['ext', 'image', 'app']).code, 0);
      const r = p.run(['ext', 'diff', first, 'app']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stdout, /^only in app: file \/usr\/bin\/new$/m);
      assert.match(r.stdout, /^changed: file \/usr\/bin\/tool: mode 0755 → 0700, content differs from byte 4$/m);
      assert.match(r.stdout, /differ in 2 entries/);
      const j = p.run(['ext', 'diff', first, 'app', '--json']);
      assert.equal(j.code, 1);
      assert.deepEqual(json(j).entries.differences.map((d: { change: string }) => d.change), ['added', 'changed']);
    } finally {
      writeFileSync(tool, before);
      chmodSync(tool, 0o755);
      rmSync(join(sysroot, 'usr/bin/new'));
    }
  });

  it('equal entries, other bytes: the settings, superblock fields and bytes that differ', () => {
    assert.equal(p.run(['ext', 'image', 'app', '--filesystem', 'squashfs-zst']).code, 0);
    const r = p.run(['ext', 'diff', first, 'app']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^setting compressor: gzip → zstd$/m);
    assert.match(r.stdout, /^superblock compressionId: 1 → 6$/m);
    assert.match(r.stdout, /hold the same \d+ entries but differ in bytes/);

    // Only the image's time differs: mkfs_time, and nothing else.
    assert.equal(p.run(['ext', 'image', 'app', '--filesystem', 'squashfs']).code, 0);
    const patched = join(p.dir, 'patched.raw');
    copyFileSync(image(), patched);
    const b = readFileSync(patched);
    b.writeUInt32LE(SDE + 1, 8);
    writeFileSync(patched, b);
    const t = p.run(['ext', 'diff', 'app', patched]);
    assert.equal(t.code, 1, t.stderr);
    assert.match(t.stdout, /^superblock mkfsTime: 1700000000 → 1700000001$/m);
    assert.match(t.stdout, /^bytes 0x8\.\.0x8 differ: superblock \(\+8\)$/m);
  });

  it('the tools engine (mksquashfs) against the native one: same entries, where the bytes differ', { skip: missingTools('mksquashfs') }, () => {
    assert.equal(p.run(['ext', 'image', 'app', '--filesystem', 'squashfs', '--engine', 'tools', '--verify']).code, 0);
    const r = p.run(['ext', 'diff', first, 'app', '--json']);
    const d = json(r);
    assert.deepEqual(d.entries.differences, []);
    if (r.code === 1) assert.ok(d.bytes.ranges.length > 0, r.stdout);
  });

  it('a damaged image is trouble: exit 2', () => {
    const cut = join(p.dir, 'cut2.raw');
    copyFileSync(first, cut);
    truncateSync(cut, 200);
    const r = p.run(['ext', 'diff', first, cut]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /superblock at 0x28: bytes_used says/);
  });
});

describe('ext verify', () => {
  before(() => assert.equal(p.run(['ext', 'image', 'app', '--filesystem', 'erofs-lz4']).code, 0));

  it('an image file alone, and against --sysroot with -e', () => {
    const copy = join(p.dir, 'copy.raw');
    copyFileSync(image(), copy);
    const alone = p.run(['ext', 'verify', copy]);
    assert.equal(alone.code, 0, alone.stderr);
    assert.match(alone.stderr, /✔ .*copy\.raw is sound\n {2}\d+ entries, \d+ files, .* decompressed, every structure checked/);
    const against = p.run(['ext', 'verify', copy, '--sysroot', sysroot, '-e', 'app']);
    assert.equal(against.code, 0, against.stderr);
    // Without -e the var_files and source_date_epoch are not known: the differences say so.
    const bare = p.run(['ext', 'verify', copy, '--sysroot', sysroot]);
    assert.equal(bare.code, 1);
    assert.match(bare.stdout, /^changed: dir \/: mtime 0 → 1700000000$/m);
    assert.match(bare.stdout, /^… and \d+ more \(--json lists them all\)$/m);
    const all = json(p.run(['ext', 'verify', copy, '--sysroot', sysroot, '--json']));
    assert.ok(all.differences.some((d: { change: string; path: string }) => d.change === 'removed' && d.path === '/var/lib/app/state'));
    assert.equal(p.run(['ext', 'verify', copy, '--sysroot', sysroot, '--source-date-epoch', String(SDE)]).code, 1, 'var/lib/app is still in the sysroot');
  });

  it('a sysroot changed since the build: the differences, exit 1', () => {
    writeFileSync(join(sysroot, 'usr/bin/later'), 'later\n');
    try {
      const r = p.run(['ext', 'verify', 'app']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stdout, /^only in the sysroot: file \/usr\/bin\/later$/m);
      assert.match(r.stderr, /error: .*app-1\.0\.0\.raw differs from .* in 1 entry/);
    } finally {
      rmSync(join(sysroot, 'usr/bin/later'));
    }
  });

  for (const fs of ['erofs-lz4', 'squashfs'] as const)
    it(`${fs}: damaged data blocks, named by offset (alone), or as content that differs (against the sysroot); exit 1`, async () => {
      assert.equal(p.run(['ext', 'image', 'app', '--filesystem', fs]).code, 0);
      const reader = await openImage(image());
      const region = (await reader.layout()).find((r) => r.what === 'data of /usr/share/text');
      await reader.close();
      assert.ok(region, 'the text file has data blocks');
      const original = readFileSync(image());
      try {
        // A whole block of zeros in the middle of the file's compressed data.
        const b = Buffer.from(original);
        const at = region.start + Math.floor((region.end - region.start) / 2 / 4096) * 4096;
        b.fill(0, at, at + 4096);
        writeFileSync(image(), b);
        const alone = p.run(['ext', 'verify', image()]);
        assert.equal(alone.code, 1, alone.stderr);
        assert.match(alone.stderr, new RegExp(`^error: (erofs|squashfs) image .*app-1\\.0\\.0\\.raw: .*(data block|pcluster|cluster).* at 0x[0-9a-f]+: `, 'im'));
        assert.equal(alone.stderr.trim().split('\n').length, 2, alone.stderr);
        // One flipped byte: against the sysroot it is an error or a content difference, never "sound".
        const c = Buffer.from(original);
        c[at + 100]! ^= 0x55;
        writeFileSync(image(), c);
        const against = p.run(['ext', 'verify', 'app']);
        assert.equal(against.code, 1, against.stderr);
        assert.match(against.stdout + against.stderr, /changed: file \/usr\/share\/text: content differs from byte \d+|error: .* at 0x[0-9a-f]+: /);
      } finally {
        writeFileSync(image(), original);
      }
    });
});

describe('ext image --verify', () => {
  it('a tool that writes something else fails the build and keeps the previous image', { skip: missingTools('mksquashfs') }, () => {
    assert.equal(p.run(['ext', 'image', 'app', '--filesystem', 'squashfs']).code, 0);
    const previous = readFileSync(image());
    // A stand-in for a broken mksquashfs: the real one, with one file more (a pseudo file).
    const bin = join(p.dir, 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'mksquashfs'), `#!/bin/sh\nexec ${realTool('mksquashfs')} "$@" -p 'usr/bin/intruder f 644 0 0 echo intruder'\n`, { mode: 0o755 });
    const r = p.run(['ext', 'image', 'app', '--engine', 'tools', '--verify'], { PATH: `${bin}:${process.env.PATH}` });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /error: --verify: the image mksquashfs .* wrote differs from the sysroot in 1 entry; it was not published/);
    assert.match(r.stderr, /\| only in the image: file \/usr\/bin\/intruder/);
    assert.deepEqual(readFileSync(image()), previous);
    assert.deepEqual(readdirSync(join(p.volume, 't', 'output', 'extensions')), ['app-1.0.0.raw']);
  });
});

function realTool(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    try {
      if (statSync(join(dir, name)).isFile()) return join(dir, name);
    } catch {
      // not here
    }
  }
  throw new Error(`${name} not found`);
}

/** The mtree listing of a mounted tree, written here from the kernel's view (lstat, readlink, reads). */
function mtreeOf(root: string): string {
  const lines: string[] = [];
  const esc = (s: Buffer) => [...s].map((c) => (c < 0x21 || c >= 0x7f || '\\#;*?['.includes(String.fromCharCode(c)) ? `\\x${c.toString(16).padStart(2, '0')}` : String.fromCharCode(c))).join('');
  const visit = (rel: Buffer) => {
    const abs = Buffer.concat([Buffer.from(root), rel.length ? Buffer.from('/') : Buffer.alloc(0), rel]);
    const st = lstatSync(abs);
    const type = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'link' : st.isFIFO() ? 'fifo' : st.isBlockDevice() ? 'block' : st.isCharacterDevice() ? 'char' : 'socket';
    const parts = [rel.length ? `./${esc(rel)}${type === 'dir' ? '/' : ''}` : './', `type=${type}`];
    if (type !== 'link') parts.push(`mode=${(st.mode & 0o777).toString(8).padStart(4, '0')}`);
    parts.push(`uid=${st.uid}`, `gid=${st.gid}`);
    if (type === 'file') {
      parts.push(`size=${st.size}`);
      if (st.size > 0) parts.push(`sha256sum=${createHash('sha256').update(readFileSync(abs)).digest('hex')}`);
    }
    if (type === 'link') parts.push(`link=${esc(readlinkSync(abs, { encoding: 'buffer' }))}`);
    if (type === 'block' || type === 'char') parts.push(`device=linux,${Math.floor(st.rdev / 256) & 0xfff},${(st.rdev & 0xff) | ((st.rdev >> 12) & ~0xff)}`);
    lines.push(parts.join(' '));
    if (type === 'dir')
      for (const name of readdirSync(abs, { encoding: 'buffer' }).sort(Buffer.compare)) visit(rel.length ? Buffer.concat([rel, Buffer.from('/'), name]) : name);
  };
  visit(Buffer.alloc(0));
  return `${lines.join('\n')}\n`;
}

function mtreePaths(root: string): string[] {
  const out: string[] = [];
  const visit = (rel: Buffer) => {
    out.push(`/${displayPath(rel)}`);
    const abs = Buffer.concat([Buffer.from(root), rel.length ? Buffer.from('/') : Buffer.alloc(0), rel]);
    if (lstatSync(abs).isDirectory())
      for (const name of readdirSync(abs, { encoding: 'buffer' }).sort(Buffer.compare)) visit(rel.length ? Buffer.concat([rel, Buffer.from('/'), name]) : name);
  };
  visit(Buffer.alloc(0));
  return out;
}
