/**
 * What this machine can do, so that tests needing root, loop devices or a tool skip with the
 * reason instead of failing.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

export function hasTool(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function kernelHas(fs: string): boolean {
  const known = () => readFileSync('/proc/filesystems', 'utf8').split('\n').some((l) => l.trim().split(/\s+/).pop() === fs);
  if (known()) return true;
  try {
    execFileSync('modprobe', [fs], { stdio: 'ignore' });
  } catch {
    // not a module, or no modprobe: check again anyway
  }
  return known();
}

/** Why images cannot be loop-mounted here, or undefined when they can. */
export function cannotMount(fs: 'squashfs' | 'erofs'): string | undefined {
  if (!isRoot()) return 'needs root to loop-mount images';
  if (!existsSync('/dev/loop-control')) return 'no loop device support (/dev/loop-control missing)';
  if (!kernelHas(fs)) return `the kernel cannot mount ${fs}`;
  return undefined;
}

/** Why a tool-based test cannot run, or undefined. */
export function missingTools(...tools: string[]): string | undefined {
  const missing = tools.filter((t) => !hasTool(t));
  return missing.length ? `needs ${missing.join(', ')} (apt-get install ${[...new Set(missing.map(packageOf))].join(' ')})` : undefined;
}

function packageOf(tool: string): string {
  if (tool.includes('squashfs')) return 'squashfs-tools';
  if (tool.includes('erofs')) return 'erofs-utils';
  if (tool.startsWith('systemd')) return 'systemd';
  return tool;
}
