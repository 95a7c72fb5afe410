/**
 * Loading a project: find avocado.yaml, resolve the target, interpolate, and hand out validated
 * extension settings with target overrides applied.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DEFAULT_FILESYSTEM, filesystemInfo, type FilesystemInfo } from '../formats/filesystems.js';
import { ConfigError, UsageError, type ConfigLocation } from '../util/errors.js';
import { interpolateString, interpolateTree, type InterpolationContext } from './interpolate.js';
import { KNOWN_EXTENSION_KEYS, KNOWN_TOP_LEVEL_KEYS, isOverrideKey } from './known-keys.js';
import { applyTargetOverrides } from './overrides.js';
import { SAFE_NAME, extensionSchema, projectSchema, validate, type ExtensionType } from './schema.js';
import { dottedPath, loadYamlFile, locationOf, type CMap, type CNode } from './tree.js';

export const CONFIG_FILE_NAME = 'avocado.yaml';

export interface LoadOptions {
  /** `-C` as given (relative to cwd); undefined: search cwd and its parents. */
  readonly configPath?: string;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** `-t/--target`. */
  readonly target?: string;
  readonly warn: (message: string) => void;
}

export type TargetSource = '--target' | 'AVOCADO_TARGET' | 'default_target';

export interface OverlaySpec {
  readonly dir: string;
  readonly mode: 'merge' | 'opaque';
  readonly location: ConfigLocation;
}

export interface VarFilePattern {
  readonly pattern: string;
  readonly location: ConfigLocation;
}

export interface ExtensionConfig {
  readonly name: string;
  readonly version: string;
  readonly filesystem: FilesystemInfo;
  /** Where the filesystem value came from, e.g. `extensions.app.filesystem` or `default`. */
  readonly filesystemSource: string;
  /** `erofs_cluster_size`: bytes per compressed EROFS cluster (4096 when unset). */
  readonly erofsClusterSize?: number;
  readonly types: readonly ExtensionType[];
  readonly varFiles: readonly VarFilePattern[];
  readonly overlay?: OverlaySpec;
  readonly enableServices: readonly string[];
  readonly modprobe: readonly string[];
  readonly onMerge: readonly string[];
  readonly onUnmerge: readonly string[];
  readonly reloadServiceManager: boolean;
  readonly sysextScopes: readonly string[];
  readonly confextScopes: readonly string[];
  /** Settings present that only the Avocado SDK can act on (`packages`, `post_build`, ...). */
  readonly sdkOnly: readonly string[];
  /** The merged settings node, for locating values. */
  readonly node: CMap;
}

export class Project {
  private constructor(
    /** Absolute path of avocado.yaml. */
    readonly file: string,
    readonly root: CMap,
    readonly target: string,
    readonly targetSource: TargetSource,
    readonly sourceDateEpoch: number,
    readonly engine: { readonly value: string; readonly location: ConfigLocation } | undefined,
    private readonly rootfsFilesystem: { value: string; node: CNode } | undefined,
    private readonly warn: (message: string) => void,
  ) {}

  /** Directory holding avocado.yaml: the project root. */
  get dir(): string {
    return dirname(this.file);
  }

  static async load(opts: LoadOptions): Promise<Project> {
    const file = findConfigFile(opts);
    const raw = await loadYamlFile(file);
    const fileLoc: ConfigLocation = { file };
    const { target, source } = resolveTarget(raw, opts, file);
    const ctx: InterpolationContext = { env: opts.env, target, warn: opts.warn };
    const root = interpolateTree(raw, ctx);

    for (const [key, node] of root.entries)
      if (!KNOWN_TOP_LEVEL_KEYS.has(key)) opts.warn(`${describe(node)}: unknown top-level key '${key}' (ignored)`);
    const fields = validate(projectSchema, root, fileLoc);
    const engineNode = root.entries.get('engine');
    const rootfsNode = root.entries.get('rootfs');
    const rootfsFs = rootfsNode?.kind === 'map' ? rootfsNode.entries.get('filesystem') : undefined;
    return new Project(
      file,
      root,
      target,
      source,
      fields.source_date_epoch ?? 0,
      fields.engine !== undefined ? { value: fields.engine, location: locationOf(engineNode, fileLoc) } : undefined,
      fields.rootfs?.filesystem !== undefined && rootfsFs ? { value: fields.rootfs.filesystem, node: rootfsFs } : undefined,
      opts.warn,
    );
  }

  private get extensionsNode(): CMap | undefined {
    const n = this.root.entries.get('extensions');
    return n?.kind === 'map' ? n : undefined;
  }

  extensionNames(): string[] {
    return [...(this.extensionsNode?.entries.keys() ?? [])];
  }

  private get supportedTargets(): string[] {
    const n = this.root.entries.get('supported_targets');
    if (n?.kind === 'seq') return n.items.flatMap((i) => (i.kind === 'scalar' && typeof i.value === 'string' ? [i.value] : []));
    return [];
  }

  /** The extension's settings for this project's target, validated. */
  extension(name: string): ExtensionConfig {
    const all = this.extensionsNode;
    const found = all?.entries.get(name);
    if (!found) {
      const known = this.extensionNames();
      throw new ConfigError(
        `extension '${name}' is not defined in ${this.file}`,
        undefined,
        known.length ? `known extensions: ${known.join(', ')}` : 'the file defines no extensions: add one under extensions:',
      );
    }
    const where = `extensions.${name}`;
    if (!SAFE_NAME.test(name))
      throw new ConfigError(`extension name '${name}' cannot be used in file names; use letters, digits and . _ + - @`, locationOf(found, { file: this.file }));
    if (found.kind !== 'map') throw new ConfigError('must be a mapping of extension settings', locationOf(found, { file: this.file, yamlPath: where }));
    const node = applyTargetOverrides(found, { target: this.target, supportedTargets: this.supportedTargets, warn: this.warn, where });
    for (const [key, value] of node.entries)
      if (!KNOWN_EXTENSION_KEYS.has(key) && !isOverrideKey(key)) this.warn(`${describe(value)}: unknown extension key '${key}' (ignored)`);

    const loc: ConfigLocation = locationOf(found, { file: this.file, yamlPath: where });
    const f = validate(extensionSchema, node, loc);

    let filesystem: FilesystemInfo;
    let filesystemSource: string;
    if (f.filesystem !== undefined) {
      filesystem = filesystemInfo(f.filesystem)!;
      filesystemSource = dottedPath(node.entries.get('filesystem')!.origin.path);
    } else if (this.rootfsFilesystem) {
      filesystem = filesystemInfo(this.rootfsFilesystem.value)!;
      filesystemSource = 'rootfs.filesystem';
    } else {
      filesystem = filesystemInfo(DEFAULT_FILESYSTEM)!;
      filesystemSource = 'default';
    }

    const varFilesNode = node.entries.get('var_files');
    const varFiles = (f.var_files ?? []).map((pattern, i) => ({
      pattern,
      location: locationOf(varFilesNode?.kind === 'seq' ? varFilesNode.items[i] : varFilesNode, loc),
    }));

    let overlay: OverlaySpec | undefined;
    if (f.overlay !== undefined) {
      const oLoc = locationOf(node.entries.get('overlay'), loc);
      overlay =
        typeof f.overlay === 'string'
          ? { dir: f.overlay, mode: 'merge', location: oLoc }
          : { dir: f.overlay.dir ?? 'overlay', mode: f.overlay.mode ?? 'merge', location: oLoc };
    }

    const list = (v: string | string[] | undefined) => (v === undefined ? [] : typeof v === 'string' ? [v] : v);
    const scopes = f.scopes ?? ['system'];
    const sdkOnly = ['packages', 'dependencies', 'post_build', 'users', 'groups', 'sdk', 'docker_images'].filter((k) => {
      const v = node.entries.get(k);
      return v && !(v.kind === 'scalar' && v.value === null) && !(v.kind !== 'scalar' && (v.kind === 'seq' ? v.items.length === 0 : v.entries.size === 0));
    });

    return {
      name,
      version: f.version,
      filesystem,
      filesystemSource,
      erofsClusterSize: f.erofs_cluster_size,
      types: f.types ?? ['sysext', 'confext'],
      varFiles,
      overlay,
      enableServices: f.enable_services ?? [],
      modprobe: f.modprobe ?? [],
      onMerge: list(f.on_merge),
      onUnmerge: list(f.on_unmerge),
      reloadServiceManager: f.reload_service_manager ?? false,
      sysextScopes: f.sysext_scopes ?? scopes,
      confextScopes: f.confext_scopes ?? scopes,
      sdkOnly,
      node,
    };
  }
}

function describe(node: CNode): string {
  return `${node.origin.file}:${node.origin.line}:${node.origin.col}`;
}

export function findConfigFile(opts: Pick<LoadOptions, 'configPath' | 'cwd'>): string {
  if (opts.configPath !== undefined) return resolve(opts.cwd, opts.configPath);
  for (let dir = resolve(opts.cwd); ; dir = dirname(dir)) {
    const candidate = join(dir, CONFIG_FILE_NAME);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) break;
  }
  throw new ConfigError(
    `no ${CONFIG_FILE_NAME} in ${opts.cwd} or any directory above it`,
    undefined,
    'run avocado in the project directory or pass -C <path/to/avocado.yaml>',
  );
}

function resolveTarget(raw: CMap, opts: LoadOptions, file: string): { target: string; source: TargetSource } {
  let target: string | undefined;
  let source: TargetSource;
  if (opts.target !== undefined) {
    target = opts.target;
    source = '--target';
    if (!target) throw new UsageError('--target needs a non-empty value');
  } else if (opts.env.AVOCADO_TARGET) {
    target = opts.env.AVOCADO_TARGET;
    source = 'AVOCADO_TARGET';
  } else {
    const node = raw.entries.get('default_target');
    source = 'default_target';
    if (node?.kind === 'scalar' && typeof node.value === 'string') {
      target = interpolateString(raw, { env: opts.env, warn: opts.warn }, node.value, node);
      if (!target) throw new ConfigError('default_target is empty', locationOf(node, { file }));
    } else if (node && !(node.kind === 'scalar' && node.value === null)) {
      throw new ConfigError('default_target must be a string', locationOf(node, { file }));
    }
  }
  if (!target)
    throw new ConfigError(
      'no target given',
      undefined,
      `pass -t/--target <target>, set AVOCADO_TARGET, or set default_target in ${file}`,
    );
  if (!SAFE_NAME.test(target) || target.includes('{{'))
    throw new ConfigError(`target '${target}' (from ${source}) cannot be used as a directory name; use letters, digits and . _ + - @`);
  return { target, source };
}
