#!/usr/bin/env node
/**
 * The `avocado` command. Asks Node (22.1 and later) to keep the compiled code of our modules and
 * dependencies between runs, before any of them is loaded: about a quarter of a small build's
 * time is compiling them again. Caching code cannot change what a build writes.
 *
 * It runs the bundle of the command (avocado.js, from scripts/bundle.ts: one file to load instead
 * of some 170), or main.js itself where only tsc has run.
 */
import module from 'node:module';
import { fileURLToPath } from 'node:url';
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
const bundle = new URL('./avocado.js', import.meta.url);
try {
  await import(bundle.href);
} catch (e) {
  if ((e as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND' || !(e as Error).message.includes(fileURLToPath(bundle))) throw e;
  await import('./main.js');
}
