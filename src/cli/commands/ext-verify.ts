/** `avocado ext verify IMAGE|NAME [--sysroot DIR]`. */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { openImage } from '../../formats/open-image.js';
import { formatDifference } from '../../image/compare.js';
import { sysrootHint } from '../../image/pipeline.js';
import { verifyImage, type VerifyResult } from '../../image/verify.js';
import { Exclusions } from '../../sysroot/exclude.js';
import type { SysrootTree } from '../../sysroot/entry.js';
import { walkSysroot } from '../../sysroot/walk.js';
import { ExitCode, ReportedFailure, UsageError } from '../../util/errors.js';
import { formatBytes } from '../../util/reporter.js';
import type { CommandContext } from '../main.js';
import type { ExtVerifyOptions } from '../program.js';
import { loadProject, resolveImageArgument, setupReporter } from './shared.js';

/** How many differences the text output shows; --json has them all. */
const SHOWN = 50;

export default async function extVerify(ctx: CommandContext, args: unknown[]): Promise<void> {
  const [arg, , cmd] = args as [string, ExtVerifyOptions, Command];
  const opts = cmd.optsWithGlobals<ExtVerifyOptions>();
  const reporter = setupReporter(ctx, opts);
  const epochFlag = opts.sourceDateEpoch === undefined ? undefined : parseEpoch(opts.sourceDateEpoch);
  const image = await resolveImageArgument(arg, ctx, opts, reporter);
  if (image.extension && opts.extension !== undefined && opts.extension !== image.extension)
    throw new UsageError(`the extension is named twice, as '${image.extension}' and as -e '${opts.extension}'`, 'give it once');
  if (!image.extension && opts.extension !== undefined && opts.sysroot === undefined)
    throw new UsageError('-e only applies with --sysroot (its var_files and source_date_epoch)', 'add --sysroot DIR, or give the extension NAME instead of the image');

  // What to compare with: NAME's sysroot as ext image chooses it, or --sysroot.
  let tree: SysrootTree | undefined;
  let sourceDateEpoch = epochFlag ?? 0;
  const extName = image.extension ?? opts.extension;
  if (image.extension || opts.sysroot !== undefined) {
    const { project, volume } = image.project && image.volume ? { project: image.project, volume: image.volume } : extName ? await loadProject(ctx, opts, reporter) : { project: undefined, volume: undefined };
    const ext = extName && project ? project.extension(extName) : undefined;
    sourceDateEpoch = epochFlag ?? project?.sourceDateEpoch ?? 0;
    const dir =
      opts.sysroot !== undefined
        ? resolve(ctx.cwd, opts.sysroot)
        : (await volume!.extensionSysroot(project!.target, ext!.name, project!.runtime?.name, { verbose: (l) => reporter.verbose(l), warn: (l) => reporter.warn(l) })).path;
    reporter.step(`walking ${dir}${ext ? ` (var_files of ${ext.name})` : ''}, source_date_epoch ${sourceDateEpoch}`);
    const hint = ext && project ? sysrootHint(ext.name, project.target) : 'give the sysroot the image was built from';
    tree = (await walkSysroot(dir, new Exclusions(ext?.varFiles ?? []), hint)).tree;
  }

  const started = performance.now();
  reporter.step(`reading ${image.path}${tree ? ` and comparing it with ${tree.dir}` : ''}`);
  const reader = await openImage(image.path);
  let result: VerifyResult;
  try {
    result = await verifyImage(reader, { tree, sourceDateEpoch, signal: ctx.signal, progress: (b) => reporter.progress(b) });
  } finally {
    await reader.close();
  }
  const ms = Math.round(performance.now() - started);
  const n = result.differences.length;
  if (opts.json) reporter.emitJson({ schemaVersion: 1, ok: n === 0, image: image.path, ...result, durationMs: ms });
  else {
    const names = { a: 'the sysroot', b: 'the image' };
    for (const d of result.differences.slice(0, SHOWN)) await reporter.print(formatDifference(d, names));
    if (n > SHOWN) await reporter.print(`… and ${n - SHOWN} more (--json lists them all)`);
    const checked = `${result.entries} entries, ${result.files} files, ${formatBytes(result.bytes)} decompressed, every structure checked (${(ms / 1000).toFixed(1)} s)`;
    if (n) reporter.error(`${image.path} differs from ${result.comparedWith} in ${n} entr${n === 1 ? 'y' : 'ies'}; ${checked}`);
    else reporter.done(`${image.path} is sound${result.comparedWith ? ` and holds exactly ${result.comparedWith} as ext image builds it` : ''}`, checked);
  }
  if (n) throw new ReportedFailure('the image differs from the sysroot', ExitCode.buildFailed);
}

function parseEpoch(text: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) > 0xffffffff)
    throw new UsageError(`--source-date-epoch: '${text}' is not a number of seconds from 0 to 4294967295`, 'e.g. --source-date-epoch 1700000000');
  return Number(text);
}
