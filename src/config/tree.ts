/**
 * A YAML document as a tree of nodes that remember where they came from (file, line, column,
 * YAML path), so that errors found after interpolation and target overrides still point at the
 * line the user wrote.
 */
import { readConfigText } from './find.js';
import {
  LineCounter,
  parseDocument,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  visit,
  type Alias,
  type Document,
  type Node as YamlNode,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';
import { ConfigError, type ConfigLocation } from '../util/errors.js';

export type YamlPath = readonly (string | number)[];

export interface Origin {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** The path in the file as written (before interpolation of keys and overrides). */
  readonly path: YamlPath;
  /** Where the mapping key of this node's entry is written, for a value inside a mapping. */
  readonly key?: { readonly line: number; readonly col: number };
}

/**
 * A problem found in a value (or its key) while interpolating the whole file. It is reported only
 * when the value is read (Project.read), so that the values this command never uses cost nothing.
 */
export interface Issue {
  readonly severity: 'warning' | 'error';
  /** Without the location, which `location` gives. */
  readonly message: string;
  readonly location: ConfigLocation;
  /** What to do about it. */
  readonly hint?: string;
  /** Issues with the same `once` are reported once (one unset variable used in many values). */
  readonly once?: string;
}

export type Scalar = string | number | boolean | null;

export interface CScalar {
  readonly kind: 'scalar';
  readonly value: Scalar;
  /** The text as written in the file, e.g. `1.0` for a YAML float. */
  readonly source: string;
  readonly origin: Origin;
  /** Problems of this node's own value or key (not of its children), reported when it is read. */
  readonly issues?: readonly Issue[];
}
export interface CSeq {
  readonly kind: 'seq';
  readonly items: readonly CNode[];
  readonly origin: Origin;
  /** Problems of this node's own value or key (not of its children), reported when it is read. */
  readonly issues?: readonly Issue[];
}
export interface CMap {
  readonly kind: 'map';
  /** Insertion-ordered, keys as strings. */
  readonly entries: ReadonlyMap<string, CNode>;
  readonly origin: Origin;
  /** Problems of this node's own value or key (not of its children), reported when it is read. */
  readonly issues?: readonly Issue[];
}
export type CNode = CScalar | CSeq | CMap;

export function dottedPath(path: YamlPath): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`))
    .join('');
}

export function locationOf(node: CNode | undefined, fallback: ConfigLocation): ConfigLocation {
  if (!node) return fallback;
  const o = node.origin;
  return { file: o.file, line: o.line, col: o.col, yamlPath: dottedPath(o.path) };
}

/** Where the key of a node's entry is written (for messages about the key itself). */
export function keyLocationOf(node: CNode): ConfigLocation {
  const o = node.origin;
  return { file: o.file, line: o.key?.line ?? o.line, col: o.key?.col ?? o.col, yamlPath: dottedPath(o.path) };
}

/** The longest config file read (4 Mi characters): real ones are a few kilobytes. */
export const MAX_CONFIG_LENGTH = 4 << 20;

/** Reads and parses a YAML config file; YAML syntax errors become ConfigErrors with positions. */
export async function loadYamlFile(file: string): Promise<CMap> {
  let text: string;
  try {
    text = await readConfigText(file);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new ConfigError(`config file not found: ${file}`, undefined, 'pass -C <file> or run avocado in the project directory');
    throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
  }
  // Parsing takes about a second per MiB and many times the file's size in memory.
  if (text.length > MAX_CONFIG_LENGTH)
    throw new ConfigError(
      `config file ${file} has ${text.length} characters; avocado reads files of up to ${MAX_CONFIG_LENGTH}`,
      undefined,
      'is it the right file? an avocado.yaml is a few kilobytes',
    );
  return parseYaml(text, file);
}

export function parseYaml(text: string, file: string): CMap {
  const lineCounter = new LineCounter();
  // Repeated keys are found by the converter, which can name both lines.
  const doc = parseDocument(text, { lineCounter, merge: true, prettyErrors: false, uniqueKeys: false });
  const problem = doc.errors[0];
  if (problem) {
    const pos = lineCounter.linePos(problem.pos[0]);
    const msg = problem.message.split('\n')[0] ?? problem.message;
    throw new ConfigError(`invalid YAML: ${msg}`, { file, line: pos.line, col: pos.col });
  }
  const root = doc.contents;
  if (root === null || root === undefined) return { kind: 'map', entries: new Map(), origin: { file, line: 1, col: 1, path: [] } };
  const converter = new Converter(doc, text, file, lineCounter);
  const node = converter.convert(root as YamlNode, []);
  if (node.kind !== 'map') throw new ConfigError('the top level must be a mapping (key: value pairs)', { file, line: node.origin.line, col: node.origin.col });
  return node;
}

/**
 * At most this many values may come from expanding aliases: an alias bomb (9 anchors, each a list
 * of 9 aliases of the previous one) is 700 bytes that expand to 9^9 values.
 */
export const MAX_ALIAS_VALUES = 100_000;
/** Deeper nesting is refused: the conversion and every walk over the tree recurse. */
export const MAX_DEPTH = 200;

class Converter {
  /** Each alias's anchored node (the last one of that name before it), found in one pass. */
  private readonly targets = new Map<Alias, YamlNode>();
  /** The collections being converted: an alias of one of them is inside what it names. */
  private readonly open = new Set<YamlNode>();
  /** The outermost alias being expanded, where a bomb is reported. */
  private expanding: { readonly alias: Alias; readonly path: YamlPath } | undefined;
  private expanded = 0;

  constructor(
    doc: Document,
    private readonly text: string,
    private readonly file: string,
    private readonly lines: LineCounter,
  ) {
    // Alias.resolve searches the whole document on every call (quadratic): resolve each once.
    const anchors = new Map<string, YamlNode>();
    visit(doc, {
      Node: (_key, node) => {
        if (isAlias(node)) {
          const target = anchors.get(node.source);
          if (target) this.targets.set(node, target);
        } else if (node.anchor) anchors.set(node.anchor, node);
      },
    });
  }

  private position(node: YamlNode | null | undefined): { line: number; col: number } {
    return this.lines.linePos(node?.range?.[0] ?? 0);
  }

  private origin(node: YamlNode | undefined, path: YamlPath, key?: Origin['key']): Origin {
    if (this.expanding && ++this.expanded > MAX_ALIAS_VALUES) {
      const { alias, path: at } = this.expanding;
      throw new ConfigError(
        `the aliases of this file expand to more than ${MAX_ALIAS_VALUES} values (an alias bomb?); this one passes the limit`,
        { file: this.file, ...this.position(alias), yamlPath: shortPath(at) },
        'write the values out, or use fewer aliases of aliases',
      );
    }
    return { file: this.file, ...this.position(node), path, ...(key ? { key } : {}) };
  }

  convert(node: YamlNode, path: YamlPath, depth = 0, key?: Origin['key']): CNode {
    if (depth > MAX_DEPTH)
      throw new ConfigError(`YAML nesting is deeper than ${MAX_DEPTH} levels`, { file: this.file, ...this.position(node), yamlPath: shortPath(path) });
    if (isAlias(node)) {
      const target = this.targets.get(node);
      const at = { file: this.file, ...this.position(node), yamlPath: shortPath(path) };
      if (!target) throw new ConfigError(`unresolved alias *${node.source}`, at, `define the anchor &${node.source} before the alias`);
      if (this.open.has(target))
        throw new ConfigError(`alias *${node.source} is inside the value of &${node.source}, which would contain itself without end`, at, 'move the alias out of its anchor\'s value');
      const outer = this.expanding;
      this.expanding ??= { alias: node, path };
      try {
        return this.convert(target, path, depth + 1, key);
      } finally {
        this.expanding = outer;
      }
    }
    if (isMap(node) || isSeq(node)) {
      this.open.add(node);
      try {
        return isMap(node) ? this.map(node, path, depth, key) : this.seq(node, path, depth, key);
      } finally {
        this.open.delete(node);
      }
    }
    if (isScalar(node)) {
      const v = node.value;
      const value: Scalar =
        typeof v === 'bigint' ? Number(v) : v === undefined ? null : v instanceof Date ? v.toISOString() : (v as Scalar);
      const [start, end] = node.range ?? [0, 0];
      return { kind: 'scalar', value, source: this.text.slice(start, end), origin: this.origin(node, path, key) };
    }
    return this.nullAt(node, path, key);
  }

  private map(node: YAMLMap, path: YamlPath, depth: number, key?: Origin['key']): CMap {
    const entries = new Map<string, CNode>();
    /** Keys written in this mapping (not merged in with <<), and where. */
    const written = new Map<string, { line: number; col: number }>();
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode | null;
      const valueNode = pair.value as YamlNode | null;
      if (isScalar(keyNode) && (typeof keyNode.value === 'symbol' || keyNode.value === '<<')) {
        // YAML merge key: the mapping(s) it names supply defaults for keys not set here.
        for (const src of this.mergeSources(keyNode, valueNode, path, depth))
          for (const [k, v] of src.entries) if (!entries.has(k)) entries.set(k, v);
        continue;
      }
      const name = isScalar(keyNode) ? String(keyNode.value) : keyNode === null ? '' : String(keyNode);
      const at = this.position(keyNode ?? node);
      const childPath = [...path, name];
      const first = written.get(name);
      if (first)
        throw new ConfigError(
          `key '${name}' is repeated: it is also at line ${first.line}, column ${first.col}`,
          { file: this.file, line: at.line, col: at.col, yamlPath: shortPath(childPath) },
          'YAML allows a key once per mapping (the Avocado CLI rejects this file too): merge the two into one',
        );
      written.set(name, at);
      entries.set(name, valueNode ? this.convert(valueNode, childPath, depth + 1, at) : this.nullAt(keyNode ?? node, childPath, at));
    }
    return { kind: 'map', entries, origin: this.origin(node, path, key) };
  }

  /** The mappings a `<<` key merges in: one mapping or a list of them, aliases as a rule. */
  private mergeSources(keyNode: YamlNode, valueNode: YamlNode | null, path: YamlPath, depth: number): CMap[] {
    const refuse = (at: YamlNode | null): never => {
      throw new ConfigError(
        "'<<' (a merge key) must be followed by a mapping or a list of mappings, usually aliases: <<: *defaults",
        { file: this.file, ...this.position(at ?? keyNode), yamlPath: shortPath(path) },
      );
    };
    const resolved = valueNode && isAlias(valueNode) ? this.targets.get(valueNode) : valueNode;
    const written = resolved && isSeq(resolved) ? (resolved.items as (YamlNode | null)[]) : [valueNode];
    return written.map((item) => {
      if (!item) return refuse(valueNode);
      const merged = this.convert(item, path, depth + 1);
      return merged.kind === 'map' ? merged : refuse(item);
    });
  }

  private seq(node: YAMLSeq, path: YamlPath, depth: number, key?: Origin['key']): CSeq {
    const items = node.items.map((item, i) =>
      item ? this.convert(item as YamlNode, [...path, i], depth + 1) : this.nullAt(node, [...path, i]),
    );
    return { kind: 'seq', items, origin: this.origin(node, path, key) };
  }

  private nullAt(node: YamlNode, path: YamlPath, key?: Origin['key']): CScalar {
    return { kind: 'scalar', value: null, source: '', origin: this.origin(node, path, key) };
  }
}

/** A YAML path for a message: a deep one keeps its first and last segments. */
function shortPath(path: YamlPath): string {
  if (path.length <= 12) return dottedPath(path);
  return `${dottedPath(path.slice(0, 6))}…(${path.length - 10} more)…${dottedPath(['', ...path.slice(-4)])}`;
}

/** Plain JS value of a node (maps become objects with the same key order). */
export function toPlain(node: CNode): unknown {
  switch (node.kind) {
    case 'scalar':
      return node.value;
    case 'seq':
      return node.items.map(toPlain);
    case 'map': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of node.entries) out[k] = toPlain(v);
      return out;
    }
  }
}

/** The node at `path` below `node`, if any. */
export function nodeAt(node: CNode | undefined, path: YamlPath): CNode | undefined {
  let cur = node;
  for (const key of path) {
    if (!cur) return undefined;
    if (cur.kind === 'map' && typeof key === 'string') cur = cur.entries.get(key);
    else if (cur.kind === 'seq' && typeof key === 'number') cur = cur.items[key];
    else return undefined;
  }
  return cur;
}
