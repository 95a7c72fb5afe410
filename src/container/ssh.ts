/**
 * One multiplexed OpenSSH connection to a remote host: a ControlMaster on a private socket,
 * opened once, through which every remote command runs. Commands are argv lists; each argument
 * is quoted for the remote shell, so no value is ever interpreted there. The user's own ssh
 * configuration and keys apply; nothing ever prompts (BatchMode).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { onExitSync } from '../util/cleanup.js';
import { BuildError } from '../util/errors.js';
import { run, type RunResult } from '../util/process.js';
import { EXIT_CLEANUP_TIMEOUT_MS, type ContainerRunOptions } from './tool.js';

/** Seconds ssh may take to establish the TCP connection. */
const CONNECT_TIMEOUT_S = 10;

const COMMON_OPTIONS = [
  '-o', 'BatchMode=yes',
  '-o', `ConnectTimeout=${CONNECT_TIMEOUT_S}`,
  '-o', 'StrictHostKeyChecking=accept-new',
  // A remote that stops answering ends the connection within about a minute.
  '-o', 'ServerAliveInterval=15',
  '-o', 'ServerAliveCountMax=4',
];

/** `arg` as one word for a POSIX shell (and fish): plain when safe, else single-quoted. */
function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_\/.,:=@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The command line the remote shell receives for `argv`. */
function remoteCommand(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}

/** What `ssh -G` says it will connect to: the real host name and port after the user's configuration. */
export interface SshTarget {
  readonly destination: string;
  readonly hostname: string;
  readonly port: number;
}

export async function resolveSshTarget(destination: string, env: NodeJS.ProcessEnv): Promise<SshTarget> {
  const r = await run('ssh', ['-G', '--', destination], { env, timeoutMs: 10_000 }).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') throw new BuildError('ssh is not installed on this machine (--runs-on connects with OpenSSH)', 'install it (Debian/Ubuntu: apt-get install openssh-client)');
    throw e;
  });
  if (r.code !== 0) throw new BuildError(`ssh cannot read its configuration for ${destination}`, 'check ~/.ssh/config', r.tail.slice(-5).join('\n'));
  const value = (key: string) => new RegExp(`^${key} (.*)$`, 'm').exec(r.stdout)?.[1]?.trim();
  return { destination, hostname: value('hostname') ?? destination, port: Number(value('port') ?? 22) };
}

export class SshConnection {
  private readonly removeAtExit: () => void;
  private closed = false;

  private constructor(
    readonly destination: string,
    private readonly socket: string,
    private readonly master: ChildProcess,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.removeAtExit = onExitSync(() => {
      spawnSync('ssh', [...this.socketOptions(), '-O', 'exit', '--', destination], { env, stdio: 'ignore', timeout: EXIT_CLEANUP_TIMEOUT_MS });
      master.kill('SIGKILL');
    });
  }

  /**
   * Opens the master connection; its control socket goes into `dir`, a directory only we can
   * use. Fails with what to check when the host does not answer or refuses the login.
   */
  static async open(opts: { destination: string; dir: string; env: NodeJS.ProcessEnv; signal: AbortSignal }): Promise<SshConnection> {
    const socket = join(opts.dir, 'ssh-control');
    // Its own process group: a Ctrl-C on the terminal must not close it before the clean-up has used it.
    const master = spawn('ssh', ['-M', '-N', '-S', socket, '-o', 'ControlPersist=no', ...COMMON_OPTIONS, '--', opts.destination], {
      env: opts.env,
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    let stderr = '';
    master.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    let exited: number | null | undefined;
    master.on('exit', (code) => (exited = code));
    master.on('error', () => (exited = -1));
    const connection = new SshConnection(opts.destination, socket, master, opts.env);
    const deadline = Date.now() + (CONNECT_TIMEOUT_S + 20) * 1000;
    try {
      for (;;) {
        opts.signal.throwIfAborted();
        if (exited !== undefined) throw loginError(opts.destination, stderr);
        const check = await run('ssh', [...connection.socketOptions(), '-O', 'check', '--', opts.destination], { env: opts.env, timeoutMs: 5000 });
        if (check.code === 0) return connection;
        if (Date.now() > deadline)
          throw new BuildError(`cannot connect to ${opts.destination} over SSH: no answer within ${CONNECT_TIMEOUT_S + 20} s`, 'check that the host is up and reachable', stderr.trim() || undefined);
        await sleep(100);
      }
    } catch (e) {
      await connection.close();
      throw e;
    }
  }

  private socketOptions(): string[] {
    return ['-S', this.socket, '-o', 'ControlMaster=no'];
  }

  /** ssh's arguments for running `argv` on the remote host, each argument quoted, over the master connection. */
  private commandArgs(argv: readonly string[]): string[] {
    return [...this.socketOptions(), ...COMMON_OPTIONS, '-T', '--', this.destination, remoteCommand(argv)];
  }

  run(argv: readonly string[], opts: ContainerRunOptions = {}): Promise<RunResult> {
    return run('ssh', this.commandArgs(argv), { env: this.env, ...opts });
  }

  /** `run` for clean-up at exit: synchronous, bounded, outcome ignored. */
  runSync(argv: readonly string[]): void {
    spawnSync('ssh', this.commandArgs(argv), { env: this.env, stdio: 'ignore', timeout: EXIT_CLEANUP_TIMEOUT_MS });
  }

  /** Closes the master connection (and its socket). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.master.exitCode === null && this.master.signalCode === null) {
      await run('ssh', [...this.socketOptions(), '-O', 'exit', '--', this.destination], { env: this.env, timeoutMs: 10_000 }).catch(() => undefined);
      const gone = new Promise<void>((resolve) => {
        if (this.master.exitCode !== null || this.master.signalCode !== null) resolve();
        else this.master.once('exit', () => resolve());
      });
      const timer = setTimeout(() => this.master.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    }
    this.removeAtExit();
  }
}

/** The master's own words, turned into what to fix. */
function loginError(destination: string, stderr: string): BuildError {
  const text = stderr.trim();
  const details = text || undefined;
  if (/permission denied|no supported authentication|too many authentication failures/i.test(text))
    return new BuildError(`${destination} refused the SSH login`, `set up key-based login for it (ssh-copy-id ${destination}) or load the key into ssh-agent; avocado never asks for a password`, details);
  if (/host key verification failed|remote host identification has changed/i.test(text))
    return new BuildError(`the SSH host key of ${destination} does not match the one in known_hosts`, `if the host was reinstalled, remove the old key (ssh-keygen -R HOST) and connect once`, details);
  if (/could not resolve|name or service not known/i.test(text))
    return new BuildError(`cannot connect to ${destination} over SSH: its name does not resolve`, 'check the host name in --runs-on and ~/.ssh/config', details);
  return new BuildError(`cannot connect to ${destination} over SSH`, 'check that the host is up, reachable, and runs sshd (try: ssh ' + destination + ' true)', details);
}
