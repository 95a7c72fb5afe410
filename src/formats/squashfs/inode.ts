/**
 * Inode encoders, one per type: a 16-byte common header, then the type's fields. Basic types are
 * smaller; the extended ones carry what the basic ones cannot (64-bit sizes and positions, sparse
 * byte counts, link counts of regular files, directory indexes, xattr ids).
 */
import { InodeType, NO_XATTR } from './format.js';

export interface InodeHeader {
  /** Permission bits, setuid/setgid/sticky included; the file type is the inode type. */
  readonly mode: number;
  readonly uidIndex: number;
  readonly gidIndex: number;
  readonly mtime: number;
  /** 1..inode_count. */
  readonly inodeNumber: number;
}

const HEADER_SIZE = 16;

function header(type: number, h: InodeHeader, bodySize: number): Buffer {
  const b = Buffer.alloc(HEADER_SIZE + bodySize);
  b.writeUInt16LE(type, 0);
  b.writeUInt16LE(h.mode & 0o7777, 2);
  b.writeUInt16LE(h.uidIndex, 4);
  b.writeUInt16LE(h.gidIndex, 6);
  b.writeUInt32LE(h.mtime, 8);
  b.writeUInt32LE(h.inodeNumber, 12);
  return b;
}

export interface DirectoryInode {
  /** Compressed offset of the listing's first directory metadata block, and the offset in it. */
  readonly startBlock: number;
  readonly offset: number;
  /** 2 + number of subdirectories. */
  readonly nlink: number;
  /** Listing bytes + 3 (readers count the invented "." and ".."). */
  readonly fileSize: number;
  readonly parentInode: number;
}

export function encodeDirectoryInode(h: InodeHeader, d: DirectoryInode): Buffer {
  const b = header(InodeType.dir, h, 16);
  b.writeUInt32LE(d.startBlock, 16);
  b.writeUInt32LE(d.nlink, 20);
  b.writeUInt16LE(d.fileSize, 24);
  b.writeUInt16LE(d.offset, 26);
  b.writeUInt32LE(d.parentInode, 28);
  return b;
}

export interface DirectoryIndexEntry {
  /** Byte offset of a directory header from the start of this directory's listing. */
  readonly index: number;
  /** Compressed offset of the directory metadata block holding that header. */
  readonly start: number;
  /** Name of the first entry after that header. */
  readonly name: Buffer;
}

export function encodeExtDirectoryInode(h: InodeHeader, d: DirectoryInode & { readonly index: readonly DirectoryIndexEntry[] }): Buffer {
  const indexBytes = d.index.reduce((n, e) => n + 12 + e.name.length, 0);
  const b = header(InodeType.extDir, h, 24 + indexBytes);
  b.writeUInt32LE(d.nlink, 16);
  b.writeUInt32LE(d.fileSize, 20);
  b.writeUInt32LE(d.startBlock, 24);
  b.writeUInt32LE(d.parentInode, 28);
  b.writeUInt16LE(d.index.length, 32);
  b.writeUInt16LE(d.offset, 34);
  b.writeUInt32LE(NO_XATTR, 36);
  let at = 40;
  for (const e of d.index) {
    b.writeUInt32LE(e.index, at);
    b.writeUInt32LE(e.start, at + 4);
    b.writeUInt32LE(e.name.length - 1, at + 8);
    e.name.copy(b, at + 12);
    at += 12 + e.name.length;
  }
  return b;
}

export interface FileInode {
  /** Absolute position of the first stored data block (0 when there is none). */
  readonly startBlock: number;
  readonly fileSize: number;
  /** Fragment index, or NO_FRAGMENT. */
  readonly fragment: number;
  readonly fragmentOffset: number;
  /** One u32 per full block: stored size, DATA_UNCOMPRESSED bit, 0 = sparse. */
  readonly blockSizes: readonly number[];
  /** Bytes of the file held in sparse blocks. */
  readonly sparseBytes: number;
  readonly nlink: number;
}

/** Whether a regular file needs the extended inode: the basic one has 32-bit fields and no link count. */
export function fileNeedsExtended(f: FileInode): boolean {
  return f.nlink !== 1 || f.fileSize > 0xffffffff || f.startBlock > 0xffffffff || f.sparseBytes !== 0;
}

export function encodeFileInode(h: InodeHeader, f: FileInode): Buffer {
  const n = f.blockSizes.length;
  if (!fileNeedsExtended(f)) {
    const b = header(InodeType.file, h, 16 + 4 * n);
    b.writeUInt32LE(f.startBlock, 16);
    b.writeUInt32LE(f.fragment, 20);
    b.writeUInt32LE(f.fragmentOffset, 24);
    b.writeUInt32LE(f.fileSize, 28);
    f.blockSizes.forEach((s, i) => b.writeUInt32LE(s, 32 + 4 * i));
    return b;
  }
  const b = header(InodeType.extFile, h, 40 + 4 * n);
  b.writeBigUInt64LE(BigInt(f.startBlock), 16);
  b.writeBigUInt64LE(BigInt(f.fileSize), 24);
  b.writeBigUInt64LE(BigInt(f.sparseBytes), 32);
  b.writeUInt32LE(f.nlink, 40);
  b.writeUInt32LE(f.fragment, 44);
  b.writeUInt32LE(f.fragmentOffset, 48);
  b.writeUInt32LE(NO_XATTR, 52);
  f.blockSizes.forEach((s, i) => b.writeUInt32LE(s, 56 + 4 * i));
  return b;
}

export function encodeSymlinkInode(h: InodeHeader, s: { readonly nlink: number; readonly target: Buffer }): Buffer {
  const b = header(InodeType.symlink, h, 8 + s.target.length);
  b.writeUInt32LE(s.nlink, 16);
  b.writeUInt32LE(s.target.length, 20);
  s.target.copy(b, 24);
  return b;
}

export function encodeDeviceInode(h: InodeHeader, d: { readonly kind: 'block' | 'char'; readonly nlink: number; readonly rdev: number }): Buffer {
  const b = header(d.kind === 'block' ? InodeType.blockDevice : InodeType.charDevice, h, 8);
  b.writeUInt32LE(d.nlink, 16);
  b.writeUInt32LE(d.rdev, 20);
  return b;
}

export function encodeIpcInode(h: InodeHeader, p: { readonly kind: 'fifo' | 'socket'; readonly nlink: number }): Buffer {
  const b = header(p.kind === 'fifo' ? InodeType.fifo : InodeType.socket, h, 4);
  b.writeUInt32LE(p.nlink, 16);
  return b;
}


/*
 * Decoding. An inode is read in three steps, since its length depends on what it says: the
 * common header (its type), the type's fixed fields, then the variable tail (a file's block
 * list, a symlink's target, an extended directory's index), whose length the fixed fields give.
 */

export const INODE_HEADER_SIZE = HEADER_SIZE;

export interface DecodedInodeHeader extends InodeHeader {
  readonly type: number;
}

export function decodeInodeHeader(b: Buffer): DecodedInodeHeader {
  return { type: b.readUInt16LE(0), mode: b.readUInt16LE(2), uidIndex: b.readUInt16LE(4), gidIndex: b.readUInt16LE(6), mtime: b.readUInt32LE(8), inodeNumber: b.readUInt32LE(12) };
}

/** Bytes of the fixed fields after the header, per inode type; undefined for an unknown type. */
export function inodeFixedSize(type: number): number | undefined {
  switch (type) {
    case InodeType.dir:
      return 16;
    case InodeType.extDir:
      return 24;
    case InodeType.file:
      return 16;
    case InodeType.extFile:
      return 40;
    case InodeType.symlink:
    case InodeType.extSymlink:
    case InodeType.blockDevice:
    case InodeType.charDevice:
      return 8;
    case InodeType.extBlockDevice:
    case InodeType.extCharDevice:
      return 12;
    case InodeType.fifo:
    case InodeType.socket:
      return 4;
    case InodeType.extFifo:
    case InodeType.extSocket:
      return 8;
    default:
      return undefined;
  }
}

/** The basic type an extended one is listed under in directories (1..7). */
export function basicInodeType(type: number): number {
  return type >= InodeType.extDir ? type - 7 : type;
}

export type DecodedInodeBody =
  | ({ readonly kind: 'dir'; readonly indexCount: number; readonly xattr: number } & DirectoryInode)
  | ({ readonly kind: 'file'; readonly xattr: number } & Omit<FileInode, 'blockSizes'>)
  | { readonly kind: 'symlink'; readonly nlink: number; readonly targetLength: number }
  | { readonly kind: 'block' | 'char'; readonly nlink: number; readonly rdev: number; readonly xattr: number }
  | { readonly kind: 'fifo' | 'socket'; readonly nlink: number; readonly xattr: number };

/** The fixed fields of an inode of `type` (b holds inodeFixedSize(type) bytes). */
export function decodeInodeBody(type: number, b: Buffer): DecodedInodeBody {
  switch (type) {
    case InodeType.dir:
      return { kind: 'dir', startBlock: b.readUInt32LE(0), nlink: b.readUInt32LE(4), fileSize: b.readUInt16LE(8), offset: b.readUInt16LE(10), parentInode: b.readUInt32LE(12), indexCount: 0, xattr: NO_XATTR };
    case InodeType.extDir:
      return { kind: 'dir', nlink: b.readUInt32LE(0), fileSize: b.readUInt32LE(4), startBlock: b.readUInt32LE(8), parentInode: b.readUInt32LE(12), indexCount: b.readUInt16LE(16), offset: b.readUInt16LE(18), xattr: b.readUInt32LE(20) };
    case InodeType.file:
      return { kind: 'file', startBlock: b.readUInt32LE(0), fragment: b.readUInt32LE(4), fragmentOffset: b.readUInt32LE(8), fileSize: b.readUInt32LE(12), sparseBytes: 0, nlink: 1, xattr: NO_XATTR };
    case InodeType.extFile:
      return {
        kind: 'file',
        startBlock: Number(b.readBigUInt64LE(0)),
        fileSize: Number(b.readBigUInt64LE(8)),
        sparseBytes: Number(b.readBigUInt64LE(16)),
        nlink: b.readUInt32LE(24),
        fragment: b.readUInt32LE(28),
        fragmentOffset: b.readUInt32LE(32),
        xattr: b.readUInt32LE(36),
      };
    case InodeType.symlink:
    case InodeType.extSymlink:
      return { kind: 'symlink', nlink: b.readUInt32LE(0), targetLength: b.readUInt32LE(4) };
    case InodeType.blockDevice:
    case InodeType.extBlockDevice:
    case InodeType.charDevice:
    case InodeType.extCharDevice:
      return { kind: basicInodeType(type) === InodeType.blockDevice ? 'block' : 'char', nlink: b.readUInt32LE(0), rdev: b.readUInt32LE(4), xattr: type === InodeType.extBlockDevice || type === InodeType.extCharDevice ? b.readUInt32LE(8) : NO_XATTR };
    case InodeType.fifo:
    case InodeType.extFifo:
    case InodeType.socket:
    case InodeType.extSocket:
      return { kind: basicInodeType(type) === InodeType.fifo ? 'fifo' : 'socket', nlink: b.readUInt32LE(0), xattr: type === InodeType.extFifo || type === InodeType.extSocket ? b.readUInt32LE(4) : NO_XATTR };
    default:
      throw new RangeError(`unknown inode type ${type}`);
  }
}

/** An extended directory's index entry: its fixed 12 bytes (the name, nameLength bytes, follows). */
export const DIRECTORY_INDEX_SIZE = 12;

export function decodeDirectoryIndexEntry(b: Buffer): { readonly index: number; readonly start: number; readonly nameLength: number } {
  return { index: b.readUInt32LE(0), start: b.readUInt32LE(4), nameLength: b.readUInt32LE(8) + 1 };
}
