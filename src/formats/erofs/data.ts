/**
 * File data, written in order after block 0: each regular file's blocks, as
 *  - flat: its full blocks, and its tail (size % 4 KiB) either kept for inline storage after the
 *    inode or padded to a block of its own;
 *  - chunk-based (uncompressed images only): for files with at least 1 MiB (and 1/64) of
 *    all-zero blocks, which become holes (nothing stored, read back as zeros; Linux 5.15);
 *  - compressed: pieces of up to 4 MiB are cut into clusters on the worker pool (clusters.ts) and
 *    appended strictly in the order they were read (the end of an erofs-lz4 piece may be packed
 *    twice, clusters.ts). A file stays compressed only if that saves at least a block over its
 *    size, with its indexes counted as mkfs.erofs counts them; otherwise the image is rewound to
 *    where the file began and the file is written flat.
 * Memory holds at most `inFlight` / 4 full pieces' worth of bytes, whatever the file sizes (pieces
 * are weighed by their size, so that a big piece at the head of the order does not leave the
 * workers idle behind it while small files queue up); what a compressed file keeps besides them
 * is its map, encoded as its clusters arrive (2 bytes per 4 KiB, what the image holds).
 */
import { OrderedQueue } from '../../compress/ordered.js';
import type { CompressedBlock, CompressionPool } from '../../compress/pool.js';
import type { FileEntry } from '../../sysroot/entry.js';
import type { ImageSink } from '../sink.js';
import { unpackClusters } from './clusters.js';
import { CompressionMapEncoder } from './compression-map.js';
import type { ErofsCompression } from './compression.js';
import { BLOCK_SIZE, NULL_ADDR } from './format.js';
import { SourceFile, withSource } from '../../sysroot/source-file.js';

export type FileStorage =
  /** `blocks` whole blocks from `firstBlock` (the tail's included when not inline). */
  | { readonly kind: 'flat'; readonly firstBlock: number; readonly blocks: number; readonly inlineTail?: Buffer }
  /** One u32 block address per 4 KiB chunk, NULL_ADDR for a hole. */
  | { readonly kind: 'chunked'; readonly chunkMap: Buffer; readonly blocks: number }
  /** `blocks` blocks of clusters; `map` is the map header and indexes that follow the inode. */
  | { readonly kind: 'compressed'; readonly blocks: number; readonly map: Buffer };

/** Filled in when the file's data is in the image (after `DataWriter.finish`). */
export interface StoredFile {
  storage?: FileStorage;
}

export interface DataWriterOptions {
  readonly sink: ImageSink;
  readonly compression?: ErofsCompression;
  readonly pool?: CompressionPool;
  /** Pieces read but not yet written, at most. */
  readonly inFlight: number;
  readonly signal?: AbortSignal;
  /** File bytes read so far. */
  readonly progress?: (bytesRead: number) => void;
}

/** Bytes of one piece sent to a worker. */
const PIECE = 4 << 20;
/** Bytes read at a time for flat files. */
const READ_CHUNK = 1 << 20;
/**
 * An uncompressed file becomes chunk-based when its all-zero blocks add up to 1 MiB and to 1/64
 * of its blocks: then the holes save far more than the chunk map (4 bytes per block) costs.
 */
function worthChunks(zeroBlocks: number, blocks: number): boolean {
  return zeroBlocks >= 256 && zeroBlocks * 64 >= blocks;
}

const ZERO_BLOCK = Buffer.alloc(BLOCK_SIZE);

export class DataWriter {
  private readonly queue: OrderedQueue<CompressedBlock | undefined>;
  private bytesRead = 0;
  /** The buffer flat files are copied through (see writeFlat). */
  private copyBuffer?: Buffer;
  chunkedFiles = 0;
  compressedFiles = 0;

  constructor(private readonly o: DataWriterOptions) {
    // A quarter of `inFlight` full pieces is enough to keep the workers busy behind a big one.
    // Files written in turn (flat ones, read when their turn comes) weigh nothing; at most 64
    // results per piece of `inFlight` wait in all.
    this.queue = new OrderedQueue((o.inFlight * PIECE) / 4, o.inFlight * 64);
  }

  private get sink(): ImageSink {
    return this.o.sink;
  }

  /** Queues a regular file's data; `inodeSize` decides whether its tail fits inline. */
  async addFile(file: FileEntry, inodeSize: number): Promise<StoredFile> {
    const stored: StoredFile = {};
    if (file.size === 0) stored.storage = { kind: 'flat', firstBlock: 0, blocks: 0 };
    else if (this.o.compression && this.o.pool && file.size > BLOCK_SIZE) await this.addCompressed(file, inodeSize, stored);
    else await this.inTurn(() => (stored.storage = this.writeFlat(file, inodeSize, { chunksAllowed: !this.o.compression, counted: true })));
    return stored;
  }

  /** Queues one block of other data (a long symlink target); resolves to its block address. */
  async addBlock(data: Buffer): Promise<{ block: number }> {
    const where = { block: 0 };
    const padded = Buffer.alloc(BLOCK_SIZE);
    data.copy(padded);
    await this.inTurn(() => (where.block = this.sink.append(padded) / BLOCK_SIZE));
    return where;
  }

  /** Waits until everything queued is in the image. */
  async finish(): Promise<void> {
    await this.queue.drain();
  }

  /** Runs `write` once everything queued before it is written. */
  private inTurn(write: () => void): Promise<void> {
    return this.queue.add(Promise.resolve(undefined), write, 0);
  }

  private read(n: number): void {
    this.bytesRead += n;
    this.o.progress?.(this.bytesRead);
  }

  private async addCompressed(file: FileEntry, inodeSize: number, stored: StoredFile): Promise<void> {
    const { pool, compression, signal } = this.o;
    // The map is encoded as the clusters arrive (it needs the first block, known with the first
    // piece): per file, only the map itself is kept, not a record per cluster.
    let map: CompressionMapEncoder | undefined;
    let firstBlock = -1;
    let blocks = 0;
    let offset = 0;
    const deliver = (r: CompressedBlock | undefined) => {
      const { clusters, blocks: data } = unpackClusters(r!.data);
      const at = this.sink.append(data) / BLOCK_SIZE;
      if (firstBlock < 0) {
        firstBlock = at;
        map = new CompressionMapEncoder({ size: file.size, algorithm: compression!.algorithm, bigPcluster: compression!.bigPcluster, firstBlock, inodeEnd: inodeSize });
      }
      for (const c of clusters) {
        map!.add({ offset, length: c.length, compressed: c.compressed, blocks: c.blocks });
        offset += c.length;
        blocks += c.blocks;
      }
    };
    const source = new SourceFile(file);
    try {
      for (let at = 0; at < file.size; at += PIECE) {
        signal?.throwIfAborted();
        const piece = source.readNew(at, Math.min(PIECE, file.size - at));
        this.read(piece.length);
        await this.queue.add(pool!.compress(piece), deliver, piece.length);
      }
      source.checkNotLonger();
    } finally {
      source.close();
    }
    await this.inTurn(() => {
      const lclusters = Math.ceil(file.size / BLOCK_SIZE);
      // mkfs.erofs's rule: the clusters and their (full-format) indexes must take less room than
      // the file, i.e. save at least one of the blocks it spans.
      if (blocks * BLOCK_SIZE + 16 + 8 * lclusters < file.size) {
        stored.storage = { kind: 'compressed', blocks, map: map!.finish() };
        this.compressedFiles++;
      } else {
        this.sink.flush();
        this.sink.position = firstBlock * BLOCK_SIZE;
        stored.storage = this.writeFlat(file, inodeSize, { chunksAllowed: false, counted: false });
      }
    });
  }

  /**
   * Writes a file flat at the current position (chunk-based if allowed and worth it). `counted`:
   * its bytes count as progress (not when it is written again after compression).
   */
  private writeFlat(file: FileEntry, inodeSize: number, how: { chunksAllowed: boolean; counted: boolean }): FileStorage {
    const { chunksAllowed, counted } = how;
    const full = Math.floor(file.size / BLOCK_SIZE);
    const tail = file.size % BLOCK_SIZE;
    const inline = tail > 0 && inodeSize + tail <= BLOCK_SIZE;
    const start = this.sink.position;
    let zeroBlocks = 0;
    const storage = withSource(file, (src): FileStorage => {
      for (let at = 0; at < full * BLOCK_SIZE; at += READ_CHUNK) {
        this.o.signal?.throwIfAborted();
        // One buffer for the whole copy: fresh memory per read costs more than the copy itself.
        this.copyBuffer ??= Buffer.allocUnsafeSlow(READ_CHUNK);
        const chunk = this.copyBuffer.subarray(0, Math.min(READ_CHUNK, full * BLOCK_SIZE - at));
        src.read(chunk, at);
        if (counted) this.read(chunk.length);
        if (chunksAllowed) for (let b = 0; b < chunk.length; b += BLOCK_SIZE) if (isZeroBlock(chunk, b)) zeroBlocks++;
        this.sink.appendNow(chunk);
      }
      const tailBytes = tail ? src.readNew(full * BLOCK_SIZE, tail) : undefined;
      if (tailBytes && counted) this.read(tail);
      src.checkNotLonger();
      if (chunksAllowed && worthChunks(zeroBlocks, full)) {
        this.sink.flush();
        this.sink.position = start;
        return this.writeChunked(src);
      }
      if (tailBytes && !inline) {
        const block = Buffer.alloc(BLOCK_SIZE);
        tailBytes.copy(block);
        this.sink.append(block);
      }
      return { kind: 'flat', firstBlock: start / BLOCK_SIZE, blocks: full + (tail && !inline ? 1 : 0), inlineTail: inline ? tailBytes : undefined };
    });
    return storage;
  }

  /** Writes the non-zero 4 KiB chunks of a file and maps the zero ones as holes. */
  private writeChunked(src: SourceFile): FileStorage {
    const size = src.file.size;
    const chunks = Math.ceil(size / BLOCK_SIZE);
    const chunkMap = Buffer.alloc(4 * chunks);
    let blocks = 0;
    for (let at = 0; at < size; at += READ_CHUNK) {
      this.o.signal?.throwIfAborted();
      const chunk = src.readNew(at, Math.min(READ_CHUNK, size - at));
      for (let b = 0; b < chunk.length; b += BLOCK_SIZE) {
        const index = (at + b) / BLOCK_SIZE;
        const block = chunk.subarray(b, b + BLOCK_SIZE);
        if (block.length === BLOCK_SIZE ? isZeroBlock(chunk, b) : block.equals(ZERO_BLOCK.subarray(0, block.length))) {
          chunkMap.writeUInt32LE(NULL_ADDR, 4 * index);
          continue;
        }
        const padded = block.length === BLOCK_SIZE ? block : Buffer.concat([block, ZERO_BLOCK.subarray(block.length)]);
        chunkMap.writeUInt32LE(this.sink.append(padded) / BLOCK_SIZE, 4 * index);
        blocks++;
      }
    }
    this.chunkedFiles++;
    return { kind: 'chunked', chunkMap, blocks };
  }
}

function isZeroBlock(buf: Buffer, at: number): boolean {
  return buf[at] === 0 && buf[at + BLOCK_SIZE - 1] === 0 && buf.subarray(at, at + BLOCK_SIZE).equals(ZERO_BLOCK);
}
