/**
 * Metadata blocks: tables (inodes, directories, lookup tables) are cut into 8 KiB pieces, each
 * compressed on its own and preceded by a u16 header (stored length, bit 15 = uncompressed).
 * Every block but the last holds exactly 8 KiB, so a position in a table is ⟨compressed offset of
 * its block, offset inside the 8 KiB⟩, known the moment the bytes are appended.
 */
import { METADATA_SIZE, METADATA_UNCOMPRESSED, type MetadataRef } from './format.js';

/** Compresses a block synchronously; the result may be larger than the input. */
export type BlockCompressor = (block: Uint8Array) => Uint8Array;

/** Header and payload of one metadata block: compressed if that is smaller, else stored. */
export function encodeMetadataBlock(payload: Uint8Array, compress: BlockCompressor): Buffer {
  if (payload.length === 0 || payload.length > METADATA_SIZE) throw new Error(`metadata block of ${payload.length} bytes`);
  const packed = compress(payload);
  const stored = packed.length < payload.length;
  const body = stored ? packed : payload;
  const out = Buffer.allocUnsafe(2 + body.length);
  out.writeUInt16LE(stored ? body.length : body.length | METADATA_UNCOMPRESSED, 0);
  out.set(body, 2);
  return out;
}

/** A metadata block's u16 header: how many bytes follow, and whether they are compressed. */
export function decodeMetadataHeader(header: number): { readonly length: number; readonly compressed: boolean } {
  return { length: header & ~METADATA_UNCOMPRESSED & 0xffff, compressed: (header & METADATA_UNCOMPRESSED) === 0 };
}

export class MetadataWriter {
  private readonly blocks: Buffer[] = [];
  private compressedLength = 0;
  private readonly current = Buffer.alloc(METADATA_SIZE);
  private used = 0;
  /** Compressed offset of every block flushed so far, then of the one being filled. */
  private readonly starts: number[] = [0];

  constructor(private readonly compress: BlockCompressor) {}

  /** Where the next appended byte goes. */
  get position(): MetadataRef {
    return { block: this.compressedLength, offset: this.used };
  }

  /** Uncompressed bytes appended so far. */
  get length(): number {
    return (this.starts.length - 1) * METADATA_SIZE + this.used;
  }

  append(bytes: Uint8Array): void {
    let from = 0;
    while (from < bytes.length) {
      const n = Math.min(bytes.length - from, METADATA_SIZE - this.used);
      this.current.set(bytes.subarray(from, from + n), this.used);
      this.used += n;
      from += n;
      if (this.used === METADATA_SIZE) this.flush();
    }
  }

  /** The reference of an uncompressed position already appended (or the next one). */
  refAt(position: number): MetadataRef {
    const block = this.starts[Math.floor(position / METADATA_SIZE)];
    if (block === undefined || position > this.length) throw new Error(`metadata position ${position} not written yet`);
    return { block, offset: position % METADATA_SIZE };
  }

  /** Flushes the last, partial block and returns the whole table. */
  finish(): Buffer {
    if (this.used) this.flush();
    return Buffer.concat(this.blocks);
  }

  private flush(): void {
    const block = encodeMetadataBlock(this.current.subarray(0, this.used), this.compress);
    this.blocks.push(block);
    this.compressedLength += block.length;
    this.starts.push(this.compressedLength);
    this.used = 0;
  }
}
