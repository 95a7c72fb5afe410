/**
 * What to undo if the build fails or is interrupted: temporary files, and synchronous actions
 * such as removing a container. Both run on process exit, so even an abrupt exit (second Ctrl-C,
 * uncaught error) leaves no half-written image and no stray container behind.
 */
import { rmSync } from 'node:fs';

const paths = new Set<string>();
const actions = new Set<() => void>();

export function registerTemp(path: string): void {
  paths.add(path);
}

export function unregisterTemp(path: string): void {
  paths.delete(path);
}

/**
 * Runs `action` at exit unless the returned function is called first. Actions run last
 * registered first, so that what was set up on top of something is undone before it.
 */
export function onExitSync(action: () => void): () => void {
  actions.add(action);
  return () => actions.delete(action);
}

export function removeTempsSync(): void {
  for (const a of [...actions].reverse()) {
    try {
      a();
    } catch {
      // best effort at exit
    }
  }
  actions.clear();
  for (const p of paths) {
    try {
      rmSync(p, { force: true, recursive: true });
    } catch {
      // best effort: nothing more to do at exit
    }
  }
  paths.clear();
}

process.on('exit', removeTempsSync);
