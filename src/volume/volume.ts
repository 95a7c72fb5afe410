/**
 * The state directory, laid out like the Avocado CLI's Docker volume at /opt/_avocado:
 *   <root>/<target>/extensions/<ext>/                   extension sysroot
 *   <root>/<target>/output/extensions/<ext>-<ver>.raw   image
 * By default it lives in the project, next to avocado.yaml, as `_avocado/` (which ignores itself
 * for git); `--volume` or AVOCADO_VOLUME put it elsewhere.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

export const DEFAULT_VOLUME_DIR = '_avocado';

export type VolumeSource = '--volume' | 'AVOCADO_VOLUME' | 'project';

export class Volume {
  constructor(
    readonly root: string,
    readonly source: VolumeSource,
  ) {}

  static resolve(opts: { flag?: string; env: Readonly<Record<string, string | undefined>>; cwd: string; projectDir: string }): Volume {
    if (opts.flag) return new Volume(resolve(opts.cwd, opts.flag), '--volume');
    if (opts.env.AVOCADO_VOLUME) return new Volume(resolve(opts.cwd, opts.env.AVOCADO_VOLUME), 'AVOCADO_VOLUME');
    return new Volume(join(opts.projectDir, DEFAULT_VOLUME_DIR), 'project');
  }

  sysroot(target: string, extension: string): string {
    return join(this.root, target, 'extensions', extension);
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
    await mkdir(this.root, { recursive: true });
    if (this.source === 'project') await writeFile(join(this.root, '.gitignore'), '*\n', { flag: 'wx' }).catch(ignoreExists);
  }
}

function ignoreExists(e: NodeJS.ErrnoException): void {
  if (e.code !== 'EEXIST') throw e;
}
