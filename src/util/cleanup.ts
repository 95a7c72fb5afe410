/**
 * Temporary files and child processes to get rid of if the build fails or is interrupted.
 * Registered paths are removed synchronously on process exit, so even an abrupt exit (second
 * Ctrl-C, uncaught error) never leaves a half-written image behind.
 */
import { rmSync } from 'node:fs';

const paths = new Set<string>();

export function registerTemp(path: string): void {
  paths.add(path);
}

export function unregisterTemp(path: string): void {
  paths.delete(path);
}

export function removeTempsSync(): void {
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
