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

/** The largest extent the indexes can describe (its lclusters' deltas stay below CBLKCNT). */
export const MAX_EXTENT = MAX_DELTA * LCLUSTER;

/** Receives one lcluster's index (the fields of LclusterIndex), in lcluster order. */
type IndexSink = (type: ClusterTypeId, clusterofs: number, delta0: number, delta1: number) => void;

/**
 * Turns a file's extents, given in order, into the index of each of its lclusters, passed on as
 * they are known: nothing per lcluster is kept.
 */
class LclusterIndexer {
  private readonly total: number;
  /** Bytes covered by the extents so far. */
  private covered = 0;
  /** Lcluster indexes produced so far. */
  private produced = 0;

  constructor(
    private readonly size: number,
    private readonly bigPcluster: boolean,
    private readonly sink: IndexSink,
  ) {
    this.total = Math.ceil(size / LCLUSTER);
  }

  add(e: Extent): void {
    if (e.offset !== this.covered) throw new Error(`extents leave a gap at ${this.covered}`);
    if (e.length > MAX_EXTENT) throw new Error(`extent of ${e.length} bytes is too long for the indexes`);
    this.covered += e.length;
    if (this.covered > this.size) throw new Error(`extents cover more than the ${this.size} bytes of the file`);
    const head = Math.floor(e.offset / LCLUSTER);
    // The lcluster where the extent ends (where the next one starts), or `total` at an aligned end.
    const endCluster = Math.floor((e.offset + e.length) / LCLUSTER);
    if (this.produced !== head) throw new Error(`two extents start in lcluster ${head}`);
    this.sink(e.compressed ? ClusterType.HEAD1 : ClusterType.PLAIN, e.offset % LCLUSTER, 0, 0);
    for (let l = head + 1; l < endCluster; l++) {
      const back = l - head;
      const delta0 = back === 1 && this.bigPcluster ? D0_CBLKCNT | e.blocks : Math.min(back, MAX_DELTA);
      this.sink(ClusterType.NONHEAD, 0, delta0, Math.min(endCluster - l, MAX_DELTA));
    }
    this.produced = Math.max(endCluster, head + 1);
  }

  /** After the last extent. */
  end(): void {
    if (this.covered !== this.size) throw new Error(`extents cover ${this.covered} of ${this.size} bytes`);
    if (this.produced < this.total) {
      this.sink(ClusterType.PLAIN, this.size % LCLUSTER, 0, 0);
      this.produced++;
    }
    if (this.produced !== this.total) throw new Error(`${this.produced} lcluster indexes for ${this.total} lclusters`);
  }
}

/** The index of every lcluster of a file of `size` bytes stored as `extents` (in order). */
export function lclusterIndexes(size: number, extents: readonly Extent[], bigPcluster: boolean): LclusterIndex[] {
  const out: LclusterIndex[] = [];
  const indexer = new LclusterIndexer(size, bigPcluster, (type, clusterofs, delta0, delta1) => out.push({ type, clusterofs, delta0, delta1 }));
  for (const e of extents) indexer.add(e);
  indexer.end();
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
  /** The file's size. */
  readonly size: number;
  readonly algorithm: AlgorithmId;
  readonly bigPcluster: boolean;
  /** Block of the first pcluster; the others follow contiguously. */
  readonly firstBlock: number;
  /** Absolute byte position where the inode ends (the map header starts). */
  readonly inodeEnd: number;
}

/** Most lclusters one pack holds. */
const MAX_PACK = 16;

/**
 * Encodes a compressed file's map as its extents arrive, in order: each pack is written into the
 * map as soon as its lclusters are known, so that besides the map itself (the metadata the image
 * holds, 2 bytes per lcluster) only one pack's indexes are kept, whatever the file's size.
 */
export class CompressionMapEncoder {
  /** The map header and compact indexes; complete after `finish`. */
  private readonly map: Buffer;
  private readonly indexer: LclusterIndexer;
  private readonly addresses: PackAddresses;
  private readonly plan: { readonly initial: number; readonly twoByte: number };
  /** The pack being filled: its first lcluster, its byte position in the map, its indexes so far. */
  private packFirst = 0;
  private packAt = MAP_HEADER_SIZE;
  private readonly pack = { count: 0, types: new Uint8Array(MAX_PACK), clusterofs: new Uint16Array(MAX_PACK), delta0: new Uint16Array(MAX_PACK), delta1: new Uint16Array(MAX_PACK) };
  private finished = false;

  constructor(private readonly o: CompressionMapOptions) {
    if (o.inodeEnd % 8) throw new Error('the map header must be 8-byte aligned');
    this.map = Buffer.alloc(compressionMapSize(o.inodeEnd, o.size));
    let advise = Advise.COMPACTED_2B;
    if (o.bigPcluster) advise |= Advise.BIG_PCLUSTER_1 | Advise.BIG_PCLUSTER_2;
    this.map.writeUInt16LE(advise, 4);
    this.map.writeUInt8(o.algorithm, 6); // HEAD1 and HEAD2 algorithms (only HEAD1 is used)
    this.map.writeUInt8(0, 7); // lcluster = block
    this.plan = packPlan(o.inodeEnd + MAP_HEADER_SIZE, Math.ceil(o.size / LCLUSTER));
    this.addresses = new PackAddresses(o.firstBlock, o.bigPcluster);
    this.indexer = new LclusterIndexer(o.size, o.bigPcluster, (type, clusterofs, delta0, delta1) => this.index(type, clusterofs, delta0, delta1));
  }

  /** The next extent of the file (they come in order and cover it without gaps). */
  add(e: Extent): void {
    if (this.finished) throw new Error('the compression map is already finished');
    // Without big pclusters every pcluster is one block and heads are simply counted.
    if (!this.o.bigPcluster && e.blocks !== 1) throw new Error('pclusters of more than one block need big pclusters');
    this.indexer.add(e);
  }

  /** Lclusters indexed but not yet written into the map: at most one pack's. */
  get unwritten(): number {
    return this.pack.count;
  }

  /** After the last extent: the map header and indexes that follow the inode. */
  finish(): Buffer {
    if (!this.finished) {
      this.indexer.end();
      if (this.pack.count) this.writePack();
      if (this.packAt !== this.map.length) throw new Error(`internal error: compression map of ${this.packAt} bytes, expected ${this.map.length}`);
      this.finished = true;
    }
    return this.map;
  }

  /** Lclusters in the pack that starts at lcluster `first`: two per 8 bytes before and after the run of sixteen per 32 bytes. */
  private packSlots(first: number): number {
    const { initial, twoByte } = this.plan;
    return first >= initial && first < initial + twoByte ? 16 : 2;
  }

  private index(type: ClusterTypeId, clusterofs: number, delta0: number, delta1: number): void {
    const p = this.pack;
    p.types[p.count] = type;
    p.clusterofs[p.count] = clusterofs;
    p.delta0[p.count] = delta0;
    p.delta1[p.count] = delta1;
    p.count++;
    if (p.count === this.packSlots(this.packFirst)) this.writePack();
  }

  /** Writes the pack being filled (a last pack may be partly filled) and starts the next. */
  private writePack(): void {
    const p = this.pack;
    const slots = this.packSlots(this.packFirst);
    const bytes = slots === 16 ? 32 : 8;
    writePack(this.map, this.packAt, p, slots, bytes, this.addresses.next(p, slots));
    this.packAt += bytes;
    this.packFirst += slots;
    p.count = 0;
  }
}

/** The map header and compact indexes of a file stored as `extents` (in order). */
export function encodeCompressionMap(o: CompressionMapOptions & { readonly extents: readonly Extent[] }): Buffer {
  const encoder = new CompressionMapEncoder(o);
  for (const e of o.extents) encoder.add(e);
  return encoder.finish();
}

/** The indexes of one pack, as the encoder collects them (the first `count` slots are used). */
interface PackIndexes {
  readonly count: number;
  readonly types: Uint8Array;
  readonly clusterofs: Uint16Array;
  readonly delta0: Uint16Array;
  readonly delta1: Uint16Array;
}

/** One pack: `slots` entries of (type << 12 | low bits) at `bits` each, then the u32 block address. */
function writePack(out: Buffer, at: number, entries: PackIndexes, slots: number, bytes: number, blkaddr: number): void {
  const bits = ((bytes - 4) * 8) / slots;
  for (let k = 0; k < entries.count; k++) {
    const type = entries.types[k]!;
    const delta0 = entries.delta0[k]!;
    let lo: number;
    if (type !== ClusterType.NONHEAD) lo = entries.clusterofs[k]!;
    else if (delta0 & D0_CBLKCNT) lo = delta0;
    // The last entry of a pack carries the distance ahead; the reader gets the one back from its
    // neighbour.
    else lo = k === slots - 1 ? entries.delta1[k]! : delta0;
    const v = (type << BLOCK_BITS) | lo;
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
  ) {
    this.accounted = big ? firstBlock : firstBlock - 1;
    this.pending = !big;
  }

  /** The address of the next pack, of `slots` lclusters of which `entries.count` are the file's. */
  next(entries: PackIndexes, slots: number): number {
    let recorded = this.accounted;
    let headSeen = false;
    for (let k = 0; k < slots; k++) {
      // A pack past the last lcluster is padded with zeros, which read as PLAIN heads.
      const type = k < entries.count ? entries.types[k]! : ClusterType.PLAIN;
      if (type === ClusterType.NONHEAD) {
        const delta0 = entries.delta0[k]!;
        if (delta0 & D0_CBLKCNT) {
          this.accounted += delta0 & ~D0_CBLKCNT;
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
