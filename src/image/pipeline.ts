/**
 * `avocado ext image`, independent of the command line: resolve the extension, walk its sysroot
 * into the entry list, check it as systemd will (the plan; all `--dry-run` does), have the engine
 * write a temporary image, then publish it atomically (and copy it to --out).
 */
import { copyFile, open, statfs } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { ExtensionConfig, Project } from '../config/project.js';
import { chooseEngine, loadEngine, type EngineChoice } from '../engines/index.js';
import type { BuildRequest } from '../engines/engine.js';
import type { ContainerSettings } from '../engines/container.js';
import type { RemoteInfo } from '../container/remote.js';
import { filesystemInfo, type FilesystemFamily, type FilesystemInfo } from '../formats/filesystems.js';
import { IMAGE_HEAD_BYTES, declaredImageSize } from '../formats/image-size.js';
import { openImage } from '../formats/open-image.js';
import { Exclusions } from '../sysroot/exclude.js';
import { lintSysroot } from '../sysroot/lint.js';
import type { SysrootTree } from '../sysroot/entry.js';
import { walkSysroot, type ExcludedPath } from '../sysroot/walk.js';
import { AtomicFile } from '../util/atomic.js';
import { BuildError, InterruptedError, formatLocation } from '../util/errors.js';
import { explainFsError } from '../util/fs-errors.js';
import { sha256Handle } from '../util/hash.js';
import { formatBytes, type Reporter } from '../util/reporter.js';
import { formatDifference } from './compare.js';
import { verifyImage } from './verify.js';
import type { Volume } from '../volume/volume.js';

export interface ImageOptions {
  readonly project: Project;
  readonly volume: Volume;
  readonly extension: string;
  /** `--engine`, if given. */
  readonly engineFlag?: string;
  /** `--filesystem`, if given: overrides the configured one for this build. */
  readonly filesystem?: string;
  readonly env: NodeJS.ProcessEnv;
  /** For the container engine (locally or, with `--runs-on`, remotely). */
  readonly container: ContainerSettings;
  /** `--out`, relative to cwd. */
  readonly outDir?: string;
  readonly cwd: string;
  readonly signal: AbortSignal;
  readonly reporter: Reporter;
  /** `--verify`: read the image back and compare it with the entry list before publishing it. */
  readonly verify?: boolean;
  /** Called once everything is checked and before anything is written (`--strict` fails there). */
  readonly checkpoint?: () => void;
}

/** Everything decided before a byte is written: what `--dry-run` shows. */
export interface ImagePlan {
  readonly extension: string;
  readonly version: string;
  readonly target: string;
  /** The runtime in effect (`-r`, AVOCADO_RUNTIME, …), if any. */
  readonly runtime?: { readonly name: string; readonly source: string };
  readonly types: readonly string[];
  readonly filesystem: FilesystemInfo;
  readonly filesystemSource: string;
  readonly erofsClusterSize?: number;
  readonly engine: EngineChoice;
  readonly sourceDateEpoch: number;
  readonly sysroot: string;
  readonly tree: SysrootTree;
  readonly excluded: readonly ExcludedPath[];
  readonly imagePath: string;
  /** Where `--out` copies it. */
  readonly out?: string;
}

/** A plan as data (`--dry-run --json`, and the common part of every result). */
export function describePlan(plan: ImagePlan) {
  return {
    extension: plan.extension,
    version: plan.version,
    target: plan.target,
    ...(plan.runtime ? { runtime: plan.runtime } : {}),
    types: plan.types,
    filesystem: plan.filesystem.value,
    filesystemSource: plan.filesystemSource,
    engine: plan.engine.name,
    engineSource: plan.engine.source,
    sourceDateEpoch: plan.sourceDateEpoch,
    sysroot: plan.sysroot,
    entries: plan.tree.stats.entries,
    files: plan.tree.stats.files,
    fileBytes: plan.tree.stats.fileBytes,
    excluded: plan.excluded.map((x) => ({ path: x.display, kind: x.kind, pattern: x.rule.pattern, ...(x.rule.location ? { from: formatLocation(x.rule.location) } : {}) })),
  };
}

export interface ImageResult extends ReturnType<typeof describePlan> {
  readonly tool: string;
  /** `--runs-on`: where it was built and how the volume was shared. */
  readonly remote?: RemoteInfo;
  readonly image: { readonly path: string; readonly size: number; readonly sha256: string };
  readonly out?: string;
  /** `--verify`: what was read back and compared, and how long it took. */
  readonly verified?: { readonly entries: number; readonly files: number; readonly bytes: number; readonly durationMs: number };
  readonly durationMs: number;
}

/**
 * The written image must be as long as its superblock says: a tool that lost writes (a full disk
 * behind NFS reports itself only when the file is closed, and mksquashfs ignores that) would
 * otherwise publish a truncated image as a success.
 */
async function checkComplete(path: string, family: FilesystemFamily, tool: string): Promise<void> {
  const fh = await open(path, 'r');
  let size: number;
  let declared: number;
  try {
    size = (await fh.stat()).size;
    const head = Buffer.alloc(IMAGE_HEAD_BYTES);
    await fh.read(head, 0, head.length, 0);
    try {
      declared = declaredImageSize(family, head);
    } catch (e) {
      throw new BuildError(`${tool} did not write a ${family} image (${(e as Error).message})`, 'the previous image is unchanged');
    }
  } finally {
    await fh.close();
  }
  if (size >= declared) return;
  const free = await statfs(dirname(path)).then((s) => s.bavail * s.bsize, () => undefined);
  throw new BuildError(
    `the image is incomplete: its superblock says ${declared} bytes, the file has ${size} (written by ${tool})`,
    free !== undefined && free < declared - size
      ? `the disk holding ${dirname(path)} is full (${formatBytes(free)} free); free some space, the previous image is unchanged`
      : 'a write was lost on the way to the disk; the previous image is unchanged',
  );
}

export function sysrootHint(ext: string, target: string, runtime?: string): string {
  return `create it with 'avocado ext build ${ext} -t ${target}${runtime ? ` -r ${runtime}` : ''}' (overlay and release files); its packages are installed by the Rust Avocado CLI, which also installs a command named avocado ('avocado ext install ${ext}' with that tool; avocado-ext has no ext install)`;
}

/** Resolves, walks, excludes and checks: everything but writing. Reports steps and warnings. */
export async function planImage(opts: ImageOptions): Promise<ImagePlan> {
  const { project, volume, reporter } = opts;
  const warn = (m: string) => reporter.warn(m);
  const ext: ExtensionConfig = project.extension(opts.extension);
  const engineChoice = chooseEngine({ flag: opts.engineFlag, env: opts.env, config: project.engine, container: opts.container });
  for (const w of engineChoice.warnings) warn(w);
  const filesystem = opts.filesystem !== undefined ? filesystemInfo(opts.filesystem)! : ext.filesystem;
  const filesystemSource = opts.filesystem !== undefined ? '--filesystem' : ext.filesystemSource;
  const target = project.target;
  reporter.step(`extension ${ext.name} ${ext.version}, target ${target} (from ${project.targetSource}), types ${ext.types.join(', ')}`);
  reporter.step(`filesystem ${filesystem.value}: ${filesystem.description} (from ${filesystemSource})`);

  project.reportRuntime(ext.name, 'imaging', { step: (l) => reporter.step(l), warn, verbose: (l) => reporter.verbose(l) });
  const sysroot = (await volume.extensionSysroot(target, ext.name, project.runtime?.name, { verbose: (l) => reporter.verbose(l), warn })).path;
  reporter.step(`walking ${sysroot}`);
  const exclusions = new Exclusions(ext.varFiles);
  const { tree, excluded } = await walkSysroot(sysroot, exclusions, sysrootHint(ext.name, target, project.runtime && !project.runtime.implicit ? project.runtime.name : undefined));
  for (const rule of exclusions.unmatched()) warn(`${formatLocation(rule.location!)}: var_files pattern '${rule.pattern}' matches nothing in the sysroot`);
  for (const rule of exclusions.rules)
    if (rule.location && rule.matches && !/^var(\/|$)/.test(rule.glob) && !rule.glob.startsWith('**'))
      warn(`${formatLocation(rule.location)}: var_files pattern '${rule.pattern}' is outside var/; it is left out of the image all the same`);
  for (const x of excluded) reporter.verbose(`excluded ${x.display}${x.kind === 'directory' ? '/' : ''} (${x.rule.location ? `var_files '${x.rule.pattern}'` : 'package-manager state'})`);
  reporter.step(`${tree.stats.entries} entries (${formatBytes(tree.stats.fileBytes)} in ${tree.stats.files} files), ${excluded.length} path(s) excluded`);
  for (const w of await lintSysroot({ root: tree.root, name: ext.name, version: ext.version, types: ext.types })) warn(w);
  if (ext.erofsClusterSize !== undefined && (filesystem.family !== 'erofs' || filesystem.compressor === 'none'))
    warn(`extensions.${ext.name}.erofs_cluster_size applies to compressed EROFS (erofs-lz4, erofs-zst) only; ignored for ${filesystem.value}`);
  return {
    extension: ext.name,
    version: ext.version,
    target,
    ...(project.runtime ? { runtime: { name: project.runtime.name, source: project.runtime.source } } : {}),
    types: ext.types,
    filesystem,
    filesystemSource,
    erofsClusterSize: ext.erofsClusterSize,
    engine: engineChoice,
    sourceDateEpoch: project.sourceDateEpoch,
    sysroot,
    tree,
    excluded,
    imagePath: volume.imagePath(target, ext.name, ext.version),
    out: opts.outDir !== undefined ? join(resolve(opts.cwd, opts.outDir), volume.imageFileName(ext.name, ext.version)) : undefined,
  };
}

/**
 * The --out copy, made from this build's temporary before the image is published (so that it
 * holds this build's bytes); a failure to make it fails the build after the image is published.
 */
type OutCopy = { readonly file: AtomicFile; readonly error?: undefined } | { readonly file?: undefined; readonly error: BuildError };

async function copyOut(from: string, to: string, imagePath: string): Promise<OutCopy> {
  let file: AtomicFile | undefined;
  try {
    file = await AtomicFile.create(to);
    await copyFile(from, file.tempPath);
    return { file };
  } catch (e) {
    await file?.discard();
    return { error: outError(e, to, imagePath) };
  }
}

function outError(e: unknown, out: string, imagePath: string): BuildError {
  const why = explainFsError(e)?.message ?? (e as Error).message;
  return new BuildError(`cannot copy the image to ${out}: ${why}`, `the image itself is at ${imagePath}; fix --out or its permissions`);
}

export async function buildImage(opts: ImageOptions): Promise<ImageResult> {
  const started = performance.now();
  const { project, volume, reporter } = opts;
  const plan = await planImage(opts);
  opts.checkpoint?.();
  const { imagePath, tree } = plan;

  const engine = await loadEngine(plan.engine.name, { project, volume, env: opts.env, container: opts.container });
  await volume.ensureOutputDir(plan.target);
  const file = await AtomicFile.create(imagePath);
  let tool: string;
  let sha256: string;
  let size: number;
  let outCopy: OutCopy | undefined;
  let verified: ImageResult['verified'];
  try {
    const request: BuildRequest = {
      tree,
      excluded: plan.excluded,
      filesystem: plan.filesystem,
      erofsClusterSize: plan.erofsClusterSize,
      sourceDateEpoch: plan.sourceDateEpoch,
      output: file.tempPath,
      signal: opts.signal,
      // Engines that count input bytes report a total: the bar's is the walk's byte count.
      progress: (done, total) => reporter.progress(done, total === undefined ? undefined : tree.stats.fileBytes),
      step: (line) => reporter.step(line),
      warn: (line) => reporter.warn(line),
      verbose: (line) => reporter.verbose(line),
    };
    tool = await engine.prepare(request);
    reporter.step(`engine ${engine.name} (from ${plan.engine.source}): ${tool}, source_date_epoch ${plan.sourceDateEpoch}`);
    await engine.build(request);
    opts.signal.throwIfAborted();
    await checkComplete(file.tempPath, plan.filesystem.family, tool);
    if (opts.verify) verified = await verifyBuilt(file.tempPath, plan, opts, tool);
    reporter.verbose(`image written, syncing it to disk and hashing it`);
    // The data is in the page cache: hash it while fsync waits for the disk. Size, hash and the
    // --out copy all come from this build's own temporary, before it is renamed into place: a
    // concurrent build of the same image may rename its own over it at any moment after.
    const fh = await open(file.tempPath, 'r');
    try {
      [sha256, size] = await Promise.all([sha256Handle(fh), fh.stat().then((st) => st.size), file.sync()]);
    } finally {
      await fh.close();
    }
    if (plan.out !== undefined) outCopy = await copyOut(file.tempPath, plan.out, imagePath);
    await file.publish();
  } catch (e) {
    await file.discard();
    await outCopy?.file?.discard();
    if (opts.signal.aborted) throw opts.signal.reason instanceof Error ? opts.signal.reason : new InterruptedError('SIGINT');
    if ((e as NodeJS.ErrnoException).code === 'ENOSPC') throw new BuildError(`no space left on the device holding ${imagePath}`, 'free some space; the previous image is unchanged');
    throw e;
  }

  reporter.verbose(`published ${imagePath}`);
  if (outCopy) {
    if (!outCopy.file) throw outCopy.error;
    try {
      await outCopy.file.commit();
    } catch (e) {
      await outCopy.file.discard();
      throw outError(e, plan.out!, imagePath);
    }
    reporter.step(`copied to ${plan.out}`);
  }
  return {
    ...describePlan(plan),
    tool,
    ...(engine.remote ? { remote: engine.remote } : {}),
    image: { path: imagePath, size, sha256 },
    out: plan.out,
    ...(verified ? { verified } : {}),
    durationMs: Math.round(performance.now() - started),
  };
}

/** How many differences a failed --verify names under its error line. */
const VERIFY_DETAILS = 20;

/** `--verify`: the temporary image read back in full and compared with the entry list; a difference fails the build. */
async function verifyBuilt(path: string, plan: ImagePlan, opts: ImageOptions, tool: string): Promise<NonNullable<ImageResult['verified']>> {
  const started = performance.now();
  opts.reporter.step('verifying: reading the image back and comparing it with the sysroot');
  const reader = await openImage(path);
  let result: Awaited<ReturnType<typeof verifyImage>>;
  try {
    result = await verifyImage(reader, {
      tree: plan.tree,
      sourceDateEpoch: plan.sourceDateEpoch,
      signal: opts.signal,
      progress: (b) => opts.reporter.progress(b, plan.tree.stats.fileBytes),
    });
  } finally {
    await reader.close();
  }
  const n = result.differences.length;
  if (n) {
    const names = { a: 'the sysroot', b: 'the image' };
    const lines = result.differences.slice(0, VERIFY_DETAILS).map((d) => formatDifference(d, names));
    if (n > VERIFY_DETAILS) lines.push(`… and ${n - VERIFY_DETAILS} more`);
    throw new BuildError(
      `--verify: the image ${tool} wrote differs from the sysroot in ${n} entr${n === 1 ? 'y' : 'ies'}`,
      `it was not published, the previous image is unchanged; check with 'avocado ext verify' after building without --verify, and report it`,
      lines.join('\n'),
    );
  }
  const durationMs = Math.round(performance.now() - started);
  opts.reporter.verbose(`verified ${result.entries} entries, ${formatBytes(result.bytes)} of content, in ${durationMs} ms`);
  return { entries: result.entries, files: result.files, bytes: result.bytes, durationMs };
}
