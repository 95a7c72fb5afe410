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
import { Advise, BLOCK_BITS, BLOCK_SIZE, ClusterType, D0_CBLKCNT, DecodeError, type AlgorithmId, type ClusterTypeId } from './format.js';

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
export const MAP_HEADER_SIZE = 8;

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

// ---------------------------------------------------------------------------------------------
// Decoding, for the reader: the map header, FULL indexes (datalayout 1: 8 bytes per lcluster) and
// compact packs (datalayout 3), each lcluster's fields as the kernel derives them.

/** The 8-byte map header at the first 8-byte boundary after the inode and its xattrs. */
export interface MapHeader {
  /** Bytes 0–3 as one u32: where the tail is in the packed inode (fragments). */
  readonly fragmentOffset: number;
  /** Bytes 2–3: the inline tail pcluster's size (ztailpacking). */
  readonly inlineSize: number;
  readonly advise: number;
  /** h_algorithmtype's low nibble: the algorithm of HEAD1 lclusters. */
  readonly algorithmHead1: number;
  /** Its high nibble: the algorithm of HEAD2 lclusters. */
  readonly algorithmHead2: number;
  /** lclusterbits − blkszbits (h_clusterbits' low 3 bits). */
  readonly clusterBits: number;
  /** h_clusterbits' bit 7: the whole file is in the packed inode. */
  readonly wholeFileFragment: boolean;
}

export function decodeMapHeader(b: Buffer): MapHeader {
  return {
    fragmentOffset: b.readUInt32LE(0),
    inlineSize: b.readUInt16LE(2),
    advise: b.readUInt16LE(4),
    algorithmHead1: b[6]! & 15,
    algorithmHead2: b[6]! >> 4,
    clusterBits: b[7]! & 7,
    wholeFileFragment: (b[7]! & 0x80) !== 0,
  };
}

/** One lcluster's index, decoded. */
export interface DecodedLcluster {
  readonly type: ClusterTypeId;
  /** Heads: where the extent starts within the lcluster. */
  readonly clusterofs: number;
  /** Heads: the first block of the pcluster. */
  readonly blkaddr: number;
  /** NONHEAD: lclusters back towards the head (1 for a CBLKCNT). */
  readonly delta0: number;
  /** NONHEAD, where stored (FULL indexes, the last lcluster of a compact pack): lclusters ahead to the next head. */
  readonly delta1?: number;
  /** The first NONHEAD after a big pcluster's head: the pcluster's blocks. */
  readonly compressedBlocks?: number;
  /** FULL indexes (dedupe): the head's pcluster decodes to more than its extent uses. */
  readonly partialRef: boolean;
}

export const FULL_INDEX_SIZE = 8;
/** FULL indexes follow the map header and 8 reserved bytes. */
export const FULL_INDEXES_OFFSET = MAP_HEADER_SIZE + 8;

/** One FULL (datalayout 1) index: u16 advise (type, PARTIAL_REF), u16 clusterofs, u32 block or two u16 deltas. */
export function decodeFullIndex(b: Buffer): DecodedLcluster {
  const advise = b.readUInt16LE(0);
  const type = (advise & 3) as ClusterTypeId;
  const partialRef = (advise & 0x8000) !== 0;
  if (type !== ClusterType.NONHEAD) return { type, clusterofs: b.readUInt16LE(2), blkaddr: b.readUInt32LE(4), delta0: 0, partialRef };
  const delta0 = b.readUInt16LE(4);
  const delta1 = b.readUInt16LE(6);
  if (delta0 & D0_CBLKCNT) return { type, clusterofs: 0, blkaddr: 0, delta0: 1, delta1, compressedBlocks: delta0 & ~D0_CBLKCNT, partialRef };
  return { type, clusterofs: 0, blkaddr: 0, delta0, delta1, partialRef };
}

/** How a file's compact indexes are laid out: 4-byte-amortized packs, a run of 2-byte ones, 4-byte ones again. */
export interface CompactIndexPlan {
  /** Where the indexes start (just after the map header). */
  readonly ebase: number;
  /** Lclusters in 4-byte-amortized packs before the 2-byte run. */
  readonly initial: number;
  /** Lclusters in the 2-byte run (a multiple of 16). */
  readonly twoByte: number;
  readonly total: number;
}

/** The plan the kernel follows for `total` lclusters whose indexes start at `ebase` (8-byte aligned). */
export function compactIndexPlan(ebase: number, total: number, compacted2B: boolean): CompactIndexPlan {
  const initial = ((32 - (ebase % 32)) / 4) & 7;
  const twoByte = compacted2B && initial < total ? Math.floor((total - initial) / 16) * 16 : 0;
  return { ebase, initial, twoByte, total };
}

/** The pack holding lcluster `lcn`: its position and size, its slots and the lcluster's slot. */
export function compactPackOf(plan: CompactIndexPlan, lcn: number): { at: number; bytes: number; slots: 2 | 16; slot: number } {
  let pos: number;
  let amortized: number;
  if (lcn < plan.initial) {
    pos = plan.ebase + lcn * 4;
    amortized = 4;
  } else if (lcn < plan.initial + plan.twoByte) {
    pos = plan.ebase + plan.initial * 4 + (lcn - plan.initial) * 2;
    amortized = 2;
  } else {
    pos = plan.ebase + plan.initial * 4 + plan.twoByte * 2 + (lcn - plan.initial - plan.twoByte) * 4;
    amortized = 4;
  }
  const slots = amortized === 4 ? 2 : 16;
  const bytes = slots * amortized;
  const at = pos - (pos % bytes);
  return { at, bytes, slots, slot: (pos - at) / amortized };
}

/** Where the compact indexes end: the end of the last lcluster's pack. */
export function compactIndexesEnd(plan: CompactIndexPlan): number {
  if (!plan.total) return plan.ebase;
  const last = compactPackOf(plan, plan.total - 1);
  return last.at + last.bytes;
}

/**
 * The first `count` lclusters of one compact pack (`slots` of them in `pack.length` bytes: each
 * 2 type bits above lobits of clusterofs or delta, then the u32 block address the heads count
 * from), as the kernel reads them: the last slot stores delta1, its delta0 comes from the slot
 * before; a head's block is the pack's address plus the pclusters counted back within the pack
 * (one block each, or each CBLKCNT's count with big pclusters). Throws DecodeError.
 */
export function decodeCompactPack(pack: Buffer, slots: 2 | 16, count: number, lclusterBits: number, bigPcluster: boolean): DecodedLcluster[] {
  const lobits = Math.max(lclusterBits, 12);
  const encodeBits = ((pack.length - 4) * 8) / slots;
  if (lobits + 2 > encodeBits) throw new DecodeError(0, `${slots} lclusters of ${lclusterBits} bits do not fit a ${pack.length}-byte pack`);
  const mask = (1 << lobits) - 1;
  const base = pack.readUInt32LE(pack.length - 4);
  const at = (i: number): { type: ClusterTypeId; lo: number } => {
    const bit = i * encodeBits;
    const v = pack.readUInt32LE(bit >> 3) >>> (bit & 7);
    return { type: ((v >>> lobits) & 3) as ClusterTypeId, lo: v & mask };
  };
  const out: DecodedLcluster[] = [];
  for (let i = 0; i < count; i++) {
    const { type, lo } = at(i);
    if (type === ClusterType.NONHEAD) {
      if (lo & D0_CBLKCNT) {
        if (!bigPcluster) throw new DecodeError(0, `slot ${i} holds a block count (CBLKCNT) but the file has no big pclusters`);
        out.push({ type, clusterofs: 0, blkaddr: 0, delta0: 1, compressedBlocks: lo & ~D0_CBLKCNT, partialRef: false });
      } else if (i + 1 < slots) out.push({ type, clusterofs: 0, blkaddr: 0, delta0: lo, partialRef: false });
      else {
        // The pack's last slot holds delta1; delta0 is one more than the previous slot's.
        const prev = at(i - 1);
        const back = prev.type !== ClusterType.NONHEAD ? 0 : prev.lo & D0_CBLKCNT ? 1 : prev.lo;
        out.push({ type, clusterofs: 0, blkaddr: 0, delta0: back + 1, delta1: lo, partialRef: false });
      }
      continue;
    }
    let blocks = bigPcluster ? 0 : 1;
    for (let j = i; j > 0; ) {
      j--;
      const e = at(j);
      if (bigPcluster) {
        if (e.type !== ClusterType.NONHEAD) blocks++;
        else if (e.lo & D0_CBLKCNT) {
          j--;
          blocks += e.lo & ~D0_CBLKCNT;
        } else if (e.lo <= 1) throw new DecodeError(0, `slot ${j}: delta ${e.lo} where a big pcluster's NONHEAD must be 2 or more`);
        else j -= e.lo - 2;
      } else {
        if (e.type === ClusterType.NONHEAD) j -= e.lo;
        if (j >= 0) blocks++;
      }
    }
    out.push({ type, clusterofs: lo, blkaddr: (base + blocks) >>> 0, delta0: 0, partialRef: false });
  }
  return out;
}
