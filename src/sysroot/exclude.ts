/**
 * What stays out of the image: the package manager's state (always), then the extension's
 * `var_files` globs, matched against the tree's real paths with picomatch's regular expressions.
 * A matched directory is excluded with everything below it.
 */
import picomatch from 'picomatch';
import type { VarFilePattern } from '../config/project.js';
import { ConfigError, type ConfigLocation } from '../util/errors.js';

/** rpm/dnf databases and dnf's logs: install-time state that is not reproducible and never merged. */
export const ALWAYS_EXCLUDED = [
  'var/lib/rpm',
  'var/lib/dnf',
  'var/cache/dnf',
  'var/log/dnf.log',
  'var/log/dnf.rpm.log',
  'var/log/dnf.librepo.log',
  'var/log/hawkey.log',
] as const;

export interface ExclusionRule {
  /** As written in the config (or the fixed path). */
  readonly pattern: string;
  /** Normalised glob that is matched. */
  readonly glob: string;
  /** `var_files` entry, or undefined for the fixed package-manager exclusions. */
  readonly location?: ConfigLocation;
  /** Pattern ended in `/`: matches directories only. */
  readonly directoriesOnly: boolean;
  /** Number of paths it excluded in the last walk. */
  matches: number;
}

export class Exclusions {
  readonly rules: readonly ExclusionRule[];
  private readonly fixed: ReadonlyMap<string, ExclusionRule>;
  /** Every glob rule, for directories; the rules that are not directories-only, for the rest. */
  private readonly forDirectories: RuleIndex;
  private readonly forOthers: RuleIndex;

  constructor(varFiles: readonly VarFilePattern[]) {
    const fixedRules = ALWAYS_EXCLUDED.map((p) => ({ pattern: p, glob: p, directoriesOnly: false, matches: 0 }));
    const globRules = varFiles.map((v) => normalisePattern(v));
    this.rules = [...fixedRules, ...globRules];
    this.fixed = new Map(fixedRules.map((r) => [r.glob, r]));
    this.forDirectories = new RuleIndex(globRules);
    this.forOthers = new RuleIndex(globRules.filter((r) => !r.directoriesOnly));
  }

  /** The rule excluding `path` (relative, one char per byte), if any: the first that matches. */
  match(path: string, isDirectory: boolean): ExclusionRule | undefined {
    const rule = this.fixed.get(path) ?? (isDirectory ? this.forDirectories : this.forOthers).match(path);
    if (rule) rule.matches++;
    return rule;
  }

  /** `var_files` patterns that excluded nothing. */
  unmatched(): ExclusionRule[] {
    return this.rules.filter((r) => r.location && r.matches === 0);
  }
}

/**
 * Finds the first of many globs that matches a path without testing them all (10,000 patterns
 * tested one by one took minutes on a 2,000-entry sysroot; one regular expression of them all is
 * more than V8 compiles). Each glob is filed under a literal that every path it matches must have:
 * its directory prefix (`var/lib/app` for `var/lib/app/**`), which such a path equals or lies
 * below; else one of its literal segments (`cache` for `**` + `/cache/**`), which is one of the path's
 * segments. A path is then tested only against the globs filed under its own prefixes and
 * segments, and the few globs without a literal (`*.log`).
 */
class RuleIndex {
  private readonly byBase = new Map<string, IndexedRule[]>();
  private readonly bySegment = new Map<string, IndexedRule[]>();
  private readonly anywhere: IndexedRule[] = [];

  constructor(rules: readonly ExclusionRule[]) {
    const file = (map: Map<string, IndexedRule[]>, key: string, r: IndexedRule) => {
      const list = map.get(key);
      if (list) list.push(r);
      else map.set(key, [r]);
    };
    rules.forEach((rule, order) => {
      // Paths are matched as one char per byte (latin1), so patterns are too: a non-UTF-8 name and
      // a non-ASCII pattern compare byte for byte.
      const glob = Buffer.from(rule.glob, 'utf8').toString('latin1');
      const indexed = new IndexedRule(rule, order, glob);
      const { base, negated } = picomatch.scan(glob);
      // A base with an escape is not the literal path it seems.
      if (negated) this.anywhere.push(indexed);
      else if (base && !base.includes('\\')) file(this.byBase, base, indexed);
      else {
        const literal = glob.split('/').findLast((segment) => segment && !GLOB_SYNTAX.test(segment));
        if (literal !== undefined) file(this.bySegment, literal, indexed);
        else this.anywhere.push(indexed);
      }
    });
  }

  /** The first rule (in the order given) that matches `path`. */
  match(path: string): ExclusionRule | undefined {
    let best: IndexedRule | undefined;
    // Each list is in configuration order: past the best match so far, nothing can beat it.
    const consider = (list: readonly IndexedRule[] = []) => {
      for (const r of list) {
        if (best && r.order > best.order) return;
        if (r.test(path)) best = r;
      }
    };
    let start = 0;
    for (let slash = path.indexOf('/'); slash >= 0; start = slash + 1, slash = path.indexOf('/', start)) {
      consider(this.byBase.get(path.slice(0, slash)));
      consider(this.bySegment.get(path.slice(start, slash)));
    }
    consider(this.byBase.get(path));
    consider(this.bySegment.get(path.slice(start)));
    consider(this.anywhere);
    return best?.rule;
  }
}

/** Characters with a meaning in picomatch globs (wildcards, classes, braces, extglobs, escapes). */
const GLOB_SYNTAX = /[*?[\]{}()!+@\\|^$]/;

class IndexedRule {
  private regex?: RegExp;

  constructor(
    readonly rule: ExclusionRule,
    /** Position in the configuration: the first matching rule is the one reported. */
    readonly order: number,
    private readonly glob: string,
  ) {}

  /** As picomatch's matcher: the glob itself, or its regular expression (compiled when first needed). */
  test(path: string): boolean {
    return path === this.glob || (this.regex ??= picomatch.makeRe(this.glob, { dot: true })).test(path);
  }
}

export function normalisePattern(v: VarFilePattern): ExclusionRule {
  let glob = v.pattern.trim();
  while (glob.startsWith('/') || glob.startsWith('./')) glob = glob.startsWith('/') ? glob.slice(1) : glob.slice(2);
  glob = glob.replace(/\/{2,}/g, '/');
  const directoriesOnly = glob.endsWith('/');
  if (directoriesOnly) glob = glob.replace(/\/+$/, '');
  if (!glob || glob === '.' || emptiesTheImage(glob))
    throw new ConfigError(`var_files pattern '${v.pattern}' would exclude the whole sysroot: it matches every name at its top level or one below`, v.location, 'name a path below it, e.g. var/lib/app/**');
  if (glob.split('/').some((s) => s === '..' || s === '.'))
    throw new ConfigError(`var_files pattern '${v.pattern}' has a '.' or '..' segment`, v.location, 'write it relative to the sysroot root, e.g. var/lib/app/**');
  return { pattern: v.pattern, glob, location: v.location, directoriesOnly, matches: 0 };
}

/** Top-level names: a pattern matching each of them, or each of the names just below them, leaves an empty image. */
const TOP_LEVEL_PROBES = ['usr', 'etc', 'opt', 'var', 'avocado-any-name', '.hidden'];

/** `**`, `*`, `**` + `/**`, `*` + `/`, `*` + `/**`, `!(x)`…: patterns that empty the image, as `**` does. */
function emptiesTheImage(glob: string): boolean {
  const test = picomatch(glob, { dot: true });
  return TOP_LEVEL_PROBES.every((name) => test(name) || test(`${name}/avocado-any-name`));
}
