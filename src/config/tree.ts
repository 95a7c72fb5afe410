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
  type Document,
  type Node as YamlNode,
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

class Converter {
  constructor(
    private readonly doc: Document,
    private readonly text: string,
    private readonly file: string,
    private readonly lines: LineCounter,
  ) {}

  private position(node: YamlNode | null | undefined): { line: number; col: number } {
    return this.lines.linePos(node?.range?.[0] ?? 0);
  }

  private origin(node: YamlNode | undefined, path: YamlPath, key?: Origin['key']): Origin {
    return { file: this.file, ...this.position(node), path, ...(key ? { key } : {}) };
  }

  convert(node: YamlNode, path: YamlPath, depth = 0, key?: Origin['key']): CNode {
    if (depth > 200) throw new ConfigError('YAML nesting is too deep (alias loop?)', { file: this.file, yamlPath: dottedPath(path) });
    if (isAlias(node)) {
      const target = node.resolve(this.doc);
      if (!target) throw new ConfigError(`unresolved alias *${node.source}`, { ...this.origin(node, path), yamlPath: dottedPath(path) });
      return this.convert(target as YamlNode, path, depth + 1, key);
    }
    if (isMap(node)) {
      const entries = new Map<string, CNode>();
      /** Keys written in this mapping (not merged in with <<), and where. */
      const written = new Map<string, { line: number; col: number }>();
      for (const pair of node.items) {
        const keyNode = pair.key as YamlNode | null;
        const valueNode = pair.value as YamlNode | null;
        if (isScalar(keyNode) && (typeof keyNode.value === 'symbol' || keyNode.value === '<<') && valueNode) {
          // YAML merge key: the mapping(s) it names supply defaults for keys not set here.
          const merged = this.convert(valueNode, path, depth + 1);
          const sources = merged.kind === 'seq' ? merged.items : [merged];
          for (const src of sources)
            if (src.kind === 'map') for (const [k, v] of src.entries) if (!entries.has(k)) entries.set(k, v);
          continue;
        }
        const name = isScalar(keyNode) ? String(keyNode.value) : keyNode === null ? '' : String(keyNode);
        const at = this.position(keyNode ?? node);
        const childPath = [...path, name];
        const first = written.get(name);
        if (first)
          throw new ConfigError(
            `key '${name}' is repeated: it is also at line ${first.line}, column ${first.col}`,
            { file: this.file, line: at.line, col: at.col, yamlPath: dottedPath(childPath) },
            'YAML allows a key once per mapping (the Avocado CLI rejects this file too): merge the two into one',
          );
        written.set(name, at);
        entries.set(name, valueNode ? this.convert(valueNode, childPath, depth + 1, at) : this.nullAt(keyNode ?? node, childPath, at));
      }
      return { kind: 'map', entries, origin: this.origin(node, path, key) };
    }
    if (isSeq(node)) {
      const items = node.items.map((item, i) =>
        item ? this.convert(item as YamlNode, [...path, i], depth + 1) : this.nullAt(node, [...path, i]),
      );
      return { kind: 'seq', items, origin: this.origin(node, path, key) };
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

  private nullAt(node: YamlNode, path: YamlPath, key?: Origin['key']): CScalar {
    return { kind: 'scalar', value: null, source: '', origin: this.origin(node, path, key) };
  }
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
