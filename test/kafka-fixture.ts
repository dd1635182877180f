// The log directory a real Kafka 4.4 broker wrote (test/fixtures/kafka-4.4-logdir,
// made by scripts/kafka-fixture/make-fixture.sh) and its manifest: what was
// produced, and what Kafka's own consumer read back under each isolation level.
import { createHash } from 'node:crypto';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { DecodedRecord, Fjord } from '../src/index.js';
import { tempDir } from './helpers.js';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'kafka-4.4-logdir');

/** A record as the manifest writes it: base64 key and value, headers as [name, base64 | null] in order. */
export interface ManifestRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
  headers: [string, string | null][];
  timestamp: number;
}

export interface Manifest {
  topics: { name: string; topicId: string; partitions: number }[];
  metadataTopics: string[];
  openTransaction: { topic: string; partition: number; firstOffset: number };
  produced: (ManifestRecord & { transaction: 'committed' | 'aborted' | 'open' | null })[];
  group: { groupId: string; committed: { topic: string; partition: number; offset: number; metadata: string }[] };
  consumed: Record<
    'read_committed' | 'read_uncommitted',
    { records: (ManifestRecord & { timestampType: string })[]; endOffsets: { topic: string; partition: number; endOffset: number }[] }
  >;
}

export const manifest: Manifest = JSON.parse(readFileSync(join(FIXTURE, 'manifest.json'), 'utf8'));

/** A copy of the broker's log directory in a temp dir, removed after the test. */
export function copyOfKafkaLogDir(): string {
  const dir = join(tempDir('fjord-kafka-'), 'logdir');
  cpSync(join(FIXTURE, 'logdir'), dir, { recursive: true });
  return dir;
}

/** sha256 of every file the broker wrote, by path relative to the log directory (`./k-txn-0/...`). */
export const kafkaFileHashes: Map<string, string> = new Map(
  readFileSync(join(FIXTURE, 'sha256sums.txt'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [hash, path] = line.split(/\s+/) as [string, string];
      return [path, hash];
    }),
);

/** The files of `kafkaFileHashes` whose content in `dir` differs (or that are gone), with what they hold now. */
export function changedKafkaFiles(dir: string): string[] {
  const changed: string[] = [];
  for (const [path, hash] of kafkaFileHashes) {
    let now: string;
    try {
      now = createHash('sha256')
        .update(readFileSync(join(dir, path)))
        .digest('hex');
    } catch {
      now = 'missing';
    }
    if (now !== hash) changed.push(`${path}: ${now}`);
  }
  return changed;
}

/** Kafka's topic id (base64url, as Java's Uuid.toString) as the UUID string Fjord uses. */
export function uuidOf(kafkaTopicId: string): string {
  const hex = Buffer.from(kafkaTopicId, 'base64url').toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const b64 = (bytes: Buffer | null) => (bytes === null ? null : bytes.toString('base64'));

/** A decoded record (of `topic`/`partition`) in the manifest's form. */
export function asManifestRecord(topic: string, partition: number, record: DecodedRecord): ManifestRecord {
  const headers: [string, string | null][] = [];
  for (const [name, value] of Object.entries(record.headers)) {
    for (const v of Array.isArray(value) ? value : [value]) headers.push([name, b64(v)]);
  }
  return { topic, partition, offset: record.offset, key: b64(record.key), value: b64(record.value), headers, timestamp: record.timestamp };
}

/** What Kafka's consumer read of `topics` under `isolation`, in the manifest's form (partition order, then offset order). */
export function kafkaRead(isolation: 'read_committed' | 'read_uncommitted', topics: readonly string[]): ManifestRecord[] {
  return sortRecords(
    manifest.consumed[isolation].records
      .filter((r) => topics.includes(r.topic))
      .map(({ topic, partition, offset, key, value, headers, timestamp }) => ({ topic, partition, offset, key, value, headers, timestamp })),
  );
}

export function sortRecords(records: ManifestRecord[]): ManifestRecord[] {
  return records.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition || a.offset - b.offset));
}

/** Every partition of `topics` read from its start with assign/poll until a poll returns nothing; records in the manifest's form. */
export async function pollAll(fjord: Fjord, topics: readonly string[], readUncommitted: boolean): Promise<ManifestRecord[]> {
  const consumer = fjord.consumer({ groupId: 'fixture-reader', readUncommitted, autoOffsetReset: 'earliest' });
  await consumer.connect();
  const registry = await fjord.topics();
  consumer.assign(topics.map((topic) => ({ topic, partitions: registry.get(topic).partitions.map((p) => p.id) })));
  const records: ManifestRecord[] = [];
  for (;;) {
    const polled = await consumer.poll({ maxRecords: 10_000, timeoutMs: 0 });
    if (polled.length === 0) break;
    for (const r of polled) {
      const record = { offset: Number(r.offset), timestamp: Number(r.timestamp), key: r.key, value: r.value, headers: r.headers };
      records.push(asManifestRecord(r.topic, r.partition, record));
    }
  }
  await consumer.disconnect();
  return sortRecords(records);
}
