/** The 96-byte superblock at offset 0, written last, once every table position is known. */
import { BLOCK_LOG, BLOCK_SIZE, SQUASHFS_MAGIC, SUPERBLOCK_SIZE, VERSION_MAJOR, VERSION_MINOR } from './format.js';

const ABSENT = 0xffffffffffffffffn;

export interface Superblock {
  readonly inodeCount: number;
  readonly mkfsTime: number;
  readonly blockSize: number;
  readonly fragmentCount: number;
  readonly compressionId: number;
  readonly flags: number;
  readonly idCount: number;
  readonly rootInode: bigint;
  /** End of the last table, before padding. */
  readonly bytesUsed: number;
  /** Positions of the ID, fragment and export index arrays and of the inode and directory tables. */
  readonly idTableStart: number;
  /** undefined: no xattrs (all-ones on disk). */
  readonly xattrIdTableStart?: number;
  readonly inodeTableStart: number;
  readonly directoryTableStart: number;
  readonly fragmentTableStart: number;
  /** undefined: no export table (all-ones on disk). */
  readonly exportTableStart?: number;
}

export function encodeSuperblock(sb: Superblock): Buffer {
  const b = Buffer.alloc(SUPERBLOCK_SIZE);
  b.writeUInt32LE(SQUASHFS_MAGIC, 0);
  b.writeUInt32LE(sb.inodeCount, 4);
  b.writeUInt32LE(sb.mkfsTime, 8);
  b.writeUInt32LE(sb.blockSize, 12);
  b.writeUInt32LE(sb.fragmentCount, 16);
  b.writeUInt16LE(sb.compressionId, 20);
  b.writeUInt16LE(blockLog(sb.blockSize), 22);
  b.writeUInt16LE(sb.flags, 24);
  b.writeUInt16LE(sb.idCount, 26);
  b.writeUInt16LE(VERSION_MAJOR, 28);
  b.writeUInt16LE(VERSION_MINOR, 30);
  b.writeBigUInt64LE(sb.rootInode, 32);
  b.writeBigUInt64LE(BigInt(sb.bytesUsed), 40);
  b.writeBigUInt64LE(BigInt(sb.idTableStart), 48);
  b.writeBigUInt64LE(sb.xattrIdTableStart === undefined ? ABSENT : BigInt(sb.xattrIdTableStart), 56);
  b.writeBigUInt64LE(BigInt(sb.inodeTableStart), 64);
  b.writeBigUInt64LE(BigInt(sb.directoryTableStart), 72);
  b.writeBigUInt64LE(BigInt(sb.fragmentTableStart), 80);
  b.writeBigUInt64LE(sb.exportTableStart === undefined ? ABSENT : BigInt(sb.exportTableStart), 88);
  return b;
}

export function decodeSuperblock(b: Buffer): Superblock & { blockLog: number; versionMajor: number; versionMinor: number } {
  if (b.length < SUPERBLOCK_SIZE || b.readUInt32LE(0) !== SQUASHFS_MAGIC) throw new Error('not a squashfs image (bad magic)');
  const optional = (off: number) => {
    const v = b.readBigUInt64LE(off);
    return v === ABSENT ? undefined : Number(v);
  };
  return {
    inodeCount: b.readUInt32LE(4),
    mkfsTime: b.readUInt32LE(8),
    blockSize: b.readUInt32LE(12),
    fragmentCount: b.readUInt32LE(16),
    compressionId: b.readUInt16LE(20),
    blockLog: b.readUInt16LE(22),
    flags: b.readUInt16LE(24),
    idCount: b.readUInt16LE(26),
    versionMajor: b.readUInt16LE(28),
    versionMinor: b.readUInt16LE(30),
    rootInode: b.readBigUInt64LE(32),
    bytesUsed: Number(b.readBigUInt64LE(40)),
    idTableStart: Number(b.readBigUInt64LE(48)),
    xattrIdTableStart: optional(56),
    inodeTableStart: Number(b.readBigUInt64LE(64)),
    directoryTableStart: Number(b.readBigUInt64LE(72)),
    fragmentTableStart: Number(b.readBigUInt64LE(80)),
    exportTableStart: optional(88),
  };
}

function blockLog(size: number): number {
  const log = Math.log2(size);
  if (!Number.isInteger(log) || size < 4096 || size > 1 << 20) throw new Error(`invalid squashfs block size ${size}`);
  return size === BLOCK_SIZE ? BLOCK_LOG : log;
}
