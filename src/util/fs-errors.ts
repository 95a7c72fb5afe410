/**
 * What a failed file-system call means for the user: one line naming the path and what to do,
 * instead of `internal error: EACCES on …`. A temporary file's name means nothing to the user;
 * its directory is named instead.
 */
import { lstatSync, readlinkSync, statSync, type BigIntStats, type Stats } from 'node:fs';
import { basename, dirname } from 'node:path';
import { BuildError } from './errors.js';

/** The temporaries AtomicFile makes (and the old `.NAME.PID-hex.tmp` form). */
const TEMP_FILE = /^\..*\.tmp$/;

/** A BuildError for a file-system error with a code and a path that the user can act on; undefined for anything else. */
export function explainFsError(e: unknown): BuildError | undefined {
  const err = e as NodeJS.ErrnoException & { dest?: string };
  if (!err || typeof err !== 'object' || typeof err.code !== 'string' || typeof err.path !== 'string') return undefined;
  const temp = TEMP_FILE.test(basename(err.path));
  const path = temp ? dirname(err.path) : err.path;
  const what = temp ? 'cannot write in' : err.syscall === 'mkdir' ? 'cannot create' : ['open', 'rename', 'copyfile', 'write'].includes(err.syscall ?? '') ? 'cannot write' : 'cannot use';
  switch (err.code) {
    case 'EROFS':
      return new BuildError(`${what} ${path}: it is on a read-only file system`, 'remount it read-write, or choose another directory (--volume DIR, --out DIR)', undefined, { cause: e });
    case 'EACCES':
    case 'EPERM': {
      const owner = ownerOf(path);
      const uid = process.getuid?.();
      return new BuildError(
        `${what} ${path}: permission denied${uid !== undefined ? ` (running as uid ${uid}${owner !== undefined && owner !== uid ? `, it belongs to uid ${owner}` : ''})` : ''}`,
        'run as a user who may write there, change its permissions, or choose another directory (--volume DIR, --out DIR)',
        undefined,
        { cause: e },
      );
    }
    case 'ENOENT': {
      const link = danglingLink(path);
      if (link) return new BuildError(`${what} ${path}: ${link.path === path ? 'it' : link.path} is a symlink to ${link.target}, which does not exist`, 'remove the link, or create what it points to', undefined, { cause: e });
      return new BuildError(`${what} ${path}: it does not exist (removed while avocado ran?)`, 'check the path and run again', undefined, { cause: e });
    }
    case 'ENOTDIR':
      return new BuildError(`${what} ${path}: a component of the path is not a directory`, 'move the file that is in the way', undefined, { cause: e });
    case 'ELOOP':
      return new BuildError(`${what} ${path}: too many levels of symlinks`, 'fix the symlinks on the path', undefined, { cause: e });
    case 'ENAMETOOLONG':
      return new BuildError(`${what} ${path}: the name is too long for the file system`, 'use shorter names or a shorter directory', undefined, { cause: e });
    case 'EDQUOT':
    case 'ENOSPC':
      return new BuildError(`${what} ${path}: no space left on the device${err.code === 'EDQUOT' ? ' (disk quota)' : ''}`, 'free some space and run again', undefined, { cause: e });
    default:
      return undefined;
  }
}

function ownerOf(path: string): number | undefined {
  for (let p = path; ; p = dirname(p)) {
    try {
      return statSync(p).uid;
    } catch {
      if (dirname(p) === p) return undefined;
    }
  }
}

/** The first component of `path` that is a symlink whose target does not exist. */
function danglingLink(path: string): { path: string; target: string } | undefined {
  const parts: string[] = [];
  for (let p = path; dirname(p) !== p; p = dirname(p)) parts.unshift(p);
  for (const p of parts) {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      return undefined;
    }
    if (!st.isSymbolicLink()) continue;
    try {
      statSync(p);
    } catch {
      try {
        return { path: p, target: readlinkSync(p) };
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** What a file that is not the regular file expected is, for messages: "a fifo", "a directory", … */
export function fileKindName(st: Stats | BigIntStats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a fifo';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isSymbolicLink()) return 'a symlink';
  return 'not a regular file';
}
