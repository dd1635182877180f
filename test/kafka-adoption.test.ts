// Opening a stopped Kafka 4.4 broker's log directory (test/fixtures/kafka-4.4-logdir,
// written by a real broker): its topics are adopted, their records read back
// exactly as Kafka's own consumer read them under read_committed and
// read_uncommitted, and Kafka's files stay byte for byte as they were.
// The snappy, lz4 and zstd topics are checked in kafka-adoption-codecs.test.ts.
import { existsSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { Fjord } from '../src/index.js';
import { track } from './fjord-kit.js';
import { asManifestRecord, changedKafkaFiles, copyOfKafkaLogDir, kafkaRead, manifest, pollAll, sortRecords, uuidOf } from './kafka-fixture.js';

const TOPICS = ['k-gzip', 'k-logappend', 'k-none', 'k-txn'];
const ALL_USER_TOPICS = manifest.topics.map((t) => t.name).sort();

describe('a Kafka broker log directory opened by Fjord', () => {
  it('adopts its topics: names, partition counts and topic ids from partition.metadata, recorded in fjord-topics.msgpack', async () => {
    const dir = copyOfKafkaLogDir();
    expect(existsSync(join(dir, 'fjord-topics.msgpack'))).toBe(false);
    const fjord = track(await Fjord.open({ dir }));
    const admin = fjord.admin();
    await admin.connect();
    // As KafkaJS lists the broker's topics: Kafka's internal ones too.
    expect((await admin.listTopics()).sort()).toEqual(manifest.metadataTopics);
    expect(manifest.metadataTopics).toEqual(['__consumer_offsets', '__transaction_state', ...ALL_USER_TOPICS]);
    const registry = await fjord.topics();
    for (const t of manifest.topics) {
      const topic = registry.get(t.name);
      expect({ name: topic.name, id: topic.id, partitions: topic.numPartitions, origin: topic.origin }).toEqual({
        name: t.name,
        id: uuidOf(t.topicId),
        partitions: t.partitions,
        origin: 'kafka',
      });
    }
    // Kafka's internal topics are Kafka's: not Fjord topics.
    expect(registry.has('__transaction_state')).toBe(false);
    expect(registry.has('__consumer_offsets')).toBe(false);
    await admin.disconnect();
    await fjord.close();

    // A second open finds the adopted topics in Fjord's own metadata, with the same ids.
    const again = track(await Fjord.open({ dir }));
    const reopened = await again.topics();
    expect(reopened.list().map((t) => [t.name, t.id, t.numPartitions, t.origin])).toEqual(
      manifest.topics.map((t) => [t.name, uuidOf(t.topicId), t.partitions, 'kafka']),
    );
    await again.close();
  });

  it('deletes nothing by retention until told: adopted topics get retention.ms=-1 (their Kafka configs are not in the log directory)', async () => {
    const dir = copyOfKafkaLogDir();
    // A year after the records were written: Fjord's default retention.ms (7 days) would delete every sealed segment.
    const fjord = track(await Fjord.open({ dir, clock: () => manifest.produced[0]!.timestamp + 365 * 86_400_000 }));
    expect((await fjord.topics()).get('k-none').configs).toEqual({ 'retention.ms': '-1' });
    expect(await fjord.runRetention()).toEqual([]);
    await fjord.close();
    expect(changedKafkaFiles(dir)).toEqual([]);
  });

  it('leaves a topic whose partition directories are not 0 to n-1 as it is, and reports it', async () => {
    const dir = copyOfKafkaLogDir();
    renameSync(join(dir, 'k-gzip-1'), join(dir, 'k-gzip-3'));
    const before = readdirSync(join(dir, 'k-gzip-3')).sort();
    const warnings: string[] = [];
    const logCreator = () => (entry: { namespace: string; label: string; log: { message: string } }) => {
      if (entry.label === 'WARN') warnings.push(`[${entry.namespace}] ${entry.log.message}`);
    };
    const fjord = track(await Fjord.open({ dir, logCreator }));
    const registry = await fjord.topics();
    expect(registry.has('k-gzip')).toBe(false);
    expect(registry.list().length).toBe(ALL_USER_TOPICS.length - 1);
    expect(warnings).toEqual([
      '[KafkaAdoption] Kafka partition directory k-gzip-0 left as it is: topic k-gzip is not adopted: partitions 0, 3 are not 0 to 1',
      '[KafkaAdoption] Kafka partition directory k-gzip-3 left as it is: topic k-gzip is not adopted: partitions 0, 3 are not 0 to 1',
    ]);
    await fjord.close();
    expect(readdirSync(join(dir, 'k-gzip-3')).sort()).toEqual(before);
  });

  it('reads every record as Kafka read_uncommitted did: aborted and open transactions included, markers never', async () => {
    const fjord = track(await Fjord.open({ dir: copyOfKafkaLogDir() }));
    const read = await pollAll(fjord, TOPICS, true);
    const expected = kafkaRead('read_uncommitted', TOPICS);
    expect(read.length).toBe(expected.length);
    expect(read).toEqual(expected);
    // The judge holds aborted records and the open transaction's records: this is not the committed view.
    const aborted = manifest.produced.filter((r) => r.transaction === 'aborted' || r.transaction === 'open');
    expect(aborted.length).toBe(36);
    expect(read.filter((r) => aborted.some((a) => a.topic === r.topic && a.partition === r.partition && a.offset === r.offset)).length).toBe(36);
  });

  it('reads every record as Kafka read_committed did (the default): no aborted record, nothing at or past the last stable offset', async () => {
    const fjord = track(await Fjord.open({ dir: copyOfKafkaLogDir() }));
    const read = await pollAll(fjord, TOPICS, false);
    const expected = kafkaRead('read_committed', TOPICS);
    expect(read.length).toBe(expected.length);
    expect(read).toEqual(expected);
    const { topic, partition, firstOffset } = manifest.openTransaction;
    expect(Math.max(...read.filter((r) => r.topic === topic && r.partition === partition).map((r) => r.offset))).toBeLessThan(firstOffset);
    const lso = (await fjord.topics()).get(topic).partition(partition).transactions!.lastStableOffset;
    const kafkaEnd = manifest.consumed.read_committed.endOffsets.find((e) => e.topic === topic && e.partition === partition)!.endOffset;
    expect(lso).toBe(kafkaEnd);
    expect(lso).toBe(firstOffset);
    // Without an open transaction the last stable offset is the log end, as Kafka's end offsets under both isolation levels.
    const ends = (isolation: 'read_committed' | 'read_uncommitted') =>
      manifest.consumed[isolation].endOffsets.filter((e) => e.topic === 'k-txn' && e.partition !== partition).map((e) => e.endOffset);
    const txn = (await fjord.topics()).get('k-txn');
    const stable = txn.partitions.filter((p) => p.id !== partition).map((p) => p.transactions!.lastStableOffset);
    expect(stable).toEqual(ends('read_committed'));
    expect(stable).toEqual(ends('read_uncommitted'));
    expect(stable).toEqual(txn.partitions.filter((p) => p.id !== partition).map((p) => p.log.logEndOffset));
  });

  for (const isolation of ['read_committed', 'read_uncommitted'] as const) {
    it(`hands run() consumers the records Kafka ${isolation} did, with KafkaJS message fields`, async () => {
      const fjord = track(await Fjord.open({ dir: copyOfKafkaLogDir() }));
      const consumer = fjord.consumer({ groupId: 'fixture-run', autoOffsetReset: 'earliest', readUncommitted: isolation === 'read_uncommitted' });
      await consumer.connect();
      await consumer.subscribe({ topics: ['k-txn', 'k-logappend'] });
      const expected = kafkaRead(isolation, ['k-txn', 'k-logappend']);
      const seen: ReturnType<typeof asManifestRecord>[] = [];
      let done!: () => void;
      const all = new Promise<void>((resolve) => (done = resolve));
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ topic, partition, message }) => {
          seen.push(
            asManifestRecord(topic, partition, {
              offset: Number(message.offset),
              timestamp: Number(message.timestamp),
              key: message.key,
              value: message.value,
              headers: message.headers,
            }),
          );
          if (seen.length === expected.length) done();
        },
      });
      await all;
      await consumer.disconnect();
      expect(sortRecords(seen)).toEqual(expected);
    });
  }

  it('appends after the broker’s records; read_committed sees them up to the last stable offset, which a transaction left open holds back', async () => {
    const fjord = track(await Fjord.open({ dir: copyOfKafkaLogDir() }));
    const producer = fjord.producer();
    await producer.connect();
    await producer.send({
      topic: 'k-txn',
      messages: [
        { partition: 0, key: 'after-0', value: 'fjord 0' },
        { partition: 2, key: 'after-2', value: 'fjord 2' },
      ],
    });
    await producer.disconnect();
    const appended = async (readUncommitted: boolean) =>
      (await pollAll(fjord, ['k-txn'], readUncommitted)).filter((r) => r.key !== null && Buffer.from(r.key, 'base64').toString().startsWith('after-'));
    const end = (partition: number) => manifest.consumed.read_uncommitted.endOffsets.find((e) => e.topic === 'k-txn' && e.partition === partition)!.endOffset;
    expect((await appended(true)).map((r) => [r.partition, r.offset])).toEqual([
      [0, end(0)],
      [2, end(2)],
    ]);
    // Partition 2's open transaction (no marker: the broker stopped first) keeps its last stable offset where it began, as in Kafka.
    expect((await appended(false)).map((r) => [r.partition, r.offset])).toEqual([[0, end(0)]]);
    expect((await fjord.topics()).get('k-txn').partition(2).transactions!.lastStableOffset).toBe(manifest.openTransaction.firstOffset);
  });

  it('keeps every file Kafka wrote byte for byte through open, reads under both isolation levels, and close', async () => {
    const dir = copyOfKafkaLogDir();
    const fjord = track(await Fjord.open({ dir }));
    await pollAll(fjord, TOPICS, true);
    await pollAll(fjord, TOPICS, false);
    await fjord.close();
    expect(changedKafkaFiles(dir)).toEqual([]);
    // Kafka's root checkpoints and clean-shutdown marker are read, never written.
    expect(readFileSync(join(dir, '.kafka_cleanshutdown'), 'utf8')).toMatch(/^\{"version":0,"brokerEpoch":\d+\}$/);
  });
});

describe("a Kafka broker's consumer group, adopted", () => {
  const { groupId, committed } = manifest.group;

  it("fetchOffsets returns the offsets and metadata Kafka's admin read for the group", async () => {
    const dir = copyOfKafkaLogDir();
    const fjord = track(await Fjord.open({ dir }));
    const admin = fjord.admin();
    await admin.connect();
    const topics = [...new Set(committed.map((c) => c.topic))].sort();
    const fetched = await admin.fetchOffsets({ groupId, topics });
    const seen = fetched
      .flatMap(({ topic, partitions }) => partitions.map((p) => ({ topic, partition: p.partition, offset: p.offset, metadata: p.metadata })))
      .filter((p) => p.offset !== '-1')
      .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
    // Kafka stores no metadata as "", which KafkaJS reports as null.
    expect(seen).toEqual(
      committed.map((c) => ({ topic: c.topic, partition: c.partition, offset: String(c.offset), metadata: c.metadata === '' ? null : c.metadata })),
    );
    await admin.disconnect();
    await fjord.close();
    expect(changedKafkaFiles(dir)).toEqual([]);
  });

  it("a member of the group resumes at Kafka's committed offsets", async () => {
    const dir = copyOfKafkaLogDir();
    const fjord = track(await Fjord.open({ dir }));
    const consumer = fjord.consumer({ groupId });
    await consumer.connect();
    await consumer.subscribe({ topics: ['k-none'] });
    const expected = committed.filter((c) => c.topic === 'k-none');
    const first = new Map<number, string>();
    let done!: () => void;
    const all = new Promise<void>((resolve) => (done = resolve));
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        if (!first.has(partition)) first.set(partition, message.offset);
        if (first.size === expected.length) done();
      },
    });
    await all;
    await consumer.disconnect();
    expect([...first.entries()].sort((a, b) => a[0] - b[0])).toEqual(expected.map((c) => [c.partition, String(c.offset)]));
    await fjord.close();
    expect(changedKafkaFiles(dir)).toEqual([]);
  });
});
