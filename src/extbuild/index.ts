/**
 * `avocado ext build NAME` without the SDK: overlay into the sysroot, extension-release files for
 * each type (stale ones of other versions removed), service enablement. Everything is planned and
 * checked first (plan.ts), then written; what was written is recorded next to the sysroot
 * (record.ts), so the next build removes what this one wrote and that build no longer writes.
 */
import { realpath, stat } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import type { ExtensionConfig, OverlaySpec, Project } from '../config/project.js';
import { isSemver, type ExtensionType } from '../config/schema.js';
import { releaseFilePath } from '../sysroot/lint.js';
import type { Volume } from '../volume/volume.js';
import { joinKey, keyOf, show } from './disk.js';
import { readOverlay, type Overlay } from './overlay.js';
import { SysrootPlan } from './plan.js';
import { readBuildRecord, UnreadableRecordError, writeBuildRecord, type BuildRecord } from './record.js';
import { releaseFileContent, type DetectedContent } from './release.js';
import { planServiceLinks, type ServiceLink } from './services.js';
import { ConfigError, formatLocation } from '../util/errors.js';
import type { Reporter } from '../util/reporter.js';

export interface ExtBuildResult {
  readonly extension: string;
  readonly version: string;
  readonly target: string;
  /** The runtime in effect, if any, and where it came from. */
  readonly runtime?: { readonly name: string; readonly source: string };
  readonly sysroot: string;
  /** Which sysroot: `runtime` (<target>/runtimes/<rt>/extensions/<ext>) or `legacy` (<target>/extensions/<ext>). */
  readonly sysrootScope: 'runtime' | 'legacy';
  /** entries: what the overlay holds; copied + unchanged = entries. */
  readonly overlay?: { dir: string; mode: string; entries: number; copied: number; unchanged: number };
  readonly releaseFiles: readonly string[];
  /** Release files of the extension's other versions that were removed. */
  readonly removedReleaseFiles: readonly string[];
  /** Every path removed: what an earlier build wrote and this one does not, and the release files above. */
  readonly removed: readonly string[];
  /** Paths an earlier build wrote and this one does not, left in place, and why. */
  readonly kept: readonly { path: string; reason: string }[];
  readonly serviceLinks: readonly ServiceLink[];
  /** The build record (what this build wrote). */
  readonly record: string;
  readonly warnings: readonly string[];
}

export async function buildExtension(opts: {
  project: Project;
  volume: Volume;
  extension: string;
  reporter: Reporter;
  signal?: AbortSignal;
  /** Called once everything is checked and before the first write (`--strict` fails there). */
  checkpoint?: () => void;
}): Promise<ExtBuildResult> {
  const { project, volume, reporter } = opts;
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    reporter.warn(m);
  };
  const ext = project.extension(opts.extension);
  const target = project.target;
  const recordFile = volume.buildRecord(target, ext.name);
  reporter.step(`extension ${ext.name} ${ext.version}, target ${target} (from ${project.targetSource}), types ${ext.types.join(', ')}`);
  project.reportRuntime(ext.name, 'building', { step: (l) => reporter.step(l), warn, verbose: (l) => reporter.verbose(l) });
  const { path: sysroot, scope: sysrootScope } = await volume.extensionSysroot(target, ext.name, project.runtime?.name, { verbose: (l) => reporter.verbose(l), warn });
  if (ext.sdkOnly.length)
    warn(`${ext.sdkOnly.join(', ')} configured: installing packages and running SDK steps needs the Avocado SDK and is not done here; only the overlay and release files are written`);

  // Plan and check everything; nothing is written before the plan is complete.
  let previous: BuildRecord | undefined;
  try {
    previous = await readBuildRecord(recordFile);
  } catch (e) {
    if (!(e instanceof UnreadableRecordError)) throw e;
    warn(`${e.message}: ignored, so nothing an earlier build wrote is removed this time; 'avocado ext clean ${ext.name}' then 'avocado ext build ${ext.name}' starts afresh`);
  }
  if (previous && (await isOtherSysroot(previous.sysroot, sysroot))) {
    // Another sysroot (another runtime's, or the legacy one): its paths say nothing of this one.
    warn(`${recordFile} records a build into ${previous.sysroot}, not ${sysroot}: not applied, so nothing an earlier build wrote is removed from ${sysroot} this time`);
    previous = undefined;
  }
  let overlay: Overlay | undefined;
  if (ext.overlay) {
    const dir = resolve(project.sourceDir, ext.overlay.dir);
    await checkOverlayPlace(dir, ext.overlay, { project, volume, warn });
    overlay = await readOverlay(dir, ext.overlay);
  }
  const plan = new SysrootPlan(sysroot, previous);
  await plan.dropStale(new Map(overlay?.items.map((i) => [i.key, i]) ?? []));
  if (overlay) await plan.addOverlay(overlay.items, { what: `the overlay '${overlay.spec.dir}'`, location: overlay.spec.location });

  const found = await detectContent(plan);
  const releaseFiles: string[] = [];
  const removedReleaseFiles: string[] = [];
  for (const type of ext.types) {
    const rel = releaseFilePath(type, `${ext.name}-${ext.version}`);
    await plan.addFile(keyOf(rel), releaseFileContent(type, ext, found), { what: `the ${type} release file` });
    releaseFiles.push(rel);
    removedReleaseFiles.push(...(await removeOtherVersions(plan, type, ext)));
  }

  let serviceLinks: ServiceLink[] = [];
  if (ext.enableServices.length) {
    const where = { file: project.file, yamlPath: `extensions.${ext.name}.enable_services` };
    if (!ext.types.includes('confext'))
      warn(`extensions.${ext.name}.enable_services is set but confext is not in types: service links live in /etc and only a confext merges them; add confext to types`);
    else serviceLinks = await planServiceLinks(plan, ext.enableServices, where);
  }

  opts.checkpoint?.();
  // Write.
  await volume.ensureRoot();
  const save = (paths: BuildRecord['paths']) => writeBuildRecord(recordFile, { extension: ext.name, target, sysroot, paths });
  const hint = `fix that and run ext build again (what was written before the error is recorded in ${recordFile})`;
  const applied = await plan.apply({ signal: opts.signal, hint, onFailure: save });
  await save(applied.record);

  const removed = applied.removed.map((r) => show(r.key));
  const released = new Set(removedReleaseFiles);
  const stale = removed.filter((p) => !released.has(p));
  if (stale.length) {
    reporter.step(`removed ${stale.length} path(s) an earlier ext build wrote that this build no longer writes`);
    for (const p of stale) reporter.verbose(`removed ${p}`);
  }
  for (const p of removed.filter((p) => released.has(p))) reporter.step(`removed ${p} (another version)`);
  const kept = plan.kept.map((k) => ({ path: show(k.key), reason: k.reason }));
  const replaced = kept.filter((k) => k.reason !== 'not empty');
  if (replaced.length)
    reporter.step(`left ${replaced.length} path(s) in place that an earlier ext build wrote but that were replaced since (e.g. ${replaced[0]!.path}): not removed`);
  for (const k of kept) reporter.verbose(`kept ${k.path}: ${k.reason}`);

  let overlayResult: ExtBuildResult['overlay'];
  if (overlay) {
    overlayResult = { dir: overlay.dir, mode: overlay.spec.mode, entries: overlay.items.length, copied: applied.copied, unchanged: applied.unchanged };
    reporter.step(`overlay ${overlay.dir} (${overlay.spec.mode}): ${overlay.items.length} entries into ${sysroot}, ${applied.copied} copied, ${applied.unchanged} unchanged`);
  }
  for (const rel of releaseFiles) reporter.step(`wrote ${rel}`);
  for (const l of serviceLinks) reporter.step(`enabled ${l.service}: ${l.link} -> ${l.unit}`);
  reporter.verbose(`build record ${recordFile}`);
  return {
    extension: ext.name,
    version: ext.version,
    target,
    ...(project.runtime ? { runtime: { name: project.runtime.name, source: project.runtime.source } } : {}),
    sysroot,
    sysrootScope,
    overlay: overlayResult,
    releaseFiles,
    removedReleaseFiles: removed.filter((p) => released.has(p)),
    removed,
    kept,
    serviceLinks,
    record: recordFile,
    warnings,
  };
}

/**
 * The recorded sysroot is another directory that still exists (the runtime-scoped one and the
 * legacy one, or two runtimes'). One that is gone (the volume moved) is taken as this one, as
 * before: each recorded path is checked against its inode anyway.
 */
async function isOtherSysroot(recorded: string, current: string): Promise<boolean> {
  if (recorded === current) return false;
  const was = await stat(recorded).catch(() => undefined);
  if (!was) return false;
  const now = await stat(current).catch(() => undefined);
  return !now || was.dev !== now.dev || was.ino !== now.ino;
}

/**
 * The overlay is copied whole into the sysroot, and so into the image: one outside the project
 * (`../../../etc` is the host's /etc) gets a warning at its YAML path, one holding the volume
 * (`overlay: .`) is refused, as it would copy the sysroot into itself. A missing one is left to
 * readOverlay.
 */
async function checkOverlayPlace(dir: string, spec: OverlaySpec, ctx: { project: Project; volume: Volume; warn: (m: string) => void }): Promise<void> {
  const real = await realpath(dir).catch(() => undefined);
  if (real === undefined) return;
  const within = (path: string, parent: string) => path === parent || path.startsWith(parent.endsWith(sep) ? parent : `${parent}${sep}`);
  const volume = await realpath(ctx.volume.root).catch(() => resolve(ctx.volume.root));
  if (within(volume, real))
    throw new ConfigError(
      `overlay directory '${spec.dir}' (${real}) holds the volume ${volume}: ext build would copy the sysroot into itself`,
      spec.location,
      'point overlay: at a directory of its own, e.g. overlay/ beside avocado.yaml',
    );
  const projectDir = await realpath(ctx.project.dir).catch(() => ctx.project.dir);
  const sourceDir = await realpath(ctx.project.sourceDir).catch(() => ctx.project.sourceDir);
  if (!within(real, projectDir) && !within(real, sourceDir))
    ctx.warn(
      `${formatLocation(spec.location)}: overlay directory '${spec.dir}' is ${real}, outside the project ${projectDir}: ext build copies all of it into the sysroot and the image; move it into the project if that is not meant`,
    );
}

/** extension-release.NAME-<other semver> files: left over from builds of other versions. */
async function removeOtherVersions(plan: SysrootPlan, type: ExtensionType, ext: ExtensionConfig): Promise<string[]> {
  const dir = keyOf(releaseFilePath(type, '')).replace(/\/[^/]*$/, '');
  const prefix = keyOf(`extension-release.${ext.name}-`);
  const found: string[] = [];
  for (const name of await plan.namesIn(dir)) {
    if (!name.startsWith(prefix)) continue;
    const version = show(name.slice(prefix.length));
    if (version === ext.version || !isSemver(version)) continue;
    const key = joinKey(dir, name);
    await plan.remove(key, 'another version');
    found.push(show(key));
  }
  return found;
}

async function detectContent(plan: SysrootPlan): Promise<DetectedContent> {
  const any = async (dirs: string[], pattern: RegExp) => {
    for (const d of dirs) for (const key of await plan.keysUnder(keyOf(d))) if (pattern.test(show(key).split('/').pop()!)) return true;
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
