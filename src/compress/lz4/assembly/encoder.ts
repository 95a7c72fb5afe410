/**
 * The LZ4 fixed-output ("destSize") encoder, in AssemblyScript, compiled to WebAssembly by the
 * build (asc, from the npm registry): it encodes the longest prefix of an input whose LZ4 block
 * fits in a given number of bytes, as `LZ4_compress_HC_destSize` does for mkfs.erofs, with
 * HC-quality matches. ../fixed-output.ts loads it and is what the rest of the code sees; the
 * block format and its end-of-block rules are described in ../block.ts.
 *
 * Everything lives in linear memory, addressed by hand: the match finder's tables (static), then
 * the output block, the input (copied whole by `reserve`'s caller, so positions are the caller's
 * indexes) and the optimal parse's per-position arrays. No allocator, no garbage collector.
 *
 * The match finder (HC, "high compression"): every position's 4-byte prefix is hashed into a
 * table of most recent positions, and each position links to the previous one with the same hash
 * (a chain of distances, at most 64 KiB back, LZ4's window). A search walks the chain from the
 * newest candidate, verifying each one, up to `attempts` candidates. Positions are kept as
 * `base + index`, and each block raises `base` beyond the window instead of clearing the tables:
 * entries of earlier blocks then look too far away to be used.
 *
 * Runs of one byte value (zero padding, mostly) fill the chain of that value's four bytes with
 * one entry per byte of every earlier run: a search would spend its attempts inside a few runs.
 * So a search from a position where such a run starts looks instead for the run's last byte and
 * the three after it, among positions preceded by a run at least as long (`RUN_LENGTH` tells):
 * only those matches go past the run. The run itself always matches one byte back.
 *
 * Two parsers use it: a greedy one (`compressGreedy`) and a cost-optimal one (`compressOptimal`),
 * whose blocks hold ≈0.3 % more input for about six times the time.
 */

// The LZ4 block format (../block.ts).
const MIN_MATCH = 4;
const LAST_LITERALS = 5;
const MATCH_FIND_LIMIT = 12;
const MAX_DISTANCE = 65535;
const FIELD_MAX = 15;

// The match finder.
const HASH_BITS = 15;
/** Run lengths 2^0 … 2^16 (the window) for `LONG_RUNS`. */
const RUN_BUCKETS = 17;
/** Earlier runs examined for a match of a run alone. */
const RUN_SEARCH = 32;
const WINDOW_MASK = 0xffff;
/** Keeps `base + index` within int32. */
const BASE_LIMIT = 1 << 30;
/** A table entry no search can reach. */
const FAR = -(MAX_DISTANCE + 1);

// The greedy parser.
/**
 * Where the next match is looked for: this many bytes before the end of the current one, but at
 * least PROBE_MIN bytes after its start (short matches would otherwise only be probed at their
 * second byte).
 */
const PROBE_BACK = 3;
const PROBE_MIN = 2;
/** The most overlapping matches considered together. */
const MAX_CHAIN = 32;
/** The longest match whose length fits in its token (4 + 14). */
const SHORT_MATCH_MAX = MIN_MATCH + 14;

// The optimal parser.
const UNREACHED = 0x3fffffff;
/**
 * A match this long is taken whole: only its full length is priced, and no match is looked for
 * inside it until its last LONG_MATCH bytes (runs of zeros would otherwise cost time quadratic
 * in their length).
 */
const LONG_MATCH = 256;
/** Bytes a match adds besides its extra length bytes: token and offset. */
const MATCH_COST = 3;

/** Newest position (`base + index`) per hash. */
const HEAD = memory.data((1 << HASH_BITS) * 4);
/** Per position (mod 64 KiB): the distance back to the previous one with its hash, 0 if none. */
const CHAIN = memory.data((WINDOW_MASK + 1) * 2);
/** Per position (mod 64 KiB): how many equal bytes end there, itself included. */
const RUN_LENGTH = memory.data((WINDOW_MASK + 1) * 4);
/**
 * Per byte value and k: where the latest run of that byte that reached 2^k bytes starts (as
 * `base + index`), for runs longer than the recent ones `earlierRuns` sees.
 */
const LONG_RUNS = memory.data(256 * RUN_BUCKETS * 4);
const RUN_STARTS = memory.data(RUN_SEARCH * 4);
const RUN_ENDS = memory.data(RUN_SEARCH * 4);
// The greedy parser's chain of candidate matches and the choice among them (`chooseMatches`).
const CHAIN_START = memory.data(MAX_CHAIN * 4);
const CHAIN_END = memory.data(MAX_CHAIN * 4);
const CHAIN_OFFSET = memory.data(MAX_CHAIN * 4);
const COST = memory.data(MAX_CHAIN * 4);
const FROM = memory.data(MAX_CHAIN * 4);
const BEFORE = memory.data(MAX_CHAIN * 4);
const PATH = memory.data(MAX_CHAIN * 4);
const REVERSED = memory.data(MAX_CHAIN * 4);

/** Bytes after the input, so that a 4- or 8-byte read at its last positions stays in memory. */
const INPUT_PADDING = 16;

let attempts = 256;
// The regions after the static data (`reserve`).
let out: usize = 0;
let src: usize = 0;
let srcLength = 0;
let capacityReserved = 0;
/** The optimal parser's arrays: per position from the block start, `optimalSpan` + 2 of each. */
let price: usize = 0;
let matchStartAt: usize = 0;
let matchOffsetAt: usize = 0;
let bestAt: usize = 0;
let literalsFromAt: usize = 0;
let pathAt: usize = 0;
let optimalSpan = -1;

// Match finder state.
let base = 0;
/** The input length when `base` was last raised: the next block raises it past that. */
let chainSrcLength = 0;
let blockStart = 0;
/** Next position not yet inserted. */
let nextToInsert = 0;
/** Offset of the match the last `find` or `findWider` returned. */
let offset = 0;
/** Start of the match the last `findWider` returned. */
let matchStart = 0;
/** Length of the match `wider` found, or of the run `longRun` found. */
let foundLength = 0;
// The run (of one byte) the last search started in, kept for the next searches in it: where it
// starts and ends (scanned up to `runLimit`), and how many earlier runs `earlierRuns` found.
let runFrom = -1;
let runTo = 0;
let runLimit = 0;
let runCount = 0;
/** Input bytes the last block encodes. */
let consumedBytes = 0;

@inline function i32At(array: usize, i: i32): i32 {
  return load<i32>(array + (<usize>i << 2));
}

@inline function setI32(array: usize, i: i32, value: i32): void {
  store<i32>(array + (<usize>i << 2), value);
}

// Reads of the input at `s`, the address of `src` that each hot function keeps in a local: V8
// loads a global from memory at every use.
@inline function byteIn(s: usize, i: i32): i32 {
  return <i32>load<u8>(s + <usize>i);
}

@inline function wordIn(s: usize, i: i32): u32 {
  return load<u32>(s + <usize>i);
}

@inline function chainAt(p: i32): i32 {
  return <i32>load<u16>(CHAIN + (<usize>(p & WINDOW_MASK) << 1));
}

@inline function runLengthAt(p: i32): i32 {
  return i32At(RUN_LENGTH, p & WINDOW_MASK);
}

/** Whether the four bytes of `v` are equal. */
@inline function isRun(v: u32): bool {
  return (v & 0xff) * 0x01010101 == v;
}

@inline function hash(v: u32): i32 {
  return <i32>((v * 2654435761) >> (32 - HASH_BITS));
}

function fillI32(array: usize, count: i32, value: i32): void {
  for (let i = 0; i < count; i++) setI32(array, i, value);
}

/** Makes linear memory reach `end`. */
function ensureMemory(end: usize): void {
  const pages = <i32>((end + 0xffff) >> 16);
  const have = memory.size();
  if (pages > have && memory.grow(pages - have) < 0) unreachable();
}

@inline function align16(n: usize): usize {
  return (n + 15) & ~(<usize>15);
}

/** Sets the search depth (candidates examined per search) and clears the tables. */
export function init(searchAttempts: i32): void {
  attempts = searchAttempts;
  fillI32(HEAD, 1 << HASH_BITS, FAR);
  fillI32(LONG_RUNS, 256 * RUN_BUCKETS, FAR);
  base = 0;
  chainSrcLength = 0;
}

/**
 * Lays out room for an output block of `capacity` bytes and an input of `inputLength` bytes;
 * returns where the caller copies the input.
 */
export function reserve(inputLength: i32, capacity: i32): usize {
  out = align16(__heap_base);
  src = align16(out + <usize>capacity + INPUT_PADDING);
  srcLength = inputLength;
  capacityReserved = capacity;
  optimalSpan = -1;
  ensureMemory(src + <usize>inputLength + INPUT_PADDING);
  memory.fill(src + <usize>inputLength, 0, INPUT_PADDING);
  return src;
}

export function outPointer(): usize {
  return out;
}

export function consumed(): i32 {
  return consumedBytes;
}

/**
 * Starts a block at `start`: nothing inserted before (in this or any other input) can be matched,
 * so a block's encoding depends on its own input only.
 */
function startBlock(start: i32): void {
  base += chainSrcLength + MAX_DISTANCE + 1;
  if (base + srcLength > BASE_LIMIT) {
    fillI32(HEAD, 1 << HASH_BITS, FAR);
    fillI32(LONG_RUNS, 256 * RUN_BUCKETS, FAR);
    base = 0;
  }
  chainSrcLength = srcLength;
  nextToInsert = start;
  blockStart = start;
  runFrom = -1;
}

/**
 * The longest match for position `ip` that starts at or after `low` and ends at or before
 * `limit`: its length (0 if shorter than 4), its offset in `offset`. Inserts every position
 * before `ip` first.
 */
function find(ip: i32, low: i32, limit: i32): i32 {
  const s = src;
  insertUpTo(ip);
  const lowLimit = max(min(low, ip), ip - MAX_DISTANCE);
  const maxLength = limit - ip;
  if (maxLength < MIN_MATCH) return 0;

  let first = wordIn(s, ip);
  let best = MIN_MATCH - 1;
  // From a run: the run itself one byte back; recent runs as long, which may go on past it;
  // then older matches of the run's last byte (`at`), preceded by a run as long.
  let at = ip;
  let run = 0;
  if (isRun(first)) {
    ourRun(ip, lowLimit, limit, first);
    const end = runTo;
    if (ip > lowLimit && byteIn(s, ip - 1) == byteIn(s, ip)) {
      best = end - ip;
      offset = 1;
    }
    for (let k = runCount - 1; k >= 0; k--) {
      const runEnd = i32At(RUN_ENDS, k);
      const length = runEnd - i32At(RUN_STARTS, k);
      const len = length < end - ip ? length : end - ip + extend(runEnd, end, limit);
      if (len > best) {
        best = len;
        offset = ip - (runEnd - min(length, end - ip));
      }
    }
    if (best < end - ip) {
      const start = longRun(byteIn(s, ip), end - ip, lowLimit);
      if (start >= 0) {
        const len = min(end - ip, foundLength);
        if (len > best) {
          best = len;
          offset = ip - start;
        }
      }
    }
    if (end + 1 > limit || best == maxLength) return best >= MIN_MATCH ? best : 0;
    at = end - 3;
    run = at - ip;
    first = wordIn(s, at);
  }
  let cand = i32At(HEAD, hash(first)) - base;
  for (let n = attempts; n > 0 && cand >= lowLimit + run; n--) {
    // The byte that would make it longer than the best so far, then the first four.
    if (cand < ip && byteIn(s, cand - run + best) == byteIn(s, ip + best) && wordIn(s, cand) == first && runLengthAt(cand) > run) {
      const len = run + MIN_MATCH + extend(cand + MIN_MATCH, at + MIN_MATCH, limit);
      if (len > best) {
        best = len;
        offset = at - cand;
        if (len == maxLength) break;
      }
    }
    const d = chainAt(cand);
    if (d == 0) break;
    cand -= d;
  }
  return best >= MIN_MATCH ? best : 0;
}

/**
 * The longest match found from position `ip` that may also extend backwards down to `minStart`
 * (not before `low` in its source), ends at or before `limit`, and is longer than `longest`: its
 * length (0 if none), start in `matchStart`, offset in `offset`.
 */
function findWider(ip: i32, minStart: i32, low: i32, limit: i32, longest: i32): i32 {
  const s = src;
  insertUpTo(ip);
  const lowLimit = max(low, ip - MAX_DISTANCE);
  if (limit - ip < MIN_MATCH) return 0;
  let first = wordIn(s, ip);
  let best = longest;
  let found = 0;
  // In a run: the run itself, then matches from its last byte (`at`), whose run before it
  // (`ownRun` bytes, `at` included) counts as matching without comparing it byte by byte.
  let at = ip;
  let ownRun = 1;
  if (isRun(first)) {
    ourRun(ip, lowLimit, limit, first);
    const end = runTo;
    const start = max(max(runFrom, low), minStart + 1);
    // Repeating the byte before it (within the block), our run from its second byte on.
    const self = start > low && byteIn(s, start - 1) == byteIn(s, ip) ? start : start + 1;
    if (self > low && self <= ip && end - self > best) {
      best = found = end - self;
      offset = 1;
      matchStart = self;
    }
    // Recent runs: the position ending where ours ends (the match may go on past both) and the
    // one starting where ours starts (it may go on before both).
    for (let k = runCount - 1; k >= 0; k--) {
      const runStart = i32At(RUN_STARTS, k);
      const runEnd = i32At(RUN_ENDS, k);
      const endAligned = max(runStart, runEnd - (end - ip));
      const startAligned = runStart + (ip - start);
      if (wider(endAligned, ip, minStart, low, limit, best)) best = found = foundLength;
      if (startAligned != endAligned && startAligned + MIN_MATCH <= runEnd && wider(startAligned, ip, minStart, low, limit, best)) best = found = foundLength;
    }
    if (start == ip) {
      const long = longRun(byteIn(s, ip), end - ip, lowLimit);
      if (long >= 0 && long + MIN_MATCH <= ip && wider(long, ip, minStart, low, limit, best)) best = found = foundLength;
    }
    if (end + 1 > limit) return found;
    at = end - 3;
    ownRun = at + 1 - start;
    first = wordIn(s, at);
  }
  const maxForward = limit - at;
  // The offset is taken from `at`, which may lie past `ip`.
  const chainLow = max(lowLimit, at - MAX_DISTANCE);
  let cand = i32At(HEAD, hash(first)) - base;
  for (let n = attempts; n > 0 && cand >= chainLow; n--) {
    // Preceded by a run at least as long as ours from `ip`: the match contains `ip`.
    if (cand < ip && wordIn(s, cand) == first && runLengthAt(cand) > at - ip) {
      let back = min(min(runLengthAt(cand), ownRun), cand - low + 1) - 1;
      back += extendBack(cand - back, at - back, min(at - minStart, cand - low) - back);
      // To be longer than `best`, the match must reach the byte at (its start + best).
      const need = best - back;
      if (need < maxForward && (need < MIN_MATCH || byteIn(s, cand + need) == byteIn(s, at + need))) {
        const forward = MIN_MATCH + extend(cand + MIN_MATCH, at + MIN_MATCH, limit);
        if (back + forward > best) {
          best = back + forward;
          found = best;
          offset = at - cand;
          matchStart = at - back;
        }
      }
    }
    const d = chainAt(cand);
    if (d == 0) break;
    cand -= d;
  }
  return found;
}

/**
 * Whether the match of `ip` with `c` (`c` < `ip`, their first 4 bytes equal), extended backwards
 * as `findWider` does, is longer than `best`: then its length is in `foundLength`, start and
 * offset in `matchStart` and `offset`.
 */
function wider(c: i32, ip: i32, minStart: i32, low: i32, limit: i32, best: i32): bool {
  const s = src;
  const back = extendBack(c, ip, min(ip - minStart, c - low));
  const length = back + extend(c, ip, limit);
  if (length <= best) return false;
  foundLength = length;
  matchStart = ip - back;
  offset = ip - c;
  return true;
}

/**
 * The latest runs of the byte `word` repeats before `ip` (at most RUN_SEARCH, from `low` on), each
 * found once however long, into RUN_STARTS and RUN_ENDS; returns how many.
 */
function earlierRuns(ip: i32, low: i32, word: u32): i32 {
  const s = src;
  let count = 0;
  let cand = i32At(HEAD, hash(word)) - base;
  while (count < RUN_SEARCH && cand >= low) {
    if (wordIn(s, cand) == word) {
      // The latest position of a run comes first: its run ends 4 bytes later, unless that run is
      // ours (reaches `ip`).
      const start = max(low, cand + 1 - runLengthAt(cand));
      if (cand + MIN_MATCH <= ip) {
        setI32(RUN_STARTS, count, start);
        setI32(RUN_ENDS, count, cand + MIN_MATCH);
        count++;
      }
      cand = start;
    }
    const d = chainAt(cand);
    if (d == 0) break;
    cand -= d;
  }
  return count;
}

/**
 * The start of the latest run of `byte` at least `length` long (or else of the longest length 2^k
 * below that) from `low` on, -1 if none; `foundLength` is the run length known to be there.
 */
function longRun(byte: i32, length: i32, low: i32): i32 {
  for (let k = 32 - clz<i32>(length - 1); k >= 2; k--) {
    const bucket = min(k, RUN_BUCKETS - 1);
    const start = i32At(LONG_RUNS, byte * RUN_BUCKETS + bucket) - base;
    if (start >= low) {
      foundLength = 1 << bucket;
      return start;
    }
  }
  return -1;
}

/**
 * Finds the run of `src[ip]` that `ip` is in (`word`: four of its bytes): `runFrom`, `runTo` (at
 * most `limit`), and the earlier runs (`runCount` of them, from `low` on); the searches from the
 * next positions of a run reuse them.
 */
function ourRun(ip: i32, low: i32, limit: i32, word: u32): void {
  const s = src;
  const from = ip > blockStart && byteIn(s, ip - 1) == byteIn(s, ip) ? ip - runLengthAt(ip - 1) : ip;
  if (from == runFrom && limit == runLimit && (runCount == 0 || i32At(RUN_STARTS, runCount - 1) >= low)) return;
  runFrom = from;
  runLimit = limit;
  const byte = byteIn(s, ip);
  let end = ip;
  while (end < limit && byteIn(s, end) == byte) end++;
  runTo = end;
  runCount = earlierRuns(ip, low, word);
}

/** How many bytes from `a` and `b` (a < b) are equal, stopping at `limit` for `b`. */
@inline function extend(a: i32, b: i32, limit: i32): i32 {
  const s = src;
  const from = b;
  while (b + 8 <= limit) {
    const diff = load<u64>(s + <usize>a) ^ load<u64>(s + <usize>b);
    if (diff != 0) return b - from + <i32>(ctz<u64>(diff) >> 3);
    a += 8;
    b += 8;
  }
  while (b < limit && byteIn(s, a) == byteIn(s, b)) {
    a++;
    b++;
  }
  return b - from;
}

/**
 * How many bytes before `a` and `b` (a < b) are equal, at most `most` (none if it is negative).
 * Matches are extended backwards over the whole match before them: 8 bytes at a time.
 */
@inline function extendBack(a: i32, b: i32, most: i32): i32 {
  const s = src;
  let n = 0;
  while (n + 8 <= most) {
    const diff = load<u64>(s + <usize>(a - n - 8)) ^ load<u64>(s + <usize>(b - n - 8));
    // The byte nearest to `a` is the most significant.
    if (diff != 0) return n + <i32>(clz<u64>(diff) >> 3);
    n += 8;
  }
  while (n < most && byteIn(s, a - n - 1) == byteIn(s, b - n - 1)) n++;
  return n;
}

@inline function insertUpTo(ip: i32): void {
  const s = src;
  let p = nextToInsert;
  let length = p > blockStart ? runLengthAt(p - 1) : 0;
  for (; p < ip; p++) {
    length = length != 0 && byteIn(s, p) == byteIn(s, p - 1) ? length + 1 : 1;
    setI32(RUN_LENGTH, p & WINDOW_MASK, length);
    // Where runs reach 4, 8, 16 … bytes (shorter ones are no match).
    if (length >= 4 && (length & (length - 1)) == 0 && length <= MAX_DISTANCE) setI32(LONG_RUNS, byteIn(s, p) * RUN_BUCKETS + 31 - clz<i32>(length), base + p + 1 - length);
    const h = hash(wordIn(s, p));
    const d = base + p - i32At(HEAD, h);
    store<u16>(CHAIN + (<usize>(p & WINDOW_MASK) << 1), d > 0 && d <= MAX_DISTANCE ? d : 0);
    setI32(HEAD, h, base + p);
  }
  if (ip > nextToInsert) nextToInsert = ip;
}

// Writing a block (../block.ts has the same functions for TypeScript).

/** Extra bytes a 4-bit length field needs for the value `n` (15 + 255 + 255 … ). */
@inline function extraLengthBytes(n: i32): i32 {
  return n < FIELD_MAX ? 0 : 1 + (n - FIELD_MAX) / 255;
}

/** The longest match whose extra length bytes fit in `room` bytes (MIN_MATCH if none do). */
function longestMatchFitting(room: i32): i32 {
  return room < 0 ? MIN_MATCH : MIN_MATCH + FIELD_MAX - 1 + 255 * room;
}

/** Bytes a sequence of `literals` literals and a match of `matchLength` takes. */
@inline function sequenceSize(literals: i32, matchLength: i32): i32 {
  return 1 + extraLengthBytes(literals) + literals + 2 + extraLengthBytes(matchLength - MIN_MATCH);
}

/** Bytes the final, literals-only sequence of `literals` literals takes. */
@inline function lastLiteralsSize(literals: i32): i32 {
  return 1 + extraLengthBytes(literals) + literals;
}

/** The most literals a final sequence can carry in `room` bytes. */
function lastLiteralsFitting(room: i32): i32 {
  if (room < 1) return -1;
  if (room <= FIELD_MAX) return room - 1;
  // One length byte per 255 literals past 15 (and the first at 15): close, then exact.
  let n = room - 2 - ((room - 2 - FIELD_MAX) >> 8);
  while (lastLiteralsSize(n) > room) n--;
  while (lastLiteralsSize(n + 1) <= room) n++;
  return n;
}

function writeLength(op: i32, rest: i32): i32 {
  while (rest >= 255) {
    store<u8>(out + <usize>op, 255);
    op++;
    rest -= 255;
  }
  store<u8>(out + <usize>op, <u8>rest);
  return op + 1;
}

/** Writes one sequence at `op` and returns the position after it. */
function writeSequence(op: i32, literalStart: i32, literals: i32, matchOffset: i32, matchLength: i32): i32 {
  // An encoder bug here would give a block that decodes to other bytes: trap (the caller fails
  // the build) instead.
  if (matchOffset < 1 || matchOffset > MAX_DISTANCE || matchLength < MIN_MATCH) unreachable();
  const ml = matchLength - MIN_MATCH;
  const token = op++;
  store<u8>(out + <usize>token, <u8>((literals < FIELD_MAX ? literals << 4 : FIELD_MAX << 4) | (ml < FIELD_MAX ? ml : FIELD_MAX)));
  if (literals >= FIELD_MAX) op = writeLength(op, literals - FIELD_MAX);
  memory.copy(out + <usize>op, src + <usize>literalStart, <usize>literals);
  op += literals;
  store<u16>(out + <usize>op, <u16>matchOffset);
  op += 2;
  if (ml >= FIELD_MAX) op = writeLength(op, ml - FIELD_MAX);
  return op;
}

/** Writes the final, literals-only sequence and returns the position after it. */
function writeLastLiterals(op: i32, literalStart: i32, literals: i32): i32 {
  store<u8>(out + <usize>op, <u8>(literals < FIELD_MAX ? literals << 4 : FIELD_MAX << 4));
  op++;
  if (literals >= FIELD_MAX) op = writeLength(op, literals - FIELD_MAX);
  memory.copy(out + <usize>op, src + <usize>literalStart, <usize>literals);
  return op + literals;
}

/** Bytes `n` literals take in a sequence, besides the token. */
@inline function literalsCost(n: i32): i32 {
  return n + extraLengthBytes(n);
}

// The greedy parser.

/**
 * Encodes the longest prefix of `input[start, end)` whose block fits in `capacity` bytes (at
 * `outPointer()`); returns its size, and the input it holds in `consumed()`. Matches never reach
 * before `start`: the block decodes on its own.
 *
 * Parsing: where no match starts, a literal. Where one does, it is extended backwards over
 * pending literals; then we look near its end for a longer match reaching further, near that
 * one's end for another, and so on, and choose which of these overlapping matches to write
 * (`chooseMatches`). A sequence is written only if the literals-only sequence every block ends
 * with still fits after it; when the next one does not, the block ends with as many literals as
 * the room left holds.
 */
export function compressGreedy(start: i32, end: i32, capacity: i32): i32 {
  if (capacity > capacityReserved || end > srcLength || start < 0 || start > end) unreachable();
  startBlock(start);
  const matchLimit = end - LAST_LITERALS;
  const lastMatchStart = end - MATCH_FIND_LIMIT;
  let op = 0;
  let anchor = start;
  let ip = start;

  // Literals the block could still end with: searching past them is pointless.
  let literalRoom = lastLiteralsFitting(capacity);
  while (ip <= lastMatchStart && ip - anchor < literalRoom) {
    const length = find(ip, start, matchLimit);
    if (length == 0) {
      ip++;
      continue;
    }
    // A chain of overlapping matches, each found near the end of the previous one and reaching
    // further.
    let s0 = ip;
    const o0 = offset;
    s0 -= extendBack(s0 - o0, s0, min(s0 - anchor, s0 - o0 - start));
    setI32(CHAIN_START, 0, s0);
    setI32(CHAIN_END, 0, ip + length);
    setI32(CHAIN_OFFSET, 0, o0);
    let n = 1;
    while (n < MAX_CHAIN) {
      const previousStart = i32At(CHAIN_START, n - 1);
      const previousEnd = i32At(CHAIN_END, n - 1);
      const probe = max(previousEnd - PROBE_BACK, previousStart + PROBE_MIN);
      if (probe > lastMatchStart || probe <= previousStart) break;
      const found = findWider(probe, previousStart, start, matchLimit, previousEnd - previousStart);
      if (found == 0) break;
      setI32(CHAIN_START, n, matchStart);
      setI32(CHAIN_END, n, matchStart + found);
      setI32(CHAIN_OFFSET, n, offset);
      n++;
    }
    const used = chooseMatches(n, anchor, lastMatchStart);
    let stopped = false;
    for (let u = 0; u < used; u++) {
      const j = i32At(PATH, u);
      const from = i32At(FROM, j);
      const to = u + 1 < used ? min(i32At(CHAIN_END, j), i32At(FROM, i32At(PATH, u + 1))) : i32At(CHAIN_END, j);
      if (!fits(op, from - anchor, to - from, capacity)) {
        // The block is full. End it with this match cut short, if that holds more input than
        // ending with literals now.
        const cut = longestFitting(op, from - anchor, to - from, capacity);
        if (cut > 0) {
          const after = op + sequenceSize(from - anchor, cut);
          const withMatch = from + cut + min(end - from - cut, lastLiteralsFitting(capacity - after));
          const withLiterals = anchor + min(end - anchor, lastLiteralsFitting(capacity - op));
          if (withMatch > withLiterals) {
            op = writeSequence(op, anchor, from - anchor, i32At(CHAIN_OFFSET, j), cut);
            anchor = from + cut;
          }
        }
        stopped = true;
        break;
      }
      op = writeSequence(op, anchor, from - anchor, i32At(CHAIN_OFFSET, j), to - from);
      anchor = to;
    }
    if (stopped) break;
    ip = anchor;
    literalRoom = lastLiteralsFitting(capacity - op);
  }

  const literals = min(end - anchor, lastLiteralsFitting(capacity - op));
  op = writeLastLiterals(op, anchor, literals);
  consumedBytes = anchor + literals - start;
  return op;
}

/**
 * Picks which matches of the chain to write, the last one always: the cheapest cover of [anchor,
 * end of the last match) in bytes (literals, 3 per sequence, extra length bytes). A match may
 * start later than found (it then gives up its first bytes) so that the one before it keeps 4,
 * but never past `lastMatchStart` (a block's last match starts 12 bytes before its end at least).
 * Leaves the chosen indexes in PATH and their starts in FROM; returns how many.
 */
function chooseMatches(n: i32, anchor: i32, lastMatchStart: i32): i32 {
  for (let j = 0; j < n; j++) {
    const startJ = i32At(CHAIN_START, j);
    const endJ = i32At(CHAIN_END, j);
    // Reached with literals only, from the anchor.
    let best = literalsCost(startJ - anchor) + 3;
    let bestFrom = startJ;
    let bestBefore = -1;
    for (let i = 0; i < j; i++) {
      const fromI = i32At(FROM, i);
      const costI = i32At(COST, i);
      const endI = i32At(CHAIN_END, i);
      const f = max(startJ, fromI + MIN_MATCH);
      if (endJ - f < MIN_MATCH || f > lastMatchStart || costI < 0) continue;
      // The match before ends at f (or earlier, literals filling the gap): its extra length bytes
      // are known now.
      const c = costI + extraLengthBytes(min(endI, f) - fromI - MIN_MATCH) + literalsCost(max(0, f - endI)) + 3;
      // On a tie, a path through matches rather than literals.
      if (c < best || (c == best && bestBefore < 0)) {
        best = c;
        bestFrom = f;
        bestBefore = i;
      }
    }
    setI32(COST, j, best);
    setI32(FROM, j, bestFrom);
    setI32(BEFORE, j, bestBefore);
  }
  let count = 0;
  for (let j = n - 1; j >= 0; j = i32At(BEFORE, j)) setI32(REVERSED, count++, j);
  for (let u = 0; u < count; u++) setI32(PATH, u, i32At(REVERSED, count - 1 - u));
  // Where two chosen matches overlap, the first keeps up to 18 bytes (the longest without an
  // extra length byte) and the second starts later: neither costs more, the second may cost less.
  for (let u = 0; u + 1 < count; u++) {
    const a = i32At(PATH, u);
    const b = i32At(PATH, u + 1);
    const cut = min(min(i32At(FROM, a) + SHORT_MATCH_MAX, i32At(CHAIN_END, a)), min(i32At(CHAIN_END, b) - MIN_MATCH, lastMatchStart));
    if (cut > i32At(FROM, b)) setI32(FROM, b, cut);
  }
  return count;
}

/** The longest match (from 4 to `length`) whose sequence `fits`, or 0. */
function longestFitting(op: i32, literals: i32, length: i32, capacity: i32): i32 {
  const room = capacity - op - sequenceSize(literals, MIN_MATCH) - (1 + LAST_LITERALS);
  let m = min(length, longestMatchFitting(room));
  while (m >= MIN_MATCH && !fits(op, literals, m, capacity)) m--;
  return m >= MIN_MATCH ? m : 0;
}

/**
 * Whether a sequence still leaves room for the literals every block ends with: at least 5, and
 * enough that its match starts 12 bytes before the end.
 */
@inline function fits(op: i32, literals: i32, length: i32, capacity: i32): bool {
  const reserve = 1 + max(LAST_LITERALS, MATCH_FIND_LIMIT - length);
  return op + sequenceSize(literals, length) + reserve <= capacity;
}

// The optimal parser.
//
// For each position from the block start it knows the fewest output bytes that encode the input
// before it, either ending with a match there (`price`) or with literals after one (`best`), from
// the longest match found at every position and each of its shorter lengths; the block then ends
// where the most input fits, with its final literals. A match ending at i starts at
// `matchStart[i]`, with `matchOffset[i]`; `best[i]` counts the literals since `literalsFrom[i]`,
// a position where `price` holds.

/** Positions reached by some match so far (their `price` is set). */
let reached = 0;

/** Lays out the optimal parser's arrays after the input, for blocks of up to `span` bytes. */
function reserveOptimal(span: i32): void {
  if (span <= optimalSpan) return;
  const bytes = (<usize>span + 2) << 2;
  price = align16(src + <usize>srcLength + INPUT_PADDING);
  matchStartAt = price + bytes;
  matchOffsetAt = matchStartAt + bytes;
  bestAt = matchOffsetAt + bytes;
  literalsFromAt = bestAt + bytes;
  pathAt = literalsFromAt + bytes;
  ensureMemory(pathAt + bytes);
  optimalSpan = span;
}

/** What the `n`th literal of a run adds: itself, and a length byte at 15, 270, 525 … */
@inline function literalsCostStep(n: i32): i32 {
  return n >= 15 && (n - 15) % 255 == 0 ? 2 : 1;
}

/** As `compressGreedy`, with the optimal parse. */
export function compressOptimal(start: i32, end: i32, capacity: i32): i32 {
  if (capacity > capacityReserved || end > srcLength || start < 0 || start > end) unreachable();
  const span = end - start;
  reserveOptimal(span);
  startBlock(start);
  const matchLimit = end - LAST_LITERALS;
  const lastMatchStart = end - MATCH_FIND_LIMIT;
  reached = 0;
  setI32(price, 0, 0);
  setI32(matchStartAt, 0, -1);
  let longEnd = -1;
  let longOffset = 0;
  let furthestStart = 0;
  let furthestEnd = 0;
  let furthestCost = 0;
  let i = 0;
  for (; i <= span; i++) {
    if (i > reached) setI32(price, i, UNREACHED);
    // The cheaper of: a sequence boundary here, or one more literal after the best before.
    let cost = i32At(price, i);
    let from = i;
    if (i > 0) {
      const literalsFrom = i32At(literalsFromAt, i - 1);
      const more = i32At(bestAt, i - 1) + literalsCostStep(i - literalsFrom);
      if (more < cost) {
        cost = more;
        from = literalsFrom;
      }
    }
    setI32(bestAt, i, cost);
    setI32(literalsFromAt, i, from);
    // A match from here would leave no room for the final literals.
    const full = cost + MATCH_COST + 1 + LAST_LITERALS > capacity;
    if (full && i >= reached) break;
    if (full || start + i > lastMatchStart) continue;
    if (i + LONG_MATCH <= longEnd) {
      relax(i, longEnd - i, longOffset, cost, false, 0);
      continue;
    }
    const found = find(start + i, start, matchLimit);
    if (found == 0) continue;
    // No longer than what leaves room for the final sequence: a run of zeros matches far beyond
    // what a block's length bytes can say.
    const length = min(found, longestMatchFitting(capacity - cost - MATCH_COST - 1 - LAST_LITERALS));
    // The ends that the furthest-reaching match so far (from less than 255 bytes back) already
    // prices as low: its cost is lower by a byte at least, its extra length bytes higher by one at
    // most.
    const shorter = length < LONG_MATCH;
    const priced = cost > furthestCost && i - furthestStart < 255 ? furthestEnd - i : 0;
    relax(i, length, offset, cost, shorter, priced);
    if (shorter && (i + length > furthestEnd || cost <= furthestCost)) {
      furthestStart = i;
      furthestEnd = i + length;
      furthestCost = cost;
    }
    if (length >= LONG_MATCH) {
      longEnd = i + length;
      longOffset = offset;
    }
  }

  // The block end holding the most input: after some match (or none), the most literals that
  // still fit, at least 5 of them and reaching 12 bytes past the match start.
  const last = min(min(reached, i), span);
  let endAt = min(span, lastLiteralsFitting(capacity));
  let lastMatchEnd = 0;
  for (let q = 1; q <= last; q++) {
    const p = i32At(price, q);
    if (p >= UNREACHED || q + capacity - p <= endAt) continue;
    const x = q + min(span - q, lastLiteralsFitting(capacity - p));
    if (x > endAt && x - q >= LAST_LITERALS && x - i32At(matchStartAt, q) >= MATCH_FIND_LIMIT) {
      endAt = x;
      lastMatchEnd = q;
    }
  }

  let count = 0;
  for (let q = lastMatchEnd; q > 0; q = i32At(literalsFromAt, i32At(matchStartAt, q))) setI32(pathAt, count++, q);
  let op = 0;
  let anchor = 0;
  for (let k = count - 1; k >= 0; k--) {
    const q = i32At(pathAt, k);
    const from = i32At(matchStartAt, q);
    op = writeSequence(op, start + anchor, from - anchor, i32At(matchOffsetAt, q), q - from);
    anchor = q;
  }
  op = writeLastLiterals(op, start + anchor, endAt - anchor);
  consumedBytes = endAt;
  return op;
}

/**
 * Prices a match from `i` of `length` bytes (offset `matchOffset`) after `cost` bytes: at its end,
 * and if `shorter`, at the end of each shorter length too (from `priced` + 1 on).
 */
function relax(i: i32, length: i32, matchOffset: i32, cost: i32, shorter: bool, priced: i32): void {
  const top = i + length;
  for (let q = reached + 1; q <= top; q++) setI32(price, q, UNREACHED);
  if (top > reached) reached = top;
  for (let m = shorter ? max(MIN_MATCH, priced + 1) : length; m <= length; m++) {
    const c = cost + MATCH_COST + (m < MIN_MATCH + 15 ? 0 : extraLengthBytes(m - MIN_MATCH));
    if (c < i32At(price, i + m)) {
      setI32(price, i + m, c);
      setI32(matchStartAt, i + m, i);
      setI32(matchOffsetAt, i + m, matchOffset);
    }
  }
}
