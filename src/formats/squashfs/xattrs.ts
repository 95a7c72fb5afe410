/**
 * Extended attributes as squashfs stores them (we write none; mksquashfs does): the xattr id
 * table maps an inode's xattr index to ⟨reference of its first key, count, size⟩, and the
 * key/value stream holds, per attribute, a key (u16 type with the prefix and an out-of-line
 * flag, u16 name length, the name without its prefix) and a value (u32 length, bytes; out of
 * line: 8 bytes referring to another value record).
 */

/** 16-byte header at xattr_id_table_start: where the key/value stream starts, how many ids. */
export const XATTR_ID_TABLE_HEADER_SIZE = 16;
/** One xattr id entry. */
export const XATTR_ID_ENTRY_SIZE = 16;
export const XATTR_KEY_SIZE = 4;
export const XATTR_VALUE_HEADER_SIZE = 4;
/** Set in a key's type when its value record holds a reference to the value. */
export const XATTR_VALUE_OUT_OF_LINE = 0x100;
export const XATTR_PREFIXES: readonly string[] = ['user.', 'trusted.', 'security.'];
/** The longest value Linux keeps (XATTR_SIZE_MAX). */
export const XATTR_VALUE_MAX = 65536;
/** The most bytes of names, each with its NUL, that Linux lists for one inode (XATTR_LIST_MAX). */
export const XATTR_NAMES_MAX = 65536;
/** Attributes that fit those names: each at least "user.", one byte and the NUL. */
export const XATTR_COUNT_MAX = Math.floor(XATTR_NAMES_MAX / 7);

export function decodeXattrIdTableHeader(b: Buffer): { readonly kvStart: number; readonly count: number; readonly unused: number } {
  return { kvStart: Number(b.readBigUInt64LE(0)), count: b.readUInt32LE(8), unused: b.readUInt32LE(12) };
}

export function decodeXattrIdEntry(b: Buffer, at = 0): { readonly ref: bigint; readonly count: number; readonly size: number } {
  return { ref: b.readBigUInt64LE(at), count: b.readUInt32LE(at + 8), size: b.readUInt32LE(at + 12) };
}

export function decodeXattrKey(b: Buffer): { readonly prefix: number; readonly outOfLine: boolean; readonly nameLength: number; readonly type: number } {
  const type = b.readUInt16LE(0);
  return { type, prefix: type & 0xff, outOfLine: (type & XATTR_VALUE_OUT_OF_LINE) !== 0, nameLength: b.readUInt16LE(2) };
}
