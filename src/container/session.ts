/**
 * One SDK container per build: started once (`run -d`), then each tool invocation is an `exec`
 * with argv passed through, and it is removed at the end (or at exit, whatever happens).
 * Commands run through a fixed script that sets the SDK environment the way the Avocado CLI's
 * entrypoint does; user values only ever arrive as arguments. The container runs wherever its
 * runner does: this machine, or a remote host (./remote.ts), with the same mounts and commands.
 */
import { randomBytes } from 'node:crypto';
import { relative, sep } from 'node:path';
import { onExitSync } from '../util/cleanup.js';
import { BuildError } from '../util/errors.js';
import type { RunOptions, RunResult } from '../util/process.js';
import type { ToolHost } from './tool-host.js';
import type { ContainerRunner } from './tool.js';

/** How long removing the container may take (a remote one over a slow link included). */
const STOP_TIMEOUT_MS = 60_000;

/** Where the volume and the project appear inside the SDK container. */
export const VOLUME_MOUNT = '/opt/_avocado';
export const PROJECT_MOUNT = '/opt/src';

/** Sets the SDK's environment (as the Avocado CLI's entrypoint), then runs "$@". Never changes. */
const EXEC_SCRIPT = [
  'AVOCADO_SDK_ARCH=$(uname -m)',
  'AVOCADO_SDK_PREFIX="$AVOCADO_PREFIX/sdk/$AVOCADO_SDK_ARCH"',
  'export AVOCADO_SDK_ARCH AVOCADO_SDK_PREFIX',
  'if [ -f "$AVOCADO_SDK_PREFIX/environment-setup" ]; then . "$AVOCADO_SDK_PREFIX/environment-setup"; fi',
  'unset SOURCE_DATE_EPOCH',
  'LC_ALL=C',
  'export LC_ALL',
  'exec "$@"',
].join('\n');

export interface SessionOptions {
  readonly tool: ContainerRunner;
  readonly image: string;
  readonly platform?: string;
  /** Directory or named volume (where the container runs) mounted at /opt/_avocado. */
  readonly volumeSource: string;
  /** The volume's directory on this host (where the pipeline reads and writes). */
  readonly volumeRoot: string;
  /** Directory or named volume (where the container runs) mounted read-only at /opt/src. */
  readonly projectSource: string;
  /** Both sources are named volumes that must never receive a copy of the image's files there. */
  readonly nocopy?: boolean;
  readonly env: Readonly<Record<string, string>>;
  /** `sdk.container_args` then `--container-arg`, already split. */
  readonly extraArgs: readonly string[];
  readonly signal: AbortSignal;
  readonly verbose: (line: string) => void;
}

export class SdkSession implements ToolHost {
  private removeAtExit?: () => void;

  private constructor(
    private readonly opts: SessionOptions,
    readonly name: string,
  ) {}

  static async start(opts: SessionOptions): Promise<SdkSession> {
    const name = `avocado-image-${randomBytes(4).toString('hex')}`;
    const session = new SdkSession(opts, name);
    const args = [
      'run', '-d', '--rm', '--name', name,
      ...(opts.platform ? ['--platform', opts.platform] : []),
      '--security-opt', 'label=disable',
      '-v', `${opts.volumeSource}:${VOLUME_MOUNT}${opts.nocopy ? ':nocopy' : ''}`,
      '-v', `${opts.projectSource}:${PROJECT_MOUNT}:ro${opts.nocopy ? ',nocopy' : ''}`,
      ...Object.entries(opts.env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
      ...opts.extraArgs,
      opts.image, 'sleep', 'infinity',
    ];
    opts.verbose(`starting the SDK container on ${opts.tool.where}: ${opts.tool.name} ${args.join(' ')}`);
    session.removeAtExit = onExitSync(() => {
      opts.tool.runSync(['kill', name]);
      opts.tool.runSync(['rm', '-f', name]);
    });
    let r: RunResult;
    try {
      r = await opts.tool.run(args, { signal: opts.signal });
    } catch (e) {
      await session.stop(); // interrupted: it may have started
      throw e;
    }
    if (r.code !== 0) {
      // `run -d` may have created it before failing (e.g. a mount error): never leave it behind.
      await session.stop();
      throw new BuildError(
        `the SDK container did not start${opts.tool.where === 'this machine' ? '' : ` on ${opts.tool.where}`} (${opts.tool.name} run exited with status ${r.code})`,
        permissionProblem(r.output) ? `check that ${opts.tool.name} may use ${opts.volumeRoot} (ownership, SELinux)` : 'its last output lines follow',
        r.tail.slice(-10).join('\n'),
      );
    }
    return session;
  }

  /** Kills the container (SIGKILL: `sleep` as PID 1 ignores SIGTERM, and there is nothing to save), then removes it. */
  async stop(): Promise<void> {
    await this.opts.tool.run(['kill', this.name], { timeoutMs: STOP_TIMEOUT_MS });
    await this.opts.tool.run(['rm', '-f', this.name], { timeoutMs: STOP_TIMEOUT_MS });
    this.removeAtExit?.();
  }

  /** Runs argv in the container with the SDK environment. */
  exec(argv: readonly string[], opts: Pick<RunOptions, 'signal' | 'onLine'> = {}): Promise<RunResult> {
    return this.opts.tool.run(['exec', this.name, 'sh', '-c', EXEC_SCRIPT, 'sh', ...argv], opts);
  }

  async which(name: string): Promise<string | undefined> {
    const r = await this.exec(['sh', '-c', 'command -v "$1"', 'sh', name]);
    const path = r.stdout.trim().split('\n').pop() ?? '';
    return r.code === 0 && path.startsWith('/') ? path : undefined;
  }

  async run(path: string, args: readonly string[], opts: Pick<RunOptions, 'signal' | 'onLine'> = {}): Promise<RunResult> {
    const r = await this.exec([path, ...args], opts);
    if (r.code !== 0 && permissionProblem(r.output))
      throw new BuildError(
        `${path} in the SDK container cannot access the volume (exit status ${r.code})`,
        `check the ownership of ${this.opts.volumeRoot} and the user the container runs as (--container-arg --user …)`,
        r.tail.slice(-10).join('\n'),
      );
    return r;
  }

  toolPath(hostPath: string): string {
    const rel = relative(this.opts.volumeRoot, hostPath);
    if (rel.startsWith('..') || rel.startsWith(sep)) throw new Error(`${hostPath} is outside the volume ${this.opts.volumeRoot}`);
    return rel ? `${VOLUME_MOUNT}/${rel.split(sep).join('/')}` : VOLUME_MOUNT;
  }

  installHint(pkg: string, requirement?: string): string {
    return `the SDK image ${this.opts.image} lacks it: add ${pkg}${requirement ? ` ${requirement}` : ''} to the image, or use --engine native`;
  }
}

function permissionProblem(output: string): boolean {
  return /permission denied|operation not permitted|read-only file system/i.test(output);
}
