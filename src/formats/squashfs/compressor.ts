/**
 * Which compressor an image names in its superblock, and the compressor-options metadata block
 * that follows the superblock when the settings differ from the kernel's defaults (and always for
 * lz4, whose images the kernel refuses without one).
 */
import type { CodecSpec } from '../../compress/codec.js';
import { CompressionId, METADATA_UNCOMPRESSED } from './format.js';

export interface SquashfsCompression {
  readonly id: number;
  /** The options block as stored (header included), if the image needs one. */
  readonly options?: Buffer;
}

const LZ4_LEGACY_VERSION = 1;

export function squashfsCompression(spec: CodecSpec): SquashfsCompression {
  switch (spec.name) {
    case 'gzip':
      // Level 9 and a 32 KiB window are the defaults: no options block.
      return { id: CompressionId.gzip };
    case 'xz':
      // Dictionary = block size and no BCJ filter are the defaults.
      return { id: CompressionId.xz };
    case 'zstd':
      // The level is for mksquashfs's information only; the kernel needs no options.
      return { id: CompressionId.zstd };
    case 'lz4': {
      const payload = Buffer.alloc(8);
      payload.writeUInt32LE(LZ4_LEGACY_VERSION, 0);
      payload.writeUInt32LE(0, 4); // flags: not LZ4HC
      return { id: CompressionId.lz4, options: storedMetadataBlock(payload) };
    }
  }
}

/** Compressor options are always one uncompressed metadata block. */
function storedMetadataBlock(payload: Buffer): Buffer {
  const b = Buffer.alloc(2 + payload.length);
  b.writeUInt16LE(payload.length | METADATA_UNCOMPRESSED, 0);
  payload.copy(b, 2);
  return b;
}
