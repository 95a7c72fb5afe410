/**
 * Cutting a piece of a file into physical clusters, as mkfs.erofs does: from the current position,
 * compress the longest input that fits in one pcluster (fixed output). The pcluster is kept if it
 * holds more input than the blocks it takes; otherwise the next block of input is stored raw (a
 * PLAIN cluster). What remains at the end, one block or less, is stored raw too. Compressed data
 * is right-aligned in its blocks (the ZERO_PADDING feature): the kernel skips the leading zeros.
 *
 * Where that leaves a small raw remainder at the end of a piece, packing its last clusters again
 * with a better (slower) compressor can absorb it and save the block (`packWithSecondPass`).
 *
 * This runs on the worker threads. Its result is serialized for the trip back: a header (count,
 * then per cluster its input length and its block count with a "compressed" flag) followed by
 * the clusters' blocks, ready to be appended to the image.
 */
import type { FitResult, FixedOutputCompressor } from '../../compress/fixed-output.js';
import { BLOCK_SIZE } from './format.js';

export interface ClusterOptions {
  /** Bytes of a physical cluster (a multiple of the block size). */
  readonly pclusterSize: number;
  /** Most input one cluster may hold. */
  readonly maxExtent: number;
}

export interface Cluster {
  /** Input bytes it holds. */
  readonly length: number;
  readonly compressed: boolean;
  readonly blocks: number;
}

const COMPRESSED_FLAG = 0x80000000;

export class ClusterPacker {
  private readonly out: Uint8Array;
  /** Compressed form of `maxExtent` zero bytes, computed on first need. */
  private zeroRun?: { readonly result: FitResult; readonly bytes: Uint8Array };
  private zeros?: Buffer;

  constructor(
    private readonly compressor: FixedOutputCompressor,
    private readonly opts: ClusterOptions,
  ) {
    if (opts.pclusterSize % BLOCK_SIZE) throw new Error('pcluster size must be a multiple of the block size');
    this.out = new Uint8Array(opts.pclusterSize);
  }

  /** Clusters `input` and returns the serialized result. */
  pack(input: Uint8Array): Buffer {
    const { maxExtent, pclusterSize } = this.opts;
    this.compressor.load?.(input, pclusterSize);
    const clusters: Cluster[] = [];
    const payload: Uint8Array[] = [];
    let payloadBytes = 0;
    for (let pos = 0; pos < input.length; ) {
      const remaining = input.length - pos;
      let stored = false;
      if (remaining > BLOCK_SIZE) {
        const end = Math.min(input.length, pos + maxExtent);
        const { consumed, written } = this.compressAt(input, pos, end);
        const blocks = Math.ceil(written / BLOCK_SIZE);
        if (consumed > blocks * BLOCK_SIZE) {
          const data = new Uint8Array(blocks * BLOCK_SIZE);
          data.set(this.out.subarray(0, written), data.length - written);
          clusters.push({ length: consumed, compressed: true, blocks });
          payload.push(data);
          payloadBytes += data.length;
          pos += consumed;
          stored = true;
        }
      }
      if (!stored) {
        const length = Math.min(remaining, BLOCK_SIZE);
        const data = new Uint8Array(BLOCK_SIZE);
        data.set(input.subarray(pos, pos + length));
        clusters.push({ length, compressed: false, blocks: 1 });
        payload.push(data);
        payloadBytes += BLOCK_SIZE;
        pos += length;
      }
    }
    return serialize(clusters, payload, payloadBytes);
  }

  /** Runs of zeros (sparse files) are common and slow to match byte by byte: their result is reused. */
  private compressAt(input: Uint8Array, pos: number, end: number): FitResult {
    const { pclusterSize, maxExtent } = this.opts;
    if (end - pos === maxExtent && input[pos] === 0 && input[end - 1] === 0 && this.isZero(input, pos, end)) {
      if (!this.zeroRun) {
        const result = this.compressor.compress(this.zeros!, 0, maxExtent, this.out, pclusterSize);
        this.zeroRun = { result, bytes: this.out.slice(0, result.written) };
      }
      this.out.set(this.zeroRun.bytes);
      return this.zeroRun.result;
    }
    return this.compressor.compress(input, pos, end, this.out, pclusterSize);
  }

  private isZero(input: Uint8Array, from: number, to: number): boolean {
    this.zeros ??= Buffer.alloc(this.opts.maxExtent);
    return Buffer.from(input.buffer, input.byteOffset + from, to - from).equals(this.zeros.subarray(0, to - from));
  }
}

/** The clusters' header (count, then per cluster its input length and its block count with a flag), then their blocks. */
function serialize(clusters: readonly Cluster[], payload: readonly Uint8Array[], payloadBytes = payload.reduce((n, p) => n + p.length, 0)): Buffer {
  const header = Buffer.alloc(4 + 8 * clusters.length);
  header.writeUInt32LE(clusters.length, 0);
  clusters.forEach((c, i) => {
    header.writeUInt32LE(c.length, 4 + 8 * i);
    header.writeUInt32LE((c.blocks | (c.compressed ? COMPRESSED_FLAG : 0)) >>> 0, 8 + 8 * i);
  });
  return Buffer.concat([header, ...payload], header.length + payloadBytes);
}

/** The clusters and their blocks, from what `pack` serialized. */
export function unpackClusters(serialized: Buffer): { clusters: Cluster[]; blocks: Buffer } {
  const count = serialized.readUInt32LE(0);
  const clusters: Cluster[] = [];
  for (let i = 0; i < count; i++) {
    const word = serialized.readUInt32LE(8 + 8 * i);
    clusters.push({ length: serialized.readUInt32LE(4 + 8 * i), compressed: (word & COMPRESSED_FLAG) !== 0, blocks: word & ~COMPRESSED_FLAG });
  }
  return { clusters, blocks: serialized.subarray(4 + 8 * count) };
}

/**
 * When to pack the end of a piece again with a slower, better compressor. A piece's last cluster
 * usually leaves some input that is stored as it is, in a block of its own; when that remainder
 * is small, the last clusters holding a little more each can absorb it.
 */
export interface SecondPass {
  /** Only remainders of at most this many bytes. */
  readonly maxRemainder: number;
  /** Input bytes one cluster of the second pass is expected to gain: sets how many are packed again. */
  readonly gainPerCluster: number;
}

/**
 * `first.pack(input)`; where it ends with a small raw remainder, its last clusters (enough to
 * absorb it, per `pass`) are packed again by `second`, and that is kept if it takes fewer blocks.
 */
export function packWithSecondPass(first: ClusterPacker, second: ClusterPacker, pass: SecondPass, input: Uint8Array): Buffer {
  const packed = first.pack(input);
  const { clusters, blocks } = unpackClusters(packed);
  const last = clusters.at(-1);
  const remainder = last && !last.compressed && clusters.at(-2)?.compressed ? last.length : 0;
  if (!remainder || remainder > pass.maxRemainder) return packed;
  // The last compressed clusters, counted back from the remainder, that will be packed again.
  let from = clusters.length - 1;
  const wanted = Math.ceil(remainder / pass.gainPerCluster) + 1;
  while (from > 0 && clusters.length - 1 - from < wanted && clusters[from - 1]!.compressed) from--;
  let offset = 0;
  let keptBlocks = 0;
  for (let i = 0; i < from; i++) {
    offset += clusters[i]!.length;
    keptBlocks += clusters[i]!.blocks;
  }
  const again = unpackClusters(second.pack(input.subarray(offset)));
  if (keptBlocks + again.blocks.length / BLOCK_SIZE >= blocks.length / BLOCK_SIZE) return packed;
  return serialize([...clusters.slice(0, from), ...again.clusters], [blocks.subarray(0, keptBlocks * BLOCK_SIZE), again.blocks]);
}
