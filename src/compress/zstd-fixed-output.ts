/**
 * zstd "fixed-output" compression: the longest input prefix whose zstd frame fits in a given
 * number of bytes. zstd has no such mode, so this searches the input length (as erofs-utils does
 * for zstd): a first guess, then guesses scaled by the ratio achieved, then bisection, stopping
 * once the bracket is within 1/64 of the length. Each trial is a one-shot frame from a reused
 * context; the result depends on the input only.
 */
import type { FitResult, FixedOutputCompressor } from './fixed-output.js';
import { zstdLibrary, type ZstdLibrary } from './zstd.js';

const MAX_TRIALS = 12;

export class ZstdFixedOutput implements FixedOutputCompressor {
  constructor(
    private readonly zstd: ZstdLibrary,
    readonly level: number,
  ) {}

  /** Over this thread's zstd (native or WebAssembly: the same frames). */
  static async create(level: number): Promise<ZstdFixedOutput> {
    return new ZstdFixedOutput(await zstdLibrary(), level);
  }

  /**
   * Compresses the longest prefix of `src[start, end)` (to within 1/64) whose frame fits in
   * `capacity` bytes into `dst`. Returns consumed 0 if not even `capacity + 1` bytes fit, i.e.
   * the data does not compress.
   */
  compress(src: Uint8Array, start: number, end: number, dst: Uint8Array, capacity: number): FitResult {
    const n = end - start;
    let fit = 0;
    let fitFrame: Uint8Array | undefined;
    let tooBig = n + 1;
    let guess = Math.min(n, capacity * 4);
    for (let trial = 0; trial < MAX_TRIALS && tooBig - fit > 1; trial++) {
      const frame = this.frame(src.subarray(start, start + guess));
      if (frame.length <= capacity) {
        fit = guess;
        fitFrame = frame;
        if (tooBig - fit <= Math.max(1, fit >> 6)) break;
        guess = Math.floor((guess * capacity) / frame.length);
        if (guess >= tooBig) guess = Math.floor((fit + tooBig) / 2);
        guess = Math.max(guess, fit + 1);
      } else {
        tooBig = guess;
        // Below one block's worth the result would be stored raw anyway.
        if (guess <= capacity + 1) break;
        guess = fitFrame ? Math.floor((fit + tooBig) / 2) : Math.max(capacity + 1, Math.floor((guess * capacity) / frame.length));
      }
    }
    if (!fitFrame) return { consumed: 0, written: 0 };
    dst.set(fitFrame);
    return { consumed: fit, written: fitFrame.length };
  }

  private frame(input: Uint8Array): Uint8Array {
    return this.zstd.compressNoDict(input, this.level);
  }
}
