// Checks the files Fjord writes with code that is not Fjord's: KafkaJS's
// RecordBatch decoder and its own CRC-32C (through segment-reader.ts).
import { createRequire } from 'node:module';
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
      records.forEach((r, i) =>
        written.push({ offset: baseOffset + i, key: r.key, value: r.value, timestamp: r.timestamp, header: r.headers.trace }),
      );
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
