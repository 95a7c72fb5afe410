/** What both image readers need of their file and their messages. */
import type { FileHandle } from 'node:fs/promises';

/** Fills `b` from `position`; a file that ends first is an error (the reader names the structure). */
export async function readFully(fh: FileHandle, b: Buffer, position: number): Promise<void> {
  for (let done = 0; done < b.length; ) {
    const { bytesRead } = await fh.read(b, done, b.length - done, position + done);
    if (bytesRead === 0) throw new Error(`end of file at ${position + done}`);
    done += bytesRead;
  }
}

/** A path for messages: '/' for the root, JSON-quoted (the bytes as UTF-8, invalid ones replaced). */
export function showImagePath(path: Buffer): string {
  return JSON.stringify(`/${path.toString('utf8')}`);
}
