/**
 * What `ext image` and `ext build` read from avocado.yaml, validated with zod. Every issue is
 * reported at the line of the node it concerns (see `validate`).
 */
import parseSemver from 'semver/functions/parse.js';
import * as z from 'zod/mini';
import './zod.js';
import { FILESYSTEMS, erofsClusterSizeProblem, filesystemInfo } from '../formats/filesystems.js';
import { ConfigError, type ConfigLocation } from '../util/errors.js';
import { EXTENSION_SCOPES, releaseValueProblem, shownValue, unitNameProblem } from './release-values.js';
import { dottedPath, locationOf, nodeAt, toPlain, type CNode } from './tree.js';

/** Names that become file and directory names: no separators, no leading dot or dash. */
export const SAFE_NAME = /^[A-Za-z0-9_+][A-Za-z0-9_.+@-]*$/;

const stringList = z.array(z.string({ error: 'must be a string' }), { error: 'must be a list of strings' });

/** A string checked by `problem` (undefined: fine), the message naming the value. */
const checkedString = (problem: (v: string) => string | undefined) =>
  z.string({ error: 'must be a string' }).check(
    z.superRefine((v, ctx) => {
      const p = problem(v);
      if (p) ctx.addIssue({ code: 'custom', message: `${shownValue(v)} ${p}` });
    }),
  );
/** Values written into extension-release files (one line each). */
const releaseValue = checkedString(releaseValueProblem);
const releaseValues = z.array(releaseValue, { error: 'must be a list of strings' });
const scopeList = z.array(
  checkedString((v) => ((EXTENSION_SCOPES as readonly string[]).includes(v) ? undefined : `is not a scope: use ${EXTENSION_SCOPES.join(', ')}`)),
  { error: `must be a list of scopes (${EXTENSION_SCOPES.join(', ')})` },
);
const unitNames = z.array(
  checkedString((v) => {
    const p = unitNameProblem(v);
    return p && `is not a unit name: it ${p}; give unit file names such as app.service`;
  }),
  { error: 'must be a list of unit names' },
);

export const EXTENSION_TYPES = ['sysext', 'confext'] as const;
export type ExtensionType = (typeof EXTENSION_TYPES)[number];

const filesystemValue = z.string({ error: 'must be a string' }).check(
  z.superRefine((v, ctx) => {
    const info = filesystemInfo(v);
    if (!info)
      ctx.addIssue({ code: 'custom', message: `unknown filesystem '${v}'; expected one of ${FILESYSTEMS.map((f) => f.value).join(', ')}` });
  }),
);

export const extensionSchema = z.looseObject({
  version: z.pipe(
    z.unknown().check(
      z.superRefine((v, ctx) => {
        if (v === undefined || v === null) ctx.addIssue({ code: 'custom', message: 'is required: give the extension a semver version, e.g. version: "1.0.0"' });
        else if (typeof v === 'number') ctx.addIssue({ code: 'custom', message: `is a YAML number; quote it as a string with MAJOR.MINOR.PATCH, e.g. version: "${semverHint(v)}"` });
        else if (typeof v !== 'string') ctx.addIssue({ code: 'custom', message: 'must be a quoted semver string, e.g. "1.0.0"' });
        else if (!isSemver(v))
          ctx.addIssue({ code: 'custom', message: `'${v}' is not a semantic version: use MAJOR.MINOR.PATCH with optional -pre-release and +build, e.g. "1.0.0", "2.1.3-rc.1"` });
      }),
    ),
    z.transform((v) => v as string),
  ),
  filesystem: z.optional(filesystemValue),
  erofs_cluster_size: z.optional(
    z.number({ error: 'must be a number of bytes' }).check(
      z.superRefine((v, ctx) => {
        const problem = erofsClusterSizeProblem(v);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }),
    ),
  ),
  types: z.optional(
    z
      .array(z.enum(EXTENSION_TYPES, { error: 'must be sysext or confext' }), { error: 'must be a list: [sysext], [confext] or [sysext, confext]' })
      .check(
        z.minLength(1, 'must name at least one of sysext, confext'),
        z.refine((t) => new Set(t).size === t.length, 'lists a type twice'),
      ),
  ),
  var_files: z.optional(stringList),
  overlay: z.optional(
    z.union(
      [
        z.string(),
        z.looseObject({
          dir: z.optional(z.string({ error: 'must be a string' })),
          mode: z.optional(z.enum(['merge', 'opaque'], { error: 'must be merge or opaque' })),
        }),
      ],
      { error: 'must be a directory name or {dir, mode: merge|opaque}' },
    ),
  ),
  enable_services: z.optional(unitNames),
  modprobe: z.optional(releaseValues),
  on_merge: z.optional(z.union([releaseValue, releaseValues], { error: 'must be a string or a list of strings' })),
  on_unmerge: z.optional(z.union([releaseValue, releaseValues], { error: 'must be a string or a list of strings' })),
  reload_service_manager: z.optional(z.boolean({ error: 'must be true or false' })),
  scopes: z.optional(scopeList),
  sysext_scopes: z.optional(scopeList),
  confext_scopes: z.optional(scopeList),
  image: z.optional(
    z.looseObject(
      {
        type: z.optional(z.enum(['raw', 'kab'], { error: 'must be raw or kab' })),
        args: z.optional(z.string({ error: 'must be a string' })),
      },
      { error: 'must be a mapping, e.g. {type: raw}' },
    ),
  ),
});
export type ExtensionFields = z.infer<typeof extensionSchema>;

/** The extension keys `ext build` and `ext image` read (the others are the SDK's). */
export const EXTENSION_READ_KEYS: readonly string[] = Object.keys(extensionSchema.shape);

export const projectSchema = z.looseObject({
  source_date_epoch: z.optional(
    z.pipe(
      z.union([z.number(), z.string()], { error: 'must be a whole number of seconds since 1970' }),
      z.transform((v: number | string, ctx) => {
        const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v.trim()) : v;
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n >= 2 ** 32) {
          ctx.issues.push({ code: 'custom', message: `must be a whole number from 0 to ${2 ** 32 - 1} (seconds since 1970; images store 32-bit times), got ${JSON.stringify(v)}`, input: v });
          return z.NEVER;
        }
        return n;
      }),
    ),
  ),
  default_target: z.optional(z.string({ error: 'must be a string' })),
  supported_targets: z.optional(z.union([z.string(), stringList], { error: "must be '*' or a list of target names" })),
  engine: z.optional(z.string({ error: 'must be a string' })),
  src_dir: z.optional(z.string({ error: 'must be a string' })),
  rootfs: z.optional(z.looseObject({ filesystem: z.optional(filesystemValue) }, { error: 'must be a mapping' })),
  extensions: z.optional(z.record(z.string(), z.unknown(), { error: 'must be a mapping of extension names to settings' })),
});
export type ProjectFields = z.infer<typeof projectSchema>;

/** Strict SemVer 2.0: exactly MAJOR.MINOR.PATCH[-pre][+build], no 'v' prefix or spaces. */
export function isSemver(v: string): boolean {
  const parsed = parseSemver(v);
  return parsed !== null && `${parsed.version}${parsed.build.length ? `+${parsed.build.join('.')}` : ''}` === v;
}

function semverHint(n: number): string {
  const parts = String(n).split('.');
  while (parts.length < 3) parts.push('0');
  return parts.slice(0, 3).join('.');
}

/**
 * Validates a node against a schema; the first issue becomes a ConfigError at the line of the
 * offending node (or of its nearest ancestor that exists, for missing keys).
 */
export function validate<S extends z.ZodMiniType>(schema: S, node: CNode, fallback: ConfigLocation): z.output<S> {
  const result = schema.safeParse(toPlain(node));
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  let depth = path.length;
  let at = nodeAt(node, path);
  while (!at && depth > 0) at = nodeAt(node, path.slice(0, --depth));
  const loc = locationOf(at, fallback);
  // For a missing key, name it below the deepest node that exists.
  const yamlPath = dottedPath([...(at?.origin.path ?? []), ...path.slice(depth)]);
  // A value that came out of {{ … }}: show what was written too.
  const written = depth === path.length && at?.kind === 'scalar' && at.source.includes('{{') ? ` (written ${at.source})` : '';
  throw new ConfigError(`${issue.message}${written}`, { ...loc, yamlPath });
}
