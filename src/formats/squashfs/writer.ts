/**
 * Writes a squashfs 4.0 image from an entry tree.
 *
 * Layout: superblock (written last) · compressor options · file data and fragment blocks ·
 * inode table · directory table · fragment table · export table · ID table · padding to 4 KiB.
 *
 * 1. Data: files in sorted pre-order; blocks compressed on the worker pool, appended in order.
 * 2. Inodes are planned in post-order (children before their directory, the root last) and
 *    numbered in that order, so that when a directory's listing is written every child's inode
 *    reference is already known, and each directory's parent number is known before it is written.
 * 3. The tables follow, each ending exactly where the next begins, as the kernel checks.
 *
 * Everything that reaches the bytes comes from the tree and the options: no clock, no host, no
 * thread timing.
 */
import { availableParallelism } from 'node:os';
import { loadCodec, type CodecSpec } from '../../compress/codec.js';
import { CompressionPool, INLINE_BELOW_BYTES } from '../../compress/pool.js';
import { preOrder, type DirectoryEntry, type Entry, type FileEntry, type HardLinkGroup, type SysrootTree } from '../../sysroot/entry.js';
import { BuildError } from '../../util/errors.js';
import { squashfsCompression } from './compressor.js';
import { DataWriter, type FileData } from './data.js';
import { findDuplicates } from './dedup.js';
import { directoryNeedsIndex, encodeDirectoryListing, type DirectoryChild } from './directory.js';
import { BLOCK_SIZE, Flag, IMAGE_PADDING, InodeType, MAX_NAME, MAX_SYMLINK, SUPERBLOCK_SIZE, packRef, type MetadataRef } from './format.js';
import {
  encodeDeviceInode,
  encodeDirectoryInode,
  encodeExtDirectoryInode,
  encodeFileInode,
  encodeIpcInode,
  encodeSymlinkInode,
  type InodeHeader,
} from './inode.js';
import { MetadataWriter, type BlockCompressor } from './metadata.js';
import { checkEntryLimits, encodeRdev } from '../entry-limits.js';
import { ImageSink } from '../sink.js';
import { encodeSuperblock } from './superblock.js';
import { encodeExportEntries, encodeFragmentEntries, encodeIdEntries, encodeLookupTable } from './tables.js';

export interface SquashfsOptions {
  readonly compressor: CodecSpec['name'];
  /** Compression level; undefined = the compressor's default (as mksquashfs). */
  readonly level?: number;
  /** Every inode's mtime and the superblock's mkfs_time. */
  readonly time: number;
  /** Compression worker threads (0: the main thread); default one per core, none for a tree under INLINE_BELOW_BYTES. */
  readonly threads?: number;
  readonly signal?: AbortSignal;
  /** File bytes read so far, of `total`. */
  readonly progress?: (done: number, total: number) => void;
}

export interface SquashfsSummary {
  readonly inodes: number;
  readonly fragments: number;
  readonly duplicates: number;
  readonly sparseBlocks: number;
  /** Image size, padding included. */
  readonly size: number;
  readonly threads: number;
  readonly codec: string;
}

/** The only owner the image records: root. */
const ROOT_ID = 0;

export async function writeSquashfs(tree: SysrootTree, output: string, opts: SquashfsOptions): Promise<SquashfsSummary> {
  if (!Number.isInteger(opts.time) || opts.time < 0 || opts.time > 0xffffffff)
    throw new BuildError(`squashfs stores times as unsigned 32-bit seconds; ${opts.time} does not fit`, 'choose a source_date_epoch between 0 and 4294967295');
  const spec: CodecSpec = { name: opts.compressor, blockSize: BLOCK_SIZE, level: opts.level };
  // A small tree is compressed on the main thread: workers would take longer to start than to help.
  const threads = opts.threads ?? (tree.stats.fileBytes < INLINE_BELOW_BYTES ? 0 : availableParallelism());
  // The workers take some 80 ms to start: they do while the plan and the search for duplicates run.
  const starting = CompressionPool.start(spec, threads);
  starting.catch(() => undefined);
  let sink: ImageSink | undefined;
  const onAbort = () => void starting.then((p) => p.close(opts.signal!.reason instanceof Error ? opts.signal!.reason : new Error('aborted')), () => undefined);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const plan = planInodes(tree.root);
    checkEntries(plan);
    const codec = await loadCodec(spec);
    const compressMetadata: BlockCompressor = (b) => codec.compress(b);
    const compression = squashfsCompression(spec);
    const files = plan.order.map((r) => r.entry).filter((e): e is FileEntry => e.kind === 'file');
    const duplicates = findDuplicates(files, opts.signal);
    const pool = await starting;
    opts.signal?.throwIfAborted();
    sink = new ImageSink(output, SUPERBLOCK_SIZE);
    if (compression.options) sink.append(compression.options);

    // 1. Data.
    // Progress counts every file's bytes once, as the walk does: a duplicate's are counted when skipped.
    const total = [...new Map(files.map((f) => [dataKey(f), f.size])).values()].reduce((n, size) => n + size, 0);
    const data = new DataWriter({
      sink,
      pool,
      blockSize: BLOCK_SIZE,
      inFlight: Math.max(1, threads) * 4,
      signal: opts.signal,
      progress: opts.progress && ((done) => opts.progress!(done, total)),
    });
    const fileData: FileDataMap = new Map();
    for (const file of dataOrder(tree.root)) {
      if (fileData.has(dataKey(file))) continue; // another name of a hard-linked inode
      const original = duplicates.get(file);
      if (original) data.skip(file);
      fileData.set(dataKey(file), original ? fileData.get(dataKey(original))! : await data.addFile(file));
    }
    await data.finish();
    opts.signal?.throwIfAborted();

    // 2. Inodes and directories.
    const inodeTableStart = sink.position;
    const tables = writeInodesAndDirectories(plan, fileData, opts.time, compressMetadata);
    sink.append(tables.inodes);
    const directoryTableStart = sink.append(tables.directories);

    // 3. Lookup tables.
    const fragmentTable = data.fragments.length ? encodeLookupTable(encodeFragmentEntries(data.fragments), sink.position, compressMetadata) : undefined;
    if (fragmentTable) sink.append(fragmentTable.bytes);
    const fragmentTableStart = fragmentTable?.indexStart ?? sink.position;
    const exportTable = encodeLookupTable(encodeExportEntries(tables.exportRefs), sink.position, compressMetadata);
    sink.append(exportTable.bytes);
    const idTable = encodeLookupTable(encodeIdEntries([ROOT_ID]), sink.position, compressMetadata);
    sink.append(idTable.bytes);
    const bytesUsed = sink.position;
    const padding = (IMAGE_PADDING - (bytesUsed % IMAGE_PADDING)) % IMAGE_PADDING;
    if (padding) sink.append(Buffer.alloc(padding));

    let flags = Flag.NO_XATTRS | Flag.DUPLICATES | Flag.EXPORTABLE | Flag.ALWAYS_FRAGMENTS;
    if (compression.options) flags |= Flag.COMPRESSOR_OPTIONS;
    sink.writeAt(
      0,
      encodeSuperblock({
        inodeCount: plan.order.length,
        mkfsTime: opts.time,
        blockSize: BLOCK_SIZE,
        fragmentCount: data.fragments.length,
        compressionId: compression.id,
        flags,
        idCount: 1,
        rootInode: packRef(tables.root),
        bytesUsed,
        idTableStart: idTable.indexStart,
        inodeTableStart,
        directoryTableStart,
        fragmentTableStart,
        exportTableStart: exportTable.indexStart,
      }),
    );
    return {
      inodes: plan.order.length,
      fragments: data.fragments.length,
      duplicates: duplicates.size,
      sparseBlocks: data.sparseBlocks,
      size: bytesUsed + padding,
      threads,
      codec: codec.description,
    };
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await starting.then((p) => p.close(), () => undefined);
    sink?.close();
  }
}

/** One inode of the image: a directory, or a non-directory with all its hard-linked paths. */
interface InodePlan {
  readonly entry: Entry;
  /** 1-based, in emission order. */
  readonly number: number;
  /** Directories: their children, in name order. */
  readonly children?: readonly { readonly name: Buffer; readonly inode: InodePlan }[];
  /** Directories: the parent's inode number. */
  parent?: number;
}

interface Plan {
  /** Post-order: every inode after those it refers to; the root last. */
  readonly order: readonly InodePlan[];
}

/** Numbers the inodes in post-order, iteratively (no recursion limit on deep trees). */
export function planInodes(root: DirectoryEntry): Plan {
  const order: InodePlan[] = [];
  const byGroup = new Map<HardLinkGroup, InodePlan>();
  const stack: { dir: DirectoryEntry; next: number; children: { name: Buffer; inode: InodePlan }[] }[] = [{ dir: root, next: 0, children: [] }];
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    if (top.next < top.dir.children.length) {
      const child = top.dir.children[top.next++]!;
      if (child.kind === 'directory') {
        stack.push({ dir: child, next: 0, children: [] });
        continue;
      }
      let inode = child.hardLink && byGroup.get(child.hardLink);
      if (!inode) {
        inode = { entry: child, number: order.length + 1 };
        order.push(inode);
        if (child.hardLink) byGroup.set(child.hardLink, inode);
      }
      top.children.push({ name: child.name, inode });
      continue;
    }
    stack.pop();
    const dir: InodePlan = { entry: top.dir, number: order.length + 1, children: top.children };
    order.push(dir);
    for (const c of top.children) if (c.inode.children) c.inode.parent = dir.number;
    if (stack.length) stack[stack.length - 1]!.children.push({ name: top.dir.name, inode: dir });
  }
  // The root's ".." is the VFS's business; mksquashfs writes inode_count + 1.
  order[order.length - 1]!.parent = order.length + 1;
  return { order };
}

/** A file's data belongs to its inode: hard-linked names share it. */
type FileDataMap = Map<FileEntry | HardLinkGroup, FileData>;

function dataKey(file: FileEntry): FileEntry | HardLinkGroup {
  return file.hardLink ?? file;
}

/** Regular files in the order their data is written: sorted pre-order, as mksquashfs. */
function* dataOrder(root: DirectoryEntry): Generator<FileEntry> {
  for (const e of preOrder(root)) if (e.kind === 'file') yield e;
}

/** What the format cannot hold, found before any work is done. */
function checkEntries(plan: Plan): void {
  if (plan.order.length > 0xffffffff) throw new BuildError(`too many inodes for squashfs (${plan.order.length})`);
  checkEntryLimits(
    plan.order.map((p) => p.entry),
    { format: 'squashfs', maxName: MAX_NAME, maxSymlink: MAX_SYMLINK },
  );
}

interface InodeTables {
  readonly inodes: Buffer;
  readonly directories: Buffer;
  readonly root: MetadataRef;
  /** Inode reference of inode number i + 1. */
  readonly exportRefs: MetadataRef[];
}

function writeInodesAndDirectories(plan: Plan, fileData: FileDataMap, time: number, compress: BlockCompressor): InodeTables {
  const inodes = new MetadataWriter(compress);
  const dirs = new MetadataWriter(compress);
  const refs: MetadataRef[] = [];
  for (const inode of plan.order) {
    const h: InodeHeader = { mode: inode.entry.mode, uidIndex: 0, gidIndex: 0, mtime: time, inodeNumber: inode.number };
    const ref = inodes.position;
    refs.push(ref);
    inodes.append(encodeInode(inode, h, fileData, dirs, refs));
  }
  return { inodes: inodes.finish(), directories: dirs.finish(), root: refs[refs.length - 1]!, exportRefs: refs };
}

function encodeInode(inode: InodePlan, h: InodeHeader, fileData: FileDataMap, dirs: MetadataWriter, refs: readonly MetadataRef[]): Buffer {
  const e = inode.entry;
  const nlink = e.kind !== 'directory' && e.hardLink ? e.hardLink.count : 1;
  switch (e.kind) {
    case 'directory': {
      const children: DirectoryChild[] = inode.children!.map((c) => ({
        name: c.name,
        type: basicType(c.inode.entry),
        inode: refs[c.inode.number - 1]!,
        inodeNumber: c.inode.number,
      }));
      const indexed = directoryNeedsIndex(children);
      const listingStart = dirs.length;
      const start = dirs.position;
      const listing = encodeDirectoryListing(children, indexed);
      dirs.append(listing.bytes);
      const d = {
        startBlock: start.block,
        offset: start.offset,
        nlink: 2 + inode.children!.filter((c) => c.inode.entry.kind === 'directory').length,
        fileSize: listing.bytes.length + 3,
        parentInode: inode.parent!,
      };
      if (!indexed && d.fileSize <= 0xffff) return encodeDirectoryInode(h, d);
      const index = listing.indexPoints.map((p) => ({ index: p.offset, start: dirs.refAt(listingStart + p.offset).block, name: p.name }));
      return encodeExtDirectoryInode(h, { ...d, index });
    }
    case 'file': {
      const data = fileData.get(dataKey(e))!;
      return encodeFileInode(h, { ...data, fileSize: e.size, nlink });
    }
    case 'symlink':
      return encodeSymlinkInode(h, { nlink, target: e.target });
    case 'char-device':
    case 'block-device':
      return encodeDeviceInode(h, { kind: e.kind === 'block-device' ? 'block' : 'char', nlink, rdev: encodeRdev(e.major, e.minor)! });
    case 'fifo':
    case 'socket':
      return encodeIpcInode(h, { kind: e.kind, nlink });
  }
}

/** The type a directory entry records: always the basic one. */
function basicType(e: Entry): number {
  switch (e.kind) {
    case 'directory':
      return InodeType.dir;
    case 'file':
      return InodeType.file;
    case 'symlink':
      return InodeType.symlink;
    case 'block-device':
      return InodeType.blockDevice;
    case 'char-device':
      return InodeType.charDevice;
    case 'fifo':
      return InodeType.fifo;
    case 'socket':
      return InodeType.socket;
  }
}
