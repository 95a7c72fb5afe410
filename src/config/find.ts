/** Finding avocado.yaml: `-C`, else the current directory or the nearest parent holding one. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from '../util/errors.js';

export const CONFIG_FILE_NAME = 'avocado.yaml';

export function findConfigFile(opts: { readonly configPath?: string; readonly cwd: string }): string {
  if (opts.configPath !== undefined) return resolve(opts.cwd, opts.configPath);
  for (let dir = resolve(opts.cwd); ; dir = dirname(dir)) {
    const candidate = join(dir, CONFIG_FILE_NAME);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) break;
  }
  throw new ConfigError(
    `no ${CONFIG_FILE_NAME} in ${opts.cwd} or any directory above it`,
    undefined,
    'run avocado in the project directory or pass -C <path/to/avocado.yaml>',
  );
}
