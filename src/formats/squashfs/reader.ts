/**
 * Reads a squashfs 4.0 image through positioned reads of its file (never the whole image in
 * memory): the superblock, the entries in sorted pre-order, and each regular file's content.
 * The image is untrusted: every position and length is checked against the file and against the
 * structure that holds it before it is read, and sizes against what the file could hold before
 * anything is allocated for them; every failure is an ImageFormatError naming the structure and
 * the byte offset.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { blockDecompressor, type BlockDecompressor, type DecompressorName } from '../../compress/decompress.js';
import { decodeRdev } from '../entry-limits.js';
import { ImageFormatError } from '../errors.js';
import { readFully, showImagePath } from '../file-read.js';
import type { ImageDescription, ImageEntry, ImageReader, ImageRegion, ImageXattr } from '../image-reader.js';
import { blockCount, decodeStoredSize } from './data.js';
import { decodeDirectoryEntry, decodeDirectoryHeader, DIRECTORY_ENTRY_SIZE, DIRECTORY_HEADER_SIZE } from './directory.js';
import { DIR_HEADER_MAX_ENTRIES, Flag, InodeType, MAX_NAME, MAX_SYMLINK, METADATA_SIZE, NO_FRAGMENT, NO_XATTR, SQUASHFS_MAGIC, SUPERBLOCK_SIZE, unpackRef, type MetadataRef } from './format.js';
import { basicInodeType, decodeInodeBody, decodeInodeHeader, INODE_HEADER_SIZE, inodeFixedSize } from './inode.js';
import { decodeMetadataHeader } from './metadata.js';
import { decodeSuperblock } from './superblock.js';
import { decodeFragmentEntry, decodeIdEntry, FRAGMENT_ENTRY_SIZE, ID_ENTRY_SIZE, lookupTableBlocks } from './tables.js';
import {
  decodeXattrIdEntry,
  decodeXattrIdTableHeader,
  decodeXattrKey,
  XATTR_COUNT_MAX,
  XATTR_ID_ENTRY_SIZE,
  XATTR_ID_TABLE_HEADER_SIZE,
  XATTR_KEY_SIZE,
  XATTR_NAMES_MAX,
  XATTR_PREFIXES,
  XATTR_VALUE_HEADER_SIZE,
  XATTR_VALUE_MAX,
} from './xattrs.js';

export type SquashfsSuperblock = ReturnType<typeof decodeSuperblock>;


/** Where a regular file's bytes are. */
export interface SquashfsFileLayout {
  readonly startBlock: number;
  /** As stored: length with the uncompressed bit; 0 is a hole. */
  readonly blockSizes: readonly number[];
  /** Fragment index, or NO_FRAGMENT. */
  readonly fragment: number;
  readonly fragmentOffset: number;
}

export interface SquashfsEntry extends ImageEntry {
  readonly file?: SquashfsFileLayout;
  /** Position of the inode in the inode table. */
  readonly inode: MetadataRef;
}

const COMPRESSORS: Record<number, string> = { 1: 'gzip', 2: 'lzma', 3: 'lzo', 4: 'xz', 5: 'lz4', 6: 'zstd' };
const READABLE = new Set<string>(['gzip', 'xz', 'lz4', 'zstd']);
/** Metadata blocks kept decompressed per table. */
const CACHE_BLOCKS = 256;

const hex = (n: number) => `0x${n.toString(16)}`;

export class SquashfsReader implements ImageReader {
  readonly family = 'squashfs' as const;
  private readonly inodes: MetadataTable;
  private readonly directories: MetadataTable;
  private readonly lookups: MetadataTable;
  private ids: number[] = [];
  private fragmentCache?: { index: number; data: Buffer };
  private xattrTable?: { kvStart: number; count: number; kv: MetadataTable };
  /** Decoded xattr lists by id (mksquashfs shares one id among inodes with equal lists). */
  private readonly xattrCache = new Map<number, ImageXattr[]>();
  private compressorOptions: Record<string, number | string | boolean> = {};
  /** End of the compressor options block (the superblock's end without one). */
  private optionsEnd = SUPERBLOCK_SIZE;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    readonly fileSize: number,
    readonly superblock: SquashfsSuperblock,
    readonly compressor: string,
    private readonly decompress: BlockDecompressor,
  ) {
    const sb = superblock;
    const later = [sb.fragmentCount ? sb.fragmentTableStart : undefined, sb.exportTableStart, sb.idTableStart, sb.xattrIdTableStart].filter((p): p is number => p !== undefined && p > sb.directoryTableStart);
    const directoryEnd = Math.min(sb.bytesUsed, ...later);
    this.inodes = new MetadataTable(this, 'inode table', sb.inodeTableStart, sb.inodeTableStart, sb.directoryTableStart);
    this.directories = new MetadataTable(this, 'directory table', sb.directoryTableStart, sb.directoryTableStart, directoryEnd);
    this.lookups = new MetadataTable(this, 'lookup table', 0, SUPERBLOCK_SIZE, sb.bytesUsed);
  }

  static async open(path: string): Promise<SquashfsReader> {
    const fh = await open(path, 'r');
    try {
      const fileSize = (await fh.stat()).size;
      const fail = (offset: number, detail: string) => new ImageFormatError(`squashfs image ${path}`, 'superblock', offset, detail);
      if (fileSize < SUPERBLOCK_SIZE) throw fail(0, `the file is ${fileSize} bytes, shorter than the ${SUPERBLOCK_SIZE}-byte superblock`);
      const head = Buffer.alloc(SUPERBLOCK_SIZE);
      await fh.read(head, 0, SUPERBLOCK_SIZE, 0);
      if (head.readUInt32LE(0) !== SQUASHFS_MAGIC) throw fail(0, `bad magic ${hex(head.readUInt32LE(0))}, not a squashfs image`);
      const sb = decodeSuperblock(head);
      if (sb.versionMajor !== 4 || sb.versionMinor !== 0) throw fail(28, `version ${sb.versionMajor}.${sb.versionMinor}, only 4.0 is read`);
      const compressor = COMPRESSORS[sb.compressionId];
      if (!compressor || !READABLE.has(compressor))
        throw fail(20, `squashfs compressor ${compressor ?? 'unknown'} (id ${sb.compressionId}) is not supported for reading`);
      if (sb.blockSize < 4096 || sb.blockSize > 1 << 20 || (sb.blockSize & (sb.blockSize - 1)) !== 0) throw fail(12, `block size ${sb.blockSize} is not a power of two from 4 KiB to 1 MiB`);
      if (1 << sb.blockLog !== sb.blockSize) throw fail(22, `block_log ${sb.blockLog} does not match block size ${sb.blockSize}`);
      if (sb.bytesUsed > fileSize) throw fail(40, `bytes_used says ${sb.bytesUsed} bytes, the file is ${fileSize} (truncated?)`);
      if (sb.inodeCount < 1) throw fail(4, 'no inodes');
      if (sb.idCount < 1) throw fail(26, 'no uid/gid ids');
      const tables: [string, number, number | undefined][] = [
        ['inode table', 64, sb.inodeTableStart],
        ['directory table', 72, sb.directoryTableStart],
        ['id table', 48, sb.idTableStart],
        ['fragment table', 80, sb.fragmentCount ? sb.fragmentTableStart : undefined],
        ['export table', 88, sb.exportTableStart],
        ['xattr id table', 56, sb.xattrIdTableStart],
      ];
      for (const [name, at, start] of tables)
        if (start !== undefined && (start < SUPERBLOCK_SIZE || start >= sb.bytesUsed)) throw fail(at, `${name} start ${hex(start)} outside the image's ${sb.bytesUsed} bytes`);
      if (sb.directoryTableStart <= sb.inodeTableStart) throw fail(72, `directory table start ${hex(sb.directoryTableStart)} is not after the inode table's ${hex(sb.inodeTableStart)}`);
      const decompress = await blockDecompressor(compressor as DecompressorName);
      const reader = new SquashfsReader(path, fh, fileSize, sb, compressor, decompress);
      reader.ids = await reader.readIds();
      if (sb.flags & Flag.COMPRESSOR_OPTIONS) await reader.readCompressorOptions();
      return reader;
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
  }

  /** `squashfs image PATH: STRUCTURE at 0xOFFSET: DETAIL`. */
  error(structure: string, offset: number, detail: string, cause?: unknown): ImageFormatError {
    return new ImageFormatError(`squashfs image ${this.path}`, structure, offset, detail, cause === undefined ? undefined : { cause });
  }

  /** Exactly `length` bytes at `position`, which must lie inside [low, high). */
  async readAt(structure: string, position: number, length: number, high = this.superblock.bytesUsed): Promise<Buffer> {
    if (position < 0 || length < 0 || position + length > high || position + length > this.fileSize)
      throw this.error(structure, position, `${length} bytes here would end at ${hex(position + length)}, past ${hex(Math.min(high, this.fileSize))}`);
    const b = Buffer.alloc(length);
    await readFully(this.fh, b, position).catch((e: unknown) => {
      throw this.error(structure, position, 'the file ended while reading', e);
    });
    return b;
  }

  /** Decompresses one block (metadata or data) of at most `limit` bytes, naming it on failure. */
  inflate(structure: string, position: number, bytes: Buffer, limit: number): Buffer {
    let out: Buffer;
    try {
      out = this.decompress(bytes, limit);
    } catch (e) {
      throw this.error(structure, position, `${this.compressor} data does not decompress (${e instanceof Error ? e.message : String(e)})`, e);
    }
    if (out.length > limit) throw this.error(structure, position, `decompresses to ${out.length} bytes, more than ${limit}`);
    return out;
  }

  /** Every entry, the root first, each directory followed by its children sorted by name (pre-order). */
  async *entries(): AsyncGenerator<SquashfsEntry> {
    const sb = this.superblock;
    const seenDirectories = new Set<number>();
    const stack: { name: Buffer; path: Buffer; ref: MetadataRef; listedType?: number; number?: number }[] = [{ name: Buffer.alloc(0), path: Buffer.alloc(0), ref: unpackRef(sb.rootInode) }];
    while (stack.length) {
      const item = stack.pop()!;
      const { entry, listing } = await this.inode(item.ref, item.path);
      const at = this.inodes.absolute(item.ref);
      if (item.listedType !== undefined && item.listedType !== basicInodeType(entry.typeId))
        throw this.error('inode table block', at, `${show(item.path)}: the directory lists type ${item.listedType}, the inode is type ${entry.typeId}`);
      if (item.number !== undefined && item.number !== entry.inodeNumber)
        throw this.error('inode table block', at, `${show(item.path)}: the directory says inode ${item.number}, the inode says ${entry.inodeNumber}`);
      const { typeId: _typeId, ...visible } = entry;
      yield visible;
      if (!listing) continue;
      if (seenDirectories.has(entry.inodeNumber)) throw this.error('directory table block', this.directories.absolute(listing.ref), `${show(item.path)}: directory inode ${entry.inodeNumber} reached twice (a directory loop)`);
      seenDirectories.add(entry.inodeNumber);
      const children = await this.listing(item.path, listing.ref, listing.length);
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
    }
  }

  /** The decompressed content of a regular file, block by block (holes as zeros). */
  async *content(entry: SquashfsEntry): AsyncGenerator<Buffer> {
    const f = entry.file;
    if (!f) throw new TypeError(`${show(entry.path)} is not a regular file`);
    const bs = this.superblock.blockSize;
    let position = f.startBlock;
    let remaining = entry.size;
    for (const stored of f.blockSizes) {
      const want = Math.min(bs, remaining);
      const { length, compressed } = decodeStoredSize(stored);
      if (length === 0) {
        yield Buffer.alloc(want);
      } else {
        if (length > bs) throw this.error('data block', position, `${show(entry.path)}: stored size ${length} is more than the block size ${bs}`);
        const raw = await this.readAt('data block', position, length);
        const data = compressed ? this.inflate('data block', position, raw, bs) : raw;
        if (data.length !== want) throw this.error('data block', position, `${show(entry.path)}: block holds ${data.length} bytes, the file needs ${want} here`);
        position += length;
        yield data;
      }
      remaining -= want;
    }
    if (remaining === 0) return;
    if (f.fragment === NO_FRAGMENT) throw this.error('inode table block', this.inodes.absolute(entry.inode), `${show(entry.path)}: ${remaining} bytes past the block list and no fragment`);
    const block = await this.fragmentBlock(f.fragment);
    if (f.fragmentOffset + remaining > block.length)
      throw this.error('fragment block', f.fragmentOffset, `${show(entry.path)}: tail of ${remaining} bytes at offset ${f.fragmentOffset} is past the fragment's ${block.length} bytes`);
    yield block.subarray(f.fragmentOffset, f.fragmentOffset + remaining);
  }

  private async inode(ref: MetadataRef, path: Buffer): Promise<{ entry: SquashfsEntry & { typeId: number }; listing?: { ref: MetadataRef; length: number } }> {
    const sb = this.superblock;
    const at = this.inodes.absolute(ref);
    const fail = (detail: string) => this.error('inode table block', at, `inode at offset ${ref.offset} (${show(path)}): ${detail}`);
    const [headBytes, afterHead] = await this.inodes.read(ref, INODE_HEADER_SIZE);
    const head = decodeInodeHeader(headBytes);
    const fixed = inodeFixedSize(head.type);
    if (fixed === undefined) throw fail(`unknown inode type ${head.type}`);
    if (head.inodeNumber < 1 || head.inodeNumber > sb.inodeCount) throw fail(`inode number ${head.inodeNumber} outside 1..${sb.inodeCount}`);
    const uid = this.ids[head.uidIndex];
    const gid = this.ids[head.gidIndex];
    if (uid === undefined || gid === undefined) throw fail(`uid/gid index ${head.uidIndex}/${head.gidIndex} outside the id table's ${this.ids.length}`);
    const [bodyBytes, afterBody] = await this.inodes.read(afterHead, fixed);
    const body = decodeInodeBody(head.type, bodyBytes);
    let xattrIndex = body.kind === 'symlink' ? NO_XATTR : body.xattr;
    if (body.kind === 'symlink' && head.type === InodeType.extSymlink) {
      if (body.targetLength > MAX_SYMLINK) throw fail(`symlink target of ${body.targetLength} bytes, more than ${MAX_SYMLINK}`);
      const [, afterTarget] = await this.inodes.read(afterBody, body.targetLength);
      xattrIndex = (await this.inodes.read(afterTarget, 4))[0].readUInt32LE(0);
    }
    const xattrs = xattrIndex === NO_XATTR ? [] : await this.xattrList(xattrIndex, at, path);
    const base = { name: path.subarray(path.lastIndexOf(0x2f) + 1), path, mode: head.mode & 0o7777, uid, gid, mtime: head.mtime, mtimeNsec: 0, xattrs, inodeNumber: head.inodeNumber, inode: ref, typeId: head.type };
    switch (body.kind) {
      case 'dir': {
        if (body.fileSize < 3) throw fail(`directory size ${body.fileSize} is less than 3`);
        if (body.offset >= METADATA_SIZE) throw fail(`listing offset ${body.offset} is past a metadata block`);
        return {
          entry: { ...base, type: 'dir', nlink: body.nlink, size: body.fileSize },
          listing: { ref: { block: body.startBlock, offset: body.offset }, length: body.fileSize - 3 },
        };
      }
      case 'file': {
        const n = blockCount(body.fileSize, sb.blockSize, body.fragment);
        if (body.fragment !== NO_FRAGMENT && body.fragment >= sb.fragmentCount) throw fail(`fragment ${body.fragment} outside the image's ${sb.fragmentCount}`);
        if (!Number.isSafeInteger(body.fileSize)) throw fail(`file size ${body.fileSize} is absurd`);
        const [list] = await this.inodes.read(afterBody, 4 * n);
        const blockSizes = Array.from({ length: n }, (_, i) => list.readUInt32LE(4 * i));
        const file = { startBlock: body.startBlock, blockSizes, fragment: body.fragment, fragmentOffset: body.fragmentOffset };
        return { entry: { ...base, type: 'file', nlink: body.nlink, size: body.fileSize, file } };
      }
      case 'symlink': {
        if (body.targetLength > MAX_SYMLINK) throw fail(`symlink target of ${body.targetLength} bytes, more than ${MAX_SYMLINK}`);
        const [target] = await this.inodes.read(afterBody, body.targetLength);
        return { entry: { ...base, type: 'symlink', nlink: body.nlink, size: target.length, target } };
      }
      case 'block':
      case 'char':
        return { entry: { ...base, type: body.kind === 'block' ? 'block-device' : 'char-device', nlink: body.nlink, size: 0, rdev: decodeRdev(body.rdev) } };
      case 'fifo':
      case 'socket':
        return { entry: { ...base, type: body.kind, nlink: body.nlink, size: 0 } };
    }
  }

  private async listing(dirPath: Buffer, ref: MetadataRef, length: number): Promise<{ name: Buffer; path: Buffer; ref: MetadataRef; listedType: number; number: number }[]> {
    const at = this.directories.absolute(ref);
    const fail = (detail: string) => this.error('directory table block', at, `listing of ${show(dirPath)} at offset ${ref.offset}: ${detail}`);
    const [bytes] = await this.directories.read(ref, length);
    const children: { name: Buffer; path: Buffer; ref: MetadataRef; listedType: number; number: number }[] = [];
    let p = 0;
    while (p < bytes.length) {
      if (p + DIRECTORY_HEADER_SIZE > bytes.length) throw fail(`header at byte ${p} cut off by the listing's end`);
      const h = decodeDirectoryHeader(bytes.subarray(p, p + DIRECTORY_HEADER_SIZE));
      if (h.count > DIR_HEADER_MAX_ENTRIES) throw fail(`header at byte ${p} says ${h.count} entries, more than ${DIR_HEADER_MAX_ENTRIES}`);
      p += DIRECTORY_HEADER_SIZE;
      for (let i = 0; i < h.count; i++) {
        if (p + DIRECTORY_ENTRY_SIZE > bytes.length) throw fail(`entry at byte ${p} cut off by the listing's end`);
        const e = decodeDirectoryEntry(bytes.subarray(p, p + DIRECTORY_ENTRY_SIZE));
        p += DIRECTORY_ENTRY_SIZE;
        if (e.nameLength > MAX_NAME) throw fail(`name of ${e.nameLength} bytes, more than ${MAX_NAME}`);
        if (p + e.nameLength > bytes.length) throw fail(`name at byte ${p} cut off by the listing's end`);
        const name = Buffer.from(bytes.subarray(p, p + e.nameLength));
        p += e.nameLength;
        if (name.includes(0x2f) || name.includes(0) || name.equals(DOT) || name.equals(DOTDOT)) throw fail(`invalid name ${show(name)}`);
        const previous = children[children.length - 1];
        if (previous && Buffer.compare(previous.name, name) >= 0) throw fail(`${show(name)} is not after ${show(previous.name)} (names must be sorted and unique)`);
        if (e.type < 1 || e.type > 7) throw fail(`${show(name)} has type ${e.type}`);
        const number = h.inodeNumber + e.inodeDelta;
        if (number < 1 || number > this.superblock.inodeCount) throw fail(`${show(name)} has inode number ${number}, outside 1..${this.superblock.inodeCount}`);
        if (e.offset >= METADATA_SIZE) throw fail(`${show(name)} has inode offset ${e.offset}, past a metadata block`);
        const path = dirPath.length ? Buffer.concat([dirPath, SLASH, name]) : name;
        children.push({ name, path, ref: { block: h.startBlock, offset: e.offset }, listedType: e.type, number });
      }
    }
    return children;
  }

  /** The extended attributes of xattr id `index`, sorted by full name. */
  private async xattrList(index: number, inodeAt: number, path: Buffer): Promise<ImageXattr[]> {
    const cached = this.xattrCache.get(index);
    if (cached) return cached;
    const sb = this.superblock;
    if (sb.xattrIdTableStart === undefined) throw this.error('inode table block', inodeAt, `${show(path)}: xattr id ${index}, but the image has no xattr table`);
    const table = await this.xattrs();
    if (index >= table.count) throw this.error('inode table block', inodeAt, `${show(path)}: xattr id ${index} outside the xattr table's ${table.count}`);
    const indexStart = sb.xattrIdTableStart + XATTR_ID_TABLE_HEADER_SIZE;
    const id = decodeXattrIdEntry(await this.lookupEntries('xattr id table', indexStart, table.count, XATTR_ID_ENTRY_SIZE, index, 1));
    let at = unpackRef(id.ref);
    const list: ImageXattr[] = [];
    const fail = (detail: string) => this.error('xattr table block', table.kv.absolute(at), `xattr id ${index}: ${detail}`);
    // What Linux cannot list or hold is refused before it is read: a few bytes of compressed
    // stream must not become millions of attributes.
    if (id.count > XATTR_COUNT_MAX) throw fail(`${id.count} attributes, more than the ${XATTR_COUNT_MAX} whose names Linux lists (${XATTR_NAMES_MAX} bytes, XATTR_LIST_MAX)`);
    let namesLength = 0;
    for (let i = 0; i < id.count; i++) {
      const [keyBytes, afterKey] = await table.kv.read(at, XATTR_KEY_SIZE);
      const key = decodeXattrKey(keyBytes);
      const prefix = XATTR_PREFIXES[key.prefix];
      if (prefix === undefined || (key.type & ~0x1ff) !== 0) throw fail(`key ${i} has type 0x${key.type.toString(16)}, not user., trusted. or security.`);
      namesLength += prefix.length + key.nameLength + 1;
      if (namesLength > XATTR_NAMES_MAX) throw fail(`key ${i}: the names come to more than the ${XATTR_NAMES_MAX} bytes Linux lists (XATTR_LIST_MAX)`);
      const [name, afterName] = await table.kv.read(afterKey, key.nameLength);
      const [sizeBytes, afterSize] = await table.kv.read(afterName, XATTR_VALUE_HEADER_SIZE);
      const size = sizeBytes.readUInt32LE(0);
      if (size > XATTR_VALUE_MAX) throw fail(`key ${i}'s value is ${size} bytes, more than Linux's ${XATTR_VALUE_MAX} (XATTR_SIZE_MAX)`);
      let value: Buffer;
      [value, at] = await table.kv.read(afterSize, size);
      if (key.outOfLine) {
        if (size !== 8) throw fail(`key ${i}'s out-of-line value is ${size} bytes, not an 8-byte reference`);
        const [realSize, afterRealSize] = await table.kv.read(unpackRef(value.readBigUInt64LE(0)), XATTR_VALUE_HEADER_SIZE);
        const length = realSize.readUInt32LE(0);
        if (length > XATTR_VALUE_MAX) throw fail(`key ${i}'s out-of-line value is ${length} bytes, more than Linux's ${XATTR_VALUE_MAX} (XATTR_SIZE_MAX)`);
        [value] = await table.kv.read(afterRealSize, length);
      }
      list.push({ name: Buffer.concat([Buffer.from(prefix), name]), value });
    }
    list.sort((a, b) => Buffer.compare(a.name, b.name));
    if (this.xattrCache.size >= CACHE_BLOCKS) this.xattrCache.clear();
    this.xattrCache.set(index, list);
    return list;
  }

  /** The xattr id table's header, read once. */
  private async xattrs(): Promise<{ kvStart: number; count: number; kv: MetadataTable }> {
    if (this.xattrTable) return this.xattrTable;
    const start = this.superblock.xattrIdTableStart!;
    const head = decodeXattrIdTableHeader(await this.readAt('xattr id table', start, XATTR_ID_TABLE_HEADER_SIZE));
    if (head.kvStart < this.superblock.directoryTableStart || head.kvStart >= start)
      throw this.error('xattr id table', start, `key/value start ${hex(head.kvStart)} is not between the directory table and this table`);
    if (head.count < 1) throw this.error('xattr id table', start + 8, 'no xattr ids');
    this.xattrTable = { kvStart: head.kvStart, count: head.count, kv: new MetadataTable(this, 'xattr table', head.kvStart, head.kvStart, start) };
    return this.xattrTable;
  }

  /** The options block after the superblock (one metadata block, stored uncompressed). */
  private async readCompressorOptions(): Promise<void> {
    const at = SUPERBLOCK_SIZE;
    const { length, compressed } = decodeMetadataHeader((await this.readAt('compressor options', at, 2)).readUInt16LE(0));
    if (length === 0 || length > 64) throw this.error('compressor options', at, `header says ${length} bytes; the options of every compressor fit in 64`);
    const raw = await this.readAt('compressor options', at + 2, length);
    const b = compressed ? this.inflate('compressor options', at, raw, METADATA_SIZE) : raw;
    const need = (n: number) => {
      if (b.length < n) throw this.error('compressor options', at, `${this.compressor} options need ${n} bytes, the block holds ${b.length}`);
    };
    const o: Record<string, number | string | boolean> = {};
    switch (this.compressor) {
      case 'gzip':
        need(8);
        Object.assign(o, { level: b.readUInt32LE(0), windowBits: b.readUInt16LE(4), strategies: b.readUInt16LE(6) });
        break;
      case 'xz':
        need(8);
        Object.assign(o, { dictionarySize: b.readUInt32LE(0), executableFilters: b.readUInt32LE(4) });
        break;
      case 'lz4':
        need(8);
        Object.assign(o, { version: b.readUInt32LE(0), hc: (b.readUInt32LE(4) & 1) === 1 });
        break;
      case 'zstd':
        need(4);
        o.level = b.readUInt32LE(0);
        break;
    }
    this.compressorOptions = o;
    this.optionsEnd = at + 2 + length;
  }

  describe(): ImageDescription {
    const sb = this.superblock;
    const { rootInode, ...fields } = sb;
    const superblock: Record<string, number | string | boolean> = { rootInode: `0x${rootInode.toString(16)}` };
    for (const [k, v] of Object.entries(fields)) superblock[k] = v === undefined ? 'none' : (v as number);
    return {
      family: 'squashfs',
      compressor: this.compressor,
      compressorOptions: this.compressorOptions,
      blockSize: sb.blockSize,
      bytesUsed: sb.bytesUsed,
      fileSize: this.fileSize,
      inodeCount: sb.inodeCount,
      time: sb.mkfsTime,
      timeNsec: 0,
      features: FLAG_NAMES.filter(([bit]) => sb.flags & bit).map(([, name]) => name),
      kernelMin: { version: KERNEL_MIN[this.compressor]!, because: `squashfs 4.0 with ${this.compressor}` },
      superblock,
    };
  }

  async layout(): Promise<ImageRegion[]> {
    const regions = await this.regions();
    // Deduplicated files share their blocks with the first: only that one is named. Any other
    // overlap is checkStructures()' to report.
    regions.sort((a, b) => a.start - b.start || b.end - a.end);
    const out: ImageRegion[] = [];
    for (const r of regions) if (!out.length || r.start >= out[out.length - 1]!.end) out.push(r);
    return out;
  }

  /** Every structure, unsorted, each checked to end inside the filesystem; `onEntry` sees every entry. */
  private async regions(onEntry?: (e: SquashfsEntry) => void): Promise<ImageRegion[]> {
    const sb = this.superblock;
    const regions: ImageRegion[] = [{ start: 0, end: SUPERBLOCK_SIZE, what: 'superblock' }];
    if (this.optionsEnd > SUPERBLOCK_SIZE) regions.push({ start: SUPERBLOCK_SIZE, end: this.optionsEnd, what: 'compressor options' });
    for await (const e of this.entries()) {
      onEntry?.(e);
      if (!e.file) continue;
      const length = e.file.blockSizes.reduce((n, stored) => n + decodeStoredSize(stored).length, 0);
      if (length) regions.push({ start: e.file.startBlock, end: e.file.startBlock + length, what: `data of /${e.path.toString('utf8')}` });
    }
    for (let i = 0; i < sb.fragmentCount; i++) {
      const f = decodeFragmentEntry(await this.lookupEntries('fragment table', sb.fragmentTableStart, sb.fragmentCount, FRAGMENT_ENTRY_SIZE, i, 1), 0);
      const length = decodeStoredSize(f.size).length;
      if (length) regions.push({ start: f.start, end: f.start + length, what: `fragment block ${i}` });
    }
    const lookup = async (what: string, indexStart: number | undefined, count: number, entrySize: number, from?: number) => {
      if (indexStart === undefined || count === 0) return;
      const blocks = lookupTableBlocks(count, entrySize);
      const index = await this.readAt(`${what} index`, indexStart, 8 * blocks);
      let first = indexStart;
      for (let i = 0; i < blocks; i++) first = Math.min(first, Number(index.readBigUInt64LE(8 * i)));
      regions.push({ start: from ?? first, end: indexStart + 8 * blocks, what });
    };
    await lookup('fragment table', sb.fragmentTableStart, sb.fragmentCount, FRAGMENT_ENTRY_SIZE);
    await lookup('export table', sb.exportTableStart, sb.inodeCount, 8);
    await lookup('id table', sb.idTableStart, sb.idCount, ID_ENTRY_SIZE);
    if (sb.xattrIdTableStart !== undefined) {
      const x = await this.xattrs();
      await lookup('xattr table', sb.xattrIdTableStart + XATTR_ID_TABLE_HEADER_SIZE, x.count, XATTR_ID_ENTRY_SIZE, x.kvStart);
    }
    const after = regions.filter((r) => r.start > sb.directoryTableStart && !r.what.startsWith('data of') && !r.what.startsWith('fragment block'));
    regions.push({ start: sb.inodeTableStart, end: sb.directoryTableStart, what: 'inode table' });
    regions.push({ start: sb.directoryTableStart, end: Math.min(sb.bytesUsed, ...after.map((r) => r.start)), what: 'directory table' });
    // Every structure ends inside the filesystem (block lists and fragment entries are where an image could say otherwise).
    for (const r of regions) if (r.end > sb.bytesUsed) throw this.error(r.what, r.start, `ends at ${hex(r.end)}, past the filesystem's ${sb.bytesUsed} bytes (bytes_used)`);
    if (this.fileSize > sb.bytesUsed) regions.push({ start: sb.bytesUsed, end: this.fileSize, what: 'padding' });
    return regions;
  }

  async checkStructures(): Promise<void> {
    const sb = this.superblock;
    // Every inode number from 1 to inode_count names one inode, found by walking the tree.
    const numbers = new Set<number>();
    const regions = await this.regions((e) => numbers.add(e.inodeNumber));
    if (numbers.size !== sb.inodeCount) throw this.error('superblock', 4, `inode_count says ${sb.inodeCount}, the directories reach ${numbers.size} inodes`);
    // Nothing overlaps, but files with the same data share its blocks.
    regions.sort((a, b) => a.start - b.start || b.end - a.end);
    let last: ImageRegion | undefined;
    for (const r of regions) {
      if (last && r.start < last.end && !(isData(r) && isData(last))) throw this.error(r.what, r.start, `overlaps ${last.what} (${hex(last.start)}..${hex(last.end)})`);
      if (!last || r.end > last.end) last = r;
    }
    // Fragment blocks do not overlap (checked above), so decompressing each costs at most the file's size.
    for (let i = 0; i < sb.fragmentCount; i++) await this.fragmentBlock(i);
    if (sb.exportTableStart !== undefined) {
      for (let n = 1; n <= sb.inodeCount; n++) {
        const ref = unpackRef((await this.lookupEntries('export table', sb.exportTableStart, sb.inodeCount, 8, n - 1, 1)).readBigUInt64LE(0));
        const [head] = await this.inodes.read(ref, INODE_HEADER_SIZE);
        const number = decodeInodeHeader(head).inodeNumber;
        if (number !== n) throw this.error('export table', sb.exportTableStart, `entry for inode ${n} points at inode ${number}`);
      }
    }
    if (sb.xattrIdTableStart !== undefined) {
      const x = await this.xattrs();
      for (let i = 0; i < x.count; i++) await this.xattrList(i, sb.xattrIdTableStart, Buffer.from(`(xattr id ${i})`));
    }
    // What follows the filesystem is padding, zeros.
    const chunk = 1 << 20;
    for (let at = sb.bytesUsed; at < this.fileSize; at += chunk) {
      const b = await this.readAt('padding', at, Math.min(chunk, this.fileSize - at), this.fileSize);
      const nonZero = b.findIndex((x) => x !== 0);
      if (nonZero >= 0) throw this.error('padding', at + nonZero, `byte ${b[nonZero]} after the filesystem's ${sb.bytesUsed} bytes, where only zero padding belongs`);
    }
  }

  private async readIds(): Promise<number[]> {
    const sb = this.superblock;
    const entries = await this.lookupEntries('id table', sb.idTableStart, sb.idCount, ID_ENTRY_SIZE, 0, sb.idCount);
    return Array.from({ length: sb.idCount }, (_, i) => decodeIdEntry(entries, i * ID_ENTRY_SIZE));
  }

  private async fragmentBlock(index: number): Promise<Buffer> {
    if (this.fragmentCache?.index === index) return this.fragmentCache.data;
    const sb = this.superblock;
    const entry = decodeFragmentEntry(await this.lookupEntries('fragment table', sb.fragmentTableStart, sb.fragmentCount, FRAGMENT_ENTRY_SIZE, index, 1), 0);
    const { length, compressed } = decodeStoredSize(entry.size);
    const structure = `fragment block ${index}`;
    if (length === 0 || length > sb.blockSize) throw this.error(structure, entry.start, `stored size ${length} is not within 1..${sb.blockSize}`);
    const raw = await this.readAt(structure, entry.start, length);
    const data = compressed ? this.inflate(structure, entry.start, raw, sb.blockSize) : raw;
    this.fragmentCache = { index, data };
    return data;
  }

  /**
   * Entries first..first+n of a lookup table (fixed-size entries in metadata blocks, whose
   * positions are in the u64 index array at `indexStart`).
   */
  private async lookupEntries(structure: string, indexStart: number, count: number, entrySize: number, first: number, n: number): Promise<Buffer> {
    const blocks = lookupTableBlocks(count, entrySize);
    await this.readAt(`${structure} index`, indexStart, 8 * blocks);
    const parts: Buffer[] = [];
    for (let i = first; i < first + n; ) {
      const byte = i * entrySize;
      const slot = Math.floor(byte / METADATA_SIZE);
      const within = byte % METADATA_SIZE;
      const take = Math.min(first + n - i, Math.floor((METADATA_SIZE - within) / entrySize));
      const pointer = Number((await this.readAt(`${structure} index`, indexStart + 8 * slot, 8)).readBigUInt64LE(0));
      if (pointer < SUPERBLOCK_SIZE || pointer >= indexStart) throw this.error(`${structure} index`, indexStart + 8 * slot, `block ${slot} at ${hex(pointer)} is not between the superblock and the index`);
      const [bytes] = await this.lookups.read({ block: pointer, offset: within }, take * entrySize, indexStart);
      parts.push(bytes);
      i += take;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }
}

const FLAG_NAMES: readonly [number, string][] = [
  [Flag.UNCOMPRESSED_INODES, 'UNCOMPRESSED_INODES'],
  [Flag.UNCOMPRESSED_DATA, 'UNCOMPRESSED_DATA'],
  [0x0004, 'CHECK'],
  [Flag.UNCOMPRESSED_FRAGMENTS, 'UNCOMPRESSED_FRAGMENTS'],
  [Flag.NO_FRAGMENTS, 'NO_FRAGMENTS'],
  [Flag.ALWAYS_FRAGMENTS, 'ALWAYS_FRAGMENTS'],
  [Flag.DUPLICATES, 'DUPLICATES'],
  [Flag.EXPORTABLE, 'EXPORTABLE'],
  [Flag.UNCOMPRESSED_XATTRS, 'UNCOMPRESSED_XATTRS'],
  [Flag.NO_XATTRS, 'NO_XATTRS'],
  [Flag.COMPRESSOR_OPTIONS, 'COMPRESSOR_OPTIONS'],
  [Flag.UNCOMPRESSED_IDS, 'UNCOMPRESSED_IDS'],
];

/** The first mainline kernel whose squashfs decompresses each compressor. */
const KERNEL_MIN: Readonly<Record<string, string>> = { gzip: '2.6.29', lzo: '2.6.36', xz: '2.6.38', lz4: '3.19', zstd: '4.14' };

const isData = (r: ImageRegion) => r.what.startsWith('data of /');

const DOT = Buffer.from('.');
const DOTDOT = Buffer.from('..');
const SLASH = Buffer.from('/');

const show = showImagePath;

/**
 * A table of metadata blocks (the inode and directory tables, the lookup tables' blocks): reads
 * a run of uncompressed bytes from a ⟨block, offset⟩ position, crossing blocks as needed, each
 * block checked to lie inside the table and decompressed at most once while cached.
 */
class MetadataTable {
  private readonly cache = new Map<number, { data: Buffer; next: number }>();

  constructor(
    private readonly reader: SquashfsReader,
    private readonly name: string,
    /** What block positions are relative to. */
    private readonly base: number,
    private readonly low: number,
    private readonly end: number,
  ) {}

  absolute(ref: MetadataRef): number {
    return this.base + ref.block;
  }

  /** `length` bytes from `from`, and the position after them. */
  async read(from: MetadataRef, length: number, end = this.end): Promise<[Buffer, MetadataRef]> {
    // Nothing to read (an empty block list or target) may sit at the table's very end.
    if (length === 0) return [Buffer.alloc(0), from];
    const at = this.absolute(from);
    if (at < this.low || at + 2 > end) throw this.reader.error(`${this.name} block`, at, `outside the table (${hex(this.low)}..${hex(end)})`);
    // Each block of at most 8 KiB costs at least 3 bytes of table: more cannot be there.
    const most = Math.ceil((end - at) / 3) * METADATA_SIZE;
    if (length > most) throw this.reader.error(`${this.name} block`, at, `${length} bytes wanted, more than the table's remaining ${end - at} bytes could hold`);
    // Gathered block by block rather than allocated up front: memory follows the bytes that are
    // really there, not the length an inode claims.
    const parts: Buffer[] = [];
    let done = 0;
    let { block, offset } = from;
    for (;;) {
      const b = await this.block(block, end);
      if (offset > b.data.length) throw this.reader.error(`${this.name} block`, this.absolute({ block, offset }), `offset ${offset} is past the block's ${b.data.length} bytes`);
      const take = Math.min(length - done, b.data.length - offset);
      parts.push(b.data.subarray(offset, offset + take));
      done += take;
      offset += take;
      if (done === length) {
        const out = parts.length === 1 ? Buffer.from(parts[0]!) : Buffer.concat(parts, length);
        // A position at a block's very end is the next block's start.
        return [out, offset === b.data.length && offset === METADATA_SIZE ? { block: b.next, offset: 0 } : { block, offset }];
      }
      block = b.next;
      offset = 0;
    }
  }

  private async block(block: number, end: number): Promise<{ data: Buffer; next: number }> {
    const cached = this.cache.get(block);
    if (cached) return cached;
    const at = this.base + block;
    const structure = `${this.name} block`;
    if (at < this.low || at + 2 > end) throw this.reader.error(structure, at, `outside the table (${hex(this.low)}..${hex(end)})`);
    const { length, compressed } = decodeMetadataHeader((await this.reader.readAt(structure, at, 2, end)).readUInt16LE(0));
    if (length === 0 || length > METADATA_SIZE) throw this.reader.error(structure, at, `header says ${length} bytes, not within 1..${METADATA_SIZE}`);
    const raw = await this.reader.readAt(structure, at + 2, length, end);
    const data = compressed ? this.reader.inflate(structure, at, raw, METADATA_SIZE) : raw;
    const entry = { data, next: block + 2 + length };
    if (this.cache.size >= CACHE_BLOCKS) this.cache.clear();
    this.cache.set(block, entry);
    return entry;
  }
}
