/**
 * The lookup tables after the directory table: fragment, export and ID. Each is an array of
 * fixed-size entries stored as metadata blocks, followed by an uncompressed array of u64
 * absolute positions of those blocks; the superblock points at that index array, which the
 * kernel checks to end exactly where the next table begins.
 */
import { METADATA_SIZE, packRef, type MetadataRef } from './format.js';
import { MetadataWriter, type BlockCompressor } from './metadata.js';

export interface FragmentEntry {
  /** Absolute position of the fragment block. */
  readonly start: number;
  /** Stored size, with DATA_UNCOMPRESSED set when stored raw. */
  readonly size: number;
}

export function encodeFragmentEntries(entries: readonly FragmentEntry[]): Buffer {
  const b = Buffer.alloc(entries.length * 16);
  entries.forEach((e, i) => {
    b.writeBigUInt64LE(BigInt(e.start), i * 16);
    b.writeUInt32LE(e.size, i * 16 + 8);
  });
  return b;
}

export const FRAGMENT_ENTRY_SIZE = 16;

export function decodeFragmentEntry(b: Buffer, at: number): FragmentEntry {
  return { start: Number(b.readBigUInt64LE(at)), size: b.readUInt32LE(at + 8) };
}

/** One inode reference per inode number (entry i is inode i + 1), for NFS export. */
export function encodeExportEntries(refs: readonly MetadataRef[]): Buffer {
  const b = Buffer.alloc(refs.length * 8);
  refs.forEach((r, i) => b.writeBigUInt64LE(packRef(r), i * 8));
  return b;
}

export const ID_ENTRY_SIZE = 4;

export function decodeIdEntry(b: Buffer, at: number): number {
  return b.readUInt32LE(at);
}

export function encodeIdEntries(ids: readonly number[]): Buffer {
  const b = Buffer.alloc(ids.length * 4);
  ids.forEach((id, i) => b.writeUInt32LE(id, i * 4));
  return b;
}

export interface LookupTable {
  /** The metadata blocks, then the index array. */
  readonly bytes: Buffer;
  /** Absolute position of the index array (what the superblock records). */
  readonly indexStart: number;
}

/** How many metadata blocks (and index array entries) a lookup table of `count` entries has. */
export function lookupTableBlocks(count: number, entrySize: number): number {
  return Math.ceil((count * entrySize) / METADATA_SIZE);
}

/** Stores `entries` as a lookup table whose first byte lands at absolute position `start`. */
export function encodeLookupTable(entries: Buffer, start: number, compress: BlockCompressor): LookupTable {
  const writer = new MetadataWriter(compress);
  const blockStarts: number[] = [];
  for (let off = 0; off < entries.length; off += 8192) {
    blockStarts.push(writer.position.block);
    writer.append(entries.subarray(off, off + 8192));
  }
  const blocks = writer.finish();
  const index = Buffer.alloc(blockStarts.length * 8);
  blockStarts.forEach((s, i) => index.writeBigUInt64LE(BigInt(start + s), i * 8));
  return { bytes: Buffer.concat([blocks, index]), indexStart: start + blocks.length };
}
