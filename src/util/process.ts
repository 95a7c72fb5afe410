/**
 * Running external tools: argv passed directly (never a shell), output kept for error reports,
 * killed when the build is aborted.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly signal?: AbortSignal;
  /** Each output line as it arrives (for --verbose). */
  readonly onLine?: (line: string) => void;
  /** Lines of output kept for the result. */
  readonly keepLines?: number;
  /** Killed (SIGKILL) after this many milliseconds; the result then has signal SIGKILL and timedOut. */
  readonly timeoutMs?: number;
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The last lines of stdout and stderr, interleaved as they arrived. */
  readonly tail: string[];
  /** stdout and stderr as they arrived (the first MiB). */
  readonly output: string;
  /** stdout alone (the first MiB). */
  readonly stdout: string;
  /** Killed because `timeoutMs` passed. */
  readonly timedOut?: boolean;
}

export function run(command: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], signal: opts.signal, killSignal: 'SIGTERM' });
    let timedOut = false;
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, opts.timeoutMs);
    const keep = opts.keepLines ?? 40;
    const tail: string[] = [];
    let output = '';
    let stdout = '';
    let partial = '';
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      if (output.length < 1 << 20) output += text;
      const lines = (partial + text).split(/\r?\n|\r/);
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > keep) tail.shift();
        opts.onLine?.(line);
      }
    };
    child.stdout.on('data', (chunk: Buffer) => {
      if (stdout.length < 1 << 20) stdout += chunk.toString('utf8');
      onData(chunk);
    });
    child.stderr.on('data', onData);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (partial.trim()) {
        tail.push(partial);
        if (tail.length > keep) tail.shift();
        opts.onLine?.(partial);
      }
      resolve({ code, signal, tail, output, stdout, ...(timedOut ? { timedOut } : {}) });
    });
  });
}

/** Full path of an executable on PATH, or undefined. */
export function which(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
