// The message a consumer hands to eachMessage / eachBatch, shaped as KafkaJS's,
// decoded straight from the RecordBatch v2 bytes of a fetch: one plain object
// per record, its key and value views of the fetch's own bytes.
import { asCorrupt, type CommittedView, checkRecordsEnd, readHeaders, recordSections } from '../record-batch/decode.js';
import * as layout from '../record-batch/layout.js';
import { readVarint, readVarlong, type Cursor } from '../record-batch/varint.js';
import { BufferView } from '../storage/buffer-view.js';
import { decimal } from './decimal.js';

// A module constant, not an imported binding: V8 folds it into the loop below (layout.ts).
const { RECORD_ATTRIBUTES_SIZE: RECORD_ATTRIBUTES } = layout;

export interface KafkaMessage {
  key: Buffer | null;
  value: Buffer | null;
  /** Milliseconds since the epoch, as a decimal string (as KafkaJS). */
  timestamp: string;
  attributes: number;
  /** As a decimal string (as KafkaJS). */
  offset: string;
  /** A repeated key maps to an array of its values in order; a null header value stays `null`. */
  headers: Record<string, Buffer | null | (Buffer | null)[]>;
  size?: number;
}

type Headers = KafkaMessage['headers'];

interface MessageConstructor {
  new (key: Buffer | null, value: Buffer | null, timestamp: string, offset: string, headers: Headers): KafkaMessage;
}

// A constructor, not an object literal: V8 may pretenure what an object
// literal allocates (straight into the old generation) once many of them
// survive a scavenge, as a fetch's messages do while its handler runs; then
// every scavenge scans them and consuming runs several times slower.
// Constructed objects have no allocation site to pretenure. The prototype is
// Object.prototype, so a message is a plain object, as KafkaJS's are.
const Message = function (this: KafkaMessage, key: Buffer | null, value: Buffer | null, timestamp: string, offset: string, headers: Headers) {
  this.key = key;
  this.value = value;
  this.timestamp = timestamp;
  this.attributes = 0;
  this.offset = offset;
  this.headers = headers;
} as unknown as MessageConstructor;
Message.prototype = Object.prototype;
// The hidden classes a constructor's objects reach by adding properties live
// only while some object has them; if a full GC finds no message alive (between
// fetches) they go, and with them the optimized decoder, compiled again on the
// next fetch. This message, kept by the constructor, keeps them.
Object.defineProperty(Message, 'shape', { value: new Message(null, null, '', '', {}) });

/**
 * The messages of the whole data batches in `bytes` (a fetch: batches back to
 * back, a trailing partial batch ignored) at or past `fromOffset`, in order.
 * Keys and values of uncompressed batches are views of `bytes`. The records of
 * a batch whose position is in `decompressed` are read from there (a
 * registered codec's, compression-codecs.ts).
 */
export function decodeMessages(
  bytes: Buffer,
  fromOffset: number,
  decompressed?: ReadonlyMap<number, Buffer>,
  committed: CommittedView | null = null,
): KafkaMessage[] {
  const messages: KafkaMessage[] = [];
  const cursor: Cursor = { pos: 0 };
  let lastTimestamp = NaN;
  let lastTimestampText = '';
  for (const section of recordSections(bytes, fromOffset, false, decompressed, committed)) {
    const { source, end, baseOffset, baseTimestamp, appendTime, recordCount } = section;
    const arrayBuffer = source.buffer;
    const byteOffset = source.byteOffset;
    let pos = section.start;
    try {
      for (let i = 0; i < recordCount; i++) {
        // Varints of one byte, the common case, are read inline.
        let b = source[pos]!;
        let size: number;
        if (b < 0x80) {
          size = (b >>> 1) ^ -(b & 1);
          pos++;
        } else {
          cursor.pos = pos;
          size = readVarint(source, cursor);
          pos = cursor.pos;
        }
        const recordEnd = pos + size;
        if (size < 0 || recordEnd > end) throw new RangeError(`record length ${size} runs past the batch end`);
        pos += RECORD_ATTRIBUTES; // unused

        let timestampDelta: number;
        b = source[pos]!;
        if (b < 0x80) {
          timestampDelta = (b >>> 1) ^ -(b & 1);
          pos++;
        } else {
          cursor.pos = pos;
          timestampDelta = readVarlong(source, cursor);
          pos = cursor.pos;
        }
        let offsetDelta: number;
        b = source[pos]!;
        if (b < 0x80) {
          offsetDelta = (b >>> 1) ^ -(b & 1);
          pos++;
        } else {
          cursor.pos = pos;
          offsetDelta = readVarint(source, cursor);
          pos = cursor.pos;
        }

        let key: Buffer | null = null;
        let length: number;
        b = source[pos]!;
        if (b === 1) {
          pos++; // -1: a null key, the common case
        } else {
          cursor.pos = pos;
          length = readVarint(source, cursor);
          pos = cursor.pos;
          if (length !== -1) {
            if (length < -1 || pos + length > recordEnd) throw new RangeError(`field length ${length} runs past the record end`);
            key = new BufferView(arrayBuffer, byteOffset + pos, length);
            pos += length;
          }
        }

        let value: Buffer | null = null;
        cursor.pos = pos;
        length = readVarint(source, cursor);
        pos = cursor.pos;
        if (length !== -1) {
          if (length < -1 || pos + length > recordEnd) throw new RangeError(`field length ${length} runs past the record end`);
          value = new BufferView(arrayBuffer, byteOffset + pos, length);
          pos += length;
        }

        const headers: Headers = {};
        b = source[pos]!;
        if (b === 0) {
          pos++; // no headers, the common case
        } else {
          cursor.pos = pos;
          readHeaders(source, cursor, recordEnd, headers);
          pos = cursor.pos;
        }
        if (pos !== recordEnd) throw new RangeError(`record declares ${size} bytes but its fields take ${size + pos - recordEnd}`);

        const offset = baseOffset + offsetDelta;
        if (offset < fromOffset) continue;
        const timestamp = appendTime === -1 ? baseTimestamp + timestampDelta : appendTime;
        if (timestamp !== lastTimestamp) {
          lastTimestamp = timestamp;
          lastTimestampText = String(timestamp);
        }
        messages.push(new Message(key, value, lastTimestampText, decimal(offset), headers));
      }
    } catch (error) {
      throw asCorrupt(error, section.position);
    }
    checkRecordsEnd(section, pos);
  }
  return messages;
}
