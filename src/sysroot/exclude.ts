/**
 * What stays out of the image: the package manager's state (always), then the extension's
 * `var_files` globs, matched against the tree's real paths with picomatch. A matched directory
 * is excluded with everything below it.
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
  private readonly fixed: ReadonlySet<string>;
  private readonly matchers: readonly { rule: ExclusionRule; test: (s: string) => boolean }[];

  constructor(varFiles: readonly VarFilePattern[]) {
    const fixedRules = ALWAYS_EXCLUDED.map((p) => ({ pattern: p, glob: p, directoriesOnly: false, matches: 0 }));
    const globRules = varFiles.map((v) => normalisePattern(v));
    this.rules = [...fixedRules, ...globRules];
    this.fixed = new Set(ALWAYS_EXCLUDED);
    // Paths are matched as one char per byte (latin1), so patterns are too: a non-UTF-8 name and a
    // non-ASCII pattern compare byte for byte.
    this.matchers = globRules.map((rule) => ({
      rule,
      test: picomatch(Buffer.from(rule.glob, 'utf8').toString('latin1'), { dot: true }),
    }));
  }

  /** The rule excluding `path` (relative, one char per byte), if any. */
  match(path: string, isDirectory: boolean): ExclusionRule | undefined {
    if (this.fixed.has(path)) {
      const rule = this.rules.find((r) => r.glob === path)!;
      rule.matches++;
      return rule;
    }
    for (const m of this.matchers) {
      if (m.rule.directoriesOnly && !isDirectory) continue;
      if (m.test(path)) {
        m.rule.matches++;
        return m.rule;
      }
    }
    return undefined;
  }

  /** `var_files` patterns that excluded nothing. */
  unmatched(): ExclusionRule[] {
    return this.rules.filter((r) => r.location && r.matches === 0);
  }
}

export function normalisePattern(v: VarFilePattern): ExclusionRule {
  let glob = v.pattern.trim();
  while (glob.startsWith('/') || glob.startsWith('./')) glob = glob.startsWith('/') ? glob.slice(1) : glob.slice(2);
  glob = glob.replace(/\/{2,}/g, '/');
  const directoriesOnly = glob.endsWith('/');
  if (directoriesOnly) glob = glob.replace(/\/+$/, '');
  if (!glob || glob === '.' || /^\*\*$/.test(glob))
    throw new ConfigError(`var_files pattern '${v.pattern}' would exclude the whole sysroot`, v.location, 'name a path below it, e.g. var/lib/app/**');
  if (glob.split('/').some((s) => s === '..' || s === '.'))
    throw new ConfigError(`var_files pattern '${v.pattern}' has a '.' or '..' segment`, v.location, 'write it relative to the sysroot root, e.g. var/lib/app/**');
  return { pattern: v.pattern, glob, location: v.location, directoriesOnly, matches: 0 };
}
