/** Loaded with `node --import` to record the modules a process loads (module-trace-hooks.ts). */
import { register } from 'node:module';

register('./module-trace-hooks.js', import.meta.url);
