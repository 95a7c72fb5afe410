/**
 * Inodes: compact (32 bytes) where the fields fit, extended (64 bytes) where they do not. Owners
 * are always root. A compact inode has no time of its own: the kernel gives it the superblock's
 * build time, which is source_date_epoch, as are the extended inodes' own times.
 */
import { COMPACT_INODE_SIZE, EXTENDED_INODE_SIZE, type LayoutId } from './format.js';

export interface InodeFields {
  /** Full st_mode: file type and permission bits. */
  readonly mode: number;
  readonly layout: LayoutId;
  readonly size: number;
  readonly nlink: number;
  /**
   * The layout's word: first data block (flat), compressed block count (compressed), device
   * number (devices), chunk format (chunk-based), 0 or NULL_ADDR otherwise.
   */
  readonly u: number;
  /** Inode number for 32-bit stat (the kernel uses the nid on 64-bit hosts). */
  readonly ino: number;
  /** Extended inodes only: seconds. */
  readonly mtime: number;
}

/** Whether the inode needs the 64-byte form: a size ≥ 4 GiB or more than 65535 links. */
export function needsExtendedInode(size: number, nlink: number): boolean {
  return size > 0xffffffff || nlink > 0xffff;
}

export function inodeSize(size: number, nlink: number): number {
  return needsExtendedInode(size, nlink) ? EXTENDED_INODE_SIZE : COMPACT_INODE_SIZE;
}

export function encodeInode(f: InodeFields): Buffer {
  const extended = needsExtendedInode(f.size, f.nlink);
  const b = Buffer.alloc(extended ? EXTENDED_INODE_SIZE : COMPACT_INODE_SIZE);
  b.writeUInt16LE((f.layout << 1) | (extended ? 1 : 0), 0);
  b.writeUInt16LE(0, 2); // no xattrs
  b.writeUInt16LE(f.mode, 4);
  if (extended) {
    b.writeBigUInt64LE(BigInt(f.size), 8);
    b.writeUInt32LE(f.u >>> 0, 16);
    b.writeUInt32LE(f.ino, 20);
    // 24 uid, 28 gid: root.
    b.writeBigUInt64LE(BigInt(f.mtime), 32);
    b.writeUInt32LE(0, 40); // nsec
    b.writeUInt32LE(f.nlink, 44);
  } else {
    b.writeUInt16LE(f.nlink, 6);
    b.writeUInt32LE(f.size, 8);
    // 12: i_mtime, unused before Linux 6.15 and added to the build time after: 0.
    b.writeUInt32LE(f.u >>> 0, 16);
    b.writeUInt32LE(f.ino, 20);
    // 24 uid, 26 gid: root.
  }
  return b;
}

