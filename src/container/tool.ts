/**
 * The container tool: docker or podman. `ContainerRunner` is what the SDK session needs of it,
 * wherever it runs; `ContainerTool` is the one of this machine, as AVOCADO_CONTAINER_TOOL says,
 * else the first one installed whose engine answers (a docker client without a daemon is
 * skipped). The remote one is in ./remote.ts.
 */
import { spawnSync } from 'node:child_process';
import { arch } from 'node:os';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildError } from '../util/errors.js';
import { run, which, type RunResult } from '../util/process.js';

export type ContainerToolName = 'docker' | 'podman';

export interface ContainerRunOptions {
  readonly signal?: AbortSignal;
  readonly onLine?: (line: string) => void;
  readonly timeoutMs?: number;
}

/** docker or podman, on this machine or on a remote host. */
export interface ContainerRunner {
  readonly name: ContainerToolName;
  /** Where the containers run, for messages: `this machine` or `root@build-host`. */
  readonly where: string;
  run(args: readonly string[], opts?: ContainerRunOptions): Promise<RunResult>;
  /** Runs `args` synchronously within a bound, ignoring the outcome (for clean-up at exit). */
  runSync(args: readonly string[]): void;
  /** The machine's architecture, as OCI names it (amd64, arm64, …). */
  machineArch(): Promise<string>;
  /** Whether QEMU user emulation for `handler` (qemu-aarch64, …) is registered there, and where that was read. */
  emulation(handler: string): Promise<{ readonly enabled: boolean; readonly dir: string }>;
}

/** How long a clean-up command at exit may take. */
export const EXIT_CLEANUP_TIMEOUT_MS = 15_000;

/** Node's and uname's architecture names → OCI's. */
export function ociArch(name: string): string {
  switch (name) {
    case 'x64':
    case 'x86_64':
      return 'amd64';
    case 'aarch64':
      return 'arm64';
    case 'armv7l':
    case 'armv6l':
      return 'arm';
    default:
      return name;
  }
}

/** The first line of a binfmt_misc handler file says `enabled` or `disabled`. */
export function handlerEnabled(text: string): boolean {
  return text.split('\n')[0]?.trim() === 'enabled';
}

/** The image's architecture (amd64, arm64, …) where `runner` runs, or undefined when it is not present there. */
export async function imageArch(runner: Pick<ContainerRunner, 'run'>, image: string): Promise<string | undefined> {
  const r = await runner.run(['image', 'inspect', '--format', '{{.Architecture}}', image], { timeoutMs: 60_000 });
  return r.code === 0 ? r.stdout.trim().split('\n')[0] : undefined;
}

export class ContainerTool implements ContainerRunner {
  readonly where = 'this machine';

  private constructor(
    readonly name: ContainerToolName,
    readonly path: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  static async find(env: NodeJS.ProcessEnv, preferred?: string): Promise<ContainerTool> {
    const wanted = env.AVOCADO_CONTAINER_TOOL || preferred;
    if (wanted) {
      if (wanted !== 'docker' && wanted !== 'podman')
        throw new BuildError(`unknown container tool '${wanted}' (from ${env.AVOCADO_CONTAINER_TOOL ? 'AVOCADO_CONTAINER_TOOL' : '.avocado-state'})`, 'use docker or podman');
      const path = which(wanted, env);
      if (!path) throw new BuildError(`${wanted} is not installed (AVOCADO_CONTAINER_TOOL=${wanted})`, installHint(wanted));
      return new ContainerTool(wanted, path, env);
    }
    const tried: string[] = [];
    for (const name of ['docker', 'podman'] as const) {
      const path = which(name, env);
      if (!path) continue;
      const tool = new ContainerTool(name, path, env);
      const r = await tool.run(['version'], { timeoutMs: 30_000 });
      if (r.code === 0) return tool;
      tried.push(`${name} (${r.tail.at(-1) ?? `exit ${r.code}`})`);
    }
    throw new BuildError(
      tried.length ? `no working container tool: ${tried.join('; ')}` : 'neither docker nor podman is installed (the container engine runs the SDK image with one of them)',
      tried.length ? 'start the docker daemon, or set AVOCADO_CONTAINER_TOOL=podman' : installHint('podman'),
    );
  }

  run(args: readonly string[], opts: ContainerRunOptions = {}): Promise<RunResult> {
    return run(this.path, args, { env: this.env, ...opts });
  }

  runSync(args: readonly string[]): void {
    spawnSync(this.path, args, { env: this.env, stdio: 'ignore', timeout: EXIT_CLEANUP_TIMEOUT_MS });
  }

  async machineArch(): Promise<string> {
    return ociArch(arch());
  }

  async emulation(handler: string): Promise<{ enabled: boolean; dir: string }> {
    // AVOCADO_BINFMT_DIR exists for tests, which cannot unregister the host's real handlers.
    const dir = this.env.AVOCADO_BINFMT_DIR ?? '/proc/sys/fs/binfmt_misc';
    const text = await readFile(join(dir, handler), 'utf8').catch(() => '');
    return { enabled: handlerEnabled(text), dir };
  }

  /** A named volume's directory on this host, or undefined when there is no such volume. */
  async volumeMountpoint(name: string): Promise<string | undefined> {
    const r = await this.run(['volume', 'inspect', '--format', '{{.Mountpoint}}', name], { timeoutMs: 60_000 });
    return r.code === 0 ? r.stdout.trim() : undefined;
  }
}

function installHint(tool: string): string {
  return tool === 'docker' ? 'install Docker (https://docs.docker.com/engine/install/)' : 'install podman (Debian/Ubuntu: apt-get install podman)';
}
