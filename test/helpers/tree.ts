/**
 * Snapshots of a directory tree as the kernel shows it (path, type, mode, owner, size, content
 * hash, link target, device number, hard-link group, times), and their comparison. Paths are
 * kept as bytes (one char per byte) so that non-UTF-8 names compare exactly.
 */
import { createHash } from 'node:crypto';
import { constants as C, lstatSync, openSync, readSync, closeSync, readdirSync, readlinkSync, type Stats } from 'node:fs';

export interface EntrySnapshot {
  type: 'dir' | 'file' | 'symlink' | 'chr' | 'blk' | 'fifo' | 'sock';
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  sha256?: string;
  target?: string;
  rdev?: number;
  nlink: number;
  mtime: number;
  ino: number;
}

/** Path (relative, latin1 of the bytes; '' for the root) → snapshot. */
export type TreeSnapshot = Map<string, EntrySnapshot>;

export interface SnapshotOptions {
  /** Relative paths (latin1 of bytes) to leave out, with everything below them. */
  exclude?: Iterable<string>;
}

export function snapshotTree(root: string, opts: SnapshotOptions = {}): TreeSnapshot {
  const exclude = new Set(opts.exclude ?? []);
  const out: TreeSnapshot = new Map();
  const rootBuf = Buffer.from(root);
  const visit = (rel: Buffer) => {
    const key = rel.toString('latin1');
    if (exclude.has(key)) return;
    const abs = rel.length ? Buffer.concat([rootBuf, Buffer.from('/'), rel]) : rootBuf;
    const st = lstatSync(abs);
    const snap = describe(st, abs);
    out.set(key, snap);
    if (snap.type === 'dir')
      for (const name of readdirSync(abs, { encoding: 'buffer' }).sort(Buffer.compare))
        visit(rel.length ? Buffer.concat([rel, Buffer.from('/'), name]) : name);
  };
  visit(Buffer.alloc(0));
  return out;
}

function describe(st: Stats, abs: Buffer): EntrySnapshot {
  const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, nlink: st.nlink, mtime: Math.floor(st.mtimeMs / 1000), ino: st.ino };
  switch (st.mode & C.S_IFMT) {
    case C.S_IFDIR:
      return { type: 'dir', ...base };
    case C.S_IFREG:
      return { type: 'file', ...base, size: st.size, sha256: hashFile(abs) };
    case C.S_IFLNK:
      return { type: 'symlink', ...base, target: readlinkSync(abs, { encoding: 'buffer' }).toString('latin1') };
    case C.S_IFCHR:
      return { type: 'chr', ...base, rdev: st.rdev };
    case C.S_IFBLK:
      return { type: 'blk', ...base, rdev: st.rdev };
    case C.S_IFIFO:
      return { type: 'fifo', ...base };
    default:
      return { type: 'sock', ...base };
  }
}

function hashFile(path: Buffer): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(4 << 20);
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/** Groups of paths sharing an inode (non-directories), each sorted; the list sorted. */
export function hardLinkGroups(tree: TreeSnapshot): string[][] {
  const byIno = new Map<number, string[]>();
  for (const [path, e] of tree) {
    if (e.type === 'dir') continue;
    const g = byIno.get(e.ino) ?? [];
    g.push(path);
    byIno.set(e.ino, g);
  }
  return [...byIno.values()].filter((g) => g.length > 1).map((g) => g.sort()).sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
}

export interface CompareOptions {
  /** Every entry of the image must have this mtime. */
  mtime?: number;
  /** Every entry of the image must be owned by this uid/gid (default 0). */
  owner?: number;
}

/**
 * Differences between an image's mounted tree and the source it was built from (the source
 * snapshot already has the exclusions applied). Empty when they match.
 */
export function compareTrees(image: TreeSnapshot, source: TreeSnapshot, opts: CompareOptions = {}): string[] {
  const diffs: string[] = [];
  const show = (p: string) => JSON.stringify(Buffer.from(p, 'latin1').toString('utf8') || '/');
  for (const p of source.keys()) if (!image.has(p)) diffs.push(`missing from image: ${show(p)}`);
  for (const p of image.keys()) if (!source.has(p)) diffs.push(`not in source: ${show(p)}`);
  const owner = opts.owner ?? 0;
  for (const [p, img] of image) {
    const src = source.get(p);
    if (!src) continue;
    const fields: (keyof EntrySnapshot)[] = ['type', 'mode', 'size', 'sha256', 'target', 'rdev'];
    for (const f of fields) if (img[f] !== src[f]) diffs.push(`${show(p)}: ${f} ${String(img[f])} in image, ${String(src[f])} in source`);
    if (img.uid !== owner || img.gid !== owner) diffs.push(`${show(p)}: owner ${img.uid}:${img.gid}, expected ${owner}:${owner}`);
    if (opts.mtime !== undefined && img.mtime !== opts.mtime) diffs.push(`${show(p)}: mtime ${img.mtime}, expected ${opts.mtime}`);
  }
  // Hard links: the same groups, and each member's link count equals its group's size.
  const imgGroups = JSON.stringify(hardLinkGroups(image));
  const srcGroups = JSON.stringify(hardLinkGroups(source));
  if (imgGroups !== srcGroups) diffs.push(`hard-link groups differ: image ${imgGroups}, source ${srcGroups}`);
  const groupSize = new Map<number, number>();
  for (const e of image.values()) if (e.type !== 'dir') groupSize.set(e.ino, (groupSize.get(e.ino) ?? 0) + 1);
  const subdirs = new Map<string, number>();
  for (const [p, e] of image) if (e.type === 'dir' && p !== '') subdirs.set(parentOf(p), (subdirs.get(parentOf(p)) ?? 0) + 1);
  for (const [p, e] of image) {
    if (e.type === 'dir') {
      const expected = (subdirs.get(p) ?? 0) + 2;
      if (e.nlink !== expected) diffs.push(`${show(p)}: directory link count ${e.nlink}, expected ${expected}`);
    } else if (e.nlink !== groupSize.get(e.ino)) diffs.push(`${show(p)}: link count ${e.nlink}, expected ${groupSize.get(e.ino)}`);
  }
  return diffs;
}

function parentOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
}
