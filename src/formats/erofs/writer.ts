/**
 * Writes an EROFS image from an entry tree.
 *
 * Layout: block 0 (superblock, compression records, the root inode) · file data · directory
 * blocks · metadata blocks (every other inode with what follows it). meta_blkaddr is 0, so a nid
 * is a byte offset / 32, and the root — whose nid the superblock holds in 16 bits — stays in
 * block 0, at nid 36 or just after the compression records, as with mkfs.erofs.
 *
 * 1. Inodes are planned in sorted pre-order, hard-linked names sharing one inode.
 * 2. File data is written (data.ts); this decides each file's layout (flat with an inline tail,
 *    chunk-based, compressed) and so the size of what follows its inode.
 * 3. The metadata layout is computed from those sizes: every nid and block address is known
 *    before the directories and inodes are encoded.
 * 4. Directory blocks, metadata blocks and finally block 0 with its checksum are written.
 *
 * Everything in the bytes comes from the tree and the options: no clock, host, umask, readdir
 * order or thread timing.
 */
import { truncateSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { CompressionPool, INLINE_BELOW_BYTES, type JobModuleRef } from '../../compress/pool.js';
import { preOrder, type DirectoryEntry, type Entry, type HardLinkGroup, type SysrootTree } from '../../sysroot/entry.js';
import { BuildError } from '../../util/errors.js';
import { ImageSink } from '../sink.js';
import type { ErofsCompression } from './compression.js';
import { DataWriter, type FileStorage, type StoredFile } from './data.js';
import { DOT, DOTDOT, directorySize, encodeDirectory, withDots, type Dirent } from './directory.js';
import { BLOCK_SIZE, Compat, FileType, Incompat, Layout, MAX_NAME, ModeType, NULL_ADDR, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE, type LayoutId } from './format.js';
import { checkEntryLimits, encodeRdev } from '../entry-limits.js';
import { encodeInode, inodeSize } from './inode.js';
import { MetadataLayout, nidAt, type AreaPosition } from './metadata-layout.js';
import { encodeSuperblock, sealBlockZero } from './superblock.js';

export interface ErofsOptions {
  /** Undefined: uncompressed. */
  readonly compression?: ErofsCompression;
  /** Every inode's time and the superblock's build time. */
  readonly time: number;
  /** Compression worker threads (0: the main thread); default one per core, none for a tree under INLINE_BELOW_BYTES. */
  readonly threads?: number;
  readonly signal?: AbortSignal;
  /** File bytes read so far, of `total`. */
  readonly progress?: (done: number, total: number) => void;
}

export interface ErofsSummary {
  readonly inodes: number;
  /** Image size in bytes. */
  readonly size: number;
  readonly compressedFiles: number;
  /** Files stored chunk-based because of their zero blocks (they need Linux 5.15). */
  readonly chunkedFiles: number;
  readonly threads: number;
  /** Oldest kernel that mounts this image. */
  readonly kernelMin: string;
}

/** One inode: a directory, or a non-directory with all its hard-linked names. */
interface InodePlan {
  readonly entry: Entry;
  /** 1-based, in plan order (i_ino). */
  readonly number: number;
  readonly nlink: number;
  readonly size: number;
  /** Directories: parent directory's plan (the root's is itself) and children in name order. */
  parent?: InodePlan;
  readonly children?: { readonly name: Buffer; readonly inode: InodePlan }[];
  /** Filled as the image is laid out. */
  stored?: StoredFile;
  symlinkBlock?: { block: number };
  dirBlock?: number;
  position?: AreaPosition;
  nid?: number;
  /** What follows the inode in the metadata area. */
  inline?: Buffer | (() => Buffer);
  layout?: LayoutId;
}

const NIL_UUID = new Uint8Array(16);
const CLUSTER_JOB: JobModuleRef = { url: new URL('./cluster-job.js', import.meta.url), load: () => import('./cluster-job.js') };

export async function writeErofs(tree: SysrootTree, output: string, opts: ErofsOptions): Promise<ErofsSummary> {
  if (!Number.isInteger(opts.time) || opts.time < 0) throw new BuildError(`invalid time ${opts.time}`);
  const compression = opts.compression;
  // A small tree is compressed on the main thread: workers would take longer to start than to help.
  const threads = opts.threads ?? (tree.stats.fileBytes < INLINE_BELOW_BYTES ? 0 : availableParallelism());
  // The workers take some 80 ms to start: they do while the inodes are planned.
  const starting = compression && CompressionPool.start(compression.codec, threads, CLUSTER_JOB);
  starting?.catch(() => undefined);
  let sink: ImageSink | undefined;
  const onAbort = () => void starting?.then((p) => p.close(opts.signal!.reason instanceof Error ? opts.signal!.reason : new Error('aborted')), () => undefined);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const plan = planInodes(tree.root);
    checkEntries(plan);
    const pool = await starting;
    opts.signal?.throwIfAborted();
    sink = new ImageSink(output, BLOCK_SIZE);

    // 2. Data.
    const total = plan.filter((p) => p.entry.kind === 'file').reduce((n, p) => n + p.size, 0);
    const data = new DataWriter({
      sink,
      compression,
      pool,
      inFlight: Math.max(1, threads) * 16,
      signal: opts.signal,
      progress: opts.progress && ((done) => opts.progress!(done, total)),
    });
    for (const inode of plan) {
      const e = inode.entry;
      if (e.kind === 'file') inode.stored = await data.addFile(e, inodeSize(inode.size, inode.nlink));
      else if (e.kind === 'symlink' && !symlinkIsInline(inode)) inode.symlinkBlock = await data.addBlock(e.target);
    }
    await data.finish();
    opts.signal?.throwIfAborted();
    const dataEnd = sink.position / BLOCK_SIZE;

    // 3. Layout.
    const block0Used = SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE + (compression?.configs.length ?? 0);
    const layout = new MetadataLayout(block0Used);
    const directoryBlocks = describeInodes(plan, layout);
    let nextBlock = dataEnd;
    for (const d of directoryBlocks) {
      d.inode.dirBlock = nextBlock;
      nextBlock += d.blocks;
    }
    const metaStart = nextBlock;
    for (const inode of plan) inode.nid = nidAt(inode.position!, metaStart);
    const blocks = metaStart + layout.blocks;
    if (blocks > 0xffffffff) throw new BuildError(`the image would need ${blocks} blocks; EROFS addresses at most 2^32 (16 TiB)`);

    // 4. Directories, metadata, block 0.
    for (const d of directoryBlocks) {
      const bytes = directoryData(d.inode);
      const full = Buffer.alloc(d.blocks * BLOCK_SIZE);
      bytes.copy(full, 0, 0, Math.min(bytes.length, full.length));
      sink.append(full);
    }
    const block0 = Buffer.alloc(BLOCK_SIZE);
    const meta = Buffer.alloc(layout.blocks * BLOCK_SIZE);
    for (const inode of plan) {
      const head = encodeInode({ mode: modeOf(inode.entry), layout: inode.layout!, size: inode.size, nlink: inode.nlink, u: finalU(inode), ino: inode.number, mtime: opts.time });
      const pos = inode.position!;
      const [area, at] = pos.areaBlock === 0 ? [block0, pos.offset] : [meta, (pos.areaBlock - 1) * BLOCK_SIZE + pos.offset];
      // Copied in place: a large file's indexes are not copied twice.
      head.copy(area, at);
      inlineBytes(inode).copy(area, at + head.length);
    }
    sink.append(meta);
    const chunked = plan.some((p) => p.stored?.storage?.kind === 'chunked');
    encodeSuperblock({
      featureCompat: Compat.SB_CHKSUM | Compat.MTIME,
      featureIncompat: (compression?.incompat ?? 0) | (chunked ? Incompat.CHUNKED_FILE : 0),
      rootNid: plan[0]!.nid!,
      inodeCount: plan.length,
      buildTime: opts.time,
      blocks,
      metaBlkaddr: 0,
      uuid: NIL_UUID,
      algorithmsOrLz4Distance: compression?.algorithmsOrLz4Distance ?? 0,
    }).copy(block0, SUPERBLOCK_OFFSET);
    compression?.configs.copy(block0, SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE);
    sealBlockZero(block0);
    sink.writeAt(0, block0);
    sink.flush();
    const size = blocks * BLOCK_SIZE;
    if (sink.position !== size) throw new Error(`internal error: wrote up to ${sink.position}, expected ${size}`);
    sink.close();
    // A file rewound after compression may have left bytes past the end.
    truncateSync(output, size);
    const kernelMin = maxVersion(compression?.kernelMin ?? '5.4', chunked ? '5.15' : '5.4');
    return { inodes: plan.length, size, compressedFiles: data.compressedFiles, chunkedFiles: data.chunkedFiles, threads: compression ? threads : 1, kernelMin };
  } catch (e) {
    try {
      sink?.close();
    } catch {
      // already closed
    }
    throw e;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await starting?.then((p) => p.close(), () => undefined);
  }
}

/** Numbers the inodes in sorted pre-order (root first), one per hard-link group. */
function planInodes(root: DirectoryEntry): InodePlan[] {
  const plans: InodePlan[] = [];
  const byGroup = new Map<HardLinkGroup, InodePlan>();
  const byEntry = new Map<Entry, InodePlan>();
  for (const e of preOrder(root)) {
    if (e.kind !== 'directory' && e.hardLink && byGroup.has(e.hardLink)) continue;
    const subdirs = e.kind === 'directory' ? e.children.filter((c) => c.kind === 'directory').length : 0;
    const plan: InodePlan = {
      entry: e,
      number: plans.length + 1,
      nlink: e.kind === 'directory' ? 2 + subdirs : (e.hardLink?.count ?? 1),
      size: e.kind === 'file' ? e.size : e.kind === 'symlink' ? e.target.length : 0,
      children: e.kind === 'directory' ? [] : undefined,
    };
    plans.push(plan);
    byEntry.set(e, plan);
    if (e.kind !== 'directory' && e.hardLink) byGroup.set(e.hardLink, plan);
  }
  for (const plan of plans) {
    if (plan.entry.kind !== 'directory') continue;
    for (const c of plan.entry.children) {
      const child = c.kind !== 'directory' && c.hardLink ? byGroup.get(c.hardLink)! : byEntry.get(c)!;
      plan.children!.push({ name: c.name, inode: child });
      if (c.kind === 'directory') child.parent = plan;
    }
  }
  plans[0]!.parent = plans[0];
  // Directory sizes depend on the children's names only.
  for (const p of plans) if (p.children) (p as { size: number }).size = directorySize(direntNames(p));
  return plans;
}

function direntNames(dir: InodePlan): Buffer[] {
  return withDots(dir.children!, { name: DOT, inode: dir }, { name: DOTDOT, inode: dir }).map((c) => c.name);
}

/** What the format cannot hold, found before any work is done. */
function checkEntries(plan: readonly InodePlan[]): void {
  checkEntryLimits(
    plan.map((p) => p.entry),
    { format: 'EROFS', maxName: MAX_NAME, maxSymlink: BLOCK_SIZE - 1 },
  );
}

function symlinkIsInline(inode: InodePlan): boolean {
  return inodeSize(inode.size, inode.nlink) + inode.size <= BLOCK_SIZE;
}

/**
 * Decides each inode's layout and inline part, places it in the metadata area (the root in
 * block 0), and returns the directories that need blocks of their own.
 */
function describeInodes(plan: InodePlan[], layout: MetadataLayout): { inode: InodePlan; blocks: number }[] {
  const directoryBlocks: { inode: InodePlan; blocks: number }[] = [];
  for (const inode of plan) {
    const e = inode.entry;
    const isize = inodeSize(inode.size, inode.nlink);
    let inline: Buffer | (() => Buffer) | undefined;
    let inlineSize = 0;
    switch (e.kind) {
      case 'directory': {
        const full = Math.floor(inode.size / BLOCK_SIZE);
        const tail = inode.size % BLOCK_SIZE;
        const isRoot = inode === plan[0];
        // The root must stay in block 0 (its nid has 16 bits): its tail goes inline only if it fits there.
        const fitsInline = tail > 0 && isize + tail <= (isRoot ? layout.blockZeroRoom : BLOCK_SIZE);
        if (fitsInline) {
          inline = () => directoryData(inode).subarray(full * BLOCK_SIZE);
          inlineSize = tail;
          inode.layout = Layout.FLAT_INLINE;
        } else inode.layout = Layout.FLAT_PLAIN;
        const blocks = full + (tail && !fitsInline ? 1 : 0);
        if (blocks) directoryBlocks.push({ inode, blocks });
        break;
      }
      case 'file': {
        const s = inode.stored!.storage!;
        inode.layout = fileLayout(s);
        if (s.kind === 'flat' && s.inlineTail) inline = s.inlineTail;
        else if (s.kind === 'chunked') inline = s.chunkMap;
        else if (s.kind === 'compressed') inline = s.map;
        inlineSize = inline ? (inline as Buffer).length : 0;
        break;
      }
      case 'symlink':
        if (inode.symlinkBlock) inode.layout = Layout.FLAT_PLAIN;
        else {
          inode.layout = Layout.FLAT_INLINE;
          inline = e.target;
          inlineSize = e.target.length;
        }
        break;
      default:
        inode.layout = Layout.FLAT_PLAIN;
    }
    inode.inline = inline;
    inode.position = inode === plan[0] ? layout.placeInBlockZero(isize + inlineSize) : layout.place(isize + inlineSize);
    if (!inode.position) throw new Error('internal error: the root inode does not fit in block 0');
  }
  return directoryBlocks;
}

function fileLayout(s: FileStorage): LayoutId {
  switch (s.kind) {
    case 'flat':
      return s.inlineTail ? Layout.FLAT_INLINE : Layout.FLAT_PLAIN;
    case 'chunked':
      return Layout.CHUNK_BASED;
    case 'compressed':
      return Layout.COMPRESSED_COMPACT;
  }
}

/** The inode's i_u word. */
function finalU(inode: InodePlan): number {
  const e = inode.entry;
  switch (e.kind) {
    case 'directory':
      return inode.dirBlock ?? NULL_ADDR;
    case 'file': {
      const s = inode.stored!.storage!;
      if (s.kind === 'flat') return s.blocks ? s.firstBlock : s.inlineTail ? NULL_ADDR : 0;
      if (s.kind === 'chunked') return 0; // chunk format: 4 KiB chunks, 4-byte block map
      return s.blocks;
    }
    case 'symlink':
      return inode.symlinkBlock ? inode.symlinkBlock.block : NULL_ADDR;
    case 'char-device':
    case 'block-device':
      return encodeRdev(e.major, e.minor)!;
    default:
      return 0;
  }
}

function inlineBytes(inode: InodePlan): Buffer {
  const i = inode.inline;
  if (!i) return Buffer.alloc(0);
  return typeof i === 'function' ? i() : i;
}

function directoryData(dir: InodePlan): Buffer {
  const entries: Dirent[] = withDots(
    dir.children!.map((c) => ({ name: c.name, type: fileType(c.inode.entry), nid: c.inode.nid! })),
    { name: DOT, type: FileType.DIR, nid: dir.nid! },
    { name: DOTDOT, type: FileType.DIR, nid: dir.parent!.nid! },
  );
  return encodeDirectory(entries);
}

function fileType(e: Entry): number {
  switch (e.kind) {
    case 'directory':
      return FileType.DIR;
    case 'file':
      return FileType.REG;
    case 'symlink':
      return FileType.SYMLINK;
    case 'char-device':
      return FileType.CHR;
    case 'block-device':
      return FileType.BLK;
    case 'fifo':
      return FileType.FIFO;
    case 'socket':
      return FileType.SOCK;
  }
}

function modeOf(e: Entry): number {
  const type = {
    directory: ModeType.DIR,
    file: ModeType.REG,
    symlink: ModeType.LNK,
    'char-device': ModeType.CHR,
    'block-device': ModeType.BLK,
    fifo: ModeType.FIFO,
    socket: ModeType.SOCK,
  }[e.kind];
  return type | e.mode;
}

function maxVersion(a: string, b: string): string {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  return pa[0]! > pb[0]! || (pa[0] === pb[0] && pa[1]! >= pb[1]!) ? a : b;
}
