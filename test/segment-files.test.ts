// Checks the files Fjord writes with code that is not Fjord's: KafkaJS's
// RecordBatch decoder and its own CRC-32C (through segment-reader.ts).
import { appendFileSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { encodeBatch, Log } from '../src/index.js';
import { tempDir } from './helpers.js';
import { readSegments } from './segment-reader.js';

const require = createRequire(import.meta.url);
const KafkaDecoder = require('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => unknown;
const decodeKafkaBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (decoder: unknown) => Promise<{
  firstOffset: string;
  lastOffsetDelta: number;
  maxTimestamp: string;
  records: { offset: string; key: Buffer | null; value: Buffer | null; timestamp: string; headers: Record<string, Buffer> }[];
}>;

interface Written {
  offset: number;
  key: string | null;
  value: string | null;
  timestamp: number;
  header: string;
}

describe('segment files', () => {
  it('decode with KafkaJS, pass CRC-32C, and have index entries on batch boundaries', async () => {
    const dir = tempDir();
    const log = await Log.open(dir, { segmentBytes: 64 * 1024, indexIntervalBytes: 1024 });
    const written: Written[] = [];
    const t0 = 1_700_000_000_000;
    for (let b = 0; b < 300; b++) {
      const records = Array.from({ length: 1 + (b % 9) }, (_, i) => {
        const n = written.length + i;
        return {
          key: n % 5 === 0 ? null : `key-${n}`,
          value: n % 11 === 0 ? null : `value-${n}-${'x'.repeat(n % 300)}`,
          timestamp: t0 + n * 3,
          headers: { trace: `t-${n}` },
        };
      });
      const { baseOffset } = log.append(encodeBatch(records));
      for (const [i, r] of records.entries())
        written.push({ offset: baseOffset + i, key: r.key, value: r.value, timestamp: r.timestamp, header: r.headers.trace });
    }
    await log.close();

    const segments = readSegments(dir, { open: false });
    expect(segments.length).toBeGreaterThan(3);
    expect(segments.flatMap((s) => s.problems)).toEqual([]);
    const seen: Written[] = [];
    let indexEntries = 0;
    for (const segment of segments) {
      expect(segment.dataEnd).toBe(segment.fileLength);
      expect(segment.timeIndex.length).toBeGreaterThan(0);
      indexEntries += segment.index.length;
      for (const { bytes } of segment.batches) {
        const decoded = await decodeKafkaBatch(new KafkaDecoder(bytes));
        expect(Number(decoded.firstOffset)).toBe(Number(bytes.readBigInt64BE(0)));
        for (const r of decoded.records) {
          seen.push({
            offset: Number(r.offset),
            key: r.key === null ? null : r.key.toString(),
            value: r.value === null ? null : r.value.toString(),
            timestamp: Number(r.timestamp),
            header: r.headers.trace!.toString(),
          });
        }
      }
    }
    expect(indexEntries).toBeGreaterThan(50);
    expect(seen).toEqual(written);
  });
});

describe('the segment reader the crash tests rely on', () => {
  it('reports a torn tail, a stale index entry and a time index going back', async () => {
    const dir = tempDir();
    const log = await Log.open(dir, { segmentBytes: 64 * 1024, indexIntervalBytes: 100 });
    const t0 = 1_700_000_000_000;
    for (let b = 0; b < 5; b++) log.append(encodeBatch([{ value: `value-${b}-${'x'.repeat(200)}`, timestamp: t0 + b }]));
    await log.close();
    const [clean] = readSegments(dir, { open: false });
    expect(clean!.problems).toEqual([]);
    const batchSize = clean!.batches[0]!.size;
    expect(clean!.index).toEqual([1, 2, 3, 4].map((offset) => ({ offset, position: offset * batchSize })));
    expect(clean!.timeIndex).toEqual([1, 2, 3, 4].map((offset) => ({ timestamp: t0 + offset, offset })));

    const file = (suffix: string) => join(dir, `00000000000000000000.${suffix}`);
    appendFileSync(file('log'), clean!.batches[0]!.bytes.subarray(0, 30));
    const index = readFileSync(file('index'));
    appendFileSync(file('index'), index.subarray(0, 8));
    const timeIndex = readFileSync(file('timeindex'));
    appendFileSync(file('timeindex'), timeIndex.subarray(0, 12));
    expect(readSegments(dir, { open: false })[0]!.problems).toEqual([
      `00000000000000000000.log: ${30} bytes after the last whole batch (at byte ${5 * batchSize})`,
      `00000000000000000000.index: entry 4 (offset 1, byte ${batchSize}) does not increase from entry 3 (offset 4, byte ${4 * batchSize})`,
      `00000000000000000000.timeindex: entry 4 (${t0 + 1} at offset 1) does not increase from entry 3 (${t0 + 4} at offset 4)`,
    ]);
    // With the log open, zeros after the data are its preallocated tail; anything else is not.
    appendFileSync(file('log'), Buffer.alloc(100));
    expect(readSegments(dir, { open: true })[0]!.problems.slice(0, 2)).toEqual([
      `00000000000000000000.log: no whole batch at byte ${5 * batchSize} (length field ${clean!.batches[0]!.size - 12})`,
      `00000000000000000000.log: 130 bytes after the last whole batch (at byte ${5 * batchSize}) are not zeros`,
    ]);
  });
});
