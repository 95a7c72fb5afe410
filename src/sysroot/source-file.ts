/**
 * Reading a regular file of the sysroot for an image writer: ranges at given positions, with
 * errors that name the file and say what to do, and checks that the file still has the size the
 * walk saw (a file that changed in between would otherwise be cut short or padded silently).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { BuildError } from '../util/errors.js';
import { displayPath, type FileEntry } from './entry.js';

export class SourceFile {
  private readonly fd: number;

  constructor(readonly file: FileEntry) {
    try {
      this.fd = openSync(file.source, 'r');
    } catch (e) {
      throw readError(file, e);
    }
    let size: number;
    try {
      size = fstatSync(this.fd).size;
    } catch (e) {
      closeSync(this.fd);
      throw readError(file, e);
    }
    if (size !== file.size) {
      closeSync(this.fd);
      throw changedError(file, size < file.size ? 'shorter' : 'longer');
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
      if (n === 0) throw changedError(this.file, 'shorter');
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
    if (n !== 0) throw changedError(this.file, 'longer');
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
  const reason = err.code === 'EACCES' ? 'permission denied' : err.code === 'ENOENT' ? 'it was removed after the walk' : err.message;
  return new BuildError(`cannot read ${displayPath(file.source)}: ${reason}`, err.code === 'EACCES' ? 'run as a user who can read the whole sysroot (root, usually)' : undefined);
}

function changedError(file: FileEntry, how: 'shorter' | 'longer'): BuildError {
  return new BuildError(`${displayPath(file.source)} changed during the build: it is ${how} than the ${file.size} bytes seen when the sysroot was walked`, 'build again once nothing writes to the sysroot');
}
