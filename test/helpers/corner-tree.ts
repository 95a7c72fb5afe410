/**
 * A sysroot holding every case an image writer must get right: all file types, hard links
 * across directories, setuid/setgid/sticky, empty files and directories, 255-byte, non-ASCII and
 * non-UTF-8 names, long and dangling symlinks, and the var/ paths that must stay out.
 * Needs root for device nodes (skipped otherwise, and reported).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isRoot } from './system.js';

export interface CornerTreeOptions {
  /** Also a directory with this many entries. */
  bigDirEntries?: number;
  /** Nesting depth of the deep directory chain. */
  depth?: number;
  /** Longest name to create (mkfs.erofs 1.5 fails on 255-byte names). */
  maxNameLength?: number;
}

export function makeCornerTree(root: string, opts: CornerTreeOptions = {}): void {
  const p = (...parts: string[]) => join(root, ...parts);
  const mkdir = (rel: string, mode = 0o755) => {
    mkdirSync(p(rel), { recursive: true });
    chmodSync(p(rel), mode);
  };
  const file = (rel: string, content: string | Buffer, mode = 0o644) => {
    mkdirSync(dirname(p(rel)), { recursive: true });
    writeFileSync(p(rel), content);
    chmodSync(p(rel), mode);
  };
  chmodSync(root, 0o755);
  mkdir('usr');
  mkdir('usr/bin');
  mkdir('usr/lib');
  mkdir('usr/share/empty-dir');
  mkdir('usr/lib/extension-release.d');
  mkdir('etc/extension-release.d');
  file('usr/bin/tool', '#!/bin/sh\necho tool\n', 0o755);
  file('usr/bin/setuid-tool', 'setuid\n', 0o4755);
  file('usr/bin/setgid-tool', 'setgid\n', 0o2711);
  mkdir('usr/share/sticky', 0o1777);
  file('usr/share/empty-file', '');
  file('usr/share/odd-mode', 'x', 0o640);
  file('usr/share/one-block-plus-one', Buffer.alloc(128 * 1024 + 1, 0x61));
  file('usr/share/random', pseudoRandom(300_000, 7));
  // Hard links across directories, and a hard-linked symlink.
  file('usr/lib/libfoo.so.1', 'ELF pretend\n', 0o755);
  linkSync(p('usr/lib/libfoo.so.1'), p('usr/bin/foo-hardlink'));
  linkSync(p('usr/lib/libfoo.so.1'), p('usr/share/foo-hardlink-2'));
  symlinkSync('libfoo.so.1', p('usr/lib/libfoo.so'));
  linkSync(p('usr/lib/libfoo.so'), p('usr/lib/libfoo-link-to-symlink'));
  // Identical content in separate files (deduplication candidates).
  file('usr/share/dup-a', pseudoRandom(70_000, 3));
  file('usr/share/dup-b', pseudoRandom(70_000, 3));
  // Names: 255 bytes, non-ASCII, non-UTF-8.
  const longest = opts.maxNameLength ?? 255;
  file(`usr/share/${'n'.repeat(longest)}`, 'long name\n');
  mkdir(`usr/share/${'d'.repeat(longest)}`);
  file('usr/share/grüße-日本語-emoji-🥑', 'unicode\n');
  writeFileSync(Buffer.concat([Buffer.from(p('usr/share')), Buffer.from('/latin1-\xe9\xff-name', 'latin1')]), 'not utf-8\n');
  // Symlinks: long target, dangling, absolute, to a directory.
  symlinkSync('/' + 'x/'.repeat(1500) + 'end', p('usr/share/long-symlink'));
  symlinkSync('does/not/exist', p('usr/share/dangling'));
  symlinkSync('/usr/bin/tool', p('usr/bin/absolute-link'));
  symlinkSync('../share', p('usr/lib/share-link'));
  // Special files.
  execFileSync('mkfifo', [p('usr/share/fifo')]);
  execFileSync('python3', ['-c', 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])', p('usr/share/socket')]);
  if (isRoot()) {
    execFileSync('mknod', [p('usr/share/char-dev'), 'c', '1', '3']);
    execFileSync('mknod', [p('usr/share/block-dev'), 'b', '7', '200']);
    execFileSync('mknod', [p('usr/share/big-dev'), 'c', '300', '70000']);
  }
  // Deep nesting.
  let deep = 'usr/share/deep';
  for (let i = 0; i < (opts.depth ?? 40); i++) deep += `/d${i}`;
  mkdir(deep);
  file(`${deep}/bottom`, 'bottom\n');
  if (opts.bigDirEntries) {
    mkdir('usr/share/big');
    for (let i = 0; i < opts.bigDirEntries; i++) writeFileSync(p(`usr/share/big/entry-${String(i).padStart(5, '0')}`), i % 7 ? '' : `${i}\n`);
  }
  // /var: package-manager state (always excluded), app data (excluded by var_files), logs.
  mkdir('var/lib/rpm');
  file('var/lib/rpm/rpmdb.sqlite', 'rpmdb');
  mkdir('var/lib/dnf');
  file('var/lib/dnf/history.sqlite', 'history');
  mkdir('var/cache/dnf');
  file('var/log/dnf.log', 'log');
  file('var/log/hawkey.log', 'log');
  file('var/log/app.log', 'app log');
  mkdir('var/log/sub');
  file('var/log/sub/deeper.log', 'deeper');
  file('var/log/keep.txt', 'kept');
  mkdir('var/lib/app/data');
  file('var/lib/app/data/state.db', 'state');
  mkdir('var/lib/docker/overlay2');
  file('var/lib/docker/overlay2/layer', 'layer');
  mkdir('opt/vendor/cache');
  file('opt/vendor/cache/c', 'cache');
}

/** Deterministic bytes that do not compress. */
export function pseudoRandom(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Writes a release file for `name-version` for each type. */
export function writeReleaseFiles(root: string, imageName: string, types: ('sysext' | 'confext')[] = ['sysext', 'confext']): void {
  for (const t of types) {
    const dir = t === 'sysext' ? 'usr/lib/extension-release.d' : 'etc/extension-release.d';
    mkdirSync(join(root, dir), { recursive: true });
    writeFileSync(join(root, dir, `extension-release.${imageName}`), `ID=_any\n${t === 'sysext' ? 'SYSEXT' : 'CONFEXT'}_SCOPE=system\n`);
  }
}

/** Seeded text from a small vocabulary: compressible, with matches of every length and distance. */
export function pseudoText(size: number, seed: number): Buffer {
  const words = ['erofs', 'squashfs', 'cluster', 'block', 'inode', 'the', 'of', 'a', 'kernel', 'extent', '\n', ' = ', '0x', 'return'];
  const out = Buffer.alloc(size);
  let x = seed;
  for (let i = 0; i < size; ) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    i += out.write(words[(x >>> 16) % words.length]! + ' ', i);
  }
  return out;
}
