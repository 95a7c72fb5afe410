/**
 * The state directory, laid out like the Avocado CLI's Docker volume at /opt/_avocado:
 *   <root>/<target>/extensions/<ext>/                   extension sysroot
 *   <root>/<target>/runtimes/<rt>/extensions/<ext>/     the sysroot the Avocado CLI makes for runtime <rt>
 *   <root>/<target>/output/extensions/<ext>-<ver>.raw   image
 *   <root>/<target>/.avocado-ext/<ext>.build.json       what ext build wrote into the sysroot (ours only)
 * Chosen in this order: `--volume`, AVOCADO_VOLUME, the named volume of a project set up by the
 * Rust CLI (`.avocado-state`), else `_avocado/` next to avocado.yaml (which ignores itself for git).
 */
import { constants } from 'node:fs';
import { access, lstat, mkdir, readlink, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join, posix, resolve } from 'node:path';
import { ContainerTool } from '../container/tool.js';
import { makeDirectories } from '../util/atomic.js';
import { ConfigError } from '../util/errors.js';
import { readAvocadoState } from './avocado-state.js';

export const DEFAULT_VOLUME_DIR = '_avocado';

/** Where the Avocado CLI mounts its volume in the SDK container (and where its own symlinks point). */
export const CONTAINER_VOLUME_ROOT = '/opt/_avocado';

/** The extension sysroot the commands use, and why that one (for --verbose). */
export interface SysrootChoice {
  readonly path: string;
  /** `runtime`: `<target>/runtimes/<rt>/extensions/<ext>/`; `legacy`: `<target>/extensions/<ext>/`. */
  readonly scope: 'runtime' | 'legacy';
  readonly reason: string;
  /** Another directory that also holds a sysroot of the extension and is not used. */
  readonly unused?: string;
}

export type VolumeSource = '--volume' | 'AVOCADO_VOLUME' | '.avocado-state' | 'project';

/** A Docker/podman volume of the Rust CLI. */
export interface NamedVolume {
  readonly name: string;
  /** The .avocado-state that names it. */
  readonly stateFile: string;
  readonly tool: ContainerTool;
}

export interface LocateOptions {
  readonly flag?: string;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly projectDir: string;
  readonly warn: (message: string) => void;
}

export class Volume {
  constructor(
    /** The volume's directory on this host. */
    readonly root: string,
    readonly source: VolumeSource,
    readonly named?: NamedVolume,
  ) {}

  static async locate(opts: LocateOptions): Promise<Volume> {
    if (opts.flag) return new Volume(resolve(opts.cwd, opts.flag), '--volume');
    if (opts.env.AVOCADO_VOLUME) return new Volume(resolve(opts.cwd, opts.env.AVOCADO_VOLUME), 'AVOCADO_VOLUME');
    const fallback = new Volume(join(opts.projectDir, DEFAULT_VOLUME_DIR), 'project');
    const state = await readAvocadoState([opts.projectDir, opts.cwd], opts.warn);
    if (!state) return fallback;
    let tool: ContainerTool;
    try {
      tool = await ContainerTool.find(opts.env, state.containerTool);
    } catch (e) {
      opts.warn(`${state.file} names the volume ${state.volumeName}, but it cannot be looked up (${(e as Error).message}); using ${fallback.root}`);
      return fallback;
    }
    const mountpoint = await tool.volumeMountpoint(state.volumeName);
    if (!mountpoint) {
      opts.warn(`${state.file} names the volume ${state.volumeName}, which ${tool.name} does not have; using ${fallback.root}`);
      return fallback;
    }
    try {
      await access(mountpoint, constants.R_OK | constants.X_OK);
    } catch {
      throw new ConfigError(
        `the Avocado CLI volume ${state.volumeName} (named in ${state.file}) is at ${mountpoint}, which this host cannot read (Docker Desktop keeps volumes inside its VM; rootless engines keep them in the user's storage)`,
        undefined,
        'run avocado where the volume is readable, or pass --volume DIR with a copy of its contents',
      );
    }
    return new Volume(mountpoint, '.avocado-state', { name: state.volumeName, stateFile: state.file, tool });
  }

  /** What the container engine mounts at /opt/_avocado. */
  get mountSource(): string {
    return this.named?.name ?? this.root;
  }

  describe(): string {
    return this.named ? `${this.named.tool.name} volume ${this.named.name} at ${this.root} (from ${this.named.stateFile})` : `${this.root} (from ${this.source})`;
  }

  targetDir(target: string): string {
    return join(this.root, target);
  }

  /** The legacy sysroot path `<target>/extensions/<ext>`, as written (see extensionSysroot). */
  sysroot(target: string, extension: string): string {
    return join(this.root, target, 'extensions', extension);
  }

  /** `<target>/runtimes/<rt>/extensions`: the Avocado CLI's $AVOCADO_EXT_SYSROOTS for runtime <rt>. */
  runtimeExtensionsDir(target: string, runtime: string): string {
    return join(this.root, target, 'runtimes', runtime, 'extensions');
  }

  /**
   * The one place the extension's sysroot is chosen, so that ext build, ext image and ext clean
   * always agree. With a runtime in effect and `<target>/runtimes/<rt>/extensions/<ext>/`
   * present (the Avocado CLI installed or built it in runtime mode), that one; otherwise the
   * legacy `<target>/extensions/<ext>/`. The Avocado CLI makes `<target>/extensions` a symlink to
   * /opt/_avocado/<target>/runtimes/<rt>/extensions, its path in the SDK container: read here,
   * that link is followed inside this volume. `out` gets the reason (verbose) and a warning when
   * the other location holds a sysroot of the extension too.
   */
  async extensionSysroot(target: string, extension: string, runtime?: string, out?: { verbose(line: string): void; warn(line: string): void }): Promise<SysrootChoice> {
    const choice = await this.chooseSysroot(target, extension, runtime);
    out?.verbose(choice.reason);
    if (choice.unused) out?.warn(`${choice.unused} holds a sysroot of ${extension} too; it is not used while runtime ${runtime} is in effect (its sysroot is ${choice.path})`);
    return choice;
  }

  private async chooseSysroot(target: string, extension: string, runtime?: string): Promise<SysrootChoice> {
    const legacyDir = join(this.root, target, 'extensions');
    const link = await this.containerLink(legacyDir);
    const legacy = join(link?.dir ?? legacyDir, extension);
    const legacyWhy = link ? `${legacyDir} is the Avocado CLI's link to ${link.target}, which is ${link.dir} here` : undefined;
    if (runtime !== undefined) {
      const scoped = join(this.runtimeExtensionsDir(target, runtime), extension);
      if (await isDirectory(scoped)) {
        const other = !link && (await isDirectory(legacy)) && !(await sameDirectory(legacy, scoped)) ? legacy : undefined;
        return { path: scoped, scope: 'runtime', reason: `sysroot ${scoped}: runtime ${runtime} is in effect and has one (made by the Avocado CLI)`, ...(other ? { unused: other } : {}) };
      }
      return { path: legacy, scope: 'legacy', reason: `sysroot ${legacy}: runtime ${runtime} has none at ${scoped}, so the legacy one${legacyWhy ? `; ${legacyWhy}` : ''}` };
    }
    return { path: legacy, scope: 'legacy', reason: `sysroot ${legacy}: no runtime in effect${legacyWhy ? `; ${legacyWhy}` : ''}` };
  }

  /** `dir` when it is a symlink to an absolute path under /opt/_avocado: that path in this volume. */
  private async containerLink(dir: string): Promise<{ target: string; dir: string } | undefined> {
    const st = await lstat(dir).catch(() => undefined);
    if (!st?.isSymbolicLink()) return undefined;
    const target = await readlink(dir);
    if (!isAbsolute(target) || !target.startsWith(`${CONTAINER_VOLUME_ROOT}/`)) return undefined;
    const rel = posix.normalize(target.slice(CONTAINER_VOLUME_ROOT.length + 1));
    if (rel.startsWith('..')) return undefined;
    return { target, dir: join(this.root, rel) };
  }

  /**
   * The record of what `ext build` wrote into the sysroot. Next to the sysroot, never inside it
   * (the sysroot is imaged as is), in a directory the Avocado CLI's layout does not use.
   */
  buildRecord(target: string, extension: string): string {
    return join(this.root, target, '.avocado-ext', `${extension}.build.json`);
  }

  /** The Avocado CLI's stamps of an extension (install, build, image). */
  extensionStamps(target: string, extension: string): string {
    return join(this.root, target, '.stamps', 'ext', extension);
  }

  outputDir(target: string): string {
    return join(this.root, target, 'output', 'extensions');
  }

  imageFileName(extension: string, version: string): string {
    return `${extension}-${version}.raw`;
  }

  imagePath(target: string, extension: string, version: string): string {
    return join(this.outputDir(target), this.imageFileName(extension, version));
  }

  /**
   * Creates `<target>/output/extensions` (and the root) for an image. Each directory under the
   * root must be a real directory: a symlink planted there would send the image, and the
   * temporaries removed next to it, outside the volume.
   */
  async ensureOutputDir(target: string): Promise<string> {
    await this.ensureRoot();
    return this.ensureInside([target, 'output', 'extensions']);
  }

  /** Creates the directories `components` below the root without following a symlink in any of them. */
  async ensureInside(components: readonly string[]): Promise<string> {
    let dir = this.root;
    for (const name of components) {
      dir = join(dir, name);
      let st = await lstat(dir).catch(ignoreMissing);
      if (!st) {
        await mkdir(dir).catch(ignoreExists);
        st = await lstat(dir);
      }
      if (st.isSymbolicLink())
        throw new ConfigError(
          `${dir} is a symlink (to ${await readlink(dir)}); avocado writes only inside the volume ${this.root}`,
          undefined,
          'remove the link (avocado creates the directory), or pass --volume with a volume that has none',
        );
      if (!st.isDirectory()) throw new ConfigError(`${dir} is not a directory`, undefined, 'move it out of the volume; avocado creates the directory');
    }
    return dir;
  }

  /** Creates the root; a project volume gets a .gitignore so that git never sees it. */
  async ensureRoot(): Promise<void> {
    if (this.named) return; // another tool's volume: only the output image is ours to write
    await makeDirectories(this.root);
    if (this.source === 'project') await writeFile(join(this.root, '.gitignore'), '*\n', { flag: 'wx' }).catch(ignoreExists);
  }
}

function ignoreMissing(e: NodeJS.ErrnoException): undefined {
  if (e.code !== 'ENOENT') throw e;
  return undefined;
}

function ignoreExists(e: NodeJS.ErrnoException): void {
  if (e.code !== 'EEXIST') throw e;
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() === true;
}

async function sameDirectory(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([stat(a), stat(b)]);
  return x.dev === y.dev && x.ino === y.ino;
}
