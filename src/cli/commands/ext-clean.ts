/** `avocado ext clean [NAME]`. */
import type { Command } from 'commander';
import { cleanExtension } from '../../extbuild/clean.js';
import type { CommandContext } from '../main.js';
import type { ExtCommonOptions } from '../program.js';
import { extensionName, loadProject, requireName, setupReporter } from './shared.js';

export default async function extClean(ctx: CommandContext, args: unknown[]): Promise<void> {
  const [positional, , cmd] = args as [string | undefined, ExtCommonOptions, Command];
  const opts = cmd.optsWithGlobals<ExtCommonOptions>();
  const reporter = setupReporter(ctx, opts);
  const name = extensionName(positional, opts);
  const { project, volume } = await loadProject(ctx, opts, reporter);
  const result = await cleanExtension({ project, volume, extension: requireName(name, 'ext clean', project), reporter });
  if (reporter.json) reporter.emitJson({ schemaVersion: 1, ok: true, ...result });
  else if (!result.removed.length) reporter.done(`nothing to remove: ${result.extension} has no sysroot, image or build record for target ${result.target} in ${result.volume}`);
  else {
    const counts = new Map<string, number>();
    for (const r of result.removed) counts.set(r.what, (counts.get(r.what) ?? 0) + 1);
    const what = [...counts].map(([w, n]) => (w === 'image' ? `${n} image${n > 1 ? 's' : ''}` : w)).join(', ');
    reporter.done(`cleaned ${result.extension} for target ${result.target}: removed its ${what}`);
  }
}
