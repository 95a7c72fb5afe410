/**
 * An engine turns the walked entry list into an image file. The pipeline owns everything around
 * it (config, walk, exclusions, lint, atomic publication); an engine only writes `output`.
 */
import type { RemoteInfo } from '../container/remote.js';
import type { FilesystemInfo } from '../formats/filesystems.js';
import type { SysrootTree } from '../sysroot/entry.js';
import type { ExcludedPath } from '../sysroot/walk.js';

export const ENGINE_NAMES = ['native', 'tools', 'container'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

export interface BuildRequest {
  readonly tree: SysrootTree;
  /** The top-most excluded paths; engines that read the sysroot themselves must leave them out. */
  readonly excluded: readonly ExcludedPath[];
  readonly filesystem: FilesystemInfo;
  /** Compressed EROFS: bytes per physical cluster (`erofs_cluster_size`); undefined = 4096. */
  readonly erofsClusterSize?: number;
  /** Every inode time and the filesystem's own time. */
  readonly sourceDateEpoch: number;
  /** Temporary file to write; the pipeline fsyncs and renames it. */
  readonly output: string;
  readonly signal: AbortSignal;
  /** Reports progress; `total` undefined when unknown. */
  readonly progress: (done: number, total?: number) => void;
  /** A step line, for what the user waits on (connecting to a remote host, …). */
  readonly step: (line: string) => void;
  readonly warn: (line: string) => void;
  /** Detail lines shown with --verbose. */
  readonly verbose: (line: string) => void;
}

export interface Engine {
  readonly name: EngineName;
  /**
   * Checks that this engine can build the request on this machine (tools present, compressor
   * available, names it can handle) and returns what will do the work, e.g. "mksquashfs 4.5.1".
   * Throws with what to install or change.
   */
  prepare(req: BuildRequest): Promise<string>;
  build(req: BuildRequest): Promise<void>;
  /** After prepare(): the remote host that builds, if any (`--runs-on`). */
  readonly remote?: RemoteInfo;
}
