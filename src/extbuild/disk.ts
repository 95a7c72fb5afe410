/**
 * Sysroot-relative paths as bytes, and what is on disk at them. A path is carried as a key with
 * one char per byte (`pathKey` of src/sysroot/entry.ts), so that non-UTF-8 names compare and
 * round-trip exactly; file system calls get the bytes back as a Buffer.
 */
import { lstat, readdir, readlink } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { displayPath, pathKey } from '../sysroot/entry.js';

/** A relative path, no leading slash, one char per byte; '' is the root. */
export type PathKey = string;

export type DiskKind = 'directory' | 'file' | 'symlink' | 'special';

export interface DiskEntry {
  readonly kind: DiskKind;
  /** st_mode & 0o7777. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtimeNs: bigint;
  readonly ino: bigint;
}

/** The key of a path written in UTF-8 (`usr/lib/x`). */
export function keyOf(rel: string): PathKey {
  return pathKey(Buffer.from(rel, 'utf8'));
}

export function bytesOf(key: PathKey): Buffer {
  return Buffer.from(key, 'latin1');
}

/** For people: UTF-8 where it is, \xNN for other bytes. */
export function show(key: PathKey): string {
  return displayPath(bytesOf(key));
}

export function joinKey(parent: PathKey, name: PathKey): PathKey {
  return parent ? `${parent}/${name}` : name;
}

export function parentOf(key: PathKey): PathKey {
  const i = key.lastIndexOf('/');
  return i < 0 ? '' : key.slice(0, i);
}

/** Every ancestor of `key`, outermost first, not '' and not `key` itself. */
export function ancestorsOf(key: PathKey): PathKey[] {
  const parts = key.split('/');
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
}

/** `root/key` as bytes. */
export function absolute(root: string | Buffer, key: PathKey): Buffer {
  const base = typeof root === 'string' ? Buffer.from(root) : root;
  return key ? Buffer.concat([base, Buffer.from('/'), bytesOf(key)]) : base;
}

function kindOf(st: BigIntStats): DiskKind {
  if (st.isDirectory()) return 'directory';
  if (st.isFile()) return 'file';
  if (st.isSymbolicLink()) return 'symlink';
  return 'special';
}

export function describeStat(st: BigIntStats): DiskEntry {
  return {
    kind: kindOf(st),
    mode: Number(st.mode) & 0o7777,
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: Number(st.size),
    mtimeNs: st.mtimeNs,
    ino: st.ino,
  };
}

/** What is at `path` (never following a symlink), or undefined when nothing is. */
export async function onDisk(path: Buffer): Promise<DiskEntry | undefined> {
  try {
    return describeStat(await lstat(path, { bigint: true }));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
}

export async function readLinkBytes(path: Buffer): Promise<Buffer> {
  return readlink(path, { encoding: 'buffer' });
}

/** Names in a directory, sorted by their bytes; none when it is not a directory. */
export async function childNames(dir: Buffer): Promise<PathKey[]> {
  try {
    const names = await readdir(dir, { encoding: 'buffer' });
    return names.sort(Buffer.compare).map(pathKey);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw e;
  }
}

/** Every path below `root/start` (not following symlinks), sorted, in pre-order; `start` itself not included. */
export async function walkBelow(root: string | Buffer, start: PathKey): Promise<{ key: PathKey; entry: DiskEntry }[]> {
  const out: { key: PathKey; entry: DiskEntry }[] = [];
  const visit = async (dirKey: PathKey) => {
    for (const name of await childNames(absolute(root, dirKey))) {
      const key = joinKey(dirKey, name);
      const entry = await onDisk(absolute(root, key));
      if (!entry) continue;
      out.push({ key, entry });
      if (entry.kind === 'directory') await visit(key);
    }
  };
  await visit(start);
  return out;
}
