/** `avocado ext build [NAME]`. */
import type { Command } from 'commander';
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
  const result = await buildExtension({ project, volume, extension: requireName(name, 'ext build', project), reporter });
  if (reporter.json) reporter.emitJson({ schemaVersion: 1, ok: true, ...result });
  else reporter.done(`sysroot ${result.sysroot} ready for 'avocado ext image ${result.extension}'`);
}
