// Checks the files Fjord writes with code that is not Fjord's: KafkaJS's
// RecordBatch decoder and its own CRC-32C.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { encodeBatch, Log } from '../src/index.js';
import { tempDir } from './helpers.js';

const require = createRequire(import.meta.url);
const KafkaDecoder = require('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => unknown;
const decodeKafkaBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (decoder: unknown) => Promise<{
  firstOffset: string;
  lastOffsetDelta: number;
  maxTimestamp: string;
  records: { offset: string; key: Buffer | null; value: Buffer | null; timestamp: string; headers: Record<string, Buffer> }[];
}>;
const kafkaCrc32C = require('kafkajs/src/protocol/recordBatch/crc32C') as (buffer: Buffer) => number;

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

    const logs = readdirSync(dir).filter((f) => f.endsWith('.log')).sort();
    expect(logs.length).toBeGreaterThan(3);
    const seen: Written[] = [];
    let indexEntries = 0;
    for (const file of logs) {
      const base = Number(file.slice(0, 20));
      const bytes = readFileSync(join(dir, file));
      const batchStarts = new Map<number, number>(); // position -> last offset
      let pos = 0;
      while (pos < bytes.length) {
        const size = bytes.readInt32BE(pos + 8) + 12;
        const batch = bytes.subarray(pos, pos + size);
        expect(batch.readInt8(16)).toBe(2);
        expect(kafkaCrc32C(batch.subarray(21))).toBe(batch.readUInt32BE(17));
        const decoded = await decodeKafkaBatch(new KafkaDecoder(batch));
        expect(Number(decoded.firstOffset)).toBe(Number(batch.readBigInt64BE(0)));
        for (const r of decoded.records) {
          seen.push({
            offset: Number(r.offset),
            key: r.key === null ? null : r.key.toString(),
            value: r.value === null ? null : r.value.toString(),
            timestamp: Number(r.timestamp),
            header: r.headers.trace!.toString(),
          });
        }
        batchStarts.set(pos, Number(decoded.firstOffset) + decoded.lastOffsetDelta);
        pos += size;
      }
      expect(pos).toBe(bytes.length);

      const index = readFileSync(join(dir, file.replace('.log', '.index')));
      expect(index.length % 8).toBe(0);
      for (let i = 0; i < index.length; i += 8) {
        const relative = index.readInt32BE(i);
        const position = index.readInt32BE(i + 4);
        expect(batchStarts.get(position)).toBe(base + relative);
        indexEntries++;
      }
      const timeIndex = readFileSync(join(dir, file.replace('.log', '.timeindex')));
      expect(timeIndex.length % 12).toBe(0);
      expect(timeIndex.length).toBeGreaterThan(0);
      let lastTimestamp = -1;
      for (let i = 0; i < timeIndex.length; i += 12) {
        const timestamp = Number(timeIndex.readBigInt64BE(i));
        const offset = base + timeIndex.readInt32BE(i + 8);
        expect(timestamp).toBeGreaterThan(lastTimestamp);
        expect([...batchStarts.values()]).toContain(offset);
        lastTimestamp = timestamp;
      }
    }
    expect(indexEntries).toBeGreaterThan(50);
    expect(seen).toEqual(written);
  });
});
