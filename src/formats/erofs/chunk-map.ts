/**
 * Chunk-based files (datalayout 4): i_u's low 16 bits give the chunk format (log2 of the chunk
 * size past the block size; 8-byte indexes or 4-byte block addresses), and one entry per chunk
 * follows the inode and its xattrs, aligned to the entry size. An entry of 0xFFFFFFFF is a hole.
 * The writer (data.ts) writes format 0: 4 KiB chunks, 4-byte addresses.
 */
import { NULL_ADDR } from './format.js';

/** i_u bits. */
export const ChunkFormat = {
  /** log2(chunk size) − blkszbits. */
  BLOCK_BITS_MASK: 0x1f,
  /** 8-byte chunk indexes (u16 advise, u16 device id, u32 block) instead of 4-byte block addresses. */
  INDEXES: 0x20,
  /** 48-bit block addresses (Linux 6.15). */
  BIT48: 0x40,
} as const;

export interface ChunkLayout {
  readonly chunkBits: number;
  /** Bytes per entry: 4 or 8. */
  readonly entrySize: 4 | 8;
  readonly bit48: boolean;
  /** Format bits the format does not define. */
  readonly unknownBits: number;
}

export function decodeChunkFormat(u: number, blockBits: number): ChunkLayout {
  const format = u & 0xffff;
  return {
    chunkBits: blockBits + (format & ChunkFormat.BLOCK_BITS_MASK),
    entrySize: format & ChunkFormat.INDEXES ? 8 : 4,
    bit48: (format & ChunkFormat.BIT48) !== 0,
    unknownBits: format & ~(ChunkFormat.BLOCK_BITS_MASK | ChunkFormat.INDEXES | ChunkFormat.BIT48),
  };
}

/** One entry: its first block (undefined for a hole) and, for 8-byte indexes, the device it is on. */
export function decodeChunkEntry(b: Buffer, entrySize: 4 | 8): { block?: number; device: number } {
  if (entrySize === 4) {
    const block = b.readUInt32LE(0);
    return { block: block === NULL_ADDR ? undefined : block, device: 0 };
  }
  const block = b.readUInt32LE(4);
  return { block: block === NULL_ADDR ? undefined : block, device: b.readUInt16LE(2) };
}
