/**
 * The superblock (128 bytes at byte 1024), the compression configuration records that follow it
 * when COMPR_CFGS is set, and the superblock checksum over the rest of block 0.
 */
import { crc32cUpdate } from './crc32c.js';
import { Algorithm, ALGORITHM_NAMES, BLOCK_BITS, BLOCK_SIZE, DecodeError, MAGIC, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE, type AlgorithmId } from './format.js';

export interface SuperblockFields {
  readonly featureCompat: number;
  readonly featureIncompat: number;
  readonly rootNid: number;
  readonly inodeCount: number;
  /** Seconds; compact inodes take their time from here. */
  readonly buildTime: number;
  readonly blocks: number;
  readonly metaBlkaddr: number;
  /** 16 bytes; the nil UUID unless given. */
  readonly uuid?: Uint8Array;
  /**
   * With COMPR_CFGS: the bitmap of algorithms with a config record. Without: LZ4's largest match
   * distance (mkfs.erofs writes 65535 for LZ4, 0 when nothing is compressed).
   */
  readonly algorithmsOrLz4Distance: number;
}

export function encodeSuperblock(f: SuperblockFields): Buffer {
  if (f.rootNid > 0xffff) throw new Error(`root nid ${f.rootNid} does not fit the superblock's 16 bits`);
  const b = Buffer.alloc(SUPERBLOCK_SIZE);
  b.writeUInt32LE(MAGIC, 0);
  // 4: checksum, filled in by sealBlockZero.
  b.writeUInt32LE(f.featureCompat, 8);
  b.writeUInt8(BLOCK_BITS, 12);
  b.writeUInt8(0, 13); // sb_extslots
  b.writeUInt16LE(f.rootNid, 14);
  b.writeBigUInt64LE(BigInt(f.inodeCount), 16);
  b.writeBigUInt64LE(BigInt(f.buildTime), 24);
  b.writeUInt32LE(0, 32); // build_time_nsec
  b.writeUInt32LE(f.blocks, 36);
  b.writeUInt32LE(f.metaBlkaddr, 40);
  b.writeUInt32LE(0, 44); // xattr_blkaddr
  if (f.uuid) b.set(f.uuid.subarray(0, 16), 48);
  // 64: volume_name, empty (all NUL).
  b.writeUInt32LE(f.featureIncompat, 80);
  b.writeUInt16LE(f.algorithmsOrLz4Distance, 84);
  // 86..127: extra devices, dirblkbits, xattr prefixes, packed nid: all 0.
  return b;
}

/** Every field of the superblock's 128 bytes (erofs_fs.h), as decodeSuperblock gives them. */
export interface DecodedSuperblock extends SuperblockFields {
  readonly checksum: number;
  readonly blockBits: number;
  /** 16-byte slots past the 128 bytes (the superblock is 128 + 16 × slots bytes). */
  readonly extraSlots: number;
  readonly buildTimeNsec: number;
  /** Where shared xattr ids count from, in blocks. */
  readonly xattrBlkaddr: number;
  readonly uuid: Buffer;
  /** 16 bytes as stored: the label up to its NUL. */
  readonly volumeName: Buffer;
  readonly extraDevices: number;
  readonly devtSlotoff: number;
  readonly dirblkbits: number;
  readonly xattrPrefixCount: number;
  readonly xattrPrefixStart: number;
  readonly packedNid: number;
  readonly xattrFilterReserved: number;
}

/**
 * The superblock's fields from its bytes (at least 128, from byte 1024 of the image). The u64
 * counts are numbers (exact below 2^53); build_time is signed, as the kernel reads it.
 */
export function decodeSuperblock(b: Buffer): DecodedSuperblock {
  if (b.length < SUPERBLOCK_SIZE || b.readUInt32LE(0) !== MAGIC) throw new Error('not an EROFS image (bad magic)');
  return {
    checksum: b.readUInt32LE(4),
    featureCompat: b.readUInt32LE(8),
    blockBits: b.readUInt8(12),
    extraSlots: b.readUInt8(13),
    rootNid: b.readUInt16LE(14),
    inodeCount: Number(b.readBigUInt64LE(16)),
    buildTime: Number(b.readBigInt64LE(24)),
    buildTimeNsec: b.readUInt32LE(32),
    blocks: b.readUInt32LE(36),
    metaBlkaddr: b.readUInt32LE(40),
    xattrBlkaddr: b.readUInt32LE(44),
    uuid: Buffer.from(b.subarray(48, 64)),
    volumeName: Buffer.from(b.subarray(64, 80)),
    featureIncompat: b.readUInt32LE(80),
    algorithmsOrLz4Distance: b.readUInt16LE(84),
    extraDevices: b.readUInt16LE(86),
    devtSlotoff: b.readUInt16LE(88),
    dirblkbits: b.readUInt8(90),
    xattrPrefixCount: b.readUInt8(91),
    xattrPrefixStart: b.readUInt32LE(92),
    packedNid: Number(b.readBigUInt64LE(96)),
    xattrFilterReserved: b.readUInt8(104),
  };
}

export interface CompressionConfig {
  readonly algorithm: AlgorithmId;
  readonly payload: Buffer;
}

/** LZ4's record: largest match distance (0 = 64 KiB) and largest pcluster in blocks. */
export function lz4Config(maxPclusterBlocks: number): CompressionConfig {
  const p = Buffer.alloc(14);
  p.writeUInt16LE(65535, 0);
  p.writeUInt16LE(maxPclusterBlocks, 2);
  return { algorithm: Algorithm.LZ4, payload: p };
}

/** Zstd's record: format 0 and the window, as log2(window) - 10 (at most 1 MiB). */
export function zstdConfig(windowLog: number): CompressionConfig {
  if (windowLog < 10 || windowLog > 20) throw new Error(`zstd window 2^${windowLog} is outside what EROFS records (1 KiB to 1 MiB)`);
  const p = Buffer.alloc(6);
  p.writeUInt8(0, 0);
  p.writeUInt8(windowLog - 10, 1);
  return { algorithm: Algorithm.ZSTD, payload: p };
}

/**
 * The records as they follow the superblock: in algorithm order, each at a 4-byte aligned
 * position, a u16 length then the payload. Returns the bytes from the end of the superblock.
 */
export function encodeCompressionConfigs(configs: readonly CompressionConfig[]): Buffer {
  const sorted = [...configs].sort((a, b) => a.algorithm - b.algorithm);
  const parts: Buffer[] = [];
  let pos = SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE;
  const start = pos;
  for (const c of sorted) {
    const aligned = (pos + 3) & ~3;
    if (aligned > pos) parts.push(Buffer.alloc(aligned - pos));
    const len = Buffer.alloc(2);
    len.writeUInt16LE(c.payload.length, 0);
    parts.push(len, c.payload);
    pos = aligned + 2 + c.payload.length;
  }
  return Buffer.concat(parts, pos - start);
}

/** The bitmap of `available_compr_algs` for these records. */
export function algorithmBitmap(configs: readonly CompressionConfig[]): number {
  return configs.reduce((m, c) => m | (1 << c.algorithm), 0);
}

/**
 * Writes the checksum into block 0: the CRC-32C register (from ~0, no final inversion) over the
 * bytes from the superblock to the end of the block, the checksum field counted as zero.
 */
export function sealBlockZero(block0: Buffer): void {
  if (block0.length !== BLOCK_SIZE) throw new Error('block 0 must be one whole block');
  block0.writeUInt32LE(blockZeroChecksum(block0), SUPERBLOCK_OFFSET + 4);
}

/** The checksum block 0 should carry (its own checksum field counted as zero). */
export function blockZeroChecksum(block0: Buffer): number {
  if (block0.length <= SUPERBLOCK_OFFSET + 8) throw new Error('block 0 is too short to hold a superblock');
  let c = crc32cUpdate(0xffffffff, block0.subarray(SUPERBLOCK_OFFSET, SUPERBLOCK_OFFSET + 4));
  c = crc32cUpdate(c, ZERO_WORD);
  return crc32cUpdate(c, block0.subarray(SUPERBLOCK_OFFSET + 8));
}

const ZERO_WORD = new Uint8Array(4);

/** A compression configuration record as decoded: where it is, and its settings by name. */
export interface DecodedCompressionConfig {
  readonly algorithm: number;
  /** Offset of its length field, counted like `start`. */
  readonly at: number;
  readonly payload: Buffer;
  /** The settings, named after erofs_fs.h's fields (zstd: `windowlog` is log2 of the window). */
  readonly options: Readonly<Record<string, number>>;
}

/** Each algorithm's record, at least this long (erofs_fs.h's z_erofs_*_cfgs). */
const CONFIG_SIZES = [14, 14, 6, 6];

/**
 * The records for the algorithms of `algorithms` (the available_compr_algs bitmap), read from
 * `bytes`, which start at offset `start` of the image (just after the superblock): in algorithm
 * order, each 4-byte aligned, a u16 length then the payload. Checks each record as the kernel
 * does when it mounts; throws DecodeError with offsets from `start`.
 */
export function decodeCompressionConfigs(bytes: Buffer, start: number, algorithms: number): { records: DecodedCompressionConfig[]; end: number } {
  const records: DecodedCompressionConfig[] = [];
  let pos = start;
  for (let algorithm = 0; algorithm < 16; algorithm++) {
    if (!(algorithms & (1 << algorithm))) continue;
    pos = (pos + 3) & ~3;
    const rel = pos - start;
    if (algorithm >= CONFIG_SIZES.length) throw new DecodeError(rel, `algorithm ${algorithm} is not one the format defines`);
    if (rel + 2 > bytes.length) throw new DecodeError(rel, `the record of ${ALGORITHM_NAMES[algorithm]} is cut off`);
    const length = bytes.readUInt16LE(rel);
    if (rel + 2 + length > bytes.length) throw new DecodeError(rel, `the ${length}-byte record of ${ALGORITHM_NAMES[algorithm]} is cut off`);
    const payload = Buffer.from(bytes.subarray(rel + 2, rel + 2 + length));
    if (length < CONFIG_SIZES[algorithm]!) throw new DecodeError(rel, `the record of ${ALGORITHM_NAMES[algorithm]} is ${length} bytes, less than ${CONFIG_SIZES[algorithm]}`);
    records.push({ algorithm, at: pos, payload, options: configOptions(algorithm, payload, rel) });
    pos += 2 + length;
  }
  return { records, end: pos };
}

/** Most blocks of an LZ4 pcluster (1 MiB, the kernel's largest pcluster). */
const MAX_PCLUSTER_BYTES = 1 << 20;

function configOptions(algorithm: number, p: Buffer, rel: number): Record<string, number> {
  switch (algorithm) {
    case 0: {
      const maxPclusterBlocks = p.readUInt16LE(2);
      if (maxPclusterBlocks > MAX_PCLUSTER_BYTES / BLOCK_SIZE) throw new DecodeError(rel, `lz4 max_pclusterblks ${maxPclusterBlocks} is more than 1 MiB of blocks`);
      return { max_distance: p.readUInt16LE(0), max_pclusterblks: maxPclusterBlocks };
    }
    case 1: {
      const dictSize = p.readUInt32LE(0);
      if (p.readUInt16LE(4) !== 0) throw new DecodeError(rel, `lzma format ${p.readUInt16LE(4)} is not MicroLZMA (0)`);
      if (dictSize > 8 << 20) throw new DecodeError(rel, `lzma dict_size ${dictSize} is more than 8 MiB`);
      return { dict_size: dictSize };
    }
    case 2: {
      if (p[0]! > 15) throw new DecodeError(rel, `deflate windowbits ${p[0]} is more than 15`);
      return { windowbits: p[0]! };
    }
    default: {
      if (p[0] !== 0) throw new DecodeError(rel, `zstd format ${p[0]} is not 0`);
      if (p[1]! > 10) throw new DecodeError(rel, `zstd windowlog ${p[1]} + 10 is more than a 1 MiB window`);
      return { windowlog: p[1]! + 10 };
    }
  }
}
