/**
 * Reads an EROFS image through positioned reads of its file (never the whole image in memory):
 * the superblock and compression records, the entries in sorted pre-order with their xattrs, each
 * regular file's content (flat, inline, chunk-based, or compressed with LZ4, zstd or DEFLATE in
 * FULL or COMPACT indexes, big pclusters and inline tails included), a map of which bytes hold
 * what, and a check of the structures the entries do not reach.
 *
 * The image is untrusted: every position and length is checked against the file and against the
 * structure that holds it before it is read, and sizes against what the file could hold before
 * anything is allocated for them; what the kernel would refuse is refused, and what this reader
 * cannot decode (MicroLZMA, fragments, partially referenced pclusters, 48-bit layouts, metabox,
 * extra devices, long xattr prefixes, blocks other than 4 KiB) is named. Every failure is an
 * ImageFormatError naming the structure and the byte offset.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { inflateRawSync } from 'node:zlib';
import { blockDecompressor, type BlockDecompressor } from '../../compress/decompress.js';
import { decodeRdev } from '../entry-limits.js';
import { ImageFormatError } from '../errors.js';
import { readFully, showImagePath } from '../file-read.js';
import type { ImageDescription, ImageEntry, ImageEntryType, ImageReader, ImageRegion, ImageXattr } from '../image-reader.js';
import { decodeChunkEntry, decodeChunkFormat } from './chunk-map.js';
import {
  compactIndexesEnd,
  compactIndexPlan,
  compactPackOf,
  decodeCompactPack,
  decodeFullIndex,
  decodeMapHeader,
  FULL_INDEX_SIZE,
  FULL_INDEXES_OFFSET,
  MAP_HEADER_SIZE,
  type DecodedLcluster,
} from './compression-map.js';
import { decodeDirectoryBlock, DIRENT_SIZE, DOT, DOTDOT } from './directory.js';
import {
  Advise,
  ALGORITHM_NAMES,
  BLOCK_BITS,
  ClusterType,
  Compat,
  COMPAT_NAMES,
  DecodeError,
  FileType,
  Incompat,
  INCOMPAT_NAMES,
  Layout,
  MAGIC,
  NULL_ADDR,
  SLOT_BITS,
  SUPERBLOCK_OFFSET,
  SUPERBLOCK_SIZE,
} from './format.js';
import { decodedInodeSize, decodeInode, type DecodedInode } from './inode.js';
import { blockZeroChecksum, decodeCompressionConfigs, decodeSuperblock, type DecodedCompressionConfig, type DecodedSuperblock } from './superblock.js';
import { decodeXattrEntry, decodeXattrEntryHeader, decodeXattrHeader, XATTR_ENTRY_HEADER_SIZE, XATTR_HEADER_SIZE, xattrAreaSize } from './xattr.js';

export type ErofsSuperblock = DecodedSuperblock;

/** An entry with where it is: `nid` (also its inodeNumber) and its datalayout (format.ts Layout). */
export interface ErofsEntry extends ImageEntry {
  readonly nid: number;
  readonly layout: number;
}

/** An inode as found, checked. */
interface Inode {
  readonly nid: number;
  /** Absolute position. */
  readonly at: number;
  readonly raw: DecodedInode;
  readonly type: ImageEntryType;
  readonly isize: number;
  readonly xattrSize: number;
  /** Where what follows the inode and its xattrs starts (inline data, indexes). */
  readonly dataAt: number;
  readonly size: number;
  readonly mtime: number;
  readonly mtimeNsec: number;
}

/** One piece of a compressed file, and the pcluster it decodes from. */
interface CompressedExtent {
  readonly start: number;
  readonly length: number;
  readonly plain: boolean;
  readonly algorithm: number;
  /** Absolute position and bytes of the pcluster. */
  readonly at: number;
  readonly plen: number;
  /** The tail pcluster kept after the indexes (ztailpacking). */
  readonly inline: boolean;
}

/** A decoded compressed file's map: what its inode region covers and its extents. */
interface CompressedMap {
  /** Where the inode's metadata ends: the indexes, or the inline tail pcluster after them. */
  readonly end: number;
  readonly extents: () => AsyncGenerator<CompressedExtent>;
}

const TYPES: Record<number, ImageEntryType> = { 0o040000: 'dir', 0o100000: 'file', 0o120000: 'symlink', 0o060000: 'block-device', 0o020000: 'char-device', 0o010000: 'fifo', 0o140000: 'socket' };
const FILE_TYPES: Record<ImageEntryType, number> = { file: FileType.REG, dir: FileType.DIR, 'char-device': FileType.CHR, 'block-device': FileType.BLK, fifo: FileType.FIFO, socket: FileType.SOCK, symlink: FileType.SYMLINK };
const KNOWN_INCOMPAT = INCOMPAT_NAMES.reduce((m, [bit]) => m | bit, 0);
/** Bytes read or yielded at a time for flat data and holes. */
const PIECE = 1 << 20;
/** The kernel's largest pcluster, and the most one pcluster may decode to (erofs_fs.h). */
const MAX_PCLUSTER = 1 << 20;
const MAX_DECODED_EXTENT = 12 << 20;
/** Longest symlink target the kernel reads back. */
const MAX_SYMLINK = 4095;
/** Metadata blocks and shared xattrs kept while cached. */
const CACHE_BLOCKS = 256;
const CACHE_XATTRS = 1024;

/**
 * The oldest kernel for each incompatible feature and algorithm (formats.md §B2, §B8.4): EROFS
 * with LZ4 and ZERO_PADDING is 5.4; compat bits are advisory and need nothing.
 */
const FEATURE_KERNELS: readonly (readonly [number, string, string])[] = [
  [Incompat.COMPR_CFGS, '5.13', 'BIG_PCLUSTER'],
  [Incompat.CHUNKED_FILE, '5.15', 'CHUNKED_FILE'],
  [Incompat.DEVICE_TABLE, '5.16', 'DEVICE_TABLE'],
  [Incompat.ZTAILPACKING, '5.17', 'ZTAILPACKING'],
  [Incompat.FRAGMENTS, '6.1', 'FRAGMENTS'],
  [Incompat.XATTR_PREFIXES, '6.4', 'XATTR_PREFIXES'],
  [Incompat.BIT48, '6.15', '48BIT'],
  [Incompat.METABOX, '6.17', 'METABOX'],
];
const ALGORITHM_KERNELS: Readonly<Record<number, string>> = { 0: '5.4', 1: '5.16', 2: '6.6', 3: '6.10' };

const hex = (n: number) => `0x${n.toString(16)}`;

export class ErofsReader implements ImageReader {
  readonly family = 'erofs' as const;
  readonly blockSize: number;
  /** Bytes of the superblock (128 + 16 × extension slots). */
  private readonly superblockSize: number;
  private readonly metaCache = new Map<number, Buffer>();
  private readonly sharedXattrs = new Map<number, { xattr?: ImageXattr; size: number }>();
  private readonly decompressors = new Map<number, BlockDecompressor>();
  /** Largest pcluster met so far, in bytes. */
  private largestPcluster = 0;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    readonly fileSize: number,
    readonly superblock: ErofsSuperblock,
    /** The compression records, or why they do not parse. */
    private readonly configs: { records: DecodedCompressionConfig[]; end: number } | ImageFormatError,
    /** available_compr_algs, as the kernel takes it. */
    private readonly algorithms: number,
  ) {
    this.blockSize = 2 ** superblock.blockBits;
    this.superblockSize = SUPERBLOCK_SIZE + 16 * superblock.extraSlots;
  }

  static async open(path: string): Promise<ErofsReader> {
    const fh = await open(path, 'r');
    try {
      const fileSize = (await fh.stat()).size;
      const fail = (offset: number, detail: string) => new ImageFormatError(`EROFS image ${path}`, 'superblock', offset, detail);
      const at = (field: number) => SUPERBLOCK_OFFSET + field;
      if (fileSize < SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE) throw fail(0, `the file is ${fileSize} bytes, too short for the superblock at ${SUPERBLOCK_OFFSET}..${SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE}`);
      const head = Buffer.alloc(SUPERBLOCK_SIZE);
      await readFully(fh, head, SUPERBLOCK_OFFSET);
      if (head.readUInt32LE(0) !== MAGIC) throw fail(at(0), `bad magic ${hex(head.readUInt32LE(0))}, not an EROFS image`);
      const sb = decodeSuperblock(head);
      if (sb.blockBits !== BLOCK_BITS) throw fail(at(12), `block size 2^${sb.blockBits} is not supported (only ${2 ** BLOCK_BITS}-byte blocks are read)`);
      const blockSize = 2 ** sb.blockBits;
      const sbSize = SUPERBLOCK_SIZE + 16 * sb.extraSlots;
      if (SUPERBLOCK_OFFSET + sbSize > blockSize) throw fail(at(13), `${sb.extraSlots} extension slots make the superblock end past block 0`);
      const unknown = sb.featureIncompat & ~KNOWN_INCOMPAT;
      if (unknown) throw fail(at(80), `unknown incompatible features ${hex(unknown)}`);
      if (sb.featureIncompat & Incompat.BIT48) throw fail(at(80), 'the 48-bit layout (48BIT, Linux 6.15) is not supported for reading');
      if (sb.featureIncompat & Incompat.METABOX) throw fail(at(80), 'compressed metadata (METABOX, Linux 6.17) is not supported for reading');
      if (sb.extraDevices) throw fail(at(86), `${sb.extraDevices} extra devices (DEVICE_TABLE): data on other devices is not supported for reading`);
      // The records after the superblock, read from block 0 (whatever of it the file holds).
      let configs: { records: DecodedCompressionConfig[]; end: number } | ImageFormatError = { records: [], end: SUPERBLOCK_OFFSET + sbSize };
      let algorithms = 1 << 0; // without COMPR_CFGS, LZ4 only
      if (sb.featureIncompat & Incompat.COMPR_CFGS) {
        algorithms = sb.algorithmsOrLz4Distance;
        const start = SUPERBLOCK_OFFSET + sbSize;
        const block0 = Buffer.alloc(Math.max(0, Math.min(blockSize, fileSize) - start));
        await readFully(fh, block0, start);
        try {
          configs = decodeCompressionConfigs(block0, start, algorithms);
        } catch (e) {
          if (!(e instanceof DecodeError)) throw e;
          configs = new ImageFormatError(`EROFS image ${path}`, 'compression configs', start + e.offset, e.message);
        }
      }
      return new ErofsReader(path, fh, fileSize, sb, configs, algorithms);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
  }

  /** `EROFS image PATH: STRUCTURE at 0xOFFSET: DETAIL`. */
  error(structure: string, offset: number, detail: string, cause?: unknown): ImageFormatError {
    return new ImageFormatError(`EROFS image ${this.path}`, structure, offset, detail, cause === undefined ? undefined : { cause });
  }

  /** Exactly `length` bytes at `position`, which must lie inside the file. */
  private async readAt(structure: string, position: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(position) || !Number.isSafeInteger(length) || position < 0 || length < 0 || position + length > this.fileSize)
      throw this.error(structure, position, `${length} bytes here would end at ${hex(position + length)}, past the file's end at ${hex(this.fileSize)}`);
    const b = Buffer.alloc(length);
    await readFully(this.fh, b, position).catch((e: unknown) => {
      throw this.error(structure, position, `the file ended while reading (${e instanceof Error ? e.message : String(e)})`, e);
    });
    return b;
  }

  /** Metadata bytes (inodes, xattrs, indexes, inline data), through a cache of whole blocks. */
  private async meta(structure: string, position: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(position) || !Number.isSafeInteger(length) || position < 0 || length < 0 || position + length > this.fileSize)
      throw this.error(structure, position, `${length} bytes here would end at ${hex(position + length)}, past the file's end at ${hex(this.fileSize)}`);
    const bs = this.blockSize;
    const parts: Buffer[] = [];
    for (let p = position; p < position + length; ) {
      const block = Math.floor(p / bs);
      let data = this.metaCache.get(block);
      if (!data) {
        data = await this.readAt(structure, block * bs, Math.min(bs, this.fileSize - block * bs));
        if (this.metaCache.size >= CACHE_BLOCKS) this.metaCache.clear();
        this.metaCache.set(block, data);
      }
      const from = p - block * bs;
      const take = Math.min(length - (p - position), data.length - from);
      parts.push(data.subarray(from, from + take));
      p += take;
    }
    return parts.length === 1 ? Buffer.from(parts[0]!) : Buffer.concat(parts, length);
  }

  describe(): ImageDescription {
    const sb = this.superblock;
    const features = [
      ...COMPAT_NAMES.filter(([bit]) => sb.featureCompat & bit).map(([, name]) => name),
      ...bitsOutside(sb.featureCompat, COMPAT_NAMES).map((b) => `compat ${hex(b)}`),
      ...INCOMPAT_NAMES.filter(([bit]) => sb.featureIncompat & bit).map(([, name]) => name),
      ...bitsOutside(sb.featureIncompat, INCOMPAT_NAMES).map((b) => `incompat ${hex(b)}`),
    ];
    const cfgs = sb.featureIncompat & Incompat.COMPR_CFGS;
    const records = this.configs instanceof ImageFormatError ? [] : this.configs.records;
    const compressorOptions: Record<string, number> = {};
    let configuredCluster: number | undefined;
    if (cfgs) {
      for (const r of records) {
        for (const [k, v] of Object.entries(r.options)) compressorOptions[`${ALGORITHM_NAMES[r.algorithm]}.${k}`] = v;
        if (r.algorithm === 0) configuredCluster = Math.max(1, r.options.max_pclusterblks!) * this.blockSize;
      }
    } else if (this.lz4WithoutConfigs()) {
      compressorOptions['lz4.max_distance'] = sb.algorithmsOrLz4Distance;
      configuredCluster = this.blockSize;
    }
    const algorithms = cfgs ? ALGORITHM_NAMES.filter((_, i) => this.algorithms & (1 << i)) : this.lz4WithoutConfigs() ? ['lz4'] : [];
    const clusterSize = Math.max(this.largestPcluster, configuredCluster ?? 0) || undefined;
    return {
      family: 'erofs',
      compressor: algorithms.length ? algorithms.join('+') : 'none',
      compressorOptions,
      blockSize: this.blockSize,
      clusterSize: algorithms.length ? clusterSize : undefined,
      bytesUsed: sb.blocks * this.blockSize,
      fileSize: this.fileSize,
      inodeCount: sb.inodeCount,
      time: sb.buildTime,
      timeNsec: sb.buildTimeNsec,
      features,
      kernelMin: this.kernelMin(),
      superblock: superblockRecord(sb),
    };
  }

  /** Without COMPR_CFGS, LZ4 is in use when the superblock says so (ZERO_PADDING, or a match distance). */
  private lz4WithoutConfigs(): boolean {
    const sb = this.superblock;
    return !(sb.featureIncompat & Incompat.COMPR_CFGS) && ((sb.featureIncompat & Incompat.ZERO_PADDING) !== 0 || sb.algorithmsOrLz4Distance !== 0);
  }

  private kernelMin(): { version: string; because: string } {
    const sb = this.superblock;
    let best = { version: '5.4', because: 'EROFS' };
    const consider = (version: string, because: string) => {
      if (compareVersions(version, best.version) > 0) best = { version, because };
    };
    for (const [bit, version, name] of FEATURE_KERNELS) if (sb.featureIncompat & bit) consider(version, name);
    if (sb.featureIncompat & Incompat.COMPR_CFGS) for (const [alg, version] of Object.entries(ALGORITHM_KERNELS)) if (this.algorithms & (1 << Number(alg))) consider(version, `${ALGORITHM_NAMES[Number(alg)]} compression`);
    return best;
  }

  /** Every entry, the root first, each directory followed by its children sorted by name (pre-order). */
  async *entries(): AsyncGenerator<ErofsEntry> {
    for await (const { entry } of this.walk()) yield entry;
  }

  /** The content of a regular file, in pieces (holes as zeros). */
  async *content(entry: ImageEntry): AsyncGenerator<Buffer> {
    const nid = (entry as Partial<ErofsEntry>).nid;
    if (entry.type !== 'file' || nid === undefined) throw new TypeError(`${show(entry.path)} is not a regular file of an EROFS image`);
    const inode = await this.inode(nid, entry.path);
    if (inode.type !== 'file') throw this.error('inode', inode.at, `${show(entry.path)}: nid ${nid} is a ${inode.type}, not a regular file`);
    for await (const piece of this.data(inode, entry.path)) yield piece.bytes;
  }

  async layout(): Promise<ImageRegion[]> {
    return mergeRegions(await this.regions());
  }

  async checkStructures(): Promise<void> {
    const sb = this.superblock;
    const bs = this.blockSize;
    const at = (field: number) => SUPERBLOCK_OFFSET + field;
    if (sb.featureCompat & Compat.SB_CHKSUM) {
      const block0 = await this.readAt('superblock', 0, Math.min(bs, this.fileSize));
      if (block0.length < bs) throw this.error('superblock', 0, `the file's ${this.fileSize} bytes do not hold block 0, which the checksum covers`);
      const computed = blockZeroChecksum(block0);
      if (computed !== sb.checksum) throw this.error('superblock', at(4), `checksum ${hex(sb.checksum)} does not match block 0 (${hex(computed)})`);
    }
    if (sb.blocks * bs > this.fileSize) throw this.error('superblock', at(36), `blocks says ${sb.blocks} blocks (${sb.blocks * bs} bytes), the file is ${this.fileSize} (truncated?)`);
    if (sb.dirblkbits) throw this.error('superblock', at(90), `dirblkbits ${sb.dirblkbits}: directory blocks other than the block size are not defined`);
    if (!sb.volumeName.includes(0)) throw this.error('superblock', at(64), 'the volume name has no NUL terminator');
    if (this.configs instanceof ImageFormatError) throw this.configs;
    let inodes = 0;
    const regions = await this.regions(() => inodes++);
    if (inodes !== sb.inodeCount) throw this.error('superblock', at(16), `inos says ${sb.inodeCount} inodes, the image holds ${inodes}`);
    const end = sb.blocks * bs;
    const sorted = [...regions].sort((a, b) => a.start - b.start || a.end - b.end);
    let last: ImageRegion | undefined;
    for (const r of sorted) {
      if (r.end > end) throw this.error(r.what, r.start, `ends at ${hex(r.end)}, past the ${sb.blocks} blocks the superblock counts`);
      // Data blocks may be shared (deduplicated chunks); nothing else may overlap.
      if (last && r.start < last.end && !(isData(last.what) && isData(r.what))) throw this.error(r.what, r.start, `overlaps ${last.what} (${hex(last.start)}..${hex(last.end)})`);
      if (!last || r.end > last.end) last = r;
    }
  }

  /** Every structure the image holds, unmerged; `onInode` is called once per inode. */
  private async regions(onInode?: () => void): Promise<ImageRegion[]> {
    const regions: ImageRegion[] = [{ start: SUPERBLOCK_OFFSET, end: SUPERBLOCK_OFFSET + this.superblockSize, what: 'superblock' }];
    if (!(this.configs instanceof ImageFormatError) && this.configs.end > SUPERBLOCK_OFFSET + this.superblockSize)
      regions.push({ start: SUPERBLOCK_OFFSET + this.superblockSize, end: this.configs.end, what: 'compression configs' });
    const seen = new Set<number>();
    const shared = new Map<number, number>();
    for await (const { entry, inode } of this.walk(shared)) {
      if (seen.has(inode.nid)) continue;
      seen.add(inode.nid);
      onInode?.();
      const name = `/${entry.path.toString('utf8')}`;
      if (!hasData(inode)) {
        regions.push({ start: inode.at, end: inode.dataAt, what: `inode of ${name}` });
        continue;
      }
      const map = isCompressed(inode) ? await this.compressedMap(inode, entry.path) : undefined;
      regions.push({ start: inode.at, end: map ? map.end : this.metadataEnd(inode, entry.path), what: `inode of ${name}` });
      const what = inode.type === 'dir' ? `directory ${name}` : `data of ${name}`;
      for await (const r of this.dataRegions(inode, entry.path, map)) regions.push({ ...r, what });
    }
    for (const [id, size] of shared) {
      const at = this.superblock.xattrBlkaddr * this.blockSize + 4 * id;
      regions.push({ start: at, end: at + size, what: 'shared xattrs' });
    }
    return regions;
  }

  /** Where the inode's own metadata ends (inode, xattrs, and inline data or chunk indexes). */
  private metadataEnd(inode: Inode, path: Buffer): number {
    switch (inode.raw.layout) {
      case Layout.FLAT_INLINE:
        return inode.dataAt + this.inlineTail(inode, path).tail;
      case Layout.CHUNK_BASED: {
        const c = this.chunkMap(inode, path);
        return c.at + c.count * c.entrySize;
      }
      default:
        return inode.dataAt;
    }
  }

  /** The blocks holding an inode's data (not what is inline), contiguous runs merged. */
  private async *dataRegions(inode: Inode, path: Buffer, map: CompressedMap | undefined): AsyncGenerator<{ start: number; end: number }> {
    const bs = this.blockSize;
    const layout = inode.raw.layout;
    if (layout === Layout.FLAT_PLAIN || layout === Layout.FLAT_INLINE) {
      const blocks = layout === Layout.FLAT_PLAIN ? (inode.raw.u === NULL_ADDR ? 0 : Math.ceil(inode.size / bs)) : this.inlineTail(inode, path).fullBlocks;
      if (blocks) yield { start: inode.raw.u * bs, end: (inode.raw.u + blocks) * bs };
      return;
    }
    let run: { start: number; end: number } | undefined;
    const add = function* (start: number, end: number) {
      if (run && run.end === start) run.end = end;
      else {
        if (run) yield run;
        run = { start, end };
      }
    };
    if (map) {
      for await (const e of map.extents()) if (!e.inline) yield* add(e.at, e.at + e.plen);
    } else if (layout === Layout.CHUNK_BASED) {
      for await (const c of this.chunks(inode, path)) if (c.block !== undefined) yield* add(c.block * bs, c.block * bs + Math.ceil(c.length / bs) * bs);
    }
    if (run) yield run;
  }

  // --- inodes, xattrs, directories -----------------------------------------------------------

  private async inode(nid: number, path: Buffer): Promise<Inode> {
    const sb = this.superblock;
    const at = sb.metaBlkaddr * this.blockSize + nid * 2 ** SLOT_BITS;
    if (!Number.isSafeInteger(at) || at + 2 > this.fileSize) throw this.error('inode', Number.isSafeInteger(at) ? at : 0, `nid ${nid} (${show(path)}) lies past the file's end at ${hex(this.fileSize)}`);
    const format = (await this.meta('inode', at, 2)).readUInt16LE(0);
    const isize = decodedInodeSize(format);
    const raw = decodeInode(await this.meta('inode', at, isize));
    const fail = (detail: string) => this.error('inode', at, `nid ${nid} (${show(path)}): ${detail}`);
    if (raw.formatHigh) throw fail(`i_format ${hex(format)} has bits above 3, which only 48-bit images use`);
    if (raw.layout > Layout.CHUNK_BASED) throw fail(`unknown datalayout ${raw.layout}`);
    const type = TYPES[raw.mode & 0o170000];
    if (!type) throw fail(`mode ${raw.mode.toString(8)} has no file type`);
    if (!Number.isSafeInteger(raw.size)) throw fail(`size ${raw.size} is absurd`);
    const xattrSize = xattrAreaSize(raw.xattrCount);
    const mtime = raw.extended ? raw.mtime : sb.buildTime + raw.mtime;
    return { nid, at, raw, type, isize, xattrSize, dataAt: at + isize + xattrSize, size: raw.size, mtime, mtimeNsec: raw.mtimeNsec ?? sb.buildTimeNsec };
  }

  /** The inode's xattrs, sorted by full name; the shared ones' ids and sizes are added to `shared`. */
  private async xattrs(inode: Inode, path: Buffer, shared?: Map<number, number>): Promise<ImageXattr[]> {
    if (inode.xattrSize <= XATTR_HEADER_SIZE) return [];
    const start = inode.at + inode.isize;
    const area = await this.meta('xattrs', start, inode.xattrSize);
    const fail = (offset: number, detail: string) => this.error('xattrs', start + offset, `nid ${inode.nid} (${show(path)}): ${detail}`);
    const { sharedCount } = decodeXattrHeader(area);
    if (XATTR_HEADER_SIZE + 4 * sharedCount > area.length) throw fail(4, `${sharedCount} shared xattrs do not fit the ${area.length}-byte xattr area`);
    const out: ImageXattr[] = [];
    for (let i = 0; i < sharedCount; i++) {
      const id = area.readUInt32LE(XATTR_HEADER_SIZE + 4 * i);
      const { xattr, size } = await this.sharedXattr(id, path);
      shared?.set(id, size);
      if (xattr) out.push(xattr);
    }
    for (let p = XATTR_HEADER_SIZE + 4 * sharedCount; p < area.length; ) {
      const h = decodeXattrEntryHeader(area.subarray(p));
      if (p + h.size > area.length) throw fail(p, `an xattr entry of ${h.size} bytes runs past the xattr area's ${area.length}`);
      try {
        const e = decodeXattrEntry(area.subarray(p, p + h.size));
        if (e) out.push(e);
      } catch (err) {
        if (err instanceof DecodeError) throw fail(p + err.offset, err.message);
        throw err;
      }
      p += h.size;
    }
    out.sort((a, b) => Buffer.compare(a.name, b.name));
    for (let i = 1; i < out.length; i++) if (out[i - 1]!.name.equals(out[i]!.name)) throw fail(0, `xattr ${JSON.stringify(out[i]!.name.toString('latin1'))} is there twice`);
    return out;
  }

  private async sharedXattr(id: number, path: Buffer): Promise<{ xattr?: ImageXattr; size: number }> {
    const cached = this.sharedXattrs.get(id);
    if (cached) return cached;
    const at = this.superblock.xattrBlkaddr * this.blockSize + 4 * id;
    const h = decodeXattrEntryHeader(await this.meta('shared xattr', at, XATTR_ENTRY_HEADER_SIZE));
    const bytes = await this.meta('shared xattr', at, XATTR_ENTRY_HEADER_SIZE + h.nameLength + h.valueSize);
    let xattr: ImageXattr | undefined;
    try {
      xattr = decodeXattrEntry(bytes);
    } catch (e) {
      if (e instanceof DecodeError) throw this.error('shared xattr', at + e.offset, `id ${id} (of ${show(path)}): ${e.message}`);
      throw e;
    }
    if (this.sharedXattrs.size >= CACHE_XATTRS) this.sharedXattrs.clear();
    const entry = { xattr, size: h.size };
    this.sharedXattrs.set(id, entry);
    return entry;
  }

  /**
   * The entries in pre-order with their inodes. Hard links (one nid under several names) come
   * once per name; a directory reached twice is a loop.
   */
  private async *walk(shared?: Map<number, number>): AsyncGenerator<{ entry: ErofsEntry; inode: Inode }> {
    const rootNid = this.superblock.rootNid;
    const seenDirectories = new Set<number>();
    const stack: { name: Buffer; path: Buffer; nid: number; parent: number; listed?: { type: number; at: number } }[] = [{ name: Buffer.alloc(0), path: Buffer.alloc(0), nid: rootNid, parent: rootNid }];
    while (stack.length) {
      const item = stack.pop()!;
      const inode = await this.inode(item.nid, item.path);
      if (!item.listed && inode.type !== 'dir') throw this.error('inode', inode.at, `the root (nid ${item.nid}) is a ${inode.type}, not a directory`);
      if (item.listed && item.listed.type !== FILE_TYPES[inode.type])
        throw this.error('directory', item.listed.at, `${show(item.path)}: listed as file type ${item.listed.type}, its inode (nid ${item.nid}) is a ${inode.type}`);
      const xattrs = await this.xattrs(inode, item.path, shared);
      const base = { name: item.name, path: item.path, type: inode.type, mode: inode.raw.mode & 0o7777, uid: inode.raw.uid, gid: inode.raw.gid, mtime: inode.mtime, mtimeNsec: inode.mtimeNsec, inodeNumber: inode.nid, nlink: inode.raw.nlink, xattrs, nid: inode.nid, layout: inode.raw.layout };
      let entry: ErofsEntry;
      switch (inode.type) {
        case 'dir':
        case 'file':
          entry = { ...base, size: inode.size };
          break;
        case 'symlink': {
          const target = await this.symlinkTarget(inode, item.path);
          entry = { ...base, size: target.length, target };
          break;
        }
        case 'block-device':
        case 'char-device':
          entry = { ...base, size: 0, rdev: decodeRdev(inode.raw.u) };
          break;
        default:
          entry = { ...base, size: 0 };
      }
      yield { entry, inode };
      if (inode.type !== 'dir') continue;
      if (seenDirectories.has(inode.nid)) throw this.error('directory', inode.at, `${show(item.path)}: directory nid ${inode.nid} reached twice (a directory loop)`);
      seenDirectories.add(inode.nid);
      const children = await this.listing(inode, item.path, item.parent);
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
    }
  }

  private async symlinkTarget(inode: Inode, path: Buffer): Promise<Buffer> {
    if (inode.size > MAX_SYMLINK) throw this.error('inode', inode.at, `${show(path)}: a symlink target of ${inode.size} bytes, more than ${MAX_SYMLINK}`);
    const parts: Buffer[] = [];
    for await (const p of this.data(inode, path)) parts.push(p.bytes);
    const target = Buffer.concat(parts);
    if (target.includes(0)) throw this.error('inode', inode.at, `${show(path)}: the symlink target holds a NUL byte`);
    return target;
  }

  /** A directory's children in name order ('.' and '..' checked and left out). */
  private async listing(dir: Inode, dirPath: Buffer, parent: number): Promise<{ name: Buffer; path: Buffer; nid: number; parent: number; listed: { type: number; at: number } }[]> {
    const children: { name: Buffer; path: Buffer; nid: number; parent: number; listed: { type: number; at: number } }[] = [];
    let previous: Buffer | undefined;
    let dots = 0;
    for await (const { block, at } of this.directoryBlocks(dir, dirPath)) {
      let dirents;
      try {
        dirents = decodeDirectoryBlock(block);
      } catch (e) {
        if (e instanceof DecodeError) throw this.error('directory', at + e.offset, `${show(dirPath)}: ${e.message}`);
        throw e;
      }
      dirents.forEach((d, i) => {
        const direntAt = at + i * DIRENT_SIZE;
        const fail = (detail: string) => this.error('directory', direntAt, `${show(dirPath)}: ${detail}`);
        if (previous && Buffer.compare(previous, d.name) >= 0) throw fail(`${show(d.name)} is not after ${show(previous)} (names must be sorted by bytes and unique)`);
        previous = d.name;
        if (d.name.equals(DOT) || d.name.equals(DOTDOT)) {
          const want = d.name.equals(DOT) ? dir.nid : parent;
          if (d.nid !== want) throw fail(`${d.name.toString()} refers to nid ${d.nid}, not ${want}`);
          if (d.type !== FileType.DIR) throw fail(`${d.name.toString()} has file type ${d.type}`);
          dots++;
          return;
        }
        if (d.type < FileType.REG || d.type > FileType.SYMLINK) throw fail(`${show(d.name)} has file type ${d.type}`);
        children.push({ name: d.name, path: dirPath.length ? Buffer.concat([dirPath, SLASH, d.name]) : d.name, nid: d.nid, parent: dir.nid, listed: { type: d.type, at: direntAt } });
      });
    }
    if (dots !== 2) throw this.error('directory', dir.at, `${show(dirPath)}: '.' or '..' is missing`);
    return children;
  }

  /** A directory's data cut into blocks (the last one as long as i_size says), with where each is. */
  private async *directoryBlocks(dir: Inode, path: Buffer): AsyncGenerator<{ block: Buffer; at: number }> {
    const bs = this.blockSize;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let pendingAt = dir.at;
    for await (const { bytes, at } of this.data(dir, path)) {
      for (let p = 0; p < bytes.length; ) {
        if (!pendingBytes) pendingAt = at + p;
        const take = Math.min(bs - pendingBytes, bytes.length - p);
        pending.push(bytes.subarray(p, p + take));
        pendingBytes += take;
        p += take;
        if (pendingBytes === bs) {
          yield { block: Buffer.concat(pending, bs), at: pendingAt };
          pending = [];
          pendingBytes = 0;
        }
      }
    }
    if (pendingBytes) yield { block: Buffer.concat(pending, pendingBytes), at: pendingAt };
  }

  // --- data ------------------------------------------------------------------------------------

  /**
   * An inode's data (file content, directory entries, symlink target) in order, exactly i_size
   * bytes, each piece with the position it was read from (the pcluster's, for compressed data).
   */
  private async *data(inode: Inode, path: Buffer): AsyncGenerator<{ bytes: Buffer; at: number }> {
    const bs = this.blockSize;
    const size = inode.size;
    if (size === 0) return;
    switch (inode.raw.layout) {
      case Layout.FLAT_PLAIN:
        // No block at all: unmapped, read as zeros (Linux 6.15; older kernels fail to read it).
        if (inode.raw.u === NULL_ADDR) for (let done = 0; done < size; done += PIECE) yield { bytes: Buffer.alloc(Math.min(PIECE, size - done)), at: inode.at };
        else yield* this.flat(inode, path, 0, size);
        return;
      case Layout.FLAT_INLINE: {
        const { fullBlocks, tail } = this.inlineTail(inode, path);
        if (fullBlocks) yield* this.flat(inode, path, 0, fullBlocks * bs);
        yield { bytes: await this.meta('inline data', inode.dataAt, tail), at: inode.dataAt };
        return;
      }
      case Layout.CHUNK_BASED:
        for await (const c of this.chunks(inode, path)) {
          if (c.block === undefined) {
            for (let done = 0; done < c.length; done += PIECE) yield { bytes: Buffer.alloc(Math.min(PIECE, c.length - done)), at: c.indexAt };
            continue;
          }
          for (let done = 0; done < c.length; done += PIECE) {
            const at = c.block * bs + done;
            yield { bytes: await this.readAt(`data of ${show(path)}`, at, Math.min(PIECE, c.length - done)), at };
          }
        }
        return;
      default: {
        const map = await this.compressedMap(inode, path);
        for await (const e of map.extents()) yield { bytes: await this.decodeExtent(path, e), at: e.at };
      }
    }
  }

  /** `length` bytes of a flat inode's blocks from `offset`, in pieces. */
  private async *flat(inode: Inode, path: Buffer, offset: number, length: number): AsyncGenerator<{ bytes: Buffer; at: number }> {
    const u = inode.raw.u;
    const start = u * this.blockSize;
    if (u === NULL_ADDR || start + length > this.fileSize) throw this.error('inode', inode.at, `${show(path)}: ${length} bytes of data at block ${u} would end past the file's end at ${hex(this.fileSize)}`);
    for (let done = 0; done < length; done += PIECE) {
      const at = start + offset + done;
      yield { bytes: await this.readAt(`data of ${show(path)}`, at, Math.min(PIECE, length - done)), at };
    }
  }

  /** FLAT_INLINE: all blocks but the last are at i_u; the last block's bytes follow the inode, within its block. */
  private inlineTail(inode: Inode, path: Buffer): { fullBlocks: number; tail: number } {
    const bs = this.blockSize;
    const blocks = Math.ceil(inode.size / bs);
    const fullBlocks = Math.max(0, blocks - 1);
    const tail = inode.size - fullBlocks * bs;
    if (tail && (inode.dataAt % bs) + tail > bs) throw this.error('inline data', inode.dataAt, `${show(path)}: ${tail} bytes after the inode cross a block boundary`);
    return { fullBlocks, tail };
  }

  /** Chunk-based: where the entries are, how many, how large each chunk is. */
  private chunkMap(inode: Inode, path: Buffer): { at: number; count: number; entrySize: 4 | 8; chunkSize: number } {
    const c = decodeChunkFormat(inode.raw.u, this.superblock.blockBits);
    const fail = (detail: string) => this.error('inode', inode.at, `${show(path)}: ${detail}`);
    if (c.unknownBits) throw fail(`chunk format ${hex(inode.raw.u & 0xffff)} has unknown bits`);
    if (c.bit48) throw fail('48-bit chunk indexes are not supported');
    const chunkSize = 2 ** c.chunkBits;
    const count = Math.ceil(inode.size / chunkSize);
    const at = Math.ceil(inode.dataAt / c.entrySize) * c.entrySize;
    if (at + count * c.entrySize > this.fileSize) throw fail(`${count} chunk entries of ${c.entrySize} bytes at ${hex(at)} would end past the file's end at ${hex(this.fileSize)}`);
    return { at, count, entrySize: c.entrySize, chunkSize };
  }

  private async *chunks(inode: Inode, path: Buffer): AsyncGenerator<{ block?: number; length: number; indexAt: number }> {
    const { at, count, entrySize, chunkSize } = this.chunkMap(inode, path);
    const perRead = Math.floor(PIECE / 8);
    for (let first = 0; first < count; first += perRead) {
      const n = Math.min(perRead, count - first);
      const entries = await this.readAt('chunk indexes', at + first * entrySize, n * entrySize);
      for (let i = 0; i < n; i++) {
        const k = first + i;
        const indexAt = at + k * entrySize;
        const e = decodeChunkEntry(entries.subarray(i * entrySize), entrySize);
        if (e.device) throw this.error('chunk indexes', indexAt, `${show(path)}: chunk ${k} is on device ${e.device}; extra devices are not supported`);
        yield { block: e.block, length: Math.min(chunkSize, inode.size - k * chunkSize), indexAt };
      }
    }
  }

  /**
   * A compressed file's map header and indexes, and its extents as the kernel maps them: each
   * head (PLAIN, HEAD1, HEAD2) starts an extent at its clusterofs, which runs to the next head or
   * the end of the file; its pcluster is one lcluster, or with big pclusters the block count the
   * next lcluster records (CBLKCNT); the last one may be inline after the indexes.
   */
  private async compressedMap(inode: Inode, path: Buffer): Promise<CompressedMap> {
    const bs = this.blockSize;
    const headerAt = Math.ceil(inode.dataAt / 8) * 8;
    const fail = (offset: number, detail: string) => this.error('compression map', offset, `${show(path)}: ${detail}`);
    const h = decodeMapHeader(await this.meta('compression map', headerAt, MAP_HEADER_SIZE));
    const sb = this.superblock;
    if (h.wholeFileFragment || h.advise & Advise.FRAGMENT_PCLUSTER) throw fail(headerAt, 'the file is kept in the packed inode (FRAGMENTS), which is not supported for reading');
    if (h.advise & Advise.INTERLACED_PCLUSTER) throw fail(headerAt + 4, 'interlaced plain pclusters are not supported for reading');
    if (h.algorithmHead1 >= ALGORITHM_NAMES.length || h.algorithmHead2 >= ALGORITHM_NAMES.length) throw fail(headerAt + 6, `unknown algorithm type ${hex(h.algorithmHead1 | (h.algorithmHead2 << 4))}`);
    const big1 = (h.advise & Advise.BIG_PCLUSTER_1) !== 0;
    const big2 = (h.advise & Advise.BIG_PCLUSTER_2) !== 0;
    if ((big1 || big2) && !(sb.featureIncompat & Incompat.COMPR_CFGS)) throw fail(headerAt + 4, 'big pclusters without the superblock feature (BIG_PCLUSTER)');
    const compact = inode.raw.layout === Layout.COMPRESSED_COMPACT;
    if (compact && big1 !== big2) throw fail(headerAt + 4, 'compact indexes with big pclusters for one head type only');
    const lclusterBits = sb.blockBits + h.clusterBits;
    const L = 2 ** lclusterBits;
    if (compact && (lclusterBits > 14 || (lclusterBits > 12 && h.advise & Advise.COMPACTED_2B))) throw fail(headerAt + 7, `compact indexes cannot hold ${L}-byte lclusters`);
    const total = Math.ceil(inode.size / L);
    const fullAt = headerAt + FULL_INDEXES_OFFSET;
    const plan = compact ? compactIndexPlan(headerAt + MAP_HEADER_SIZE, total, (h.advise & Advise.COMPACTED_2B) !== 0) : undefined;
    const indexesEnd = plan ? compactIndexesEnd(plan) : fullAt + total * FULL_INDEX_SIZE;
    if (indexesEnd > this.fileSize) throw fail(headerAt, `${total} lcluster indexes would end at ${hex(indexesEnd)}, past the file's end at ${hex(this.fileSize)}`);
    let end = indexesEnd;
    let inline: { at: number; size: number } | undefined;
    if (h.advise & Advise.INLINE_PCLUSTER) {
      inline = { at: indexesEnd, size: h.inlineSize };
      if (!h.inlineSize || (indexesEnd % bs) + h.inlineSize > bs) throw fail(headerAt + 2, `an inline tail pcluster of ${h.inlineSize} bytes at ${hex(indexesEnd)} does not fit its block`);
      end = indexesEnd + h.inlineSize;
    }
    const reader = this;
    const lclusters = async function* (): AsyncGenerator<{ lcn: number; at: number; index: DecodedLcluster }> {
      if (plan) {
        for (let lcn = 0; lcn < total; ) {
          const pack = compactPackOf(plan, lcn);
          const count = Math.min(pack.slots - pack.slot, total - lcn);
          let decoded: DecodedLcluster[];
          try {
            decoded = decodeCompactPack(await reader.meta('compression map', pack.at, pack.bytes), pack.slots, pack.slot + count, lclusterBits, big1);
          } catch (e) {
            if (e instanceof DecodeError) throw fail(pack.at + e.offset, `lcluster pack at lcluster ${lcn - pack.slot}: ${e.message}`);
            throw e;
          }
          for (let s = pack.slot; s < pack.slot + count; s++) yield { lcn: lcn + s - pack.slot, at: pack.at, index: decoded[s]! };
          lcn += count;
        }
      } else {
        const perRead = 512;
        for (let first = 0; first < total; first += perRead) {
          const n = Math.min(perRead, total - first);
          const bytes = await reader.meta('compression map', fullAt + first * FULL_INDEX_SIZE, n * FULL_INDEX_SIZE);
          for (let i = 0; i < n; i++) yield { lcn: first + i, at: fullAt + (first + i) * FULL_INDEX_SIZE, index: decodeFullIndex(bytes.subarray(i * FULL_INDEX_SIZE)) };
        }
      }
    };
    const extents = async function* (): AsyncGenerator<CompressedExtent> {
      interface Head {
        lcn: number;
        at: number;
        start: number;
        type: number;
        blkaddr: number;
        blocks?: number;
        /** The next lcluster has been seen (so a missing CBLKCNT means a one-lcluster pcluster). */
        followed: boolean;
      }
      let head: Head | undefined;
      const finish = (hd: Head, endAt: number, last: boolean): CompressedExtent => {
        const length = endAt - hd.start;
        const isInline = last && inline !== undefined;
        if (hd.type === ClusterType.PLAIN) {
          const plen = isInline ? inline!.size : L;
          if (length > plen) throw fail(hd.at, `lcluster ${hd.lcn}: a plain extent of ${length} bytes is longer than its ${plen}-byte pcluster`);
          return { start: hd.start, length, plain: true, algorithm: -1, at: isInline ? inline!.at : hd.blkaddr * bs, plen, inline: isInline };
        }
        const algorithm = hd.type === ClusterType.HEAD1 ? h.algorithmHead1 : h.algorithmHead2;
        if (!(reader.algorithms & (1 << algorithm))) throw fail(hd.at, `lcluster ${hd.lcn}: algorithm ${ALGORITHM_NAMES[algorithm]} is not in the superblock's available algorithms (${hex(reader.algorithms)})`);
        let plen: number;
        if (isInline) plen = inline!.size;
        else if (hd.type === ClusterType.HEAD1 ? big1 : big2) {
          if (hd.blocks === undefined && !hd.followed) throw fail(hd.at, `lcluster ${hd.lcn}: a big pcluster's head is the file's last lcluster, with no block count after it`);
          plen = hd.blocks === undefined ? L : hd.blocks * bs;
        } else plen = L;
        if (plen === 0 || plen > MAX_PCLUSTER) throw fail(hd.at, `lcluster ${hd.lcn}: a pcluster of ${plen} bytes is not within 1..${MAX_PCLUSTER}`);
        if (length > MAX_DECODED_EXTENT) throw fail(hd.at, `lcluster ${hd.lcn}: an extent of ${length} bytes, more than the ${MAX_DECODED_EXTENT} one pcluster may decode to`);
        return { start: hd.start, length, plain: false, algorithm, at: isInline ? inline!.at : hd.blkaddr * bs, plen, inline: isInline };
      };
      for await (const { lcn, at, index } of lclusters()) {
        if (index.partialRef) throw fail(at, `lcluster ${lcn}: a partially referenced pcluster (DEDUPE), which is not supported for reading`);
        if (head && lcn === head.lcn + 1) head.followed = true;
        if (index.type !== ClusterType.NONHEAD) {
          if (index.clusterofs >= L) throw fail(at, `lcluster ${lcn}: clusterofs ${index.clusterofs} is past the ${L}-byte lcluster`);
          const start = lcn * L + index.clusterofs;
          if (head) {
            if (head.start < inode.size) {
              const e = finish(head, Math.min(start, inode.size), start >= inode.size);
              if (e.plen > reader.largestPcluster && !e.inline) reader.largestPcluster = e.plen;
              yield e;
            }
          } else if (start !== 0) throw fail(at, `lcluster 0 starts its extent at ${start}, not 0`);
          head = { lcn, at, start, type: index.type, blkaddr: index.blkaddr, followed: false };
          continue;
        }
        if (!head) throw fail(at, 'lcluster 0 is not a head');
        if (index.compressedBlocks !== undefined) {
          if (!big1 && !big2) throw fail(at, `lcluster ${lcn}: a block count (CBLKCNT) in a file without big pclusters`);
          if (lcn !== head.lcn + 1) throw fail(at, `lcluster ${lcn}: a block count (CBLKCNT) not right after its head at lcluster ${head.lcn}`);
          head.blocks = index.compressedBlocks;
          continue;
        }
        if (index.delta0 < 1 || index.delta0 > lcn - head.lcn) throw fail(at, `lcluster ${lcn}: delta ${index.delta0} does not lead back to its head at lcluster ${head.lcn}`);
        if (lcn === head.lcn + 1 && head.type !== ClusterType.PLAIN && (head.type === ClusterType.HEAD1 ? big1 : big2))
          throw fail(at, `lcluster ${lcn}: no block count (CBLKCNT) after the big pcluster's head`);
      }
      if (head && head.start < inode.size) {
        const e = finish(head, inode.size, true);
        if (e.plen > reader.largestPcluster && !e.inline) reader.largestPcluster = e.plen;
        yield e;
      }
    };
    return { end, extents };
  }

  /** One extent's bytes: a plain pcluster's first bytes, or the pcluster decompressed to exactly the extent's length. */
  private async decodeExtent(path: Buffer, e: CompressedExtent): Promise<Buffer> {
    const structure = e.inline ? 'inline pcluster' : 'pcluster';
    if (e.plain) return e.inline ? this.meta(structure, e.at, e.length) : this.readAt(structure, e.at, e.length);
    const raw = e.inline ? await this.meta(structure, e.at, e.plen) : await this.readAt(structure, e.at, e.plen);
    const fail = (detail: string, cause?: unknown) => this.error(structure, e.at, `${show(path)} at ${e.start}: ${detail}`, cause);
    const name = ALGORITHM_NAMES[e.algorithm]!;
    if (e.algorithm === 0 && !(this.superblock.featureIncompat & Incompat.ZERO_PADDING)) throw fail('LZ4 pclusters without ZERO_PADDING (the pre-5.3 layout) are not supported for reading');
    // Compressed data is right-aligned: the zeros before it, within the first block, are padding.
    const scan = Math.min(raw.length, this.blockSize - (e.at % this.blockSize));
    let skip = 0;
    while (skip < scan && raw[skip] === 0) skip++;
    if (skip === scan) throw fail(`no compressed data in the first ${scan} bytes of the pcluster`);
    const decompress = await this.decompressor(e.algorithm, () => fail(`${name} (MicroLZMA) is not supported for reading`));
    let out: Buffer;
    try {
      out = decompress(raw.subarray(skip), e.length);
    } catch (err) {
      throw fail(`${name} data does not decompress (${err instanceof Error ? err.message : String(err)})`, err);
    }
    if (out.length !== e.length) throw fail(`${name} data decompresses to ${out.length} bytes, the extent is ${e.length}`);
    return out;
  }

  private async decompressor(algorithm: number, unsupported: () => ImageFormatError): Promise<BlockDecompressor> {
    let d = this.decompressors.get(algorithm);
    if (d) return d;
    switch (algorithm) {
      case 0:
        d = await blockDecompressor('lz4');
        break;
      case 2:
        d = (input, limit) => inflateRawSync(input, { maxOutputLength: Math.max(limit, 1) });
        break;
      case 3:
        d = await blockDecompressor('zstd');
        break;
      default:
        throw unsupported();
    }
    this.decompressors.set(algorithm, d);
    return d;
  }
}

const SLASH = Buffer.from('/');

const show = showImagePath;

/** Whether the inode has data of its own (devices, fifos and sockets do not, whatever their layout says). */
function hasData(inode: Inode): boolean {
  return inode.type === 'dir' || inode.type === 'file' || inode.type === 'symlink';
}

function isCompressed(inode: Inode): boolean {
  return inode.raw.layout === Layout.COMPRESSED_FULL || inode.raw.layout === Layout.COMPRESSED_COMPACT;
}

function isData(what: string): boolean {
  return what.startsWith('data of ');
}

function bitsOutside(value: number, named: readonly (readonly [number, string])[]): number[] {
  const known = named.reduce((m, [bit]) => m | bit, 0);
  const out: number[] = [];
  for (let bit = 1; bit !== 0 && bit <= 0x80000000; bit = (bit << 1) >>> 0) if (value & bit & ~known) out.push(bit);
  return out;
}

function compareVersions(a: string, b: string): number {
  const [am, an] = a.split('.').map(Number);
  const [bm, bn] = b.split('.').map(Number);
  return am! - bm! || an! - bn!;
}

/** The superblock's fields under erofs_fs.h's names, for `ext diff`. */
function superblockRecord(sb: DecodedSuperblock): Record<string, number | string> {
  const uuid = sb.uuid.toString('hex');
  const nul = sb.volumeName.indexOf(0);
  const cfgs = sb.featureIncompat & Incompat.COMPR_CFGS;
  return {
    magic: hex(MAGIC),
    checksum: hex(sb.checksum),
    feature_compat: hex(sb.featureCompat),
    blkszbits: sb.blockBits,
    sb_extslots: sb.extraSlots,
    root_nid: sb.rootNid,
    inos: sb.inodeCount,
    build_time: sb.buildTime,
    build_time_nsec: sb.buildTimeNsec,
    blocks: sb.blocks,
    meta_blkaddr: sb.metaBlkaddr,
    xattr_blkaddr: sb.xattrBlkaddr,
    uuid: `${uuid.slice(0, 8)}-${uuid.slice(8, 12)}-${uuid.slice(12, 16)}-${uuid.slice(16, 20)}-${uuid.slice(20)}`,
    volume_name: sb.volumeName.subarray(0, nul < 0 ? sb.volumeName.length : nul).toString('utf8'),
    feature_incompat: hex(sb.featureIncompat),
    [cfgs ? 'available_compr_algs' : 'lz4_max_distance']: cfgs ? hex(sb.algorithmsOrLz4Distance) : sb.algorithmsOrLz4Distance,
    extra_devices: sb.extraDevices,
    devt_slotoff: sb.devtSlotoff,
    dirblkbits: sb.dirblkbits,
    xattr_prefix_count: sb.xattrPrefixCount,
    xattr_prefix_start: sb.xattrPrefixStart,
    packed_nid: sb.packedNid,
    xattr_filter_reserved: sb.xattrFilterReserved,
  };
}

/**
 * Regions sorted by start, adjacent ones holding the same thing joined, overlapping ones (data
 * blocks shared between files) made one region naming all of them.
 */
function mergeRegions(regions: readonly ImageRegion[]): ImageRegion[] {
  const sorted = [...regions].filter((r) => r.end > r.start).sort((a, b) => a.start - b.start || a.end - b.end);
  const out: { start: number; end: number; whats: string[] }[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && (r.start < last.end || (r.start === last.end && last.whats.length === 1 && last.whats[0] === r.what))) {
      last.end = Math.max(last.end, r.end);
      if (!last.whats.includes(r.what)) last.whats.push(r.what);
    } else out.push({ start: r.start, end: r.end, whats: [r.what] });
  }
  return out.map(({ start, end, whats }) => ({ start, end, what: whats.length <= 3 ? whats.join(', ') : `${whats.slice(0, 3).join(', ')} and ${whats.length - 3} more` }));
}
