/**
 * The `filesystem:` values of avocado.yaml and what each one means on disk. One table, read by
 * the config validator, the engines, `--help` and the README.
 */

export type FilesystemFamily = 'squashfs' | 'erofs';
export type Compressor = 'gzip' | 'zstd' | 'xz' | 'lz4' | 'lz4hc' | 'none';

export interface FilesystemInfo {
  readonly value: string;
  readonly family: FilesystemFamily;
  readonly compressor: Compressor;
  /** Shown in `--help` and in the build summary. */
  readonly description: string;
  /** Oldest mainline kernel that mounts it (with the filesystem and compressor enabled). */
  readonly kernelMin: string;
}

export const FILESYSTEMS: readonly FilesystemInfo[] = [
  { value: 'squashfs', family: 'squashfs', compressor: 'gzip', description: 'squashfs, gzip, 128 KiB blocks', kernelMin: '2.6.29' },
  { value: 'erofs', family: 'erofs', compressor: 'none', description: 'EROFS, uncompressed (a file with 1 MiB or more of zero blocks is stored without them: kernel ≥ 5.15)', kernelMin: '5.4' },
  { value: 'erofs-lz4', family: 'erofs', compressor: 'lz4hc', description: 'EROFS, LZ4HC in 4 KiB clusters as mkfs.erofs -zlz4hc (erofs_cluster_size: up to 256 KiB, smaller images, slower random reads, kernel ≥ 5.13)', kernelMin: '5.4' },
  { value: 'erofs-zst', family: 'erofs', compressor: 'zstd', description: 'EROFS, zstd level 3 in 4 KiB clusters (erofs_cluster_size: up to 256 KiB)', kernelMin: '6.10' },
  { value: 'squashfs-zst', family: 'squashfs', compressor: 'zstd', description: 'squashfs, zstd (level 15), 128 KiB blocks', kernelMin: '4.14' },
  { value: 'squashfs-xz', family: 'squashfs', compressor: 'xz', description: 'squashfs, xz (preset 6, 128 KiB dictionary), 128 KiB blocks', kernelMin: '2.6.38' },
  { value: 'squashfs-lz4', family: 'squashfs', compressor: 'lz4', description: 'squashfs, lz4, 128 KiB blocks', kernelMin: '3.19' },
];

export const DEFAULT_FILESYSTEM = 'squashfs';

/**
 * EROFS physical cluster sizes (`erofs_cluster_size`, bytes): 4 KiB is what mkfs.erofs makes by
 * default and what every EROFS kernel reads; larger clusters need Linux 5.13.
 */
export const EROFS_CLUSTER_SIZE = { default: 4096, max: 256 * 1024, bigKernelMin: '5.13' } as const;

/** Why `size` is not a valid `erofs_cluster_size`, or undefined. */
export function erofsClusterSizeProblem(size: number): string | undefined {
  if (!Number.isInteger(size) || size < EROFS_CLUSTER_SIZE.default || size > EROFS_CLUSTER_SIZE.max || (size & (size - 1)) !== 0)
    return `must be a power of two from ${EROFS_CLUSTER_SIZE.default} to ${EROFS_CLUSTER_SIZE.max} (bytes), got ${size}`;
  return undefined;
}

export function filesystemInfo(value: string): FilesystemInfo | undefined {
  return FILESYSTEMS.find((f) => f.value === value);
}
