/**
 * What one `ext build` does to the sysroot, worked out completely before anything is written:
 * the paths it writes (overlay entries, release files, service links, the directories they need),
 * the paths an earlier build wrote that this one no longer writes and that are still as that build
 * left them, and every conflict with what is on disk. A plan that cannot be carried out fails
 * while planning, so a failed build changes nothing. `apply` then writes it, and returns the new
 * build record.
 *
 * Nothing is read, written or removed through a symlink in the sysroot (an absolute one such as
 * `etc -> /etc` would lead to the host): a symlink where a directory is needed is refused while
 * planning, a path below one is not in the image and is left alone, and each parent is checked
 * again right before each write and removal. Nothing is removed that ext build did not write (see
 * record.ts for how a path is recognised as still ours).
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { chmod, lchown, lstat, mkdir, open, realpath, rename, rm, rmdir, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { registerTemp, unregisterTemp } from '../util/cleanup.js';
import { BuildError, ConfigError, type ConfigLocation } from '../util/errors.js';
import { displayPath } from '../sysroot/entry.js';
import {
  absolute,
  ancestorsOf,
  bytesOf,
  childNames,
  joinKey,
  onDisk,
  parentOf,
  readLinkBytes,
  show,
  walkBelow,
  type DiskEntry,
  type DiskKind,
  type PathKey,
} from './disk.js';
import type { OverlayItem } from './overlay.js';
import { stillWritten, written, type BuildRecord, type WrittenKind, type WrittenPath } from './record.js';

/** Who asks for a path, for messages. */
export interface Requester {
  readonly what: string;
  readonly location?: ConfigLocation;
}

interface Planned {
  readonly key: PathKey;
  readonly kind: WrittenKind;
  /** Directories and files: the mode to leave. */
  readonly mode?: number;
  readonly item?: OverlayItem;
  /** Release files. */
  readonly content?: string;
  /** Symlinks. */
  readonly target?: Buffer;
  /** Directories: already there (then written only if ours and the mode differs). */
  readonly exists?: boolean;
  /** Written by ext build, now or earlier: recorded. Every non-directory is. */
  readonly ours: boolean;
  /** Overlay entries already in the sysroot exactly as the overlay has them. */
  readonly unchanged: boolean;
}

/** A symlink among the ancestors of a sysroot path, and where it points. */
export interface SymlinkOnTheWay {
  readonly key: PathKey;
  readonly target: Buffer;
}

export type RemovalReason = 'no longer written' | 'another version';

export interface Removal {
  readonly key: PathKey;
  readonly kind: DiskKind;
  readonly reason: RemovalReason;
}

export interface KeptPath {
  readonly key: PathKey;
  readonly reason: string;
}

export interface ApplyResult {
  /** Overlay entries written. */
  readonly copied: number;
  /** Overlay entries already there as the overlay has them. */
  readonly unchanged: number;
  readonly removed: readonly Removal[];
  readonly record: Map<PathKey, WrittenPath>;
}

const asRoot = process.getuid?.() === 0;

function kindName(kind: DiskKind): string {
  return kind === 'special' ? 'device, FIFO or socket' : kind;
}

export class SysrootPlan {
  private readonly planned = new Map<PathKey, Planned>();
  private readonly gone = new Map<PathKey, Removal>();
  /** Directories an earlier build created that stay (not empty): still ours, recorded again. */
  private readonly carried: WrittenPath[] = [];
  readonly kept: KeptPath[] = [];
  /** The sysroot's real path, once it exists. */
  private realSysroot: string | undefined;
  /** symlinkAbove's answers while planning, by parent. */
  private readonly symlinksAbove = new Map<PathKey, Promise<SymlinkOnTheWay | undefined>>();
  /** Directories apply has found to be where they were planned (reached without a symlink): dev and inode. */
  private readonly verified = new Map<PathKey, { dev: bigint; ino: bigint }>();

  constructor(
    readonly sysroot: string,
    private readonly previous: BuildRecord | undefined,
  ) {}

  private abs(key: PathKey): Buffer {
    return absolute(this.sysroot, key);
  }

  /**
   * The first of `key`'s ancestors (outermost first) that is a symlink in the sysroot, and where
   * it points; undefined when there is none, or when an ancestor is missing or not a directory
   * (then nothing at `key` can be reached). The sysroot's own ancestors are the user's and may be
   * symlinks. While planning, the answer for one parent holds for all its children (apply
   * checks again).
   */
  symlinkAbove(key: PathKey): Promise<SymlinkOnTheWay | undefined> {
    const parent = parentOf(key);
    let found = this.symlinksAbove.get(parent);
    if (!found) this.symlinksAbove.set(parent, (found = this.findSymlinkAbove(key)));
    return found;
  }

  /** `symlinkAbove` as the disk is now. One realpath answers the common case; the walk finds which ancestor it is. */
  private async findSymlinkAbove(key: PathKey): Promise<SymlinkOnTheWay | undefined> {
    const parent = parentOf(key);
    if (!parent) return undefined;
    this.realSysroot ??= await realpath(this.sysroot).catch(() => undefined);
    const root = this.realSysroot;
    if (root === undefined) return undefined;
    const real = await realpath(this.abs(parent), { encoding: 'buffer' }).catch(() => undefined);
    if (real?.equals(absolute(root, parent))) return undefined;
    for (const k of ancestorsOf(key)) {
      const at = this.abs(k);
      const now = await onDisk(at);
      if (now?.kind === 'symlink') return { key: k, target: await readLinkBytes(at) };
      if (now?.kind !== 'directory') return undefined;
    }
    return undefined;
  }

  /** The one-line refusal of a path reached through the symlink `link`. */
  private throughSymlink(link: SymlinkOnTheWay, needs: string, by: Requester): ConfigError {
    return new ConfigError(
      `the sysroot has a symlink at ${show(link.key)} (-> ${displayPath(link.target)}), where ${by.what} needs ${needs}: ext build reads and writes nothing through a symlink, which could lead out of the sysroot`,
      by.location,
      `replace ${show(link.key)} in ${this.sysroot} by a directory, or remove it ('avocado ext clean' removes the whole sysroot)`,
    );
  }

  /**
   * What will be at `key` once the plan is applied, as far as the plan decides it. A path below
   * a symlink is refused (`by` asks for it).
   */
  async kindAfter(key: PathKey, by: Requester): Promise<DiskKind | undefined> {
    const p = this.planned.get(key);
    if (p) return p.kind;
    if (this.gone.has(key)) return undefined;
    const link = await this.symlinkAbove(key);
    if (link) throw this.throughSymlink(link, `a directory to look for ${show(key)} in`, by);
    return (await onDisk(this.abs(key)))?.kind;
  }

  /** Where a planned overlay file or a sysroot file that stays is read from. */
  fileOf(key: PathKey): Buffer {
    const item = this.planned.get(key)?.item;
    return item ? item.source : this.abs(key);
  }

  /**
   * The text of a planned overlay file or of a sysroot file that stays (`kindAfter` said 'file').
   * A sysroot file is opened without following a symlink, and must still be a regular file.
   */
  async readText(key: PathKey, by: Requester): Promise<string> {
    const item = this.planned.get(key)?.item;
    if (item) return (await readRegularFile(item.source, false)).toString('utf8');
    const link = await this.symlinkAbove(key);
    if (link) throw this.throughSymlink(link, `a directory to read ${show(key)} from`, by);
    try {
      return (await readRegularFile(this.abs(key), true)).toString('utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ELOOP' || code === 'ENOENT' || code === 'EFTYPE')
        throw new BuildError(`${show(key)} in ${this.sysroot} changed during the build (it is no longer a regular file)`, 'run ext build again once nothing else writes to the sysroot');
      throw e;
    }
  }

  /** Every path under `dir` after the plan (sorted keys): what stays on disk plus what is planned. Nothing below a symlink is in the image, so none of that. */
  async keysUnder(dir: PathKey): Promise<PathKey[]> {
    const keys = new Set<PathKey>();
    if (await this.realDirectory(dir))
      for (const { key } of await walkBelow(this.sysroot, dir)) if (!this.gone.has(key)) keys.add(key);
    for (const key of this.planned.keys()) if (key.startsWith(`${dir}/`)) keys.add(key);
    return [...keys].sort();
  }

  /** `dir` is a directory in the sysroot, reached without a symlink. */
  private async realDirectory(dir: PathKey): Promise<boolean> {
    return (await onDisk(this.abs(dir)))?.kind === 'directory' && !(await this.symlinkAbove(dir));
  }

  /** Names in the sysroot directory `dir` (none when it is missing, not a directory, or below a symlink). */
  async namesIn(dir: PathKey): Promise<PathKey[]> {
    return (await this.realDirectory(dir)) ? childNames(this.abs(dir)) : [];
  }

  /**
   * First step: what the previous build wrote that the overlay no longer has (or has as another
   * type), and that is still as it was written, goes; directories only when they end up empty.
   */
  async dropStale(overlay: ReadonlyMap<PathKey, OverlayItem>): Promise<void> {
    if (!this.previous) return;
    const dirs: WrittenPath[] = [];
    for (const w of this.previous.paths.values()) {
      if (overlay.get(w.key)?.kind === w.kind) continue;
      const link = await this.symlinkAbove(w.key);
      if (link) {
        // Through the symlink it may be another directory's file (the host's): not ours to remove.
        this.kept.push({ key: w.key, reason: `below the symlink ${show(link.key)} (-> ${displayPath(link.target)})` });
        continue;
      }
      const now = await onDisk(this.abs(w.key));
      if (!now) continue;
      if (!stillWritten(w, now)) this.kept.push({ key: w.key, reason: 'replaced since ext build wrote it' });
      else if (w.kind === 'directory') dirs.push(w);
      else this.gone.set(w.key, { key: w.key, kind: w.kind, reason: 'no longer written' });
    }
    dirs.sort((a, b) => b.key.split('/').length - a.key.split('/').length || (a.key < b.key ? -1 : 1));
    for (const d of dirs) {
      const names = await childNames(this.abs(d.key));
      if (names.every((n) => this.gone.has(joinKey(d.key, n)))) this.gone.set(d.key, { key: d.key, kind: 'directory', reason: 'no longer written' });
      else {
        this.carried.push(d);
        this.kept.push({ key: d.key, reason: 'not empty' });
      }
    }
  }

  /**
   * What is on disk at `key` once the plan puts a `kind` there: undefined when nothing is or it
   * goes first. A path planned to go as no longer written that is wanted again as the same type
   * (a release file, the directory holding it) stays.
   */
  private async staying(key: PathKey, kind: WrittenKind): Promise<DiskEntry | undefined> {
    // Every caller has planned the parent first (checkParent), which looked at each ancestor:
    // none is a symlink, so this lstat follows none.
    const removal = this.gone.get(key);
    if (removal) {
      if (removal.kind !== kind || removal.reason !== 'no longer written') return undefined;
      this.gone.delete(key);
    }
    return onDisk(this.abs(key));
  }

  private async conflict(key: PathKey, there: DiskKind, wanted: DiskKind, by: Requester): Promise<never> {
    if (there === 'symlink' && wanted === 'directory' && !this.planned.has(key)) throw this.throughSymlink({ key, target: await readLinkBytes(this.abs(key)) }, 'a directory', by);
    throw new ConfigError(
      `the sysroot has a ${kindName(there)} at ${show(key)}, where ${by.what} needs a ${kindName(wanted)}`,
      by.location,
      `remove ${show(key)} from ${this.sysroot} ('avocado ext clean' removes the whole sysroot) or change ${by.what}`,
    );
  }

  private wasWritten(key: PathKey, now: DiskEntry): boolean {
    const w = this.previous?.paths.get(key);
    return w !== undefined && stillWritten(w, now);
  }

  /** `key` and its missing ancestors as directories (mode for the ones created). */
  async addDirectories(key: PathKey, mode: number, by: Requester): Promise<void> {
    for (const k of [...ancestorsOf(key), key]) {
      const p = this.planned.get(k);
      if (p) {
        if (p.kind !== 'directory') await this.conflict(k, p.kind, 'directory', by);
        continue;
      }
      const now = await this.staying(k, 'directory');
      if (now && now.kind !== 'directory') await this.conflict(k, now.kind, 'directory', by);
      const ours = !now || this.wasWritten(k, now);
      this.planned.set(k, { key: k, kind: 'directory', mode, exists: now !== undefined, ours, unchanged: now !== undefined });
    }
  }

  private async checkParent(key: PathKey, by: Requester): Promise<void> {
    const parent = parentOf(key);
    if (!parent) return;
    if (this.planned.get(parent)?.kind === 'directory') return;
    await this.addDirectories(parent, 0o755, by);
  }

  async addOverlay(items: readonly OverlayItem[], by: Requester): Promise<void> {
    for (const item of items) {
      await this.checkParent(item.key, by);
      const now = await this.staying(item.key, item.kind);
      if (item.kind === 'directory') {
        if (now && now.kind !== 'directory') await this.conflict(item.key, now.kind, 'directory', by);
        const ours = !now || this.wasWritten(item.key, now);
        const unchanged = now !== undefined && (!ours || now.mode === item.stat.mode);
        this.planned.set(item.key, { key: item.key, kind: 'directory', item, mode: item.stat.mode, exists: now !== undefined, ours, unchanged });
        continue;
      }
      if (now?.kind === 'directory') await this.conflict(item.key, 'directory', item.kind, by);
      const unchanged = now !== undefined && (await this.sameAsOverlay(item, now));
      this.planned.set(item.key, { key: item.key, kind: item.kind, item, mode: item.stat.mode, target: item.target, ours: true, unchanged });
    }
  }

  /** Written by the previous build, untouched since, and the overlay entry has not changed. */
  private async sameAsOverlay(item: OverlayItem, now: DiskEntry): Promise<boolean> {
    const w = this.previous?.paths.get(item.key);
    if (!w || !stillWritten(w, now) || w.kind !== item.kind) return false;
    if (asRoot && (now.uid !== 0 || now.gid !== 0)) return false;
    if (item.kind === 'symlink') return (await readLinkBytes(this.abs(item.key))).equals(item.target!);
    return w.from !== undefined && w.from.size === item.stat.size && w.from.mtimeNs === item.stat.mtimeNs && now.mode === item.stat.mode;
  }

  async addFile(key: PathKey, content: string, by: Requester): Promise<void> {
    await this.checkParent(key, by);
    const now = await this.staying(key, 'file');
    if (now?.kind === 'directory') await this.conflict(key, 'directory', 'file', by);
    this.planned.set(key, { key, kind: 'file', mode: 0o644, content, ours: true, unchanged: false });
  }

  async addSymlink(key: PathKey, target: string, by: Requester): Promise<void> {
    await this.checkParent(key, by);
    const now = await this.staying(key, 'symlink');
    if (now?.kind === 'directory') await this.conflict(key, 'directory', 'symlink', by);
    this.planned.set(key, { key, kind: 'symlink', target: Buffer.from(target), ours: true, unchanged: false });
  }

  /** Removes `key` (a file or symlink, whoever wrote it) unless the plan writes it. */
  async remove(key: PathKey, reason: RemovalReason): Promise<void> {
    if (this.planned.has(key) || (await this.symlinkAbove(key))) return;
    const now = await onDisk(this.abs(key));
    if (!now || now.kind === 'directory') return;
    this.gone.set(key, { key, kind: now.kind, reason });
  }

  /** The removals, in the order they can be done: everything but directories, then directories deepest first. */
  private removals(): Removal[] {
    const list = [...this.gone.values()].filter((r) => this.planned.get(r.key)?.kind !== r.kind);
    const byName = (a: Removal, b: Removal) => Buffer.compare(bytesOf(a.key), bytesOf(b.key));
    const depth = (r: Removal) => r.key.split('/').length;
    const others = list.filter((r) => r.kind !== 'directory').sort(byName);
    const dirs = list.filter((r) => r.kind === 'directory').sort((a, b) => depth(b) - depth(a) || byName(a, b));
    return [...others, ...dirs];
  }

  /**
   * Writes the plan. On failure part-way (a disk error, an interrupt) the returned record is not
   * reached: `onFailure` gets the record of what is in the sysroot at that point, so that it can
   * be saved and the next build still finds what was written.
   */
  async apply(opts: { signal?: AbortSignal; hint: string; onFailure: (record: Map<PathKey, WrittenPath>) => Promise<void> }): Promise<ApplyResult> {
    const record = new Map(this.previous?.paths ?? []);
    const removed: Removal[] = [];
    const counts = { copied: 0, unchanged: 0 };
    const modes: { key: PathKey; mode: number }[] = [];
    try {
      await this.failingAs('create the sysroot', opts.hint, () => mkdirExact(this.sysroot));
      const root = await realpath(this.sysroot, { encoding: 'buffer' });
      for (const r of this.removals()) {
        opts.signal?.throwIfAborted();
        await this.parentUnchanged(root, r.key, opts.hint);
        await this.failingAs(`remove ${show(r.key)}`, opts.hint, () => (r.kind === 'directory' ? rmdir(this.abs(r.key)) : unlinkIfThere(this.abs(r.key))));
        record.delete(r.key);
        this.verified.delete(r.key);
        removed.push(r);
      }
      for (const p of this.planned.values()) {
        opts.signal?.throwIfAborted();
        if (p.unchanged) {
          if (p.item) counts.unchanged++;
          continue;
        }
        if (p.item) counts.copied++;
        await this.parentUnchanged(root, p.key, opts.hint);
        await this.failingAs(`write ${show(p.key)}`, opts.hint, () => this.write(p, modes));
        const now = await onDisk(this.abs(p.key));
        if (now) record.set(p.key, written(p.key, now, p.item?.kind === 'file' ? { size: p.item.stat.size, mtimeNs: p.item.stat.mtimeNs } : undefined));
      }
      for (const { key, mode } of modes.reverse()) {
        await this.parentUnchanged(root, key, opts.hint);
        await this.failingAs(`set the mode of ${show(key)}`, opts.hint, () => chmodDirectory(this.abs(key), mode));
        const now = await onDisk(this.abs(key));
        if (now) record.set(key, written(key, now));
      }
    } catch (e) {
      await opts.onFailure(record).catch(() => undefined);
      throw e;
    }
    // The new record: what this build writes and owns, and the directories of earlier builds that stay.
    const next = new Map<PathKey, WrittenPath>();
    for (const p of this.planned.values()) {
      const w = record.get(p.key);
      if (p.ours && w) next.set(p.key, w);
    }
    for (const d of this.carried) next.set(d.key, d);
    return { ...counts, removed, record: next };
  }

  /**
   * Right before a write or removal at `key`: its parent is still a directory of the sysroot,
   * reached without a symlink (another process may have swapped one in since planning). The first
   * time, its real path says so; then its device and inode, which a symlink swapped in anywhere
   * above would change (one stat instead of a realpath per write).
   */
  private async parentUnchanged(root: Buffer, key: PathKey, hint: string): Promise<void> {
    const parent = parentOf(key);
    if (!parent) return;
    const at = this.abs(parent);
    const known = this.verified.get(parent);
    if (known) {
      const now = await stat(at, { bigint: true }).catch(() => undefined);
      if (now?.isDirectory() && now.dev === known.dev && now.ino === known.ino) return;
    } else {
      const real = await realpath(at, { encoding: 'buffer' }).catch(() => undefined);
      const now = real?.equals(absolute(root, parent)) ? await lstat(at, { bigint: true }).catch(() => undefined) : undefined;
      if (now?.isDirectory()) {
        this.verified.set(parent, { dev: now.dev, ino: now.ino });
        return;
      }
    }
    const link = await this.findSymlinkAbove(key);
    throw new BuildError(
      `${show(link?.key ?? parent)} in ${this.sysroot} changed during the build (${link ? `it is now a symlink to ${displayPath(link.target)}` : 'it is no longer a directory'}); nothing was written through it`,
      hint,
    );
  }

  /** Runs `fn`; a file system error becomes a BuildError naming the sysroot path. */
  private async failingAs(what: string, hint: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (!code) throw e;
      throw new BuildError(`cannot ${what} in ${this.sysroot}: ${code} (${(e as Error).message})`, hint, undefined, { cause: e });
    }
  }

  private async write(p: Planned, modes: { key: PathKey; mode: number }[]): Promise<void> {
    const at = this.abs(p.key);
    if (p.kind !== 'directory') return this.writeAtomically(p, at);
    if (!p.exists) {
      // Owner-writable while its content is written; the final mode is set at the end.
      await mkdir(at, { mode: 0o700 });
      if (asRoot) await lchown(at, 0, 0);
    }
    modes.push({ key: p.key, mode: p.mode! });
  }

  /** A file or symlink under a temporary name in the same directory, renamed over `at`. */
  private async writeAtomically(p: Planned, at: Buffer): Promise<void> {
    const temp = Buffer.concat([absolute(this.sysroot, parentOf(p.key)), Buffer.from(`/.avocado-tmp-${process.pid}-${randomBytes(4).toString('hex')}`)]);
    // The cleanup registry holds strings; a directory whose name is not UTF-8 is left to the catch below.
    const tempName = temp.toString();
    const registered = Buffer.from(tempName).equals(temp);
    if (registered) registerTemp(tempName);
    try {
      if (p.kind === 'symlink') {
        await symlink(p.target!, temp);
        if (asRoot) await lchown(temp, 0, 0);
      } else {
        // Created anew (never through something already at the name), then set through its handle.
        if (p.content !== undefined) await writeFile(temp, p.content, { mode: 0o600, flag: 'wx' });
        else await copyOverlayFile(p.item!, temp);
        const file = await open(temp, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
        try {
          // chown clears set-id bits, so it comes before chmod.
          if (asRoot) await file.chown(0, 0);
          await file.chmod(p.mode!);
          if (p.item?.kind === 'file') {
            const t = Number(p.item.stat.mtimeNs) / 1e9;
            await file.utimes(t, t);
          }
        } finally {
          await file.close();
        }
      }
      await rename(temp, at);
    } catch (e) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw e;
    } finally {
      if (registered) unregisterTemp(tempName);
    }
  }
}

/**
 * Copies an overlay file to `to` (created anew). The overlay file is opened without following a
 * symlink and without blocking, and must still be the regular file the overlay was read as: a
 * symlink or FIFO swapped in since is neither followed nor waited on.
 */
async function copyOverlayFile(item: OverlayItem, to: Buffer): Promise<void> {
  const from = await open(item.source, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ELOOP') throw changedOverlayFile(item, 'it is now a symlink');
    throw e;
  });
  try {
    const now = await from.stat({ bigint: true });
    if (!now.isFile()) throw changedOverlayFile(item, 'it is no longer a regular file');
    if (now.ino !== item.stat.ino) throw changedOverlayFile(item, 'it was replaced by another file');
    const dest = await open(to, 'wx', 0o600);
    await pipeline(from.createReadStream({ autoClose: false }), dest.createWriteStream());
  } finally {
    await from.close();
  }
}

function changedOverlayFile(item: OverlayItem, how: string): BuildError {
  return new BuildError(`overlay file ${displayPath(item.source)} changed during ext build: ${how}`, 'run ext build again once nothing writes to the overlay');
}

/** unlink, where nothing there is fine (a file or symlink removed meanwhile). */
async function unlinkIfThere(path: Buffer): Promise<void> {
  await unlink(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
  });
}

/** chmod of a directory, never following a symlink put in its place. */
async function chmodDirectory(dir: Buffer, mode: number): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    await handle.chmod(mode);
  } finally {
    await handle.close();
  }
}

/**
 * The content of a regular file, opened without blocking (a FIFO put in its place does not hang)
 * and, with `noFollow`, without following a symlink; EFTYPE when it is not a regular file.
 */
async function readRegularFile(path: Buffer, noFollow: boolean): Promise<Buffer> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | (noFollow ? constants.O_NOFOLLOW : 0));
  try {
    if (!(await handle.stat()).isFile()) throw Object.assign(new Error(`${displayPath(path)} is not a regular file`), { code: 'EFTYPE' });
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** mkdir -p with mode 0755 whatever the umask (the sysroot's root becomes the image's root). */
async function mkdirExact(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (!first) return;
  for (let d = dir; d.length >= first.length; d = dirname(d)) await chmod(d, 0o755);
}
