/**
 * Target-specific override blocks inside an extension (reference §2.3): `target-<name>:` merged
 * over the base when <name> is the resolved target; mappings deep-merged, everything else
 * (lists included) replaced; applied at every level. `kernel-<spec>:` blocks are dropped (the
 * kernel version is unknown at image time) and the legacy bare `<target>:` form is honoured
 * with a deprecation warning.
 */
import { KNOWN_EXTENSION_KEYS } from './known-keys.js';
import { ConfigError, formatLocation } from '../util/errors.js';
import { keyLocationOf, locationOf, type CMap, type CNode } from './tree.js';

export interface OverrideOptions {
  readonly target: string;
  /**
   * Other known targets: bare keys naming them are legacy override blocks and are dropped. A
   * function, so that supported_targets is read only when a bare mapping key makes it matter.
   */
  readonly supportedTargets?: () => readonly string[];
  readonly warn: (message: string) => void;
  /** Dotted name used in warnings, e.g. `extensions.app`. */
  readonly where: string;
}

export function applyTargetOverrides(m: CMap, opts: OverrideOptions): CMap {
  const base = new Map<string, CNode>();
  let bare: CMap | undefined;
  let prefixed: CMap | undefined;
  for (const [key, value] of m.entries) {
    if (key.startsWith('target-')) {
      if (key !== `target-${opts.target}` || (value.kind === 'scalar' && value.value === null)) continue;
      // Anything but a mapping would be dropped without a word, and with it what the user meant.
      if (value.kind !== 'map')
        throw new ConfigError(
          `must be a mapping of the settings for target '${opts.target}', merged over those of ${opts.where}; it is a ${value.kind === 'seq' ? 'list' : 'single value'}`,
          locationOf(value, keyLocationOf(value)),
          `write ${key}: followed by indented settings, e.g. ${key}: {version: "1.0.1"}`,
        );
      prefixed = value;
      continue;
    }
    if (key.startsWith('kernel-')) continue;
    if (value.kind === 'map' && key === opts.target) {
      opts.warn(`${formatLocation(keyLocationOf(value))}: bare target sub-key '${key}' in ${opts.where} is deprecated; use 'target-${key}:' instead`);
      bare = value;
      continue;
    }
    if (value.kind === 'map' && !KNOWN_EXTENSION_KEYS.has(key) && opts.supportedTargets?.().includes(key)) continue;
    base.set(key, value.kind === 'map' ? applyTargetOverrides(value, { ...opts, where: `${opts.where}.${key}` }) : value);
  }
  let result: CMap = { ...m, entries: base };
  if (bare) result = deepMerge(result, applyTargetOverrides(bare, opts));
  if (prefixed) result = deepMerge(result, applyTargetOverrides(prefixed, { ...opts, where: `${opts.where}.target-${opts.target}` }));
  return result;
}

/** `over` wins; mappings present on both sides merge recursively. */
export function deepMerge(base: CMap, over: CMap): CMap {
  const entries = new Map(base.entries);
  for (const [key, value] of over.entries) {
    const prev = entries.get(key);
    entries.set(key, prev?.kind === 'map' && value.kind === 'map' ? deepMerge(prev, value) : value);
  }
  return { ...base, entries };
}
