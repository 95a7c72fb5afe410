/**
 * Copying an extension's overlay directory into its sysroot. `merge` (the default) copies the
 * whole tree over the sysroot like `cp -a dir/. sysroot/`; `opaque` copies the overlay's
 * top-level entries except dot-files, like the Avocado CLI's `cp -r dir/* sysroot/`. Both keep
 * modes and symlinks exactly (the umask never applies) and make the copied paths root-owned
 * when run as root. Nothing already in the sysroot is removed.
 */
import { cp, lchown, readdir, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../util/errors.js';
import type { OverlaySpec } from '../config/project.js';

export async function copyOverlay(overlayDir: string, spec: OverlaySpec, sysroot: string): Promise<number> {
  const st = await lstat(overlayDir).catch(() => undefined);
  if (!st?.isDirectory())
    throw new ConfigError(`overlay directory '${spec.dir}' not found: ${overlayDir}`, spec.location, 'create it, or fix overlay: in avocado.yaml');
  const names = (await readdir(overlayDir)).sort();
  const top = spec.mode === 'opaque' ? names.filter((n) => !n.startsWith('.')) : names;
  let copied = 0;
  for (const name of top) {
    await cp(join(overlayDir, name), join(sysroot, name), {
      recursive: true,
      force: true,
      preserveTimestamps: true,
      verbatimSymlinks: true,
    });
    copied += await chownTree(join(sysroot, name));
  }
  return copied;
}

/** Makes a copied tree root-owned (when we are root) and counts its entries. */
async function chownTree(path: string): Promise<number> {
  const st = await lstat(path);
  if (process.getuid?.() === 0 && (st.uid !== 0 || st.gid !== 0)) await lchown(path, 0, 0);
  let n = 1;
  if (st.isDirectory()) for (const child of await readdir(path)) n += await chownTree(join(path, child));
  return n;
}
