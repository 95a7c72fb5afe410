/**
 * The container tool: docker or podman, as AVOCADO_CONTAINER_TOOL says, else the first one
 * installed whose engine answers (a docker client without a daemon is skipped).
 */
import { BuildError } from '../util/errors.js';
import { run, which, type RunResult } from '../util/process.js';

export type ContainerToolName = 'docker' | 'podman';

export class ContainerTool {
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
      const r = await tool.run(['version']);
      if (r.code === 0) return tool;
      tried.push(`${name} (${r.tail.at(-1) ?? `exit ${r.code}`})`);
    }
    throw new BuildError(
      tried.length ? `no working container tool: ${tried.join('; ')}` : 'neither docker nor podman is installed (the container engine runs the SDK image with one of them)',
      tried.length ? 'start the docker daemon, or set AVOCADO_CONTAINER_TOOL=podman' : installHint('podman'),
    );
  }

  run(args: readonly string[], opts: { signal?: AbortSignal; onLine?: (line: string) => void } = {}): Promise<RunResult> {
    return run(this.path, args, { env: this.env, ...opts });
  }

  /** The image's architecture (amd64, arm64, …), or undefined when it is not present locally. */
  async imageArch(image: string): Promise<string | undefined> {
    const r = await this.run(['image', 'inspect', '--format', '{{.Architecture}}', image]);
    return r.code === 0 ? r.output.trim().split('\n')[0] : undefined;
  }

  /** A named volume's directory on this host, or undefined when there is no such volume. */
  async volumeMountpoint(name: string): Promise<string | undefined> {
    const r = await this.run(['volume', 'inspect', '--format', '{{.Mountpoint}}', name]);
    return r.code === 0 ? r.output.trim() : undefined;
  }
}

function installHint(tool: string): string {
  return tool === 'docker' ? 'install Docker (https://docs.docker.com/engine/install/)' : 'install podman (Debian/Ubuntu: apt-get install podman)';
}
