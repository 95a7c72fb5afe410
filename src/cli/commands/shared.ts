/** Pieces every `ext` command shares: the extension name, the project, the volume, the reporter. */
import { Project } from '../../config/project.js';
import { UsageError } from '../../util/errors.js';
import { Volume } from '../../volume/volume.js';
import type { CommandContext } from '../main.js';
import type { ExtCommonOptions } from '../program.js';
import { Reporter } from '../reporter.js';

export function setupReporter(ctx: CommandContext, opts: ExtCommonOptions): Reporter {
  ctx.reporter = new Reporter({ json: opts.json === true, verbose: opts.verbose === true, color: opts.color, env: ctx.env });
  return ctx.reporter;
}

/** NAME and -e/--extension are the same thing; both given must agree. */
export function extensionName(positional: string | undefined, opts: ExtCommonOptions): string | undefined {
  if (positional !== undefined && opts.extension !== undefined && positional !== opts.extension)
    throw new UsageError(`the extension is named twice, as '${positional}' and as -e '${opts.extension}'`, 'give it once');
  return positional ?? opts.extension;
}

export async function loadProject(ctx: CommandContext, opts: ExtCommonOptions, reporter: Reporter): Promise<{ project: Project; volume: Volume }> {
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
