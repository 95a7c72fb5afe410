/**
 * The checks systemd-sysext / systemd-confext make before merging an image, run on the sysroot
 * before building it, so that an image systemd would silently skip is caught here with the reason.
 */
import { posix } from 'node:path';
import type { ExtensionType } from '../config/schema.js';
import { displayPath, type DirectoryEntry, type EntryKind, type FileEntry } from './entry.js';
import { withSource } from './source-file.js';

export function releaseFilePath(type: ExtensionType, imageName: string): string {
  return type === 'sysext'
    ? `usr/lib/extension-release.d/extension-release.${imageName}`
    : `etc/extension-release.d/extension-release.${imageName}`;
}

/** systemd's architecture names (ARCHITECTURE= in extension-release files). */
const SYSTEMD_ARCHITECTURES = new Set([
  '_any', 'alpha', 'arc', 'arc-be', 'arm', 'arm-be', 'arm64', 'arm64-be', 'cris', 'ia64', 'loongarch64', 'm68k',
  'mips', 'mips-le', 'mips64', 'mips64-le', 'nios2', 'parisc', 'parisc64', 'ppc', 'ppc-le', 'ppc64', 'ppc64-le',
  'riscv32', 'riscv64', 's390', 's390x', 'sh', 'sh64', 'sparc', 'sparc64', 'tilegx', 'x86', 'x86-64',
]);
const SCOPES = new Set(['system', 'initrd', 'portable']);
/** Where ext build looks for the units of enable_services, in this order. */
export const UNIT_DIRS = ['etc/systemd/system', 'usr/lib/systemd/system'] as const;

/** KEY=VALUE lines as in os-release(5): comments, blank lines, optional quotes. */
export function parseReleaseFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    let value = line.slice(eq + 1);
    const q = value[0];
    if ((q === '"' || q === "'") && value.endsWith(q) && value.length >= 2) value = value.slice(1, -1).replace(/\\(.)/g, '$1');
    out.set(line.slice(0, eq), value);
  }
  return out;
}

export interface LintInput {
  readonly root: DirectoryEntry;
  readonly name: string;
  readonly version: string;
  readonly types: readonly ExtensionType[];
}

/**
 * What the checks need of a tree: a sysroot's entry list, or the entries read back from an image
 * (`ext inspect`). Names and paths are bytes, as in both.
 */
export interface LintNode {
  readonly kind: EntryKind;
  readonly name: Buffer;
  readonly path: Buffer;
  readonly target?: Buffer;
  readonly children?: readonly LintNode[];
}

export interface LintTreeInput<N extends LintNode> {
  readonly root: N;
  /** The image's name as systemd sees it: its file name without `.raw`. */
  readonly imageName: string;
  /** The extension, for the advice in the messages. */
  readonly name: string;
  readonly types: readonly ExtensionType[];
  /** A regular file's content. */
  readonly read: (file: N) => Buffer | Promise<Buffer>;
}

/** Returns warnings, each saying what systemd would do and why. */
export async function lintSysroot(input: LintInput): Promise<string[]> {
  return lintTree<DirectoryEntry | FileEntry | LintNode>({
    root: input.root,
    imageName: `${input.name}-${input.version}`,
    name: input.name,
    types: input.types,
    // Read as the image writers read it: the very file that was walked, never through a symlink swapped in since.
    read: (entry) => {
      const file = entry as FileEntry;
      return withSource(file, (src) => src.readNew(0, file.size));
    },
  });
}

/** The checks of lintSysroot on any tree. */
export async function lintTree<N extends LintNode>(input: LintTreeInput<N>): Promise<string[]> {
  const warnings: string[] = [];
  const { imageName } = input;
  for (const type of input.types) {
    const rel = releaseFilePath(type, imageName);
    const tool = `systemd-${type}`;
    const entry = resolveInTree(input.root, rel);
    if (!entry) {
      const others = otherReleaseFiles(input.root, type, input.name);
      warnings.push(
        `${tool} will ignore ${imageName}.raw: ${rel} is missing` +
          (others.length ? ` (the sysroot has ${others.join(', ')}: built for another version?)` : '') +
          `; run 'avocado ext build ${input.name}' or drop ${type} from types`,
      );
      continue;
    }
    if (entry.kind !== 'file') {
      warnings.push(`${tool} will ignore ${imageName}.raw: ${rel} is not a regular file`);
      continue;
    }
    const fields = parseReleaseFile((await input.read(entry)).toString('utf8'));
    const id = fields.get('ID');
    if (!id) warnings.push(`${tool} will ignore ${imageName}.raw: ${rel} has no ID= line (ID=_any matches every host)`);
    else if (id !== '_any' && !fields.get('VERSION_ID') && !fields.get(type === 'sysext' ? 'SYSEXT_LEVEL' : 'CONFEXT_LEVEL'))
      warnings.push(`${rel}: ID=${id} without VERSION_ID= or ${type === 'sysext' ? 'SYSEXT_LEVEL' : 'CONFEXT_LEVEL'}= only merges on hosts whose os-release has no VERSION_ID; use ID=_any or add one`);
    const arch = fields.get('ARCHITECTURE');
    if (arch !== undefined && !SYSTEMD_ARCHITECTURES.has(arch))
      warnings.push(`${tool} will ignore ${imageName}.raw on every host: ${rel} has ARCHITECTURE=${arch}, which is not a systemd architecture name (e.g. x86-64, arm64)`);
    const scopeKey = type === 'sysext' ? 'SYSEXT_SCOPE' : 'CONFEXT_SCOPE';
    const scope = fields.get(scopeKey);
    if (scope !== undefined) {
      const bad = scope.split(/\s+/).filter((s) => s && !SCOPES.has(s));
      if (bad.length) warnings.push(`${rel}: ${scopeKey} has unknown scope(s) ${bad.join(', ')}; systemd knows system, initrd and portable`);
      if (!scope.split(/\s+/).includes('system')) warnings.push(`${tool} will not merge ${imageName}.raw on a booted system: ${rel} has ${scopeKey}=${scope} without 'system'`);
    }
    for (const unit of (fields.get('AVOCADO_ENABLE_SERVICES') ?? '').split(/\s+/).filter(Boolean))
      if (!UNIT_DIRS.some((d) => resolveInTree(input.root, `${d}/${unit}`)?.kind === 'file'))
        warnings.push(
          `${rel}: AVOCADO_ENABLE_SERVICES names ${unit}, but the sysroot has no ${unit} in ${UNIT_DIRS.join(' or ')}, so it cannot be enabled on merge; ` +
            `ship the unit in the overlay or drop it from enable_services, then run 'avocado ext build ${input.name}'`,
        );
  }
  if (input.types.includes('sysext') && resolveInTree(input.root, 'usr/lib/os-release'))
    warnings.push(`systemd-sysext will refuse ${imageName}.raw: it ships usr/lib/os-release, which only the host may provide; remove it from the sysroot or list it in var_files`);
  const outside = filesOutsideMergedTrees(input.root, input.types);
  if (outside.count)
    warnings.push(
      `${outside.count} file(s) outside ${mergedTopLevel(input.types).map((d) => `/${d}`).join(', ')} will be in the image but never merged (e.g. ${outside.examples.join(', ')}); list them in var_files to keep them out`,
    );
  return warnings;
}

function mergedTopLevel(types: readonly ExtensionType[]): string[] {
  return [...(types.includes('sysext') ? ['usr', 'opt'] : []), ...(types.includes('confext') ? ['etc'] : [])];
}

function filesOutsideMergedTrees(root: LintNode, types: readonly ExtensionType[]): { count: number; examples: string[] } {
  const merged = new Set(mergedTopLevel(types));
  let count = 0;
  const examples: string[] = [];
  const visit = (e: LintNode) => {
    if (e.kind === 'directory') return e.children?.forEach(visit);
    count++;
    if (examples.length < 3) examples.push(displayPath(e.path));
  };
  for (const top of root.children ?? []) if (!merged.has(top.name.toString('latin1'))) visit(top);
  return { count, examples };
}

function otherReleaseFiles(root: LintNode, type: ExtensionType, name: string): string[] {
  const dir = findNode(root, posix.dirname(releaseFilePath(type, 'x')));
  if (dir?.kind !== 'directory') return [];
  const prefix = `extension-release.${name}-`;
  return (dir.children ?? []).map((c) => c.name.toString('utf8')).filter((n) => n.startsWith(prefix));
}

/** Follows symlinks inside the tree, as systemd does when it reads the release file in the image. */
function resolveInTree<N extends LintNode>(root: N, rel: string, depth = 0): N | undefined {
  const entry = findNode(root, rel);
  if (entry?.kind !== 'symlink' || depth > 8) return entry;
  const target = (entry.target ?? Buffer.alloc(0)).toString('utf8');
  const next = target.startsWith('/') ? target.slice(1) : posix.join(posix.dirname(rel), target);
  return resolveInTree(root, posix.normalize(next), depth + 1);
}

/** The node at a relative path (`usr/lib/x`), no symlink followed. */
function findNode<N extends LintNode>(root: N, relPath: string): N | undefined {
  let cur: LintNode = root;
  for (const part of relPath.split('/').filter(Boolean)) {
    if (cur.kind !== 'directory') return undefined;
    const name = Buffer.from(part, 'utf8');
    const next: LintNode | undefined = cur.children?.find((c) => c.name.equals(name));
    if (!next) return undefined;
    cur = next;
  }
  return cur as N;
}
