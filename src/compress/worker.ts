/**
 * A compression worker: builds its job once (the module named in workerData: block-job.ts, or
 * EROFS's cluster job), then runs one request per message and sends the result back with its
 * buffer transferred (no copy).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { CodecSpec } from './codec.js';
import { transferable, type BlockJobModule, type BlockRequest, type BlockResult, type WorkerReady } from './pool.js';

const port = parentPort!;
try {
  const { spec, job: jobUrl } = workerData as { spec: CodecSpec; job: string };
  const job = await ((await import(jobUrl)) as BlockJobModule).createJob(spec);
  port.on('message', (req: BlockRequest) => {
    let result: BlockResult;
    try {
      const out = job(req.data);
      result = { id: req.id, data: out.data === req.data ? req.data : transferable(out.data), compressed: out.compressed };
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
