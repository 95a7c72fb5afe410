/**
 * The superblock (128 bytes at byte 1024), the compression configuration records that follow it
 * when COMPR_CFGS is set, and the superblock checksum over the rest of block 0.
 */
import { crc32cUpdate } from './crc32c.js';
import { Algorithm, BLOCK_BITS, BLOCK_SIZE, MAGIC, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE, type AlgorithmId } from './format.js';

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

/** The fields encodeSuperblock writes, read back from the superblock's 128 bytes. */
export function decodeSuperblock(b: Buffer): SuperblockFields & { readonly blockBits: number } {
  if (b.length < SUPERBLOCK_SIZE || b.readUInt32LE(0) !== MAGIC) throw new Error('not an EROFS image (bad magic)');
  return {
    featureCompat: b.readUInt32LE(8),
    blockBits: b.readUInt8(12),
    rootNid: b.readUInt16LE(14),
    inodeCount: Number(b.readBigUInt64LE(16)),
    buildTime: Number(b.readBigUInt64LE(24)),
    blocks: b.readUInt32LE(36),
    metaBlkaddr: b.readUInt32LE(40),
    uuid: b.subarray(48, 64),
    featureIncompat: b.readUInt32LE(80),
    algorithmsOrLz4Distance: b.readUInt16LE(84),
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
  block0.writeUInt32LE(0, SUPERBLOCK_OFFSET + 4);
  block0.writeUInt32LE(crc32cUpdate(0xffffffff, block0.subarray(SUPERBLOCK_OFFSET)), SUPERBLOCK_OFFSET + 4);
}
