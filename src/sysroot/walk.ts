/**
 * Walks a sysroot into a sorted entry tree, applying exclusions. Names stay bytes (non-UTF-8
 * names survive), siblings are sorted by their bytes so readdir order cannot matter, and
 * hard links are grouped by (device, inode) among the included paths.
 */
import { closeSync, constants as C, fstatSync, lstatSync, readdirSync, readlinkSync, type BigIntStats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { BuildError, ConfigError } from '../util/errors.js';
import { DIRECTORY_FLAGS, depthOf, haveProcFd, inDirectory, openPath, shortenForMessage } from './at.js';
import {
  displayPath,
  pathKey,
  type DirectoryEntry,
  type Entry,
  type EntryKind,
  type HardLinkGroup,
  type SysrootTree,
  type TreeStats,
} from './entry.js';
import type { ExclusionRule, Exclusions } from './exclude.js';

export interface ExcludedPath {
  /** Relative path bytes. */
  readonly path: Buffer;
  readonly display: string;
  readonly kind: EntryKind;
  readonly rule: ExclusionRule;
}

export interface WalkResult {
  readonly tree: SysrootTree;
  /** Top-most excluded paths (what is below an excluded directory is not listed), sorted. */
  readonly excluded: readonly ExcludedPath[];
}

const SLASH = Buffer.from('/');

export async function walkSysroot(dir: string, exclusions: Exclusions, hint: string): Promise<WalkResult> {
  let rootStat: BigIntStats;
  try {
    rootStat = await stat(dir, { bigint: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ConfigError(`extension sysroot does not exist: ${dir}`, undefined, hint);
    throw new BuildError(`cannot read the sysroot ${dir}: ${(e as Error).message}`);
  }
  if (!rootStat.isDirectory()) throw new ConfigError(`extension sysroot is not a directory: ${dir}`, undefined, hint);

  const walker = new Walker(exclusions);
  const source = Buffer.from(dir);
  const root: DirectoryEntry = { kind: 'directory', path: Buffer.alloc(0), name: Buffer.alloc(0), mode: Number(rootStat.mode) & 0o7777, source, children: [] };
  await walker.fill({ dir: root, dev: rootStat.dev, ino: rootStat.ino });
  const stats = walker.finish(root);
  walker.excluded.sort((a, b) => Buffer.compare(a.path, b.path));
  return { tree: { dir, root, stats }, excluded: walker.excluded };
}

/** A directory still to be listed, with the identity its parent's listing saw. */
interface PendingDirectory {
  readonly dir: DirectoryEntry;
  readonly dev: bigint;
  readonly ino: bigint;
}

class Walker {
  readonly excluded: ExcludedPath[] = [];
  private readonly inodes = new Map<string, { group?: { id: number; count: number } }>();

  constructor(private readonly exclusions: Exclusions) {}

  /**
   * Fills `dir` and everything below it. Each directory is opened once and checked to be the one
   * its parent listed (so one swapped for a symlink cannot lead the walk out of the sysroot); its
   * entries are then read relative to that handle (at.ts). Metadata calls are synchronous
   * (several times faster than promise-based ones on trees of small files); the walk yields to
   * the event loop after each directory so that Ctrl-C is still handled promptly.
   */
  async fill(root: PendingDirectory): Promise<void> {
    const pending: PendingDirectory[] = [root];
    const relative = haveProcFd();
    for (let next = pending.pop(); next; next = pending.pop()) {
      const { dir } = next;
      let fd: number;
      try {
        // The sysroot itself may be reached through a symlink; nothing below it may.
        fd = openPath(dir.source, dir === root.dir ? C.O_RDONLY | C.O_DIRECTORY | C.O_NONBLOCK : DIRECTORY_FLAGS);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ELOOP' || code === 'ENOTDIR') throw changedDuringWalk(dir.source, 'it is no longer a directory');
        throw fsError('read directory', dir.source, e);
      }
      try {
        const st = fstatSync(fd, { bigint: true });
        if (st.dev !== next.dev || st.ino !== next.ino) throw changedDuringWalk(dir.source, 'it was replaced by another directory');
        let names: Buffer[];
        try {
          names = readdirSync(relative ? inDirectory(fd, Buffer.alloc(0)) : dir.source, { encoding: 'buffer' });
        } catch (e) {
          throw fsError('read directory', dir.source, e);
        }
        names.sort(Buffer.compare);
        for (const name of names) {
          const found = this.entry(dir, name, relative ? inDirectory(fd, name) : undefined);
          if (!found) continue;
          dir.children.push(found.entry);
          if (found.entry.kind === 'directory') pending.push({ dir: found.entry, dev: found.st.dev, ino: found.st.ino });
        }
      } finally {
        closeSync(fd);
      }
      await yieldToEventLoop();
    }
  }

  /** `at`: the child's path relative to its parent's open handle (the absolute path without /proc). */
  private entry(parent: DirectoryEntry, name: Buffer, at: Buffer | undefined): { entry: Entry; st: BigIntStats } | undefined {
    const path = parent.path.length ? Buffer.concat([parent.path, SLASH, name]) : name;
    const source = Buffer.concat([parent.source, SLASH, name]);
    let st: BigIntStats;
    try {
      st = lstatSync(at ?? source, { bigint: true });
    } catch (e) {
      throw fsError('stat', source, e);
    }
    const kind = kindOf(st);
    if (!kind) throw new BuildError(`unsupported file type at ${forMessage(source)}`);
    const rule = this.exclusions.match(pathKey(path), kind === 'directory');
    if (rule) {
      this.excluded.push({ path, display: displayPath(path), kind, rule });
      return undefined;
    }
    const mode = Number(st.mode) & 0o7777;
    const base = { path, name, mode, source };
    if (kind === 'directory') return { entry: { ...base, kind, children: [] }, st };
    const hardLink = st.nlink > 1n ? this.link(st) : undefined;
    switch (kind) {
      case 'file':
        return { entry: { ...base, kind, size: Number(st.size), allocated: Number(st.blocks) * 512, dev: st.dev, ino: st.ino, hardLink }, st };
      case 'symlink': {
        let target: Buffer;
        try {
          target = readlinkSync(at ?? source, { encoding: 'buffer' });
        } catch (e) {
          throw fsError('read symlink', source, e);
        }
        return { entry: { ...base, kind, target, hardLink }, st };
      }
      case 'char-device':
      case 'block-device': {
        const rdev = st.rdev;
        const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
        const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
        return { entry: { ...base, kind, major, minor, hardLink }, st };
      }
      default:
        return { entry: { ...base, kind, hardLink }, st };
    }
  }

  /** A placeholder group per inode; ids and counts are fixed in `finish` in sorted order. */
  private link(st: BigIntStats): HardLinkGroup {
    const key = `${st.dev}:${st.ino}`;
    let rec = this.inodes.get(key);
    if (!rec) this.inodes.set(key, (rec = {}));
    return (rec.group ??= { id: -1, count: 0 });
  }

  /** Numbers hard-link groups in sorted pre-order, drops groups of one, and counts. */
  finish(root: DirectoryEntry): TreeStats {
    const stats: TreeStats = { entries: 0, directories: 0, files: 0, fileBytes: 0, hardLinkGroups: 0 };
    const visit = (dir: DirectoryEntry) => {
      stats.entries++;
      stats.directories++;
      for (let i = 0; i < dir.children.length; i++) {
        const e = dir.children[i]!;
        if (e.kind === 'directory') {
          visit(e);
          continue;
        }
        stats.entries++;
        let firstOfGroup = true;
        if (e.hardLink) {
          const g = e.hardLink;
          if (g.id < 0) (g as { id: number }).id = stats.hardLinkGroups++;
          else firstOfGroup = false;
          g.count++;
        }
        if (e.kind === 'file') {
          stats.files++;
          if (firstOfGroup) stats.fileBytes += e.size;
        }
      }
    };
    visit(root);
    // A group whose other names were all excluded is no longer a hard link.
    const singles = new Set<HardLinkGroup>();
    for (const rec of this.inodes.values()) if (rec.group && rec.group.count < 2) singles.add(rec.group);
    if (singles.size) {
      stripSingles(root, singles);
      renumber(root, stats);
    }
    return stats;
  }
}

function stripSingles(dir: DirectoryEntry, singles: Set<HardLinkGroup>): void {
  for (let i = 0; i < dir.children.length; i++) {
    const e = dir.children[i]!;
    if (e.kind === 'directory') stripSingles(e, singles);
    else if (e.hardLink && singles.has(e.hardLink)) dir.children[i] = { ...e, hardLink: undefined } as Entry;
  }
}

function renumber(root: DirectoryEntry, stats: TreeStats): void {
  const seen = new Map<HardLinkGroup, number>();
  const visit = (dir: DirectoryEntry) => {
    for (const e of dir.children) {
      if (e.kind === 'directory') visit(e);
      else if (e.hardLink && !seen.has(e.hardLink)) {
        seen.set(e.hardLink, seen.size);
        (e.hardLink as { id: number }).id = seen.size - 1;
      }
    }
  };
  visit(root);
  stats.hardLinkGroups = seen.size;
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function kindOf(st: BigIntStats): EntryKind | undefined {
  switch (Number(st.mode) & C.S_IFMT) {
    case C.S_IFDIR:
      return 'directory';
    case C.S_IFREG:
      return 'file';
    case C.S_IFLNK:
      return 'symlink';
    case C.S_IFCHR:
      return 'char-device';
    case C.S_IFBLK:
      return 'block-device';
    case C.S_IFIFO:
      return 'fifo';
    case C.S_IFSOCK:
      return 'socket';
    default:
      return undefined;
  }
}

function fsError(what: string, path: Buffer, e: unknown): BuildError {
  const err = e as NodeJS.ErrnoException;
  const reason =
    err.code === 'EACCES'
      ? 'permission denied'
      : err.code === 'ENOENT'
        ? 'it vanished during the walk'
        : err.code === 'ENAMETOOLONG'
          ? `its path is ${path.length} bytes long (${depthOf(path)} levels), more than the kernel takes, and /proc is not mounted to open it a piece at a time`
          : (err.message.split(',')[0] ?? err.message);
  return new BuildError(`cannot ${what} ${forMessage(path)}: ${reason}`, err.code === 'EACCES' ? 'run as a user who can read the whole sysroot (root, usually)' : err.code === 'ENAMETOOLONG' ? 'mount /proc, or build with --engine tools' : undefined);
}

function changedDuringWalk(path: Buffer, how: string): BuildError {
  return new BuildError(`${forMessage(path)} changed during the build: ${how}`, 'build again once nothing writes to the sysroot');
}

/** A sysroot path in an error message: shortened if very deep. */
function forMessage(path: Buffer): string {
  return shortenForMessage(displayPath(path));
}
