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


/** An inode as stored, compact or extended, before any of it is checked. */
export interface DecodedInode {
  readonly extended: boolean;
  /** i_format bits 1–3. */
  readonly layout: number;
  /** i_format bits 4 and up (0 unless 48-bit features are used). */
  readonly formatHigh: number;
  /** i_xattr_icount: 0, or the xattr area's size in 4-byte units past its 12-byte header, plus one. */
  readonly xattrCount: number;
  readonly mode: number;
  readonly nlink: number;
  readonly size: number;
  readonly u: number;
  readonly ino: number;
  readonly uid: number;
  readonly gid: number;
  /**
   * Extended: seconds (signed) and nanoseconds. Compact: seconds to add to the superblock's build
   * time (Linux ≥ 6.15; older kernels ignore them, and writers leave 0), nanoseconds undefined.
   */
  readonly mtime: number;
  readonly mtimeNsec?: number;
}

/** Bytes of the inode whose first two bytes (i_format) are `format`. */
export function decodedInodeSize(format: number): number {
  return format & 1 ? EXTENDED_INODE_SIZE : COMPACT_INODE_SIZE;
}

/** Decodes an inode from `b`, which holds at least decodedInodeSize(its i_format) bytes. */
export function decodeInode(b: Buffer): DecodedInode {
  const format = b.readUInt16LE(0);
  const extended = (format & 1) === 1;
  if (b.length < decodedInodeSize(format)) throw new Error(`an ${extended ? 'extended' : 'compact'} inode needs ${decodedInodeSize(format)} bytes`);
  const common = { extended, layout: (format >> 1) & 7, formatHigh: format >> 4, xattrCount: b.readUInt16LE(2), mode: b.readUInt16LE(4), u: b.readUInt32LE(16), ino: b.readUInt32LE(20) };
  return extended
    ? { ...common, size: Number(b.readBigUInt64LE(8)), uid: b.readUInt32LE(24), gid: b.readUInt32LE(28), mtime: Number(b.readBigInt64LE(32)), mtimeNsec: b.readUInt32LE(40), nlink: b.readUInt32LE(44) }
    : { ...common, nlink: b.readUInt16LE(6), size: b.readUInt32LE(8), mtime: b.readUInt32LE(12), uid: b.readUInt16LE(24), gid: b.readUInt16LE(26) };
}
