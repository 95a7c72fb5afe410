/**
 * Keys the Avocado CLI's avocado.yaml may carry. Real project files hold many that `ext image`
 * does not use; what is reported about the others is decided in project.ts (typos, mostly).
 */
import { distance } from 'fastest-levenshtein';

export const KNOWN_TOP_LEVEL_KEYS = new Set([
  'cli_requirement', 'source_date_epoch', 'default_target', 'default_target_board', 'supported_targets',
  'src_dir', 'distro', 'runtimes', 'runtime', 'default_runtime', 'sdk', 'rootfs', 'initramfs',
  'provision_profiles', 'provision', 'signing_keys', 'connect', 'kernel', 'permissions', 'extensions',
  'packages', 'engine',
]);

export const KNOWN_EXTENSION_KEYS = new Set([
  'version', 'types', 'filesystem', 'image', 'var_files', 'source', 'packages', 'dependencies', 'overlay',
  'post_build', 'subvolumes', 'enable_services', 'modprobe', 'on_merge', 'on_unmerge', 'reload_service_manager',
  'scopes', 'sysext_scopes', 'confext_scopes', 'users', 'groups', 'sdk', 'docker_images', 'stone_include_paths',
  'vendor', 'summary', 'description', 'license', 'url', 'release', 'arch', 'package_files', 'kernel_modules',
  'include', 'compile', 'erofs_cluster_size',
]);

export function isOverrideKey(key: string): boolean {
  return key.startsWith('target-') || key.startsWith('kernel-');
}

/**
 * Top-level keys that `ext build` and `ext image` read. An unknown top-level key is reported
 * only when it looks like a misspelling of one of these: other unknown keys are the user's own
 * data (values for `{{ config.… }}`) or settings of other commands, and change nothing here.
 */
export const READ_TOP_LEVEL_KEYS = new Set([
  'source_date_epoch', 'default_target', 'default_target_board', 'default_runtime', 'runtimes', 'supported_targets',
  'src_dir', 'distro', 'sdk', 'rootfs', 'extensions', 'engine',
]);

/** The key of `known` that `key` is most likely a misspelling of, if one is close enough. */
export function closestKey(key: string, known: Iterable<string>): string | undefined {
  const word = key.toLowerCase();
  // One edit per three characters, at most two: 'verison' -> 'version', but not 'files' -> 'types'.
  const allowed = Math.min(2, Math.floor(word.length / 3));
  let best: { key: string; d: number } | undefined;
  for (const k of known) {
    const d = distance(word, k);
    if (d <= allowed && (!best || d < best.d)) best = { key: k, d };
  }
  return best?.key;
}
