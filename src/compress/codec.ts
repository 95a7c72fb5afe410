/**
 * Block codecs: each compresses one independent block into the raw stream format that a
 * filesystem's kernel decompressor expects (no framing of our own). They are synchronous so that
 * a worker thread can run one block at a time; `loadCodec` does the one-off asynchronous set-up
 * (WebAssembly instantiation, native module loading) and is called once per thread.
 */

export type CodecName = 'gzip' | 'zstd' | 'xz' | 'lz4';

/** What a thread needs to build the same codec: plain data, so it can be posted to a worker. */
export interface CodecSpec {
  readonly name: CodecName;
  /** The largest block that will be compressed; xz and zstd size their window from it. */
  readonly blockSize: number;
  /** Compression level where the codec has one; undefined = the codec's default. */
  readonly level?: number;
}

export interface Codec {
  readonly spec: CodecSpec;
  /** Library and settings, for the build summary, e.g. "pako 3.0.3, zlib level 6". */
  readonly description: string;
  /** The compressed form of `input`; it may be larger than the input (callers keep the smaller). */
  compress(input: Uint8Array): Uint8Array;
}

export async function loadCodec(spec: CodecSpec): Promise<Codec> {
  switch (spec.name) {
    case 'gzip':
      return (await import('./gzip.js')).gzipCodec(spec);
    case 'zstd':
      return (await import('./zstd.js')).zstdCodec(spec);
    case 'xz':
      return (await import('./xz.js')).xzCodec(spec);
    case 'lz4':
      return (await import('./lz4.js')).lz4Codec(spec);
  }
}
