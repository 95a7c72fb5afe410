/** Finding avocado.yaml (`-C`, else the current directory or the nearest parent holding one) and reading it safely. */
import { constants as C, existsSync, statSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, UsageError } from '../util/errors.js';
import { fileKindName } from '../util/fs-errors.js';

export const CONFIG_FILE_NAME = 'avocado.yaml';

const PASS_C = `pass -C <path/to/${CONFIG_FILE_NAME}>`;

export function findConfigFile(opts: { readonly configPath?: string; readonly cwd: string }): string {
  if (opts.configPath !== undefined) return checkConfigPath(resolve(opts.cwd, opts.configPath), opts.configPath);
  for (let dir = resolve(opts.cwd); ; dir = dirname(dir)) {
    const candidate = join(dir, CONFIG_FILE_NAME);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) break;
  }
  throw new ConfigError(`no ${CONFIG_FILE_NAME} in ${opts.cwd} or any directory above it`, undefined, `run avocado in the project directory or ${PASS_C}`);
}

/**
 * `-C` must name a regular file, or a directory holding avocado.yaml. Anything else is refused
 * before it is opened: reading a fifo would wait for a writer forever, a device could be anything.
 */
function checkConfigPath(path: string, given: string): string {
  let st: Stats;
  try {
    st = statSync(path);
  } catch {
    return path; // not there or unreadable: reading it says so
  }
  if (st.isDirectory()) {
    const inside = join(path, CONFIG_FILE_NAME);
    if (existsSync(inside)) return checkConfigPath(inside, join(given, CONFIG_FILE_NAME));
    throw new UsageError(`-C ${given}: is a directory without ${CONFIG_FILE_NAME} in it`, PASS_C);
  }
  if (!st.isFile()) throw new UsageError(`-C ${given}: is ${fileKindName(st)}, not a file`, PASS_C);
  return path;
}

/**
 * The text of a config file, opened so that it cannot block (a fifo put in its place after the
 * check above) and read only if it is a regular file.
 */
export async function readConfigText(file: string): Promise<string> {
  const fh = await open(file, C.O_RDONLY | C.O_NONBLOCK | C.O_NOCTTY);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new ConfigError(`config file ${file} is ${fileKindName(st)}, not a file`, undefined, PASS_C);
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

