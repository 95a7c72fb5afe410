/**
 * What an entry must satisfy to be stored at all, the same for both formats but for their limits:
 * checked before any work is done, so that a tree the format cannot hold fails at once, naming
 * the entry.
 */
import { displayPath, type Entry } from '../sysroot/entry.js';
import { BuildError } from '../util/errors.js';

/**
 * A device number as the kernel's new_encode_dev stores it (both squashfs and EROFS use it):
 * 12-bit major, 20-bit minor, the minor's low byte at the bottom. Undefined when it does not fit.
 */
export function encodeRdev(major: number, minor: number): number | undefined {
  if (major < 0 || major > 0xfff || minor < 0 || minor > 0xfffff) return undefined;
  return ((minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)) >>> 0;
}

/** The inverse of encodeRdev. */
export function decodeRdev(rdev: number): { major: number; minor: number } {
  return { major: (rdev >>> 8) & 0xfff, minor: (rdev & 0xff) | ((rdev >>> 12) & 0xfff00) };
}

export interface EntryLimits {
  /** For messages: 'squashfs', 'EROFS'. */
  readonly format: string;
  /** Longest name, in bytes. */
  readonly maxName: number;
  /** Longest symlink target the kernel reads back, in bytes. */
  readonly maxSymlink: number;
}

export function checkEntryLimits(entries: Iterable<Entry>, limits: EntryLimits): void {
  for (const entry of entries) {
    if (entry.name.length > limits.maxName) throw new BuildError(`${displayPath(entry.path)}: names are limited to ${limits.maxName} bytes in ${limits.format}`);
    if ((entry.kind === 'char-device' || entry.kind === 'block-device') && encodeRdev(entry.major, entry.minor) === undefined)
      throw new BuildError(`device ${displayPath(entry.path)} has number ${entry.major}:${entry.minor}, which ${limits.format} cannot store (major < 4096, minor < 1048576)`);
    if (entry.kind === 'symlink' && entry.target.length > limits.maxSymlink)
      throw new BuildError(`symlink ${displayPath(entry.path)} has a ${entry.target.length}-byte target; the kernel reads at most ${limits.maxSymlink}`);
  }
}
