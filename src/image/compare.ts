/**
 * Entry-by-entry comparison of two trees in sorted pre-order: an image read back against
 * another (`ext diff`) or against the entry list it should hold (`ext verify`, `ext image
 * --verify`). Both sides stream: a merge of two ordered sequences, contents compared chunk by
 * chunk, so memory does not grow with the image (but for a map of hard-linked inodes).
 */
import type { ImageEntry, ImageEntryType, ImageXattr } from '../formats/image-reader.js';
import { displayPath, preOrder, type Entry, type SysrootTree } from '../sysroot/entry.js';
import { SourceFile } from '../sysroot/source-file.js';

/** One side's view of an entry. */
export interface ComparedEntry {
  readonly path: Buffer;
  readonly type: ImageEntryType;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtime: number;
  readonly mtimeNsec: number;
  readonly nlink: number;
  readonly size: number;
  readonly target?: Buffer;
  readonly rdev?: { readonly major: number; readonly minor: number };
  readonly xattrs: readonly ImageXattr[];
  /** Equal for the names of one inode on this side. */
  readonly inode: number | string;
  /** A regular file's bytes. */
  readonly content?: () => AsyncIterable<Uint8Array>;
}

export interface AttributeDifference {
  readonly attribute: string;
  readonly a: string;
  readonly b: string;
}

export interface EntryDifference {
  /** '/'-rooted, for people (bytes that are not UTF-8 as \xNN). */
  readonly path: string;
  /** added: only in B; removed: only in A. */
  readonly change: 'added' | 'removed' | 'changed';
  readonly type?: ImageEntryType;
  readonly attributes?: readonly AttributeDifference[];
}

export interface CompareSummary {
  readonly entriesA: number;
  readonly entriesB: number;
  readonly differences: number;
}

export interface CompareOptions {
  /** Attributes left out of the comparison (e.g. `nlink` of directories for a sysroot). */
  readonly ignore?: ReadonlySet<string>;
  readonly signal?: AbortSignal;
}

const SLASH = 0x2f;

/** Pre-order with children sorted by name bytes: compare component by component. */
export function comparePaths(a: Buffer, b: Buffer): number {
  // Components are equal up to i in both, so one index serves both paths.
  for (let i = 0; ; ) {
    const endedA = i >= a.length;
    const endedB = i >= b.length;
    if (endedA || endedB) return endedA && endedB ? 0 : endedA ? -1 : 1;
    const ea = a.indexOf(SLASH, i) < 0 ? a.length : a.indexOf(SLASH, i);
    const eb = b.indexOf(SLASH, i) < 0 ? b.length : b.indexOf(SLASH, i);
    const c = Buffer.compare(a.subarray(i, ea), b.subarray(i, eb));
    if (c !== 0 || ea !== eb) return c !== 0 ? c : ea - eb;
    i = ea + 1;
  }
}

export function showPath(path: Buffer): string {
  return `/${displayPath(path)}`;
}

/**
 * Every difference between A and B, in path order. Hard links are compared as groups: a name
 * whose inode has another name seen earlier on one side must have the same earlier name on the
 * other.
 */
export async function* compareEntries(a: AsyncIterable<ComparedEntry>, b: AsyncIterable<ComparedEntry>, opts: CompareOptions = {}): AsyncGenerator<EntryDifference, CompareSummary> {
  const ia = a[Symbol.asyncIterator]();
  const ib = b[Symbol.asyncIterator]();
  const leadersA = new HardLinkLeaders();
  const leadersB = new HardLinkLeaders();
  let na = await ia.next();
  let nb = await ib.next();
  let entriesA = 0;
  let entriesB = 0;
  let differences = 0;
  let previousA: Buffer | undefined;
  let previousB: Buffer | undefined;
  while (!na.done || !nb.done) {
    opts.signal?.throwIfAborted();
    const c = na.done ? 1 : nb.done ? -1 : comparePaths(na.value.path, nb.value.path);
    if (c < 0) {
      const e = na.value as ComparedEntry;
      checkOrder(previousA, e.path, 'A');
      previousA = e.path;
      entriesA++;
      leadersA.leader(e);
      differences++;
      yield { path: showPath(e.path), change: 'removed', type: e.type };
      na = await ia.next();
    } else if (c > 0) {
      const e = nb.value as ComparedEntry;
      checkOrder(previousB, e.path, 'B');
      previousB = e.path;
      entriesB++;
      leadersB.leader(e);
      differences++;
      yield { path: showPath(e.path), change: 'added', type: e.type };
      nb = await ib.next();
    } else {
      const ea = na.value as ComparedEntry;
      const eb = nb.value as ComparedEntry;
      checkOrder(previousA, ea.path, 'A');
      checkOrder(previousB, eb.path, 'B');
      previousA = ea.path;
      previousB = eb.path;
      entriesA++;
      entriesB++;
      const attributes = await compareAttributes(ea, eb, leadersA.leader(ea), leadersB.leader(eb), opts.ignore);
      if (attributes.length) {
        differences++;
        yield { path: showPath(ea.path), change: 'changed', type: ea.type === eb.type ? ea.type : undefined, attributes };
      }
      na = await ia.next();
      nb = await ib.next();
    }
  }
  return { entriesA, entriesB, differences };
}

function checkOrder(previous: Buffer | undefined, path: Buffer, side: string): void {
  if (previous !== undefined && comparePaths(previous, path) >= 0) throw new Error(`side ${side}: ${showPath(path)} comes after ${showPath(previous)}: entries out of order`);
}

/** The first name met of each inode with several names. */
class HardLinkLeaders {
  private readonly first = new Map<number | string, Buffer>();

  leader(e: ComparedEntry): Buffer | undefined {
    if (e.type === 'dir') return undefined;
    const seen = this.first.get(e.inode);
    if (seen) return seen;
    if (e.nlink > 1) this.first.set(e.inode, e.path);
    return undefined;
  }
}

const octal = (mode: number) => mode.toString(8).padStart(4, '0');
const time = (s: number, ns: number) => (ns ? `${s}.${String(ns).padStart(9, '0')}` : String(s));
const bytes = (b: Buffer | undefined) => (b === undefined ? '(none)' : JSON.stringify(displayPath(b)));
const rdev = (r: ComparedEntry['rdev']) => (r ? `${r.major},${r.minor}` : '(none)');
const xattrList = (x: readonly ImageXattr[]) => (x.length ? x.map((a) => `${displayPath(a.name)}=${xattrValue(a.value)}`).join(' ') : '(none)');
const xattrValue = (v: Buffer) => (/^[\x20-\x7e]*$/.test(v.toString('latin1')) ? JSON.stringify(v.toString('latin1')) : `0x${v.toString('hex')}`);

async function compareAttributes(a: ComparedEntry, b: ComparedEntry, leaderA: Buffer | undefined, leaderB: Buffer | undefined, ignore?: ReadonlySet<string>): Promise<AttributeDifference[]> {
  const out: AttributeDifference[] = [];
  const add = (attribute: string, x: string, y: string) => {
    if (x !== y && !ignore?.has(attribute)) out.push({ attribute, a: x, b: y });
  };
  add('type', a.type, b.type);
  add('mode', octal(a.mode), octal(b.mode));
  add('uid', String(a.uid), String(b.uid));
  add('gid', String(a.gid), String(b.gid));
  add('mtime', time(a.mtime, a.mtimeNsec), time(b.mtime, b.mtimeNsec));
  if (a.type !== b.type) return out;
  // A directory's size and link count follow from its entries, and are compared through them.
  if (a.type !== 'dir') {
    add('size', String(a.size), String(b.size));
    add('nlink', String(a.nlink), String(b.nlink));
    add('hard link', leaderA ? `with ${showPath(leaderA)}` : '(none)', leaderB ? `with ${showPath(leaderB)}` : '(none)');
  }
  if (a.type === 'symlink') add('target', bytes(a.target), bytes(b.target));
  if (a.type === 'char-device' || a.type === 'block-device') add('rdev', rdev(a.rdev), rdev(b.rdev));
  add('xattrs', xattrList(a.xattrs), xattrList(b.xattrs));
  // A later name of a hard-linked inode has the first name's content, compared there.
  if (a.type === 'file' && a.size === b.size && a.content && b.content && !leaderA && !leaderB && !ignore?.has('content')) {
    const at = await firstDifference(a.content(), b.content());
    if (at !== undefined) out.push({ attribute: 'content', a: `differs from byte ${at}`, b: `differs from byte ${at}` });
  }
  return out;
}

/** The offset of the first byte where two streams differ (one ending early counts), or undefined. */
export async function firstDifference(a: AsyncIterable<Uint8Array>, b: AsyncIterable<Uint8Array>): Promise<number | undefined> {
  const ia = a[Symbol.asyncIterator]();
  const ib = b[Symbol.asyncIterator]();
  let ca: Uint8Array = new Uint8Array(0);
  let cb: Uint8Array = new Uint8Array(0);
  let offset = 0;
  let doneA = false;
  let doneB = false;
  try {
    for (;;) {
      while (!ca.length && !doneA) {
        const n = await ia.next();
        if (n.done) doneA = true;
        else ca = n.value;
      }
      while (!cb.length && !doneB) {
        const n = await ib.next();
        if (n.done) doneB = true;
        else cb = n.value;
      }
      if (!ca.length || !cb.length) return !ca.length && !cb.length ? undefined : offset;
      const n = Math.min(ca.length, cb.length);
      const x = ca.subarray(0, n);
      const y = cb.subarray(0, n);
      if (!Buffer.from(x.buffer, x.byteOffset, n).equals(Buffer.from(y.buffer, y.byteOffset, n))) {
        for (let i = 0; i < n; i++) if (x[i] !== y[i]) return offset + i;
      }
      offset += n;
      ca = ca.subarray(n);
      cb = cb.subarray(n);
    }
  } finally {
    await ia.return?.();
    await ib.return?.();
  }
}

/** An image's entries as one side of a comparison. */
export async function* imageSide(entries: AsyncIterable<ImageEntry>, content: (e: ImageEntry) => AsyncIterable<Uint8Array>): AsyncGenerator<ComparedEntry> {
  for await (const e of entries)
    yield {
      path: e.path,
      type: e.type,
      mode: e.mode,
      uid: e.uid,
      gid: e.gid,
      mtime: e.mtime,
      mtimeNsec: e.mtimeNsec,
      nlink: e.nlink,
      size: e.size,
      target: e.target,
      rdev: e.rdev,
      xattrs: e.xattrs,
      inode: e.inodeNumber,
      content: e.type === 'file' ? () => content(e) : undefined,
    };
}

/** A sysroot entry's kind as an image entry's type. */
export const KIND_TYPE: Readonly<Record<Entry['kind'], ImageEntryType>> = {
  directory: 'dir',
  file: 'file',
  symlink: 'symlink',
  'char-device': 'char-device',
  'block-device': 'block-device',
  fifo: 'fifo',
  socket: 'socket',
};

/** How much of a sysroot file is read at a time. */
const SOURCE_CHUNK = 1 << 20;

/**
 * The entry list as `ext image` writes it: owned by root, every time source_date_epoch, no
 * xattrs, hard links as the walk grouped them; contents read from the sysroot (checked to be the
 * files the walk saw).
 */
export async function* treeSide(tree: SysrootTree, sourceDateEpoch: number): AsyncGenerator<ComparedEntry> {
  let unique = 0;
  for (const e of preOrder(tree.root)) {
    const base = { path: e.path, type: KIND_TYPE[e.kind], mode: e.mode, uid: 0, gid: 0, mtime: sourceDateEpoch, mtimeNsec: 0, xattrs: [] };
    const link = e.kind !== 'directory' ? e.hardLink : undefined;
    const inode = link ? `link ${link.id}` : unique++;
    const nlink = link ? link.count : 1;
    switch (e.kind) {
      case 'directory':
        yield { ...base, nlink: 2 + e.children.filter((c) => c.kind === 'directory').length, size: 0, inode };
        break;
      case 'file':
        yield { ...base, nlink, size: e.size, inode, content: () => sourceContent(e) };
        break;
      case 'symlink':
        yield { ...base, nlink, size: e.target.length, target: e.target, inode };
        break;
      case 'char-device':
      case 'block-device':
        yield { ...base, nlink, size: 0, rdev: { major: e.major, minor: e.minor }, inode };
        break;
      default:
        yield { ...base, nlink, size: 0, inode };
    }
  }
}

async function* sourceContent(file: Extract<Entry, { kind: 'file' }>): AsyncGenerator<Uint8Array> {
  const src = new SourceFile(file);
  try {
    for (let at = 0; at < file.size; at += SOURCE_CHUNK) yield src.readNew(at, Math.min(SOURCE_CHUNK, file.size - at));
    src.checkNotLonger();
  } finally {
    src.close();
  }
}

/** How a difference reads for people; `names` say what A and B are ('A'/'B', 'the sysroot'/'the image'). */
export function formatDifference(d: EntryDifference, names: { readonly a: string; readonly b: string }): string {
  const kind = d.type ? `${d.type} ` : '';
  if (d.change === 'removed') return `only in ${names.a}: ${kind}${d.path}`;
  if (d.change === 'added') return `only in ${names.b}: ${kind}${d.path}`;
  const what = (d.attributes ?? []).map((x) => (x.attribute === 'content' ? `content ${x.a}` : `${x.attribute} ${x.a} → ${x.b}`));
  return `changed: ${kind}${d.path}: ${what.join(', ')}`;
}
