/**
 * openat(2)-style access to the sysroot, which Node lacks: a directory is opened once, checked to
 * be the one the walk saw, and its entries are then named relative to that handle through
 * /proc/self/fd/N — so a directory swapped for a symlink cannot redirect the walk outside the
 * sysroot, and no path handed to the kernel is longer than PATH_MAX, however deep the tree.
 * Opens never follow a symlink at the end of the path and never block on a fifo or device.
 */
import { closeSync, constants as C, existsSync, openSync } from 'node:fs';

/** The kernel's PATH_MAX (bytes, with the terminating NUL). */
const PATH_MAX = 4096;
/** Pieces of a long path are opened this many bytes at a time (room for the /proc prefix). */
const PIECE = 3072;
const SLASH = 0x2f;

/** For reading, without following a final symlink, without waiting on a fifo or a device, never as a controlling terminal. */
export const READ_FLAGS = C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK | C.O_NOCTTY;
export const DIRECTORY_FLAGS = READ_FLAGS | C.O_DIRECTORY;

let procFd: boolean | undefined;
/** Whether /proc/self/fd names open handles (it does on every Linux with /proc mounted). */
export function haveProcFd(): boolean {
  return (procFd ??= existsSync('/proc/self/fd'));
}

/** The path of `name` inside the directory open as `dirFd`. */
export function inDirectory(dirFd: number, name: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`/proc/self/fd/${dirFd}/`), name]);
}

/**
 * Opens an absolute path (bytes) with `flags`. Paths the kernel would refuse as too long are
 * opened one piece at a time, each relative to the directory before it; the intermediate
 * directories are not checked here — callers compare what they opened with what the walk saw
 * (device and inode), which a redirected path cannot match.
 */
export function openPath(path: Buffer, flags: number): number {
  if (path.length < PATH_MAX || !haveProcFd()) return openSync(path, flags);
  let fd = -1;
  let start = 0;
  try {
    while (path.length - start >= PIECE) {
      const cut = path.lastIndexOf(SLASH, start + PIECE);
      if (cut <= start) {
        // A single component longer than a piece cannot exist (NAME_MAX is 255): let the kernel say so.
        return openSync(path, flags);
      }
      const piece = path.subarray(start, cut);
      // The first piece holds the sysroot's own path, which may pass through symlinks.
      const next = fd < 0 ? openSync(piece, C.O_RDONLY | C.O_DIRECTORY | C.O_NONBLOCK) : openSync(inDirectory(fd, piece), DIRECTORY_FLAGS);
      if (fd >= 0) closeSync(fd);
      fd = next;
      start = cut + 1;
    }
    return openSync(inDirectory(fd, path.subarray(start)), flags);
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/** A path for messages: at most about 200 characters, the middle elided with the number of levels left out. */
export function shortenForMessage(display: string): string {
  if (display.length <= 200) return display;
  const head = display.slice(0, 80);
  const tail = display.slice(-100);
  const headEnd = head.lastIndexOf('/');
  const tailStart = tail.indexOf('/');
  const h = headEnd > 0 ? head.slice(0, headEnd) : head;
  const t = tailStart >= 0 ? tail.slice(tailStart + 1) : tail;
  const levels = display.slice(h.length, display.length - t.length).split('/').length - 2;
  return `${h}/…(${levels} more levels)…/${t}`;
}

/** How many levels deep a path is (its number of components). */
export function depthOf(path: Buffer): number {
  let n = path.length ? 1 : 0;
  for (const b of path) if (b === SLASH) n++;
  return n;
}
