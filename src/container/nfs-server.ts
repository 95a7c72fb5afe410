/**
 * The NFS server that lends this machine's project and volume to a remote host: nfs-ganesha,
 * NFSv4 over TCP only, numeric owners both ways, root not squashed, the project exported
 * read-only as /src and the volume read-write as /state. It runs as this host's ganesha.nfsd
 * when installed (as root), otherwise inside the SDK image with this machine's docker/podman, as
 * the Avocado CLI runs it. It is a child we own: stopped at the end, killed at exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { onExitSync } from '../util/cleanup.js';
import { BuildError, UsageError } from '../util/errors.js';
import { which } from '../util/process.js';
import { imageArch, type ContainerTool } from './tool.js';

/** Where a port is picked when --nfs-port is not given (the Avocado CLI's range). */
export const NFS_PORT_RANGE = { first: 12050, last: 12099 } as const;

const GANESHA = 'ganesha.nfsd';
const INSTALL_HINT = 'install nfs-ganesha here (Debian/Ubuntu: apt-get install nfs-ganesha nfs-ganesha-vfs; Fedora: dnf install nfs-ganesha nfs-ganesha-vfs)';

export interface NfsExports {
  /** Exported read-only as /src. */
  readonly src: string;
  /** Exported read-write as /state. */
  readonly state: string;
}

/** How ganesha will run: this host's binary, or the SDK image's through this host's container tool. */
export type NfsProvider =
  | { readonly kind: 'host'; readonly path: string }
  | { readonly kind: 'container'; readonly tool: ContainerTool; readonly image: string };

export function describeProvider(p: NfsProvider): string {
  return p.kind === 'host' ? `${p.path}` : `${GANESHA} in ${p.image} (${p.tool.name} on this machine)`;
}

/**
 * Finds a way to run ganesha here, before anything touches the remote host. `sdkImage`'s copy
 * is used when this host has none (or we are not root, which a plain ganesha needs).
 */
export async function findNfsProvider(opts: {
  env: NodeJS.ProcessEnv;
  sdkImage: string;
  localTool: () => Promise<ContainerTool>;
  signal: AbortSignal;
}): Promise<NfsProvider> {
  const path = which(GANESHA, opts.env);
  const root = process.getuid?.() === 0;
  if (path && root) return { kind: 'host', path };
  let tool: ContainerTool | undefined;
  let why = '';
  try {
    tool = await opts.localTool();
    const r = await tool.run(['run', '--rm', '--entrypoint', 'sh', opts.sdkImage, '-c', `command -v ${GANESHA}`], { signal: opts.signal, timeoutMs: 120_000 });
    if (r.code === 0 && r.stdout.trim()) return { kind: 'container', tool, image: opts.sdkImage };
    why = (await imageArch(tool, opts.sdkImage)) ? `the SDK image ${opts.sdkImage} has no ${GANESHA}` : `the SDK image ${opts.sdkImage} is not present on this machine`;
  } catch (e) {
    opts.signal.throwIfAborted();
    why = (e as Error).message;
  }
  const here = path ? `${path} needs root and avocado runs as uid ${process.getuid?.()}` : `${GANESHA} is not installed here`;
  throw new BuildError(`--runs-on shares this machine's volume over NFS, and no NFS server can run: ${here}, and ${why}`, path ? 'run avocado as root' : INSTALL_HINT);
}

/** Whether a TCP port can be bound on `address` now. */
async function portFree(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: address, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** `--nfs-port` if free, else the first free port of the range. */
export async function choosePort(address: string, requested?: number): Promise<{ port: number; source: '--nfs-port' | 'auto' }> {
  if (requested !== undefined) {
    if (await portFree(address, requested)) return { port: requested, source: '--nfs-port' };
    throw new UsageError(
      `--nfs-port ${requested}: the port is in use on ${address}`,
      `choose another port, or leave --nfs-port out to take the first free one of ${NFS_PORT_RANGE.first}-${NFS_PORT_RANGE.last}`,
    );
  }
  for (let port = NFS_PORT_RANGE.first; port <= NFS_PORT_RANGE.last; port++) if (await portFree(address, port)) return { port, source: 'auto' };
  throw new BuildError(`no free port in ${NFS_PORT_RANGE.first}-${NFS_PORT_RANGE.last} on ${address} for the NFS server`, 'free one, or give another with --nfs-port');
}

/** ganesha's configuration: quoted strings cannot hold these characters. */
function configPath(path: string): string {
  if (/["\\\n\r]/.test(path)) throw new BuildError(`cannot export ${JSON.stringify(path)} over NFS: nfs-ganesha's configuration cannot hold its name`, 'rename the directory (no ", \\ or line breaks)');
  return `"${path}"`;
}

function ganeshaConfig(o: { address: string; port: number; exports: NfsExports; recovery: string }): string {
  return `# written by avocado for one remote build
LOG { Default_Log_Level = EVENT; }
NFS_CORE_PARAM {
  NFS_Port = ${o.port};
  Bind_addr = ${o.address};
  Protocols = 4;
  Enable_NLM = false;
  Enable_RQUOTA = false;
  Enable_UDP = false;
}
NFSV4 {
  Graceless = true;
  Lease_Lifetime = 30;
  Allow_Numeric_Owners = true;
  Only_Numeric_Owners = true;
  Delegations = false;
  RecoveryRoot = ${configPath(o.recovery)};
}
EXPORT_DEFAULTS {
  Squash = No_Root_Squash;
  Transports = TCP;
  Protocols = 4;
  SecType = sys;
  Manage_Gids = false;
}
${exportBlock(1, o.exports.src, '/src', 'RO')}${exportBlock(2, o.exports.state, '/state', 'RW')}`;
}

function exportBlock(id: number, path: string, pseudo: string, access: 'RO' | 'RW'): string {
  return `EXPORT {
  Export_Id = ${id};
  Path = ${configPath(path)};
  Pseudo = "${pseudo}";
  Access_Type = ${access};
  FSAL { Name = VFS; }
}
`;
}

export class NfsServer {
  private stopped = false;

  private constructor(
    readonly provider: NfsProvider,
    readonly address: string,
    readonly port: number,
    private readonly child: ChildProcess,
    private readonly containerName: string | undefined,
    private readonly removeAtExit: () => void,
  ) {}

  /** Starts ganesha with its files in `dir` and waits until it accepts connections. */
  static async start(o: {
    provider: NfsProvider;
    address: string;
    port: number;
    exports: NfsExports;
    dir: string;
    signal: AbortSignal;
    verbose: (line: string) => void;
  }): Promise<NfsServer> {
    const conf = join(o.dir, 'ganesha.conf');
    const log = join(o.dir, 'ganesha.log');
    const pidFile = join(o.dir, 'ganesha.pid');
    await writeFile(conf, ganeshaConfig({ address: o.address, port: o.port, exports: o.exports, recovery: join(o.dir, 'recovery') }));
    const ganeshaArgs = ['-F', '-f', conf, '-L', log, '-p', pidFile];
    let child: ChildProcess;
    let containerName: string | undefined;
    let removeAtExit: () => void;
    if (o.provider.kind === 'host') {
      o.verbose(`starting ${o.provider.path} ${ganeshaArgs.join(' ')}`);
      // Its own process group: a Ctrl-C on the terminal must not stop it while the remote still uses it.
      child = spawn(o.provider.path, ganeshaArgs, { stdio: 'ignore', detached: true });
      removeAtExit = onExitSync(() => child.kill('SIGKILL'));
    } else {
      const { tool, image } = o.provider;
      containerName = `avocado-nfs-${o.port}-${process.pid}`;
      const mounts = [...new Set([o.dir, o.exports.src, o.exports.state])].flatMap((p) => ['-v', `${p}:${p}`]);
      const args = ['run', '--rm', '--name', containerName, '--privileged', '--network', 'host', '--security-opt', 'label=disable', ...mounts, '--entrypoint', GANESHA, image, ...ganeshaArgs];
      o.verbose(`starting the NFS server: ${tool.name} ${args.join(' ')}`);
      child = spawn(tool.path, args, { stdio: 'ignore', detached: true });
      const name = containerName;
      removeAtExit = onExitSync(() => tool.runSync(['rm', '-f', name]));
    }
    let exited = false;
    child.on('exit', () => (exited = true));
    child.on('error', () => (exited = true));
    const server = new NfsServer(o.provider, o.address, o.port, child, containerName, removeAtExit);
    try {
      const limitS = o.provider.kind === 'host' ? 15 : 60;
      const deadline = Date.now() + limitS * 1000;
      for (;;) {
        o.signal.throwIfAborted();
        if (exited)
          throw new BuildError(`the NFS server (${describeProvider(o.provider)}) exited at start-up`, 'its last log lines follow', await logTail(log));
        if (await accepts(o.address, o.port)) return server;
        if (Date.now() > deadline)
          throw new BuildError(`the NFS server (${describeProvider(o.provider)}) did not listen on ${o.address}:${o.port} within ${limitS} s`, 'its last log lines follow', await logTail(log));
        await sleep(50);
      }
    } catch (e) {
      await server.stop();
      throw e;
    }
  }

  /** Stops ganesha (SIGTERM, then SIGKILL after 10 s) and waits until it is gone. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const gone = new Promise<void>((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) resolve();
      else this.child.once('exit', () => resolve());
    });
    if (this.provider.kind === 'container') {
      await this.provider.tool.run(['stop', '-t', '5', this.containerName!], { timeoutMs: 30_000 });
      await this.provider.tool.run(['rm', '-f', this.containerName!], { timeoutMs: 30_000 });
    } else this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
    this.removeAtExit();
  }
}

function accepts(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port, timeout: 1000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

async function logTail(log: string): Promise<string | undefined> {
  const text = await readFile(log, 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-10).join('\n') || undefined;
}
