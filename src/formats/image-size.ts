/**
 * The size an image says it has: squashfs's `bytes_used`, EROFS's block count. Both writers put
 * the superblock last, so a file shorter than that lost its end, however the writer exited
 * (a tool writing over NFS learns of a full disk only when it closes the file, if at all).
 */
import { SUPERBLOCK_SIZE as SQUASHFS_SUPERBLOCK_SIZE } from './squashfs/format.js';
import { decodeSuperblock as decodeSquashfs } from './squashfs/superblock.js';
import { SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE } from './erofs/format.js';
import { decodeSuperblock as decodeErofs } from './erofs/superblock.js';
import type { FilesystemFamily } from './filesystems.js';

/** Bytes of the image's start that `declaredImageSize` needs. */
export const IMAGE_HEAD_BYTES = SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE;

/** The least size the image's superblock implies; throws if `head` holds no superblock of `family`. */
export function declaredImageSize(family: FilesystemFamily, head: Buffer): number {
  if (family === 'squashfs') return decodeSquashfs(head.subarray(0, SQUASHFS_SUPERBLOCK_SIZE)).bytesUsed;
  const sb = decodeErofs(head.subarray(SUPERBLOCK_OFFSET, SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE));
  return sb.blocks * 2 ** sb.blockBits;
}
