/**
 * The runtime in effect, chosen as the Avocado CLI chooses it (reference §1, src/utils/runtime.rs):
 * `-r/--runtime` > AVOCADO_RUNTIME (non-empty) > `default_runtime` > the sole entry of
 * `runtimes:`. With no `runtimes:` at all, the Avocado CLI assumes one named `default` when
 * `default_target` and a top-level `rootfs`, `initramfs` or `kernel` definition exist
 * (config.rs synthesize_implicit_default_runtime); so does this.
 *
 * One selection serves everything: `{{ avocado.runtime }}`, the runtime's `target_board`, the
 * sysroot location and the SDK container's AVOCADO_RUNTIME. Read from the file as written (keys
 * are not interpolated: a runtime is named by its key).
 */
import type { CMap, CNode, CScalar } from './tree.js';

export type RuntimeSource = '-r' | 'AVOCADO_RUNTIME' | 'default_runtime' | 'sole runtime in avocado.yaml' | 'implicit runtime';

export interface RuntimeSelection {
  readonly name: string;
  readonly source: RuntimeSource;
  /** The name of the runtime the Avocado CLI assumes without `runtimes:`. */
  readonly implicit: boolean;
}

export const IMPLICIT_RUNTIME = 'default';

/** Field names that make a top-level rootfs/initramfs/kernel mapping one definition (not a map of named ones). */
const SINGLETON_FIELDS: Record<string, readonly string[]> = {
  kernel: ['package', 'version', 'compile', 'install', 'image'],
  rootfs: ['packages', 'dependencies', 'filesystem', 'overlay', 'image', 'post_install', 'permissions'],
  initramfs: ['packages', 'dependencies', 'filesystem', 'overlay', 'image', 'post_install', 'permissions'],
};

const isNull = (n: CNode | undefined) => !n || (n.kind === 'scalar' && n.value === null);

/** The runtimes avocado.yaml defines (keys of `runtimes:`), or the implicit one. */
export function definedRuntimes(root: CMap): { readonly names: readonly string[]; readonly implicit: boolean } {
  const runtimes = root.entries.get('runtimes');
  if (runtimes?.kind === 'map' && runtimes.entries.size) return { names: [...runtimes.entries.keys()], implicit: false };
  if (!isNull(runtimes) && runtimes?.kind !== 'map') return { names: [], implicit: false };
  return hasImplicitRuntime(root) ? { names: [IMPLICIT_RUNTIME], implicit: true } : { names: [], implicit: false };
}

/**
 * The Avocado CLI's rule: no (or an empty) `runtimes:`, `default_target` set, and a default (or
 * sole) top-level kernel, rootfs or initramfs definition.
 */
function hasImplicitRuntime(root: CMap): boolean {
  const target = root.entries.get('default_target');
  if (target?.kind !== 'scalar' || typeof target.value !== 'string' || !target.value) return false;
  return Object.entries(SINGLETON_FIELDS).some(([key, fields]) => {
    const n = root.entries.get(key);
    if (n?.kind !== 'map' || !n.entries.size) return false;
    return n.entries.size === 1 || n.entries.has(IMPLICIT_RUNTIME) || [...n.entries.keys()].some((k) => fields.includes(k));
  });
}

/**
 * The runtime in effect, or undefined when none is (several runtimes and none chosen, or none
 * defined). `flag` is `-r`; `defaultRuntime` turns the `default_runtime` node into its
 * (interpolated) value, undefined or '' meaning unset. Whether the name is defined is checked by
 * the caller (Project), which can say where it came from.
 */
export function selectRuntime(
  root: CMap,
  opts: { readonly flag?: string; readonly env: Readonly<Record<string, string | undefined>> },
  defaultRuntime: (node: CScalar) => string | undefined,
): RuntimeSelection | undefined {
  const defined = definedRuntimes(root);
  const pick = (name: string, source: RuntimeSource): RuntimeSelection => ({ name, source, implicit: defined.implicit && name === IMPLICIT_RUNTIME });
  if (opts.flag) return pick(opts.flag, '-r');
  if (opts.env.AVOCADO_RUNTIME) return pick(opts.env.AVOCADO_RUNTIME, 'AVOCADO_RUNTIME');
  const named = root.entries.get('default_runtime');
  if (named?.kind === 'scalar' && named.value !== null) {
    const value = defaultRuntime(named);
    if (value) return pick(value, 'default_runtime');
  }
  if (defined.names.length === 1) return pick(defined.names[0]!, defined.implicit ? 'implicit runtime' : 'sole runtime in avocado.yaml');
  return undefined;
}

/**
 * The extension names of a `runtimes.<name>.extensions` list: each entry a name, or a mapping
 * of one name to its options (`- app: {enabled: false}`), as the Avocado CLI reads them
 * (runtime_extension.rs). Other entries are returned as `bad`.
 */
export function runtimeExtensionNames(list: CNode): { readonly names: readonly string[]; readonly bad: readonly CNode[] } {
  const names: string[] = [];
  const bad: CNode[] = [];
  for (const item of list.kind === 'seq' ? list.items : [list]) {
    if (item.kind === 'scalar' && typeof item.value === 'string') names.push(item.value);
    else if (item.kind === 'map' && item.entries.size === 1) names.push([...item.entries.keys()][0]!);
    else bad.push(item);
  }
  return { names, bad };
}
