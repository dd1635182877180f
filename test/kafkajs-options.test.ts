// KafkaJS's options and methods read as KafkaJS reads them. Where no broker
// is needed (event names, the error for an unknown one), the answer comes
// from KafkaJS itself (the kafkajs devDependency); elsewhere from its code
// (node_modules/kafkajs/src: boolean options by truthiness, a second run()
// a warning, fetchOffsets' resolveOffsets).
import { Kafka, logLevel as kafkaLogLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';

import { Fjord, InvalidArgumentError, type Consumer } from '../src/index.js';
import { track } from './fjord-kit.js';
import { tempDir } from './helpers.js';

type Entry = { label: string; namespace: string; log: { message: string; groupId?: string } };

function fjordWithLog(entries: Entry[] = []): Fjord {
  return track(new Fjord({ dir: tempDir(), logCreator: () => (entry) => void entries.push(entry as unknown as Entry) }));
}

/** A KafkaJS client that never connects: its clients are built, checked and dropped. */
const kafkajs = new Kafka({ brokers: ['127.0.0.1:1'], logLevel: kafkaLogLevel.NOTHING });

async function seeded(fjord: Fjord, topic: string, values: string[]): Promise<void> {
  const admin = fjord.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  await admin.disconnect();
  const producer = fjord.producer();
  await producer.connect();
  await producer.send({ topic, messages: values.map((value) => ({ value })) });
  await producer.disconnect();
}

async function until(what: string, condition: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('instrumentation events as KafkaJS names them', () => {
  it('consumer, producer and admin have the events KafkaJS has, and on() refuses another name with KafkaJS message', async () => {
    const fjord = fjordWithLog();
    const ours = { consumer: fjord.consumer({ groupId: 'g' }), producer: fjord.producer(), admin: fjord.admin() };
    const theirs = { consumer: kafkajs.consumer({ groupId: 'g' }), producer: kafkajs.producer(), admin: kafkajs.admin() };
    for (const client of ['consumer', 'producer', 'admin'] as const) {
      expect(Object.entries(ours[client].events)).toEqual(Object.entries(theirs[client].events));
      let kafkajsError: Error | undefined;
      try {
        (theirs[client].on as (name: string, listener: () => void) => unknown)('typo', () => undefined);
      } catch (error) {
        kafkajsError = error as Error;
      }
      expect(kafkajsError?.name).toBe('KafkaJSNonRetriableError');
      expect(() => ours[client].on('typo', () => undefined)).toThrow(new InvalidArgumentError(kafkajsError!.message));
      // Every name KafkaJS accepts is accepted (the network ones are never emitted: Fjord has no network).
      for (const name of Object.values(theirs[client].events)) ours[client].on(name, () => undefined)();
    }
  });
});

describe('KafkaJS boolean options by truthiness', () => {
  for (const [fromBeginning, expected] of [
    ['true', ['a', 'b', 'c']],
    [1, ['a', 'b', 'c']],
    ['false', ['a', 'b', 'c']],
    [0, ['c']],
    ['', ['c']],
    [null, ['c']],
  ] as const) {
    it(`subscribe fromBeginning ${JSON.stringify(fromBeginning)} starts ${expected.length === 3 ? 'at the log start' : 'at the log end'}`, async () => {
      const fjord = fjordWithLog();
      await seeded(fjord, 'topic', ['a', 'b']);
      const consumer = fjord.consumer({ groupId: 'g' });
      await consumer.connect();
      await consumer.subscribe({ topic: 'topic', fromBeginning: fromBeginning as unknown as boolean });
      const seen: string[] = [];
      await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
      const producer = fjord.producer();
      await producer.connect();
      await producer.send({ topic: 'topic', messages: [{ value: 'c' }] });
      await until('the last record', () => seen.includes('c'));
      expect(seen).toEqual(expected);
    });
  }

  it('run: autoCommit "yes" commits and autoCommit 0 does not; eachBatchAutoResolve 0 leaves the batch unresolved', async () => {
    const fjord = fjordWithLog();
    await seeded(fjord, 'topic', ['a', 'b', 'c']);
    const admin = fjord.admin();
    await admin.connect();
    const committed = async (groupId: string) => (await admin.fetchOffsets({ groupId, topics: ['topic'] }))[0]!.partitions[0]!.offset;
    const consume = async (groupId: string, config: Record<string, unknown>, eachBatch = false): Promise<Consumer> => {
      const consumer = fjord.consumer({ groupId });
      await consumer.connect();
      await consumer.subscribe({ topic: 'topic', fromBeginning: true });
      let seen = 0;
      await consumer.run({
        ...config,
        ...(eachBatch
          ? { eachBatch: async ({ batch }: { batch: { messages: unknown[] } }) => void (seen += batch.messages.length) }
          : { eachMessage: async () => void seen++ }),
      } as never);
      await until(`${groupId} read the records`, () => seen >= 3);
      await consumer.stop();
      return consumer;
    };
    await consume('yes', { autoCommit: 'yes' });
    expect(await committed('yes')).toBe('3');
    await consume('zero', { autoCommit: 0 });
    expect(await committed('zero')).toBe('-1');
    await consume('unresolved', { eachBatchAutoResolve: 0 }, true);
    expect(await committed('unresolved')).toBe('-1');
  });
});

describe('KafkaJS methods', () => {
  it('a second run() is a warning with KafkaJS message, and the consumer goes on', async () => {
    const entries: Entry[] = [];
    const fjord = fjordWithLog(entries);
    await seeded(fjord, 'topic', ['a']);
    const consumer = fjord.consumer({ groupId: 'twice' });
    await consumer.connect();
    await consumer.subscribe({ topic: 'topic', fromBeginning: true });
    const seen: string[] = [];
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
    await expect(consumer.run({ eachMessage: async () => undefined })).resolves.toBeUndefined();
    expect(entries.filter((e) => e.label === 'WARN').map((e) => [e.namespace, e.log.message, e.log.groupId])).toEqual([
      ['Consumer', 'consumer#run was called, but the consumer is already running', 'twice'],
    ]);
    await until('the record', () => seen.length === 1);
    expect(seen).toEqual(['a']);
  });

  it('poll() hands out the message shape run() does: offsets and timestamps as decimal strings', async () => {
    const fjord = fjordWithLog();
    await seeded(fjord, 'topic', ['a', 'b']);
    const consumer = fjord.consumer({ groupId: 'pull', autoOffsetReset: 'earliest' });
    await consumer.connect();
    consumer.assign([{ topic: 'topic', partitions: [0] }]);
    const polled = await consumer.poll({ maxRecords: 10 });
    expect(polled.map((r) => [r.topic, r.partition, r.offset, typeof r.timestamp, r.value!.toString()])).toEqual([
      ['topic', 0, '0', 'string', 'a'],
      ['topic', 0, '1', 'string', 'b'],
    ]);
    // What run() gives for the same records.
    const member = fjord.consumer({ groupId: 'run' });
    await member.connect();
    await member.subscribe({ topic: 'topic', fromBeginning: true });
    const ran: unknown[] = [];
    await member.run({ eachMessage: async ({ message }) => void ran.push(message) });
    await until('two messages', () => ran.length === 2);
    expect(polled.map(({ topic, partition, ...message }) => ({ ...message }))).toEqual(ran.map((m) => ({ ...(m as object) })));
  });

  it('fetchOffsets with resolveOffsets: a partition without a committed offset is set to the log end and committed, as KafkaJS does', async () => {
    const fjord = fjordWithLog();
    await seeded(fjord, 'topic', ['a', 'b']);
    const admin = fjord.admin();
    await admin.connect();
    expect(await admin.fetchOffsets({ groupId: 'new', topics: ['topic'] })).toEqual([
      { topic: 'topic', partitions: [{ partition: 0, offset: '-1', metadata: null, lag: '2' }] },
    ]);
    expect(await admin.fetchOffsets({ groupId: 'new', topics: ['topic'], resolveOffsets: true })).toEqual([
      { topic: 'topic', partitions: [{ partition: 0, offset: '2', metadata: null, lag: '0' }] },
    ]);
    expect(await admin.fetchOffsets({ groupId: 'new', topics: ['topic'] })).toEqual([
      { topic: 'topic', partitions: [{ partition: 0, offset: '2', metadata: null, lag: '0' }] },
    ]);
  });
});
