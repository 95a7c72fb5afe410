/**
 * A pool of worker threads, one per core by default, each compressing whole blocks with the same
 * job (block-job.ts: a block codec; or EROFS's cluster job). `compress` returns a promise per
 * block; callers that need the results in order feed the promises to an `OrderedQueue`. Which
 * thread compresses a block cannot change its bytes, so the output does not depend on thread
 * count or timing. With 0 threads the job runs on the main thread, one block per turn of the
 * event loop: for small images, where starting workers costs more than it saves.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { CodecSpec } from './codec.js';

export interface BlockRequest {
  readonly id: number;
  readonly data: Uint8Array;
}

export type BlockResult = { readonly id: number; readonly data: Uint8Array; readonly compressed: boolean } | { readonly id: number; readonly error: string };

export type WorkerReady = { readonly ready: true } | { readonly ready: false; readonly error: string };

/** One block's work: the same function on a worker and on the main thread. */
export type BlockJob = (data: Uint8Array) => { readonly data: Uint8Array; readonly compressed: boolean };

/** What a job module (block-job.ts, EROFS's cluster-job.ts) exports. */
export interface BlockJobModule {
  createJob(spec: CodecSpec): Promise<BlockJob>;
}

/**
 * A job module, named twice: by URL for the workers, and by a literal import for the main thread,
 * so that the bundled command (scripts/bundle.ts) runs its own copy rather than loading the
 * module's files a second time.
 */
export interface JobModuleRef {
  readonly url: URL;
  load(): Promise<BlockJobModule>;
}

/** The block codec's job. */
export const BLOCK_JOB: JobModuleRef = { url: new URL('./block-job.js', import.meta.url), load: () => import('./block-job.js') };

/** Below this many bytes of file data, writers compress on the main thread (0 workers). */
export const INLINE_BELOW_BYTES = 1 << 20;

export interface CompressedBlock {
  /** The compressed bytes, or the input itself when compression did not make it smaller. */
  readonly data: Buffer;
  readonly compressed: boolean;
}

interface Task {
  readonly id: number;
  readonly data: Uint8Array;
  resolve(block: CompressedBlock): void;
  reject(e: Error): void;
}

interface Slot {
  readonly worker: Worker;
  /** Tasks sent to this worker and not answered yet. */
  readonly busy: Map<number, Task>;
  /** Called when `busy` empties or the worker exits (set while closing). */
  idle?: () => void;
}

/** Tasks kept queued per worker, so that a worker never waits for the main thread between blocks. */
const PER_WORKER = 2;

export class CompressionPool {
  private readonly waiting: Task[] = [];
  private nextId = 0;
  private failure?: Error;

  private constructor(
    private readonly slots: Slot[],
    readonly threads: number,
    /** The job itself, when it runs on the main thread. */
    private readonly inline?: BlockJob,
  ) {}

  /**
   * Starts `threads` workers (0: none, the job runs here) and waits until each has its job
   * ready. `jobModule` names the job (default: the block codec).
   */
  static async start(spec: CodecSpec, threads = availableParallelism(), jobModule: JobModuleRef = BLOCK_JOB): Promise<CompressionPool> {
    if (threads === 0) {
      const job = await (await jobModule.load()).createJob(spec).catch((e: Error) => {
        throw new Error(`cannot start the ${spec.name} compressor: ${e.message}`, { cause: e });
      });
      return new CompressionPool([], 0, job);
    }
    const slots: Slot[] = [];
    const ready: Promise<void>[] = [];
    for (let i = 0; i < threads; i++) {
      const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: { spec, job: jobModule.url.href } });
      slots.push({ worker, busy: new Map() });
      ready.push(
        new Promise<void>((resolve, reject) => {
          worker.once('message', (m: WorkerReady) => (m.ready ? resolve() : reject(new Error(m.error))));
          worker.once('error', reject);
        }),
      );
    }
    const pool = new CompressionPool(slots, threads);
    try {
      await Promise.all(ready);
    } catch (e) {
      await pool.close();
      throw new Error(`cannot start the ${spec.name} compressor: ${(e as Error).message}`, { cause: e });
    }
    for (const slot of slots) pool.listen(slot);
    return pool;
  }

  /**
   * Compresses one block on some worker. The block's memory is handed over to that thread
   * (transferred), so the caller must not use `data` afterwards.
   */
  compress(data: Uint8Array): Promise<CompressedBlock> {
    if (this.failure) return Promise.reject(this.failure);
    const inline = this.inline;
    if (inline)
      // A turn of the event loop per block, so that signals and progress are seen between blocks.
      return new Promise<CompressedBlock>((resolve, reject) =>
        setImmediate(() => {
          if (this.failure) return reject(this.failure);
          try {
            const out = inline(data);
            resolve({ data: Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength), compressed: out.compressed });
          } catch (e) {
            reject(new Error(`compression failed: ${(e as Error).message}`));
          }
        }),
      );
    return new Promise<CompressedBlock>((resolve, reject) => {
      this.waiting.push({ id: this.nextId++, data: transferable(data), resolve, reject });
      this.dispatch();
    });
  }

  /**
   * Rejects every pending block with `reason` at once, then stops the workers as soon as each
   * has finished the block it is on (at most one block's time). Terminating a thread in the
   * middle of a native call (liblzma) would abort the whole process.
   */
  async close(reason: Error = new Error('the compression pool was closed')): Promise<void> {
    this.fail(reason);
    await Promise.all(
      this.slots.map(async (s) => {
        if (s.busy.size) await new Promise<void>((resolve) => (s.idle = resolve));
        await s.worker.terminate();
      }),
    );
  }

  private listen(slot: Slot): void {
    slot.worker.on('message', (m: BlockResult) => {
      const task = slot.busy.get(m.id);
      if (!task) return;
      slot.busy.delete(m.id);
      if (this.failure) {
        if (!slot.busy.size) slot.idle?.();
        return;
      }
      if ('error' in m) task.reject(new Error(`compression failed: ${m.error}`));
      else {
        const data = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
        task.resolve({ data, compressed: m.compressed });
      }
      this.dispatch();
    });
    slot.worker.on('error', (e) => this.fail(new Error(`a compression worker failed: ${e.message}`, { cause: e })));
    slot.worker.on('exit', (code) => {
      if (!this.failure) this.fail(new Error(`a compression worker exited (status ${code})`));
      slot.busy.clear();
      slot.idle?.();
    });
  }

  private dispatch(): void {
    while (this.waiting.length) {
      let best: Slot | undefined;
      for (const s of this.slots) if (s.busy.size < PER_WORKER && (!best || s.busy.size < best.busy.size)) best = s;
      if (!best) return;
      const task = this.waiting.shift()!;
      best.busy.set(task.id, task);
      best.worker.postMessage({ id: task.id, data: task.data } satisfies BlockRequest, [task.data.buffer as ArrayBuffer]);
    }
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const t of this.waiting.splice(0)) t.reject(e);
    // Tasks on a worker stay listed until it answers, so that `close` knows when it is idle.
    for (const s of this.slots) for (const t of s.busy.values()) t.reject(e);
  }
}

/** `data` itself when it owns its whole ArrayBuffer, else a copy that does (pooled Buffers share one). */
export function transferable(data: Uint8Array): Uint8Array {
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && !(data.buffer instanceof SharedArrayBuffer)) return data;
  const copy = new Uint8Array(data.byteLength);
  copy.set(data);
  return copy;
}
