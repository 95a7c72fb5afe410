/**
 * EROFS's compression job for the shared CompressionPool (on a worker thread, or on the main
 * thread for a small image): each request is a piece of a file, each answer its clusters as
 * `ClusterPacker.pack` serializes them. LZ4 uses our HC fixed-output encoder (WebAssembly), and
 * its optimal parse (at LZ4HC level 9's 256 candidates) for the second pass over the end of a
 * piece (4 KiB clusters); zstd the fixed-output search over zstd (native or WebAssembly).
 */
import type { CodecSpec } from '../../compress/codec.js';
import type { FixedOutputCompressor } from '../../compress/fixed-output.js';
import { Lz4FixedOutputEncoder, Lz4OptimalEncoder } from '../../compress/lz4/fixed-output.js';
import type { BlockJob } from '../../compress/pool.js';
import { ZstdFixedOutput } from '../../compress/zstd-fixed-output.js';
import { ClusterPacker, packWithSecondPass } from './clusters.js';
import { clusterOptions, lz4SecondPass } from './compression.js';

export async function createJob(spec: CodecSpec): Promise<BlockJob> {
  const compressor: FixedOutputCompressor = spec.name === 'zstd' ? await ZstdFixedOutput.create(spec.level!) : new Lz4FixedOutputEncoder(spec.level);
  const packer = new ClusterPacker(compressor, clusterOptions(spec.blockSize));
  const secondPass = spec.name === 'lz4' ? lz4SecondPass(spec.blockSize) : undefined;
  const optimal = secondPass && new ClusterPacker(new Lz4OptimalEncoder(), clusterOptions(spec.blockSize));
  return (input) => ({ data: secondPass && optimal ? packWithSecondPass(packer, optimal, secondPass, input) : packer.pack(input), compressed: true });
}
