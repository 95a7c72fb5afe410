import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';

/** sha256 of an open file from its start; the handle stays open. */
export async function sha256Handle(fh: FileHandle): Promise<string> {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(8 << 20);
  for (let position = 0; ; ) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, position);
    if (bytesRead === 0) break;
    hash.update(buf.subarray(0, bytesRead));
    position += bytesRead;
  }
  return hash.digest('hex');
}
