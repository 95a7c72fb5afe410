/** How the native writers will use threads for a build, for the line the build prints. */
import { availableParallelism } from 'node:os';
import { INLINE_BELOW_BYTES } from '../compress/pool.js';
import type { BuildRequest } from './engine.js';

/** How the writers will compress this tree: on the main thread when it is small (pool.ts). */
export function threadsText(req: BuildRequest): string {
  return req.tree.stats.fileBytes < INLINE_BELOW_BYTES ? 'on the main thread (a small tree)' : `${availableParallelism()} threads`;
}
