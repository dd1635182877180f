// The seam between Fjord and its clients: clients attach while connected and
// detach on disconnect; one clock and one logger reach every part.
import { describe, expect, it } from 'vitest';

import { type LogEntry, type PartitionAssigner, PartitionAssigners } from '../src/index.js';
import { fjordFor } from './fjord-kit.js';

const FAKE_NOW = 1_600_000_000_000;

describe('client context', () => {
  it('close() disconnects the clients still connected, and only those', async () => {
    const fjord = fjordFor();
    const events: string[] = [];
    const early = fjord.producer();
    const late = fjord.producer();
    const consumer = fjord.consumer({ groupId: 'g' });
    early.on(early.events.DISCONNECT, () => events.push('early producer'));
    late.on(late.events.DISCONNECT, () => events.push('late producer'));
    consumer.on(consumer.events.DISCONNECT, () => events.push('consumer'));
    await early.connect();
    await late.connect();
    await consumer.connect();
    await early.disconnect();
    await consumer.disconnect();
    expect(events).toEqual(['early producer', 'consumer']);
    await fjord.close();
    // Before: close() disconnected every client ever made, so the early producer and the consumer reported a second disconnect.
    expect(events).toEqual(['early producer', 'consumer', 'late producer']);
  });

  it('a client that connects again after a disconnect is disconnected by close() again', async () => {
    const fjord = fjordFor();
    const producer = fjord.producer();
    let disconnects = 0;
    producer.on(producer.events.DISCONNECT, () => disconnects++);
    await producer.connect();
    await producer.disconnect();
    await producer.connect();
    await fjord.close();
    expect(disconnects).toBe(2);
    await expect(producer.send({ topic: 't', messages: [{ value: 'x' }] })).rejects.toThrow('producer is not connected');
  });

  it('topic creation times, record timestamps and commit timestamps come from the configured clock', async () => {
    const fjord = fjordFor({ clock: () => FAKE_NOW });
    const admin = fjord.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'clocked', numPartitions: 1 }] });
    const producer = fjord.producer();
    await producer.connect();
    await producer.send({ topic: 'clocked', messages: [{ value: 'a' }] });
    const consumer = fjord.consumer({ groupId: 'clocked-group', autoOffsetReset: 'earliest' });
    await consumer.connect();
    await consumer.assign([{ topic: 'clocked', partitions: [0] }]);
    const [record] = await consumer.poll({ maxRecords: 1, timeoutMs: 1000 });
    await consumer.commitOffsets([{ topic: 'clocked', partition: 0, offset: '1' }]);

    expect((await fjord.topics()).get('clocked').createdAt).toBe(FAKE_NOW);
    expect(record!.timestamp).toBe(String(FAKE_NOW));
    const committed = await (await fjord.groupClient()).committed('clocked-group', 'clocked', 0);
    expect(committed).toEqual({ offset: 1, metadata: null, commitTimestamp: FAKE_NOW, leaderEpoch: -1 });
  });

  it("assigners are built with the group id and the consumer's logger, so their warnings reach the logCreator", async () => {
    const entries: LogEntry[] = [];
    const fjord = fjordFor({ logCreator: () => (entry) => void entries.push(entry) });
    let seen: { groupId?: string } | undefined;
    const warningAssigner: PartitionAssigner = (config) => {
      seen = config;
      const inner = PartitionAssigners.roundRobin(config);
      return {
        ...inner,
        async assign(group) {
          config.logger?.warn('warning from an assigner', { groupId: config.groupId });
          return inner.assign(group);
        },
      };
    };
    const admin = fjord.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'assigned', numPartitions: 2 }] });
    const consumer = fjord.consumer({ groupId: 'assigner-group', partitionAssigners: [warningAssigner] });
    await consumer.connect();
    await consumer.subscribe({ topic: 'assigned' });
    await consumer.run({ eachMessage: async () => {} });
    await consumer.disconnect();

    expect(seen?.groupId).toBe('assigner-group');
    const warning = entries.find((e) => e.log.message === 'warning from an assigner');
    expect(warning).toMatchObject({ namespace: 'Assigner', label: 'WARN', log: { groupId: 'assigner-group' } });
  });
});
