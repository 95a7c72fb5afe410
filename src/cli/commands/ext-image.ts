/** `avocado ext image [NAME]`. */
import type { Command } from 'commander';
import { chooseEngine } from '../../engines/index.js';
import { UsageError } from '../../util/errors.js';
import { buildImage, formatBytes } from '../../image/pipeline.js';
import type { CommandContext } from '../main.js';
import { parsePort, parseRunsOn, parseSdkArch } from '../options.js';
import type { ExtImageOptions } from '../program.js';
import { extensionName, loadProject, requireName, setupReporter } from './shared.js';

export default async function extImage(ctx: CommandContext, args: unknown[]): Promise<void> {
  const [positional, , cmd] = args as [string | undefined, ExtImageOptions, Command];
  const opts = cmd.optsWithGlobals<ExtImageOptions>();
  const reporter = setupReporter(ctx, opts);
  const name = extensionName(positional, opts);

  // Options for the container and remote engines: validated now, reported as unused below.
  const remote = opts.runsOn !== undefined ? parseRunsOn(opts.runsOn) : undefined;
  const nfsPort = opts.nfsPort !== undefined ? parsePort(opts.nfsPort) : undefined;
  const sdkArch = opts.sdkArch !== undefined ? parseSdkArch(opts.sdkArch) : undefined;
  if (nfsPort !== undefined && !remote) throw new UsageError('--nfs-port only applies with --runs-on', 'add --runs-on USER@HOST or drop --nfs-port');

  const { project, volume } = await loadProject(ctx, opts, reporter);
  const ext = requireName(name, 'ext image', project);

  const unused: string[] = [];
  if (opts.containerArg.length) unused.push(`--container-arg (${opts.containerArg.length}) is passed to the SDK container`);
  if (opts.dnfArg.length) unused.push(`--dnf-arg (${opts.dnfArg.length}) is passed to dnf in the SDK container`);
  if (sdkArch) unused.push(`--sdk-arch ${sdkArch.arch} selects the SDK container platform (${sdkArch.platform})`);
  if (remote) unused.push(`--runs-on ${remote.user ? `${remote.user}@` : ''}${remote.host} runs the SDK container on a remote host over SSH, sharing the volume over NFS${nfsPort ? ` (port ${nfsPort})` : ''}`);
  const warnUnused = (engineName: string) => {
    for (const u of unused) reporter.warn(`${u}, which needs the container engine (not available yet); the ${engineName} engine builds on this machine and ignores it`);
  };
  // The engine is only known once the config is read; warn before the (possibly long) build.
  const engine = chooseEngine({ flag: opts.engine, env: ctx.env, config: project.engine });
  if (engine.name !== 'container') warnUnused(engine.name);

  const result = await buildImage({
    project,
    volume,
    extension: ext,
    engine,
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
