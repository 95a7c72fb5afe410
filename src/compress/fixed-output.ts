/**
 * Fixed-output compression, the mode EROFS needs: instead of compressing a given input, fill a
 * given number of output bytes with as much input as fits. Implemented by the LZ4 encoder of our
 * own (lz4/fixed-output.ts, WebAssembly) and by a search over zstd's ordinary frames
 * (zstd-fixed-output.ts).
 */

export interface FitResult {
  /** Input bytes the block decodes to (from `start`). */
  readonly consumed: number;
  /** Bytes written to `dst`. */
  readonly written: number;
}

export interface FixedOutputCompressor {
  /** Compresses the longest prefix of `src[start, end)` whose block fits in `dst[0, capacity)`. */
  compress(src: Uint8Array, start: number, end: number, dst: Uint8Array, capacity: number): FitResult;
  /**
   * Where the compressor keeps a copy of its input (the WebAssembly LZ4 encoder does): copies
   * `src` now, for blocks of up to `capacity` bytes. `compress` copies a buffer it was not given
   * last; a buffer whose bytes changed since must be loaded again.
   */
  load?(src: Uint8Array, capacity: number): void;
}
