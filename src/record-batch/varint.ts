// Kafka's zigzag varints (ByteUtils): 7 bits a byte, low group first, the high bit
// set on every byte but the last. varint is 32-bit (at most 5 bytes), varlong is
// 64-bit (at most 10 bytes); JS numbers carry varlongs exactly for safe integers.

/** The most bytes a varint takes. */
export const VARINT_MAX_BYTES = 5;
/** The most bytes a varlong takes. */
export const VARLONG_MAX_BYTES = 10;

/** A read position, advanced in place by the readers. */
export interface Cursor {
  pos: number;
}

function zigzag32(value: number): number {
  return ((value << 1) ^ (value >> 31)) >>> 0;
}

/** Bytes a zigzag varint of the int32 `value` takes. */
export function sizeOfVarint(value: number): number {
  const z = zigzag32(value);
  if (z < 0x80) return 1;
  if (z < 0x4000) return 2;
  if (z < 0x200000) return 3;
  if (z < 0x10000000) return 4;
  return 5;
}

/** Writes the int32 `value` as a zigzag varint at `offset`; returns the offset after it. */
export function writeVarint(buf: Uint8Array, value: number, offset: number): number {
  let z = zigzag32(value);
  while (z > 0x7f) {
    buf[offset++] = (z & 0x7f) | 0x80;
    z >>>= 7;
  }
  buf[offset++] = z;
  return offset;
}

// Zigzag of a 64-bit v is 2u + s with u = v or -v - 1 and s the sign bit. Splitting
// off the first byte (6 bits of u beside s) keeps every step exact in float64, even
// where 2u + s itself would not be.

/** Bytes a zigzag varlong of the safe integer `value` takes. */
export function sizeOfVarlong(value: number): number {
  if ((value | 0) === value) return sizeOfVarint(value);
  let rest = Math.floor((value < 0 ? -value - 1 : value) / 64);
  let size = 1;
  while (rest > 0) {
    size++;
    rest = Math.floor(rest / 128);
  }
  return size;
}

/** Writes the safe integer `value` as a zigzag varlong at `offset`; returns the offset after it. */
export function writeVarlong(buf: Uint8Array, value: number, offset: number): number {
  if ((value | 0) === value) return writeVarint(buf, value, offset);
  const negative = value < 0;
  const u = negative ? -value - 1 : value;
  let group = (u % 64) * 2 + (negative ? 1 : 0);
  let rest = Math.floor(u / 64);
  while (rest > 0) {
    buf[offset++] = group | 0x80;
    group = rest % 128;
    rest = Math.floor(rest / 128);
  }
  buf[offset++] = group;
  return offset;
}

/**
 * Reads a zigzag varint at `cursor.pos` and advances the cursor past it.
 * Throws a RangeError when it runs past the end of `buf` or is longer than 5 bytes.
 */
export function readVarint(buf: Uint8Array, cursor: Cursor): number {
  let pos = cursor.pos;
  const first = buf[pos];
  if (first !== undefined && first < 0x80) {
    cursor.pos = pos + 1;
    return (first >>> 1) ^ -(first & 1);
  }
  let raw = 0;
  let shift = 0;
  let b: number | undefined;
  do {
    if (shift > 28) throw new RangeError(`varint at ${cursor.pos} is longer than 5 bytes`);
    b = buf[pos++];
    if (b === undefined) throw new RangeError(`varint at ${cursor.pos} runs past the end of the buffer`);
    raw |= (b & 0x7f) << shift;
    shift += 7;
  } while (b & 0x80);
  cursor.pos = pos;
  return (raw >>> 1) ^ -(raw & 1);
}

/**
 * Reads a zigzag varlong at `cursor.pos` and advances the cursor past it.
 * Throws a RangeError when it runs past the end of `buf`, is longer than 10 bytes,
 * or its value lies outside the safe integer range.
 */
export function readVarlong(buf: Uint8Array, cursor: Cursor): number {
  let pos = cursor.pos;
  let b = buf[pos++];
  if (b === undefined) throw new RangeError(`varlong at ${cursor.pos} runs past the end of the buffer`);
  const negative = (b & 1) === 1;
  let u = (b & 0x7f) >>> 1;
  let scale = 64;
  let bytes = 1;
  while (b & 0x80) {
    if (bytes === 10) throw new RangeError(`varlong at ${cursor.pos} is longer than 10 bytes`);
    b = buf[pos++];
    if (b === undefined) throw new RangeError(`varlong at ${cursor.pos} runs past the end of the buffer`);
    u += (b & 0x7f) * scale;
    scale *= 128;
    bytes++;
  }
  if (u > Number.MAX_SAFE_INTEGER) {
    throw new RangeError(`varlong at ${cursor.pos} lies outside the safe integer range`);
  }
  cursor.pos = pos;
  return negative ? -u - 1 : u;
}

/** writeVarint, with the one- and two-byte cases (most lengths and deltas) small enough to inline. */
export function putVarint(buf: Buffer, value: number, pos: number): number {
  const z = ((value << 1) ^ (value >> 31)) >>> 0;
  if (z < 0x80) {
    buf[pos] = z;
    return pos + 1;
  }
  if (z < 0x4000) {
    buf[pos] = (z & 0x7f) | 0x80;
    buf[pos + 1] = z >>> 7;
    return pos + 2;
  }
  return writeVarint(buf, value, pos);
}
