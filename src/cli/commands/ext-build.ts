/** `avocado ext build [NAME]`. */
import type { Command } from 'commander';
import { quote } from 'shell-quote';
import { buildExtension } from '../../extbuild/index.js';
import type { CommandContext } from '../main.js';
import type { ExtCommonOptions } from '../program.js';
import { extensionName, loadProject, requireName, setupReporter } from './shared.js';

export default async function extBuild(ctx: CommandContext, args: unknown[]): Promise<void> {
  const [positional, , cmd] = args as [string | undefined, ExtCommonOptions, Command];
  const opts = cmd.optsWithGlobals<ExtCommonOptions>();
  const reporter = setupReporter(ctx, opts);
  const name = extensionName(positional, opts);
  const { project, volume } = await loadProject(ctx, opts, reporter);
  const result = await buildExtension({ project, volume, extension: requireName(name, 'ext build', project), reporter, signal: ctx.signal });
  if (reporter.json) reporter.emitJson({ schemaVersion: 1, ok: true, ...result });
  else reporter.done(`sysroot ${result.sysroot} ready; next: ${nextCommand(result.extension, opts)}`);
}

/** The `ext image` command for the same project, target, runtime and volume, as the user would type it. */
export function nextCommand(extension: string, opts: ExtCommonOptions): string {
  const words = ['avocado', ...(opts.volume !== undefined ? ['--volume', opts.volume] : []), 'ext', 'image', extension];
  if (opts.target !== undefined) words.push('-t', opts.target);
  if (opts.runtime !== undefined) words.push('-r', opts.runtime);
  if (opts.config !== undefined) words.push('-C', opts.config);
  return quote(words);
}
