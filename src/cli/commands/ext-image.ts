/** `avocado ext image [NAME...]`. */
import type { Command } from 'commander';
import { buildImage, describePlan, planImage, type ImageOptions, type ImagePlan, type ImageResult } from '../../image/pipeline.js';
import { formatBytes } from '../../util/reporter.js';
import { UsageError } from '../../util/errors.js';
import type { CommandContext } from '../main.js';
import { parsePort, parseRunsOn, parseSdkArch } from '../options.js';
import type { ExtImageOptions } from '../program.js';
import type { Reporter } from '../reporter.js';
import { extensionNames, forEachExtension, loadProject, setupReporter } from './shared.js';

export default async function extImage(ctx: CommandContext, args: unknown[]): Promise<void> {
  const [positional, , cmd] = args as [string[], ExtImageOptions, Command];
  const opts = cmd.optsWithGlobals<ExtImageOptions>();
  const reporter = setupReporter(ctx, opts);

  // Options of the container engine, local or remote: validated now, whatever the engine.
  const remote = opts.runsOn !== undefined ? parseRunsOn(opts.runsOn) : undefined;
  const nfsPort = opts.nfsPort !== undefined ? parsePort(opts.nfsPort) : undefined;
  const sdkArch = opts.sdkArch !== undefined ? parseSdkArch(opts.sdkArch) : undefined;
  if (opts.out === '') throw new UsageError("--out: the directory is empty", "give one (--out . for the current directory)");
  if (nfsPort !== undefined && !remote) throw new UsageError('--nfs-port only applies with --runs-on', 'add --runs-on USER@HOST or drop --nfs-port');

  const { project, volume } = await loadProject(ctx, opts, reporter);
  const names = extensionNames(positional, opts, 'ext image', project);
  const options = (extension: string): ImageOptions => ({
    project,
    volume,
    extension,
    engineFlag: opts.engine,
    filesystem: opts.filesystem,
    env: ctx.env,
    container: {
      containerArgs: opts.containerArg,
      dnfArgs: opts.dnfArg,
      sdkArch,
      remote: remote && { host: remote, nfsPort },
      verbose: opts.verbose === true,
    },
    outDir: opts.out,
    verify: opts.verify === true,
    cwd: ctx.cwd,
    signal: ctx.signal,
    reporter,
    checkpoint: () => reporter.checkpoint(),
  });

  if (opts.dryRun)
    await forEachExtension(
      names,
      opts,
      reporter,
      (name) => planImage(options(name)),
      ({ result }) => showPlan(reporter, result),
      'ext image',
      (plan) => ({ dryRun: true, ...describePlan(plan), image: { path: plan.imagePath }, out: plan.out }),
    );
  else await forEachExtension(names, opts, reporter, (name) => buildImage(options(name)), ({ result }) => showResult(reporter, result), 'ext image');
}

/** The closing lines of a build: none longer than the terminal (120 columns) but for a long path. */
function showResult(reporter: Reporter, r: ImageResult): void {
  reporter.done(
    `${r.image.path}  ${formatBytes(r.image.size)}  (${(r.durationMs / 1000).toFixed(1)} s)`,
    `sha256:${r.image.sha256}`,
    ...(r.verified ? [`verified: read back and equal to the sysroot (${r.verified.entries} entries, ${(r.verified.durationMs / 1000).toFixed(1)} s)`] : []),
    ...(r.out ? [`copied to ${r.out}`] : []),
  );
}

/** `--dry-run`: what would be built, and every path left out with the rule that left it out. */
function showPlan(reporter: Reporter, plan: ImagePlan): void {
  const excluded = plan.excluded.map((x) => {
    const path = `${x.display}${x.kind === 'directory' ? '/' : ''}`;
    return `excluded ${path}  (${x.rule.location ? `var_files '${x.rule.pattern}', ${x.rule.location.file}:${x.rule.location.line}` : 'package-manager state, always'})`;
  });
  const s = plan.tree.stats;
  reporter.done(
    `dry run: ${plan.imagePath} would be built, nothing was written`,
    `${plan.filesystem.value} (from ${plan.filesystemSource}), engine ${plan.engine.name} (from ${plan.engine.source}), source_date_epoch ${plan.sourceDateEpoch}`,
    `${s.entries} entries, ${formatBytes(s.fileBytes)} in ${s.files} files, ${plan.excluded.length} path(s) excluded`,
    ...excluded,
    ...(plan.out ? [`would be copied to ${plan.out}`] : []),
  );
}
