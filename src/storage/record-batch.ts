// Kafka RecordBatch v2 (magic 2): the on-disk and on-wire unit of a partition log.
// Layout and field semantics: /work/shared/KAFKA-REFERENCE.md and Kafka's DefaultRecordBatch.
import { gunzipSync, gzipSync } from 'node:zlib';
import { CorruptRecordError, InvalidArgumentError, InvalidRecordError, RecordTooLargeError, UnsupportedCompressionError } from '../errors.js';
import { native } from './native.js';
import { type Cursor, putVarint, readVarint, readVarlong, sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from './varint.js';

/** A record to encode, shaped like a KafkaJS message. */
export interface RecordInput {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  /** An array value writes the key once per element, in order; `null` writes a null header value; `undefined` writes nothing. */
  headers?: Record<string, Buffer | string | null | (Buffer | string | null)[] | undefined>;
  /** Milliseconds since the epoch, as a number or a decimal string; -1 means "no timestamp". Defaults to `EncodeOptions.now`. */
  timestamp?: number | string | null;
}

export interface EncodeOptions {
  baseOffset?: number;
  partitionLeaderEpoch?: number;
  /** With LogAppendTime, maxTimestamp is the append time `now` and readers see it as every record's timestamp. */
  timestampType?: 'CreateTime' | 'LogAppendTime';
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  transactional?: boolean;
  compression?: 'none' | 'gzip';
  /** The clock, in ms: timestamp of records without one, and the LogAppendTime. Defaults to `Date.now()`. */
  now?: number;
}

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

function unsupportedCompression(codec: number, position: number): UnsupportedCompressionError {
  return new UnsupportedCompressionError(
    `record batch at byte ${position} uses ${CODEC_NAMES[codec] ?? 'unknown'} compression (codec ${codec}); Fjord decodes only none and gzip`,
    { codec },
  );
}

function corrupt(message: string, position: number, options?: ErrorOptions): CorruptRecordError {
  const error = new CorruptRecordError(`record batch at byte ${position}: ${message}`, { position });
  if (options?.cause !== undefined) error.cause = options.cause;
  return error;
}

const CODEC_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

// Header field positions.
const LENGTH = 8;
const PARTITION_LEADER_EPOCH = 12;
const MAGIC = 16;
const CRC = 17;
const ATTRIBUTES = 21;
const LAST_OFFSET_DELTA = 23;
const BASE_TIMESTAMP = 27;
const MAX_TIMESTAMP = 35;
const PRODUCER_ID = 43;
const PRODUCER_EPOCH = 51;
const BASE_SEQUENCE = 53;
const RECORDS_COUNT = 57;
const HEADER_SIZE = 61;
const LOG_OVERHEAD = 12; // baseOffset + length, outside `length`

const CODEC_MASK = 0x07;
const CODEC_GZIP = 1;
const LOG_APPEND_TIME = 0x08;
const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;

const INT32_MAX = 0x7fffffff;
const MAX_DATE_MS = 8.64e15; // the largest instant a Date can hold
const DECIMAL = /^-?\d+$/;
const SHORT_ASCII = 24; // UTF-8 length equal to UTF-16 length means every char is ASCII

/** Buffer's undocumented, long-standing UTF-8 writer: buf.write without the argument juggling. */
type Utf8Writable = Buffer & { utf8Write(text: string, offset: number, length: number): number };

// ---------------------------------------------------------------- encoding

// Per-call scratch, reused across calls (encoding is synchronous): record
// timestamps, and the measured lengths in write order (per record: body size,
// key length, value length, header count, then key and value length per header).
let scratchTimes: Float64Array = new Float64Array(64);
let scratchLengths: Int32Array = new Int32Array(1024);

function lengthsWithRoom(lengths: Int32Array, needed: number): Int32Array {
  if (needed <= lengths.length) return lengths;
  const bigger = new Int32Array(Math.max(needed, lengths.length * 2));
  bigger.set(lengths);
  scratchLengths = bigger;
  return bigger;
}

/**
 * Gzip batches encodeBatch built (alone or concatenated by `concatBuilt`):
 * their records are known to frame, so the append check need not
 * decompress them a second time.
 */
const builtGzip = new WeakSet<Uint8Array>();

/** `Buffer.concat` of batches, still known as built here when every part was. */
export function concatBuilt(parts: Buffer[]): Buffer {
  const joined = Buffer.concat(parts);
  if (parts.every((part) => builtGzip.has(part) || (part[ATTRIBUTES + 1]! & CODEC_MASK) !== CODEC_GZIP)) builtGzip.add(joined);
  return joined;
}

/** Encodes `records` as one RecordBatch v2, offsets baseOffset, baseOffset + 1, ... */
export function encodeBatch(records: readonly RecordInput[], options: EncodeOptions = {}): Buffer {
  if (!Array.isArray(records) || records.length === 0) {
    throw new InvalidArgumentError('encodeBatch: records must be a non-empty array');
  }
  const count = records.length;
  const baseOffset = intOption(options.baseOffset, 'baseOffset', 0, 0, Number.MAX_SAFE_INTEGER - count);
  const leaderEpoch = intOption(options.partitionLeaderEpoch, 'partitionLeaderEpoch', 0, -1, INT32_MAX);
  const producerId = intOption(options.producerId, 'producerId', -1, -1, Number.MAX_SAFE_INTEGER);
  const producerEpoch = intOption(options.producerEpoch, 'producerEpoch', -1, -1, 0x7fff);
  const baseSequence = intOption(options.baseSequence, 'baseSequence', -1, -1, INT32_MAX);
  const now = options.now === undefined ? Date.now() : intOption(options.now, 'now', 0, 0, MAX_DATE_MS);
  const attributes = encodeAttributes(options, producerId, producerEpoch, baseSequence);

  if (scratchTimes.length < count) scratchTimes = new Float64Array(Math.max(count, scratchTimes.length * 2));
  const times = scratchTimes;
  let lengths = scratchLengths;
  let n = 0;
  let baseTimestamp = 0;
  let maxTimestamp = -1;
  let recordsSize = 0;

  for (let i = 0; i < count; i++) {
    const record = records[i];
    if (record === null || typeof record !== 'object') {
      throw new InvalidArgumentError(`encodeBatch: records[${i}] must be an object, got ${describe(record)}`);
    }
    const timestamp = timestampOf(record.timestamp, now, i);
    times[i] = timestamp;
    if (i === 0) baseTimestamp = timestamp;
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;

    lengths = lengthsWithRoom(lengths, n + 4);
    const bodySlot = n++;
    const keyLength = (lengths[n++] = byteLengthOf(record.key ?? null, i, 'key'));
    if (record.value === undefined) throw new InvalidArgumentError(`encodeBatch: records[${i}].value is missing (use null for a tombstone)`);
    const valueLength = (lengths[n++] = byteLengthOf(record.value, i, 'value'));
    const countSlot = n++;

    let headerCount = 0;
    let headersSize = 0;
    const headers = record.headers;
    if (headers !== undefined && headers !== null) {
      if (typeof headers !== 'object' || Array.isArray(headers))
        throw new InvalidArgumentError(`encodeBatch: records[${i}].headers must be an object, got ${describe(headers)}`);
      for (const name of Object.keys(headers)) {
        const headerValue = headers[name];
        if (headerValue === undefined) continue;
        const nameLength = Buffer.byteLength(name, 'utf8');
        const many = Array.isArray(headerValue);
        for (let k = 0, total = many ? headerValue.length : 1; k < total; k++) {
          const one = many ? headerValue[k] : headerValue;
          lengths = lengthsWithRoom(lengths, n + 2);
          lengths[n++] = nameLength;
          const oneLength = (lengths[n++] = byteLengthOf(one, i, `headers[${JSON.stringify(name)}]`));
          headersSize += sizeOfVarint(nameLength) + nameLength + sizeOfVarint(oneLength) + Math.max(oneLength, 0);
          headerCount++;
        }
      }
    }
    lengths[countSlot] = headerCount;

    const bodySize =
      1 + // record attributes, unused
      sizeOfVarlong(timestamp - baseTimestamp) +
      sizeOfVarint(i) +
      sizeOfVarint(keyLength) +
      Math.max(keyLength, 0) +
      sizeOfVarint(valueLength) +
      Math.max(valueLength, 0) +
      sizeOfVarint(headerCount) +
      headersSize;
    lengths[bodySlot] = bodySize;
    recordsSize += sizeOfVarint(bodySize) + bodySize;
  }
  if (options.timestampType === 'LogAppendTime') maxTimestamp = now;

  checkBatchSize(recordsSize);
  let batch: Buffer;
  if ((attributes & CODEC_MASK) === CODEC_GZIP) {
    const plain = Buffer.allocUnsafe(recordsSize);
    writeRecords(plain, 0, records, times, baseTimestamp, lengths);
    const compressed = gzipSync(plain);
    checkBatchSize(compressed.length);
    batch = Buffer.allocUnsafe(HEADER_SIZE + compressed.length);
    batch.set(compressed, HEADER_SIZE);
  } else {
    batch = Buffer.allocUnsafe(HEADER_SIZE + recordsSize);
    writeRecords(batch, HEADER_SIZE, records, times, baseTimestamp, lengths);
  }

  writeInt64(batch, 0, baseOffset);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD, LENGTH);
  batch.writeInt32BE(leaderEpoch, PARTITION_LEADER_EPOCH);
  batch[MAGIC] = 2;
  batch.writeInt16BE(attributes, ATTRIBUTES);
  batch.writeInt32BE(count - 1, LAST_OFFSET_DELTA);
  writeInt64(batch, BASE_TIMESTAMP, baseTimestamp);
  writeInt64(batch, MAX_TIMESTAMP, maxTimestamp);
  writeInt64(batch, PRODUCER_ID, producerId);
  batch.writeInt16BE(producerEpoch, PRODUCER_EPOCH);
  batch.writeInt32BE(baseSequence, BASE_SEQUENCE);
  batch.writeInt32BE(count, RECORDS_COUNT);
  batch.writeUInt32BE(native.crc32c(batch.subarray(ATTRIBUTES)), CRC);
  if ((attributes & CODEC_MASK) === CODEC_GZIP) builtGzip.add(batch);
  return batch;
}

/** Writes the measured records at `pos`, consuming `lengths` in the order encodeBatch filled it. */
function writeRecords(buf: Buffer, pos: number, records: readonly RecordInput[], times: Float64Array, baseTimestamp: number, lengths: Int32Array): void {
  let n = 0;
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    pos = writeVarint(buf, lengths[n++]!, pos);
    buf[pos++] = 0;
    pos = writeVarlong(buf, times[i]! - baseTimestamp, pos);
    pos = writeVarint(buf, i, pos);
    pos = writeBytes(buf, pos, record.key ?? null, lengths[n++]!);
    pos = writeBytes(buf, pos, record.value, lengths[n++]!);
    const headerCount = lengths[n++]!;
    pos = writeVarint(buf, headerCount, pos);
    if (headerCount === 0) continue;
    const headers = record.headers!;
    for (const name of Object.keys(headers)) {
      const headerValue = headers[name];
      if (headerValue === undefined) continue;
      const many = Array.isArray(headerValue);
      for (let k = 0, total = many ? headerValue.length : 1; k < total; k++) {
        pos = writeBytes(buf, pos, name, lengths[n++]!);
        pos = writeBytes(buf, pos, many ? headerValue[k]! : headerValue, lengths[n++]!);
      }
    }
  }
}

/** A varint length and the bytes of `data` (`length` of them; none for null, -1). */
export function writeBytes(buf: Buffer, pos: number, data: Buffer | string | null, length: number): number {
  pos = putVarint(buf, length, pos);
  if (length <= 0) return pos;
  if (typeof data !== 'string') buf.set(data!, pos);
  else if (length === data.length && length <= SHORT_ASCII) {
    // A native write costs ~50 ns whatever the size; short ASCII strings copy faster here.
    for (let i = 0; i < length; i++) buf[pos + i] = data.charCodeAt(i);
  } else (buf as Utf8Writable).utf8Write(data, pos, length);
  return pos + length;
}

// The batch length field, and every record length, is an int32.
function checkBatchSize(recordsSize: number): void {
  if (HEADER_SIZE - LOG_OVERHEAD + recordsSize > INT32_MAX) {
    throw new RecordTooLargeError(`encodeBatch: ${recordsSize} bytes of records exceed the 2 GiB a batch length can express`);
  }
}

function byteLengthOf(data: unknown, index: number, field: string): number {
  if (data === null) return -1;
  if (typeof data === 'string') return Buffer.byteLength(data, 'utf8');
  if (Buffer.isBuffer(data)) return data.length;
  throw new InvalidArgumentError(`encodeBatch: records[${index}].${field} must be a Buffer, a string or null, got ${describe(data)}`);
}

function timestampOf(timestamp: unknown, now: number, index: number): number {
  if (timestamp === undefined || timestamp === null) return now;
  const ms = typeof timestamp === 'string' && DECIMAL.test(timestamp) ? Number(timestamp) : timestamp;
  if (typeof ms === 'number' && Number.isInteger(ms) && ms >= -1 && ms <= MAX_DATE_MS) return ms;
  throw new InvalidArgumentError(
    `encodeBatch: records[${index}].timestamp must be an integer number of ms (or a decimal string of one) between -1 and ${MAX_DATE_MS}, got ${describe(timestamp)}`,
  );
}

function encodeAttributes(options: EncodeOptions, producerId: number, producerEpoch: number, baseSequence: number): number {
  let attributes = 0;
  const { compression = 'none', timestampType = 'CreateTime', transactional = false } = options;
  if (compression === 'gzip') attributes |= CODEC_GZIP;
  else if (compression !== 'none') throw new InvalidArgumentError(`encodeBatch: compression must be 'none' or 'gzip', got ${describe(compression)}`);
  if (timestampType === 'LogAppendTime') attributes |= LOG_APPEND_TIME;
  else if (timestampType !== 'CreateTime')
    throw new InvalidArgumentError(`encodeBatch: timestampType must be 'CreateTime' or 'LogAppendTime', got ${describe(timestampType)}`);
  if (typeof transactional !== 'boolean') throw new InvalidArgumentError(`encodeBatch: transactional must be a boolean, got ${describe(transactional)}`);
  // The same producer-state rules as Kafka's MemoryRecordsBuilder.
  if (transactional) {
    if (producerId === -1) throw new InvalidArgumentError('encodeBatch: a transactional batch needs a producerId');
    attributes |= TRANSACTIONAL;
  }
  if (producerId !== -1 && (producerEpoch === -1 || baseSequence === -1)) {
    throw new InvalidArgumentError('encodeBatch: a batch with a producerId needs a producerEpoch and a baseSequence');
  }
  return attributes;
}

function intOption(value: unknown, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
  throw new InvalidArgumentError(`encodeBatch: options.${name} must be an integer between ${min} and ${max}, got ${describe(value)}`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${typeof value} ${String(value)}`;
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return `a ${value.constructor.name} (not a Buffer)`;
  return typeof value === 'object' ? `an instance of ${value.constructor?.name ?? 'Object'}` : typeof value;
}

function writeInt64(buf: Buffer, pos: number, value: number): void {
  const high = Math.floor(value / 0x100000000);
  buf.writeInt32BE(high, pos);
  buf.writeUInt32BE(value - high * 0x100000000, pos + 4);
}

// ---------------------------------------------------------------- decoding

/**
 * Yields the records of every whole batch in `bytes` (batches back to back, as a
 * fetch or a segment holds them), in order. A trailing partial batch ends the
 * iteration silently. Control batches (transaction markers) yield nothing.
 * Keys and values of uncompressed batches are views into `bytes`, not copies.
 */
export function* decodeBatches(bytes: Buffer, options: DecodeOptions = {}): Generator<DecodedRecord> {
  const fromOffset = options.fromOffset ?? -Infinity;
  if (typeof fromOffset !== 'number' || Number.isNaN(fromOffset)) {
    throw new InvalidArgumentError(`decodeBatches: options.fromOffset must be a number, got ${describe(fromOffset)}`);
  }
  const cursor: Cursor = { pos: 0 };
  for (const section of recordSections(bytes, fromOffset, options.verifyCrc === true)) {
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
 * past `fromOffset`, in order; control batches and empty batches are skipped,
 * gzip records are decompressed. A trailing partial batch ends the iteration.
 */
export function* recordSections(bytes: Buffer, fromOffset: number, verifyCrc: boolean): Generator<RecordSection> {
  let position = 0;
  for (;;) {
    const info = readBatchHeader(bytes, position);
    if (info === null) return;
    const end = position + info.size;
    position = end;

    if (verifyCrc && native.crc32c(bytes.subarray(info.position + ATTRIBUTES, end)) !== info.crc) {
      throw corrupt(`CRC-32C mismatch (stored ${hex(info.crc)})`, info.position);
    }
    if (info.lastOffset < fromOffset || (info.attributes & CONTROL) !== 0 || info.recordCount === 0) continue;

    const codec = info.attributes & CODEC_MASK;
    let source = bytes;
    let start = info.position + HEADER_SIZE;
    let sourceEnd = end;
    if (codec === CODEC_GZIP) {
      source = gunzip(bytes.subarray(start, end), info.position);
      start = 0;
      sourceEnd = source.length;
    } else if (codec !== 0) {
      if (codec < CODEC_NAMES.length) throw unsupportedCompression(codec, info.position);
      throw corrupt(`unknown compression codec ${codec}`, info.position);
    }
    yield {
      source,
      start,
      end: sourceEnd,
      baseOffset: info.baseOffset,
      baseTimestamp: readInt64(bytes, info.position + BASE_TIMESTAMP, info.position),
      appendTime: (info.attributes & LOG_APPEND_TIME) !== 0 ? info.maxTimestamp : -1,
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

/**
 * What the store cannot check before an append: that a gzip batch's records
 * decompress and frame exactly (offset deltas 0, 1, 2, ...), and that every
 * batch's timestamps fit a JavaScript number. Without this, a batch with a
 * valid CRC over garbage would be stored and fail every reader.
 * Stops quietly at the first batch whose frame or CRC is bad: the store
 * rejects that one with the precise error.
 */
export function checkBatchContents(bytes: Uint8Array): void {
  if (builtGzip.has(bytes)) return;
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const cursor: Cursor = { pos: 0 };
  let position = 0;
  while (buf.length - position >= HEADER_SIZE) {
    const length = buf.readInt32BE(position + LENGTH);
    const end = position + LOG_OVERHEAD + length;
    if (length < HEADER_SIZE - LOG_OVERHEAD || end > buf.length || buf[position + MAGIC] !== 2) return;
    const invalid = (reason: string) => new InvalidRecordError(`invalid record batch at byte ${position} of the input: ${reason}`);
    for (const [field, at] of [
      ['baseTimestamp', BASE_TIMESTAMP],
      ['maxTimestamp', MAX_TIMESTAMP],
    ] as const) {
      // The high 32 bits decide whether the 64-bit value is within ±(2^53 - 1).
      const high = buf.readInt32BE(position + at);
      if (high > 0x1fffff || high < -0x1fffff) throw invalid(`${field} ${buf.readBigInt64BE(position + at)} is outside the range Fjord reads (±2^53 - 1 ms)`);
    }
    if ((buf.readInt16BE(position + ATTRIBUTES) & CODEC_MASK) === CODEC_GZIP) {
      if (native.crc32c(buf.subarray(position + ATTRIBUTES, end)) !== buf.readUInt32BE(position + CRC)) return;
      const count = buf.readInt32BE(position + RECORDS_COUNT);
      if (count <= 0) return;
      let records: Buffer;
      try {
        records = gunzipSync(buf.subarray(position + HEADER_SIZE, end));
      } catch (error) {
        throw invalid(`gzip records do not decompress: ${(error as Error).message}`);
      }
      cursor.pos = 0;
      for (let i = 0; i < count; i++) {
        let offsetDelta: number;
        try {
          offsetDelta = decodeRecord(records, cursor, records.length, 0, 0, -1).offset;
        } catch (error) {
          throw invalid(`gzip record ${i}: ${(error as Error).message}`);
        }
        if (offsetDelta !== i) throw invalid(`gzip record ${i}: offsetDelta is ${offsetDelta}`);
      }
      if (cursor.pos !== records.length) throw invalid(`${records.length - cursor.pos} bytes follow the last of ${count} gzip records`);
    }
    position = end;
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

/** The header of the batch at `position`, or null when `bytes` ends before the batch does. */
function readBatchHeader(bytes: Buffer, position: number): BatchInfo | null {
  const remaining = bytes.length - position;
  if (remaining < LOG_OVERHEAD) return null;
  const length = bytes.readInt32BE(position + LENGTH);
  if (remaining > MAGIC && bytes[position + MAGIC] !== 2) {
    throw corrupt(`magic ${bytes[position + MAGIC]} is not 2 (only RecordBatch v2 is supported)`, position);
  }
  if (length < HEADER_SIZE - LOG_OVERHEAD) {
    throw corrupt(`length ${length} is below the ${HEADER_SIZE - LOG_OVERHEAD} bytes of a v2 header`, position);
  }
  if (remaining < LOG_OVERHEAD + length) return null;
  const baseOffset = readInt64(bytes, position, position);
  const recordCount = bytes.readInt32BE(position + RECORDS_COUNT);
  if (recordCount < 0) throw corrupt(`negative record count ${recordCount}`, position);
  return {
    baseOffset,
    lastOffset: baseOffset + bytes.readInt32BE(position + LAST_OFFSET_DELTA),
    size: LOG_OVERHEAD + length,
    recordCount,
    maxTimestamp: readInt64(bytes, position + MAX_TIMESTAMP, position),
    attributes: bytes.readInt16BE(position + ATTRIBUTES),
    crc: bytes.readUInt32BE(position + CRC),
    position,
  };
}

/** Decodes the record at `cursor.pos`, which must end by `end`; `appendTime` is -1 for CreateTime batches. */
function decodeRecord(source: Buffer, cursor: Cursor, end: number, baseOffset: number, baseTimestamp: number, appendTime: number): DecodedRecord {
  const size = readVarint(source, cursor);
  const recordEnd = cursor.pos + size;
  if (size < 0 || recordEnd > end) throw new RangeError(`record length ${size} runs past the batch end`);
  cursor.pos++; // record attributes, unused
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

function gunzip(compressed: Buffer, position: number): Buffer {
  try {
    return gunzipSync(compressed);
  } catch (error) {
    throw corrupt(`gzip records do not decompress: ${(error as Error).message}`, position, { cause: error });
  }
}

/** A RangeError from decoding the records of the batch at `position`, as the CorruptRecordError it means; other errors as they are. */
export function asCorrupt(error: unknown, position: number): unknown {
  if (error instanceof RangeError) return corrupt(error.message, position, { cause: error });
  return error;
}

function readInt64(buf: Buffer, pos: number, batchPosition: number): number {
  const value = buf.readInt32BE(pos) * 0x100000000 + buf.readUInt32BE(pos + 4);
  if (!Number.isSafeInteger(value)) {
    throw corrupt(`64-bit field at byte ${pos} (${buf.readBigInt64BE(pos)}) lies outside the safe integer range`, batchPosition);
  }
  return value;
}

function hex(crc: number): string {
  return `0x${crc.toString(16).padStart(8, '0')}`;
}
