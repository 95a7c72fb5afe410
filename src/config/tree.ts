/**
 * A YAML document as a tree of nodes that remember where they came from (file, line, column,
 * YAML path), so that errors found after interpolation and target overrides still point at the
 * line the user wrote.
 */
import { readFile } from 'node:fs/promises';
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
}

export type Scalar = string | number | boolean | null;

export interface CScalar {
  readonly kind: 'scalar';
  readonly value: Scalar;
  /** The text as written in the file, e.g. `1.0` for a YAML float. */
  readonly source: string;
  readonly origin: Origin;
}
export interface CSeq {
  readonly kind: 'seq';
  readonly items: readonly CNode[];
  readonly origin: Origin;
}
export interface CMap {
  readonly kind: 'map';
  /** Insertion-ordered, keys as strings. */
  readonly entries: ReadonlyMap<string, CNode>;
  readonly origin: Origin;
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

/** Reads and parses a YAML config file; YAML syntax errors become ConfigErrors with positions. */
export async function loadYamlFile(file: string): Promise<CMap> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new ConfigError(`config file not found: ${file}`, undefined, 'pass -C <file> or run avocado in the project directory');
    throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
  }
  return parseYaml(text, file);
}

export function parseYaml(text: string, file: string): CMap {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, merge: true, prettyErrors: false, uniqueKeys: true });
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

  private origin(node: YamlNode | undefined, path: YamlPath): Origin {
    const offset = node?.range?.[0] ?? 0;
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, col, path };
  }

  convert(node: YamlNode, path: YamlPath, depth = 0): CNode {
    if (depth > 200) throw new ConfigError('YAML nesting is too deep (alias loop?)', { file: this.file, yamlPath: dottedPath(path) });
    if (isAlias(node)) {
      const target = node.resolve(this.doc);
      if (!target) throw new ConfigError(`unresolved alias *${node.source}`, { ...this.origin(node, path), yamlPath: dottedPath(path) });
      return this.convert(target as YamlNode, path, depth + 1);
    }
    if (isMap(node)) {
      const entries = new Map<string, CNode>();
      for (const pair of node.items) {
        const keyNode = pair.key as YamlNode | null;
        const key = isScalar(keyNode) ? String(keyNode.value) : keyNode === null ? '' : String(keyNode);
        const valueNode = pair.value as YamlNode | null;
        if (key === '<<' && valueNode) {
          // YAML merge key: the mapping(s) it names supply defaults for keys not set here.
          const merged = this.convert(valueNode, path, depth + 1);
          const sources = merged.kind === 'seq' ? merged.items : [merged];
          for (const src of sources)
            if (src.kind === 'map') for (const [k, v] of src.entries) if (!entries.has(k)) entries.set(k, v);
          continue;
        }
        const childPath = [...path, key];
        entries.set(key, valueNode ? this.convert(valueNode, childPath, depth + 1) : this.nullAt(keyNode ?? node, childPath));
      }
      return { kind: 'map', entries, origin: this.origin(node, path) };
    }
    if (isSeq(node)) {
      const items = node.items.map((item, i) =>
        item ? this.convert(item as YamlNode, [...path, i], depth + 1) : this.nullAt(node, [...path, i]),
      );
      return { kind: 'seq', items, origin: this.origin(node, path) };
    }
    if (isScalar(node)) {
      const v = node.value;
      const value: Scalar =
        typeof v === 'bigint' ? Number(v) : v === undefined ? null : v instanceof Date ? v.toISOString() : (v as Scalar);
      const [start, end] = node.range ?? [0, 0];
      return { kind: 'scalar', value, source: this.text.slice(start, end), origin: this.origin(node, path) };
    }
    return this.nullAt(node, path);
  }

  private nullAt(node: YamlNode, path: YamlPath): CScalar {
    return { kind: 'scalar', value: null, source: '', origin: this.origin(node, path) };
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

export function mapNode(entries: Map<string, CNode>, origin: Origin): CMap {
  return { kind: 'map', entries, origin };
}
