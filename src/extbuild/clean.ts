/**
 * `avocado ext clean NAME`: removes what the extension has in the volume for the target, as the
 * Avocado CLI's `ext clean` does — its sysroot, its images (every version) and its stamps — plus
 * ext build's record of the sysroot. Images of other extensions are never touched, even when
 * their name starts with NAME- (the Avocado CLI's `NAME-*.raw` would take `NAME-extra-1.0.0.raw`):
 * only `NAME-<semver>.raw` is NAME's. Everything is found and checked first; a path that
 * resolves outside the volume (through a symlink) is refused before anything is removed.
 */
import { chmod, readdir, realpath, rm, rmdir } from 'node:fs/promises';
import { dirname, sep } from 'node:path';
import type { Project } from '../config/project.js';
import { isSemver, SAFE_NAME } from '../config/schema.js';
import { BuildError, ConfigError } from '../util/errors.js';
import type { Reporter } from '../util/reporter.js';
import type { Volume } from '../volume/volume.js';
import { absolute, childNames, onDisk, walkBelow } from './disk.js';

export type CleanedKind = 'sysroot' | 'image' | 'build record' | 'stamps';

export interface CleanedPath {
  readonly path: string;
  readonly what: CleanedKind;
  /** Sysroot and stamps: entries below the directory. */
  readonly entries?: number;
}

export interface ExtCleanResult {
  readonly extension: string;
  readonly target: string;
  /** The runtime in effect, if any, and where it came from. */
  readonly runtime?: { readonly name: string; readonly source: string };
  readonly volume: string;
  readonly removed: readonly CleanedPath[];
}

export async function cleanExtension(opts: { project: Project; volume: Volume; extension: string; reporter: Reporter }): Promise<ExtCleanResult> {
  const { project, volume, extension: name, reporter } = opts;
  const target = project.target;
  const known = project.extensionNames();
  if (!known.includes(name))
    throw new ConfigError(
      `extension '${name}' is not defined in ${project.file}`,
      undefined,
      known.length ? `known extensions: ${known.join(', ')}` : 'the file defines no extensions: add one under extensions:',
    );
  if (!SAFE_NAME.test(name)) throw new ConfigError(`extension name '${name}' cannot be used in file names; use letters, digits and . _ + - @`, { file: project.file });
  reporter.step(`cleaning extension ${name}, target ${target} (from ${project.targetSource}), in ${volume.describe()}`);

  const found: CleanedPath[] = [];
  const add = async (path: string, what: CleanedKind) => {
    const st = await onDisk(Buffer.from(path));
    if (!st) return;
    // The count is for the message only: an unreadable directory does not stop the clean.
    const entries = st.kind === 'directory' ? await walkBelow(path, '').then((l) => l.length, () => undefined) : undefined;
    found.push({ path, what, ...(entries !== undefined ? { entries } : {}) });
  };
  project.reportRuntime(name, undefined, { step: (l) => reporter.step(l), warn: (l) => reporter.warn(l), verbose: (l) => reporter.verbose(l) });
  const sysroot = await volume.extensionSysroot(target, name, project.runtime?.name, { verbose: (l) => reporter.verbose(l), warn: (l) => reporter.warn(l) });
  await add(sysroot.path, 'sysroot');
  const outDir = volume.outputDir(target);
  for (const file of (await readdir(outDir).catch(() => [] as string[])).sort())
    if (file.startsWith(`${name}-`) && file.endsWith('.raw') && isSemver(file.slice(name.length + 1, -'.raw'.length)))
      await add(`${outDir}/${file}`, 'image');
  await add(volume.buildRecord(target, name), 'build record');
  await add(volume.extensionStamps(target, name), 'stamps');

  // Everything must be inside the volume, whatever symlinks lie on the way.
  const root = await realpath(volume.root).catch(() => volume.root);
  for (const f of found) {
    const parent = await realpath(dirname(f.path));
    if (parent !== root && !parent.startsWith(root + sep))
      throw new ConfigError(
        `${f.path} resolves to ${parent}, outside the volume ${root} (a symlink on the way); nothing was removed`,
        undefined,
        `remove it by hand if it is ${name}'s ${f.what}`,
      );
  }

  const removed: CleanedPath[] = [];
  for (const f of found) {
    await removeTree(f.path);
    removed.push(f);
    reporter.step(`removed ${f.what} ${f.path}${f.entries !== undefined ? ` (${f.entries} entries)` : ''}`);
  }
  // The record's directory goes once it holds no other extension's record.
  await rmdir(dirname(volume.buildRecord(target, name))).catch(() => undefined);
  const runtime = project.runtime && { name: project.runtime.name, source: project.runtime.source };
  return { extension: name, target, ...(runtime ? { runtime } : {}), volume: volume.root, removed };
}

/**
 * rm -rf that also gets through directories without write permission that we own (root needs no
 * permission; another user's files need root, and the error says so).
 */
async function removeTree(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true });
    return;
  } catch (e) {
    if (!isPermission(e)) throw new BuildError(`cannot remove ${path}: ${(e as Error).message}`);
  }
  await unlock(Buffer.from(path), process.getuid?.());
  try {
    await rm(path, { recursive: true, force: true });
  } catch (e) {
    throw new BuildError(
      `cannot remove ${path}: ${(e as Error).message}`,
      isPermission(e) ? 'it holds files of another user (the SDK installs as root): run ext clean as root' : undefined,
    );
  }
}

/** Gives directories we own below `dir` (and itself) owner rwx, top-down so that each can be read. */
async function unlock(dir: Buffer, uid: number | undefined): Promise<void> {
  const st = await onDisk(dir);
  if (st?.kind !== 'directory') return;
  if (st.uid === uid && (st.mode & 0o700) !== 0o700) await chmod(dir, st.mode | 0o700);
  for (const name of await childNames(dir).catch(() => [])) await unlock(absolute(dir, name), uid);
}

function isPermission(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'EACCES' || code === 'EPERM';
}
