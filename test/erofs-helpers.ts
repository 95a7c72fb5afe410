/**
 * Independent readers for the EROFS tests: a strict LZ4 block decoder and (below) a small EROFS
 * image decoder. They share no code with the writer on purpose.
 */

/**
 * Decodes one LZ4 block that must decode to exactly `size` bytes, enforcing the end-of-block
 * rules the kernel's decoder relies on: the last sequence is literals only, the last 5 bytes are
 * literals, and the last match starts at least 12 bytes before the end.
 */
export function decodeLz4Block(src: Uint8Array, size: number): Buffer {
  const out = Buffer.alloc(size);
  let ip = 0;
  let op = 0;
  const length = (n: number): number => {
    if (n !== 15) return n;
    for (;;) {
      if (ip >= src.length) throw new Error('lz4: truncated length');
      const b = src[ip++]!;
      n += b;
      if (b !== 255) return n;
    }
  };
  for (;;) {
    if (ip >= src.length) throw new Error('lz4: missing final literals');
    const token = src[ip++]!;
    const literals = length(token >> 4);
    if (ip + literals > src.length || op + literals > size) throw new Error('lz4: literals overrun');
    out.set(src.subarray(ip, ip + literals), op);
    ip += literals;
    op += literals;
    if (ip === src.length) {
      if ((token & 15) !== 0) throw new Error('lz4: last sequence has a match length');
      break;
    }
    const offset = src[ip]! | (src[ip + 1]! << 8);
    ip += 2;
    if (offset === 0 || offset > op) throw new Error(`lz4: bad offset ${offset} at ${op}`);
    const match = length(token & 15) + 4;
    if (op > size - 12) throw new Error('lz4: a match starts within the last 12 bytes');
    if (op + match > size - 5) throw new Error('lz4: a match reaches into the last 5 bytes');
    for (let i = 0; i < match; i++, op++) out[op] = out[op - offset]!;
  }
  if (op !== size) throw new Error(`lz4: decoded ${op} bytes, expected ${size}`);
  return out;
}
