/**
 * Loading a project: find avocado.yaml, resolve the target, interpolate, and hand out validated
 * settings with target overrides applied.
 *
 * Only what a command reads is checked and reported: the whole file is interpolated at load, but
 * the problems found in a value (an unset variable, a missing config path) are reported when the
 * value is read, through `read()`, `extension()` or the getters, and each only once.
 */
import { dirname, resolve } from 'node:path';
import { findConfigFile } from './find.js';
import { DEFAULT_FILESYSTEM, filesystemInfo, type FilesystemInfo } from '../formats/filesystems.js';
import { ConfigError, UsageError, formatLocation, type ConfigLocation } from '../util/errors.js';
import { configReferences, interpolateScalar, interpolateTree } from './interpolate.js';
import { KNOWN_EXTENSION_KEYS, KNOWN_TOP_LEVEL_KEYS, READ_TOP_LEVEL_KEYS, closestKey, isOverrideKey } from './known-keys.js';
import { applyTargetOverrides } from './overrides.js';
import { definedRuntimes, runtimeExtensionNames, selectRuntime, type RuntimeSelection } from './runtime.js';
import { EXTENSION_READ_KEYS, SAFE_NAME, extensionSchema, projectSchema, validate, type ExtensionType, type ProjectFields } from './schema.js';
import { dottedPath, keyLocationOf, loadYamlFile, locationOf, nodeAt, type CMap, type CNode, type Issue, type YamlPath } from './tree.js';

/** The longest file name Linux file systems allow, in bytes. */
const NAME_MAX = 255;

export { CONFIG_FILE_NAME, findConfigFile } from './find.js';

export interface LoadOptions {
  /** `-C` as given (relative to cwd); undefined: search cwd and its parents. */
  readonly configPath?: string;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** `-t/--target`. */
  readonly target?: string;
  /** `--target-board`, for `{{ avocado.target.board }}`. */
  readonly targetBoard?: string;
  /** `-r/--runtime`. */
  readonly runtime?: string;
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

/** Reports recorded issues as warnings (each once) or as the error they are. */
class IssueReporter {
  private readonly done = new Set<Issue>();
  private readonly onceKeys = new Set<string>();

  constructor(readonly warn: (message: string) => void) {}

  /** Warnings first, then the first error is thrown. */
  report(issues: Iterable<Issue>): void {
    let failure: Issue | undefined;
    for (const issue of issues) {
      if (issue.severity === 'error') {
        failure ??= issue;
        continue;
      }
      if (this.done.has(issue)) continue;
      this.done.add(issue);
      if (issue.once !== undefined) {
        if (this.onceKeys.has(issue.once)) continue;
        this.onceKeys.add(issue.once);
      }
      this.warn(`${formatLocation(issue.location)}: ${issue.message}${issue.hint ? `; ${issue.hint}` : ''}`);
    }
    if (failure) throw new ConfigError(failure.message, failure.location, failure.hint);
  }
}

export class Project {
  private readonly fields = new Map<string, unknown>();

  private constructor(
    /** Absolute path of avocado.yaml. */
    readonly file: string,
    /**
     * The whole file, interpolated, with the problems of each value not reported yet. Read
     * settings with `read()` (or the getters), which reports them; this is for locating nodes.
     */
    readonly root: CMap,
    readonly target: string,
    readonly targetSource: TargetSource,
    /** The runtime in effect (runtime.ts), checked to be defined; undefined when none is. */
    readonly runtime: RuntimeSelection | undefined,
    private readonly issues: IssueReporter,
  ) {}

  /** Directory holding avocado.yaml: the project root. */
  get dir(): string {
    return dirname(this.file);
  }

  static async load(opts: LoadOptions): Promise<Project> {
    if (opts.targetBoard !== undefined && !opts.targetBoard) throw new UsageError('--target-board needs a non-empty value');
    if (opts.runtime !== undefined && !opts.runtime) throw new UsageError('--runtime needs a non-empty value');
    const file = findConfigFile(opts);
    const raw = await loadYamlFile(file);
    const issues = new IssueReporter(opts.warn);
    const { target, source } = resolveTarget(raw, opts, file, issues);
    const runtime = resolveRuntime(raw, opts, file, target, issues);
    const root = interpolateTree(raw, { env: opts.env, target, targetBoard: opts.targetBoard, runtime: opts.runtime });
    const project = new Project(file, root, target, source, runtime, issues);
    project.checkTopLevelKeys(raw);
    return project;
  }

  /**
   * The setting at `path` (from the top of avocado.yaml, e.g. `['sdk', 'image']`), interpolated,
   * or undefined when it is not there. Reading it reports the problems recorded for it and for
   * everything below it: warnings once per run, and the first error is thrown (ConfigError).
   */
  read(path: YamlPath): CNode | undefined {
    const found: Issue[] = [];
    let node: CNode | undefined = this.root;
    for (const key of path) {
      node = nodeAt(node, [key]);
      if (!node) break;
      if (node.issues) found.push(...node.issues);
    }
    if (node) collectBelow(node, found);
    this.issues.report(found);
    return node;
  }

  /** `source_date_epoch` (default 0), validated. */
  get sourceDateEpoch(): number {
    return this.field('source_date_epoch') ?? 0;
  }

  /** `engine:` with where it is written, if set. */
  get engine(): { readonly value: string; readonly location: ConfigLocation } | undefined {
    const value = this.field('engine');
    return value === undefined ? undefined : { value, location: locationOf(this.root.entries.get('engine'), { file: this.file }) };
  }

  /** Where overlay directories are looked up: `src_dir` (relative to avocado.yaml), else the project directory. */
  get sourceDir(): string {
    const srcDir = this.field('src_dir');
    return srcDir !== undefined ? resolve(this.dir, srcDir) : this.dir;
  }

  /** One top-level setting, read and validated once. */
  private field<K extends keyof ProjectFields & string>(key: K): ProjectFields[K] | undefined {
    if (!this.fields.has(key)) {
      const node = this.read([key]);
      const fields = node ? validate(projectSchema, { ...this.root, entries: new Map([[key, node]]) }, { file: this.file }) : {};
      this.fields.set(key, (fields as ProjectFields)[key]);
    }
    return this.fields.get(key) as ProjectFields[K] | undefined;
  }

  /** `rootfs.filesystem`, the fallback of every extension's (the rest of rootfs is not read). */
  private rootfsFilesystem(): string | undefined {
    const node = this.read(['rootfs', 'filesystem']);
    const rootfs = this.root.entries.get('rootfs');
    if (!node || rootfs?.kind !== 'map') return undefined;
    const only: CMap = { ...this.root, entries: new Map([['rootfs', { ...rootfs, entries: new Map([['filesystem', node]]) }]]) };
    return validate(projectSchema, only, { file: this.file }).rootfs?.filesystem;
  }

  private extensionsNode(): CMap | undefined {
    const n = this.root.entries.get('extensions');
    if (!n || (n.kind === 'scalar' && n.value === null)) return undefined;
    this.issues.report(n.issues ?? []);
    if (n.kind !== 'map') throw new ConfigError('must be a mapping of extension names to settings', locationOf(n, { file: this.file }));
    return n;
  }

  extensionNames(): string[] {
    return [...(this.extensionsNode()?.entries.keys() ?? [])];
  }

  /** supported_targets: read only when a bare mapping key in an extension may name a target. */
  private supportedTargets(): string[] {
    const node = this.read(['supported_targets']);
    if (!node || (node.kind === 'scalar' && (node.value === null || node.value === '*'))) return [];
    const items = node.kind === 'seq' ? node.items : [node];
    return items.map((item) => {
      if (item.kind === 'scalar' && typeof item.value === 'string') return item.value;
      const placeholder = item.kind === 'map' && item.entries.size === 1 ? [...item.entries.keys()][0] : undefined;
      throw new ConfigError(
        `must be a target name${placeholder !== undefined ? `, not the mapping {${placeholder}}` : ''}`,
        locationOf(item, { file: this.file }),
        placeholder !== undefined ? `'{${placeholder}}' is a placeholder of the avocado init template: write the target name` : `write supported_targets: '*' or a list of target names`,
      );
    });
  }

  /** The extension's settings for this project's target, validated. */
  extension(name: string): ExtensionConfig {
    const found = this.extensionsNode()?.entries.get(name);
    if (!found) throw this.unknownExtension(name);
    this.issues.report(found.issues ?? []);
    const where = `extensions.${name}`;
    if (!SAFE_NAME.test(name))
      throw new ConfigError(`extension name '${name}' cannot be used in file names; use letters, digits and . _ + - @`, keyLocationOf(found));
    if (found.kind !== 'map') throw new ConfigError('must be a mapping of extension settings', locationOf(found, { file: this.file, yamlPath: where }));
    const node = applyTargetOverrides(found, {
      target: this.target,
      supportedTargets: () => this.supportedTargets(),
      warn: this.issues.warn,
      where,
    });
    this.checkExtensionKeys(node);
    const used: Issue[] = [];
    for (const key of EXTENSION_READ_KEYS) {
      const n = node.entries.get(key);
      if (n) collectBelow(n, used, true);
    }
    this.issues.report(used);

    const loc: ConfigLocation = locationOf(found, { file: this.file, yamlPath: where });
    const source = node.entries.get('source');
    if (!node.entries.has('version') && source?.kind === 'map') {
      const type = source.entries.get('type');
      const kind = type?.kind === 'scalar' && typeof type.value === 'string' ? type.value : 'package';
      throw new ConfigError(
        `extension '${name}' comes from source: ${kind}: its settings (version, types, …) are in its own avocado.yaml, which the Rust Avocado CLI fetches ('avocado ext install ${name}' with that tool; avocado-ext has no ext install)`,
        keyLocationOf(found),
        `avocado-ext reads only this file: build the extension with the Rust Avocado CLI, or write its settings (at least version) under ${where}`,
      );
    }
    const f = validate(extensionSchema, node, loc);
    // The longest file name made of them (the sysext release file; the image's is shorter): too
    // long a name fails here, not halfway through a build.
    const longest = Buffer.byteLength(`extension-release.${name}-${f.version}`);
    if (longest > NAME_MAX)
      throw new ConfigError(
        `extension name and version make a file name of ${longest} bytes (extension-release.${name.length > 40 ? `${name.slice(0, 20)}…` : name}-${f.version}), longer than the ${NAME_MAX} file systems allow`,
        keyLocationOf(found),
        `shorten the name or the version by ${longest - NAME_MAX} bytes`,
      );

    let filesystem: FilesystemInfo;
    let filesystemSource: string;
    const rootfsFilesystem = f.filesystem === undefined ? this.rootfsFilesystem() : undefined;
    if (f.filesystem !== undefined) {
      filesystem = filesystemInfo(f.filesystem)!;
      filesystemSource = dottedPath(node.entries.get('filesystem')!.origin.path);
    } else if (rootfsFilesystem !== undefined) {
      filesystem = filesystemInfo(rootfsFilesystem)!;
      filesystemSource = 'rootfs.filesystem';
    } else {
      filesystem = filesystemInfo(DEFAULT_FILESYSTEM)!;
      filesystemSource = 'default';
    }
    if (f.image?.type === 'kab')
      this.issues.warn(
        `${formatLocation(locationOf(nodeAt(node, ['image', 'type']), loc))}: avocado builds .raw images only (a .kab needs kabtool, in the Avocado SDK); ext image writes ${name}-${f.version}.raw`,
      );

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

  /**
   * The lines about the runtime for a command on extension `name`: the step line when a runtime
   * is in effect; for ext build and ext image (`verb`: 'building', 'imaging') the warning when
   * the extension is not in the runtime's `extensions` list, as the Avocado CLI gives it, and in
   * verbose mode what the Avocado CLI does with a runtime that avocado does not; in verbose
   * mode, why no runtime is in effect.
   */
  reportRuntime(name: string, verb: string | undefined, out: { step(line: string): void; warn(line: string): void; verbose(line: string): void }): void {
    const rt = this.runtime;
    if (!rt) {
      const { names } = definedRuntimes(this.root);
      out.verbose(
        names.length > 1
          ? `no runtime in effect: ${this.file} defines ${names.join(', ')} and none is chosen (-r, AVOCADO_RUNTIME or default_runtime)`
          : `no runtime in effect: ${this.file} defines none`,
      );
      return;
    }
    out.step(`runtime ${rt.name} (from ${rt.source === 'implicit runtime' ? `the implicit runtime: ${this.file} has no runtimes:, and the Avocado CLI assumes '${rt.name}' when default_target and a top-level rootfs, initramfs or kernel are set` : rt.source})`);
    if (verb === undefined) return;
    out.verbose(
      `with a runtime the Avocado CLI also requires avocado.lock to list the target's rootfs ('avocado install' first); avocado does not read avocado.lock, the runtime chooses the sysroot and {{ avocado.runtime }} only`,
    );
    if (rt.implicit) {
      out.verbose(`runtime ${rt.name} is implicit and lists no extensions: membership of ${name} not checked`);
      return;
    }
    const members = this.runtimeExtensions(rt.name, out.warn);
    if (!members.names.includes(name))
      out.warn(
        `${formatLocation(members.location)}: extension '${name}' is not a member of runtime '${rt.name}'; ${verb} it standalone: add it to runtimes.${rt.name}.extensions to include it in the runtime`,
      );
  }

  /**
   * `runtimes.<rt>.extensions` with the target's overrides. Only that list is read (its problems
   * reported): the rest of the runtime is the Avocado SDK's business.
   */
  private runtimeExtensions(rt: string, warn: (line: string) => void): { names: readonly string[]; location: ConfigLocation } {
    const node = nodeAt(this.root, ['runtimes', rt]);
    const fallback: ConfigLocation = { file: this.file, yamlPath: `runtimes.${rt}` };
    if (node?.kind !== 'map') return { names: [], location: node ? locationOf(node, fallback) : fallback };
    const merged = applyTargetOverrides(node, { target: this.target, warn, where: `runtimes.${rt}` });
    const list = merged.entries.get('extensions');
    if (!list || (list.kind === 'scalar' && list.value === null)) return { names: [], location: keyLocationOf(node) };
    const found: Issue[] = [];
    collectBelow(list, found, true);
    this.issues.report(found);
    const { names, bad } = runtimeExtensionNames(list);
    for (const b of bad)
      warn(`${formatLocation(locationOf(b, fallback))}: not an extension name or a mapping of one name to its options (- app: {enabled: false}); ignored, as the Avocado CLI ignores it`);
    return { names, location: locationOf(list, fallback) };
  }

  private unknownExtension(name: string): ConfigError {
    // `ext:` is what older avocado.yaml files (and the Rust CLI's examples) call extensions:.
    const legacy = this.root.entries.get('ext');
    if (legacy?.kind === 'map' && legacy.entries.has(name))
      return new ConfigError(
        `extension '${name}' is under 'ext:', the old name of 'extensions:', which neither avocado nor the Avocado CLI reads any more`,
        keyLocationOf(legacy),
        'rename ext: to extensions:',
      );
    const known = this.extensionNames();
    const guess = closestKey(name, known);
    return new ConfigError(
      `extension '${name}' is not defined in ${this.file}`,
      undefined,
      known.length
        ? `${guess ? `did you mean '${guess}'? ` : ''}known extensions: ${known.join(', ')}`
        : 'the file defines no extensions: add one under extensions:',
    );
  }

  /** Unknown keys of the extension being built: each is a setting that silently does nothing. */
  private checkExtensionKeys(node: CMap): void {
    const legacyTypes = ['sysext', 'confext'].filter((k) => {
      const v = node.entries.get(k);
      return v?.kind === 'scalar' && typeof v.value === 'boolean';
    });
    if (legacyTypes.length) {
      const first = node.entries.get(legacyTypes[0]!)!;
      const written = legacyTypes.map((k) => `${k}: ${(node.entries.get(k) as { value: boolean }).value}`).join(', ');
      const wanted = (['sysext', 'confext'] as const).filter((k) => (node.entries.get(k) as { value?: unknown } | undefined)?.value === true);
      const advice = node.entries.has('types')
        ? 'types: decides'
        : wanted.length === 2
          ? 'write types: [sysext, confext] instead (the default, so the image is the same)'
          : wanted.length === 1
            ? `write types: [${wanted[0]}]; until then both types, the default, are built`
            : 'give types: [sysext] or [confext]; until then both types, the default, are built';
      this.issues.warn(`${formatLocation(keyLocationOf(first))}: '${written}' is the old form of types and is not read; ${advice}`);
    }
    for (const [key, value] of node.entries) {
      if (KNOWN_EXTENSION_KEYS.has(key) || isOverrideKey(key) || legacyTypes.includes(key)) continue;
      const guess = closestKey(key, KNOWN_EXTENSION_KEYS);
      this.issues.warn(`${formatLocation(keyLocationOf(value))}: unknown extension key '${key}' (ignored)${guess ? `; did you mean '${guess}'?` : ''}`);
    }
  }

  /**
   * Top-level keys the Avocado CLI does not know are mostly the user's own values (for
   * `{{ config.… }}`) or other tools' settings: only a likely misspelling of a key this command
   * reads is reported.
   */
  private checkTopLevelKeys(raw: CMap): void {
    const referenced = configReferences(raw);
    for (const [key, node] of this.root.entries) {
      if (KNOWN_TOP_LEVEL_KEYS.has(key) || referenced.has(key)) continue;
      const guess = closestKey(key, KNOWN_TOP_LEVEL_KEYS);
      if (guess && READ_TOP_LEVEL_KEYS.has(guess))
        this.issues.warn(`${formatLocation(keyLocationOf(node))}: unknown top-level key '${key}' (ignored); did you mean '${guess}'?`);
    }
  }
}

/** The issues of everything below `node` (and of `node` itself when `self`). */
function collectBelow(node: CNode, out: Issue[], self = false): void {
  if (self && node.issues) out.push(...node.issues);
  if (node.kind === 'seq') for (const i of node.items) collectBelow(i, out, true);
  else if (node.kind === 'map') for (const v of node.entries.values()) collectBelow(v, out, true);
}

/** -t/--target > AVOCADO_TARGET > default_target (interpolated; `{{ avocado.target }}` cannot be used in it). */
function resolveTarget(raw: CMap, opts: LoadOptions, file: string, issues: IssueReporter): { target: string; source: TargetSource } {
  let target: string | undefined;
  let source: TargetSource;
  let location: ConfigLocation | undefined;
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
      location = locationOf(node, { file });
      const value = interpolateScalar(raw, { env: opts.env, targetBoard: opts.targetBoard }, node);
      issues.report(value.issues ?? []);
      target = value.value as string;
      if (!target) throw new ConfigError(`is empty${node.source.includes('{{') ? ` (written ${node.source})` : ''}`, location, 'pass -t/--target <target> or set AVOCADO_TARGET');
      const placeholder = /^\{\w+\}$/.test(target);
      if (placeholder)
        throw new ConfigError(
          `'${target}' is a placeholder of the avocado init template`,
          location,
          'write your target there (e.g. qemux86-64), or pass -t/--target <target>',
        );
    } else if (node && !(node.kind === 'scalar' && node.value === null)) {
      throw new ConfigError('must be a string', locationOf(node, { file }));
    }
  }
  if (!target)
    throw new ConfigError(
      'no target given',
      undefined,
      `pass -t/--target <target>, set AVOCADO_TARGET, or set default_target in ${file}`,
    );
  if (!SAFE_NAME.test(target) || target.includes('{{'))
    throw new ConfigError(
      `target '${target}' (from ${source}) cannot be used as a directory name; use letters, digits and . _ + - @`,
      location,
    );
  return { target, source };
}

/**
 * The runtime in effect (runtime.ts), which must be one the file defines: the Avocado CLI
 * silently drops an unknown one and builds without a runtime; avocado says so and stops.
 */
function resolveRuntime(raw: CMap, opts: LoadOptions, file: string, target: string, issues: IssueReporter): RuntimeSelection | undefined {
  let location: ConfigLocation | undefined;
  const selected = selectRuntime(raw, { flag: opts.runtime, env: opts.env }, (node) => {
    location = locationOf(node, { file });
    const value = interpolateScalar(raw, { env: opts.env, target, targetBoard: opts.targetBoard, runtime: opts.runtime }, node);
    issues.report(value.issues ?? []);
    return typeof value.value === 'string' ? value.value : String(value.value);
  });
  if (!selected) return undefined;
  const where = selected.source === 'default_runtime' ? location : undefined;
  const { names } = definedRuntimes(raw);
  if (!names.includes(selected.name)) {
    const guess = closestKey(selected.name, names);
    const undo = selected.source === '-r' ? 'fix -r/--runtime' : selected.source === 'AVOCADO_RUNTIME' ? 'fix or unset AVOCADO_RUNTIME' : 'fix default_runtime';
    throw new ConfigError(
      `runtime '${selected.name}' (from ${selected.source}) is not defined in ${file}`,
      where,
      names.length
        ? `${guess ? `did you mean '${guess}'? ` : ''}runtimes defined: ${names.join(', ')}`
        : `the file defines no runtimes: ${undo}, or add it under runtimes:`,
    );
  }
  if (!SAFE_NAME.test(selected.name))
    throw new ConfigError(`runtime name '${selected.name}' cannot be used as a directory name; use letters, digits and . _ + - @`, where ?? { file, yamlPath: `runtimes.${selected.name}` });
  return selected;
}
