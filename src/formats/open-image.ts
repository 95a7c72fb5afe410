/**
 * Opens an image file with the reader of its format, told apart by the superblock's magic: a
 * squashfs magic at byte 0, an EROFS one at byte 1024.
 */
import { open } from 'node:fs/promises';
import { MAGIC as EROFS_MAGIC, SUPERBLOCK_OFFSET as EROFS_SUPERBLOCK_OFFSET } from './erofs/format.js';
import { ImageFormatError } from './errors.js';
import type { ImageReader } from './image-reader.js';
import { SQUASHFS_MAGIC } from './squashfs/format.js';

export async function openImage(path: string): Promise<ImageReader> {
  const head = Buffer.alloc(EROFS_SUPERBLOCK_OFFSET + 4);
  const fh = await open(path, 'r');
  let length: number;
  try {
    if (!(await fh.stat()).isFile()) throw new ImageFormatError(path, 'file', 0, 'not a regular file');
    ({ bytesRead: length } = await fh.read(head, 0, head.length, 0));
  } finally {
    await fh.close();
  }
  if (length >= 4 && head.readUInt32LE(0) === SQUASHFS_MAGIC) {
    const { SquashfsReader } = await import('./squashfs/reader.js');
    return SquashfsReader.open(path);
  }
  if (length >= head.length && head.readUInt32LE(EROFS_SUPERBLOCK_OFFSET) === EROFS_MAGIC) {
    const { ErofsReader } = await import('./erofs/reader.js');
    return ErofsReader.open(path);
  }
  throw new ImageFormatError(path, 'superblock', 0, length < 4 ? `the file is ${length} bytes, too short for an image` : 'neither a squashfs image (no magic at byte 0) nor an EROFS image (no magic at byte 1024)');
}
