/**
 * LZ4 "destSize" compression with HC-quality matches: encodes the longest prefix of the input
 * whose LZ4 block fits in a given number of bytes, as `LZ4_compress_HC_destSize` does for
 * mkfs.erofs. EROFS stores each such block in a fixed-size physical cluster, so the more input
 * one block holds, the smaller the image.
 *
 * The encoder itself is WebAssembly, built from assembly/encoder.ts (AssemblyScript) by the
 * build, where its algorithms are described: a greedy parse (Lz4FixedOutputEncoder) and a
 * cost-optimal one (Lz4OptimalEncoder, ≈0.3 % more input per block for about six times the
 * time). WebAssembly runs the same instructions on every machine, so the bytes do not depend on
 * it. Each encoder has its own instance: its tables, the output block and a copy of the input.
 */
import { readFileSync } from 'node:fs';
import type { FitResult, FixedOutputCompressor } from '../fixed-output.js';

/** Candidates examined per search: the quality/speed knob (LZ4HC level 9 examines 256). */
export const DEFAULT_ATTEMPTS = 256;

/** The part of the WebAssembly API used here (TypeScript declares it in its DOM library, not loaded here). */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { readonly exports: object };
  RuntimeError: new () => Error;
}
const { Module, Instance, RuntimeError } = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

interface EncoderExports {
  readonly memory: { readonly buffer: ArrayBuffer };
  init(attempts: number): void;
  reserve(inputLength: number, capacity: number): number;
  outPointer(): number;
  consumed(): number;
  compressGreedy(start: number, end: number, capacity: number): number;
  compressOptimal(start: number, end: number, capacity: number): number;
}

let compiled: object | undefined;

/** Compiled once per thread, on first use (it takes about a millisecond). */
function encoderModule(): object {
  compiled ??= new Module(readFileSync(new URL('./encoder.wasm', import.meta.url)));
  return compiled;
}

class WasmLz4Encoder implements FixedOutputCompressor {
  private readonly wasm: EncoderExports;
  /** The input the instance holds a copy of, and the output capacity it has room for. */
  private loaded?: Uint8Array;
  private capacity = 0;

  constructor(
    attempts: number,
    private readonly optimal: boolean,
  ) {
    this.wasm = new Instance(encoderModule()).exports as EncoderExports;
    this.wasm.init(attempts);
  }

  /** Copies `src` into the instance; `compress` does it too when given another buffer. */
  load(src: Uint8Array, capacity: number): void {
    const at = this.wasm.reserve(src.length, capacity);
    new Uint8Array(this.wasm.memory.buffer, at, src.length).set(src);
    this.loaded = src;
    this.capacity = capacity;
  }

  /**
   * Encodes the longest prefix of `src[start, end)` whose block fits in `dst[0, capacity)`.
   * Matches never reach before `start`: the block decodes on its own.
   */
  compress(src: Uint8Array, start: number, end: number, dst: Uint8Array, capacity: number): FitResult {
    if (src !== this.loaded || capacity > this.capacity) this.load(src, Math.max(capacity, this.capacity));
    let written: number;
    try {
      written = this.optimal ? this.wasm.compressOptimal(start, end, capacity) : this.wasm.compressGreedy(start, end, capacity);
    } catch (error) {
      // The encoder traps on a match it must not write (a bug): fail the build, never the bytes.
      if (error instanceof RuntimeError) throw new Error(`LZ4 encoder: invalid block at input offset ${start} (${error.message})`);
      throw error;
    }
    if (written > capacity) throw new Error(`LZ4 encoder: a block of ${written} bytes exceeds ${capacity}`);
    // Read after the call: growing the memory replaces its buffer.
    dst.set(new Uint8Array(this.wasm.memory.buffer, this.wasm.outPointer(), written));
    return { consumed: this.wasm.consumed(), written };
  }
}

/** The greedy parse: the encoder for every cluster. */
export class Lz4FixedOutputEncoder extends WasmLz4Encoder {
  constructor(attempts = DEFAULT_ATTEMPTS) {
    super(attempts, false);
  }
}

/** The cost-optimal parse: for the few clusters where it saves a block (erofs/compression.ts). */
export class Lz4OptimalEncoder extends WasmLz4Encoder {
  constructor(attempts = DEFAULT_ATTEMPTS) {
    super(attempts, true);
  }
}
