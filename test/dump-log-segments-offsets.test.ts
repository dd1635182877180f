// Kafka's own reader of `__consumer_offsets` (DumpLogSegments
// --offsets-decoder, Kafka 4.4's kafka-tools) decodes the records Fjord
// writes into exactly the groups, topics, partitions and offsets Fjord
// committed.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { Fjord } from '../src/fjord.js';
import { offsetsPartitionFor } from '../src/groups/offsets-partitioner.js';
import { tempDir } from './helpers.js';
import { runKafkaTool } from './kafka-tools.js';

interface Decoded {
  partitionDir: string;
  key: { type: string; data: { group: string; topic?: string; partition?: number } };
  payload: { version: string; data: { offset: number; leaderEpoch: number; metadata: string; commitTimestamp: number } } | null;
}

/** Every record DumpLogSegments prints for the segments of Fjord's offsets partitions, in partition then offset order. */
async function dumpOffsets(dir: string): Promise<Decoded[]> {
  const files = readdirSync(dir)
    .filter((name) => name.startsWith('__consumer_offsets-'))
    .sort()
    .flatMap((partitionDir) =>
      readdirSync(join(dir, partitionDir))
        .filter((f) => f.endsWith('.log'))
        .sort()
        .map((f) => join(dir, partitionDir, f)),
    );
  const out = await runKafkaTool('org.apache.kafka.tools.DumpLogSegments', ['--offsets-decoder', '--files', files.join(',')]);
  const records: Decoded[] = [];
  let partitionDir = '';
  for (const line of out.split('\n')) {
    const dumping = /^Dumping .*\/(__consumer_offsets-\d+)\/\d+\.log$/.exec(line);
    if (dumping !== null) partitionDir = dumping[1]!;
    const record = /\bkey: (\{.*\}) payload: (.*)$/.exec(line);
    if (record === null) continue;
    records.push({ partitionDir, key: JSON.parse(record[1]!), payload: record[2] === '<DELETE>' ? null : JSON.parse(record[2]!) });
  }
  return records;
}

describe("DumpLogSegments --offsets-decoder on Fjord's __consumer_offsets", () => {
  it('prints exactly the groups, topics, partitions and offsets Fjord committed', async () => {
    const dir = tempDir();
    const fjord = new Fjord({ dir, logLevel: 0 });
    const admin = fjord.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        { topic: 'orders', numPartitions: 3 },
        { topic: 'events', numPartitions: 2 },
        { topic: 'audit', numPartitions: 1 },
      ],
    });
    const producer = fjord.producer();
    await producer.connect();
    for (const [topic, partitions] of [
      ['orders', 3],
      ['events', 2],
    ] as const) {
      for (let p = 0; p < partitions; p++) {
        await producer.send({ topic, messages: Array.from({ length: 5 + p }, (_, i) => ({ partition: p, value: `${topic}-${i}` })) });
      }
    }
    // billing: a consumer reads everything of orders and events and commits.
    const consumer = fjord.consumer({ groupId: 'billing' });
    await consumer.connect();
    await consumer.subscribe({ topics: ['orders', 'events'], fromBeginning: true });
    let seen = 0;
    const all = new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async () => {
          if (++seen === 5 + 6 + 7 + 5 + 6) resolve();
        },
      });
    });
    await all;
    await consumer.disconnect();
    // audit-reader: offsets set by the admin on two topics, one of them set twice.
    await admin.setOffsets({ groupId: 'audit-reader', topic: 'audit', partitions: [{ partition: 0, offset: '3' }] });
    await admin.setOffsets({ groupId: 'audit-reader', topic: 'orders', partitions: [{ partition: 2, offset: '1' }] });
    await admin.setOffsets({ groupId: 'audit-reader', topic: 'orders', partitions: [{ partition: 2, offset: '4' }] });
    // A group committed and deleted: Kafka's tool shows its tombstones.
    await admin.setOffsets({ groupId: 'gone', topic: 'audit', partitions: [{ partition: 0, offset: '1' }] });
    await admin.deleteGroups(['gone']);
    await producer.disconnect();
    await admin.disconnect();
    await fjord.close();

    const records = await dumpOffsets(dir);
    // Each group's records are in the partition Kafka's rule gives it (50 partitions).
    for (const r of records) expect(r.partitionDir, r.key.data.group).toBe(`__consumer_offsets-${offsetsPartitionFor(r.key.data.group, 50)}`);
    expect(records.every((r) => r.payload === null || (r.key.type === '1' && r.payload.version === '3'))).toBe(true);
    // Last record per key wins, as Kafka's loader applies them.
    const state = new Map<string, number | null>();
    for (const r of records) {
      const k = r.key.type === '1' ? `${r.key.data.group} ${r.key.data.topic}-${r.key.data.partition}` : `${r.key.data.group} (group metadata)`;
      state.set(k, r.payload === null ? null : r.payload.data.offset);
    }
    const live = [...state].filter(([, offset]) => offset !== null).sort(([a], [b]) => (a < b ? -1 : 1));
    expect(live).toEqual([
      ['audit-reader audit-0', 3],
      ['audit-reader orders-2', 4],
      ['billing events-0', 5],
      ['billing events-1', 6],
      ['billing orders-0', 5],
      ['billing orders-1', 6],
      ['billing orders-2', 7],
    ]);
    expect([...state].filter(([, offset]) => offset === null)).toEqual([
      ['gone audit-0', null],
      ['gone (group metadata)', null],
    ]);
    const audit = records.find((r) => r.key.data.group === 'audit-reader' && r.key.data.topic === 'audit')!;
    expect(audit.payload!.data).toMatchObject({ offset: 3, leaderEpoch: -1, metadata: '' });
  }, 60_000);
});
