// What the log checks in appended RecordBatch v2 bytes before they cross
// into the store, which checks the rest (framing, CRC, sizes, offsets).
import { InvalidRecordError } from '../errors.js';
import { native } from '../storage/native.js';
import { decompressRecords, isKnownCodec } from './codecs.js';
import { decodeRecord } from './decode.js';
import { isBuiltCompressed } from './encode.js';
import {
  ATTRIBUTE_CODEC_MASK,
  ATTRIBUTES,
  BASE_TIMESTAMP,
  CODEC_NAMES,
  CODEC_NONE,
  CRC,
  HEADER_SIZE,
  LENGTH,
  LOG_OVERHEAD,
  MAGIC,
  MAGIC_V2,
  MAX_TIMESTAMP,
  MIN_LENGTH,
  RECORDS_COUNT,
} from './layout.js';
import type { Cursor } from './varint.js';

/** The high 32 bits of an int64 within ±(2^53 - 1), the range a JavaScript number holds exactly, are within ±SAFE_HIGH_WORD. */
const SAFE_HIGH_WORD = 0x1fffff;

/**
 * What the store cannot check before an append: that a compressed batch's records
 * decompress and frame exactly (offset deltas 0, 1, 2, ...), and that every
 * batch's timestamps fit a JavaScript number. Without this, a batch with a
 * valid CRC over garbage would be stored and fail every reader.
 * Stops quietly at the first batch whose frame or CRC is bad: the store
 * rejects that one with the precise error.
 */
export function checkBatchContents(bytes: Uint8Array): void {
  if (isBuiltCompressed(bytes)) return;
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const cursor: Cursor = { pos: 0 };
  let position = 0;
  while (buf.length - position >= HEADER_SIZE) {
    const length = buf.readInt32BE(position + LENGTH);
    const end = position + LOG_OVERHEAD + length;
    if (length < MIN_LENGTH || end > buf.length || buf[position + MAGIC] !== MAGIC_V2) return;
    const invalid = (reason: string) => new InvalidRecordError(`invalid record batch at byte ${position} of the input: ${reason}`);
    for (const [field, at] of [
      ['baseTimestamp', BASE_TIMESTAMP],
      ['maxTimestamp', MAX_TIMESTAMP],
    ] as const) {
      // The high 32 bits decide whether the 64-bit value is within ±(2^53 - 1).
      const high = buf.readInt32BE(position + at);
      if (high > SAFE_HIGH_WORD || high < -SAFE_HIGH_WORD) {
        throw invalid(`${field} ${buf.readBigInt64BE(position + at)} is outside the range Fjord reads (±2^53 - 1 ms)`);
      }
    }
    const codec = buf.readInt16BE(position + ATTRIBUTES) & ATTRIBUTE_CODEC_MASK;
    // An unknown codec is the store's to refuse.
    if (codec !== CODEC_NONE && isKnownCodec(codec)) {
      if (native.crc32c(buf.subarray(position + ATTRIBUTES, end)) !== buf.readUInt32BE(position + CRC)) return;
      const count = buf.readInt32BE(position + RECORDS_COUNT);
      if (count <= 0) return;
      const name = CODEC_NAMES[codec];
      let records: Buffer;
      try {
        records = decompressRecords(codec, buf.subarray(position + HEADER_SIZE, end));
      } catch (error) {
        throw invalid(`${name} records do not decompress: ${(error as Error).message}`);
      }
      cursor.pos = 0;
      for (let i = 0; i < count; i++) {
        let offsetDelta: number;
        try {
          offsetDelta = decodeRecord(records, cursor, records.length, 0, 0, -1).offset;
        } catch (error) {
          throw invalid(`${name} record ${i}: ${(error as Error).message}`);
        }
        if (offsetDelta !== i) throw invalid(`${name} record ${i}: offsetDelta is ${offsetDelta}`);
      }
      if (cursor.pos !== records.length) throw invalid(`${records.length - cursor.pos} bytes follow the last of ${count} ${name} records`);
    }
    position = end;
  }
}
