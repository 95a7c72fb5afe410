/**
 * The image file being written: sequential appends, buffered into large writes, plus positioned
 * writes for what is only known at the end (the superblock). Synchronous on purpose: the main
 * thread only reads, hands blocks to workers and appends, and every wait happens in one place
 * (the ordered queue), where worker results are taken in.
 */
import { closeSync, openSync, writeSync, writevSync } from 'node:fs';

const FLUSH_AT = 1 << 20;

export class ImageSink {
  private readonly fd: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Absolute position of the next appended byte. */
  position: number;

  constructor(path: string, start: number) {
    this.fd = openSync(path, 'w', 0o644);
    this.position = start;
  }

  /** Appends `data` and returns the position it starts at. */
  append(data: Uint8Array): number {
    const at = this.position;
    this.pending.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    this.pendingBytes += data.byteLength;
    this.position += data.byteLength;
    if (this.pendingBytes >= FLUSH_AT) this.flush();
    return at;
  }

  /**
   * Appends `data` and writes it before returning, so that the caller may reuse its buffer (a
   * file copied through one buffer, not a fresh one per read); returns the position it starts at.
   */
  appendNow(data: Uint8Array): number {
    this.flush();
    const at = this.position;
    writeAll(this.fd, data, at);
    this.position += data.byteLength;
    return at;
  }

  writeAt(position: number, data: Uint8Array): void {
    this.flush();
    writeAll(this.fd, data, position);
  }

  flush(): void {
    if (!this.pendingBytes) return;
    // One system call for all of them, without copying them together first.
    const at = this.position - this.pendingBytes;
    const written = writevSync(this.fd, this.pending, at);
    if (written < this.pendingBytes) writeAll(this.fd, Buffer.concat(this.pending, this.pendingBytes).subarray(written), at + written);
    this.pending = [];
    this.pendingBytes = 0;
  }

  close(): void {
    closeSync(this.fd);
  }
}

function writeAll(fd: number, data: Uint8Array, position: number): void {
  for (let done = 0; done < data.byteLength; ) done += writeSync(fd, data, done, data.byteLength - done, position + done);
}
