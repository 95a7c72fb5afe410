/**
 * `ext diff A B`: why two images' bytes differ. First the entries (added, removed, changed, with
 * the attributes and content that changed); then what is outside the entries: superblock fields,
 * compressor and settings, and, when the entries are all equal, which bytes differ and what those
 * bytes hold in each image (the readers' layout maps).
 */
import { open } from 'node:fs/promises';
import type { ImageDescription, ImageReader, ImageRegion } from '../formats/image-reader.js';
import { compareEntries, imageSide, type AttributeDifference, type EntryDifference } from './compare.js';
import { imageSha256 } from './inspect.js';

export interface ByteRange {
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
  /** What these bytes hold in A and in B. */
  readonly a: string;
  readonly b: string;
}

export interface MovedRegion {
  readonly what: string;
  readonly a: { readonly start: number; readonly length: number };
  readonly b: { readonly start: number; readonly length: number };
}

export interface ImageDiff {
  readonly a: { readonly path: string; readonly size: number; readonly sha256: string };
  readonly b: { readonly path: string; readonly size: number; readonly sha256: string };
  readonly identical: boolean;
  readonly entries: { readonly a: number; readonly b: number; readonly differences: readonly EntryDifference[] };
  /** Format, compressor, its options, block and cluster size. */
  readonly settings: readonly AttributeDifference[];
  readonly superblock: readonly AttributeDifference[];
  /** With equal entries: the first runs of differing bytes (at most MAX_RANGES) and regions that moved or changed size. */
  readonly bytes?: { readonly ranges: readonly ByteRange[]; readonly more: boolean; readonly moved: readonly MovedRegion[]; readonly moreMoved: boolean };
}

const MAX_RANGES = 20;
const MAX_MOVED = 20;
/** Differing runs closer than this are reported as one. */
const MERGE_GAP = 16;
const CHUNK = 1 << 20;

export async function diffImages(a: ImageReader, b: ImageReader, opts: { readonly signal?: AbortSignal; readonly onDifference?: (d: EntryDifference) => void } = {}): Promise<ImageDiff> {
  const [shaA, shaB] = [await imageSha256(a.path), await imageSha256(b.path)];
  const info = (r: ImageReader, sha256: string) => ({ path: r.path, size: r.fileSize, sha256 });
  const da = a.describe();
  const db = b.describe();
  const settings = compareRecords(settingsRecord(da), settingsRecord(db));
  const superblock = compareRecords(da.superblock, db.superblock);
  if (shaA === shaB && a.fileSize === b.fileSize)
    return { a: info(a, shaA), b: info(b, shaB), identical: true, entries: { a: -1, b: -1, differences: [] }, settings, superblock };

  const differences: EntryDifference[] = [];
  const it = compareEntries(imageSide(a.entries(), (e) => a.content(e)), imageSide(b.entries(), (e) => b.content(e)), { signal: opts.signal });
  let n = await it.next();
  while (!n.done) {
    differences.push(n.value);
    opts.onDifference?.(n.value);
    n = await it.next();
  }
  const summary = n.value;
  const result = { a: info(a, shaA), b: info(b, shaB), identical: false, entries: { a: summary.entriesA, b: summary.entriesB, differences }, settings, superblock };
  if (differences.length) return result;
  return { ...result, bytes: await whereBytesDiffer(a, b, opts.signal) };
}

function settingsRecord(d: ImageDescription): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = { format: d.family, compressor: d.compressor, blockSize: d.blockSize };
  if (d.clusterSize !== undefined) out.clusterSize = d.clusterSize;
  for (const [k, v] of Object.entries(d.compressorOptions)) out[`compressorOptions.${k}`] = v;
  out.kernelMin = d.kernelMin.version;
  out.features = d.features.join(' ');
  return out;
}

function compareRecords(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): AttributeDifference[] {
  const out: AttributeDifference[] = [];
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = key in a ? String(a[key]) : '(none)';
    const y = key in b ? String(b[key]) : '(none)';
    if (x !== y) out.push({ attribute: key, a: x, b: y });
  }
  return out;
}

async function whereBytesDiffer(a: ImageReader, b: ImageReader, signal?: AbortSignal): Promise<NonNullable<ImageDiff['bytes']>> {
  const [layoutA, layoutB] = [await a.layout(), await b.layout()];
  const runs: { start: number; end: number }[] = [];
  let more = false;
  const fa = await open(a.path, 'r');
  const fb = await open(b.path, 'r');
  try {
    const ba = Buffer.alloc(CHUNK);
    const bb = Buffer.alloc(CHUNK);
    const length = Math.max(a.fileSize, b.fileSize);
    for (let at = 0; at < length && !more; at += CHUNK) {
      signal?.throwIfAborted();
      // Past the end of the shorter file every byte differs.
      ba.fill(0);
      bb.fill(0);
      const { bytesRead: na } = await fa.read(ba, 0, CHUNK, at);
      const { bytesRead: nb } = await fb.read(bb, 0, CHUNK, at);
      const n = Math.min(CHUNK, length - at);
      if (na === nb && na === n && ba.equals(bb)) continue;
      for (let i = 0; i < n; i++) {
        const differs = ba[i] !== bb[i] || i >= na || i >= nb;
        if (!differs) continue;
        const p = at + i;
        const last = runs[runs.length - 1];
        if (last && p - last.end < MERGE_GAP) last.end = p + 1;
        else if (runs.length === MAX_RANGES) {
          more = true;
          break;
        } else runs.push({ start: p, end: p + 1 });
      }
    }
  } finally {
    await fa.close();
    await fb.close();
  }
  const ranges = runs.map((r) => ({ ...r, a: regionAt(layoutA, r.start, a.fileSize), b: regionAt(layoutB, r.start, b.fileSize) }));
  const byName = new Map(layoutB.map((r) => [r.what, r]));
  const moved: MovedRegion[] = [];
  let moreMoved = false;
  for (const ra of layoutA) {
    const rb = byName.get(ra.what);
    if (!rb || (rb.start === ra.start && rb.end === ra.end)) continue;
    if (moved.length === MAX_MOVED) {
      moreMoved = true;
      break;
    }
    moved.push({ what: ra.what, a: { start: ra.start, length: ra.end - ra.start }, b: { start: rb.start, length: rb.end - rb.start } });
  }
  return { ranges, more, moved, moreMoved };
}

/** What holds byte `at`: a region of the layout, else padding or past the end of the file. */
function regionAt(layout: readonly ImageRegion[], at: number, fileSize: number): string {
  if (at >= fileSize) return 'past the end of the file';
  let lo = 0;
  let hi = layout.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = layout[mid]!;
    if (at < r.start) hi = mid - 1;
    else if (at >= r.end) lo = mid + 1;
    else return `${r.what} (+${at - r.start})`;
  }
  return 'unused bytes or padding';
}
