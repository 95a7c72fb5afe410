/**
 * `{{ env.NAME }}`, `{{ config.a.b }}` and `{{ avocado.target }}` in values and mapping keys,
 * as the Avocado CLI does (reference §2.2). References to other config values are resolved
 * recursively, so chains work in one pass and cycles are reported with their path.
 */
import { ConfigError } from '../util/errors.js';
import { dottedPath, locationOf, nodeAt, type CMap, type CNode, type CScalar, type YamlPath } from './tree.js';

export interface InterpolationContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The resolved target, if known; `{{ avocado.target }}` stays as written otherwise. */
  readonly target?: string;
  /** Called once per unset environment variable. */
  readonly warn: (message: string) => void;
}

const TEMPLATE = /\{\{\s*([^{}]*?)\s*\}\}/g;

export function hasTemplate(s: string): boolean {
  return s.includes('{{');
}

export function interpolateTree(root: CMap, ctx: InterpolationContext): CMap {
  return new Interpolator(root, ctx).map(root);
}

/** Interpolates one string found at `where` (used for values read before the whole tree is). */
export function interpolateString(root: CMap, ctx: InterpolationContext, s: string, where: CNode): string {
  return new Interpolator(root, ctx).string(s, where, []);
}

class Interpolator {
  private readonly warnedEnv = new Set<string>();

  constructor(
    private readonly root: CMap,
    private readonly ctx: InterpolationContext,
  ) {}

  node(n: CNode): CNode {
    switch (n.kind) {
      case 'scalar':
        return typeof n.value === 'string' && hasTemplate(n.value)
          ? ({ ...n, value: this.string(n.value, n, []) } satisfies CScalar)
          : n;
      case 'seq':
        return { ...n, items: n.items.map((i) => this.node(i)) };
      case 'map':
        return this.map(n);
    }
  }

  map(m: CMap): CMap {
    const entries = new Map<string, CNode>();
    for (const [k, v] of m.entries) {
      const key = hasTemplate(k) ? this.string(k, v, []) : k;
      entries.set(key, this.node(v));
    }
    return { ...m, entries };
  }

  string(s: string, where: CNode, stack: readonly string[]): string {
    return s.replace(TEMPLATE, (whole, expr: string) => this.expression(whole, expr.trim(), where, stack));
  }

  private expression(whole: string, expr: string, where: CNode, stack: readonly string[]): string {
    const dot = expr.indexOf('.');
    const context = dot < 0 ? expr : expr.slice(0, dot);
    const rest = dot < 0 ? '' : expr.slice(dot + 1);
    switch (context) {
      case 'env': {
        if (!rest) throw this.error(`'${whole}' names no environment variable`, where);
        const value = this.ctx.env[rest];
        if (value === undefined) {
          if (!this.warnedEnv.has(rest)) {
            this.warnedEnv.add(rest);
            this.ctx.warn(`environment variable '${rest}' is not set, replacing with an empty string (${describe(where)})`);
          }
          return '';
        }
        return value;
      }
      case 'config':
        return this.configValue(rest, where, stack);
      case 'avocado':
        if (rest === 'target' && this.ctx.target !== undefined) return this.ctx.target;
        return whole; // other avocado.* values are unknown at image time: left as written
      default:
        throw this.error(`unknown template context '${context}' in '${whole}'; expected 'env', 'config' or 'avocado'`, where);
    }
  }

  private configValue(path: string, where: CNode, stack: readonly string[]): string {
    if (stack.includes(path))
      throw this.error(`config references form a cycle: ${[...stack, path].map((p) => `config.${p}`).join(' -> ')}`, where);
    const keys: YamlPath = path.split('.').map((k) => (/^\d+$/.test(k) ? Number(k) : k));
    let target = nodeAt(this.root, keys);
    // A numeric segment may also be a mapping key.
    if (!target) target = nodeAt(this.root, path.split('.'));
    if (!target) throw this.error(`config path 'config.${path}' not found in the configuration`, where);
    if (target.kind !== 'scalar')
      throw this.error(`'config.${path}' is a ${target.kind === 'map' ? 'mapping' : 'list'}; only single values can be interpolated`, where);
    const v = target.value;
    if (v === null) return '';
    if (typeof v === 'string' && hasTemplate(v)) return this.string(v, target, [...stack, path]);
    return String(v);
  }

  private error(message: string, where: CNode): ConfigError {
    return new ConfigError(message, locationOf(where, { file: where.origin.file }));
  }
}

function describe(n: CNode): string {
  return `${n.origin.file}:${n.origin.line}: ${dottedPath(n.origin.path)}`;
}
