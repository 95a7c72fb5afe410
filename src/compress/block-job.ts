/**
 * The block codec's job, as a pool runs it on a worker thread or, for a small image, on the main
 * thread: one block in, its compressed form out, or the block itself, flagged stored, when
 * compression did not make it smaller.
 */
import { loadCodec, type CodecSpec } from './codec.js';
import type { BlockJob } from './pool.js';

export async function createJob(spec: CodecSpec): Promise<BlockJob> {
  const codec = await loadCodec(spec);
  return (data) => {
    const out = codec.compress(data);
    return out.length < data.length ? { data: out, compressed: true } : { data, compressed: false };
  };
}
