import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { decodeBatches, encodeBatch, InvalidArgumentError, InvalidRecordError, Log } from '../src/index.js';
import { BatchWriter, GATHER_MIN_BYTES } from '../src/producer/batch-writer.js';
import { PendingSend } from '../src/producer/pending-send.js';
import { RecordRun } from '../src/producer/record-run.js';
import type { Message } from '../src/producer/producer-types.js';
import { tempDir } from './helpers.js';

const T0 = 1_700_000_000_000;
const SEGMENT = '00000000000000000000.log';

function filled(bytes: number, seed: number): Buffer {
  return Buffer.from(Array.from({ length: bytes }, (_, i) => (i * 31 + seed) & 0xff));
}

/** Messages mixing values copied into the framing and values left out of it, with keys, headers and timestamps. */
function mixedMessages(): Message[] {
  return [
    { key: 'small', value: filled(100, 1) },
    { key: null, value: filled(GATHER_MIN_BYTES, 2), headers: { h: 'x', many: ['a', Buffer.from('b')] } },
    { value: 'a string value', timestamp: T0 + 5 },
    { key: filled(3, 3), value: filled(3 * GATHER_MIN_BYTES + 7, 4), timestamp: String(T0 + 2) },
    { value: null },
    { value: filled(GATHER_MIN_BYTES - 1, 5) },
    { value: Buffer.alloc(0), headers: { empty: null } as unknown as Message['headers'] }, // a null header value, as KafkaJS allows
  ];
}

/** The records of `messages` as encodeBatch takes them, at send time T0. */
function asRecords(messages: Message[]) {
  return messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers, timestamp: m.timestamp ?? T0 }));
}

/** Encodes `messages` with the producer's writer: batches of `perBatch` records. */
function gathered(messages: Message[], perBatch: number): BatchWriter {
  const run = RecordRun.measure(messages, 'topic', new PendingSend(), T0, 0);
  const writer = new BatchWriter(64);
  for (let start = 0; start < run.count; start += perBatch) {
    writer.beginBatch();
    for (let i = start; i < Math.min(start + perBatch, run.count); i++) writer.addRecord(run, i);
    writer.endBatch();
  }
  return writer;
}

describe('gather append', () => {
  it('writes batches made of a framing and spliced-in values byte for byte as the contiguous encoding', () => {
    const messages = mixedMessages();
    const writer = gathered(messages, 3);
    expect(writer.values.map((v) => v.length)).toEqual([GATHER_MIN_BYTES, 3 * GATHER_MIN_BYTES + 7]);
    expect(writer.records).toBe(7);

    const gatherDir = tempDir('fjord-gather-');
    const gatherLog = Log.openSync(gatherDir);
    const result = gatherLog.appendGathered(writer.framing, writer.values, writer.cuts, { now: T0 });
    expect(result).toEqual({ baseOffset: 0, lastOffset: 6, position: 0, logAppendTime: -1, logStartOffset: 0 });
    // The store assigns offsets: a second append continues from 7.
    const again = gathered(messages.slice(0, 2), 3);
    expect(gatherLog.appendGathered(again.framing, again.values, again.cuts, { now: T0 }).baseOffset).toBe(7);
    gatherLog.closeSync();

    const plainDir = tempDir('fjord-gather-plain-');
    const plainLog = Log.openSync(plainDir);
    const records = asRecords(messages);
    for (const batch of [records.slice(0, 3), records.slice(3, 6), records.slice(6), records.slice(0, 2)])
      plainLog.append(encodeBatch(batch, { now: T0 }), { now: T0 });
    plainLog.closeSync();

    const gatherBytes = readFileSync(join(gatherDir, SEGMENT));
    expect(gatherBytes.equals(readFileSync(join(plainDir, SEGMENT)))).toBe(true);
    const decoded = [...decodeBatches(gatherBytes, { verifyCrc: true })];
    expect(decoded.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(decoded[3]!.value).toEqual(messages[3]!.value);
    expect(decoded[3]!.timestamp).toBe(T0 + 2);
    expect(decoded[1]!.headers).toEqual({ h: Buffer.from('x'), many: [Buffer.from('a'), Buffer.from('b')] });
  });

  it('rejects a value of the wrong length, cuts outside the framing and a partial batch, appending nothing', () => {
    const dir = tempDir('fjord-gather-bad-');
    const log = Log.openSync(dir);
    const good = gathered([{ value: 'first' }], 1);
    log.appendGathered(good.framing, good.values, good.cuts);
    const size = log.size;

    const writer = gathered(mixedMessages(), 7);
    const shorter = writer.values.map((v, i) => (i === 1 ? v.subarray(1) : v));
    expect(() => log.appendGathered(writer.framing, shorter, writer.cuts)).toThrow(InvalidRecordError);
    const beyond = Uint32Array.from(writer.cuts, (c, i) => (i === 1 ? writer.framing.length + 1 : c));
    expect(() => log.appendGathered(writer.framing, writer.values, beyond)).toThrow(InvalidRecordError);
    const backwards = Uint32Array.from([writer.cuts[1]!, writer.cuts[0]!]);
    expect(() => log.appendGathered(writer.framing, writer.values, backwards)).toThrow(InvalidRecordError);
    expect(() => log.appendGathered(writer.framing.subarray(0, writer.framing.length - 1), writer.values, writer.cuts)).toThrow(InvalidRecordError);
    expect(() => log.appendGathered(writer.framing, writer.values.slice(0, 1), writer.cuts)).toThrow(InvalidArgumentError);
    expect(() => log.appendGathered(writer.framing, [writer.values[0]!, 'text' as unknown as Buffer], writer.cuts)).toThrow(InvalidArgumentError);

    expect(log.logEndOffset).toBe(1);
    expect(log.size).toBe(size);
    expect(values(log.read(0))).toEqual(['first']);
    // The log takes a good append after the refused ones.
    expect(log.appendGathered(writer.framing, writer.values, writer.cuts).baseOffset).toBe(1);
    expect(log.logEndOffset).toBe(8);
    log.closeSync();
  });

  it('stamps the CRC itself: whatever the framing holds there is replaced', () => {
    const dir = tempDir('fjord-gather-crc-');
    const log = Log.openSync(dir);
    const writer = gathered([{ value: filled(GATHER_MIN_BYTES * 2, 9) }], 1);
    writer.framing.writeUInt32BE(0xdeadbeef, 17);
    log.appendGathered(writer.framing, writer.values, writer.cuts, { now: T0 });
    log.closeSync();
    const expected = encodeBatch([{ value: filled(GATHER_MIN_BYTES * 2, 9), timestamp: T0 }], { now: T0 });
    expect(readFileSync(join(dir, SEGMENT)).equals(expected)).toBe(true);
  });
});

function values(bytes: Buffer): string[] {
  return [...decodeBatches(bytes)].map((r) => r.value!.toString());
}
