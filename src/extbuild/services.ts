/**
 * `enable_services`: for each unit, the `.wants/` and `.requires/` symlinks its [Install]
 * section asks for, created under etc/systemd/system so that the confext enables it on merge.
 */
import { UNIT_DIRS } from '../sysroot/lint.js';
import { ConfigError, type ConfigLocation } from '../util/errors.js';
import { keyOf, show } from './disk.js';
import type { SysrootPlan } from './plan.js';

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

export interface ServiceLink {
  readonly service: string;
  /** etc/systemd/system/<target>.wants/<service> (or .requires). */
  readonly link: string;
  /** The unit's path in the image, e.g. /usr/lib/systemd/system/app.service. */
  readonly unit: string;
}

/**
 * Plans the links of `services`: each unit must be a regular file in etc/systemd/system or
 * usr/lib/systemd/system of the sysroot as the build leaves it (overlay included), with
 * WantedBy= or RequiredBy= in its [Install] section.
 */
export async function planServiceLinks(plan: SysrootPlan, services: readonly string[], where: ConfigLocation): Promise<ServiceLink[]> {
  const links: ServiceLink[] = [];
  const by = { what: `enable_services`, location: where };
  for (const service of services) {
    if (!service || service.includes('/') || service === '.' || service === '..')
      throw new ConfigError(`enable_services lists '${service}', which is not a unit name`, where, 'give unit file names such as app.service');
    let unitKey: string | undefined;
    for (const dir of UNIT_DIRS) {
      const key = keyOf(`${dir}/${service}`);
      if ((await plan.kindAfter(key)) === 'file') {
        unitKey = key;
        break;
      }
    }
    if (!unitKey)
      throw new ConfigError(
        `enable_services lists ${service}, but the sysroot has no such unit under /etc/systemd/system or /usr/lib/systemd/system (overlay included)`,
        where,
        'ship it in the overlay, e.g. overlay/usr/lib/systemd/system/',
      );
    const unit = `/${show(unitKey)}`;
    const { wantedBy, requiredBy } = installTargets(await plan.readText(unitKey));
    if (!wantedBy.length && !requiredBy.length)
      throw new ConfigError(`enable_services lists ${service}, but its [Install] section has no WantedBy= or RequiredBy=`, where, 'add one, or drop it from enable_services');
    for (const [targets, suffix] of [[wantedBy, 'wants'], [requiredBy, 'requires']] as const) {
      for (const target of targets) {
        if (target.includes('/') || target === '.' || target === '..')
          throw new ConfigError(`${unit}: [Install] names '${target}', which is not a unit name`, undefined, 'fix the unit file');
        const dir = `etc/systemd/system/${target}.${suffix}`;
        const link = `${dir}/${service}`;
        await plan.addDirectories(keyOf(dir), 0o755, by);
        await plan.addSymlink(keyOf(link), unit, by);
        links.push({ service, link, unit });
      }
    }
  }
  return links;
}
