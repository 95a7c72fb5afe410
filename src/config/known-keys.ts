/**
 * Keys the Avocado CLI's avocado.yaml may carry. Real project files hold many that `ext image`
 * does not use, so only keys outside these lists are reported, as warnings (typos, mostly).
 */

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
