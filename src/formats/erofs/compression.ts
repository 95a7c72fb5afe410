/**
 * The compression settings of the EROFS values: algorithm, level, physical cluster size, and what
 * they mean for the superblock and for the kernels that can mount the image.
 *
 * Physical clusters of one 4 KiB block are what `mkfs.erofs -zlz4hc` makes by default and what
 * kernels since 5.4 read. Larger clusters (`erofs_cluster_size`) compress better, because each
 * holds more input and LZ4 or zstd see more context, but every read of a file has to fetch and
 * decompress a whole cluster: random reads get slower and use more memory. They need the
 * big-pcluster feature (Linux 5.13).
 */
import type { CodecSpec } from '../../compress/codec.js';
import { EROFS_CLUSTER_SIZE, erofsClusterSizeProblem } from '../filesystems.js';
import type { ClusterOptions, SecondPass } from './clusters.js';
import { Algorithm, BLOCK_SIZE, Incompat, type AlgorithmId } from './format.js';
import { encodeCompressionConfigs, algorithmBitmap, lz4Config, zstdConfig, type CompressionConfig } from './superblock.js';

export type ErofsCompressor = 'lz4hc' | 'zstd';

/** Most file data one cluster decodes to (also zstd's window: 1 MiB, the most EROFS allows). */
export const MAX_DECODED_EXTENT = 1 << 20;
/** mkfs.erofs's zstd default; higher levels shrink 4 KiB clusters a little (6: about 5 %) at several times the time. */
export const ZSTD_LEVEL = 3;
/**
 * LZ4 match candidates examined per search in the first pass (LZ4HC level 9 examines 256): on the
 * kernel corpus 64 is 13 % faster for 0.03 % more size, which the second pass more than wins back.
 */
export const LZ4_ATTEMPTS = 64;

/**
 * erofs-lz4's second pass, with 4 KiB clusters (worker.ts): where a piece's clusters leave a raw
 * remainder of at most 64 bytes, its last clusters (one per 16 bytes of remainder, plus one) are
 * packed again with the optimal parse at 256 candidates (Lz4OptimalEncoder: ≈0.3 % more
 * input per cluster, six times the time), and that is kept if it takes fewer blocks. Kernel
 * corpus: 0.11 % smaller (just below mkfs.erofs's size) for 2 % more time; more remainder costs
 * more than it saves (128 bytes: 0.03 % smaller again for 3 % more time). With 64 KiB clusters
 * it saved nothing, so larger clusters have no second pass.
 */
export const LZ4_SECOND_PASS: SecondPass = { maxRemainder: 64, gainPerCluster: 16 };

/** The second pass for LZ4 clusters of `clusterSize` bytes, if they get one. */
export function lz4SecondPass(clusterSize: number): SecondPass | undefined {
  return clusterSize === BLOCK_SIZE ? LZ4_SECOND_PASS : undefined;
}

export interface ErofsCompression {
  readonly compressor: ErofsCompressor;
  readonly algorithm: AlgorithmId;
  /** For the worker threads: name, cluster size (blockSize), level (LZ4: match attempts). */
  readonly codec: CodecSpec;
  readonly clusterSize: number;
  readonly bigPcluster: boolean;
  /** Superblock: incompatible features, the word at offset 84, the records after it. */
  readonly incompat: number;
  readonly algorithmsOrLz4Distance: number;
  readonly configs: Buffer;
  /** Oldest kernel that mounts the image. */
  readonly kernelMin: string;
}

export function erofsCompression(compressor: ErofsCompressor, clusterSize: number = EROFS_CLUSTER_SIZE.default): ErofsCompression {
  const problem = erofsClusterSizeProblem(clusterSize);
  if (problem) throw new Error(`EROFS cluster size ${problem}`);
  const bigPcluster = clusterSize > BLOCK_SIZE;
  const configs: CompressionConfig[] = [];
  if (compressor === 'zstd') configs.push(zstdConfig(Math.log2(MAX_DECODED_EXTENT)));
  else if (bigPcluster) configs.push(lz4Config(clusterSize / BLOCK_SIZE));
  return {
    compressor,
    algorithm: compressor === 'zstd' ? Algorithm.ZSTD : Algorithm.LZ4,
    codec: compressor === 'zstd' ? { name: 'zstd', blockSize: clusterSize, level: ZSTD_LEVEL } : { name: 'lz4', blockSize: clusterSize, level: LZ4_ATTEMPTS },
    clusterSize,
    bigPcluster,
    incompat: Incompat.ZERO_PADDING | (configs.length ? Incompat.COMPR_CFGS : 0),
    algorithmsOrLz4Distance: configs.length ? algorithmBitmap(configs) : 65535,
    configs: encodeCompressionConfigs(configs),
    kernelMin: compressor === 'zstd' ? '6.10' : bigPcluster ? EROFS_CLUSTER_SIZE.bigKernelMin : '5.4',
  };
}

export function clusterOptions(clusterSize: number): ClusterOptions {
  return { pclusterSize: clusterSize, maxExtent: MAX_DECODED_EXTENT };
}
