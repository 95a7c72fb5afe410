/**
 * Where each inode goes in the metadata area, together with what follows it (inline data,
 * compression indexes, chunk map): on a 32-byte slot, and — when it fits in a block at all —
 * within one block, because a compact inode and an inline tail must not cross a block boundary.
 *
 * The metadata area is the free part of block 0 (after the superblock) plus the blocks after the
 * data. Items go into the partly filled block with the least room that holds them (best fit),
 * else into a new block; an item larger than a block starts a new block and runs on. Positions
 * are kept per "area block" (0 = block 0, 1… = metadata blocks) so that they can be fixed before
 * the metadata's first block is known.
 */
import { BLOCK_SIZE, SLOT_SIZE } from './format.js';

export interface AreaPosition {
  /** 0 = block 0; k ≥ 1 = the k-th metadata block. */
  readonly areaBlock: number;
  readonly offset: number;
}

const BUCKETS = BLOCK_SIZE / SLOT_SIZE + 1;

export class MetadataLayout {
  /** Free bytes at the end of each area block. */
  private readonly free: number[] = [];
  /** buckets[n]: area blocks with exactly n free slots. */
  private readonly buckets: number[][] = Array.from({ length: BUCKETS }, () => []);

  /** `block0Used`: bytes of block 0 taken by the superblock and what follows it. */
  constructor(block0Used: number) {
    this.free.push(BLOCK_SIZE - roundUp(block0Used));
    this.track(0);
  }

  /** Metadata blocks used so far (block 0 not counted). */
  get blocks(): number {
    return this.free.length - 1;
  }

  /** Free bytes left in block 0. */
  get blockZeroRoom(): number {
    return this.free[0]!;
  }

  /** Places an item in block 0, or returns undefined if it does not fit there. */
  placeInBlockZero(size: number): AreaPosition | undefined {
    const need = roundUp(size);
    if (this.free[0]! < need) return undefined;
    return this.take(0, need);
  }

  place(size: number): AreaPosition {
    const need = roundUp(size);
    if (need > BLOCK_SIZE) {
      const first = this.free.length;
      const blocks = Math.ceil(need / BLOCK_SIZE);
      for (let i = 0; i < blocks; i++) this.free.push(0);
      this.free[first + blocks - 1] = blocks * BLOCK_SIZE - need;
      this.track(first + blocks - 1);
      return { areaBlock: first, offset: 0 };
    }
    for (let n = need / SLOT_SIZE; n < BUCKETS; n++) {
      const bucket = this.buckets[n]!;
      if (bucket.length) return this.take(bucket[bucket.length - 1]!, need);
    }
    this.free.push(BLOCK_SIZE);
    return this.take(this.free.length - 1, need);
  }

  private take(block: number, need: number): AreaPosition {
    this.untrack(block);
    const offset = BLOCK_SIZE - this.free[block]!;
    this.free[block] = this.free[block]! - need;
    this.track(block);
    return { areaBlock: block, offset };
  }

  private track(block: number): void {
    if (this.free[block]! >= SLOT_SIZE) this.buckets[this.free[block]! / SLOT_SIZE]!.push(block);
  }

  private untrack(block: number): void {
    if (this.free[block]! < SLOT_SIZE) return;
    const bucket = this.buckets[this.free[block]! / SLOT_SIZE]!;
    // Blocks in a bucket are usually taken from its end.
    const i = bucket.lastIndexOf(block);
    if (i >= 0) bucket.splice(i, 1);
  }
}

/**
 * The nid of an item placed at `pos` once the metadata blocks start at block `metaStart`
 * (meta_blkaddr is 0: a nid is the byte offset / 32; not `>>`, offsets pass 2^31 in large images).
 */
export function nidAt(pos: AreaPosition, metaStart: number): number {
  const block = pos.areaBlock === 0 ? 0 : metaStart + pos.areaBlock - 1;
  return (block * BLOCK_SIZE + pos.offset) / SLOT_SIZE;
}

function roundUp(n: number): number {
  return Math.ceil(n / SLOT_SIZE) * SLOT_SIZE;
}
