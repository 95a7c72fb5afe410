/** Temporary projects (avocado.yaml + volume) and running the built CLI as a real process. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url));
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `avocado ARGS` in `cwd` with a clean environment (no CI-specific or AVOCADO_* variables leak in). */
export function avocado(args: string[], opts: { cwd: string; env?: Record<string, string | undefined>; timeoutMs?: number }): CliResult {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('AVOCADO_') && k !== 'SOURCE_DATE_EPOCH') env[k] = v;
  for (const [k, v] of Object.entries(opts.env ?? {})) if (v === undefined) delete env[k];
  else env[k] = v;
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: opts.cwd, env, encoding: 'utf8', timeout: opts.timeoutMs ?? 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export class TestProject {
  readonly dir: string;

  constructor(yaml: string, prefix = 'avocado-test-') {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    this.writeConfig(yaml);
  }

  writeConfig(yaml: string, name = 'avocado.yaml'): void {
    writeFileSync(join(this.dir, name), yaml);
  }

  get volume(): string {
    return join(this.dir, '_avocado');
  }

  sysroot(target: string, ext: string): string {
    return join(this.volume, target, 'extensions', ext);
  }

  /** Creates an (empty) sysroot directory and returns it. */
  makeSysroot(target: string, ext: string): string {
    const dir = this.sysroot(target, ext);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  image(target: string, ext: string, version: string): string {
    return join(this.volume, target, 'output', 'extensions', `${ext}-${version}.raw`);
  }

  run(args: string[], env?: Record<string, string | undefined>): CliResult {
    return avocado(args, { cwd: this.dir, env });
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
