/**
 * The `tools` engine: mksquashfs / mkfs.erofs, with reproducible settings that the Avocado CLI's
 * lack (root ownership for squashfs too, every time set explicitly) and the exact exclude list
 * from our walk instead of the tools' pattern languages. Where the tools run is a `ToolHost`:
 * this machine, or the SDK container (the container engine, locally or remotely).
 */
import { lstat, lutimes, rm, stat, writeFile } from 'node:fs/promises';
import { BuildError } from '../util/errors.js';
import { registerTemp, unregisterTemp } from '../util/cleanup.js';
import type { ToolHost } from '../container/tool-host.js';
import { run, which, type RunOptions, type RunResult } from '../util/process.js';
import { displayPath, pathKey, preOrder } from '../sysroot/entry.js';
import type { BuildRequest, Engine, EngineName } from './engine.js';

const NIL_UUID = '00000000-0000-0000-0000-000000000000';
const BLOCK_SIZE = 131072;

/** The tools of this machine. */
export class LocalToolHost implements ToolHost {
  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  async which(name: string): Promise<string | undefined> {
    return which(name, this.env);
  }

  run(path: string, args: readonly string[], opts: Pick<RunOptions, 'signal' | 'onLine'> = {}): Promise<RunResult> {
    const env: NodeJS.ProcessEnv = { ...this.env, LC_ALL: 'C' };
    delete env.SOURCE_DATE_EPOCH;
    return run(path, args, { ...opts, env });
  }

  toolPath(hostPath: string): string {
    return hostPath;
  }

  installHint(pkg: string, requirement?: string): string {
    return `install ${pkg}${requirement ? ` ${requirement}` : ''} (Debian/Ubuntu: apt-get install ${pkg}; Fedora: dnf install ${pkg})`;
  }
}

export class ToolsEngine implements Engine {
  private tool?: { path: string; version: string };

  constructor(
    private readonly host: ToolHost = new LocalToolHost(),
    readonly name: EngineName = 'tools',
  ) {}

  async prepare(req: BuildRequest): Promise<string> {
    if (req.filesystem.family === 'squashfs') {
      this.tool = await findMksquashfs(this.host, req.filesystem.compressor);
      checkSquashfsExcludes(req);
      return `mksquashfs ${this.tool.version}`;
    }
    this.tool = await findMkfsErofs(this.host, req.filesystem.compressor, req.filesystem.value);
    checkErofsNames(req, this.tool.version);
    return `mkfs.erofs ${this.tool.version}`;
  }

  async build(req: BuildRequest): Promise<void> {
    const tool = this.tool ?? (await this.prepare(req), this.tool!);
    const cleanup: string[] = [];
    try {
      if (req.filesystem.family === 'squashfs') await pinSymlinkAtimes(req);
      const at = (p: string) => this.host.toolPath(p);
      const args = req.filesystem.family === 'squashfs' ? await squashfsArgs(req, at, cleanup) : erofsArgs(req, at);
      req.verbose(`running ${tool.path} ${args.map(quoteForDisplay).join(' ')}`);
      const watcher = watchSize(req);
      let result: RunResult;
      try {
        result = await this.host.run(tool.path, args, { signal: req.signal, onLine: (l) => req.verbose(l) });
      } finally {
        clearInterval(watcher);
      }
      if (result.code !== 0) {
        const name = req.filesystem.family === 'squashfs' ? 'mksquashfs' : 'mkfs.erofs';
        throw new BuildError(
          `${name} failed (${result.signal ? `killed by ${result.signal}` : `exit status ${result.code}`})`,
          'its last output lines follow',
          result.tail.slice(-15).join('\n'),
        );
      }
    } finally {
      for (const f of cleanup) {
        await rm(f, { force: true });
        unregisterTemp(f);
      }
    }
  }
}

/**
 * mksquashfs 4.5 recognises hard links by comparing whole `struct stat`s, atime included, and
 * reads each symlink right after stat'ing it. When that read updates the atime (relatime does
 * whenever atime <= mtime or ctime), the second name of a hard-linked symlink no longer matches
 * the first and becomes a separate inode: the image would depend on the sysroot's times. An
 * atime ahead of now and of the mtime is never updated by relatime, so set that first (atime is
 * stored in no image).
 */
async function pinSymlinkAtimes(req: BuildRequest): Promise<void> {
  const now = Date.now() / 1000;
  for (const e of preOrder(req.tree.root)) {
    if (e.kind !== 'symlink' || !e.hardLink) continue;
    try {
      const st = await lstat(e.source);
      await lutimes(e.source, Math.max(now, st.mtimeMs / 1000) + 7 * 86400, st.mtime);
    } catch (err) {
      req.verbose(`cannot adjust the access time of ${displayPath(e.path)} (${(err as Error).message}); mksquashfs may store its hard links as separate symlinks`);
    }
  }
}

/** Reports the growing output size while the tool runs (its own progress bar is switched off). */
function watchSize(req: BuildRequest): NodeJS.Timeout {
  return setInterval(() => {
    stat(req.output).then(
      (s) => req.progress(s.size),
      () => undefined,
    );
  }, 200);
}

/** `at` maps a path of this machine to the path the tool sees. */
async function squashfsArgs(req: BuildRequest, at: (p: string) => string, cleanup: string[]): Promise<string[]> {
  const e = String(req.sourceDateEpoch);
  const args = [
    at(req.tree.dir), at(req.output),
    '-noappend', '-no-xattrs', '-all-root', '-reproducible', '-exit-on-error', '-no-progress', '-quiet',
    '-mkfs-time', e, '-all-time', e,
    '-comp', req.filesystem.compressor, '-b', String(BLOCK_SIZE),
  ];
  if (req.excluded.length) {
    const file = `${req.output}.exclude`;
    registerTemp(file);
    cleanup.push(file);
    await writeFile(file, squashfsExcludeFile(req.excluded.map((x) => x.path)));
    args.push('-wildcards', '-ef', at(file));
  }
  return args;
}

/**
 * An exclude file for `mksquashfs -wildcards -ef`: one path per line, every byte escaped with a
 * backslash so that it matches literally (fnmatch, C locale). The leading backslash is eaten by
 * mksquashfs's reader (it protects leading spaces and '#'), the rest by fnmatch.
 */
export function squashfsExcludeFile(paths: readonly Buffer[]): Buffer {
  const lines: Buffer[] = [];
  for (const p of paths) {
    const out: number[] = [0x5c];
    for (const byte of p) {
      if (byte === 0x2f) out.push(byte);
      else out.push(0x5c, byte);
    }
    out.push(0x0a);
    lines.push(Buffer.from(out));
  }
  return Buffer.concat(lines);
}

function checkSquashfsExcludes(req: BuildRequest): void {
  for (const x of req.excluded)
    if (x.path.includes(0x0a))
      throw new BuildError(`the tools engine cannot exclude ${JSON.stringify(x.display)}: its name contains a newline, which mksquashfs's exclude file cannot hold`, 'rename it in the sysroot');
}

function erofsArgs(req: BuildRequest, at: (p: string) => string): string[] {
  const args = ['--quiet', `-T${req.sourceDateEpoch}`, '-U', NIL_UUID, '-x', '-1', '--all-root'];
  if (req.filesystem.compressor !== 'none') args.push(`-z${req.filesystem.compressor}`);
  if (req.filesystem.compressor !== 'none' && req.erofsClusterSize && req.erofsClusterSize !== 4096) args.push(`-C${req.erofsClusterSize}`);
  for (const x of req.excluded) {
    const utf8 = x.path.toString('utf8');
    if (Buffer.from(utf8, 'utf8').equals(x.path)) args.push(`--exclude-path=${utf8}`);
    else args.push(`--exclude-regex=${erofsRegexFor(x.path)}`);
  }
  args.push(at(req.output), at(req.tree.dir));
  return args;
}

/**
 * argv cannot carry bytes that are not UTF-8, so such a path is excluded with a regex in which
 * each of those bytes is a '.' (any byte, C locale). `checkErofsNames` makes sure the regex
 * matches nothing that is kept.
 */
function erofsRegexFor(path: Buffer): string {
  let re = '^';
  const s = path.toString('latin1');
  for (let i = 0; i < path.length; i++) {
    const b = path[i]!;
    if (b >= 0x80) {
      re += '.';
      continue;
    }
    const ch = s[i]!;
    re += /[.[\]()*+?{}|^$\\]/.test(ch) ? `\\${ch}` : ch;
  }
  return `${re}$`;
}

function checkErofsNames(req: BuildRequest, version: string): void {
  const old = compareVersions(version, '1.6') < 0;
  const regexes = req.excluded
    .filter((x) => !Buffer.from(x.path.toString('utf8'), 'utf8').equals(x.path))
    .map((x) => ({ x, re: new RegExp(erofsRegexFor(x.path), 's') }));
  if (!old && !regexes.length) return;
  for (const e of preOrder(req.tree.root)) {
    if (old && e.name.length >= 255)
      throw new BuildError(
        `mkfs.erofs ${version} fails on names of 255 bytes, such as ${displayPath(e.path)}`,
        'rename it, or use a newer erofs-utils (the native engine has no such limit)',
      );
    for (const { x, re } of regexes)
      if (re.test(pathKey(e.path)))
        throw new BuildError(
          `the tools engine cannot exclude ${x.display} without also excluding ${displayPath(e.path)} (mkfs.erofs gets non-UTF-8 names only as a pattern)`,
          'rename one of them in the sysroot',
        );
  }
}

async function findMksquashfs(host: ToolHost, compressor: string): Promise<{ path: string; version: string }> {
  const path = await host.which('mksquashfs');
  if (!path) throw new BuildError('mksquashfs is not installed', host.installHint('squashfs-tools'));
  const [out, help] = (await Promise.all([host.run(path, ['-version']), host.run(path, ['-help'])])).map((r) => r.output) as [string, string];
  const version = /mksquashfs version (\d+(?:\.\d+)+)/.exec(out)?.[1];
  if (!version) throw new BuildError(`cannot tell the version of ${path}: 'mksquashfs -version' printed ${JSON.stringify(out.slice(0, 80))}`);
  if (compareVersions(version, '4.4') < 0)
    throw new BuildError(`mksquashfs ${version} cannot build reproducible images (it lacks -all-time and -mkfs-time)`, host.installHint('squashfs-tools', '4.4 or newer'));
  const compressors: string[] = [];
  const listed = help.indexOf('Compressors available');
  if (listed >= 0)
    for (const line of help.slice(listed).split('\n').slice(1)) {
      if (!/^\s/.test(line)) break;
      compressors.push(line.trim().split(/\s+/)[0]!);
    }
  if (compressors.length && !compressors.includes(compressor))
    throw new BuildError(`mksquashfs ${version} at ${path} was built without the ${compressor} compressor`, `install a squashfs-tools built with ${compressor}, or choose another filesystem value`);
  return { path, version };
}

async function findMkfsErofs(host: ToolHost, compressor: string, value: string): Promise<{ path: string; version: string }> {
  const path = await host.which('mkfs.erofs');
  if (!path) throw new BuildError('mkfs.erofs is not installed', host.installHint('erofs-utils'));
  // 1.5 has no -V; it prints its version when it starts, even on a bad source directory.
  const [v, started, helpRun] = await Promise.all([
    host.run(path, ['-V']),
    host.run(path, ['/nonexistent-avocado/x.img', '/nonexistent-avocado/src']),
    host.run(path, ['--help']),
  ]);
  const out = /^mkfs\.erofs\s+\S/m.test(v.output) ? v.output : started.output;
  const version = /^mkfs\.erofs(?:\s+\(erofs-utils\))?\s+v?(\d+(?:\.\d+)*)/m.exec(out)?.[1];
  if (!version) throw new BuildError(`cannot tell the version of ${path}`, host.installHint('erofs-utils', '1.5 or newer'));
  if (compressor !== 'none') {
    const help = helpRun.output;
    const available = /Available compressors are:\s*(.*)/.exec(help)?.[1]?.split(/[\s,]+/).filter(Boolean) ?? [];
    if (!available.includes(compressor))
      throw new BuildError(
        `mkfs.erofs ${version} has no ${compressor} compressor (it has ${available.join(', ') || 'none'}), which filesystem ${value} needs`,
        compressor === 'zstd'
          ? `${host.installHint('erofs-utils', '1.8 or newer, built with libzstd')}; Debian 12 ships 1.5, without it; or choose erofs-lz4, or the native engine`
          : host.installHint('erofs-utils', `built with ${compressor}`),
      );
  }
  return { path, version };
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d < 0 ? -1 : 1;
  }
  return 0;
}

function quoteForDisplay(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
