/**
 * EROFS on-disk constants (the kernel's fs/erofs/erofs_fs.h, shared with erofs-utils). All
 * integers are little-endian. The image is a sequence of 4 KiB blocks; the superblock sits at
 * byte 1024; inodes are addressed by nid, their 32-byte slot number counted from
 * `meta_blkaddr` (0 here, so nid = byte offset / 32).
 */

export const BLOCK_BITS = 12;
export const BLOCK_SIZE = 1 << BLOCK_BITS;
export const SUPERBLOCK_OFFSET = 1024;
export const SUPERBLOCK_SIZE = 128;
export const MAGIC = 0xe0f5e1e2;
/** Inodes start on 32-byte slots; a nid counts slots. */
export const SLOT_BITS = 5;
export const SLOT_SIZE = 1 << SLOT_BITS;
export const COMPACT_INODE_SIZE = 32;
export const EXTENDED_INODE_SIZE = 64;
/** "No block" in block-address fields (also a hole in a chunk map). */
export const NULL_ADDR = 0xffffffff;
export const MAX_NAME = 255;

/** Superblock feature_compat bits (advisory). */
export const Compat = {
  SB_CHKSUM: 0x1,
  MTIME: 0x2,
  /** Per-inode xattr-name bloom filters are valid (6.6). */
  XATTR_FILTER: 0x4,
} as const;

/** Superblock feature_incompat bits: a kernel that lacks one refuses to mount. */
export const Incompat = {
  /** Compressed data right-aligned in its physical cluster (Linux 5.3). */
  ZERO_PADDING: 0x1,
  /** Compression config records after the superblock, and pclusters over one block (5.13). */
  COMPR_CFGS: 0x2,
  /** Chunk-based files (5.15). */
  CHUNKED_FILE: 0x4,
  /** Extra devices (a device table) and a second compression algorithm per file: one bit (5.16). */
  DEVICE_TABLE: 0x8,
  /** The compressed tail of a file inline after its indexes (5.17). */
  ZTAILPACKING: 0x10,
  /** File tails in the packed inode, and pclusters shared between files: one bit (6.1). */
  FRAGMENTS: 0x20,
  /** Long xattr name prefixes (6.4). */
  XATTR_PREFIXES: 0x40,
  /** 48-bit block addresses, compact-inode mtimes, byte-addressed extents (6.15). */
  BIT48: 0x80,
  /** Compressed metadata (6.17). */
  METABOX: 0x100,
} as const;

/** Feature names as erofs_fs.h calls them, bit by bit (shared bits have both names). */
export const COMPAT_NAMES: readonly (readonly [number, string])[] = [
  [Compat.SB_CHKSUM, 'SB_CHKSUM'],
  [Compat.MTIME, 'MTIME'],
  [Compat.XATTR_FILTER, 'XATTR_FILTER'],
];
export const INCOMPAT_NAMES: readonly (readonly [number, string])[] = [
  [Incompat.ZERO_PADDING, 'ZERO_PADDING'],
  [Incompat.COMPR_CFGS, 'COMPR_CFGS'],
  [Incompat.COMPR_CFGS, 'BIG_PCLUSTER'],
  [Incompat.CHUNKED_FILE, 'CHUNKED_FILE'],
  [Incompat.DEVICE_TABLE, 'DEVICE_TABLE'],
  [Incompat.DEVICE_TABLE, 'COMPR_HEAD2'],
  [Incompat.ZTAILPACKING, 'ZTAILPACKING'],
  [Incompat.FRAGMENTS, 'FRAGMENTS'],
  [Incompat.FRAGMENTS, 'DEDUPE'],
  [Incompat.XATTR_PREFIXES, 'XATTR_PREFIXES'],
  [Incompat.BIT48, '48BIT'],
  [Incompat.METABOX, 'METABOX'],
];

/**
 * Errors of the decoders: `offset` counts from the start of the bytes they were given, so that
 * the reader can name the absolute position.
 */
export class DecodeError extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

/** i_format bits 1–3. */
export const Layout = {
  FLAT_PLAIN: 0,
  COMPRESSED_FULL: 1,
  FLAT_INLINE: 2,
  COMPRESSED_COMPACT: 3,
  CHUNK_BASED: 4,
} as const;
export type LayoutId = (typeof Layout)[keyof typeof Layout];

/** Directory entry file types (Linux FT_*). */
export const FileType = {
  REG: 1,
  DIR: 2,
  CHR: 3,
  BLK: 4,
  FIFO: 5,
  SOCK: 6,
  SYMLINK: 7,
} as const;

/** st_mode file type bits. */
export const ModeType = {
  FIFO: 0o010000,
  CHR: 0o020000,
  DIR: 0o040000,
  BLK: 0o060000,
  REG: 0o100000,
  LNK: 0o120000,
  SOCK: 0o140000,
} as const;

/** Compression algorithm ids (map header, available_compr_algs bits). */
export const Algorithm = {
  LZ4: 0,
  ZSTD: 3,
} as const;
export type AlgorithmId = (typeof Algorithm)[keyof typeof Algorithm];
/** Every algorithm id the format defines, by name (MicroLZMA is 1, raw DEFLATE 2). */
export const ALGORITHM_NAMES: readonly string[] = ['lz4', 'lzma', 'deflate', 'zstd'];

/** Map header h_advise bits. */
export const Advise = {
  COMPACTED_2B: 0x1,
  BIG_PCLUSTER_1: 0x2,
  BIG_PCLUSTER_2: 0x4,
  /** The tail pcluster is inline after the indexes (ztailpacking). */
  INLINE_PCLUSTER: 0x8,
  /** Plain pclusters stored rotated by their in-block offset. */
  INTERLACED_PCLUSTER: 0x10,
  /** The file's tail is in the packed inode. */
  FRAGMENT_PCLUSTER: 0x20,
} as const;

/** Logical cluster index types. */
export const ClusterType = {
  PLAIN: 0,
  HEAD1: 1,
  NONHEAD: 2,
  /** A head compressed with the second algorithm (h_algorithmtype's high nibble). */
  HEAD2: 3,
} as const;
export type ClusterTypeId = (typeof ClusterType)[keyof typeof ClusterType];

/** In a NONHEAD index's first delta: "this holds the pcluster's block count" (big pclusters). */
export const D0_CBLKCNT = 0x800;
