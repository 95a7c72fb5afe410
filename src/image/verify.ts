/**
 * `ext verify` and `ext image --verify`: read an image back in full (every structure, every
 * block decompressed) and, given the entry list it should hold, compare the two entry by entry:
 * owner root, every time source_date_epoch, contents byte for byte against the sysroot.
 */
import type { ImageEntry, ImageReader } from '../formats/image-reader.js';
import type { SysrootTree } from '../sysroot/entry.js';
import { compareEntries, imageSide, treeSide, type EntryDifference } from './compare.js';

export interface VerifyOptions {
  /** The entry list to compare with; without it only the image itself is checked. */
  readonly tree?: SysrootTree;
  readonly sourceDateEpoch?: number;
  readonly signal?: AbortSignal;
  /** Content bytes read so far. */
  readonly progress?: (bytes: number) => void;
  readonly onDifference?: (d: EntryDifference) => void;
}

export interface VerifyResult {
  readonly entries: number;
  readonly files: number;
  /** Content bytes decompressed and checked. */
  readonly bytes: number;
  /** Image entries against the sysroot's: removed = only in the sysroot, added = only in the image. */
  readonly differences: readonly EntryDifference[];
  readonly comparedWith?: string;
}

export async function verifyImage(reader: ImageReader, opts: VerifyOptions = {}): Promise<VerifyResult> {
  await reader.checkStructures();
  let entries = 0;
  let files = 0;
  let bytes = 0;
  const counted = (chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> => countBytes(chunks, (n) => {
    bytes += n;
    opts.progress?.(bytes);
  });
  // Every file's blocks are decompressed once, whether or not the comparison read them: a file
  // whose size differs, or one only in the image, is still checked.
  const linked = new Set<number>();
  async function* everyEntry(): AsyncGenerator<ImageEntry> {
    for await (const e of reader.entries()) {
      entries++;
      // A later name of a hard-linked inode: its blocks were read with the first.
      const again = e.type === 'file' && e.nlink > 1 && linked.has(e.inodeNumber);
      if (e.type === 'file' && e.nlink > 1) linked.add(e.inodeNumber);
      if (e.type !== 'file' || again) {
        yield e;
        continue;
      }
      files++;
      const state = { done: false };
      readInFull.set(e, state);
      yield e;
      if (!state.done) for await (const _ of counted(reader.content(e))) opts.signal?.throwIfAborted();
    }
  }
  const readInFull = new WeakMap<ImageEntry, { done: boolean }>();
  const content = (e: ImageEntry) => tracked(counted(reader.content(e)), readInFull.get(e));
  const differences: EntryDifference[] = [];
  if (!opts.tree) {
    for await (const e of everyEntry()) {
      opts.signal?.throwIfAborted();
      if (e.type === 'file' && readInFull.has(e)) for await (const _ of content(e)) opts.signal?.throwIfAborted();
    }
    return { entries, files, bytes, differences };
  }
  for await (const d of compareEntries(treeSide(opts.tree, opts.sourceDateEpoch ?? 0), imageSide(everyEntry(), content), { signal: opts.signal })) {
    differences.push(d);
    opts.onDifference?.(d);
  }
  return { entries, files, bytes, differences, comparedWith: opts.tree.dir };
}

async function* countBytes(chunks: AsyncIterable<Buffer>, add: (n: number) => void): AsyncGenerator<Buffer> {
  for await (const c of chunks) {
    add(c.length);
    yield c;
  }
}

async function* tracked(chunks: AsyncIterable<Buffer>, state: { done: boolean } | undefined): AsyncGenerator<Buffer> {
  yield* chunks;
  if (state) state.done = true;
}
