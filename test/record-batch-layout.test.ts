// The seams of src/record-batch/: the one layout, and the one int64 writer,
// timestamp rule and header flattening that encoding and the producer share.
import { describe, expect, it } from 'vitest';

import { batchInfos } from '../src/record-batch/decode.js';
import { encodeBatch } from '../src/record-batch/encode.js';
import { flattenHeaders, headersObject } from '../src/record-batch/headers.js';
import { readInt64, writeInt64 } from '../src/record-batch/int64.js';
import * as layout from '../src/record-batch/layout.js';
import { MAX_DATE_MS, recordTimestamp } from '../src/record-batch/timestamp.js';
import { native } from '../src/storage/native.js';

const T0 = 1_700_000_000_000;

describe('RecordBatch v2 layout', () => {
  it('lays the header fields end to end, as Kafka does', () => {
    const fields: [string, number, number][] = [
      ['BASE_OFFSET', layout.BASE_OFFSET, 8],
      ['LENGTH', layout.LENGTH, 4],
      ['PARTITION_LEADER_EPOCH', layout.PARTITION_LEADER_EPOCH, 4],
      ['MAGIC', layout.MAGIC, 1],
      ['CRC', layout.CRC, 4],
      ['ATTRIBUTES', layout.ATTRIBUTES, 2],
      ['LAST_OFFSET_DELTA', layout.LAST_OFFSET_DELTA, 4],
      ['BASE_TIMESTAMP', layout.BASE_TIMESTAMP, 8],
      ['MAX_TIMESTAMP', layout.MAX_TIMESTAMP, 8],
      ['PRODUCER_ID', layout.PRODUCER_ID, 8],
      ['PRODUCER_EPOCH', layout.PRODUCER_EPOCH, 2],
      ['BASE_SEQUENCE', layout.BASE_SEQUENCE, 4],
      ['RECORDS_COUNT', layout.RECORDS_COUNT, 4],
    ];
    let at = 0;
    for (const [name, offset, size] of fields) {
      expect([name, offset]).toEqual([name, at]);
      at += size;
    }
    expect(layout.HEADER_SIZE).toBe(at);
    expect(layout.HEADER_SIZE).toBe(61);
    expect(layout.LOG_OVERHEAD).toBe(12);
    expect(layout.MIN_LENGTH).toBe(49);
    expect(layout.RECORD_PREFIX_MAX).toBe(21);
  });

  it('is where encodeBatch writes every field', () => {
    const batch = encodeBatch(
      [
        { value: 'a', timestamp: T0 + 9 },
        { value: 'b', timestamp: T0 },
        { value: 'c', timestamp: T0 + 4 },
      ],
      {
        baseOffset: 2 ** 40 + 3,
        partitionLeaderEpoch: 7,
        producerId: 2 ** 33 + 1,
        producerEpoch: 5,
        baseSequence: 11,
        transactional: true,
        compression: 'none',
      },
    );
    expect(batch.readBigInt64BE(layout.BASE_OFFSET)).toBe(BigInt(2 ** 40 + 3));
    expect(batch.readInt32BE(layout.LENGTH)).toBe(batch.length - layout.LOG_OVERHEAD);
    expect(batch.readInt32BE(layout.PARTITION_LEADER_EPOCH)).toBe(7);
    expect(batch[layout.MAGIC]).toBe(layout.MAGIC_V2);
    expect(batch.readUInt32BE(layout.CRC)).toBe(native.crc32c(batch.subarray(layout.ATTRIBUTES)));
    expect(batch.readInt16BE(layout.ATTRIBUTES)).toBe(layout.ATTRIBUTE_TRANSACTIONAL | layout.CODEC_NONE);
    expect(batch.readInt32BE(layout.LAST_OFFSET_DELTA)).toBe(2);
    expect(batch.readBigInt64BE(layout.BASE_TIMESTAMP)).toBe(BigInt(T0 + 9));
    expect(batch.readBigInt64BE(layout.MAX_TIMESTAMP)).toBe(BigInt(T0 + 9));
    expect(batch.readBigInt64BE(layout.PRODUCER_ID)).toBe(BigInt(2 ** 33 + 1));
    expect(batch.readInt16BE(layout.PRODUCER_EPOCH)).toBe(5);
    expect(batch.readInt32BE(layout.BASE_SEQUENCE)).toBe(11);
    expect(batch.readInt32BE(layout.RECORDS_COUNT)).toBe(3);
    // The first record starts right after the header: its length varint, then attributes 0 and timestampDelta 0.
    expect([batch[layout.HEADER_SIZE + 1], batch[layout.HEADER_SIZE + 2]]).toEqual([0, 0]);
  });

  it('sets the attribute bits batchInfos reads back', () => {
    const gzip = encodeBatch([{ value: 'v' }], { compression: 'gzip', timestampType: 'LogAppendTime', now: T0 });
    const [info] = [...batchInfos(gzip)];
    expect(info!.attributes & layout.ATTRIBUTE_CODEC_MASK).toBe(layout.CODEC_GZIP);
    expect(info!.attributes & layout.ATTRIBUTE_LOG_APPEND_TIME).toBe(layout.ATTRIBUTE_LOG_APPEND_TIME);
    expect(info!.attributes & (layout.ATTRIBUTE_TRANSACTIONAL | layout.ATTRIBUTE_CONTROL)).toBe(0);
    expect(layout.CODEC_NAMES[layout.CODEC_GZIP]).toBe('gzip');
  });
});

describe('int64 fields', () => {
  it('writes and reads safe integers big-endian, negative ones in two’s complement', () => {
    const buf = Buffer.alloc(8);
    for (const value of [0, 1, -1, 2 ** 32, -(2 ** 32) - 1, T0, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
      writeInt64(buf, 0, value);
      expect(buf.readBigInt64BE(0)).toBe(BigInt(value));
      expect(readInt64(buf, 0)).toBe(value);
    }
    writeInt64(buf, 0, -1);
    expect(buf.toString('hex')).toBe('ffffffffffffffff');
  });
});

describe('record timestamp rule', () => {
  it('takes integers and decimal strings from -1 to the last Date, and `now` for none', () => {
    expect(recordTimestamp(undefined, T0)).toBe(T0);
    expect(recordTimestamp(null, T0)).toBe(T0);
    expect(recordTimestamp(-1, T0)).toBe(-1);
    expect(recordTimestamp(0, T0)).toBe(0);
    expect(recordTimestamp(String(T0 + 1), T0)).toBe(T0 + 1);
    expect(recordTimestamp('-1', T0)).toBe(-1);
    expect(recordTimestamp(MAX_DATE_MS, T0)).toBe(8.64e15);
  });

  it('gives NaN for anything else, for the caller to refuse', () => {
    for (const bad of [-2, 1.5, MAX_DATE_MS + 1, Number.NaN, Infinity, '1e3', ' 5', '', '0x10', true, {}, 10n]) {
      expect(recordTimestamp(bad, T0)).toBeNaN();
    }
  });
});

describe('header flattening', () => {
  it('writes a header per value, per array element, none for undefined, in name order', () => {
    const names: string[] = ['kept'];
    const values: unknown[] = ['before'];
    const b = Buffer.from('b');
    flattenHeaders({ one: 'x', many: ['a', b, null], gone: undefined, none: null, empty: [] }, names, values);
    expect(names).toEqual(['kept', 'one', 'many', 'many', 'many', 'none']);
    expect(values).toEqual(['before', 'x', 'a', b, null, null]);
  });

  it('passes array elements through unchecked, undefined ones included', () => {
    const names: string[] = [];
    const values: unknown[] = [];
    flattenHeaders({ h: ['a', undefined, 5] }, names, values);
    expect(names).toEqual(['h', 'h', 'h']);
    expect(values).toEqual(['a', undefined, 5]);
  });

  it('folds flattened headers back into an object that flattens the same', () => {
    const object = headersObject(['a', 'b', 'a', '__proto__', 'a'], ['1', null, '2', 'p', '3']);
    expect(Object.getPrototypeOf(object)).toBeNull();
    expect({ ...object }).toEqual({ a: ['1', '2', '3'], b: null, ['__proto__']: 'p' });
    const names: string[] = [];
    const values: unknown[] = [];
    flattenHeaders(object, names, values);
    expect(names).toEqual(['a', 'a', 'a', 'b', '__proto__']);
    expect(values).toEqual(['1', '2', '3', null, 'p']);
  });
});
