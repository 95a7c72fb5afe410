/**
 * A compression worker: builds the codec once, then compresses one block per message and sends
 * the result back with its buffer transferred (no copy). A block that does not shrink comes back
 * as it was, flagged as stored uncompressed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadCodec, type CodecSpec } from './codec.js';
import { transferable, type BlockRequest, type BlockResult, type WorkerReady } from './pool.js';

const port = parentPort!;
try {
  const codec = await loadCodec((workerData as { spec: CodecSpec }).spec);
  port.on('message', (req: BlockRequest) => {
    let result: BlockResult;
    try {
      const out = codec.compress(req.data);
      if (out.length < req.data.length) result = { id: req.id, data: transferable(out), compressed: true };
      else result = { id: req.id, data: req.data, compressed: false };
    } catch (e) {
      port.postMessage({ id: req.id, error: (e as Error).message ?? String(e) } satisfies BlockResult);
      return;
    }
    port.postMessage(result, [result.data.buffer as ArrayBuffer]);
  });
  port.postMessage({ ready: true } satisfies WorkerReady);
} catch (e) {
  port.postMessage({ ready: false, error: (e as Error).message ?? String(e) } satisfies WorkerReady);
}

