/**
 * How a compressed file's data is found: the map header and the compact logical-cluster indexes
 * that follow the inode (datalayout COMPRESSED_COMPACT, as mkfs.erofs writes them).
 *
 * The file is cut into extents, each stored in a physical cluster (pcluster) of whole blocks:
 * compressed (HEAD1) or raw (PLAIN, one block). Its logical clusters (lclusters, one per 4 KiB of
 * file) each get an index: the lcluster where an extent starts is a head and records the offset
 * of that start within it and the pcluster's block; the others are NONHEAD and record how far
 * back their head is and how far ahead the next one is. With big pclusters, the first NONHEAD
 * after a head records the pcluster's block count instead (CBLKCNT). When the file ends inside
 * an lcluster where no extent starts, that lcluster gets a PLAIN head at the end of the file
 * (offset = size % 4096), as mkfs.erofs writes it.
 *
 * Compact indexes pack these records: the first few (up to a 32-byte boundary) two per 8 bytes,
 * then sixteen per 32 bytes, then the rest two per 8 bytes again; each pack holds 14 or 16 bits
 * per lcluster (2 type bits + 12 bits of offset or delta) and one block address from which the
 * kernel derives every head's block by counting pclusters.
 */
import { Advise, BLOCK_BITS, BLOCK_SIZE, ClusterType, D0_CBLKCNT, type AlgorithmId, type ClusterTypeId } from './format.js';

/** One stored piece of a compressed file. */
export interface Extent {
  /** Where its data starts in the file. */
  readonly offset: number;
  readonly length: number;
  /** Compressed (HEAD1) or stored raw (PLAIN, one block). */
  readonly compressed: boolean;
  /** Blocks of its pcluster. */
  readonly blocks: number;
}

export interface LclusterIndex {
  readonly type: ClusterTypeId;
  /** Heads: offset of the extent start within the lcluster. */
  readonly clusterofs: number;
  /** NONHEAD: lclusters back to the head (or D0_CBLKCNT | pcluster blocks). */
  readonly delta0: number;
  /** NONHEAD: lclusters ahead to the next head (or to the end). */
  readonly delta1: number;
}

const LCLUSTER = BLOCK_SIZE;
/** Largest delta a 12-bit field holds without reading as CBLKCNT. */
const MAX_DELTA = D0_CBLKCNT - 1;
const MAP_HEADER_SIZE = 8;
const PADDING: LclusterIndex = { type: ClusterType.PLAIN, clusterofs: 0, delta0: 0, delta1: 0 };

/** The largest extent the indexes can describe (its lclusters' deltas stay below CBLKCNT). */
export const MAX_EXTENT = MAX_DELTA * LCLUSTER;

/** The index of every lcluster of a file of `size` bytes stored as `extents` (in order). */
export function lclusterIndexes(size: number, extents: readonly Extent[], bigPcluster: boolean): LclusterIndex[] {
  const total = Math.ceil(size / LCLUSTER);
  const out: LclusterIndex[] = [];
  let expected = 0;
  for (const e of extents) {
    if (e.offset !== expected) throw new Error(`extents leave a gap at ${expected}`);
    if (e.length > MAX_EXTENT) throw new Error(`extent of ${e.length} bytes is too long for the indexes`);
    expected += e.length;
    const head = Math.floor(e.offset / LCLUSTER);
    // The lcluster where the extent ends (where the next one starts), or `total` at an aligned end.
    const endCluster = Math.floor((e.offset + e.length) / LCLUSTER);
    if (out.length !== head) throw new Error(`two extents start in lcluster ${head}`);
    out.push({ type: e.compressed ? ClusterType.HEAD1 : ClusterType.PLAIN, clusterofs: e.offset % LCLUSTER, delta0: 0, delta1: 0 });
    for (let l = head + 1; l < endCluster; l++) {
      const back = l - head;
      const delta0 = back === 1 && bigPcluster ? D0_CBLKCNT | e.blocks : Math.min(back, MAX_DELTA);
      out.push({ type: ClusterType.NONHEAD, clusterofs: 0, delta0, delta1: Math.min(endCluster - l, MAX_DELTA) });
    }
  }
  if (expected !== size) throw new Error(`extents cover ${expected} of ${size} bytes`);
  if (out.length < total) out.push({ type: ClusterType.PLAIN, clusterofs: size % LCLUSTER, delta0: 0, delta1: 0 });
  if (out.length !== total) throw new Error(`${out.length} lcluster indexes for ${total} lclusters`);
  return out;
}

/** How the compact indexes of `count` lclusters split into packs, for an inode whose map header ends at `ebase`. */
function packPlan(ebase: number, count: number): { initial: number; twoByte: number; rest: number } {
  let initial = ((32 - (ebase % 32)) / 4) & 7;
  if (initial % 2) throw new Error('compact indexes must start on an 8-byte boundary');
  if (initial > count) return { initial: 0, twoByte: 0, rest: count };
  const twoByte = Math.floor((count - initial) / 16) * 16;
  return { initial, twoByte, rest: count - initial - twoByte };
}

/**
 * Bytes of the map header and compact indexes for a file of `size` bytes whose inode ends at
 * `inodeEnd` (a 32-byte-aligned inode plus its size, so the header is 8-byte aligned).
 */
export function compressionMapSize(inodeEnd: number, size: number): number {
  const count = Math.ceil(size / LCLUSTER);
  const { initial, twoByte, rest } = packPlan(inodeEnd + MAP_HEADER_SIZE, count);
  return MAP_HEADER_SIZE + initial * 4 + twoByte * 2 + Math.ceil(rest / 2) * 8;
}

export interface CompressionMapOptions {
  readonly size: number;
  readonly extents: readonly Extent[];
  readonly algorithm: AlgorithmId;
  readonly bigPcluster: boolean;
  /** Block of the first pcluster; the others follow contiguously. */
  readonly firstBlock: number;
  /** Absolute byte position where the inode ends (the map header starts). */
  readonly inodeEnd: number;
}

export function encodeCompressionMap(o: CompressionMapOptions): Buffer {
  if (o.inodeEnd % 8) throw new Error('the map header must be 8-byte aligned');
  const indexes = lclusterIndexes(o.size, o.extents, o.bigPcluster);
  const out = Buffer.alloc(compressionMapSize(o.inodeEnd, o.size));
  let advise = Advise.COMPACTED_2B;
  if (o.bigPcluster) advise |= Advise.BIG_PCLUSTER_1 | Advise.BIG_PCLUSTER_2;
  out.writeUInt16LE(advise, 4);
  out.writeUInt8(o.algorithm, 6); // HEAD1 and HEAD2 algorithms (only HEAD1 is used)
  out.writeUInt8(0, 7); // lcluster = block
  const blocks = new PackAddresses(o.firstBlock, o.bigPcluster, o.extents);
  const { initial, twoByte } = packPlan(o.inodeEnd + MAP_HEADER_SIZE, indexes.length);
  let at = MAP_HEADER_SIZE;
  let i = 0;
  const pack = (count: number, bytes: number) => {
    writePack(out, at, indexes.slice(i, i + count), count, bytes, blocks.next(indexes, i, count));
    at += bytes;
    i += count;
  };
  while (i < initial) pack(2, 8);
  while (i < initial + twoByte) pack(16, 32);
  while (i < indexes.length) pack(2, 8);
  return out;
}

/** One pack: `slots` entries of (type << 12 | low bits) at `bits` each, then the u32 block address. */
function writePack(out: Buffer, at: number, entries: readonly LclusterIndex[], slots: number, bytes: number, blkaddr: number): void {
  const bits = ((bytes - 4) * 8) / slots;
  for (let k = 0; k < entries.length; k++) {
    const e = entries[k]!;
    let lo: number;
    if (e.type !== ClusterType.NONHEAD) lo = e.clusterofs;
    else if (e.delta0 & D0_CBLKCNT) lo = e.delta0;
    // The last entry of a pack carries the distance ahead; the reader gets the one back from its
    // neighbour.
    else lo = k === slots - 1 ? e.delta1 : e.delta0;
    const v = (e.type << BLOCK_BITS) | lo;
    const pos = k * bits;
    const byte = at + (pos >> 3);
    const shift = pos & 7;
    out[byte] = out[byte]! | ((v << shift) & 0xff);
    out[byte + 1] = (v << shift) >>> 8;
    if (shift + 14 > 16) out[byte + 2] = (v << shift) >>> 16;
  }
  out.writeUInt32LE(blkaddr >>> 0, at + bytes - 4);
}

/**
 * The block address each pack records. The kernel finds a head's pcluster at that address plus
 * the blocks of the pclusters it counts before the head within the pack; this follows what
 * mkfs.erofs records, including for packs with no head.
 */
class PackAddresses {
  /** The address after every pcluster accounted for so far. */
  private accounted: number;
  /** The latest head's pcluster is still to be accounted for (it turned out to be one block). */
  private pending: boolean;

  constructor(
    firstBlock: number,
    private readonly big: boolean,
    extents: readonly Extent[],
  ) {
    // Without big pclusters every pcluster is one block and heads are simply counted.
    if (!big && extents.some((e) => e.blocks !== 1)) throw new Error('pclusters of more than one block need big pclusters');
    this.accounted = big ? firstBlock : firstBlock - 1;
    this.pending = !big;
  }

  next(indexes: readonly LclusterIndex[], from: number, count: number): number {
    let recorded = this.accounted;
    let headSeen = false;
    for (let k = from; k < from + count; k++) {
      // A pack past the last lcluster is padded with zeros, which read as PLAIN heads.
      const e = indexes[k] ?? PADDING;
      if (e.type === ClusterType.NONHEAD) {
        if (e.delta0 & D0_CBLKCNT) {
          this.accounted += e.delta0 & ~D0_CBLKCNT;
          this.pending = false;
        }
        continue;
      }
      if (this.pending) {
        this.accounted++;
        if (this.big && !headSeen) recorded = this.accounted;
      }
      this.pending = true;
      headSeen = true;
    }
    return recorded;
  }
}
