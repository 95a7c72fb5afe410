/** Loop-mounting an image read-only for the duration of a callback; always unmounted. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function withMountedImage<T>(image: string, fstype: 'squashfs' | 'erofs', fn: (dir: string) => Promise<T> | T): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'avocado-mnt-'));
  execFileSync('mount', ['-o', 'loop,ro', '-t', fstype, image, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    return await fn(dir);
  } finally {
    execFileSync('umount', [dir]);
    rmdirSync(dir);
  }
}
