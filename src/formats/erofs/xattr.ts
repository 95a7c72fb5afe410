/**
 * Extended attributes (the writer stores none): an inode's xattr area follows it, i_xattr_icount
 * giving its size; a 12-byte header (name filter, count of shared xattrs), the shared xattrs' u32
 * ids, then inline entries. An entry is u8 name length, u8 name index (the prefix), u16 value
 * size, the name without its prefix, the value, padded to 4 bytes. A shared xattr is one such
 * entry at xattr_blkaddr × block size + 4 × id.
 */
import { DecodeError } from './format.js';

export const XATTR_HEADER_SIZE = 12;
export const XATTR_ENTRY_HEADER_SIZE = 4;

/** Name prefixes by name index; 0 is none, bit 7 a long prefix (XATTR_PREFIXES). */
export const XATTR_PREFIXES: Readonly<Record<number, string>> = {
  1: 'user.',
  2: 'system.posix_acl_access',
  3: 'system.posix_acl_default',
  4: 'trusted.',
  5: 'lustre.',
  6: 'security.',
};
export const LONG_PREFIX_BIT = 0x80;

/** Bytes of the xattr area for an i_xattr_icount. */
export function xattrAreaSize(icount: number): number {
  return icount ? XATTR_HEADER_SIZE + 4 * (icount - 1) : 0;
}

export function decodeXattrHeader(b: Buffer): { nameFilter: number; sharedCount: number } {
  return { nameFilter: b.readUInt32LE(0), sharedCount: b[4]! };
}

export interface XattrEntryHeader {
  readonly nameLength: number;
  readonly nameIndex: number;
  readonly valueSize: number;
  /** Bytes of the whole entry, padded to 4. */
  readonly size: number;
}

export function decodeXattrEntryHeader(b: Buffer): XattrEntryHeader {
  const nameLength = b[0]!;
  const valueSize = b.readUInt16LE(2);
  return { nameLength, nameIndex: b[1]!, valueSize, size: (XATTR_ENTRY_HEADER_SIZE + nameLength + valueSize + 3) & ~3 };
}

/**
 * An entry's full name and value from its bytes (header included); undefined for an empty entry
 * of index 0 (padding, which the kernel skips). Throws DecodeError for a name index it cannot name.
 */
export function decodeXattrEntry(b: Buffer): { name: Buffer; value: Buffer } | undefined {
  const h = decodeXattrEntryHeader(b);
  if (b.length < XATTR_ENTRY_HEADER_SIZE + h.nameLength + h.valueSize) throw new DecodeError(0, `an xattr entry of ${h.size} bytes is cut off`);
  if (h.nameIndex === 0 && h.nameLength === 0 && h.valueSize === 0) return undefined;
  if (h.nameIndex & LONG_PREFIX_BIT) throw new DecodeError(1, `name index 0x${h.nameIndex.toString(16)} is a long prefix (XATTR_PREFIXES), which is not supported`);
  const prefix = XATTR_PREFIXES[h.nameIndex];
  if (prefix === undefined) throw new DecodeError(1, `name index ${h.nameIndex} is no prefix the format defines`);
  const suffix = b.subarray(XATTR_ENTRY_HEADER_SIZE, XATTR_ENTRY_HEADER_SIZE + h.nameLength);
  const value = Buffer.from(b.subarray(XATTR_ENTRY_HEADER_SIZE + h.nameLength, XATTR_ENTRY_HEADER_SIZE + h.nameLength + h.valueSize));
  return { name: Buffer.concat([Buffer.from(prefix), suffix]), value };
}
