/**
 * `avocado ext build NAME` without the SDK: overlay into the sysroot, extension-release files for
 * each type (stale ones of other versions removed), service enablement.
 */
import { chmod, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ExtensionConfig, Project } from '../config/project.js';
import { isSemver, type ExtensionType } from '../config/schema.js';
import { releaseFilePath } from '../sysroot/lint.js';
import type { Volume } from '../volume/volume.js';
import { copyOverlay } from './overlay.js';
import { releaseFileContent, type DetectedContent } from './release.js';
import { enableServices } from './services.js';
import type { Reporter } from '../util/reporter.js';

export interface ExtBuildResult {
  readonly extension: string;
  readonly version: string;
  readonly target: string;
  readonly sysroot: string;
  readonly overlay?: { dir: string; mode: string; entries: number };
  readonly releaseFiles: readonly string[];
  readonly removedReleaseFiles: readonly string[];
  readonly warnings: readonly string[];
}

export async function buildExtension(opts: { project: Project; volume: Volume; extension: string; reporter: Reporter }): Promise<ExtBuildResult> {
  const { project, volume, reporter } = opts;
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    reporter.warn(m);
  };
  const ext = project.extension(opts.extension);
  const sysroot = volume.sysroot(project.target, ext.name);
  reporter.step(`extension ${ext.name} ${ext.version}, target ${project.target} (from ${project.targetSource}), types ${ext.types.join(', ')}`);
  if (ext.sdkOnly.length)
    warn(`${ext.sdkOnly.join(', ')} configured: installing packages and running SDK steps needs the Avocado SDK and is not done here; only the overlay and release files are written`);
  await volume.ensureRoot();
  await mkdirExact(sysroot);

  let overlay: ExtBuildResult['overlay'];
  if (ext.overlay) {
    const dir = resolve(project.sourceDir, ext.overlay.dir);
    const entries = await copyOverlay(dir, ext.overlay, sysroot);
    overlay = { dir, mode: ext.overlay.mode, entries };
    reporter.step(`overlay ${dir} (${ext.overlay.mode}): ${entries} entries copied into ${sysroot}`);
  }

  const found = await detectContent(sysroot);
  const releaseFiles: string[] = [];
  const removed: string[] = [];
  for (const type of ext.types) {
    const rel = releaseFilePath(type, `${ext.name}-${ext.version}`);
    const dir = join(sysroot, rel, '..');
    await mkdirExact(dir);
    removed.push(...(await removeOtherVersions(sysroot, type, ext)));
    const path = join(sysroot, rel);
    await writeFile(path, releaseFileContent(type, ext, found));
    await chmod(path, 0o644);
    releaseFiles.push(rel);
    reporter.step(`wrote ${rel}`);
  }
  for (const r of removed) reporter.step(`removed ${r} (another version)`);

  if (ext.enableServices.length) {
    const where = { file: project.file, yamlPath: `extensions.${ext.name}.enable_services` };
    if (!ext.types.includes('confext'))
      warn(`extensions.${ext.name}.enable_services is set but confext is not in types: service links live in /etc and only a confext merges them; add confext to types`);
    else await enableServices(sysroot, ext.enableServices, where, (m) => reporter.step(m));
  }
  return { extension: ext.name, version: ext.version, target: project.target, sysroot, overlay, releaseFiles, removedReleaseFiles: removed, warnings };
}

/** mkdir -p with mode 0755 whatever the umask, for directories that end up in the image. */
async function mkdirExact(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (!first) return;
  for (let d = dir; d.length >= first.length; d = resolve(d, '..')) await chmod(d, 0o755);
}

/** extension-release.NAME-<other semver> files: left over from builds of other versions. */
async function removeOtherVersions(sysroot: string, type: ExtensionType, ext: ExtensionConfig): Promise<string[]> {
  const rel = releaseFilePath(type, '');
  const dir = join(sysroot, rel, '..');
  const prefix = `extension-release.${ext.name}-`;
  const removed: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith(prefix)) continue;
    const version = name.slice(prefix.length);
    if (version === ext.version || !isSemver(version)) continue;
    await rm(join(dir, name), { force: true });
    removed.push(join(rel, '..', name));
  }
  return removed;
}

async function detectContent(sysroot: string): Promise<DetectedContent> {
  const any = async (dirs: string[], pattern: RegExp) => {
    for (const d of dirs) if (await hasFile(join(sysroot, d), pattern)) return true;
    return false;
  };
  const conf = /\.conf$/;
  return {
    kernelModules: await any(['usr/lib/modules'], /\.ko(\.xz|\.gz)?$/),
    sysusers: { sysext: await any(['usr/local/lib/sysusers.d', 'usr/lib/sysusers.d'], conf), confext: await any(['etc/sysusers.d'], conf) },
    tmpfiles: { sysext: await any(['usr/local/lib/tmpfiles.d', 'usr/lib/tmpfiles.d'], conf), confext: await any(['etc/tmpfiles.d'], conf) },
    ldconfig: await any(['etc/ld.so.conf.d'], conf),
  };
}

/** Whether any entry below `dir` (recursively, as `find -name`) has a name matching `pattern`. */
async function hasFile(dir: string, pattern: RegExp): Promise<boolean> {
  if (!(await stat(dir).catch(() => undefined))?.isDirectory()) return false;
  const names = await readdir(dir, { recursive: true });
  return names.some((n) => pattern.test(n.split('/').pop()!));
}
