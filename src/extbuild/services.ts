/**
 * `enable_services`: for each unit, the `.wants/` and `.requires/` symlinks its [Install]
 * section asks for, created under etc/systemd/system so that the confext enables it on merge.
 */
import { lstat, mkdir, readFile, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, type ConfigLocation } from '../util/errors.js';

const UNIT_DIRS = ['etc/systemd/system', 'usr/lib/systemd/system'];

/** WantedBy= and RequiredBy= values of the [Install] section (space or comma separated, repeatable). */
export function installTargets(unitText: string): { wantedBy: string[]; requiredBy: string[] } {
  const wantedBy: string[] = [];
  const requiredBy: string[] = [];
  let section = '';
  for (const raw of unitText.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      continue;
    }
    if (section !== 'Install') continue;
    const m = /^(WantedBy|RequiredBy)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    const values = m[2]!.split(/[\s,]+/).filter(Boolean);
    (m[1] === 'WantedBy' ? wantedBy : requiredBy).push(...values);
  }
  return { wantedBy, requiredBy };
}

export async function enableServices(sysroot: string, services: readonly string[], where: ConfigLocation, step: (m: string) => void): Promise<void> {
  for (const service of services) {
    let unitPath: string | undefined;
    for (const dir of UNIT_DIRS) {
      const candidate = join(sysroot, dir, service);
      if ((await lstat(candidate).catch(() => undefined))?.isFile()) {
        unitPath = `/${dir}/${service}`;
        break;
      }
    }
    if (!unitPath)
      throw new ConfigError(
        `enable_services lists ${service}, but the sysroot has no such unit under /etc/systemd/system or /usr/lib/systemd/system`,
        where,
        'ship it in the overlay, e.g. overlay/usr/lib/systemd/system/',
      );
    const { wantedBy, requiredBy } = installTargets(await readFile(join(sysroot, unitPath), 'utf8'));
    if (!wantedBy.length && !requiredBy.length)
      throw new ConfigError(`enable_services lists ${service}, but its [Install] section has no WantedBy= or RequiredBy=`, where, 'add one, or drop it from enable_services');
    for (const [targets, suffix] of [[wantedBy, 'wants'], [requiredBy, 'requires']] as const) {
      for (const target of targets) {
        const dir = join(sysroot, 'etc/systemd/system', `${target}.${suffix}`);
        await mkdir(dir, { recursive: true });
        const link = join(dir, service);
        await rm(link, { force: true });
        await symlink(unitPath, link);
        step(`enabled ${service}: etc/systemd/system/${target}.${suffix}/${service} -> ${unitPath}`);
      }
    }
  }
}
