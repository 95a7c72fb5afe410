/**
 * The build record: what `ext build` wrote into a sysroot, so that the next build can remove what
 * it wrote before and no longer writes — and nothing else. It lives next to the sysroot
 * (Volume.buildRecord), never inside it, and is replaced atomically.
 *
 * Each path is recorded with what identifies the inode ext build left there: type and inode
 * number, plus size and mtime for files (mtime for symlinks). A path whose inode no longer
 * matches was replaced since (by the package manager, by hand) and is not ours to remove.
 * Copied overlay files also record the size and mtime of the overlay file they came from, so an
 * unchanged one is not copied again.
 *
 * JSON, one object: {schemaVersion: 1, writtenBy, extension, target, sysroot, paths: [{path |
 * pathBase64, kind, ino, size?, mtimeNs?, from?: {size, mtimeNs}}]}, paths sorted by their bytes.
 * `path` is used when the name is UTF-8, else `pathBase64` holds its bytes; inode numbers and
 * nanosecond times are decimal strings (they exceed 2^53).
 */
import { readFile, writeFile } from 'node:fs/promises';
import * as z from 'zod/mini';
import '../config/zod.js';
import { AtomicFile } from '../util/atomic.js';
import { bytesOf, type DiskEntry, type PathKey } from './disk.js';
import { pathKey } from '../sysroot/entry.js';

export const RECORD_SCHEMA_VERSION = 1;

export type WrittenKind = 'directory' | 'file' | 'symlink';

export interface WrittenPath {
  readonly key: PathKey;
  readonly kind: WrittenKind;
  readonly ino: bigint;
  /** Files. */
  readonly size?: number;
  /** Files and symlinks. */
  readonly mtimeNs?: bigint;
  /** Overlay files: the overlay file as it was when copied. */
  readonly from?: { readonly size: number; readonly mtimeNs: bigint };
}

export interface BuildRecord {
  readonly extension: string;
  readonly target: string;
  readonly sysroot: string;
  readonly paths: ReadonlyMap<PathKey, WrittenPath>;
}

const decimal = z.pipe(z.string().check(z.regex(/^\d+$/)), z.transform((s: string) => BigInt(s)));
const count = z.int().check(z.nonnegative());
const fileSchema = z.object({
  schemaVersion: z.literal(RECORD_SCHEMA_VERSION),
  extension: z.string(),
  target: z.string(),
  sysroot: z.string(),
  paths: z.array(
    z
      .object({
        path: z.optional(z.string()),
        pathBase64: z.optional(z.string()),
        kind: z.enum(['directory', 'file', 'symlink']),
        ino: decimal,
        size: z.optional(count),
        mtimeNs: z.optional(decimal),
        from: z.optional(z.object({ size: count, mtimeNs: decimal })),
      })
      .check(z.refine((p) => (p.path === undefined) !== (p.pathBase64 === undefined), 'needs one of path, pathBase64')),
  ),
});

const utf8 = new TextDecoder('utf-8', { fatal: true });

function encodePath(key: PathKey): { path: string } | { pathBase64: string } {
  const bytes = bytesOf(key);
  try {
    return { path: utf8.decode(bytes) };
  } catch {
    return { pathBase64: bytes.toString('base64') };
  }
}

/** The inode now at a recorded path is still the one ext build left there. */
export function stillWritten(w: WrittenPath, now: DiskEntry | undefined): boolean {
  if (!now || now.kind !== w.kind || now.ino !== w.ino) return false;
  if (w.kind === 'directory') return true;
  return now.mtimeNs === w.mtimeNs && (w.kind !== 'file' || now.size === w.size);
}

/** What to record for `key` after writing `now` there. */
export function written(key: PathKey, now: DiskEntry, from?: WrittenPath['from']): WrittenPath {
  if (now.kind === 'special') throw new Error(`ext build never writes special files (${key})`);
  if (now.kind === 'directory') return { key, kind: now.kind, ino: now.ino };
  return { key, kind: now.kind, ino: now.ino, mtimeNs: now.mtimeNs, ...(now.kind === 'file' ? { size: now.size } : {}), ...(from ? { from } : {}) };
}

export class UnreadableRecordError extends Error {}

/** The record at `file`, undefined when there is none; UnreadableRecordError when it cannot be used. */
export async function readBuildRecord(file: string): Promise<BuildRecord | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UnreadableRecordError(`cannot read ${file}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UnreadableRecordError(`${file} is not a build record of this version (${(e as Error).message})`);
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UnreadableRecordError(`${file} is not a build record of this version (${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'})`);
  }
  const doc = parsed.data;
  const paths = new Map<PathKey, WrittenPath>();
  for (const p of doc.paths) {
    const key = p.path !== undefined ? pathKey(Buffer.from(p.path, 'utf8')) : pathKey(Buffer.from(p.pathBase64!, 'base64'));
    paths.set(key, { key, kind: p.kind, ino: p.ino, size: p.size, mtimeNs: p.mtimeNs, from: p.from });
  }
  return { extension: doc.extension, target: doc.target, sysroot: doc.sysroot, paths };
}

export async function writeBuildRecord(file: string, record: BuildRecord): Promise<void> {
  const paths = [...record.paths.values()]
    .sort((a, b) => Buffer.compare(bytesOf(a.key), bytesOf(b.key)))
    .map((w) => ({
      ...encodePath(w.key),
      kind: w.kind,
      ino: String(w.ino),
      ...(w.size !== undefined ? { size: w.size } : {}),
      ...(w.mtimeNs !== undefined ? { mtimeNs: String(w.mtimeNs) } : {}),
      ...(w.from ? { from: { size: w.from.size, mtimeNs: String(w.from.mtimeNs) } } : {}),
    }));
  const doc = { schemaVersion: RECORD_SCHEMA_VERSION, writtenBy: 'avocado ext build', extension: record.extension, target: record.target, sysroot: record.sysroot, paths };
  const out = await AtomicFile.create(file);
  try {
    await writeFile(out.tempPath, `${JSON.stringify(doc, null, 1)}\n`);
    await out.commit();
  } finally {
    await out.discard();
  }
}
