// The int64 fields of a batch header (baseOffset, the timestamps, producerId)
// as JavaScript numbers: exact for safe integers, ±(2^53 - 1).

/** Writes the safe integer `value` big-endian at `pos`. */
export function writeInt64(buf: Buffer, pos: number, value: number): void {
  const high = Math.floor(value / 0x100000000);
  buf.writeInt32BE(high, pos);
  buf.writeUInt32BE(value - high * 0x100000000, pos + 4);
}

/** The big-endian int64 at `pos`; exact only when it is a safe integer (check with Number.isSafeInteger). */
export function readInt64(buf: Buffer, pos: number): number {
  return buf.readInt32BE(pos) * 0x100000000 + buf.readUInt32BE(pos + 4);
}
