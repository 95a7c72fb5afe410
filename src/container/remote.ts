/**
 * `--runs-on USER@HOST`: the SDK session runs on a remote host, with this machine's project and
 * volume lent to it over NFS and mounted in its SDK container exactly where the local container
 * engine mounts them. A `RemoteSite` is everything that takes: the SSH connection, the checks of
 * the remote, the NFS server here, the NFS volumes there; its `runner` is the remote docker or
 * podman. `close()` undoes it all, in reverse, also after a failure or an interrupt.
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import semver from 'semver';
import { onExitSync } from '../util/cleanup.js';
import { BuildError } from '../util/errors.js';
import type { RunResult } from '../util/process.js';
import { packageVersion } from '../util/version.js';
import { destinationOf, type RemoteHost } from './remote-host.js';
import { choosePort, describeProvider, findNfsProvider, NfsServer, type NfsExports } from './nfs-server.js';
import type { SdkSession } from './session.js';
import { SshConnection, resolveSshTarget } from './ssh.js';
import { handlerEnabled, ociArch, type ContainerRunner, type ContainerRunOptions, type ContainerTool, type ContainerToolName } from './tool.js';

/** What `--json` and the summary report about a remote build. */
export interface RemoteInfo {
  readonly host: string;
  /** This machine's address as the remote reaches it (the NFS server's). */
  readonly address: string;
  readonly nfsPort: number;
  readonly nfsPortSource: '--nfs-port' | 'auto';
  readonly nfsServer: string;
  readonly containerTool: ContainerToolName;
  readonly arch: string;
  readonly avocado: string;
}

export interface RemoteOptions {
  readonly remote: RemoteHost;
  readonly nfsPort?: number;
  readonly exports: NfsExports;
  /** Also where ganesha comes from when this host has none. */
  readonly sdkImage: string;
  /** This machine's container tool, found only if needed. */
  readonly localTool: () => Promise<ContainerTool>;
  readonly env: NodeJS.ProcessEnv;
  readonly signal: AbortSignal;
  readonly step: (line: string) => void;
  readonly warn: (line: string) => void;
  readonly verbose: (line: string) => void;
}

/** docker or podman on the remote host, driven over the SSH connection. */
class RemoteContainerTool implements ContainerRunner {
  constructor(
    readonly name: ContainerToolName,
    readonly where: string,
    private readonly ssh: SshConnection,
    private readonly arch: string,
  ) {}

  run(args: readonly string[], opts?: ContainerRunOptions): Promise<RunResult> {
    return this.ssh.run([this.name, ...args], opts);
  }

  runSync(args: readonly string[]): void {
    this.ssh.runSync([this.name, ...args]);
  }

  async machineArch(): Promise<string> {
    return this.arch;
  }

  async emulation(handler: string): Promise<{ enabled: boolean; dir: string }> {
    const dir = '/proc/sys/fs/binfmt_misc';
    const r = await this.ssh.run(['cat', `${dir}/${handler}`], { timeoutMs: 30_000 });
    return { enabled: r.code === 0 && handlerEnabled(r.stdout), dir: `${dir} on ${this.where}` };
  }
}

/**
 * Asks the remote in one round trip for its architecture, its container tools (and whether they
 * answer) and its avocado. A fixed script: nothing of the user's reaches it. `~/.profile` is read
 * first, as a login shell would, so that tools installed under the user's home are found.
 */
const PROBE_SCRIPT = [
  'if [ -r "$HOME/.profile" ]; then . "$HOME/.profile" >/dev/null 2>&1 </dev/null; fi',
  'echo "arch $(uname -m)"',
  'for t in docker podman; do',
  '  if command -v "$t" >/dev/null 2>&1; then',
  '    if out=$("$t" version 2>&1 </dev/null); then echo "tool $t ok"; break; fi',
  '    echo "tool $t $(printf %s "$out" | tail -n 1)"',
  '  fi',
  'done',
  'if command -v avocado >/dev/null 2>&1; then echo "avocado $(avocado --version 2>&1 </dev/null | head -n 1)"; else echo "avocado-missing"; fi',
].join('\n');

interface Probe {
  readonly arch: string;
  readonly tool: ContainerToolName;
  readonly avocado: string;
}

async function probeRemote(ssh: SshConnection, signal: AbortSignal): Promise<Probe> {
  const dest = ssh.destination;
  const r = await ssh.run(['sh', '-c', PROBE_SCRIPT], { signal, timeoutMs: 120_000 });
  if (r.code !== 0) throw new BuildError(`the checks on ${dest} failed (${r.timedOut ? 'no answer within 120 s' : `exit status ${r.code}`})`, 'its last output lines follow', r.tail.slice(-10).join('\n'));
  const lines = r.stdout.split('\n');
  const arch = lines.find((l) => l.startsWith('arch '))?.slice(5).trim() ?? '';
  const tools = lines.filter((l) => l.startsWith('tool ')).map((l) => l.slice(5));
  const working = tools.find((t) => t.endsWith(' ok'))?.split(' ')[0] as ContainerToolName | undefined;
  if (!working)
    throw new BuildError(
      tools.length ? `no container tool answers on ${dest}: ${tools.join('; ')}` : `neither docker nor podman is installed on ${dest}`,
      tools.length ? `start the docker daemon there and let this user use it (the docker group), or install podman there` : 'install one there (Debian/Ubuntu: apt-get install podman); the build runs in the SDK container on that host',
    );
  const ours = packageVersion();
  const install = `install it there: npm install -g avocado-ext@${ours}`;
  const avocadoLine = lines.find((l) => l === 'avocado-missing' || l.startsWith('avocado '));
  if (!avocadoLine || avocadoLine === 'avocado-missing')
    throw new BuildError(`avocado is not installed on ${dest} (remote builds need avocado-ext ${ours} or newer there)`, install);
  const reported = avocadoLine.slice('avocado '.length).trim();
  // Ours prints `avocado-ext X` (0.1.0 printed just `X`); the Rust Avocado CLI prints `avocado X`.
  const ourFormat = /^(?:avocado-ext\s+)?v?(\d+\.\d+\.\d+\S*)$/.exec(reported);
  if (!ourFormat) {
    if (/^avocado(?:-cli)?\s+\d/.test(reported))
      throw new BuildError(`the avocado on ${dest} is the Rust Avocado CLI (${reported}), not avocado-ext`, `${install} (both install a command named avocado)`);
    throw new BuildError(`cannot tell the version of avocado on ${dest}: 'avocado --version' printed ${JSON.stringify(reported.slice(0, 120))}`, install);
  }
  const theirs = ourFormat[1]!;
  if (semver.valid(theirs) && semver.lt(theirs, ours))
    throw new BuildError(`avocado-ext ${theirs} on ${dest} is older than this one (${ours})`, `upgrade it there: npm install -g avocado-ext@${ours}`);
  return { arch: ociArch(arch), tool: working, avocado: `avocado-ext ${theirs}` };
}

/** This machine's address towards `host`: the source address of a (UDP, so packet-less) connection to it. */
async function localAddressTowards(host: string, port: number): Promise<string> {
  const attempt = (type: 'udp4' | 'udp6') =>
    new Promise<string>((resolve, reject) => {
      const socket = createSocket(type);
      socket.once('error', (e) => {
        socket.close();
        reject(e);
      });
      socket.connect(port, host, () => {
        const address = socket.address().address;
        socket.close();
        resolve(address);
      });
    });
  try {
    return await attempt('udp4');
  } catch {
    try {
      return await attempt('udp6');
    } catch (e) {
      throw new BuildError(`cannot find this machine's address towards ${host} (${(e as Error).message})`, 'check the host name, and that this machine has a route to it');
    }
  }
}

export class RemoteSite {
  /** Undo actions, run in reverse by close(). */
  private readonly undo: { what: string; run: () => Promise<void> }[] = [];
  private closed = false;

  private constructor(
    private readonly opts: RemoteOptions,
    readonly runner: ContainerRunner,
    readonly volumeSource: string,
    readonly projectSource: string,
    readonly info: RemoteInfo,
  ) {}

  static async open(opts: RemoteOptions): Promise<RemoteSite> {
    const dest = destinationOf(opts.remote);
    const undo: RemoteSite['undo'] = [];
    const unwind = async () => {
      for (const u of undo.reverse()) await u.run().catch((e: Error) => opts.verbose(`clean-up of ${u.what} failed: ${e.message}`));
    };
    try {
      // Here first: nothing touches the remote until this machine can serve it.
      const target = await resolveSshTarget(dest, opts.env);
      const address = await localAddressTowards(target.hostname, target.port);
      const provider = await findNfsProvider({ env: opts.env, sdkImage: opts.sdkImage, localTool: opts.localTool, signal: opts.signal });
      const { port, source } = await choosePort(address, opts.nfsPort);

      const dir = await mkdtemp(join(tmpdir(), 'avocado-remote-'));
      const removeDirAtExit = onExitSync(() => rmSync(dir, { recursive: true, force: true }));
      undo.push({
        what: 'the temporary directory',
        run: async () => {
          await rm(dir, { recursive: true, force: true });
          removeDirAtExit();
        },
      });

      opts.step(`connecting to ${dest} (ssh)`);
      const ssh = await SshConnection.open({ destination: dest, dir, env: opts.env, signal: opts.signal });
      undo.push({ what: 'the SSH connection', run: () => ssh.close() });
      const probe = await probeRemote(ssh, opts.signal);
      opts.verbose(`${dest}: ${probe.arch}, ${probe.tool}, ${probe.avocado}`);

      const nfs = await NfsServer.start({ provider, address, port, exports: opts.exports, dir, signal: opts.signal, verbose: opts.verbose });
      undo.push({ what: 'the NFS server', run: () => nfs.stop() });
      opts.step(`NFS server on ${address}:${port}${source === 'auto' ? '' : ' (--nfs-port)'}: ${opts.exports.src} as /src (read-only), ${opts.exports.state} as /state`);

      const runner = new RemoteContainerTool(probe.tool, dest, ssh, probe.arch);
      const id = randomBytes(4).toString('hex');
      const volumes = { src: `avocado-src-${id}`, state: `avocado-state-${id}` };
      const common = `addr=${address},port=${port},nfsvers=4,proto=tcp,soft,timeo=150,retrans=3,lookupcache=positive,noatime`;
      for (const [exp, name] of [['src', volumes.src], ['state', volumes.state]] as const) {
        const options = `${common},${exp === 'src' ? 'ro' : 'rw'}`;
        const r = await runner.run(['volume', 'create', '--driver', 'local', '--opt', 'type=nfs', '--opt', `o=${options}`, '--opt', `device=:/${exp}`, name], {
          signal: opts.signal,
          timeoutMs: 60_000,
        });
        if (r.code !== 0) throw new BuildError(`cannot create the NFS volume ${name} on ${dest} (${probe.tool} volume create exited with status ${r.code})`, 'its last output lines follow', r.tail.slice(-10).join('\n'));
        const removeAtExit = onExitSync(() => runner.runSync(['volume', 'rm', '-f', name]));
        undo.push({
          what: `the volume ${name}`,
          run: async () => {
            await runner.run(['volume', 'rm', '-f', name], { timeoutMs: 60_000 });
            removeAtExit();
          },
        });
      }
      opts.step(`remote volumes ${volumes.src} and ${volumes.state} on ${dest}`);
      const info: RemoteInfo = {
        host: dest,
        address,
        nfsPort: port,
        nfsPortSource: source,
        nfsServer: describeProvider(provider),
        containerTool: probe.tool,
        arch: probe.arch,
        avocado: probe.avocado,
      };
      const site = new RemoteSite(opts, runner, volumes.state, volumes.src, info);
      site.undo.push(...undo);
      return site;
    } catch (e) {
      await unwind();
      throw e;
    }
  }

  /**
   * Mounts the NFS volumes once in a throwaway container, before the SDK session uses them.
   * podman (4.3 at least) chowns a new volume's root to the container's user on its first
   * mount, which on NFS would change the owner of this machine's directory, or fail on the
   * read-only export: so the first mount runs as the directory's own owner, at a path the image
   * does not have (no mode is copied), and a read-only export's refused chown is retried once
   * (podman does not chown a second time). A mount that fails here is the NFS link failing.
   */
  async firstUse(image: string, platform: string | undefined): Promise<void> {
    const groups = new Map<string, { volume: string; hostDir: string }[]>();
    for (const [volume, hostDir] of [[this.projectSource, this.opts.exports.src], [this.volumeSource, this.opts.exports.state]] as const) {
      const st = await stat(hostDir);
      const owner = `${st.uid}:${st.gid}`;
      groups.set(owner, [...(groups.get(owner) ?? []), { volume, hostDir }]);
    }
    for (const [owner, mounts] of groups) {
      const args = [
        'run', '--rm', '--user', owner, ...(platform ? ['--platform', platform] : []),
        ...mounts.flatMap((m, i) => ['-v', `${m.volume}:/avocado-nfs-first-use-${i}`]),
        '--entrypoint', 'sh', image, '-c', 'for d in /avocado-nfs-first-use-*; do ls "$d" >/dev/null || exit 1; done',
      ];
      this.opts.verbose(`first mount of ${mounts.map((m) => m.volume).join(', ')}: ${this.runner.name} ${args.join(' ')}`);
      let r = await this.runner.run(args, { signal: this.opts.signal, timeoutMs: 300_000 });
      if (r.code !== 0 && /lchown .*read-only file system/i.test(r.output)) r = await this.runner.run(args, { signal: this.opts.signal, timeoutMs: 300_000 });
      if (r.code !== 0)
        throw new BuildError(
          `${this.info.host} cannot mount ${mounts.map((m) => m.hostDir).join(' and ')} from this machine over NFS (${this.info.address}:${this.info.nfsPort})`,
          `check that ${this.info.host} can reach ${this.info.address} on TCP port ${this.info.nfsPort} (firewall, routes) and has an NFS client (nfs-common)`,
          r.tail.slice(-8).join('\n'),
        );
    }
  }

  /**
   * Checks, from inside the running SDK container, that /opt/_avocado is this machine's volume
   * and writable: it must read a file written here, and write one that appears here.
   */
  async verifyVolume(session: SdkSession, hostDir: string): Promise<void> {
    const token = randomBytes(8).toString('hex');
    const here = join(hostDir, `.avocado-nfs-check-${token}`);
    const there = join(hostDir, `.avocado-nfs-check-${token}-remote`);
    const dest = this.info.host;
    try {
      await writeFile(here, token);
      const read = await session.exec(['cat', session.toolPath(here)], { signal: this.opts.signal });
      if (read.code !== 0 || read.stdout.trim() !== token)
        throw new BuildError(
          `the SDK container on ${dest} does not see this machine's volume at ${session.toolPath(hostDir)} over NFS`,
          `check that ${dest} can reach ${this.info.address} on TCP port ${this.info.nfsPort} (firewall), or give another address/port`,
          read.tail.slice(-5).join('\n') || undefined,
        );
      const write = await session.exec(['sh', '-c', 'printf %s "$1" > "$2"', 'sh', token, session.toolPath(there)], { signal: this.opts.signal });
      const back = await readFile(there, 'utf8').catch(() => '');
      if (write.code !== 0 || back !== token)
        throw new BuildError(`the SDK container on ${dest} cannot write to this machine's volume over NFS`, 'check the ownership of the volume directory and the user the container runs as', write.tail.slice(-5).join('\n') || undefined);
    } finally {
      await rm(here, { force: true });
      await rm(there, { force: true });
    }
  }

  /** Removes the remote volumes, stops the NFS server, closes the connection; never throws. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.opts.step(`cleaning up: volumes on ${this.info.host}, NFS server, SSH connection`);
    for (const u of this.undo.reverse()) await u.run().catch((e: Error) => this.opts.warn(`clean-up of ${u.what} failed: ${e.message}`));
  }
}
