/**
 * Directory listings. A listing is a run of headers (u32 count − 1, u32 inode block, u32 base
 * inode number), each followed by up to 256 entries (u16 offset of the inode in its block, s16
 * inode number − base, u16 basic type, u16 name length − 1, name). All entries under one header
 * have their inodes in the same inode metadata block. Large directories also get index points:
 * headers forced every 8 KiB of listing, whose positions and first names go into the extended
 * directory inode so that lookups can skip ahead.
 */
import { DIR_HEADER_MAX_ENTRIES, METADATA_SIZE, type MetadataRef } from './format.js';

export interface DirectoryChild {
  /** Sorted by bytes (`Buffer.compare`), as the kernel's lookup requires. */
  readonly name: Buffer;
  /** Basic inode type, 1..7 (an extended inode is listed under its basic type). */
  readonly type: number;
  readonly inode: MetadataRef;
  readonly inodeNumber: number;
}

export interface ListingIndexPoint {
  /** Offset of a header from the start of the listing. */
  readonly offset: number;
  /** Name of the first entry after it. */
  readonly name: Buffer;
}

export interface DirectoryListing {
  readonly bytes: Buffer;
  readonly indexPoints: readonly ListingIndexPoint[];
}

const HEADER_SIZE = 12;
const ENTRY_SIZE = 8;

/**
 * Whether a directory gets an extended inode with an index, by mksquashfs's rule: more entries
 * than one header holds, or a listing of 8 KiB or more.
 */
export function directoryNeedsIndex(children: readonly { readonly name: Buffer }[]): boolean {
  if (children.length > DIR_HEADER_MAX_ENTRIES) return true;
  let bytes = 0;
  for (const c of children) bytes += ENTRY_SIZE + c.name.length;
  return bytes >= METADATA_SIZE;
}

export function encodeDirectoryListing(children: readonly DirectoryChild[], indexed: boolean): DirectoryListing {
  const parts: Buffer[] = [];
  const indexPoints: ListingIndexPoint[] = [];
  let length = 0;
  let lastIndexPoint = 0;
  let header: { count: number; block: number; base: number; buf: Buffer } | undefined;

  const closeHeader = () => {
    if (header) header.buf.writeUInt32LE(header.count - 1, 0);
  };

  for (const child of children) {
    const entrySize = ENTRY_SIZE + child.name.length;
    const delta = header ? child.inodeNumber - header.base : 0;
    const forceIndex = indexed && length + entrySize - lastIndexPoint > METADATA_SIZE;
    if (!header || header.count === DIR_HEADER_MAX_ENTRIES || header.block !== child.inode.block || delta < -32768 || delta > 32767 || forceIndex) {
      closeHeader();
      if (forceIndex) {
        indexPoints.push({ offset: length, name: child.name });
        lastIndexPoint = length;
      }
      const buf = Buffer.alloc(HEADER_SIZE);
      buf.writeUInt32LE(child.inode.block, 4);
      buf.writeUInt32LE(child.inodeNumber, 8);
      header = { count: 0, block: child.inode.block, base: child.inodeNumber, buf };
      parts.push(buf);
      length += HEADER_SIZE;
    }
    const e = Buffer.alloc(entrySize);
    e.writeUInt16LE(child.inode.offset, 0);
    e.writeInt16LE(child.inodeNumber - header.base, 2);
    e.writeUInt16LE(child.type, 4);
    e.writeUInt16LE(child.name.length - 1, 6);
    child.name.copy(e, 8);
    parts.push(e);
    length += entrySize;
    header.count++;
  }
  closeHeader();
  return { bytes: Buffer.concat(parts, length), indexPoints };
}

export const DIRECTORY_HEADER_SIZE = HEADER_SIZE;
export const DIRECTORY_ENTRY_SIZE = ENTRY_SIZE;

export function decodeDirectoryHeader(b: Buffer): { readonly count: number; readonly startBlock: number; readonly inodeNumber: number } {
  return { count: b.readUInt32LE(0) + 1, startBlock: b.readUInt32LE(4), inodeNumber: b.readUInt32LE(8) };
}

/** An entry's fixed 8 bytes; its name (nameLength bytes) follows. */
export function decodeDirectoryEntry(b: Buffer): { readonly offset: number; readonly inodeDelta: number; readonly type: number; readonly nameLength: number } {
  return { offset: b.readUInt16LE(0), inodeDelta: b.readInt16LE(2), type: b.readUInt16LE(4), nameLength: b.readUInt16LE(6) + 1 };
}
