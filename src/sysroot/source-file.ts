/**
 * Reading a regular file of the sysroot for an image writer: ranges at given positions, with
 * errors that name the file and say what to do, and checks that the file is still the one the
 * walk saw — same device and inode, a regular file, the same size. Without them a file swapped
 * for a symlink after the walk would put the link's target (`/etc/shadow`, say) into the image,
 * a fifo would block the build (and with it Ctrl-C) forever, and a file that changed size would
 * be cut short or padded silently. Every reader of sysroot file content opens it here.
 */
import { closeSync, fstatSync, readSync, type BigIntStats } from 'node:fs';
import { BuildError } from '../util/errors.js';
import { fileKindName } from '../util/fs-errors.js';
import { READ_FLAGS, openPath, shortenForMessage } from './at.js';
import { displayPath, type FileEntry } from './entry.js';

export class SourceFile {
  private readonly fd: number;

  constructor(readonly file: FileEntry) {
    try {
      // No symlink is followed at the end of the path and a fifo or device does not block the open;
      // what was opened is checked before a byte is read.
      this.fd = openPath(file.source, READ_FLAGS);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') throw changedError(file, 'it is now a symlink');
      if (code === 'ENXIO') throw changedError(file, 'it is no longer a regular file');
      throw readError(file, e);
    }
    let st: BigIntStats;
    try {
      st = fstatSync(this.fd, { bigint: true });
    } catch (e) {
      closeSync(this.fd);
      throw readError(file, e);
    }
    const problem = !st.isFile()
      ? `it is now ${fileKindName(st)}`
      : st.dev !== file.dev || st.ino !== file.ino
        ? 'it was replaced by another file'
        : st.size !== BigInt(file.size)
          ? sizeChange(file, st.size < BigInt(file.size) ? 'shorter' : 'longer')
          : undefined;
    if (problem) {
      closeSync(this.fd);
      throw changedError(file, problem);
    }
  }

  /** Fills `into` from `position`; the file must be long enough. */
  read(into: Uint8Array, position: number): void {
    let done = 0;
    while (done < into.length) {
      let n: number;
      try {
        n = readSync(this.fd, into, done, into.length - done, position + done);
      } catch (e) {
        throw readError(this.file, e);
      }
      if (n === 0) throw changedError(this.file, sizeChange(this.file, 'shorter'));
      done += n;
    }
  }

  /** A fresh buffer holding `length` bytes from `position`. */
  readNew(position: number, length: number): Buffer {
    const b = Buffer.allocUnsafeSlow(length);
    this.read(b, position);
    return b;
  }

  /** After reading everything: the file has not grown while it was read. */
  checkNotLonger(): void {
    let n: number;
    try {
      n = readSync(this.fd, Buffer.allocUnsafe(1), 0, 1, this.file.size);
    } catch (e) {
      throw readError(this.file, e);
    }
    if (n !== 0) throw changedError(this.file, sizeChange(this.file, 'longer'));
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Runs `fn` with the file open. */
export function withSource<T>(file: FileEntry, fn: (s: SourceFile) => T): T {
  const s = new SourceFile(file);
  try {
    return fn(s);
  } finally {
    s.close();
  }
}

function readError(file: FileEntry, e: unknown): BuildError {
  const err = e as NodeJS.ErrnoException;
  const reason = err.code === 'EACCES' ? 'permission denied' : err.code === 'ENOENT' ? 'it was removed after the walk' : (err.message.split(',')[0] ?? err.message);
  return new BuildError(`cannot read ${where(file)}: ${reason}`, err.code === 'EACCES' ? 'run as a user who can read the whole sysroot (root, usually)' : undefined);
}

function sizeChange(file: FileEntry, how: 'shorter' | 'longer'): string {
  return `it is ${how} than the ${file.size} bytes seen when the sysroot was walked`;
}

function changedError(file: FileEntry, how: string): BuildError {
  return new BuildError(`${where(file)} changed during the build: ${how}`, 'build again once nothing writes to the sysroot');
}

function where(file: FileEntry): string {
  return shortenForMessage(displayPath(file.source));
}

