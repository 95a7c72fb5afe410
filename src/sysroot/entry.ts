/**
 * The explicit list of what goes into an image: a tree of entries walked from a sysroot,
 * children sorted by name bytes, names kept as bytes. Ownership and times are not here: every
 * image entry is owned by root and stamped with source_date_epoch.
 */

export type EntryKind = 'directory' | 'file' | 'symlink' | 'char-device' | 'block-device' | 'fifo' | 'socket';

/** Paths that are the same inode in the sysroot share one of these. */
export interface HardLinkGroup {
  /** 0, 1, 2… in the order the groups are first met in a pre-order walk of the sorted tree. */
  readonly id: number;
  /** How many included paths name this inode (excluded paths do not count). */
  count: number;
}

interface EntryBase {
  /** Path relative to the sysroot, as bytes, no leading slash; empty for the root. */
  readonly path: Buffer;
  /** Last component of `path`; empty for the root. */
  readonly name: Buffer;
  /** Permission bits including setuid, setgid and sticky (st_mode & 0o7777). */
  readonly mode: number;
  /** Absolute path of the entry on the host, as bytes. */
  readonly source: Buffer;
}

export interface DirectoryEntry extends EntryBase {
  readonly kind: 'directory';
  /** Sorted by `Buffer.compare` of their names. */
  readonly children: Entry[];
}

export interface FileEntry extends EntryBase {
  readonly kind: 'file';
  readonly size: number;
  /** Bytes the host actually allocates (st_blocks * 512): less than `size` for sparse files. */
  readonly allocated: number;
  /** Device and inode the walk saw: what is read later must be this very file (source-file.ts). */
  readonly dev: bigint;
  readonly ino: bigint;
  readonly hardLink?: HardLinkGroup;
}

export interface SymlinkEntry extends EntryBase {
  readonly kind: 'symlink';
  readonly target: Buffer;
  readonly hardLink?: HardLinkGroup;
}

export interface DeviceEntry extends EntryBase {
  readonly kind: 'char-device' | 'block-device';
  readonly major: number;
  readonly minor: number;
  readonly hardLink?: HardLinkGroup;
}

export interface SpecialEntry extends EntryBase {
  readonly kind: 'fifo' | 'socket';
  readonly hardLink?: HardLinkGroup;
}

export type Entry = DirectoryEntry | FileEntry | SymlinkEntry | DeviceEntry | SpecialEntry;

export interface SysrootTree {
  /** Absolute path of the sysroot on the host. */
  readonly dir: string;
  readonly root: DirectoryEntry;
  readonly stats: TreeStats;
}

export interface TreeStats {
  /** Entries included, the root directory among them. */
  entries: number;
  directories: number;
  files: number;
  /** Sum of regular file sizes, each hard-linked inode counted once. */
  fileBytes: number;
  hardLinkGroups: number;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** A path for people: UTF-8 when it is, with other bytes shown as \xNN. */
export function displayPath(bytes: Buffer): string {
  try {
    return decoder.decode(bytes);
  } catch {
    let s = '';
    for (let i = 0; i < bytes.length; ) {
      const len = utf8SequenceLength(bytes, i);
      if (len > 0) {
        s += bytes.subarray(i, i + len).toString('utf8');
        i += len;
      } else {
        s += `\\x${bytes[i]!.toString(16).padStart(2, '0')}`;
        i += 1;
      }
    }
    return s;
  }
}

function utf8SequenceLength(b: Buffer, i: number): number {
  const c = b[i]!;
  const len = c < 0x80 ? 1 : c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf5 ? 4 : 0;
  if (len === 0 || i + len > b.length) return 0;
  try {
    decoder.decode(b.subarray(i, i + len));
    return len;
  } catch {
    return 0;
  }
}

/** The byte path as a string with one char per byte, for glob matching and map keys. */
export function pathKey(bytes: Buffer): string {
  return bytes.toString('latin1');
}

/** Visits every entry in sorted pre-order (a directory before its children). */
export function* preOrder(dir: DirectoryEntry): Generator<Entry> {
  yield dir;
  for (const child of dir.children) {
    if (child.kind === 'directory') yield* preOrder(child);
    else yield child;
  }
}

/** The entry at a relative path (`usr/lib/x`), if included. */
export function findEntry(root: DirectoryEntry, relPath: string): Entry | undefined {
  let cur: Entry = root;
  for (const part of relPath.split('/').filter(Boolean)) {
    if (cur.kind !== 'directory') return undefined;
    const name = Buffer.from(part, 'utf8');
    const next: Entry | undefined = cur.children.find((c) => c.name.equals(name));
    if (!next) return undefined;
    cur = next;
  }
  return cur;
}
