/** `avocado ext build [NAME...]`. */
import type { Command } from 'commander';
import { quote } from 'shell-quote';
import { buildExtension } from '../../extbuild/index.js';
import type { CommandContext } from '../main.js';
import type { ExtCommonOptions, ExtMultiOptions } from '../program.js';
import { extensionNames, forEachExtension, loadProject, setupReporter } from './shared.js';

export default async function extBuild(ctx: CommandContext, args: unknown[]): Promise<void> {
  const [positional, , cmd] = args as [string[], ExtMultiOptions, Command];
  const opts = cmd.optsWithGlobals<ExtMultiOptions>();
  const reporter = setupReporter(ctx, opts);
  const { project, volume } = await loadProject(ctx, opts, reporter);
  const names = extensionNames(positional, opts, 'ext build', project);
  await forEachExtension(
    names,
    opts,
    reporter,
    (extension) => buildExtension({ project, volume, extension, reporter, signal: ctx.signal, checkpoint: () => reporter.checkpoint() }),
    ({ result }) => reporter.done(`sysroot ${result.sysroot} ready`, `next: ${nextCommand(result.extension, opts)}`),
    'ext build',
  );
}

/** The `ext image` command for the same project, target, runtime and volume, as the user would type it. */
export function nextCommand(extension: string, opts: ExtCommonOptions): string {
  const words = ['avocado', ...(opts.volume !== undefined ? ['--volume', opts.volume] : []), 'ext', 'image', extension];
  if (opts.target !== undefined) words.push('-t', opts.target);
  if (opts.runtime !== undefined) words.push('-r', opts.runtime);
  if (opts.config !== undefined) words.push('-C', opts.config);
  return quote(words);
}
