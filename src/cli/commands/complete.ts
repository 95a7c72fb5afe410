/**
 * `avocado __complete <kind> [--config FILE]` (hidden): what the nearest avocado.yaml (or FILE)
 * names, one per line, for the completion scripts — extension names, targets or runtimes. Only
 * the YAML is read (and extension keys with a template interpolated): a TAB must be quick. It
 * never fails loudly: on any problem it prints nothing and exits 0, as a shell expects of a
 * completion helper.
 */
import { homedir } from 'node:os';
import type { CommandContext } from '../main.js';
import { findConfigFile } from '../../config/find.js';
import { hasTemplate, interpolateTree } from '../../config/interpolate.js';
import { definedRuntimes } from '../../config/runtime.js';
import { loadYamlFile, type CMap, type CNode } from '../../config/tree.js';

export default async function complete(ctx: CommandContext, args: unknown[]): Promise<void> {
  const [kind, opts] = args as [string | undefined, { config?: string }];
  let found: string[] = [];
  try {
    found = await candidates(kind, opts.config, ctx);
  } catch {
    // No avocado.yaml, a YAML error, …: no candidates, and no noise on the user's terminal.
  }
  if (found.length) process.stdout.write(`${found.join('\n')}\n`);
}

async function candidates(kind: string | undefined, config: string | undefined, ctx: CommandContext): Promise<string[]> {
  if (kind !== 'extensions' && kind !== 'targets' && kind !== 'runtimes') return [];
  // The shell passes the word as typed: `-C ~/p/avocado.yaml` has not been expanded.
  const configPath = config?.replace(/^~(?=\/|$)/, homedir());
  const raw = await loadYamlFile(findConfigFile({ configPath, cwd: ctx.cwd }));
  const names = kind === 'extensions' ? extensionNames(raw, ctx.env) : kind === 'targets' ? targets(raw) : [...definedRuntimes(raw).names];
  return [...new Set(names)].filter((n) => n && !hasTemplate(n) && !/\s/.test(n));
}

function stringValue(n: CNode | undefined): string | undefined {
  return n?.kind === 'scalar' && typeof n.value === 'string' ? n.value : undefined;
}

/** The target that names extensions such as `avocado-bsp-{{ avocado.target }}`: AVOCADO_TARGET, else default_target. */
function target(raw: CMap, env: CommandContext['env']): string | undefined {
  const t = env.AVOCADO_TARGET || stringValue(raw.entries.get('default_target'));
  return t && !hasTemplate(t) ? t : undefined;
}

function extensionNames(raw: CMap, env: CommandContext['env']): string[] {
  let all = raw.entries.get('extensions');
  if (all?.kind !== 'map') return [];
  if ([...all.entries.keys()].some(hasTemplate)) all = interpolateTree(raw, { env, target: target(raw, env) }).entries.get('extensions');
  return all?.kind === 'map' ? [...all.entries.keys()] : [];
}

/** default_target, supported_targets, and the names of `target-<name>:` blocks anywhere under extensions. */
function targets(raw: CMap): string[] {
  const found: string[] = [];
  const byDefault = stringValue(raw.entries.get('default_target'));
  if (byDefault) found.push(byDefault);
  const supported = raw.entries.get('supported_targets');
  for (const n of supported?.kind === 'seq' ? supported.items : [supported]) {
    const v = stringValue(n);
    if (v && v !== '*') found.push(v);
  }
  const visit = (n: CNode) => {
    if (n.kind === 'seq') n.items.forEach(visit);
    else if (n.kind === 'map')
      for (const [k, v] of n.entries) {
        if (k.startsWith('target-')) found.push(k.slice('target-'.length));
        visit(v);
      }
  };
  const extensions = raw.entries.get('extensions');
  if (extensions) visit(extensions);
  return found;
}
