/**
 * An EROFS compression worker for the shared CompressionPool (same messages as
 * src/compress/worker.ts): each request is a piece of a file, each answer its clusters as
 * `ClusterPacker.pack` serializes them. LZ4 uses our HC fixed-output encoder, and the optimal
 * parse (at LZ4HC level 9's 256 candidates) for the second pass over the end of a piece (4 KiB
 * clusters); zstd the fixed-output search over zstd (native or WebAssembly).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { CodecSpec } from '../../compress/codec.js';
import { Lz4FixedOutputEncoder } from '../../compress/lz4/fixed-output.js';
import { Lz4OptimalEncoder } from '../../compress/lz4/optimal.js';
import { transferable, type BlockRequest, type BlockResult, type WorkerReady } from '../../compress/pool.js';
import { ZstdFixedOutput } from '../../compress/zstd-fixed-output.js';
import type { FixedOutputCompressor } from '../../compress/fixed-output.js';
import { ClusterPacker, packWithSecondPass } from './clusters.js';
import { clusterOptions, lz4SecondPass } from './compression.js';

const port = parentPort!;
try {
  const spec = (workerData as { spec: CodecSpec }).spec;
  const compressor: FixedOutputCompressor = spec.name === 'zstd' ? await ZstdFixedOutput.create(spec.level!) : new Lz4FixedOutputEncoder(spec.level);
  const packer = new ClusterPacker(compressor, clusterOptions(spec.blockSize));
  const secondPass = spec.name === 'lz4' ? lz4SecondPass(spec.blockSize) : undefined;
  const optimal = secondPass && new ClusterPacker(new Lz4OptimalEncoder(), clusterOptions(spec.blockSize));
  const pack = (input: Uint8Array) => (secondPass && optimal ? packWithSecondPass(packer, optimal, secondPass, input) : packer.pack(input));
  port.on('message', (req: BlockRequest) => {
    let data: Uint8Array;
    try {
      data = transferable(pack(req.data));
    } catch (e) {
      port.postMessage({ id: req.id, error: (e as Error).message ?? String(e) } satisfies BlockResult);
      return;
    }
    port.postMessage({ id: req.id, data, compressed: true } satisfies BlockResult, [data.buffer as ArrayBuffer]);
  });
  port.postMessage({ ready: true } satisfies WorkerReady);
} catch (e) {
  port.postMessage({ ready: false, error: (e as Error).message ?? String(e) } satisfies WorkerReady);
}
