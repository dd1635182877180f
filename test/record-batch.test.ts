import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { gunzipSync } from 'node:zlib';
import { describe, it, expect } from 'vitest';
import { native } from '../src/storage/native.js';
import { captureError, withAttributes } from './helpers.js';
import { CorruptRecordError, InvalidArgumentError } from '../src/errors.js';
import { type DecodedRecord, batchInfos, decodeBatches } from '../src/record-batch/decode.js';
import { type EncodeOptions, type RecordInput, encodeBatch } from '../src/record-batch/encode.js';
import { readVarint, readVarlong, sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from '../src/record-batch/varint.js';

// KafkaJS's own protocol code serves as the independent implementation.
interface KafkaJSEncoder {
  buffer: Buffer;
  writeVarInt(value: number): KafkaJSEncoder;
  writeVarLong(value: number): KafkaJSEncoder;
}
interface KafkaJSBatch {
  records: { offset: string; timestamp: string; key: Buffer | null; value: Buffer | null; headers: DecodedRecord['headers'] }[];
}
const require = createRequire(import.meta.url);
const KafkaJSDecoder = require('kafkajs/src/protocol/decoder.js') as new (buffer: Buffer) => { offset: number };
const KafkaJSEncoder = require('kafkajs/src/protocol/encoder.js') as new () => KafkaJSEncoder;
const kafkajsDecodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (decoder: unknown) => Promise<KafkaJSBatch>;
const { RecordBatch: kafkajsRecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as {
  RecordBatch: (batch: Record<string, unknown>) => Promise<KafkaJSEncoder>;
};
const kafkajsRecord = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (record: Record<string, unknown>) => unknown;
const Long = require('kafkajs/src/utils/long.js') as { fromValue(value: number): unknown };

const REFERENCE_BATCH =
  '00000000000000000000003d0000000002e641a44b0000000000000000018bcfe568000000018bcfe56800ffffffffffffffffffffffffffff0000000116000000010a68656c6c6f00';
const NOW = 1_700_000_000_000;

function decodeAll(bytes: Buffer, options?: { verifyCrc?: boolean; fromOffset?: number }): DecodedRecord[] {
  return [...decodeBatches(bytes, options)];
}

function toBuffer(data: Buffer | string): Buffer {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
}

/** What decoding `records` encoded at `baseOffset` must give back. */
function expectedRecords(records: readonly RecordInput[], baseOffset = 0, now = NOW): DecodedRecord[] {
  return records.map((record, i) => {
    const headers: DecodedRecord['headers'] = {};
    for (const [name, value] of Object.entries(record.headers ?? {})) {
      if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
      const one = (v: Buffer | string | null) => (v === null ? null : toBuffer(v));
      headers[name] = Array.isArray(value) ? (value.length === 1 ? one(value[0]!) : value.map(one)) : one(value);
    }
    return {
      offset: baseOffset + i,
      timestamp: record.timestamp === undefined || record.timestamp === null ? now : Number(record.timestamp),
      key: record.key === undefined || record.key === null ? null : toBuffer(record.key),
      value: record.value === null ? null : toBuffer(record.value),
      headers,
    };
  });
}

// Compares buffers by content: short ones as hex, long ones by length and SHA-256.
function view(value: unknown): unknown {
  if (Buffer.isBuffer(value)) {
    return value.length <= 256 ? `hex:${value.toString('hex')}` : `${value.length}B:${createHash('sha256').update(value).digest('hex')}`;
  }
  if (Array.isArray(value)) return value.map(view);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, view(v)]));
  }
  return value;
}

async function kafkajsDecode(bytes: Buffer): Promise<DecodedRecord[]> {
  const decoder = new KafkaJSDecoder(bytes);
  const records: DecodedRecord[] = [];
  while (decoder.offset < bytes.length) {
    const batch = await kafkajsDecodeBatch(decoder);
    for (const r of batch.records) {
      records.push({ offset: Number(r.offset), timestamp: Number(r.timestamp), key: r.key, value: r.value, headers: r.headers });
    }
  }
  return records;
}

/** Encodes `records` the way KafkaJS's Produce v3 request does. */
async function kafkajsEncode(records: readonly RecordInput[], gzip: boolean, baseOffset = 0): Promise<Buffer> {
  const timestamps = records.map((r) => Number(r.timestamp));
  const firstTimestamp = timestamps[0]!;
  const batch = await kafkajsRecordBatch({
    compression: gzip ? 1 : 0,
    firstOffset: Long.fromValue(baseOffset),
    firstTimestamp,
    maxTimestamp: Math.max(...timestamps),
    producerId: Long.fromValue(-1),
    producerEpoch: -1,
    firstSequence: -1,
    lastOffsetDelta: records.length - 1,
    records: records.map((r, i) =>
      kafkajsRecord({ offsetDelta: i, timestampDelta: timestamps[i]! - firstTimestamp, key: r.key, value: r.value, headers: r.headers }),
    ),
  });
  return batch.buffer;
}

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A varied set of records: keys, tombstones, repeated and null headers, unicode, empty buffers, out-of-order timestamps. */
function sampleRecords(count: number): RecordInput[] {
  const random = mulberry32(42);
  const records: RecordInput[] = [];
  for (let i = 0; i < count; i++) {
    const kind = i % 6;
    records.push({
      key: kind === 0 ? null : kind === 1 ? Buffer.alloc(0) : kind === 2 ? `clé-${i}-ключ-🔑` : Buffer.from([i & 0xff, 0, 255]),
      value: kind === 3 ? null : kind === 4 ? '' : kind === 5 ? Buffer.from(`v${i}`.repeat(1 + (i % 50))) : `値 ${i} ${'x'.repeat(i % 200)}`,
      headers:
        i % 3 === 0
          ? { trace: `t-${i}`, tag: ['a', Buffer.from([1, 2, 3]), 'ü'], empty: Buffer.alloc(0), κλειδί: 'τιμή' }
          : i % 3 === 1
            ? { only: ['one'] }
            : undefined,
      timestamp: NOW + Math.floor((random() - 0.5) * 2 ** 36),
    });
  }
  return records;
}

describe('varint', () => {
  const vectors: [number, string][] = [
    [0, '00'],
    [-1, '01'],
    [1, '02'],
    [63, '7e'],
    [-64, '7f'],
    [64, '8001'],
    [8192, '808001'],
  ];

  it('encodes and decodes the reference zigzag vectors as varints and varlongs', () => {
    for (const [value, hex] of vectors) {
      const size = hex.length / 2;
      const buf = Buffer.alloc(10);
      expect(sizeOfVarint(value)).toBe(size);
      expect(sizeOfVarlong(value)).toBe(size);
      expect(writeVarint(buf, value, 0)).toBe(size);
      expect(buf.subarray(0, size).toString('hex')).toBe(hex);
      buf.fill(0);
      expect(writeVarlong(buf, value, 0)).toBe(size);
      expect(buf.subarray(0, size).toString('hex')).toBe(hex);

      const cursor = { pos: 0 };
      expect(readVarint(Buffer.from(hex, 'hex'), cursor)).toBe(value);
      expect(cursor.pos).toBe(size);
      cursor.pos = 0;
      expect(readVarlong(Buffer.from(hex, 'hex'), cursor)).toBe(value);
      expect(cursor.pos).toBe(size);
    }
  });

  it('matches KafkaJS varints over the int32 range, writing at an offset', () => {
    const random = mulberry32(7);
    const values = [0x7fffffff, -0x80000000, 0x3fffffff, -0x40000000, 0x40000000, 127, 128, -65, 2 ** 28, -(2 ** 28)];
    for (let i = 0; i < 2000; i++) values.push(Math.floor(random() * 2 ** 32) - 2 ** 31);
    for (const value of values) {
      const expected = new KafkaJSEncoder().writeVarInt(value).buffer;
      const buf = Buffer.alloc(8);
      expect(writeVarint(buf, value, 3)).toBe(3 + expected.length);
      expect(buf.subarray(3, 3 + expected.length)).toEqual(expected);
      expect(sizeOfVarint(value)).toBe(expected.length);
      const cursor = { pos: 3 };
      expect(readVarint(buf, cursor)).toBe(value);
      expect(cursor.pos).toBe(3 + expected.length);
    }
  });

  it('matches KafkaJS varlongs beyond 2^31, up to the safe integer limits', () => {
    const random = mulberry32(11);
    const values = [
      2 ** 31,
      -(2 ** 31) - 1,
      2 ** 32,
      -(2 ** 32),
      2 ** 35 - 1,
      -(2 ** 35),
      NOW,
      -NOW,
      8.64e15,
      -8.64e15,
      2 ** 52,
      -(2 ** 52),
      Number.MAX_SAFE_INTEGER,
      Number.MIN_SAFE_INTEGER,
      Number.MAX_SAFE_INTEGER - 63,
      Number.MIN_SAFE_INTEGER + 64,
    ];
    for (let i = 0; i < 2000; i++) {
      const magnitude = 2 ** Math.floor(random() * 53);
      values.push(Math.floor((random() - 0.5) * 2 * magnitude));
    }
    for (const value of values) {
      const expected = new KafkaJSEncoder().writeVarLong(value).buffer;
      const buf = Buffer.alloc(12);
      expect(writeVarlong(buf, value, 1)).toBe(1 + expected.length);
      expect(buf.subarray(1, 1 + expected.length).toString('hex')).toBe(expected.toString('hex'));
      expect(sizeOfVarlong(value)).toBe(expected.length);
      const cursor = { pos: 1 };
      expect(readVarlong(buf, cursor)).toBe(value);
      expect(cursor.pos).toBe(1 + expected.length);
    }
  });

  it('throws a RangeError for varints that are too long or run past the end', () => {
    expect(() => readVarint(Buffer.from('ffffffff8f01', 'hex'), { pos: 0 })).toThrow(/longer than 5 bytes/);
    expect(() => readVarint(Buffer.from('8080', 'hex'), { pos: 0 })).toThrow(RangeError);
    expect(() => readVarint(Buffer.alloc(0), { pos: 0 })).toThrow(/past the end/);
    expect(() => readVarlong(Buffer.from('ffffffffffffffffff8f01', 'hex'), { pos: 0 })).toThrow(/longer than 10 bytes/);
    expect(() => readVarlong(Buffer.from('ff', 'hex'), { pos: 0 })).toThrow(/past the end/);
    // zigzag 2^54 decodes to 2^53, one past Number.MAX_SAFE_INTEGER
    expect(() => readVarlong(new KafkaJSEncoder().writeVarLong(2 ** 53).buffer, { pos: 0 })).toThrow(/safe integer/);
  });
});

describe('encodeBatch', () => {
  it('encodes the reference batch byte for byte', () => {
    const batch = encodeBatch([{ key: null, value: 'hello', timestamp: 1700000000000 }]);
    expect(batch.length).toBe(73);
    expect(batch.toString('hex')).toBe(REFERENCE_BATCH);
    expect(batch.readUInt32BE(17)).toBe(0xe641a44b);
  });

  it('computes CRC-32C (Castagnoli) through the native addon', () => {
    expect(native.crc32c(Buffer.from('Some String'))).toBe(608512271);
  });

  it('encodes byte for byte what KafkaJS encodes for the same records', async () => {
    const records = sampleRecords(60).map((r) => ({ ...r, headers: r.headers && { trace: r.headers['trace'] ?? 'x', tag: ['a', 'b'] } }));
    expect(encodeBatch(records).toString('hex')).toBe((await kafkajsEncode(records, false)).toString('hex'));
  });

  it('writes the options into the batch header', () => {
    const batch = encodeBatch([{ value: 'a' }, { value: 'b' }, { value: 'c' }], {
      baseOffset: 2 ** 40 + 5,
      partitionLeaderEpoch: 7,
      producerId: 123456789012,
      producerEpoch: 3,
      baseSequence: 42,
      transactional: true,
      now: NOW,
    });
    expect(batch.readBigInt64BE(0)).toBe(2n ** 40n + 5n);
    expect(batch.readInt32BE(8)).toBe(batch.length - 12);
    expect(batch.readInt32BE(12)).toBe(7);
    expect(batch.readInt8(16)).toBe(2);
    expect(batch.readInt16BE(21)).toBe(0x10);
    expect(batch.readInt32BE(23)).toBe(2);
    expect(batch.readBigInt64BE(43)).toBe(123456789012n);
    expect(batch.readInt16BE(51)).toBe(3);
    expect(batch.readInt32BE(53)).toBe(42);
    expect(batch.readInt32BE(57)).toBe(3);
    expect([...batchInfos(batch)]).toEqual([
      {
        baseOffset: 2 ** 40 + 5,
        lastOffset: 2 ** 40 + 7,
        size: batch.length,
        recordCount: 3,
        maxTimestamp: NOW,
        attributes: 0x10,
        crc: batch.readUInt32BE(17),
        position: 0,
      },
    ]);
    expect(decodeAll(batch, { verifyCrc: true }).map((r) => r.offset)).toEqual([2 ** 40 + 5, 2 ** 40 + 6, 2 ** 40 + 7]);
  });

  it('takes baseTimestamp from the first record and maxTimestamp from the largest, deltas may be negative or beyond 2^31', () => {
    const timestamps = [5_000_000_000, 3000, 9_000_000_000_000, 0, -1, 5_000_000_001];
    const batch = encodeBatch(timestamps.map((timestamp) => ({ value: 'v', timestamp })));
    expect(batch.readBigInt64BE(27)).toBe(5_000_000_000n);
    expect(batch.readBigInt64BE(35)).toBe(9_000_000_000_000n);
    expect(decodeAll(batch).map((r) => r.timestamp)).toEqual(timestamps);
  });

  it('stamps records without a timestamp with options.now and accepts decimal-string timestamps', () => {
    const batch = encodeBatch([{ value: 'a' }, { value: 'b', timestamp: '1699999999999' }, { value: 'c', timestamp: null }], { now: NOW });
    expect(decodeAll(batch).map((r) => r.timestamp)).toEqual([NOW, 1699999999999, NOW]);
    expect(batch.readBigInt64BE(27)).toBe(BigInt(NOW));
    expect(batch.readBigInt64BE(35)).toBe(BigInt(NOW));
  });

  it('stamps LogAppendTime batches with now as maxTimestamp, which every decoded record reports', () => {
    const batch = encodeBatch(
      [
        { value: 'a', timestamp: 1000 },
        { value: 'b', timestamp: 3000 },
      ],
      { timestampType: 'LogAppendTime', now: NOW },
    );
    expect(batch.readInt16BE(21)).toBe(0x08);
    expect(batch.readBigInt64BE(27)).toBe(1000n);
    expect(batch.readBigInt64BE(35)).toBe(BigInt(NOW));
    expect(decodeAll(batch).map((r) => r.timestamp)).toEqual([NOW, NOW]);
  });

  it('gzips the records section and sets codec 1', () => {
    const records = sampleRecords(40);
    const plain = encodeBatch(records);
    const gzipped = encodeBatch(records, { compression: 'gzip' });
    expect(gzipped.readInt16BE(21)).toBe(1);
    expect(gzipped.readInt32BE(8)).toBe(gzipped.length - 12);
    expect(gzipped.readInt32BE(57)).toBe(40);
    expect(gunzipSync(gzipped.subarray(61)).equals(plain.subarray(61))).toBe(true);
    expect(gzipped.subarray(23, 57).equals(plain.subarray(23, 57))).toBe(true);
    expect(gzipped.readUInt32BE(17)).toBe(native.crc32c(gzipped.subarray(21)));
  });
});

describe('decodeBatches', () => {
  it('decodes the reference batch', () => {
    expect(decodeAll(Buffer.from(REFERENCE_BATCH, 'hex'), { verifyCrc: true })).toEqual([
      { offset: 0, timestamp: 1700000000000, key: null, value: Buffer.from('hello'), headers: {} },
    ]);
  });

  it('round-trips many records exactly, uncompressed and gzipped', () => {
    const records = sampleRecords(500);
    records.push({ key: 'big', value: Buffer.alloc(1024 * 1024, 0xab), timestamp: 1 });
    records.push({ key: 'big string', value: 'ß'.repeat(512 * 1024), headers: { h: 'x'.repeat(70_000) }, timestamp: 2 });
    const expected = view(expectedRecords(records, 1000));
    expect(view(decodeAll(encodeBatch(records, { baseOffset: 1000 }), { verifyCrc: true }))).toEqual(expected);
    expect(view(decodeAll(encodeBatch(records, { baseOffset: 1000, compression: 'gzip' }), { verifyCrc: true }))).toEqual(expected);
  });

  it('returns keys and values as views into the fetched bytes', () => {
    const bytes = Buffer.concat([Buffer.from(REFERENCE_BATCH, 'hex'), encodeBatch([{ key: 'k', value: 'v', headers: { h: 'x' } }], { baseOffset: 1 })]);
    const parts = decodeAll(bytes).flatMap((r) => [r.key, r.value, ...Object.values(r.headers).flat()]);
    expect(parts.filter(Buffer.isBuffer)).toHaveLength(4);
    for (const part of parts) {
      if (part !== null) {
        expect(part.buffer).toBe(bytes.buffer);
        expect(part.byteOffset).toBeGreaterThanOrEqual(bytes.byteOffset);
        expect(part.byteOffset + part.length).toBeLessThanOrEqual(bytes.byteOffset + bytes.length);
      }
    }
    const value = decodeAll(bytes)[1]!.value!;
    bytes[value.byteOffset - bytes.byteOffset] = 0x56;
    expect(value.toString()).toBe('V');
  });

  it('iterates concatenated batches in offset order, gaps included', () => {
    const bytes = Buffer.concat([
      encodeBatch([{ value: 'a' }, { value: 'b' }], { baseOffset: 0, now: NOW }),
      encodeBatch([{ value: 'c' }], { baseOffset: 2, now: NOW, compression: 'gzip' }),
      encodeBatch([{ value: 'd' }, { value: 'e' }], { baseOffset: 10, now: NOW }),
    ]);
    expect(decodeAll(bytes, { verifyCrc: true }).map((r) => [r.offset, r.value!.toString()])).toEqual([
      [0, 'a'],
      [1, 'b'],
      [2, 'c'],
      [10, 'd'],
      [11, 'e'],
    ]);
    expect([...batchInfos(bytes)].map((b) => [b.baseOffset, b.lastOffset, b.recordCount, b.attributes & 7])).toEqual([
      [0, 1, 2, 0],
      [2, 2, 1, 1],
      [10, 11, 2, 0],
    ]);
  });

  it('skips records below fromOffset inside and across batches', () => {
    const bytes = Buffer.concat([
      encodeBatch([{ value: 'a' }, { value: 'b' }, { value: 'c' }], { baseOffset: 0 }),
      encodeBatch([{ value: 'd' }, { value: 'e' }], { baseOffset: 3, compression: 'gzip' }),
    ]);
    expect(decodeAll(bytes, { fromOffset: 2 }).map((r) => r.offset)).toEqual([2, 3, 4]);
    expect(decodeAll(bytes, { fromOffset: 4 }).map((r) => r.offset)).toEqual([4]);
    expect(decodeAll(bytes, { fromOffset: 5 })).toEqual([]);
  });

  it('ends silently at a trailing partial batch, wherever it is cut', () => {
    const first = encodeBatch([{ value: 'a' }, { value: 'b' }], { baseOffset: 0 });
    const bytes = Buffer.concat([first, encodeBatch([{ key: 'k', value: 'c', headers: { h: ['1', '2'] } }], { baseOffset: 2 })]);
    for (let cut = first.length; cut < bytes.length; cut++) {
      const truncated = bytes.subarray(0, cut);
      expect(decodeAll(truncated, { verifyCrc: true }).map((r) => r.offset)).toEqual([0, 1]);
      expect([...batchInfos(truncated)].map((b) => b.baseOffset)).toEqual([0]);
    }
    expect(decodeAll(bytes.subarray(0, 11))).toEqual([]);
    expect(decodeAll(Buffer.alloc(0))).toEqual([]);
  });

  it('yields nothing for control batches but lists them in batchInfos', () => {
    const marker = withAttributes(encodeBatch([{ key: Buffer.from([0, 0, 0, 1]), value: Buffer.from([0, 0, 0, 0, 0, 0]) }], { baseOffset: 1 }), 0x30);
    const bytes = Buffer.concat([encodeBatch([{ value: 'a' }]), marker, encodeBatch([{ value: 'b' }], { baseOffset: 2 })]);
    expect(decodeAll(bytes, { verifyCrc: true }).map((r) => [r.offset, r.value!.toString()])).toEqual([
      [0, 'a'],
      [2, 'b'],
    ]);
    expect([...batchInfos(bytes)].map((b) => b.attributes)).toEqual([0, 0x30, 0]);
  });

  it('keeps null header values as null and repeated keys as arrays in order', () => {
    const [record] = decodeAll(encodeBatch([{ value: 'v', headers: { a: null, b: ['1', null, Buffer.from('3')], c: undefined, d: 'x' } }]));
    expect(record!.headers).toEqual({ a: null, b: [Buffer.from('1'), null, Buffer.from('3')], d: Buffer.from('x') });
  });

  it('keeps headers named like Object.prototype members as plain own properties', () => {
    const headers = JSON.parse('{"__proto__":"p","constructor":"c","toString":["t1","t2"]}') as Record<string, string | string[]>;
    const [record] = decodeAll(encodeBatch([{ value: 'v', headers }]));
    expect(Object.keys(record!.headers)).toEqual(['__proto__', 'constructor', 'toString']);
    expect(Object.getPrototypeOf(record!.headers)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(record!.headers, '__proto__')!.value).toEqual(Buffer.from('p'));
    expect(record!.headers['constructor']).toEqual(Buffer.from('c'));
    expect(record!.headers['toString']).toEqual([Buffer.from('t1'), Buffer.from('t2')]);
  });
});

describe('KafkaJS interoperability', () => {
  it('KafkaJS decodes our uncompressed and gzip batches to the same records', async () => {
    const records = sampleRecords(200);
    const plain = encodeBatch(records, { baseOffset: 7 });
    const gzipped = encodeBatch(records, { baseOffset: 207, compression: 'gzip' });
    const expected = [...expectedRecords(records, 7), ...expectedRecords(records, 207)];
    const decoded = await kafkajsDecode(Buffer.concat([plain, gzipped]));
    expect(view(decoded)).toEqual(view(expected));
    // KafkaJS turns null header values into null too
    const [withNull] = await kafkajsDecode(encodeBatch([{ value: 'v', headers: { n: null } }]));
    expect(withNull!.headers).toEqual({ n: null });
  });

  it('decodes KafkaJS-encoded uncompressed and gzip batches, CRC included', async () => {
    const records = sampleRecords(200).map((r) => ({ ...r, headers: r.headers && { trace: r.headers['trace'] ?? 'x', tag: ['a', 'b'] } }));
    const bytes = Buffer.concat([await kafkajsEncode(records, false, 0), await kafkajsEncode(records, true, 200)]);
    expect(view(decodeAll(bytes, { verifyCrc: true }))).toEqual(view([...expectedRecords(records, 0), ...expectedRecords(records, 200)]));
    expect([...batchInfos(bytes)].map((b) => [b.baseOffset, b.lastOffset, b.recordCount, b.attributes])).toEqual([
      [0, 199, 200, 0],
      [200, 399, 200, 1],
    ]);
  });
});

describe('errors', () => {
  const encodeError = (records: unknown, options?: EncodeOptions) => () => encodeBatch(records as RecordInput[], options);

  it('rejects an empty record list', () => {
    expect(encodeError([])).toThrow(new InvalidArgumentError('encodeBatch: records must be a non-empty array'));
    expect(encodeError(undefined)).toThrow(InvalidArgumentError);
  });

  it('rejects values that are not a Buffer, a string or null', () => {
    expect(encodeError([{ value: 42 }])).toThrow(new InvalidArgumentError('encodeBatch: records[0].value must be a Buffer, a string or null, got number 42'));
    expect(encodeError([{ value: 'ok' }, { value: new Uint8Array(2) }])).toThrow(
      'encodeBatch: records[1].value must be a Buffer, a string or null, got a Uint8Array (not a Buffer)',
    );
    expect(encodeError([{ value: {} }])).toThrow('got an instance of Object');
    expect(encodeError([{}])).toThrow(new InvalidArgumentError('encodeBatch: records[0].value is missing (use null for a tombstone)'));
    expect(encodeError([null])).toThrow(new InvalidArgumentError('encodeBatch: records[0] must be an object, got null'));
  });

  it('rejects keys and header values of the wrong type', () => {
    expect(encodeError([{ key: 1, value: 'v' }])).toThrow(
      new InvalidArgumentError('encodeBatch: records[0].key must be a Buffer, a string or null, got number 1'),
    );
    expect(encodeError([{ value: 'v', headers: { h: ['a', 5] } }])).toThrow(
      new InvalidArgumentError('encodeBatch: records[0].headers["h"] must be a Buffer, a string or null, got number 5'),
    );
    expect(encodeError([{ value: 'v', headers: 'h' }])).toThrow(new InvalidArgumentError('encodeBatch: records[0].headers must be an object, got "h"'));
    expect(encodeError([{ value: 'v', headers: ['h'] }])).toThrow(new InvalidArgumentError('encodeBatch: records[0].headers must be an object, got an array'));
  });

  it('rejects timestamps that are not integers between -1 and the largest Date', () => {
    for (const timestamp of [NaN, Infinity, -Infinity, 1.5, -2, 8.64e15 + 1, '12abc', '', '1e3', '1.5', 10n, {}]) {
      expect(encodeError([{ value: 'v', timestamp }])).toThrow(/^encodeBatch: records\[0\]\.timestamp must be an integer number of ms/);
    }
  });

  it('rejects invalid options', () => {
    const one = [{ value: 'v' }];
    expect(encodeError(one, { baseOffset: -1 })).toThrow(/options\.baseOffset must be an integer between 0 and/);
    expect(encodeError(one, { baseOffset: 1.5 })).toThrow(InvalidArgumentError);
    expect(encodeError(one, { producerEpoch: 40000 })).toThrow(/options\.producerEpoch/);
    expect(encodeError(one, { now: NaN })).toThrow(/options\.now/);
    expect(encodeError(one, { compression: 'brotli' as 'gzip' })).toThrow(
      `encodeBatch: compression must be 'none', 'gzip', 'snappy', 'lz4' or 'zstd', got "brotli"`,
    );
    expect(encodeError(one, { compression: 'unknown' as 'gzip' })).toThrow(
      `encodeBatch: compression must be 'none', 'gzip', 'snappy', 'lz4' or 'zstd', got "unknown"`,
    );
    expect(encodeError(one, { timestampType: 'Later' as 'CreateTime' })).toThrow(/timestampType/);
    expect(encodeError(one, { transactional: true })).toThrow('encodeBatch: a transactional batch needs a producerId');
    expect(encodeError(one, { producerId: 5 })).toThrow('encodeBatch: a batch with a producerId needs a producerEpoch');
    expect(encodeError(one, { producerId: 5, producerEpoch: 0 })).toThrow(
      'encodeBatch: a batch with a producerId needs a baseSequence (only a control batch may have none)',
    );
    expect(encodeError(one, { control: 'yes' as unknown as boolean })).toThrow('encodeBatch: control must be a boolean, got "yes"');
  });

  it("writes a transaction marker's header as Kafka does: producer id and epoch, baseSequence -1, transactional and control", () => {
    const key = Buffer.from([0, 0, 0, 1]); // version 0, COMMIT
    const marker = encodeBatch([{ key, value: Buffer.alloc(6) }], { producerId: 4000, producerEpoch: 3, transactional: true, control: true, now: 1 });
    expect(marker.readBigInt64BE(43)).toBe(4000n);
    expect(marker.readInt16BE(51)).toBe(3);
    expect(marker.readInt32BE(53)).toBe(-1);
    expect(marker.readInt16BE(21)).toBe(0x30);
  });

  it('detects a CRC mismatch only with verifyCrc', () => {
    const bytes = Buffer.concat([encodeBatch([{ value: 'a' }]), Buffer.from(REFERENCE_BATCH, 'hex')]);
    bytes[bytes.length - 3]! ^= 0x20; // "hello" → "helLo"
    expect(decodeAll(bytes).map((r) => r.value!.toString())).toEqual(['a', 'helLo']);
    const error = captureError(() => decodeAll(bytes, { verifyCrc: true }));
    expect(error).toBeInstanceOf(CorruptRecordError);
    expect(error).toMatchObject({
      code: 'ERR_CORRUPT_RECORD',
      position: bytes.length - 73,
      message: `record batch at byte ${bytes.length - 73}: CRC-32C mismatch (stored 0xe641a44b)`,
    });
  });

  it("throws CorruptRecordError for a batch whose records do not decompress with its codec, or whose codec is not one of Kafka's", () => {
    for (const [codec, reason] of [
      [1, 'gzip records do not decompress: incorrect header check'],
      [2, 'snappy records do not decompress: snappy: corrupt input (expected valid offset but got offset 25960; dst position: 2)'],
      [3, 'lz4 records do not decompress: WrongMagicNumber'],
      [4, 'zstd records do not decompress: Unknown frame descriptor'],
      [5, 'unknown compression codec 5'],
    ] as const) {
      const bytes = withAttributes(Buffer.from(REFERENCE_BATCH, 'hex'), codec);
      const error = captureError(() => decodeAll(bytes, { verifyCrc: true }));
      expect(error).toBeInstanceOf(CorruptRecordError);
      expect(error).toMatchObject({ code: 'ERR_CORRUPT_RECORD', position: 0 });
      expect((error as Error).message).toBe(`record batch at byte 0: ${reason}`);
    }
  });

  it('throws CorruptRecordError for malformed bytes inside a whole batch', () => {
    const corrupt = (edit: (b: Buffer) => void): unknown => {
      const bytes = Buffer.from(REFERENCE_BATCH, 'hex');
      edit(bytes);
      return captureError(() => decodeAll(bytes));
    };
    const cases: [(b: Buffer) => void, string][] = [
      [(b) => (b[61] = 0x18), 'record batch at byte 0: record length 12 runs past the batch end'],
      [(b) => (b[61] = 0x12), 'record batch at byte 0: field length 5 runs past the record end'],
      [(b) => b.writeInt32BE(2, 57), 'record batch at byte 0: varint at 73 runs past the end of the buffer'],
      [(b) => b.writeInt32BE(-1, 57), 'record batch at byte 0: negative record count -1'],
      [(b) => (b[16] = 1), 'record batch at byte 0: magic 1 is not 2 (only RecordBatch v2 is supported)'],
      [(b) => b.writeInt32BE(48, 8), 'record batch at byte 0: length 48 is below the 49 bytes of a v2 header'],
    ];
    for (const [edit, message] of cases) {
      const error = corrupt(edit);
      expect(error).toBeInstanceOf(CorruptRecordError);
      expect(error).toMatchObject({ code: 'ERR_CORRUPT_RECORD', position: 0, message });
    }
    // a record whose fields end before its declared length
    const padded = Buffer.concat([Buffer.from(REFERENCE_BATCH, 'hex'), Buffer.from([0])]);
    padded.writeInt32BE(padded.length - 12, 8);
    padded[61] = 0x18;
    expect(captureError(() => decodeAll(padded))).toMatchObject({ message: 'record batch at byte 0: record declares 12 bytes but its fields take 11' });
  });

  it('throws CorruptRecordError when gzip records do not decompress', () => {
    const bytes = withAttributes(Buffer.from(REFERENCE_BATCH, 'hex'), 1);
    const error = captureError(() => decodeAll(bytes));
    expect(error).toBeInstanceOf(CorruptRecordError);
    expect((error as Error).message).toMatch(/^record batch at byte 0: gzip records do not decompress: /);
  });
});
