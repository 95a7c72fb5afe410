/**
 * Reading an extension's overlay directory into the list of what `ext build` copies. `merge`
 * (the default) takes the whole tree, like `cp -a dir/. sysroot/`; `opaque` takes the overlay's
 * top-level entries except dot-files, like the Avocado CLI's `cp -r dir/* sysroot/`. The list is
 * sorted by name bytes, directories before what they hold.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import type { OverlaySpec } from '../config/project.js';
import { ConfigError } from '../util/errors.js';
import { absolute, childNames, onDisk, readLinkBytes, show, walkBelow, type DiskEntry, type PathKey } from './disk.js';

export interface OverlayItem {
  readonly key: PathKey;
  readonly kind: 'directory' | 'file' | 'symlink';
  /** The overlay's path on this host. */
  readonly source: Buffer;
  readonly stat: DiskEntry;
  /** Symlinks. */
  readonly target?: Buffer;
}

export interface Overlay {
  readonly dir: string;
  readonly spec: OverlaySpec;
  readonly items: readonly OverlayItem[];
}

export async function readOverlay(dir: string, spec: OverlaySpec): Promise<Overlay> {
  // The overlay directory itself may be a symlink to one (what is below it is read as it is).
  const top = await stat(dir).catch(() => undefined);
  if (!top?.isDirectory())
    throw new ConfigError(`overlay directory '${spec.dir}' not found: ${dir}`, spec.location, 'create it, or fix overlay: in avocado.yaml');
  const items: OverlayItem[] = [];
  const special: string[] = [];
  const unreadable: string[] = [];
  try {
    let names = await childNames(Buffer.from(dir));
    if (spec.mode === 'opaque') names = names.filter((n) => !n.startsWith('.'));
    for (const name of names) {
      const top = await onDisk(absolute(dir, name));
      if (!top) continue;
      const below = top.kind === 'directory' ? await walkBelow(dir, name) : [];
      for (const { key, entry } of [{ key: name, entry: top }, ...below]) {
        const source = absolute(dir, key);
        if (entry.kind === 'special') special.push(show(key));
        else items.push({ key, kind: entry.kind, source, stat: entry, ...(entry.kind === 'symlink' ? { target: await readLinkBytes(source) } : {}) });
        if (entry.kind === 'file' && !(await access(source, constants.R_OK).then(() => true, () => false))) unreadable.push(show(key));
      }
    }
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (!err.code) throw e;
    throw new ConfigError(`cannot read the overlay directory '${spec.dir}': ${err.code} on ${String(err.path)}`, spec.location, 'make it readable');
  }
  if (unreadable.length)
    throw new ConfigError(`overlay directory '${spec.dir}' holds ${unreadable.length} file(s) this user cannot read (${unreadable.slice(0, 3).join(', ')})`, spec.location, 'make them readable, or run as their owner');
  if (special.length)
    throw new ConfigError(
      `overlay directory '${spec.dir}' holds ${special.length} device, FIFO or socket file(s) (${special.slice(0, 3).join(', ')}), which ext build does not copy`,
      spec.location,
      'create them in the sysroot another way (e.g. systemd-tmpfiles on the device), and remove them from the overlay',
    );
  return { dir, spec, items };
}
