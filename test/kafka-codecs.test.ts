// Kafka's four codecs against Kafka itself (kafka-clients 4.4, run by
// scripts/kafka-codecs on scripts/kafka): Fjord decodes the batches Kafka's
// MemoryRecordsBuilder wrote (test/fixtures/kafka-codecs, made by
// `node scripts/kafka-codecs/kafka-codecs.mjs write test/fixtures/kafka-codecs`),
// and Kafka's FileRecords and DumpLogSegments read what Fjord writes.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without types
import { kafkaCodecs } from '../scripts/kafka-codecs/kafka-codecs.mjs';
import { decodeMessages } from '../src/consumer/kafka-message.js';
import { CompressionTypes, type DecodedRecord, decodeBatches, encodeBatch, Log, type Message } from '../src/index.js';
import type { CompressionName } from '../src/record-batch/codecs.js';
import { fjordFor } from './fjord-kit.js';
import { tempDir } from './helpers.js';
import { dumpLogSegments } from './kafka-tools.js';

const runKafkaCodecs = kafkaCodecs as (args: string[]) => Promise<string>;

const CODECS = ['gzip', 'snappy', 'lz4', 'zstd'] as const;
const TYPES = { gzip: CompressionTypes.GZIP, snappy: CompressionTypes.Snappy, lz4: CompressionTypes.LZ4, zstd: CompressionTypes.ZSTD } as const;
const COUNT = 400;
const BASE_TIMESTAMP = 1_700_000_000_000;
const FIXTURES = join(import.meta.dirname, 'fixtures', 'kafka-codecs');
const JAVA_TIMEOUT = 120_000;

// The sample records, as KafkaCodecs.java builds them.
function key(i: number): string | null {
  return i % 5 === 4 ? null : `key-${i}`;
}
function value(i: number): string | null {
  return i % 7 === 6 ? null : `value ${i} `.repeat(1 + (i % 40));
}
function timestamp(i: number): number {
  return BASE_TIMESTAMP + 13 * i;
}
/** Headers as a KafkaJS message carries them (a repeated key: an array, in order). */
function headers(i: number): Record<string, string | null | string[]> {
  if (i % 3 === 0) return {};
  if (i % 3 === 1) return { h: `v${i}` };
  return { h: [`v${i}`, `w${i}`], n: null };
}

const text = (b: Buffer | null) => (b === null ? null : b.toString('utf8'));
function headerText(h: DecodedRecord['headers']): Record<string, string | null | string[]> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Array.isArray(v) ? v.map((x) => text(x)!) : text(v)]));
}

function expected(baseOffset: number) {
  return Array.from({ length: COUNT }, (_, i) => ({ offset: baseOffset + i, timestamp: timestamp(i), key: key(i), value: value(i), headers: headers(i) }));
}

describe('Kafka 4.4 codecs, checked against kafka-clients (scripts/kafka-codecs)', () => {
  for (const codec of CODECS) {
    it(`decodes the ${codec} batch Kafka's MemoryRecordsBuilder wrote, record by record`, () => {
      const bytes = readFileSync(join(FIXTURES, `kafka-${codec}.bin`));
      expect(bytes.readInt16BE(21) & 7).toBe(TYPES[codec]);
      const records = [...decodeBatches(bytes, { verifyCrc: true })];
      expect(
        records.map((r) => ({ offset: r.offset, timestamp: r.timestamp, key: text(r.key), value: text(r.value), headers: headerText(r.headers) })),
      ).toEqual(expected(1000));
      // The consumer's decoder, as eachMessage gets them.
      const messages = decodeMessages(bytes, 1000);
      expect(messages.map((m) => [m.offset, m.timestamp, text(m.key), text(m.value)])).toEqual(
        expected(1000).map((r) => [String(r.offset), String(r.timestamp), r.key, r.value]),
      );
    });

    it(`appends Kafka's ${codec} batch to a log, and finds a record inside it by timestamp as Kafka's segment search does`, async () => {
      const log = await Log.open(tempDir());
      try {
        expect(log.append(readFileSync(join(FIXTURES, `kafka-${codec}.bin`))).baseOffset).toBe(0);
        // Record 57's timestamp, and one between records 57 and 58: both find offset 57, not the batch's first.
        expect(log.offsetForTimestamp(timestamp(57))).toBe(57);
        expect(log.offsetForTimestamp(timestamp(57) - 5)).toBe(57);
        expect(log.offsetForTimestamp(timestamp(COUNT))).toBe(null);
      } finally {
        await log.close();
      }
    });

    it(
      `Kafka's FileRecords reads the ${codec} batches Fjord's producer wrote to its segment, and encodeBatch's`,
      async () => {
        const dir = tempDir();
        const fjord = fjordFor({ dir });
        const producer = fjord.producer();
        await producer.connect();
        const messages = expected(0).map((r) => ({ key: r.key, value: r.value, headers: r.headers as Message['headers'], timestamp: String(r.timestamp) }));
        await producer.send({ topic: 't', compression: TYPES[codec], messages });
        await producer.disconnect();
        await fjord.close();
        const segment = join(dir, 't-0', '00000000000000000000.log');
        // Several batches: the producer's batch.size (16384) cuts the 400 records.
        expect(await runKafkaCodecs(['read', codec, '0', segment])).toMatch(new RegExp(`^${codec} \\d\\d? ${COUNT}\\n$`));

        const file = join(dir, `encoded-${codec}.bin`);
        writeFileSync(file, encodeBatch(messages, { compression: codec satisfies CompressionName }));
        expect(await runKafkaCodecs(['read', codec, '0', file])).toBe(`${codec} 1 ${COUNT}\n`);
      },
      JAVA_TIMEOUT,
    );
  }

  it(
    "DumpLogSegments --deep-iteration reads every record of Fjord's gzip, snappy, lz4 and zstd segments",
    async () => {
      const dir = tempDir();
      const fjord = fjordFor({ dir });
      const producer = fjord.producer();
      await producer.connect();
      const messages = expected(0).map((r) => ({ key: r.key, value: r.value, headers: r.headers as Message['headers'], timestamp: String(r.timestamp) }));
      for (const codec of CODECS) await producer.send({ topic: codec, compression: TYPES[codec], messages });
      await producer.disconnect();
      await fjord.close();
      for (const codec of CODECS) {
        const out = await dumpLogSegments([join(dir, `${codec}-0`, '00000000000000000000.log')]);
        const batches = out.split('\n').filter((line) => line.startsWith('baseOffset:'));
        expect(batches.length).toBeGreaterThan(1);
        for (const batch of batches) expect(batch).toContain(`compresscodec: ${codec}`);
        const records = out.split('\n').filter((line) => line.startsWith('| offset:'));
        expect(records.map((line) => Number(/^\| offset: (\d+) /.exec(line)![1]))).toEqual(Array.from({ length: COUNT }, (_, i) => i));
        expect(records[1]).toContain(`key: key-1 payload: value 1 value 1`);
      }
    },
    JAVA_TIMEOUT,
  );
});
