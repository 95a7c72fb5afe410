/**
 * What the image benchmarks share: corpora from ../shared/corpus/make-sysroot.sh (or
 * $AVOCADO_MAKE_SYSROOT), each build run as a separate process timed from outside with its peak
 * RSS from /usr/bin/time, medians, and the machine line that heads a results table.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, cpus, release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
const MAKE_SYSROOT = process.env.AVOCADO_MAKE_SYSROOT ?? join(REPO, '../shared/corpus/make-sysroot.sh');

export interface Run {
  wall: number;
  rssKiB: number;
  size: number;
}

/**
 * Runs a command under /usr/bin/time, returns wall seconds, peak RSS and the image size. The
 * image is removed first (a build must write it) unless the command only reads it.
 */
export function timed(cmd: string, args: string[], image: string, opts: { readsImage?: boolean } = {}): Run {
  if (!opts.readsImage) rmSync(image, { force: true });
  const start = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', cmd, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const wall = (performance.now() - start) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  const rssKiB = Number(r.stderr.trim().split('\n').pop());
  return { wall, rssKiB, size: statSync(image).size };
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
export const mb = (n: number) => (n / 1e6).toFixed(1);

/** The corpus directory under `work`, made on first use. */
export function corpus(work: string, name: string): string {
  const src = join(work, name);
  if (!existsSync(src)) execFileSync('bash', [MAKE_SYSROOT, src, name], { stdio: 'inherit' });
  return src;
}

/** "# CPU × n, Linux x, Node y, <tools>, <runs> runs each, alternating" (without `runs`: one run each). */
export function machineLine(tools: string, runs?: number, alternating = true): string {
  const how = runs === undefined ? 'one run each' : `${runs} runs each${alternating ? ', alternating' : ''}`;
  return `# ${cpus()[0]?.model ?? 'cpu'} × ${availableParallelism()}, Linux ${release()}, Node ${process.version}, ${tools}, ${how}`;
}
