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

