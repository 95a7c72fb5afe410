/**
 * `{{ env.NAME }}`, `{{ config.a.b }}` and `{{ avocado.* }}` in values and mapping keys, as the
 * Avocado CLI does (reference §2.2). References to other values are resolved recursively, so
 * chains work in one pass and cycles are found with their path.
 *
 * The whole file is interpolated at load, but nothing is reported then: every problem (an unset
 * variable, a missing config path, a value that cannot be known) is recorded on the node it
 * concerns, or on the value that used it, and reported only when a command reads that value
 * (Project.read). Real files carry many sections a command never reads; they cost nothing.
 */
import { selectRuntime } from './runtime.js';
import { dottedPath, nodeAt, type CMap, type CNode, type CScalar, type Issue, type Origin, type YamlPath } from './tree.js';

export interface InterpolationContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The resolved target; undefined only while default_target itself is read. */
  readonly target?: string;
  /** `--target-board`; the board's other sources are the environment and the file. */
  readonly targetBoard?: string;
  /** `-r/--runtime`; the runtime's other sources are the environment and the file (runtime.ts). */
  readonly runtime?: string;
}

const TEMPLATE = /\{\{\s*([^{}]*?)\s*\}\}/g;

/** An interpolated value may be this long (in UTF-16 units): `a: "{{ config.b }}{{ config.b }}"`, `b: …` doubles per line. */
export const MAX_VALUE_LENGTH = 1 << 20;
/** A value may use one that uses another… this many deep (each level is a nested call). */
export const MAX_REFERENCE_DEPTH = 100;
/** All interpolated values of a file together may be this long. */
export const MAX_TOTAL_LENGTH = 64 << 20;

const AVOCADO_VALUES =
  'avocado.target, avocado.target.board, avocado.runtime, avocado.distro.release, avocado.distro.channel or avocado.extensions.<name>.<key>';

export function hasTemplate(s: string): boolean {
  return s.includes('{{');
}

/** The tree with every key and value interpolated; problems are recorded on the nodes (`issues`). */
export function interpolateTree(root: CMap, ctx: InterpolationContext): CMap {
  return new Interpolator(root, ctx).map(root, []);
}

/** One value, interpolated on its own (default_target, read before the target is known). */
export function interpolateScalar(root: CMap, ctx: InterpolationContext, node: CScalar): CScalar {
  return new Interpolator(root, ctx).node(node, []) as CScalar;
}

/** Top-level keys that some `{{ config.KEY… }}` in the file refers to: user data, not typos. */
export function configReferences(root: CMap): Set<string> {
  const found = new Set<string>();
  const scan = (s: string) => {
    for (const m of s.matchAll(TEMPLATE)) {
      const expr = m[1]!.trim();
      if (expr.startsWith('config.')) found.add(expr.slice('config.'.length).split('.')[0]!);
    }
  };
  const visit = (n: CNode) => {
    if (n.kind === 'scalar') {
      if (typeof n.value === 'string') scan(n.value);
    } else if (n.kind === 'seq') n.items.forEach(visit);
    else
      for (const [k, v] of n.entries) {
        scan(k);
        visit(v);
      }
  };
  visit(root);
  return found;
}

/** A string being interpolated: where it is written, the references that led to it, its problems. */
interface Site {
  readonly at: Origin;
  readonly stack: readonly string[];
  readonly issues: Issue[];
}

/** A value interpolated, and the problems found on the way. */
interface Expansion {
  readonly value: string;
  readonly issues: readonly Issue[];
}

class Interpolator {
  /**
   * Each value of the file is interpolated once, however often it is used: without this, values
   * that use one another twice each take exponential time. Where a value is used does not change
   * it: a reference that meets a cycle fails wherever it starts (a chain deeper than
   * MAX_REFERENCE_DEPTH fails where it first passes the bound, for every value that uses it).
   */
  private readonly expanded = new Map<CScalar, Expansion>();
  /** Length of all values interpolated so far, against MAX_TOTAL_LENGTH. */
  private total = 0;

  constructor(
    private readonly root: CMap,
    private readonly ctx: InterpolationContext,
  ) {}

  /** `keyIssues`: problems of the key this node is stored under, which become the node's own. */
  node(n: CNode, keyIssues: Issue[]): CNode {
    switch (n.kind) {
      case 'scalar': {
        if (typeof n.value !== 'string' || !hasTemplate(n.value)) return withIssues(n, keyIssues);
        const { value, issues } = this.expand(n, n.value, []);
        return withIssues({ ...n, value }, [...keyIssues, ...issues]);
      }
      case 'seq':
        return withIssues({ ...n, items: n.items.map((i) => this.node(i, [])) }, keyIssues);
      case 'map':
        return this.map(n, keyIssues);
    }
  }

  map(m: CMap, keyIssues: Issue[]): CMap {
    const entries = new Map<string, CNode>();
    for (const [k, v] of m.entries) {
      const keySite: Site = { at: keyOrigin(v), stack: [], issues: [] };
      const key = hasTemplate(k) ? this.text(k, keySite) : k;
      const earlier = entries.get(key);
      if (earlier)
        keySite.issues.push(
          error(keySite.at, `key '${k}' interpolates to '${key}', the name of the key at line ${keyOrigin(earlier).line} too`, 'give the two different names'),
        );
      entries.set(key, this.node(v, keySite.issues));
    }
    return withIssues({ ...m, entries }, keyIssues);
  }

  /** A value of the file (`text` is its string), interpolated once. */
  private expand(node: CScalar, text: string, stack: readonly string[]): Expansion {
    let done = this.expanded.get(node);
    if (!done) {
      const site: Site = { at: node.origin, stack, issues: [] };
      // A value used twice brings its problems twice.
      done = { value: this.text(text, site), issues: [...new Set(site.issues)] };
      this.expanded.set(node, done);
    }
    return done;
  }

  /** `s` with each `{{ … }}` replaced; one that cannot be is left as written (why is recorded). */
  private text(s: string, site: Site): string {
    let out = '';
    let end = 0;
    for (const m of s.matchAll(TEMPLATE)) {
      out += s.slice(end, m.index) + (this.expression(m[0], m[1]!.trim(), site) ?? m[0]);
      end = m.index! + m[0].length;
      if (out.length > MAX_VALUE_LENGTH) break;
    }
    out += s.slice(end);
    if (out.length > MAX_VALUE_LENGTH) {
      this.fail(site, `interpolates to more than ${MAX_VALUE_LENGTH} characters`, 'check the {{ config.… }} references in it: each is replaced by the whole value it names');
      return s;
    }
    this.total += out.length;
    if (this.total > MAX_TOTAL_LENGTH) {
      this.fail(site, `the interpolated values of this file pass ${MAX_TOTAL_LENGTH} characters in all`, 'check the {{ config.… }} references: each is replaced by the whole value it names');
      return s;
    }
    return out;
  }

  /** The value of one `{{ … }}`, or undefined (left as written) after recording why. */
  private expression(whole: string, expr: string, site: Site): string | undefined {
    const dot = expr.indexOf('.');
    const context = dot < 0 ? expr : expr.slice(0, dot);
    const rest = dot < 0 ? '' : expr.slice(dot + 1);
    switch (context) {
      case 'env': {
        if (!rest) return this.fail(site, `'${whole}' names no environment variable`, 'write {{ env.NAME }}');
        const value = this.ctx.env[rest];
        if (value !== undefined) return value;
        site.issues.push({
          severity: 'warning',
          message: `environment variable '${rest}' is not set, replacing it with an empty string`,
          location: locationAt(site.at),
          once: `env:${rest}`,
        });
        return '';
      }
      case 'config':
        return this.reference(`config.${rest}`, site, (inner) => {
          const keys: YamlPath = rest.split('.').map((k) => (/^\d+$/.test(k) ? Number(k) : k));
          // A numeric segment may also be a mapping key.
          const node = nodeAt(this.root, keys) ?? nodeAt(this.root, rest.split('.'));
          if (!node) return this.fail(inner, `config path 'config.${rest}' not found in the configuration`, 'fix the path, or add the value it names');
          return this.scalarValue(node, `config.${rest}`, inner);
        });
      case 'avocado':
        return this.avocado(rest, site);
      default:
        return this.fail(site, `unknown template context '${context}' in '${whole}'; expected 'env', 'config' or 'avocado'`);
    }
  }

  private avocado(name: string, site: Site): string | undefined {
    const full = `{{ avocado.${name} }}`;
    switch (name) {
      case 'target':
        if (this.ctx.target !== undefined) return this.ctx.target;
        return this.fail(site, `'${full}' cannot be used in default_target, which decides the target`, 'write the target name');
      case 'target.board':
        return this.reference('avocado.target.board', site, (inner) => this.board(inner));
      case 'runtime':
        return this.reference('avocado.runtime', site, (inner) => {
          const before = inner.issues.length;
          const runtime = this.runtime(inner);
          if (runtime !== undefined || inner.issues.length > before) return runtime;
          return this.fail(inner, `'${full}' has no value: no runtime is selected`, 'pass -r/--runtime, set AVOCADO_RUNTIME or default_runtime, or define exactly one runtime under runtimes:');
        });
      case 'distro.release':
      case 'distro.version':
      case 'distro.channel': {
        const key = name === 'distro.channel' ? 'channel' : 'release';
        const node = nodeAt(this.root, ['distro', key]) ?? (key === 'release' ? nodeAt(this.root, ['distro', 'version']) : undefined);
        if (!node || (node.kind === 'scalar' && node.value === null))
          return this.fail(site, `'${full}' has no value: distro.${key} is not set`, `set distro.${key} in avocado.yaml`);
        return this.reference(`avocado.${name}`, site, (inner) => this.scalarValue(node, `distro.${key}`, inner));
      }
      case 'kernel.version':
        return this.fail(site, `'${full}' has no value: the kernel version is not known when extension images are built`, 'write the version itself');
    }
    if (name.startsWith('extensions.')) {
      const [ext, ...field] = name.slice('extensions.'.length).split('.');
      const entry = ext ? this.extensionEntry(ext) : undefined;
      if (!entry) return this.fail(site, `'${full}' has no value: extension '${ext}' is not defined under extensions:`);
      const node = field.length ? nodeAt(entry, field) : undefined;
      if (!node) return this.fail(site, `'${full}' has no value: extensions.${ext} has no ${field.join('.') || 'key named'}`);
      return this.reference(`avocado.${name}`, site, (inner) => this.scalarValue(node, `extensions.${ext}.${field.join('.')}`, inner));
    }
    return this.fail(site, `unknown value '${full}'`, `use ${AVOCADO_VALUES}`);
  }

  /** `{{ avocado.target.board }}`: --target-board > AVOCADO_TARGET_BOARD > the runtime's target_board > default_target_board > the target. */
  private board(site: Site): string | undefined {
    if (this.ctx.targetBoard !== undefined) return this.ctx.targetBoard;
    const fromEnv = this.ctx.env.AVOCADO_TARGET_BOARD;
    if (fromEnv) return fromEnv;
    const runtime = this.runtime(site);
    const perRuntime = runtime !== undefined ? nodeAt(this.root, ['runtimes', runtime, 'target_board']) : undefined;
    for (const [node, what] of [[perRuntime, `runtimes.${runtime}.target_board`], [this.root.entries.get('default_target_board'), 'default_target_board']] as const)
      if (node && !(node.kind === 'scalar' && node.value === null)) return this.scalarValue(node, what, site);
    if (this.ctx.target !== undefined) return this.ctx.target;
    return this.fail(
      site,
      "'{{ avocado.target.board }}' cannot be used in default_target, which decides the target",
      'pass --target-board, set AVOCADO_TARGET_BOARD or default_target_board',
    );
  }

  /** The runtime in effect (runtime.ts), the one the Project reports and checks. */
  private runtime(site: Site): string | undefined {
    return selectRuntime(this.root, { flag: this.ctx.runtime, env: this.ctx.env }, (node) => this.scalarValue(node, 'default_runtime', site))?.name;
  }

  /** extensions.<name> by the name as written or as its key interpolates. */
  private extensionEntry(name: string): CNode | undefined {
    const all = this.root.entries.get('extensions');
    if (all?.kind !== 'map') return undefined;
    const direct = all.entries.get(name);
    if (direct) return direct;
    for (const [k, v] of all.entries)
      if (hasTemplate(k) && this.text(k, { at: keyOrigin(v), stack: [], issues: [] }) === name) return v;
    return undefined;
  }

  /** A single value of the file as a string, itself interpolated; its problems join the site's. */
  private scalarValue(node: CNode, what: string, site: Site): string | undefined {
    if (node.kind !== 'scalar')
      return this.fail(site, `'${what}' is a ${node.kind === 'map' ? 'mapping' : 'list'}; only single values can be interpolated`);
    const v = node.value;
    if (v === null) return '';
    if (typeof v !== 'string') return String(v);
    if (!hasTemplate(v)) return v;
    const { value, issues } = this.expand(node, v, site.stack);
    for (const issue of issues) site.issues.push(issue);
    return value;
  }

  /** Follows a named reference (a config path, an avocado.* value) with cycle detection. */
  private reference(name: string, site: Site, resolve: (inner: Site) => string | undefined): string | undefined {
    if (site.stack.includes(name)) return this.fail(site, `references form a cycle: ${[...site.stack, name].join(' -> ')}`);
    if (site.stack.length >= MAX_REFERENCE_DEPTH)
      return this.fail(site, `references lead through more than ${MAX_REFERENCE_DEPTH} values (${site.stack[0]} -> … -> ${name})`, 'refer to the value itself, not to a chain of values');
    return resolve({ at: site.at, stack: [...site.stack, name], issues: site.issues });
  }

  private fail(site: Site, message: string, hint?: string): undefined {
    site.issues.push(error(site.at, message, hint));
    return undefined;
  }
}

function keyOrigin(n: CNode): Origin {
  const o = n.origin;
  return o.key ? { ...o, line: o.key.line, col: o.key.col } : o;
}

function locationAt(at: Origin) {
  return { file: at.file, line: at.line, col: at.col, yamlPath: dottedPath(at.path) };
}

function error(at: Origin, message: string, hint?: string): Issue {
  return { severity: 'error', message, location: locationAt(at), hint };
}

function withIssues<N extends CNode>(n: N, issues: readonly Issue[]): N {
  if (!issues.length) return n;
  return { ...n, issues: [...(n.issues ?? []), ...issues] };
}
