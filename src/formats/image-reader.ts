/**
 * What both image readers give (squashfs/reader.ts, erofs/reader.ts): the image's description,
 * its entries in sorted pre-order with every attribute the filesystem stores, each file's
 * content decompressed, a map of which bytes hold what, and a check of every structure that the
 * entries and contents do not reach. The commands (`ext inspect`, `ext diff`, `ext verify`,
 * `ext image --verify`) are written against this alone.
 */
import type { FilesystemFamily } from './filesystems.js';

export type ImageEntryType = 'dir' | 'file' | 'symlink' | 'block-device' | 'char-device' | 'fifo' | 'socket';

export interface ImageXattr {
  /** The full name with its prefix, e.g. `security.capability`. */
  readonly name: Buffer;
  readonly value: Buffer;
}

export interface ImageEntry {
  /** Empty for the root. */
  readonly name: Buffer;
  /** Relative to the root, '/'-separated; empty for the root. */
  readonly path: Buffer;
  readonly type: ImageEntryType;
  /** Permission bits with setuid, setgid and sticky. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Seconds since the epoch. */
  readonly mtime: number;
  /** 0 where the format stores none. */
  readonly mtimeNsec: number;
  /** The same for every name of one inode (hard links), different otherwise. */
  readonly inodeNumber: number;
  readonly nlink: number;
  /** Content bytes of a file, target bytes of a symlink; for directories the format's own size; else 0. */
  readonly size: number;
  readonly rdev?: { readonly major: number; readonly minor: number };
  readonly target?: Buffer;
  /** Sorted by name bytes; empty when it has none. */
  readonly xattrs: readonly ImageXattr[];
}

export interface ImageDescription {
  readonly family: FilesystemFamily;
  /** `gzip`, `xz`, `lz4`, `lz4hc`… as stored; `none` for an uncompressed image. */
  readonly compressor: string;
  /** The compressor's settings the image records (squashfs compressor options, EROFS config records). */
  readonly compressorOptions: Readonly<Record<string, number | string | boolean>>;
  /** squashfs: the data block size; EROFS: the filesystem block size. */
  readonly blockSize: number;
  /** EROFS: the largest physical cluster any file uses, in bytes (undefined when nothing is compressed). */
  readonly clusterSize?: number;
  /** What the superblock says the filesystem occupies. */
  readonly bytesUsed: number;
  readonly fileSize: number;
  readonly inodeCount: number;
  /** The image's own time (squashfs mkfs_time, EROFS build_time), seconds. */
  readonly time: number;
  readonly timeNsec: number;
  /** Feature names as the format calls them (flags, compat/incompat bits). */
  readonly features: readonly string[];
  /** The oldest mainline kernel that mounts it, and the feature or compressor that decides it. */
  readonly kernelMin: { readonly version: string; readonly because: string };
  /** Every superblock field, decoded, for `ext diff` (numbers, hex strings for ids and UUIDs). */
  readonly superblock: Readonly<Record<string, number | string | boolean>>;
}

/** Bytes [start, end) of the image and what they hold, e.g. `inode table`, `data of /usr/bin/x`. */
export interface ImageRegion {
  readonly start: number;
  readonly end: number;
  readonly what: string;
}

export interface ImageReader {
  readonly family: FilesystemFamily;
  readonly path: string;
  readonly fileSize: number;
  describe(): ImageDescription;
  /** The root first, each directory followed by its children sorted by name bytes. */
  entries(): AsyncGenerator<ImageEntry>;
  /** A regular file's bytes, decompressed, in order (holes as zeros). */
  content(entry: ImageEntry): AsyncGenerator<Buffer>;
  /** Which bytes hold what, sorted by start, not overlapping; gaps are padding or unused. */
  layout(): Promise<ImageRegion[]>;
  /**
   * Checks what entries() and content() do not reach (tables and blocks no entry refers to,
   * checksums, the superblock's counts against what was found). Throws ImageFormatError.
   */
  checkStructures(): Promise<void>;
  close(): Promise<void>;
}
