import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { decimal } from '../src/consumer/decimal.js';
import { decodeMessages, type KafkaMessage } from '../src/consumer/kafka-message.js';
import { CorruptRecordError } from '../src/errors.js';
import { captureError, withAttributes } from './helpers.js';
import { BufferView } from '../src/storage/buffer-view.js';
import { decodeBatches } from '../src/record-batch/decode.js';
import { encodeBatch, type EncodeOptions, type RecordInput } from '../src/record-batch/encode.js';

const NOW = 1_700_000_000_000;
const REFERENCE_BATCH =
  '00000000000000000000003d0000000002e641a44b0000000000000000018bcfe568000000018bcfe56800ffffffffffffffffffffffffffff0000000116000000010a68656c6c6f00';

/** What the consumer handed out before it decoded messages directly: each DecodedRecord in KafkaJS's shape. */
function viaDecodeBatches(bytes: Buffer, fromOffset: number): KafkaMessage[] {
  return [...decodeBatches(bytes, { fromOffset })].map((r) => ({
    key: r.key,
    value: r.value,
    timestamp: String(r.timestamp),
    attributes: 0,
    offset: String(r.offset),
    headers: r.headers,
  }));
}

function batch(records: RecordInput[], options: EncodeOptions = {}): Buffer {
  return encodeBatch(records, { now: NOW, ...options });
}

describe('decodeMessages', () => {
  it('gives the records decodeBatches gives, as KafkaJS messages, across keys, headers, timestamps, codecs and offsets', () => {
    const bytes = Buffer.concat([
      batch(
        [
          { key: 'k0', value: 'v0', headers: { trace: 'a', many: ['x', null, 'y'], empty: '' } },
          { key: null, value: null, timestamp: NOW - 5 },
          { key: Buffer.alloc(200, 1), value: Buffer.alloc(20_000, 2), timestamp: NOW + 1_000_000 },
          { value: 'no headers', headers: { ['__proto__']: 'p', constructor: 'c' } },
        ],
        { baseOffset: 998 },
      ),
      // control batch (a transaction marker): no messages
      withAttributes(batch([{ key: Buffer.from([0, 0, 0, 1]), value: Buffer.from([0, 0, 0, 0, 0, 0]) }], { baseOffset: 1002 }), 0x30),
      batch([{ value: 'gzip 0' }, { value: 'gzip 1', headers: { h: 'g' } }], { baseOffset: 1003, compression: 'gzip' }),
      batch([{ value: 'appended', timestamp: 5 }], { baseOffset: 1005, timestampType: 'LogAppendTime', now: NOW + 7 }),
      batch([{ value: 'far' }, { value: 'further' }], { baseOffset: 9_007_199_254_740_000 }),
    ]);
    const messages = decodeMessages(bytes, 0);
    expect(messages.map((m) => m.offset)).toEqual(['998', '999', '1000', '1001', '1003', '1004', '1005', '9007199254740000', '9007199254740001']);
    expect(messages.map((m) => m.timestamp)).toEqual([NOW, NOW - 5, NOW + 1_000_000, NOW, NOW, NOW, NOW + 7, NOW, NOW].map(String));
    expect(messages).toEqual(viaDecodeBatches(bytes, 0));
    expect(messages[0]!.headers).toEqual({ trace: Buffer.from('a'), many: [Buffer.from('x'), null, Buffer.from('y')], empty: Buffer.alloc(0) });
    expect(Object.getOwnPropertyNames(messages[3]!.headers)).toEqual(['__proto__', 'constructor']);
    expect(Object.getPrototypeOf(messages[3]!.headers)).toBe(Object.prototype);
  });

  it('skips records below fromOffset, also inside a batch, and a trailing partial batch', () => {
    const whole = Buffer.concat([batch([{ value: 'a' }, { value: 'b' }, { value: 'c' }], { baseOffset: 10 }), batch([{ value: 'd' }], { baseOffset: 13 })]);
    const bytes = whole.subarray(0, whole.length - 3);
    expect(decodeMessages(bytes, 11).map((m) => [m.offset, m.value!.toString()])).toEqual([
      ['11', 'b'],
      ['12', 'c'],
    ]);
    expect(decodeMessages(whole, 13).map((m) => m.offset)).toEqual(['13']);
    expect(decodeMessages(whole, 14)).toEqual([]);
    expect(decodeMessages(Buffer.alloc(0), 0)).toEqual([]);
  });

  it('hands out plain objects with own data properties, in KafkaJS order', () => {
    const [message] = decodeMessages(batch([{ key: 'k', value: 'v', headers: { h: 'x' } }], { baseOffset: 41 }), 0) as [KafkaMessage];
    expect(Object.getPrototypeOf(message)).toBe(Object.prototype);
    expect(message.constructor).toBe(Object);
    expect(Object.keys(message)).toEqual(['key', 'value', 'timestamp', 'attributes', 'offset', 'headers']);
    expect('offset' in message && 'timestamp' in message && 'headers' in message).toBe(true);
    expect(Object.getOwnPropertyDescriptor(message, 'offset')).toEqual({ value: '41', writable: true, enumerable: true, configurable: true });
    expect({ ...message }).toStrictEqual({
      key: Buffer.from('k'),
      value: Buffer.from('v'),
      timestamp: String(NOW),
      attributes: 0,
      offset: '41',
      headers: { h: Buffer.from('x') },
    });
    expect(JSON.parse(JSON.stringify(message))).toEqual({
      key: { type: 'Buffer', data: [107] },
      value: { type: 'Buffer', data: [118] },
      timestamp: String(NOW),
      attributes: 0,
      offset: '41',
      headers: { h: { type: 'Buffer', data: [120] } },
    });
    message.offset = 'changed';
    message.headers.added = null;
    expect(message.offset).toBe('changed');
    expect(message.headers).toEqual({ h: Buffer.from('x'), added: null });
  });

  it('gives each message its own headers object', () => {
    const [first, second] = decodeMessages(batch([{ value: 'a' }, { value: 'b' }]), 0) as [KafkaMessage, KafkaMessage];
    expect(first.headers).toEqual({});
    expect(first.headers).not.toBe(second.headers);
  });

  it('makes keys and values Buffers that view the fetched bytes (no copy)', () => {
    const bytes = batch([{ key: 'key', value: 'value' }]);
    const [message] = decodeMessages(bytes, 0) as [KafkaMessage];
    const value = message.value!;
    expect(Buffer.isBuffer(value)).toBe(true);
    expect(value).toBeInstanceOf(Buffer);
    expect(value.constructor).toBe(Buffer);
    expect(value).toStrictEqual(Buffer.from('value'));
    expect(value.toString('utf8')).toBe('value');
    expect(value.readUInt8(0)).toBe(0x76);
    expect(inspect(value)).toBe('<Buffer 76 61 6c 75 65>');
    expect(value.buffer).toBe(bytes.buffer);
    expect(message.key!.buffer).toBe(bytes.buffer);
    expect(value.byteOffset).toBe(bytes.byteOffset + bytes.indexOf('value'));
    bytes[bytes.indexOf('value')] = 0x56;
    expect(value.toString()).toBe('Value');
  });

  it('throws the CorruptRecordError decodeBatches throws for malformed bytes inside a whole batch', () => {
    const edits: ((b: Buffer) => void)[] = [
      (b) => (b[61] = 0x18), // record length past the batch end
      (b) => (b[61] = 0x12), // value length past the record end
      (b) => (b[65] = 0x28), // key length past the record end
      (b) => b.writeInt32BE(2, 57), // a second record that is not there
      (b) => b.writeInt32BE(-1, 57),
      (b) => (b[16] = 1),
      (b) => b.writeInt32BE(48, 8),
      (b) => (b[72] = 0x01), // negative header count
      (b) => (b[72] = 0x02), // one header that is not there
    ];
    for (const edit of edits) {
      const bytes = Buffer.from(REFERENCE_BATCH, 'hex');
      edit(bytes);
      const expected = captureError(() => viaDecodeBatches(bytes, 0));
      expect(expected).toBeInstanceOf(CorruptRecordError);
      const error = captureError(() => decodeMessages(bytes, 0));
      expect(error).toBeInstanceOf(CorruptRecordError);
      expect(error).toMatchObject({ code: 'ERR_CORRUPT_RECORD', position: 0, message: (expected as Error).message });
    }
    const padded = Buffer.concat([Buffer.from(REFERENCE_BATCH, 'hex'), Buffer.from([0])]);
    padded.writeInt32BE(padded.length - 12, 8);
    padded[61] = 0x18;
    expect(captureError(() => decodeMessages(padded, 0))).toMatchObject({ message: 'record batch at byte 0: record declares 12 bytes but its fields take 11' });
    const trailing = Buffer.concat([Buffer.from(REFERENCE_BATCH, 'hex'), Buffer.from([0])]);
    trailing.writeInt32BE(trailing.length - 12, 8);
    expect(captureError(() => decodeMessages(trailing, 0))).toMatchObject({ message: 'record batch at byte 0: 1 bytes left after its 1 records' });
  });
});

describe('decimal', () => {
  it('writes offsets as String does, across thousands and up to the largest safe integer', () => {
    const samples = [0, 1, 9, 10, 999, 1000, 1001, 1999, 2000, 10_000, 123_456, 999_999, 1_000_000, 1_000_001, 2 ** 31, 2 ** 32 + 7, Number.MAX_SAFE_INTEGER];
    for (let n = 0; n < 5000; n++) samples.push(n);
    for (let n = 1_000_000_000_000 - 2000; n < 1_000_000_000_000 + 2000; n++) samples.push(n);
    // out of order too: the cached prefix must follow
    for (const n of [...samples].reverse().concat(samples)) expect(decimal(n)).toBe(String(n));
  });
});

describe('BufferView', () => {
  it('is a Buffer over the given bytes of an ArrayBuffer', () => {
    const arrayBuffer = new ArrayBuffer(16);
    new Uint8Array(arrayBuffer).set([1, 2, 3, 4, 5], 4);
    const view = new BufferView(arrayBuffer, 5, 3);
    expect(Buffer.isBuffer(view)).toBe(true);
    expect(view).toStrictEqual(Buffer.from([2, 3, 4]));
    expect(view.buffer).toBe(arrayBuffer);
    expect(view.byteOffset).toBe(5);
    expect(view.subarray(1)).toStrictEqual(Buffer.from([3, 4]));
    expect(Buffer.concat([view, view]).toString('hex')).toBe('020304020304');
    expect(() => new BufferView(arrayBuffer, 15, 2)).toThrow(RangeError);
  });
});
