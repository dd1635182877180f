// Encoding RecordBatch v2 (layout.ts): encodeBatch, and the pieces the
// producer's batch writer shares with it (the header, a record's size, a
// length-prefixed field).
import { InvalidArgumentError, RecordTooLargeError } from '../errors.js';
import { native } from '../storage/native.js';
import { type CompressionName, codecOfName, compressRecords } from './codecs.js';
import { describe } from './describe.js';
import { flattenHeaders, type HeadersObject } from './headers.js';
import { writeInt64 } from './int64.js';
import * as layout from './layout.js';
import { MAX_DATE_MS, recordTimestamp } from './timestamp.js';
import { putVarint, sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from './varint.js';

// Module constants, not imported bindings: V8 folds these into optimized code (layout.ts).
const {
  ATTRIBUTE_CODEC_MASK,
  ATTRIBUTE_CONTROL,
  ATTRIBUTE_LOG_APPEND_TIME,
  ATTRIBUTE_TRANSACTIONAL,
  ATTRIBUTES,
  BASE_OFFSET,
  BASE_SEQUENCE,
  BASE_TIMESTAMP,
  CODEC_NONE,
  CRC,
  HEADER_SIZE,
  INT32_MAX,
  LAST_OFFSET_DELTA,
  LENGTH,
  LOG_OVERHEAD,
  MAGIC,
  MAGIC_V2,
  MAX_TIMESTAMP,
  MIN_LENGTH,
  NO_PRODUCER,
  PARTITION_LEADER_EPOCH,
  PRODUCER_EPOCH,
  PRODUCER_ID,
  RECORDS_COUNT,
  RECORD_ATTRIBUTES_SIZE: RECORD_ATTRIBUTES,
} = layout;

/** A record to encode, shaped like a KafkaJS message. */
export interface RecordInput {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  /** An array value writes the key once per element, in order; `null` writes a null header value; `undefined` writes nothing. */
  headers?: HeadersObject;
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
  /** A control batch (transaction markers): the only kind whose baseSequence may be -1 with a producerId, as in Kafka. */
  control?: boolean;
  /** Kafka's codec for the records: none (the default), gzip, snappy, lz4 or zstd, each written as Kafka's Java producer writes it. */
  compression?: CompressionName;
  /** The clock, in ms: timestamp of records without one, and the LogAppendTime. Defaults to `Date.now()`. */
  now?: number;
}

const SHORT_ASCII = 24; // UTF-8 length equal to UTF-16 length means every char is ASCII

/** Buffer's undocumented, long-standing UTF-8 writer: buf.write without the argument juggling. */
type Utf8Writable = Buffer & { utf8Write(text: string, offset: number, length: number): number };

// Per-call scratch, reused across calls (encoding is synchronous): record
// timestamps, the measured lengths in write order (per record: body size,
// key length, value length, header count, then name and value length per
// header), and the flattened headers of every record in order.
let scratchTimes: Float64Array = new Float64Array(64);
let scratchLengths: Int32Array = new Int32Array(1024);
const scratchHeaderNames: string[] = [];
const scratchHeaderValues: unknown[] = [];

function lengthsWithRoom(lengths: Int32Array, needed: number): Int32Array {
  if (needed <= lengths.length) return lengths;
  const bigger = new Int32Array(Math.max(needed, lengths.length * 2));
  bigger.set(lengths);
  scratchLengths = bigger;
  return bigger;
}

/**
 * Compressed batches encodeBatch built: their records are known to frame, so the append check need not
 * decompress them a second time.
 */
const builtCompressed = new WeakSet<Uint8Array>();

/** Whether `bytes` are a compressed batch encodeBatch built (see `builtCompressed`). */
export function isBuiltCompressed(bytes: Uint8Array): boolean {
  return builtCompressed.has(bytes);
}

/** Encodes `records` as one RecordBatch v2, offsets baseOffset, baseOffset + 1, ... */
export function encodeBatch(records: readonly RecordInput[], options: EncodeOptions = {}): Buffer {
  try {
    return encode(records, options);
  } finally {
    // Drop the references to the records' header values (setting a length is a runtime call: only when needed).
    if (scratchHeaderNames.length !== 0) {
      scratchHeaderNames.length = 0;
      scratchHeaderValues.length = 0;
    }
  }
}

function encode(records: readonly RecordInput[], options: EncodeOptions): Buffer {
  if (!Array.isArray(records) || records.length === 0) {
    throw new InvalidArgumentError('encodeBatch: records must be a non-empty array');
  }
  const count = records.length;
  const baseOffset = intOption(options.baseOffset, 'baseOffset', 0, 0, Number.MAX_SAFE_INTEGER - count);
  const leaderEpoch = intOption(options.partitionLeaderEpoch, 'partitionLeaderEpoch', 0, -1, INT32_MAX);
  const producerId = intOption(options.producerId, 'producerId', NO_PRODUCER, -1, Number.MAX_SAFE_INTEGER);
  const producerEpoch = intOption(options.producerEpoch, 'producerEpoch', NO_PRODUCER, -1, 0x7fff);
  const baseSequence = intOption(options.baseSequence, 'baseSequence', NO_PRODUCER, -1, INT32_MAX);
  const now = options.now === undefined ? Date.now() : intOption(options.now, 'now', 0, 0, MAX_DATE_MS);
  const attributes = encodeAttributes(options, producerId, producerEpoch, baseSequence);

  if (scratchTimes.length < count) scratchTimes = new Float64Array(Math.max(count, scratchTimes.length * 2));
  const times = scratchTimes;
  const headerNames = scratchHeaderNames;
  const headerValues = scratchHeaderValues;
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
    // Records without a timestamp, the common case, skip the call: inlined, it
    // would take the inlining budget the varint sizes below need.
    let timestamp = now;
    if (record.timestamp !== undefined) {
      timestamp = recordTimestamp(record.timestamp, now);
      if (Number.isNaN(timestamp)) {
        throw new InvalidArgumentError(
          `encodeBatch: records[${i}].timestamp must be an integer number of ms (or a decimal string of one) between -1 and ${MAX_DATE_MS}, got ${describe(record.timestamp)}`,
        );
      }
    }
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
      const firstHeader = headerNames.length;
      flattenHeaders(headers, headerNames, headerValues);
      headerCount = headerNames.length - firstHeader;
      lengths = lengthsWithRoom(lengths, n + 2 * headerCount);
      let name = '';
      let nameLength = 0;
      for (let h = firstHeader; h < headerNames.length; h++) {
        if (headerNames[h] !== name) {
          name = headerNames[h]!; // an array's elements share their name
          nameLength = Buffer.byteLength(name, 'utf8');
        }
        lengths[n++] = nameLength;
        const valueLength = (lengths[n++] = headerValueLength(headerValues[h], i, name));
        headersSize += headerSize(nameLength, valueLength);
      }
    }
    lengths[countSlot] = headerCount;
    // recordBodySize, written out: as a call it takes the inlining budget
    // that byteLengthOf above needs, and this loop runs ~5% slower.
    const bodySize =
      RECORD_ATTRIBUTES +
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
  const codec = attributes & ATTRIBUTE_CODEC_MASK;
  if (codec !== CODEC_NONE) {
    const plain = Buffer.allocUnsafe(recordsSize);
    writeRecords(plain, 0, records, times, baseTimestamp, lengths, headerNames, headerValues);
    const compressed = compressRecords(codec, plain);
    checkBatchSize(compressed.length);
    batch = Buffer.allocUnsafe(HEADER_SIZE + compressed.length);
    batch.set(compressed, HEADER_SIZE);
  } else {
    batch = Buffer.allocUnsafe(HEADER_SIZE + recordsSize);
    writeRecords(batch, HEADER_SIZE, records, times, baseTimestamp, lengths, headerNames, headerValues);
  }

  writeBatchHeader(batch, 0, batch.length, baseOffset, leaderEpoch, attributes, count, baseTimestamp, maxTimestamp, producerId, producerEpoch, baseSequence);
  batch.writeUInt32BE(native.crc32c(batch.subarray(ATTRIBUTES)), CRC);
  if (codec !== CODEC_NONE) builtCompressed.add(batch);
  return batch;
}

/**
 * The uncompressed batch `plain` (encodeBatch's) with its records replaced by
 * `compressed`, their compression with `codec`: the codec bits, the length and
 * the CRC set to match.
 */
export function withCompressedRecords(plain: Buffer, compressed: Buffer, codec: number): Buffer {
  checkBatchSize(compressed.length);
  const batch = Buffer.allocUnsafe(HEADER_SIZE + compressed.length);
  plain.copy(batch, 0, 0, HEADER_SIZE);
  batch.set(compressed, HEADER_SIZE);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD, LENGTH);
  batch.writeInt16BE((batch.readInt16BE(ATTRIBUTES) & ~ATTRIBUTE_CODEC_MASK) | codec, ATTRIBUTES);
  batch.writeUInt32BE(native.crc32c(batch.subarray(ATTRIBUTES)), CRC);
  return batch;
}

/**
 * Writes the header of the batch of `size` bytes at `start`, the CRC as 0:
 * it covers the rest of the batch, so it is stamped last (by encodeBatch, or
 * by the store for a gather append).
 */
export function writeBatchHeader(
  buf: Buffer,
  start: number,
  size: number,
  baseOffset: number,
  leaderEpoch: number,
  attributes: number,
  recordCount: number,
  baseTimestamp: number,
  maxTimestamp: number,
  producerId: number,
  producerEpoch: number,
  baseSequence: number,
): void {
  writeInt64(buf, start + BASE_OFFSET, baseOffset);
  buf.writeInt32BE(size - LOG_OVERHEAD, start + LENGTH);
  buf.writeInt32BE(leaderEpoch, start + PARTITION_LEADER_EPOCH);
  buf[start + MAGIC] = MAGIC_V2;
  buf.writeUInt32BE(0, start + CRC);
  buf.writeInt16BE(attributes, start + ATTRIBUTES);
  buf.writeInt32BE(recordCount - 1, start + LAST_OFFSET_DELTA);
  writeInt64(buf, start + BASE_TIMESTAMP, baseTimestamp);
  writeInt64(buf, start + MAX_TIMESTAMP, maxTimestamp);
  writeInt64(buf, start + PRODUCER_ID, producerId);
  buf.writeInt16BE(producerEpoch, start + PRODUCER_EPOCH);
  buf.writeInt32BE(baseSequence, start + BASE_SEQUENCE);
  buf.writeInt32BE(recordCount, start + RECORDS_COUNT);
}

/** Bytes of a record after its length varint (encodeBatch's loop has it written out), given its deltas, its key and value lengths (-1 for null) and the bytes of its header count and headers. */
export function recordBodySize(timestampDelta: number, offsetDelta: number, keyLength: number, valueLength: number, headersSize: number): number {
  return (
    RECORD_ATTRIBUTES +
    sizeOfVarlong(timestampDelta) +
    sizeOfVarint(offsetDelta) +
    sizeOfVarint(keyLength) +
    Math.max(keyLength, 0) +
    sizeOfVarint(valueLength) +
    Math.max(valueLength, 0) +
    headersSize
  );
}

/** Bytes of one header, given its name's and value's lengths (-1 for a null value). */
export function headerSize(nameLength: number, valueLength: number): number {
  return sizeOfVarint(nameLength) + nameLength + sizeOfVarint(valueLength) + Math.max(valueLength, 0);
}

/** Writes the measured records at `pos`, consuming `lengths` and the flattened headers in the order encodeBatch filled them. */
function writeRecords(
  buf: Buffer,
  pos: number,
  records: readonly RecordInput[],
  times: Float64Array,
  baseTimestamp: number,
  lengths: Int32Array,
  headerNames: readonly string[],
  headerValues: readonly unknown[],
): void {
  let n = 0;
  let h = 0;
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    pos = writeVarint(buf, lengths[n++]!, pos);
    buf[pos++] = 0; // record attributes, unused
    pos = writeVarlong(buf, times[i]! - baseTimestamp, pos);
    pos = writeVarint(buf, i, pos);
    pos = writeBytes(buf, pos, record.key ?? null, lengths[n++]!);
    pos = writeBytes(buf, pos, record.value, lengths[n++]!);
    const headerCount = lengths[n++]!;
    pos = writeVarint(buf, headerCount, pos);
    if (headerCount === 0) continue;
    for (const end = h + headerCount; h < end; h++) {
      pos = writeBytes(buf, pos, headerNames[h]!, lengths[n++]!);
      pos = writeBytes(buf, pos, headerValues[h] as Buffer | string | null, lengths[n++]!);
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
  if (MIN_LENGTH + recordsSize > INT32_MAX) {
    throw new RecordTooLargeError(`encodeBatch: ${recordsSize} bytes of records exceed the 2 GiB a batch length can express`);
  }
}

function byteLengthOf(data: unknown, index: number, field: string): number {
  if (data === null) return -1;
  if (typeof data === 'string') return Buffer.byteLength(data, 'utf8');
  if (Buffer.isBuffer(data)) return data.length;
  throw new InvalidArgumentError(`encodeBatch: records[${index}].${field} must be a Buffer, a string or null, got ${describe(data)}`);
}

function headerValueLength(data: unknown, index: number, name: string): number {
  if (data === null) return -1;
  if (typeof data === 'string') return Buffer.byteLength(data, 'utf8');
  if (Buffer.isBuffer(data)) return data.length;
  return byteLengthOf(data, index, `headers[${JSON.stringify(name)}]`);
}

function encodeAttributes(options: EncodeOptions, producerId: number, producerEpoch: number, baseSequence: number): number {
  let attributes = 0;
  const { compression = 'none', timestampType = 'CreateTime', transactional = false, control = false } = options;
  const codec = codecOfName(compression);
  if (codec === -1) throw new InvalidArgumentError(`encodeBatch: compression must be 'none', 'gzip', 'snappy', 'lz4' or 'zstd', got ${describe(compression)}`);
  attributes |= codec;
  if (timestampType === 'LogAppendTime') attributes |= ATTRIBUTE_LOG_APPEND_TIME;
  else if (timestampType !== 'CreateTime')
    throw new InvalidArgumentError(`encodeBatch: timestampType must be 'CreateTime' or 'LogAppendTime', got ${describe(timestampType)}`);
  if (typeof transactional !== 'boolean') throw new InvalidArgumentError(`encodeBatch: transactional must be a boolean, got ${describe(transactional)}`);
  // The same producer-state rules as Kafka's MemoryRecordsBuilder.
  if (transactional) {
    if (producerId === NO_PRODUCER) throw new InvalidArgumentError('encodeBatch: a transactional batch needs a producerId');
    attributes |= ATTRIBUTE_TRANSACTIONAL;
  }
  if (typeof control !== 'boolean') throw new InvalidArgumentError(`encodeBatch: control must be a boolean, got ${describe(control)}`);
  if (control) attributes |= ATTRIBUTE_CONTROL;
  if (producerId !== NO_PRODUCER && producerEpoch === NO_PRODUCER) {
    throw new InvalidArgumentError('encodeBatch: a batch with a producerId needs a producerEpoch');
  }
  // Transaction markers carry a producer id and epoch but no sequence.
  if (producerId !== NO_PRODUCER && baseSequence === NO_PRODUCER && !control) {
    throw new InvalidArgumentError('encodeBatch: a batch with a producerId needs a baseSequence (only a control batch may have none)');
  }
  return attributes;
}

function intOption(value: unknown, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
  throw new InvalidArgumentError(`encodeBatch: options.${name} must be an integer between ${min} and ${max}, got ${describe(value)}`);
}
