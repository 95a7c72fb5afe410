/**
 * Validation of the options that only matter to the container and remote engines: they are
 * checked now, whatever the engine, so that a typo fails before a long build, not after.
 */
import type { RemoteHost } from '../container/remote-host.js';
import { UsageError } from '../util/errors.js';

export type SdkPlatform = 'linux/arm64' | 'linux/amd64';

export const SDK_ARCH_VALUES = ['aarch64', 'arm64', 'x86-64', 'x86_64', 'amd64'] as const;

/** `--sdk-arch` (case-insensitive) → the container platform it selects. */
export function parseSdkArch(value: string): { arch: 'aarch64' | 'x86-64'; platform: SdkPlatform } {
  switch (value.trim().toLowerCase()) {
    case 'aarch64':
    case 'arm64':
      return { arch: 'aarch64', platform: 'linux/arm64' };
    case 'x86-64':
    case 'x86_64':
    case 'amd64':
      return { arch: 'x86-64', platform: 'linux/amd64' };
    default:
      throw new UsageError(`--sdk-arch: unsupported SDK architecture '${value}'`, 'use aarch64 (or arm64) or x86-64 (or x86_64, amd64)');
  }
}


const HOST = /^(?:\[[0-9A-Fa-f:.%\w]+\]|[0-9A-Fa-f:]+:[0-9A-Fa-f:.]*|[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)$/;
const USER = /^[A-Za-z0-9._][A-Za-z0-9._-]*\$?$/;

/** `--runs-on [USER@]HOST`, as the Avocado CLI reads it (split at the first '@'). */
export function parseRunsOn(value: string): RemoteHost {
  const spec = value.trim();
  if (!spec) throw new UsageError('--runs-on: the remote host cannot be empty', 'give USER@HOST or HOST');
  const at = spec.indexOf('@');
  const user = at >= 0 ? spec.slice(0, at) : undefined;
  const host = at >= 0 ? spec.slice(at + 1) : spec;
  if (user !== undefined && !user) throw new UsageError(`--runs-on: the user name cannot be empty in '${spec}'`, 'give USER@HOST, or just HOST to let ssh choose the user');
  if (!host) throw new UsageError(`--runs-on: the host name cannot be empty in '${spec}'`, 'give USER@HOST');
  if (user !== undefined && !USER.test(user)) throw new UsageError(`--runs-on: '${user}' is not a valid user name`, 'use letters, digits, . _ -');
  if (!HOST.test(host)) throw new UsageError(`--runs-on: '${host}' is not a valid host name or address`, 'give a DNS name, an IPv4 address or an IPv6 address');
  return { user, host };
}

/** `--nfs-port`: a TCP port number. */
export function parsePort(value: string): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`--nfs-port: '${value}' is not a port number`, 'give a number from 1 to 65535');
  return n;
}
