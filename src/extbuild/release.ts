/**
 * extension-release files as the Avocado CLI's `ext build` writes them (reference §5.3–§5.4),
 * with one fix: values are quoted and escaped as os-release(5) wants, so a hook command
 * containing a quote or a dollar sign survives.
 */
import type { ExtensionConfig } from '../config/project.js';
import type { ExtensionType } from '../config/schema.js';

/** What `ext build` detects in the sysroot that needs a hook on the device. */
export interface DetectedContent {
  /** *.ko, *.ko.xz, *.ko.gz under usr/lib/modules. */
  readonly kernelModules: boolean;
  /** *.conf in usr/lib/sysusers.d or usr/local/lib/sysusers.d (sysext), etc/sysusers.d (confext). */
  readonly sysusers: Record<ExtensionType, boolean>;
  /** Likewise for tmpfiles.d. */
  readonly tmpfiles: Record<ExtensionType, boolean>;
  /** *.conf in etc/ld.so.conf.d. */
  readonly ldconfig: boolean;
}

/** A double-quoted os-release value. */
export function quoteValue(v: string): string {
  return `"${v.replace(/[\\"`$]/g, (c) => `\\${c}`)}"`;
}

export function releaseFileContent(type: ExtensionType, ext: ExtensionConfig, found: DetectedContent): string {
  const lines = ['ID=_any', `EXTENSION_RELOAD_MANAGER=${ext.reloadServiceManager ? 1 : 0}`];
  const hook = (cmd: string) => lines.push(`AVOCADO_ON_MERGE=${quoteValue(cmd)}`);
  if (type === 'sysext') {
    lines.push(`SYSEXT_SCOPE=${ext.sysextScopes.join(' ')}`);
    if (found.kernelModules) {
      hook('depmod');
      for (const m of ext.modprobe) hook(`modprobe ${m}`);
    }
    if (found.sysusers.sysext) hook('systemd-sysusers');
    if (found.tmpfiles.sysext) hook('systemd-tmpfiles --create');
  } else {
    lines.push(`CONFEXT_SCOPE=${ext.confextScopes.join(' ')}`);
    if (found.sysusers.confext) hook('systemd-sysusers');
    if (found.ldconfig) hook('ldconfig');
    if (found.tmpfiles.confext) hook('systemd-tmpfiles --create');
  }
  for (const cmd of ext.onMerge) hook(cmd);
  for (const cmd of ext.onUnmerge) lines.push(`AVOCADO_ON_UNMERGE=${quoteValue(cmd)}`);
  if (type === 'confext' && ext.enableServices.length) lines.push(`AVOCADO_ENABLE_SERVICES=${quoteValue(ext.enableServices.join(' '))}`);
  return `${lines.join('\n')}\n`;
}
