/** `avocado ext image [NAME]`. */
import type { Command } from 'commander';
import { buildImage } from '../../image/pipeline.js';
import { formatBytes } from '../../util/reporter.js';
import { UsageError } from '../../util/errors.js';
import type { CommandContext } from '../main.js';
import { parsePort, parseRunsOn, parseSdkArch } from '../options.js';
import type { ExtImageOptions } from '../program.js';
import { extensionName, loadProject, requireName, setupReporter } from './shared.js';

export default async function extImage(ctx: CommandContext, args: unknown[]): Promise<void> {
  const [positional, , cmd] = args as [string | undefined, ExtImageOptions, Command];
  const opts = cmd.optsWithGlobals<ExtImageOptions>();
  const reporter = setupReporter(ctx, opts);
  const name = extensionName(positional, opts);

  // Options of the container engine, local or remote: validated now, whatever the engine.
  const remote = opts.runsOn !== undefined ? parseRunsOn(opts.runsOn) : undefined;
  const nfsPort = opts.nfsPort !== undefined ? parsePort(opts.nfsPort) : undefined;
  const sdkArch = opts.sdkArch !== undefined ? parseSdkArch(opts.sdkArch) : undefined;
  if (nfsPort !== undefined && !remote) throw new UsageError('--nfs-port only applies with --runs-on', 'add --runs-on USER@HOST or drop --nfs-port');

  const { project, volume } = await loadProject(ctx, opts, reporter);
  const ext = requireName(name, 'ext image', project);
  const result = await buildImage({
    project,
    volume,
    extension: ext,
    engineFlag: opts.engine,
    env: ctx.env,
    container: {
      containerArgs: opts.containerArg,
      dnfArgs: opts.dnfArg,
      sdkArch,
      remote: remote && { host: remote, nfsPort },
      verbose: opts.verbose === true,
    },
    outDir: opts.out,
    cwd: ctx.cwd,
    signal: ctx.signal,
    reporter,
  });

  if (reporter.json) reporter.emitJson({ schemaVersion: 1, ok: true, ...result });
  else
    reporter.done(
      `${result.image.path}  ${formatBytes(result.image.size)}  sha256:${result.image.sha256}  (${(result.durationMs / 1000).toFixed(1)} s)`,
    );
}
