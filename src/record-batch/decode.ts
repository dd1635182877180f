// Decoding RecordBatch v2 (layout.ts): batch headers, record sections
// (compressed records decompressed, codecs.ts) and records. The consumer's message decoder
// (consumer/kafka-message.ts) reads records itself, inlined, from the
// sections this yields.
import { CorruptRecordError, InvalidArgumentError } from '../errors.js';
import { native } from '../storage/native.js';
import { decompressRecords, isKnownCodec } from './codecs.js';
import { describe } from './describe.js';
import { readInt64 } from './int64.js';
import * as layout from './layout.js';
import { type Cursor, readVarint, readVarlong } from './varint.js';

// Module constants, not imported bindings: V8 folds these into optimized code (layout.ts).
const {
  ATTRIBUTE_CODEC_MASK,
  ATTRIBUTE_CONTROL,
  ATTRIBUTE_LOG_APPEND_TIME,
  ATTRIBUTE_TRANSACTIONAL,
  ATTRIBUTES,
  BASE_OFFSET,
  BASE_TIMESTAMP,
  CODEC_NAMES,
  CODEC_NONE,
  CRC,
  HEADER_SIZE,
  LAST_OFFSET_DELTA,
  LENGTH,
  LOG_OVERHEAD,
  MAGIC,
  MAGIC_V2,
  MAX_TIMESTAMP,
  MIN_LENGTH,
  PRODUCER_ID,
  RECORDS_COUNT,
  RECORD_ATTRIBUTES_SIZE: RECORD_ATTRIBUTES,
} = layout;

export interface DecodedRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  /** A repeated key maps to an array of its values in order; a null header value stays `null` (as in KafkaJS and Kafka's Java client). */
  headers: Record<string, Buffer | null | (Buffer | null)[]>;
}

export interface DecodeOptions {
  /** Check each whole batch's CRC-32C before reading it. Off by default: the log verifies batches when it recovers. */
  verifyCrc?: boolean;
  /** Skip records below this offset (a fetch returns whole batches that may start earlier). */
  fromOffset?: number;
  /** Read as Kafka's read_committed: stop at the view's last stable offset, skip batches of aborted transactions. */
  committed?: CommittedView | null;
}

/** What a read_committed read needs of a partition's transactions (topics/transaction-state.ts). */
export interface CommittedView {
  /** Offsets at or past this are not returned. */
  readonly lastStableOffset: number;
  /** True when the transactional batch of `producerId` at `offset` belongs to an aborted transaction. */
  isAborted(producerId: bigint, offset: number): boolean;
}

export interface BatchInfo {
  baseOffset: number;
  lastOffset: number;
  /** Bytes of the whole batch, its 12-byte offset/length prefix included. */
  size: number;
  recordCount: number;
  maxTimestamp: number;
  attributes: number;
  crc: number;
  /** Byte position of the batch in the walked buffer. */
  position: number;
}

function corrupt(message: string, position: number, options?: ErrorOptions): CorruptRecordError {
  const error = new CorruptRecordError(`record batch at byte ${position}: ${message}`, { position });
  if (options?.cause !== undefined) error.cause = options.cause;
  return error;
}

/**
 * Yields the records of every whole batch in `bytes` (batches back to back, as a
 * fetch or a segment holds them), in order. A trailing partial batch ends the
 * iteration silently. Control batches (transaction markers) yield nothing.
 * Keys and values of uncompressed batches are views into `bytes`, not copies.
 */
export function decodeBatches(bytes: Buffer, options: DecodeOptions = {}): Generator<DecodedRecord> {
  return decodeBatchesWith(bytes, options, undefined);
}

/** decodeBatches, the records of the batches at the positions in `decompressed` read from there (compression-codecs.ts). */
export function* decodeBatchesWith(bytes: Buffer, options: DecodeOptions, decompressed: ReadonlyMap<number, Buffer> | undefined): Generator<DecodedRecord> {
  const fromOffset = options.fromOffset ?? -Infinity;
  if (typeof fromOffset !== 'number' || Number.isNaN(fromOffset)) {
    throw new InvalidArgumentError(`decodeBatches: options.fromOffset must be a number, got ${describe(fromOffset)}`);
  }
  const cursor: Cursor = { pos: 0 };
  for (const section of recordSections(bytes, fromOffset, options.verifyCrc === true, decompressed, options.committed ?? null)) {
    const { source, end, baseOffset, baseTimestamp, appendTime, recordCount, position } = section;
    cursor.pos = section.start;
    for (let i = 0; i < recordCount; i++) {
      let record: DecodedRecord;
      try {
        record = decodeRecord(source, cursor, end, baseOffset, baseTimestamp, appendTime);
      } catch (error) {
        throw asCorrupt(error, position);
      }
      if (record.offset >= fromOffset) yield record;
    }
    checkRecordsEnd(section, cursor.pos);
  }
}

/** The records of one data batch, ready to decode: where they lie and what they share. */
export interface RecordSection {
  /** The batch's bytes, or its records decompressed. */
  source: Buffer;
  /** Where the records start and end in `source`. */
  start: number;
  end: number;
  baseOffset: number;
  baseTimestamp: number;
  /** The batch's LogAppendTime, every record's timestamp; -1 for CreateTime batches. */
  appendTime: number;
  recordCount: number;
  /** Byte position of the batch in the walked buffer. */
  position: number;
}

/**
 * The record sections of the data batches in `bytes` that hold offsets at or
 * past `fromOffset`, in order; control batches (transaction markers, never
 * handed to a consumer under either isolation level) and empty batches are
 * skipped, compressed records are decompressed (or, for a batch whose position
 * is in `decompressed`, read from there). A trailing partial batch ends the
 * iteration. With `committed` (read_committed), the iteration ends at its last
 * stable offset and batches of aborted transactions are skipped.
 */
export function* recordSections(
  bytes: Buffer,
  fromOffset: number,
  verifyCrc: boolean,
  decompressed?: ReadonlyMap<number, Buffer>,
  committed: CommittedView | null = null,
): Generator<RecordSection> {
  const stableEnd = committed === null ? Infinity : committed.lastStableOffset;
  let position = 0;
  for (;;) {
    const info = readBatchHeader(bytes, position);
    if (info === null) return;
    const end = position + info.size;
    position = end;

    if (verifyCrc && native.crc32c(bytes.subarray(info.position + ATTRIBUTES, end)) !== info.crc) {
      throw corrupt(`CRC-32C mismatch (stored ${hex(info.crc)})`, info.position);
    }
    if (info.lastOffset < fromOffset || (info.attributes & ATTRIBUTE_CONTROL) !== 0 || info.recordCount === 0) continue;
    if (committed !== null) {
      if (info.baseOffset >= stableEnd) return;
      if ((info.attributes & ATTRIBUTE_TRANSACTIONAL) !== 0 && committed.isAborted(bytes.readBigInt64BE(info.position + PRODUCER_ID), info.baseOffset))
        continue;
    }

    const codec = info.attributes & ATTRIBUTE_CODEC_MASK;
    let source = bytes;
    let start = info.position + HEADER_SIZE;
    let sourceEnd = end;
    if (codec !== CODEC_NONE) {
      source = decompressed?.get(info.position) ?? decompress(codec, bytes.subarray(start, end), info.position);
      start = 0;
      sourceEnd = source.length;
    }
    yield {
      source,
      start,
      end: sourceEnd,
      baseOffset: info.baseOffset,
      baseTimestamp: safeInt64(bytes, info.position + BASE_TIMESTAMP, info.position),
      appendTime: (info.attributes & ATTRIBUTE_LOG_APPEND_TIME) !== 0 ? info.maxTimestamp : -1,
      recordCount: info.recordCount,
      position: info.position,
    };
  }
}

/** Throws CorruptRecordError unless a section's records, decoded, ended at its end. */
export function checkRecordsEnd(section: RecordSection, decodedTo: number): void {
  if (decodedTo !== section.end) {
    throw corrupt(`${section.end - decodedTo} bytes left after its ${section.recordCount} records`, section.position);
  }
}

/** Reads each whole batch's header in `bytes`, without touching its records; stops at a trailing partial batch. */
export function* batchInfos(bytes: Buffer): Generator<BatchInfo> {
  let position = 0;
  for (;;) {
    const info = readBatchHeader(bytes, position);
    if (info === null) return;
    position += info.size;
    yield info;
  }
}

/**
 * The type of a control batch's first record (Kafka's ControlRecordType: the
 * key is int16 version, int16 type; 0 ABORT, 1 COMMIT), or -1 when it has none.
 * Control batches are never compressed.
 */
export function controlRecordType(bytes: Buffer, info: BatchInfo): number {
  if (info.recordCount === 0) return -1;
  const end = info.position + info.size;
  const cursor: Cursor = { pos: info.position + HEADER_SIZE };
  try {
    readVarint(bytes, cursor); // record length
    cursor.pos += RECORD_ATTRIBUTES;
    readVarlong(bytes, cursor); // timestamp delta
    readVarint(bytes, cursor); // offset delta
    const keyLength = readVarint(bytes, cursor);
    if (keyLength < 4 || cursor.pos + keyLength > end) throw new RangeError(`control record key of ${keyLength} bytes`);
    return bytes.readInt16BE(cursor.pos + 2);
  } catch (error) {
    throw asCorrupt(error, info.position);
  }
}

/** The header of the batch at `position`, or null when `bytes` ends before the batch does. */
function readBatchHeader(bytes: Buffer, position: number): BatchInfo | null {
  const remaining = bytes.length - position;
  if (remaining < LOG_OVERHEAD) return null;
  const length = bytes.readInt32BE(position + LENGTH);
  if (remaining > MAGIC && bytes[position + MAGIC] !== MAGIC_V2) {
    throw corrupt(`magic ${bytes[position + MAGIC]} is not 2 (only RecordBatch v2 is supported)`, position);
  }
  if (length < MIN_LENGTH) {
    throw corrupt(`length ${length} is below the ${MIN_LENGTH} bytes of a v2 header`, position);
  }
  if (remaining < LOG_OVERHEAD + length) return null;
  const baseOffset = safeInt64(bytes, position + BASE_OFFSET, position);
  const recordCount = bytes.readInt32BE(position + RECORDS_COUNT);
  if (recordCount < 0) throw corrupt(`negative record count ${recordCount}`, position);
  return {
    baseOffset,
    lastOffset: baseOffset + bytes.readInt32BE(position + LAST_OFFSET_DELTA),
    size: LOG_OVERHEAD + length,
    recordCount,
    maxTimestamp: safeInt64(bytes, position + MAX_TIMESTAMP, position),
    attributes: bytes.readInt16BE(position + ATTRIBUTES),
    crc: bytes.readUInt32BE(position + CRC),
    position,
  };
}

/**
 * Decodes the record at `cursor.pos`, which must end by `end`; `appendTime`
 * is -1 for CreateTime batches. A RangeError when its fields do not frame.
 */
export function decodeRecord(source: Buffer, cursor: Cursor, end: number, baseOffset: number, baseTimestamp: number, appendTime: number): DecodedRecord {
  const size = readVarint(source, cursor);
  const recordEnd = cursor.pos + size;
  if (size < 0 || recordEnd > end) throw new RangeError(`record length ${size} runs past the batch end`);
  cursor.pos += RECORD_ATTRIBUTES; // unused
  const timestampDelta = readVarlong(source, cursor);
  const offsetDelta = readVarint(source, cursor);
  const key = readBytes(source, cursor, recordEnd);
  const value = readBytes(source, cursor, recordEnd);
  const headers: DecodedRecord['headers'] = {};
  readHeaders(source, cursor, recordEnd, headers);
  if (cursor.pos !== recordEnd) throw new RangeError(`record declares ${size} bytes but its fields take ${size + cursor.pos - recordEnd}`);
  return {
    offset: baseOffset + offsetDelta,
    timestamp: appendTime === -1 ? baseTimestamp + timestampDelta : appendTime,
    key,
    value,
    headers,
  };
}

/**
 * Reads a record's header count and headers at `cursor.pos` into `headers`; a
 * RangeError when they run past `recordEnd`.
 */
export function readHeaders(source: Buffer, cursor: Cursor, recordEnd: number, headers: DecodedRecord['headers']): void {
  const headerCount = readVarint(source, cursor);
  if (headerCount < 0) throw new RangeError(`negative header count ${headerCount}`);
  for (let h = 0; h < headerCount; h++) {
    const nameLength = readVarint(source, cursor);
    const nameStart = cursor.pos;
    if (nameLength < 0 || nameStart + nameLength > recordEnd) throw new RangeError(`header key length ${nameLength} is invalid`);
    cursor.pos += nameLength;
    addHeader(headers, source.toString('utf8', nameStart, cursor.pos), readBytes(source, cursor, recordEnd));
  }
}

function readBytes(source: Buffer, cursor: Cursor, recordEnd: number): Buffer | null {
  const length = readVarint(source, cursor);
  if (length === -1) return null;
  const start = cursor.pos;
  if (length < -1 || start + length > recordEnd) throw new RangeError(`field length ${length} runs past the record end`);
  cursor.pos = start + length;
  return source.subarray(start, cursor.pos);
}

// Own properties only: a header named "constructor" or "__proto__" must not meet Object.prototype.
function addHeader(headers: DecodedRecord['headers'], name: string, value: Buffer | null): void {
  if (!Object.hasOwn(headers, name)) {
    setOwn(headers, name, value);
    return;
  }
  const previous = headers[name];
  if (Array.isArray(previous)) previous.push(value);
  else setOwn(headers, name, [previous ?? null, value]);
}

function setOwn(headers: DecodedRecord['headers'], name: string, value: Buffer | null | (Buffer | null)[]): void {
  if (name === '__proto__') Object.defineProperty(headers, name, { value, enumerable: true, writable: true, configurable: true });
  else headers[name] = value;
}

/** A batch's records decompressed; CorruptRecordError when they do not decompress or the codec is not one of Kafka's. */
export function decompress(codec: number, compressed: Buffer, position: number): Buffer {
  if (!isKnownCodec(codec)) throw corrupt(`unknown compression codec ${codec}`, position);
  try {
    return decompressRecords(codec, compressed);
  } catch (error) {
    throw corrupt(`${CODEC_NAMES[codec]} records do not decompress: ${(error as Error).message}`, position, { cause: error });
  }
}

/** A RangeError from decoding the records of the batch at `position`, as the CorruptRecordError it means; other errors as they are. */
export function asCorrupt(error: unknown, position: number): unknown {
  if (error instanceof RangeError) return corrupt(error.message, position, { cause: error });
  return error;
}

/** The int64 at `pos` of the batch at `batchPosition`; CorruptRecordError outside the safe integer range. */
function safeInt64(buf: Buffer, pos: number, batchPosition: number): number {
  const value = readInt64(buf, pos);
  if (!Number.isSafeInteger(value)) {
    throw corrupt(`64-bit field at byte ${pos} (${buf.readBigInt64BE(pos)}) lies outside the safe integer range`, batchPosition);
  }
  return value;
}

function hex(crc: number): string {
  return `0x${crc.toString(16).padStart(8, '0')}`;
}
