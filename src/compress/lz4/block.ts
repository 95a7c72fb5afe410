/**
 * The LZ4 block format (lz4's doc/lz4_Block_format.md), which the kernel's LZ4_decompress_safe
 * reads: a series of sequences, each a token (high nibble: literal count, low nibble: match
 * length - 4, 15 meaning "more bytes follow"), the extra literal-count bytes, the literals, a
 * little-endian u16 match offset and the extra match-length bytes. The last sequence has
 * literals only.
 *
 * End-of-block rules that decoders rely on (and the kernel's enforces): the last 5 bytes of the
 * decoded data are literals, and the last match starts at least 12 bytes before the end.
 */

export const MIN_MATCH = 4;
/** The last bytes of a block that must be literals. */
export const LAST_LITERALS = 5;
/** A match must start at least this many bytes before the end of the block. */
export const MATCH_FIND_LIMIT = 12;
/** The largest offset a match can have (u16). */
export const MAX_DISTANCE = 65535;

const FIELD_MAX = 15;

/** Extra bytes a 4-bit length field needs for the value `n` (15 + 255 + 255 … ). */
export function extraLengthBytes(n: number): number {
  return n < FIELD_MAX ? 0 : 1 + Math.floor((n - FIELD_MAX) / 255);
}

/** The longest match whose extra length bytes fit in `room` bytes (MIN_MATCH if none do). */
export function longestMatchFitting(room: number): number {
  return room < 0 ? MIN_MATCH : MIN_MATCH + FIELD_MAX - 1 + 255 * room;
}

/** Bytes a sequence of `literals` literals and a match of `matchLength` takes. */
export function sequenceSize(literals: number, matchLength: number): number {
  return 1 + extraLengthBytes(literals) + literals + 2 + extraLengthBytes(matchLength - MIN_MATCH);
}

/** Bytes the final, literals-only sequence of `literals` literals takes. */
export function lastLiteralsSize(literals: number): number {
  return 1 + extraLengthBytes(literals) + literals;
}

/** The most literals a final sequence can carry in `room` bytes. */
export function lastLiteralsFitting(room: number): number {
  if (room < 1) return -1;
  if (room <= FIELD_MAX) return room - 1;
  // One length byte per 255 literals past 15 (and the first at 15): close, then exact.
  let n = room - 2 - Math.floor((room - 2 - FIELD_MAX) / 256);
  while (lastLiteralsSize(n) > room) n--;
  while (lastLiteralsSize(n + 1) <= room) n++;
  return n;
}

function writeLength(dst: Uint8Array, op: number, rest: number): number {
  while (rest >= 255) {
    dst[op++] = 255;
    rest -= 255;
  }
  dst[op++] = rest;
  return op;
}

function copyLiterals(dst: Uint8Array, op: number, src: Uint8Array, from: number, count: number): number {
  if (count > 32) {
    dst.set(src.subarray(from, from + count), op);
    return op + count;
  }
  for (let i = 0; i < count; i++) dst[op + i] = src[from + i]!;
  return op + count;
}

/** Writes one sequence at `op` and returns the position after it. */
export function writeSequence(dst: Uint8Array, op: number, src: Uint8Array, literalStart: number, literals: number, offset: number, matchLength: number): number {
  // An encoder bug here would give a block that decodes to other bytes: fail the build instead.
  if (offset < 1 || offset > MAX_DISTANCE || matchLength < MIN_MATCH) throw new Error(`LZ4 encoder: invalid match (offset ${offset}, length ${matchLength})`);
  const ml = matchLength - MIN_MATCH;
  const token = op++;
  dst[token] = (literals < FIELD_MAX ? literals << 4 : FIELD_MAX << 4) | (ml < FIELD_MAX ? ml : FIELD_MAX);
  if (literals >= FIELD_MAX) op = writeLength(dst, op, literals - FIELD_MAX);
  op = copyLiterals(dst, op, src, literalStart, literals);
  dst[op++] = offset & 0xff;
  dst[op++] = offset >>> 8;
  if (ml >= FIELD_MAX) op = writeLength(dst, op, ml - FIELD_MAX);
  return op;
}

/** Writes the final, literals-only sequence and returns the position after it. */
export function writeLastLiterals(dst: Uint8Array, op: number, src: Uint8Array, literalStart: number, literals: number): number {
  dst[op++] = literals < FIELD_MAX ? literals << 4 : FIELD_MAX << 4;
  if (literals >= FIELD_MAX) op = writeLength(dst, op, literals - FIELD_MAX);
  return copyLiterals(dst, op, src, literalStart, literals);
}
