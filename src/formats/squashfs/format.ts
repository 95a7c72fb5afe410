/**
 * SquashFS 4.0 on-disk constants (little-endian throughout). Sources: the kernel's
 * fs/squashfs/squashfs_fs.h and Documentation/filesystems/squashfs.rst, in our own words.
 */

export const SQUASHFS_MAGIC = 0x73717368;
export const SUPERBLOCK_SIZE = 96;
export const VERSION_MAJOR = 4;
export const VERSION_MINOR = 0;

/** Data block size: 128 KiB, as mksquashfs and every distribution use. */
export const BLOCK_SIZE = 131072;
export const BLOCK_LOG = 17;

/** Uncompressed bytes in every metadata block but the last of a table. */
export const METADATA_SIZE = 8192;
/** Metadata block header bit: the payload is stored uncompressed. */
export const METADATA_UNCOMPRESSED = 0x8000;
/** Data block size bit (block lists, fragment entries): stored uncompressed. */
export const DATA_UNCOMPRESSED = 1 << 24;

export const NO_FRAGMENT = 0xffffffff;
export const NO_XATTR = 0xffffffff;

/** Images are padded to this so that a loop device (whole 512-byte sectors) covers bytes_used. */
export const IMAGE_PADDING = 4096;

/** The longest symlink target the kernel reads (PAGE_SIZE on x86-64). */
export const MAX_SYMLINK = 4096;
/** Longest name a directory entry holds (SQUASHFS_NAME_LEN). */
export const MAX_NAME = 256;

/** Entries per directory header (the kernel rejects more). */
export const DIR_HEADER_MAX_ENTRIES = 256;

export const InodeType = {
  dir: 1,
  file: 2,
  symlink: 3,
  blockDevice: 4,
  charDevice: 5,
  fifo: 6,
  socket: 7,
  extDir: 8,
  extFile: 9,
  extSymlink: 10,
  extBlockDevice: 11,
  extCharDevice: 12,
  extFifo: 13,
  extSocket: 14,
} as const;

/** Superblock flags. Only COMPRESSOR_OPTIONS changes how the kernel reads the image. */
export const Flag = {
  UNCOMPRESSED_INODES: 0x0001,
  UNCOMPRESSED_DATA: 0x0002,
  UNCOMPRESSED_FRAGMENTS: 0x0008,
  NO_FRAGMENTS: 0x0010,
  ALWAYS_FRAGMENTS: 0x0020,
  DUPLICATES: 0x0040,
  EXPORTABLE: 0x0080,
  UNCOMPRESSED_XATTRS: 0x0100,
  NO_XATTRS: 0x0200,
  COMPRESSOR_OPTIONS: 0x0400,
  UNCOMPRESSED_IDS: 0x0800,
} as const;

export const CompressionId = { gzip: 1, lzma: 2, lzo: 3, xz: 4, lz4: 5, zstd: 6 } as const;

/**
 * Where something starts in a metadata table: the compressed metadata block's offset from the
 * table start, and the byte offset inside that block's uncompressed 8 KiB.
 */
export interface MetadataRef {
  readonly block: number;
  readonly offset: number;
}

/** The u64 "inode reference" form: block << 16 | offset. */
export function packRef(ref: MetadataRef): bigint {
  return (BigInt(ref.block) << 16n) | BigInt(ref.offset);
}

/** The inverse of packRef. */
export function unpackRef(ref: bigint): MetadataRef {
  return { block: Number(ref >> 16n), offset: Number(ref & 0xffffn) };
}
