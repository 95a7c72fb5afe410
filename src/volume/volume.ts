/**
 * The state directory, laid out like the Avocado CLI's Docker volume at /opt/_avocado:
 *   <root>/<target>/extensions/<ext>/                   extension sysroot
 *   <root>/<target>/output/extensions/<ext>-<ver>.raw   image
 *   <root>/<target>/.avocado-ext/<ext>.build.json       what ext build wrote into the sysroot (ours only)
 * Chosen in this order: `--volume`, AVOCADO_VOLUME, the named volume of a project set up by the
 * Rust CLI (`.avocado-state`), else `_avocado/` next to avocado.yaml (which ignores itself for git).
 */
import { constants } from 'node:fs';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ContainerTool } from '../container/tool.js';
import { ConfigError } from '../util/errors.js';
import { readAvocadoState } from './avocado-state.js';

export const DEFAULT_VOLUME_DIR = '_avocado';

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

  sysroot(target: string, extension: string): string {
    return join(this.root, target, 'extensions', extension);
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

  /** Creates the root; a project volume gets a .gitignore so that git never sees it. */
  async ensureRoot(): Promise<void> {
    if (this.named) return; // another tool's volume: only the output image is ours to write
    await mkdir(this.root, { recursive: true });
    if (this.source === 'project') await writeFile(join(this.root, '.gitignore'), '*\n', { flag: 'wx' }).catch(ignoreExists);
  }
}

function ignoreExists(e: NodeJS.ErrnoException): void {
  if (e.code !== 'EEXIST') throw e;
}
