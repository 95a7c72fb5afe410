/** Pieces every `ext` command shares: the extension name, the project, the volume, the reporter. */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Project } from '../../config/project.js';
import { BuildError, InterruptedError, ReportedFailure, UsageError, isAvocadoError, type AvocadoError } from '../../util/errors.js';
import { Volume } from '../../volume/volume.js';
import type { CommandContext } from '../main.js';
import type { ExtCommonOptions, ExtMultiOptions, ExtReadOptions } from '../program.js';
import { Reporter } from '../reporter.js';

export function setupReporter(ctx: CommandContext, opts: ExtCommonOptions | ExtReadOptions): Reporter {
  const strict = 'strict' in opts && opts.strict === true;
  ctx.reporter = new Reporter({ json: opts.json === true, verbose: opts.verbose === true, strict, color: opts.color, env: ctx.env });
  return ctx.reporter;
}

/** NAME and -e/--extension are the same thing; both given must agree. */
export function extensionName(positional: string | undefined, opts: ExtCommonOptions): string | undefined {
  if (positional !== undefined && opts.extension !== undefined && positional !== opts.extension)
    throw new UsageError(`the extension is named twice, as '${positional}' and as -e '${opts.extension}'`, 'give it once');
  return positional ?? opts.extension;
}

/** NAME..., -e NAME or --all (every extension of the config, in its order): the extensions to work on, checked before any work. */
export function extensionNames(positional: readonly string[], opts: ExtMultiOptions, command: string, project: Project): string[] {
  let names = [...positional];
  if (opts.extension !== undefined) {
    if (names.length > 1 || (names.length === 1 && names[0] !== opts.extension))
      throw new UsageError(`the extensions are named twice, as ${names.map((n) => `'${n}'`).join(' ')} and as -e '${opts.extension}'`, 'give them once, as NAME...');
    names = [opts.extension];
  }
  if (opts.all) {
    if (names.length) throw new UsageError(`--all builds every extension of ${project.file}; it cannot be given with NAME`, 'drop NAME or --all');
    names = project.extensionNames();
    if (!names.length) throw new UsageError(`--all: ${project.file} defines no extensions`, 'add one under extensions:');
  }
  if (!names.length) return [requireName(undefined, command, project)];
  const repeated = names.find((n, i) => names.indexOf(n) !== i);
  if (repeated) throw new UsageError(`extension '${repeated}' is named more than once`, 'give each once');
  for (const n of names) if (!project.extensionNames().includes(n)) project.extension(n); // the unknown-extension error, with the known ones
  return names;
}

export interface Outcome<T> {
  readonly extension: string;
  readonly result?: T;
  readonly error?: AvocadoError;
  /** The warnings given while working on it (the first also holds those of loading the config). */
  readonly warnings: readonly string[];
}

/**
 * Runs `work` for each extension in order. One extension behaves as always (its error is the
 * command's); several stop at the first failure unless `--keep-going`, print one summary block
 * each, and with `--json` one array, each element as the single-extension document would be.
 */
export async function forEachExtension<T>(
  names: readonly string[],
  opts: ExtMultiOptions,
  reporter: Reporter,
  work: (name: string) => Promise<T>,
  render: (outcome: Outcome<T> & { result: T }) => void,
  command: string,
  /** The result as it appears in the JSON document. */
  toJson: (result: T) => object = (r) => r as object,
): Promise<void> {
  const document = (o: Outcome<T>): Record<string, unknown> =>
    o.error
      ? {
          schemaVersion: 1,
          ok: false,
          extension: o.extension,
          error: { message: o.error.line, exitCode: o.error.exitCode, ...(o.error instanceof BuildError && o.error.details ? { details: o.error.details } : {}) },
          warnings: o.warnings,
        }
      : { schemaVersion: 1, ok: true, ...toJson(o.result!), warnings: o.warnings };
  const single = names.length === 1 && !opts.all;
  const outcomes: Outcome<T>[] = [];
  let from = 0;
  for (const name of names) {
    try {
      const result = await work(name);
      reporter.checkpoint();
      const outcome = { extension: name, result, warnings: reporter.warnings.slice(from) };
      from = reporter.warnings.length;
      outcomes.push(outcome);
      if (!reporter.json) render(outcome);
    } catch (e) {
      if (single || !isAvocadoError(e) || e instanceof InterruptedError) throw e;
      outcomes.push({ extension: name, error: e, warnings: reporter.warnings.slice(from) });
      from = reporter.warnings.length;
      reporter.error(`${command} ${name}: ${e.line}`, e instanceof BuildError ? e.details : undefined, reporter.verboseOn ? e.stack : undefined);
      if (!opts.keepGoing) break;
    }
  }
  const failed = outcomes.filter((o) => o.error);
  if (single) {
    const o = outcomes[0]!;
    if (reporter.json) reporter.emitJson(document(o));
    return;
  }
  if (reporter.json) reporter.emitJson(outcomes.map(document));
  const skipped = names.length - outcomes.length;
  const summary = `${outcomes.length - failed.length} of ${names.length} extensions done${failed.length ? `; failed: ${failed.map((o) => o.extension).join(', ')}` : ''}${skipped ? `; not attempted after the failure: ${names.slice(outcomes.length).join(', ')} (--keep-going goes on)` : ''}`;
  if (!failed.length) {
    if (!reporter.json) reporter.done(summary);
    return;
  }
  reporter.error(summary);
  throw new ReportedFailure(summary, failed[0]!.error!.exitCode);
}

export async function loadProject(ctx: CommandContext, opts: ExtCommonOptions | ExtReadOptions, reporter: Reporter): Promise<{ project: Project; volume: Volume }> {
  const project = await Project.load({
    configPath: opts.config,
    cwd: ctx.cwd,
    env: ctx.env,
    target: opts.target,
    targetBoard: opts.targetBoard,
    runtime: opts.runtime,
    warn: (m) => reporter.warn(m),
  });
  const volume = await Volume.locate({ flag: opts.volume, env: ctx.env, cwd: ctx.cwd, projectDir: project.dir, warn: (m) => reporter.warn(m) });
  reporter.verbose(`config ${project.file}; volume ${volume.describe()}`);
  return { project, volume };
}

export function requireName(name: string | undefined, command: string, project?: Project): string {
  if (name) return name;
  const known = project?.extensionNames() ?? [];
  throw new UsageError(
    `no extension named: avocado ${command} <NAME>`,
    known.length ? `extensions in ${project!.file}: ${known.join(', ')}` : 'give the extension name as NAME or -e NAME',
  );
}

export interface ImageArgument {
  readonly path: string;
  /** When the argument named an extension: its project, volume and configuration. */
  readonly project?: Project;
  readonly volume?: Volume;
  readonly extension?: string;
}

/**
 * IMAGE|NAME: an existing file is an image; any other word is an extension of avocado.yaml,
 * whose image in the volume it means (it must exist).
 */
export async function resolveImageArgument(
  arg: string,
  ctx: CommandContext,
  opts: ExtReadOptions,
  reporter: Reporter,
  loaded?: { project: Project; volume: Volume },
): Promise<ImageArgument> {
  const path = resolve(ctx.cwd, arg);
  const st = await stat(path).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' || e.code === 'ENOTDIR' ? undefined : Promise.reject(e)));
  if (st) {
    if (st.isDirectory()) throw new UsageError(`${arg} is a directory, not an image`, 'give an image file (.raw) or an extension name');
    return { path };
  }
  if (arg.includes('/') || arg.endsWith('.raw'))
    throw new UsageError(`${arg}: no such file`, 'give an existing image file, or an extension name of avocado.yaml');
  const { project, volume } = loaded ?? (await loadProject(ctx, { ...opts, strict: false }, reporter));
  if (!project.extensionNames().includes(arg))
    throw new UsageError(
      `${arg} is neither an image file nor an extension of ${project.file}`,
      project.extensionNames().length ? `extensions: ${project.extensionNames().join(', ')}` : 'give an image file',
    );
  const ext = project.extension(arg);
  const imagePath = volume.imagePath(project.target, ext.name, ext.version);
  if (!(await stat(imagePath).catch(() => undefined)))
    throw new UsageError(`extension ${arg} has no image for target ${project.target}: ${imagePath} does not exist`, `build it with 'avocado ext image ${arg}${opts.target ? ` -t ${opts.target}` : ''}'`);
  reporter.verbose(`${arg}: the image ${imagePath}`);
  return { path: imagePath, project, volume, extension: arg };
}
