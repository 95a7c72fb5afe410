/**
 * `ext inspect`: what an image is and holds, read from the image alone (no mount, no root):
 * format and settings, sizes, counts, times, the oldest kernel that mounts it, its
 * extension-release files and whether systemd will merge it under its file name, checked as
 * `ext image` checks a sysroot before building.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ExtensionType } from '../config/schema.js';
import type { ImageDescription, ImageEntry, ImageReader } from '../formats/image-reader.js';
import { displayPath, type EntryKind } from '../sysroot/entry.js';
import { lintTree, parseReleaseFile, releaseFilePath, type LintNode } from '../sysroot/lint.js';
import { sha256Handle } from '../util/hash.js';
import { KIND_TYPE, showPath } from './compare.js';

export interface EntryCounts {
  total: number;
  directories: number;
  files: number;
  symlinks: number;
  devices: number;
  fifos: number;
  sockets: number;
  /** Inodes with more than one name. */
  hardLinkedInodes: number;
  /** Entries with extended attributes. */
  withXattrs: number;
  /** Bytes of regular file content, each inode once. */
  fileBytes: number;
}

export interface ReleaseFile {
  readonly type: ExtensionType;
  readonly path: string;
  readonly fields: Record<string, string>;
}

export interface Inspection {
  readonly image: { readonly path: string; readonly size: number; readonly sha256: string };
  readonly format: ImageDescription;
  readonly entries: EntryCounts;
  readonly times: { readonly image: number; readonly oldestEntry?: number; readonly newestEntry?: number };
  /** The name systemd gives the image: its file name without `.raw`. */
  readonly imageName: string;
  readonly releaseFiles: readonly ReleaseFile[];
  /** Whether systemd-sysext / systemd-confext (those of its release files) will merge it on a booted system. */
  readonly merges: boolean;
  /** What they will do with it and what to look at: the checks `ext image` makes, as warnings. */
  readonly systemd: readonly string[];
}

/** The inverse of KIND_TYPE: an image entry's type as a sysroot entry's kind, for the release-file checks. */
const TYPE_KIND = Object.fromEntries(Object.entries(KIND_TYPE).map(([kind, type]) => [type, kind])) as Record<ImageEntry['type'], EntryKind>;

interface ImageNode extends LintNode {
  readonly entry: ImageEntry;
  readonly children?: ImageNode[];
}

/** A release file longer than this is not one (systemd reads a few lines). */
const RELEASE_FILE_LIMIT = 1 << 20;

export async function inspectImage(reader: ImageReader, opts: { readonly signal?: AbortSignal } = {}): Promise<Inspection> {
  const format = reader.describe();
  const counts: EntryCounts = { total: 0, directories: 0, files: 0, symlinks: 0, devices: 0, fifos: 0, sockets: 0, hardLinkedInodes: 0, withXattrs: 0, fileBytes: 0 };
  const seenInodes = new Map<number, number>();
  let oldest: number | undefined;
  let newest: number | undefined;
  // The tree the systemd checks walk: every entry, as a node (names and links only).
  let root: ImageNode | undefined;
  const directories = new Map<string, ImageNode>();
  for await (const e of reader.entries()) {
    opts.signal?.throwIfAborted();
    counts.total++;
    oldest = oldest === undefined ? e.mtime : Math.min(oldest, e.mtime);
    newest = newest === undefined ? e.mtime : Math.max(newest, e.mtime);
    if (e.xattrs.length) counts.withXattrs++;
    const names = seenInodes.get(e.inodeNumber) ?? 0;
    seenInodes.set(e.inodeNumber, names + 1);
    if (names === 1 && e.type !== 'dir') counts.hardLinkedInodes++;
    switch (e.type) {
      case 'dir':
        counts.directories++;
        break;
      case 'file':
        counts.files++;
        if (names === 0) counts.fileBytes += e.size;
        break;
      case 'symlink':
        counts.symlinks++;
        break;
      case 'fifo':
        counts.fifos++;
        break;
      case 'socket':
        counts.sockets++;
        break;
      default:
        counts.devices++;
    }
    const node: ImageNode = { kind: TYPE_KIND[e.type], name: e.name, path: e.path, target: e.target, entry: e, ...(e.type === 'dir' ? { children: [] } : {}) };
    if (!e.path.length) root = node;
    else {
      const slash = e.path.lastIndexOf(0x2f);
      directories.get(slash < 0 ? '' : e.path.subarray(0, slash).toString('latin1'))?.children?.push(node);
    }
    if (e.type === 'dir') directories.set(e.path.toString('latin1'), node);
  }
  if (!root) throw new Error(`${reader.path}: no root directory`);

  const imageName = basename(reader.path).replace(/\.raw$/, '');
  const read = async (node: ImageNode): Promise<Buffer> => {
    const parts: Buffer[] = [];
    let length = 0;
    for await (const chunk of reader.content(node.entry)) {
      length += chunk.length;
      if (length > RELEASE_FILE_LIMIT) throw new Error(`${showPath(node.path)} is longer than ${RELEASE_FILE_LIMIT} bytes: not an extension-release file`);
      parts.push(chunk);
    }
    return Buffer.concat(parts);
  };
  const releaseFiles: ReleaseFile[] = [];
  const types: ExtensionType[] = [];
  for (const type of ['sysext', 'confext'] as const) {
    const rel = releaseFilePath(type, imageName);
    const node = findNode(root, rel);
    if (!node) continue;
    types.push(type);
    if (node.kind === 'file') releaseFiles.push({ type, path: `/${rel}`, fields: Object.fromEntries(parseReleaseFile((await read(node)).toString('utf8'))) });
  }
  const name = imageName.replace(/-[^-]*$/, '') || imageName;
  const systemd = types.length
    ? await lintTree({ root, imageName, name, types, read })
    : [`systemd-sysext and systemd-confext will ignore ${basename(reader.path)}: it holds neither ${releaseFilePath('sysext', imageName)} nor ${releaseFilePath('confext', imageName)}${otherReleaseFiles(root)}`];
  if (!reader.path.endsWith('.raw')) systemd.unshift(`systemd-sysext and systemd-confext only pick up images named *.raw; this one is ${basename(reader.path)}`);
  return {
    image: { path: reader.path, size: reader.fileSize, sha256: await imageSha256(reader.path) },
    format,
    entries: counts,
    times: { image: format.time, oldestEntry: oldest, newestEntry: newest },
    imageName,
    releaseFiles,
    merges: types.length > 0 && !systemd.some((w) => /will (ignore|refuse|not merge)/.test(w)),
    systemd,
  };
}

export async function imageSha256(path: string): Promise<string> {
  const fh = await open(path, 'r');
  try {
    return await sha256Handle(fh);
  } finally {
    await fh.close();
  }
}

function findNode(root: ImageNode, rel: string): ImageNode | undefined {
  let cur: ImageNode | undefined = root;
  for (const part of rel.split('/')) cur = cur?.children?.find((c) => c.name.equals(Buffer.from(part)));
  return cur;
}

/** ` (it holds extension-release.x-1, …: renamed?)` when release files for other names are there. */
function otherReleaseFiles(root: ImageNode): string {
  const names = ['usr/lib/extension-release.d', 'etc/extension-release.d'].flatMap((d) => (findNode(root, d)?.children ?? []).map((c) => `/${d}/${displayPath(c.name)}`));
  return names.length ? ` (it holds ${names.join(', ')}: was the image renamed?)` : '';
}

/** One line per entry like `ls -l`, with a '/'-rooted path. */
export function listLine(e: ImageEntry): string {
  const size = e.rdev ? `${e.rdev.major}, ${e.rdev.minor}` : String(e.size);
  const link = e.target ? ` -> ${displayPath(e.target)}` : '';
  return `${modeString(e)} ${String(e.nlink).padStart(3)} ${String(e.uid).padEnd(5)} ${String(e.gid).padEnd(5)} ${size.padStart(10)} ${isoTime(e.mtime)} ${showPath(e.path)}${link}`;
}

const TYPE_LETTER: Record<ImageEntry['type'], string> = { dir: 'd', file: '-', symlink: 'l', 'char-device': 'c', 'block-device': 'b', fifo: 'p', socket: 's' };

export function modeString(e: Pick<ImageEntry, 'type' | 'mode'>): string {
  const m = e.mode;
  const rwx = (shift: number, special: number, letter: string) => {
    const x = (m >> shift) & 1;
    const s = m & special;
    return `${(m >> (shift + 2)) & 1 ? 'r' : '-'}${(m >> (shift + 1)) & 1 ? 'w' : '-'}${s ? (x ? letter : letter.toUpperCase()) : x ? 'x' : '-'}`;
  };
  return `${TYPE_LETTER[e.type]}${rwx(6, 0o4000, 's')}${rwx(3, 0o2000, 's')}${rwx(0, 0o1000, 't')}`;
}

/** `2023-11-14 22:13:20` (UTC). */
export function isoTime(seconds: number): string {
  const d = new Date(seconds * 1000);
  return Number.isNaN(d.getTime()) ? String(seconds) : d.toISOString().replace('T', ' ').replace(/\.000Z$/, '');
}

const MTREE_TYPE: Record<ImageEntry['type'], string> = { dir: 'dir', file: 'file', symlink: 'link', 'char-device': 'char', 'block-device': 'block', fifo: 'fifo', socket: 'socket' };

/**
 * One line per entry in the mtree format of `systemd-dissect --mtree` (path, type, mode but for
 * links, uid, gid, size and sha256sum of files, link target, device), so that the two can be
 * compared with diff.
 */
export async function mtreeLine(e: ImageEntry, content: () => AsyncIterable<Uint8Array>): Promise<string> {
  const parts = [e.path.length ? `./${mtreeEscape(e.path)}` : '.'];
  if (e.type === 'dir') parts[0] += '/';
  parts.push(`type=${MTREE_TYPE[e.type]}`);
  if (e.type !== 'symlink') parts.push(`mode=${(e.mode & 0o777).toString(8).padStart(4, '0')}`);
  parts.push(`uid=${e.uid}`, `gid=${e.gid}`);
  if (e.type === 'file') {
    parts.push(`size=${e.size}`);
    if (e.size > 0) {
      const hash = createHash('sha256');
      for await (const chunk of content()) hash.update(chunk);
      parts.push(`sha256sum=${hash.digest('hex')}`);
    }
  }
  if (e.type === 'symlink' && e.target) parts.push(`link=${mtreeEscape(e.target)}`);
  if (e.rdev) parts.push(`device=linux,${e.rdev.major},${e.rdev.minor}`);
  return parts.join(' ');
}

/** `\xNN` for whitespace, comment characters (#;), glob characters (*?[), backslash and bytes outside printable ASCII, as systemd writes them. */
function mtreeEscape(b: Buffer): string {
  let s = '';
  for (const c of b) {
    if (c < 0x21 || c >= 0x7f || c === 0x5c || c === 0x23 || c === 0x3b || c === 0x2a || c === 0x3f || c === 0x5b) s += `\\x${c.toString(16).padStart(2, '0')}`;
    else s += String.fromCharCode(c);
  }
  return s;
}
