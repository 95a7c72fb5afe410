/**
 * Where mksquashfs / mkfs.erofs run: this machine (the tools engine) or an SDK container
 * (the container engine, locally or on a remote host). The tools engine drives any of them.
 */
import type { RunOptions, RunResult } from '../util/process.js';

export interface ToolHost {
  /** Absolute path of an executable there, or undefined. */
  which(name: string): Promise<string | undefined>;
  /**
   * Runs a tool with a C locale (byte-wise pattern matching) and without SOURCE_DATE_EPOCH
   * (times come from the flags; mksquashfs 4.5 refuses both together).
   */
  run(path: string, args: readonly string[], opts?: Pick<RunOptions, 'signal' | 'onLine'>): Promise<RunResult>;
  /** The path under which the tools see a path of this machine. */
  toolPath(hostPath: string): string;
  /** What to do when a package is missing there, or needs to be `requirement` (e.g. "1.8 or newer, built with libzstd"). */
  installHint(pkg: string, requirement?: string): string;
}
