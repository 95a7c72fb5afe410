/**
 * Atomic publication: write to a temporary file in the destination directory, fsync it, rename
 * it over the destination, fsync the directory. Until the rename the previous file is untouched;
 * on failure the temporary is removed.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { registerTemp, unregisterTemp } from './cleanup.js';

export class AtomicFile {
  private done = false;

  private constructor(
    readonly path: string,
    readonly tempPath: string,
  ) {}

  /** Reserves a temporary name next to `path` (creating the directory) and registers it for cleanup. */
  static async create(path: string): Promise<AtomicFile> {
    const dir = dirname(path);
    await mkdir(dir, { recursive: true });
    const temp = join(dir, `.${basename(path)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
    registerTemp(temp);
    return new AtomicFile(path, temp);
  }

  async commit(): Promise<void> {
    // Read-only is enough for fsync, and works when a container's root wrote the file.
    const fh = await open(this.tempPath, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(this.tempPath, this.path);
    this.done = true;
    unregisterTemp(this.tempPath);
    await syncDir(dirname(this.path));
  }

  async discard(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await rm(this.tempPath, { force: true });
    unregisterTemp(this.tempPath);
  }
}

/** Copies `from` to `to` atomically. */
export async function atomicCopy(from: string, to: string): Promise<void> {
  const file = await AtomicFile.create(to);
  try {
    await copyFile(from, file.tempPath);
    await file.commit();
  } finally {
    await file.discard();
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch {
    // some filesystems refuse fsync on directories; the rename itself is still atomic
  } finally {
    await fh.close();
  }
}
