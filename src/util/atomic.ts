/**
 * Atomic publication: write to a temporary file in the destination directory, fsync it, rename
 * it over the destination, fsync the directory. Until the rename the previous file is untouched;
 * on failure the temporary is removed.
 *
 * Temporary names are short and fixed in length (`.avocado.<owner>.<pid>.<start>.<random>.tmp`),
 * so that any destination name the filesystem accepts has a temporary it accepts too. They name
 * their owner: a process killed outright (SIGKILL, power loss) cannot remove its own, so the next
 * write into the same directory removes those whose owner is gone — same host, boot and PID
 * namespace (`<owner>`), and that PID no longer running, or running but started at another time
 * than `<start>` (the PID was reused).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { copyFile, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { registerTemp, unregisterTemp } from './cleanup.js';

/** A temporary, or a file an engine keeps next to it (`….tmp.exclude`). */
const TEMP_NAME = /^\.avocado\.([0-9a-f]{8})\.(\d+)\.(\d+)\.[0-9a-f]{8}\.tmp(\.[a-z]+)?$/;

export class AtomicFile {
  private done = false;

  private constructor(
    readonly path: string,
    readonly tempPath: string,
  ) {}

  /**
   * Reserves a temporary name next to `path` (creating the directory), registers it for cleanup,
   * and removes the temporaries that dead processes left in that directory.
   */
  static async create(path: string): Promise<AtomicFile> {
    const dir = dirname(path);
    await makeDirectories(dir);
    await removeStaleTemps(dir);
    const temp = join(dir, `.avocado.${ownerTag()}.${process.pid}.${startTime(process.pid) ?? 0}.${randomBytes(4).toString('hex')}.tmp`);
    registerTemp(temp);
    return new AtomicFile(path, temp);
  }

  /** Syncs the temporary to disk (before `publish`; `commit` does both). */
  async sync(): Promise<void> {
    // Read-only is enough for fsync, and works when a container's root wrote the file.
    const fh = await open(this.tempPath, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  /** Renames the (synced) temporary over the destination. */
  async publish(): Promise<void> {
    await rename(this.tempPath, this.path);
    this.done = true;
    unregisterTemp(this.tempPath);
    await syncDir(dirname(this.path));
  }

  async commit(): Promise<void> {
    await this.sync();
    await this.publish();
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

/**
 * `mkdir -p`, one component at a time. Node's own recursive mkdir never returns where mkdir(2)
 * says ENOENT under an existing parent (/proc, /sys): it retries the parent forever.
 */
export async function makeDirectories(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    const st = await stat(d).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (st) break;
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing)
    await mkdir(d).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  // A dangling symlink exists for mkdir and not for stat: fail here, naming it.
  if (missing.length && !(await stat(dir)).isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}'`), { code: 'ENOTDIR', syscall: 'mkdir', path: dir });
}

/** Removes the temporaries in `dir` whose owner is gone (see the top of this file). Best effort. */
export async function removeStaleTemps(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  const me = ownerTag();
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m || m[1] !== me) continue;
    const pid = Number(m[2]);
    if (pid === process.pid || isAlive(pid, m[3]!)) continue;
    const path = join(dir, name);
    if (await rm(path, { force: true }).then(() => true, () => false)) removed.push(path);
  }
  return removed;
}

function isAlive(pid: number, start: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // EPERM: alive, someone else's
  }
  const now = startTime(pid);
  // Without /proc the start time is unknown: a running PID counts as the owner.
  return now === undefined || start === '0' || now === start;
}

/** The process's start time (clock ticks since boot, /proc/PID/stat field 22), if known. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

let tag: string | undefined;

/** This host, boot and PID namespace: whose PIDs `kill(pid, 0)` here can judge. */
function ownerTag(): string {
  if (tag) return tag;
  const read = (f: () => string) => {
    try {
      return f();
    } catch {
      return '';
    }
  };
  const bootId = read(() => readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim());
  const pidNamespace = read(() => readlinkSync('/proc/self/ns/pid'));
  tag = createHash('sha256').update(`${hostname()}\0${bootId}\0${pidNamespace}`).digest('hex').slice(0, 8);
  return tag;
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
