/**
 * File data: each regular file's full blocks in order (all-zero blocks become sparse holes), its
 * tail (or the whole of a small file) packed into a shared fragment block, and files whose
 * content equals an earlier file's pointing at that file's data instead. Blocks are compressed on
 * the worker pool and appended strictly in the order they were read, so positions — and the
 * image — do not depend on which worker finishes first.
 */
import type { CompressedBlock, CompressionPool } from '../../compress/pool.js';
import { OrderedQueue } from '../../compress/ordered.js';
import type { FileEntry } from '../../sysroot/entry.js';
import { SourceFile } from '../../sysroot/source-file.js';
import { DATA_UNCOMPRESSED, NO_FRAGMENT } from './format.js';
import type { FragmentEntry } from './tables.js';
import type { ImageSink } from '../sink.js';

/** Where a file's data went; filled in as its blocks are written. */
export interface FileData {
  startBlock: number;
  readonly blockSizes: number[];
  fragment: number;
  fragmentOffset: number;
  sparseBytes: number;
}

export interface DataWriterOptions {
  readonly sink: ImageSink;
  readonly pool: CompressionPool;
  readonly blockSize: number;
  /** Blocks compressed or being compressed but not yet written, at most. */
  readonly inFlight: number;
  readonly signal?: AbortSignal;
  /** Called with the number of file bytes read so far. */
  readonly progress?: (bytesRead: number) => void;
}

export class DataWriter {
  readonly fragments: FragmentEntry[] = [];
  private readonly queue: OrderedQueue<CompressedBlock>;
  private readonly zeros: Buffer;
  private readonly fragment: Buffer;
  private fragmentUsed = 0;
  private bytesRead = 0;
  sparseBlocks = 0;

  constructor(private readonly opts: DataWriterOptions) {
    this.queue = new OrderedQueue(opts.inFlight);
    this.zeros = Buffer.alloc(opts.blockSize);
    this.fragment = Buffer.allocUnsafeSlow(opts.blockSize);
  }

  /** Reads, compresses and queues a file's data; the returned record is complete after `finish`. */
  async addFile(file: FileEntry): Promise<FileData> {
    const { blockSize, sink, pool, signal } = this.opts;
    const data: FileData = { startBlock: 0, blockSizes: [], fragment: NO_FRAGMENT, fragmentOffset: 0, sparseBytes: 0 };
    if (file.size === 0) return data;
    const src = new SourceFile(file);
    try {
      const fullBlocks = Math.floor(file.size / blockSize);
      let started = false;
      for (let i = 0; i < fullBlocks; i++) {
        signal?.throwIfAborted();
        // A fresh buffer per block: it is handed over to a worker thread.
        const block = Buffer.allocUnsafeSlow(blockSize);
        src.read(block, i * blockSize);
        this.read(blockSize);
        if (block.equals(this.zeros)) {
          data.blockSizes.push(0);
          data.sparseBytes += blockSize;
          this.sparseBlocks++;
          continue;
        }
        const slot = data.blockSizes.push(0) - 1;
        await this.queue.add(pool.compress(block), (r) => {
          const at = sink.append(r.data);
          if (!started) {
            data.startBlock = at;
            started = true;
          }
          data.blockSizes[slot] = storedSize(r);
        });
      }
      const tail = file.size - fullBlocks * blockSize;
      if (tail) {
        if (this.fragmentUsed + tail > blockSize) await this.flushFragment();
        src.read(this.fragment.subarray(this.fragmentUsed, this.fragmentUsed + tail), fullBlocks * blockSize);
        this.read(tail);
        data.fragment = this.fragments.length;
        data.fragmentOffset = this.fragmentUsed;
        this.fragmentUsed += tail;
      }
      src.checkNotLonger();
    } finally {
      src.close();
    }
    return data;
  }

  /** Writes the last fragment block and waits until every block is in the image. */
  async finish(): Promise<void> {
    if (this.fragmentUsed) await this.flushFragment();
    await this.queue.drain();
  }

  private async flushFragment(): Promise<void> {
    const block = this.fragment.subarray(0, this.fragmentUsed);
    const index = this.fragments.length;
    this.fragments.push({ start: 0, size: 0 });
    this.fragmentUsed = 0;
    // A copy goes to the worker; the packing buffer is reused.
    await this.queue.add(this.opts.pool.compress(Uint8Array.prototype.slice.call(block)), (r) => {
      this.fragments[index] = { start: this.opts.sink.append(r.data), size: storedSize(r) };
    });
  }

  /** Counts a file whose data is already stored (identical to an earlier one) as read. */
  skip(file: FileEntry): void {
    this.read(file.size);
  }

  private read(n: number): void {
    this.bytesRead += n;
    this.opts.progress?.(this.bytesRead);
  }
}

function storedSize(r: CompressedBlock): number {
  return r.compressed ? r.data.length : r.data.length | DATA_UNCOMPRESSED;
}

/** A block list or fragment entry's u32: stored length, whether compressed; length 0 is a hole. */
export function decodeStoredSize(size: number): { readonly length: number; readonly compressed: boolean } {
  return { length: (size & ~DATA_UNCOMPRESSED) >>> 0, compressed: (size & DATA_UNCOMPRESSED) === 0 };
}

/** Blocks in a file's block list: every full block, and the tail too unless it is in a fragment. */
export function blockCount(fileSize: number, blockSize: number, fragment: number): number {
  return fragment === NO_FRAGMENT ? Math.ceil(fileSize / blockSize) : Math.floor(fileSize / blockSize);
}
