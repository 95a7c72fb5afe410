/**
 * `enable_services`: for each unit, the `.wants/` and `.requires/` symlinks its [Install]
 * section asks for, created under etc/systemd/system so that the confext enables it on merge.
 */
import { shownValue, unitNameProblem } from '../config/release-values.js';
import { displayPath } from '../sysroot/entry.js';
import { UNIT_DIRS } from '../sysroot/lint.js';
import { ConfigError, type ConfigLocation } from '../util/errors.js';
import { keyOf, show } from './disk.js';
import type { SysrootPlan } from './plan.js';

/** A WantedBy= or RequiredBy= value and the line of the unit file it is on. */
export interface InstallTarget {
  readonly name: string;
  readonly line: number;
}

/**
 * WantedBy= and RequiredBy= values of the [Install] section (space or comma separated,
 * repeatable; a line ending in a backslash continues on the next, as systemd reads it).
 */
export function installTargets(unitText: string): { wantedBy: InstallTarget[]; requiredBy: InstallTarget[] } {
  const wantedBy: InstallTarget[] = [];
  const requiredBy: InstallTarget[] = [];
  let section = '';
  const lines = unitText.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let line = lines[i]!.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i]!.trim()}`;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      continue;
    }
    if (section !== 'Install') continue;
    const m = /^(WantedBy|RequiredBy)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    const values = m[2]!.split(/[\s,]+/).filter(Boolean);
    (m[1] === 'WantedBy' ? wantedBy : requiredBy).push(...values.map((name) => ({ name, line: lineNo })));
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
 * WantedBy= or RequiredBy= in its [Install] section. Service names are checked as unit names
 * when avocado.yaml is read (config/schema.ts); the [Install] values here, so that neither can
 * name a path out of etc/systemd/system.
 */
export async function planServiceLinks(plan: SysrootPlan, services: readonly string[], where: ConfigLocation): Promise<ServiceLink[]> {
  const links: ServiceLink[] = [];
  const by = { what: `enable_services`, location: where };
  for (const service of services) {
    const problem = unitNameProblem(service);
    if (problem) throw new ConfigError(`enable_services lists ${shownValue(service)}, which is not a unit name: it ${problem}`, where, 'give unit file names such as app.service');
    let unitKey: string | undefined;
    let symlinked: string | undefined;
    for (const dir of UNIT_DIRS) {
      const key = keyOf(`${dir}/${service}`);
      const kind = await plan.kindAfter(key, by);
      if (kind === 'file') {
        unitKey = key;
        break;
      }
      if (kind === 'symlink') symlinked ??= show(key);
    }
    if (!unitKey)
      throw new ConfigError(
        symlinked
          ? `enable_services lists ${service}, but the sysroot has it only as the symlink ${symlinked}, which ext build does not follow`
          : `enable_services lists ${service}, but the sysroot has no such unit under /etc/systemd/system or /usr/lib/systemd/system (overlay included)`,
        where,
        symlinked ? 'ship the unit file itself, e.g. in overlay/usr/lib/systemd/system/' : 'ship it in the overlay, e.g. overlay/usr/lib/systemd/system/',
      );
    const unit = `/${show(unitKey)}`;
    const unitFile = displayPath(plan.fileOf(unitKey));
    const { wantedBy, requiredBy } = installTargets(await plan.readText(unitKey, by));
    if (!wantedBy.length && !requiredBy.length)
      throw new ConfigError(`enable_services lists ${service}, but its [Install] section has no WantedBy= or RequiredBy=`, where, 'add one, or drop it from enable_services');
    for (const [targets, suffix] of [[wantedBy, 'wants'], [requiredBy, 'requires']] as const) {
      for (const target of targets) {
        const bad = unitNameProblem(target.name);
        if (bad)
          throw new ConfigError(
            `[Install] ${suffix === 'wants' ? 'WantedBy' : 'RequiredBy'}= names ${shownValue(target.name)}, which is not a unit name: it ${bad}`,
            { file: unitFile, line: target.line },
            `fix the unit file (${unit} in the image) to name units such as multi-user.target`,
          );
        const dir = `etc/systemd/system/${target.name}.${suffix}`;
        const link = `${dir}/${service}`;
        await plan.addDirectories(keyOf(dir), 0o755, by);
        await plan.addSymlink(keyOf(link), unit, by);
        links.push({ service, link, unit });
      }
    }
  }
  return links;
}
