/**
 * One SDK container per build: started once (`run -d`), then each tool invocation is an `exec`
 * with argv passed through, and it is removed at the end (or at exit, whatever happens).
 * Commands run through a fixed script that sets the SDK environment the way the Avocado CLI's
 * entrypoint does; user values only ever arrive as arguments.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { relative, sep } from 'node:path';
import { onExitSync } from '../util/cleanup.js';
import { BuildError } from '../util/errors.js';
import type { RunOptions, RunResult } from '../util/process.js';
import type { ToolHost } from '../engines/tools.js';
import type { ContainerTool } from './tool.js';

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
  readonly tool: ContainerTool;
  readonly image: string;
  readonly platform?: string;
  /** Host directory or named volume mounted at /opt/_avocado. */
  readonly volumeSource: string;
  /** Host directory of the volume (where the pipeline reads and writes). */
  readonly volumeRoot: string;
  readonly projectDir: string;
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
      '-v', `${opts.volumeSource}:${VOLUME_MOUNT}`,
      '-v', `${opts.projectDir}:${PROJECT_MOUNT}:ro`,
      ...Object.entries(opts.env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
      ...opts.extraArgs,
      opts.image, 'sleep', 'infinity',
    ];
    opts.verbose(`starting the SDK container: ${opts.tool.name} ${args.join(' ')}`);
    session.removeAtExit = onExitSync(() => {
      spawnSync(opts.tool.path, ['kill', name], { stdio: 'ignore' });
      spawnSync(opts.tool.path, ['rm', '-f', name], { stdio: 'ignore' });
    });
    const r = await opts.tool.run(args, { signal: opts.signal });
    if (r.code !== 0) {
      session.removeAtExit();
      throw new BuildError(
        `the SDK container did not start (${opts.tool.name} run exited with status ${r.code})`,
        permissionProblem(r.output) ? `check that ${opts.tool.name} may use ${opts.volumeRoot} (ownership, SELinux)` : 'its last output lines follow',
        r.tail.slice(-10).join('\n'),
      );
    }
    return session;
  }

  /** Kills the container (SIGKILL: `sleep` as PID 1 ignores SIGTERM, and there is nothing to save). */
  async stop(): Promise<void> {
    await this.opts.tool.run(['kill', this.name]);
    await this.opts.tool.run(['rm', '-f', this.name]);
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

  installHint(pkg: string): string {
    return `the SDK image ${this.opts.image} lacks it: add ${pkg} to the image, or use --engine native`;
  }
}

function permissionProblem(output: string): boolean {
  return /permission denied|operation not permitted|read-only file system/i.test(output);
}
