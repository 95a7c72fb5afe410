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
import { blockCount, decodeStoredSize } from './data.js';
import { decodeDirectoryEntry, decodeDirectoryHeader, DIRECTORY_ENTRY_SIZE, DIRECTORY_HEADER_SIZE } from './directory.js';
import { DIR_HEADER_MAX_ENTRIES, MAX_NAME, MAX_SYMLINK, METADATA_SIZE, NO_FRAGMENT, SQUASHFS_MAGIC, SUPERBLOCK_SIZE, unpackRef, type MetadataRef } from './format.js';
import { basicInodeType, decodeInodeBody, decodeInodeHeader, INODE_HEADER_SIZE, inodeFixedSize } from './inode.js';
import { decodeMetadataHeader } from './metadata.js';
import { decodeSuperblock } from './superblock.js';
import { decodeFragmentEntry, decodeIdEntry, FRAGMENT_ENTRY_SIZE, ID_ENTRY_SIZE, lookupTableBlocks } from './tables.js';

export type SquashfsSuperblock = ReturnType<typeof decodeSuperblock>;

export type SquashfsEntryType = 'dir' | 'file' | 'symlink' | 'block-device' | 'char-device' | 'fifo' | 'socket';

/** Where a regular file's bytes are. */
export interface SquashfsFileLayout {
  readonly startBlock: number;
  /** As stored: length with the uncompressed bit; 0 is a hole. */
  readonly blockSizes: readonly number[];
  /** Fragment index, or NO_FRAGMENT. */
  readonly fragment: number;
  readonly fragmentOffset: number;
}

export interface SquashfsEntry {
  /** Empty for the root. */
  readonly name: Buffer;
  /** Relative to the root, '/'-separated; empty for the root. */
  readonly path: Buffer;
  readonly type: SquashfsEntryType;
  /** Permission bits with setuid, setgid and sticky. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtime: number;
  /** Hard links share it. */
  readonly inodeNumber: number;
  readonly nlink: number;
  /** Content bytes of a file, target bytes of a symlink, listing bytes + 3 of a directory, else 0. */
  readonly size: number;
  readonly rdev?: { readonly major: number; readonly minor: number };
  readonly target?: Buffer;
  readonly file?: SquashfsFileLayout;
  /** Position of the inode in the inode table. */
  readonly inode: MetadataRef;
}

const COMPRESSORS: Record<number, string> = { 1: 'gzip', 2: 'lzma', 3: 'lzo', 4: 'xz', 5: 'lz4', 6: 'zstd' };
const READABLE = new Set<string>(['gzip', 'xz', 'lz4', 'zstd']);
/** Metadata blocks kept decompressed per table. */
const CACHE_BLOCKS = 256;

const hex = (n: number) => `0x${n.toString(16)}`;

export class SquashfsReader {
  private readonly inodes: MetadataTable;
  private readonly directories: MetadataTable;
  private readonly lookups: MetadataTable;
  private ids: number[] = [];
  private fragmentCache?: { index: number; data: Buffer };

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
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.fh.read(b, done, length - done, position + done);
      if (bytesRead === 0) throw this.error(structure, position, 'the file ended while reading');
      done += bytesRead;
    }
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
    const base = { name: path.subarray(path.lastIndexOf(0x2f) + 1), path, mode: head.mode & 0o7777, uid, gid, mtime: head.mtime, inodeNumber: head.inodeNumber, inode: ref, typeId: head.type };
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

const DOT = Buffer.from('.');
const DOTDOT = Buffer.from('..');
const SLASH = Buffer.from('/');

/** A path for messages: '/' for the root, JSON-quoted (the bytes as UTF-8, invalid ones replaced). */
function show(path: Buffer): string {
  return JSON.stringify(`/${path.toString('utf8')}`);
}

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
