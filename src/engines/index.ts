/**
 * Choosing the engine: `--engine` > AVOCADO_ENGINE > `engine:` in avocado.yaml > default.
 * Engines load lazily so that a command only pays for the one it uses.
 */
import { ConfigError, UsageError, type ConfigLocation } from '../util/errors.js';
import type { Project } from '../config/project.js';
import type { Volume } from '../volume/volume.js';
import type { ContainerSettings } from './container.js';
import { ENGINE_NAMES, type Engine, type EngineName } from './engine.js';

export const DEFAULT_ENGINE: EngineName = 'native';

/** Engines planned but not built yet, with what to use instead. */
const NOT_YET: Partial<Record<EngineName, string>> = {};

/** What an engine may need besides the build request. */
export interface EngineContext {
  readonly project: Project;
  readonly volume: Volume;
  readonly env: NodeJS.ProcessEnv;
  readonly container: ContainerSettings;
}

export interface EngineChoice {
  readonly name: EngineName;
  /** `--engine`, `AVOCADO_ENGINE`, `engine (avocado.yaml:3)` or `default`. */
  readonly source: string;
}

export function chooseEngine(opts: {
  flag?: string;
  env: Readonly<Record<string, string | undefined>>;
  config?: { value: string; location: ConfigLocation };
}): EngineChoice {
  const pick = (value: string, source: string, fail: (msg: string, hint: string) => Error): EngineChoice => {
    if (!(ENGINE_NAMES as readonly string[]).includes(value)) throw fail(`unknown engine '${value}'`, `choose one of ${ENGINE_NAMES.join(', ')}`);
    const name = value as EngineName;
    const notYet = NOT_YET[name];
    if (notYet) throw fail(`engine '${name}' is not available`, notYet);
    return { name, source };
  };
  if (opts.flag !== undefined) return pick(opts.flag, '--engine', (m, h) => new UsageError(`--engine: ${m}`, h));
  if (opts.env.AVOCADO_ENGINE) return pick(opts.env.AVOCADO_ENGINE, 'AVOCADO_ENGINE', (m, h) => new ConfigError(`AVOCADO_ENGINE: ${m}`, undefined, h));
  if (opts.config) {
    const loc = opts.config.location;
    return pick(opts.config.value, `engine in ${loc.file}:${loc.line}`, (m, h) => new ConfigError(m, loc, h));
  }
  return { name: DEFAULT_ENGINE, source: 'default' };
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
    default:
      throw new UsageError(`engine '${name}' is not available`, NOT_YET[name]);
  }
}
