/**
 * Choosing the engine and loading it. Engines load lazily so that a command only pays for the
 * one it uses.
 */
import { ConfigError, UsageError, type ConfigLocation } from '../util/errors.js';
import type { Project } from '../config/project.js';
import type { Volume } from '../volume/volume.js';
import { destinationOf } from '../container/remote-host.js';
import type { ContainerSettings } from './container.js';
import { ENGINE_NAMES, type Engine, type EngineName } from './engine.js';

export const DEFAULT_ENGINE: EngineName = 'native';

/** What an engine may need besides the build request. */
export interface EngineContext {
  readonly project: Project;
  readonly volume: Volume;
  readonly env: NodeJS.ProcessEnv;
  readonly container: ContainerSettings;
}

export interface EngineChoice {
  readonly name: EngineName;
  /** `--engine`, `AVOCADO_ENGINE`, `engine in avocado.yaml:3`, `--runs-on` or `default`. */
  readonly source: string;
  /** Options given that this engine does not use: each said, never silently ignored. */
  readonly warnings: readonly string[];
}

/**
 * The one place the engine is chosen: `--engine` > AVOCADO_ENGINE > `engine:` in avocado.yaml >
 * `--runs-on` (which means the container engine, on the remote) > the default.
 */
export function chooseEngine(opts: {
  flag?: string;
  env: Readonly<Record<string, string | undefined>>;
  config?: { value: string; location: ConfigLocation };
  container: ContainerSettings;
}): EngineChoice {
  const pick = (value: string, source: string, fail: (msg: string, hint: string) => Error): { name: EngineName; source: string } => {
    if (!(ENGINE_NAMES as readonly string[]).includes(value)) throw fail(`unknown engine '${value}'`, `choose one of ${ENGINE_NAMES.join(', ')}`);
    const name = value as EngineName;
    return { name, source };
  };
  let chosen: { name: EngineName; source: string } | undefined;
  if (opts.flag !== undefined) chosen = pick(opts.flag, '--engine', (m, h) => new UsageError(`--engine: ${m}`, h));
  else if (opts.env.AVOCADO_ENGINE) chosen = pick(opts.env.AVOCADO_ENGINE, 'AVOCADO_ENGINE', (m, h) => new ConfigError(`AVOCADO_ENGINE: ${m}`, undefined, h));
  else if (opts.config) {
    const loc = opts.config.location;
    chosen = pick(opts.config.value, `engine in ${loc.file}:${loc.line}`, (m, h) => new ConfigError(m, loc, h));
  }
  const s = opts.container;
  const remote = s.remote && destinationOf(s.remote.host);
  if (remote && chosen && chosen.name !== 'container')
    throw new UsageError(
      `--runs-on ${remote} builds in the SDK container on that host, but the ${chosen.name} engine (from ${chosen.source}) builds on this machine`,
      chosen.source === '--engine' ? 'drop one of --engine and --runs-on' : `add --engine container, or drop --runs-on`,
    );
  const { name, source } = chosen ?? (remote ? { name: 'container' as const, source: '--runs-on' } : { name: DEFAULT_ENGINE, source: 'default' });

  const warnings: string[] = [];
  if (name !== 'container') {
    const unused: string[] = [];
    if (s.containerArgs.length) unused.push(`--container-arg (${s.containerArgs.length}) is passed to the SDK container`);
    if (s.dnfArgs.length) unused.push(`--dnf-arg (${s.dnfArgs.length}) is passed to dnf in the SDK container`);
    if (s.sdkArch) unused.push(`--sdk-arch ${s.sdkArch.arch} selects the SDK container platform (${s.sdkArch.platform})`);
    for (const u of unused) warnings.push(`${u}, which needs --engine container; the ${name} engine builds on this machine and ignores it`);
  }
  return { name, source, warnings };
}

export async function loadEngine(name: EngineName, ctx: EngineContext): Promise<Engine> {
  switch (name) {
    case 'native': {
      const { NativeEngine } = await import('./native.js');
      return new NativeEngine(ctx.env);
    }
    case 'tools': {
      const { LocalToolHost, ToolsEngine } = await import('./tools.js');
      return new ToolsEngine(new LocalToolHost(ctx.env));
    }
    case 'container': {
      const { ContainerEngine } = await import('./container.js');
      return new ContainerEngine(ctx.project, ctx.volume, ctx.container, ctx.env);
    }
  }
}
