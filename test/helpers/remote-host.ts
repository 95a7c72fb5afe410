/**
 * The remote host of the --runs-on tests: ../shared/remote-host's QEMU guest (Debian's kernel
 * with its NFS client, sshd, podman as docker, Node), prepared by .ci/remote-host.sh, booted and
 * stopped here, with this checkout's CLI installed in it by npm.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './project.js';
import { isRoot, missingTools } from './system.js';

export const RH_SCRIPT = join(REPO, '../shared/remote-host/remote-host.sh');
export const RH_DIR = process.env.AV_RH_DIR ?? '/var/cache/avocado/remote-host';
/** What the CLI is given: the guest's sshd as QEMU forwards it (see the remote-host README). */
export const TARGET = 'root@127.0.0.2';
const ENV = { ...process.env, AV_RH_DIR: RH_DIR, AV_RH_CPUS: process.env.AV_RH_CPUS ?? '2' };

function guestRunning(): boolean {
  try {
    process.kill(Number(readFileSync(join(RH_DIR, 'qemu.pid'), 'utf8')), 0);
    return true;
  } catch {
    return false;
  }
}

/** Why the remote host cannot run here, or undefined. */
export function remoteHostMissing(): string | undefined {
  if (!isRoot()) return 'needs root (a QEMU guest, nfs-ganesha, loop mounts)';
  if (!existsSync(RH_SCRIPT)) return `needs ${RH_SCRIPT}`;
  const tools = missingTools('qemu-system-x86_64', 'ganesha.nfsd', 'ssh', 'podman');
  if (tools) return `${tools}; .ci/remote-host.sh installs them`;
  if (!existsSync(join(RH_DIR, 'rootfs.img'))) return `needs the guest image in ${RH_DIR}: run .ci/remote-host.sh`;
  if (guestRunning()) return `the remote-host guest in ${RH_DIR} is already running (${RH_SCRIPT} down)`;
  return undefined;
}

/** The SDK images .ci/remote-host.sh wrote into the guest's disk. */
export function guestImages(): string[] {
  const list = existsSync(join(RH_DIR, 'images')) ? readFileSync(join(RH_DIR, 'images'), 'utf8') : '';
  return list.split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
}

export function up(): void {
  execFileSync(RH_SCRIPT, ['up'], { env: ENV, stdio: ['ignore', 'ignore', 'pipe'], timeout: 240_000 });
}

export function down(): void {
  spawnSync(RH_SCRIPT, ['down'], { env: ENV, stdio: 'ignore', timeout: 120_000 });
}

/** Runs a shell command in the guest as root; its stdout. */
export function guest(command: string, opts: { input?: Buffer; timeoutMs?: number } = {}): string {
  return execFileSync(RH_SCRIPT, ['ssh', command], { env: ENV, input: opts.input, timeout: opts.timeoutMs ?? 120_000 }).toString();
}

/**
 * Installs this checkout's CLI in the guest as a user would: `npm pack` (of the built dist, so
 * the running tests keep theirs), `npm install -g` of the tarball here (the guest reaches no
 * registry), then the installed tree is copied into the guest's /usr/local.
 */
export function installCli(): void {
  const work = mkdtempSync(join(tmpdir(), 'avocado-guest-cli-'));
  try {
    const tarball = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], { cwd: REPO }).toString().trim().split('\n').pop()!;
    const prefix = join(work, 'prefix');
    execFileSync('npm', ['install', '-g', '--prefix', prefix, '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', join(work, tarball)], { stdio: 'ignore', timeout: 300_000 });
    const tar = execFileSync('tar', ['-C', prefix, '-cz', '.'], { maxBuffer: 1 << 30 });
    guest('tar -C /usr/local -xz && avocado --version', { input: tar });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** What a remote build may leave behind, on either side: must be empty after every build. */
export function leftovers(): string[] {
  const found: string[] = [];
  const pgrep = (args: string[]) => spawnSync('pgrep', args, { encoding: 'utf8' }).stdout.trim();
  if (pgrep(['-x', 'ganesha.nfsd'])) found.push('here: ganesha.nfsd is running');
  if (pgrep(['-f', '^ssh -M -N -S'])) found.push('here: an ssh control master is running');
  for (const n of readdirSync(tmpdir())) if (n.startsWith('avocado-remote-')) found.push(`here: ${join(tmpdir(), n)} (control socket, ganesha files)`);
  const podman = spawnSync('podman', ['ps', '-a', '--format', '{{.Names}}'], { encoding: 'utf8', env: { ...process.env, CONTAINERS_CONF: '/etc/containers/avocado-test.conf' } }).stdout;
  for (const n of podman.split('\n')) if (n.startsWith('avocado-nfs-')) found.push(`here: container ${n}`);
  const there = guest('docker ps -a --format "container {{.Names}}"; docker volume ls -q | sed "s/^/volume /"; grep -E " nfs4? " /proc/mounts | sed "s/^/mount /"; true');
  for (const l of there.split('\n')) if (l.trim()) found.push(`${TARGET}: ${l.trim()}`);
  return found;
}
