// The consumer and consumer-group examples of KafkaJS's documentation
// (docs/Consuming.md, docs/ConsumerExample.md, docs/InstrumentationEvents.md
// and the group part of docs/Admin.md), run as written there except for the
// constructor: `new Fjord({ dir })` stands where `new Kafka({ clientId,
// brokers })` stood. TypeScript needs `message.key!` where the JavaScript
// examples call `message.key.toString()`; handlers also record what they saw
// so that the results can be asserted whole.
import { describe, expect, it } from 'vitest';

import { AssignerProtocol, Fjord, InvalidArgumentError, NonEmptyGroupError, UnknownMemberIdError, type KafkaMessage } from '../src/index.js';
import { tempDir } from './helpers.js';
import { logOf, track } from './fjord-kit.js';

const T0 = 1_700_000_000_000;
const SEGMENT_BYTES = 1_048_576;

type Event = { id: number; type: string; timestamp: number; payload: any };

function newKafka(): Fjord {
  const dir = tempDir();
  // was: const kafka = new Kafka({ clientId: 'my-app', brokers: ['kafka1:9092', 'kafka2:9092'] })
  const kafka = new Fjord({ dir });
  return track(kafka);
}

/** Waits (polling every 5 ms) until `condition` holds; fails naming `what` after `ms`. */
async function until(what: string, condition: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function createTopic(kafka: Fjord, topic: string, numPartitions = 1): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions, configEntries: [{ name: 'segment.bytes', value: String(SEGMENT_BYTES) }] }] });
  await admin.disconnect();
}

async function produce(
  kafka: Fjord,
  topic: string,
  messages: { key?: string; value: string; partition?: number; timestamp?: string; headers?: Record<string, string> }[],
): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages });
  await producer.disconnect();
}

/** Records every instrumentation event of a consumer, in order. */
function recordEvents(consumer: { events: Record<string, string>; on(event: string, listener: (event: unknown) => void): () => void }): Event[] {
  const events: Event[] = [];
  for (const type of Object.values(consumer.events)) consumer.on(type, (event) => events.push(event as Event));
  return events;
}

const ofType = (events: Event[], type: string) => events.filter((e) => e.type === type);

describe('KafkaJS consumer examples (docs/Consuming.md)', () => {
  it('subscribe once per topic (fromBeginning only for topic-D): eachMessage gets what is produced afterwards, and topic-D from its start', async () => {
    const kafka = newKafka();
    await produce(kafka, 'topic-A', [{ key: 'early', value: 'before the subscription' }]);
    await produce(kafka, 'topic-D', [{ key: 'early', value: 'D from the beginning' }]);

    const consumer = kafka.consumer({ groupId: 'my-group' });
    const logged: { topic: string; key: string; value: string; headers: unknown }[] = [];

    await consumer.connect();

    await consumer.subscribe({ topic: 'topic-A' });

    // Subscribe can be called several times
    await consumer.subscribe({ topic: 'topic-B' });
    await consumer.subscribe({ topic: 'topic-C' });

    // It's possible to start from the beginning of the topic
    await consumer.subscribe({ topic: 'topic-D', fromBeginning: true });

    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        logged.push({
          topic,
          key: message.key!.toString(),
          value: message.value!.toString(),
          headers: message.headers,
        });
      },
    });

    const producer = kafka.producer();
    await producer.connect();
    await producer.sendBatch({
      topicMessages: [
        { topic: 'topic-A', messages: [{ key: 'a', value: 'hello A', headers: { trace: 'x-1' } }] },
        { topic: 'topic-B', messages: [{ key: 'b', value: 'hello B' }] },
        { topic: 'topic-C', messages: [{ key: 'c', value: 'hello C' }] },
      ],
    });
    await until('four messages', () => logged.length === 4);
    await consumer.disconnect();

    expect([...logged].sort((x, y) => x.topic.localeCompare(y.topic))).toEqual([
      { topic: 'topic-A', key: 'a', value: 'hello A', headers: { trace: Buffer.from('x-1') } },
      { topic: 'topic-B', key: 'b', value: 'hello B', headers: {} },
      { topic: 'topic-C', key: 'c', value: 'hello C', headers: {} },
      { topic: 'topic-D', key: 'early', value: 'D from the beginning', headers: {} },
    ]);
  });

  it('subscribe with a RegExp: matches the topics that exist at subscription time, not a topic created after it', async () => {
    const kafka = newKafka();
    for (const topic of ['topic-eu-1', 'topic-US-1', 'topic-asia-1']) await createTopic(kafka, topic);
    const consumer = kafka.consumer({ groupId: 'regexp-group' });
    const events = recordEvents(consumer);

    await consumer.connect();
    await consumer.subscribe({ topic: /topic-(eu|us)-.*/i });

    // "The consumer will not match topics created after the subscription."
    await createTopic(kafka, 'topic-eu-2');

    const seen: string[] = [];
    await consumer.run({ eachMessage: async ({ topic }) => void seen.push(topic) });
    await until('GROUP_JOIN', () => ofType(events, consumer.events.GROUP_JOIN).length === 1);

    expect(ofType(events, consumer.events.GROUP_JOIN)[0]!.payload.memberAssignment).toEqual({ 'topic-US-1': [0], 'topic-eu-1': [0] });
    for (const topic of ['topic-eu-2', 'topic-asia-1', 'topic-eu-1', 'topic-US-1']) await produce(kafka, topic, [{ value: topic }]);
    await until('two messages', () => seen.length === 2);
    expect(seen.sort()).toEqual(['topic-US-1', 'topic-eu-1']);
  });

  it('eachMessage: offset and timestamp are strings, key, value and headers Buffers; key and value are views of their fetch', async () => {
    const kafka = newKafka();
    await createTopic(kafka, 'shapes');
    await produce(kafka, 'shapes', [
      { key: 'k0', value: 'v0', timestamp: String(T0), headers: { 'correlation-id': 'c-0' } },
      { key: 'k1', value: 'v1', timestamp: String(T0 + 1) },
    ]);
    const consumer = kafka.consumer({ groupId: 'shapes-group' });
    const got: { topic: string; partition: number; message: KafkaMessage }[] = [];
    await consumer.connect();
    await consumer.subscribe({ topics: ['shapes'], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ topic, partition, message }) => void got.push({ topic, partition, message }) });
    await until('two messages', () => got.length === 2);
    await consumer.disconnect();

    expect(got.map(({ topic, partition, message }) => ({ topic, partition, ...message }))).toEqual([
      {
        topic: 'shapes',
        partition: 0,
        key: Buffer.from('k0'),
        value: Buffer.from('v0'),
        timestamp: String(T0),
        attributes: 0,
        offset: '0',
        headers: { 'correlation-id': Buffer.from('c-0') },
      },
      { topic: 'shapes', partition: 0, key: Buffer.from('k1'), value: Buffer.from('v1'), timestamp: String(T0 + 1), attributes: 0, offset: '1', headers: {} },
    ]);
    const [first, second] = got.map((g) => g.message) as [KafkaMessage, KafkaMessage];
    // The Buffers view their fetch's own ArrayBuffer, which holds exactly the
    // fetched batches (here the whole partition), not the segment.
    expect(first.value!.buffer).toBeInstanceOf(ArrayBuffer);
    expect(first.value!.buffer.byteLength).toBe((await logOf(kafka, 'shapes', 0)).size);
    expect(first.key!.buffer).toBe(first.value!.buffer);
    expect(second.value!.buffer).toBe(first.value!.buffer);
    expect(second.value!.byteOffset).toBeGreaterThan(first.value!.byteOffset);
  });

  it('ConsumerExample.md: the eachMessage log line `${topic}[${partition} | ${message.offset}] / ${message.timestamp} ${message.key}#${message.value}`', async () => {
    const kafka = newKafka();
    const topic = 'topic-test';
    await createTopic(kafka, topic, 2);
    await produce(kafka, topic, [
      { key: 'key-0', value: 'value-0', partition: 0, timestamp: String(T0) },
      { key: 'key-1', value: 'value-1', partition: 1, timestamp: String(T0 + 5) },
      { key: 'key-2', value: 'value-2', partition: 1, timestamp: String(T0 + 9) },
    ]);
    const lines: string[] = [];
    const console = { log: (line: string) => lines.push(line) };

    const consumer = kafka.consumer({ groupId: 'test-group' });

    const run = async () => {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        // eachBatch: async ({ batch }) => {
        //   console.log(batch)
        // },
        eachMessage: async ({ topic, partition, message }) => {
          const prefix = `${topic}[${partition} | ${message.offset}] / ${message.timestamp}`;
          console.log(`- ${prefix} ${message.key}#${message.value}`);
        },
      });
    };

    await run();
    await until('three lines', () => lines.length === 3);
    await consumer.disconnect();
    expect(lines.sort()).toEqual([
      `- topic-test[0 | 0] / ${T0} key-0#value-0`,
      `- topic-test[1 | 0] / ${T0 + 5} key-1#value-1`,
      `- topic-test[1 | 1] / ${T0 + 9} key-2#value-2`,
    ]);
  });

  it('eachBatch: resolveOffset and heartbeat per message; batch fields as KafkaJS; values view their fetch; the resolved offsets are committed', async () => {
    const kafka = newKafka();
    await createTopic(kafka, 'batches');
    await produce(
      kafka,
      'batches',
      [0, 1, 2, 3].map((i) => ({ key: `k${i}`, value: `v${i}`, timestamp: String(T0 + i) })),
    );
    const consumer = kafka.consumer({ groupId: 'batch-group' });
    const console = { log: (entry: unknown) => logged.push(entry) };
    const logged: unknown[] = [];
    const batches: { firstOffset: string | null; lastOffset: string; offsetLag: string; offsetLagLow: string; isEmpty: boolean; buffers: ArrayBufferLike[] }[] =
      [];
    await consumer.connect();
    await consumer.subscribe({ topic: 'batches', fromBeginning: true });

    await consumer.run({
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        batches.push({
          firstOffset: batch.firstOffset(),
          lastOffset: batch.lastOffset(),
          offsetLag: batch.offsetLag(),
          offsetLagLow: batch.offsetLagLow(),
          isEmpty: batch.isEmpty(),
          buffers: batch.messages.map((m) => m.value!.buffer),
        });
        for (let message of batch.messages) {
          console.log({
            topic: batch.topic,
            partition: batch.partition,
            highWatermark: batch.highWatermark,
            message: {
              offset: message.offset,
              key: message.key!.toString(),
              value: message.value!.toString(),
              headers: message.headers,
            },
          });

          resolveOffset(message.offset);
          await heartbeat();
        }
      },
    });
    await until('four messages', () => logged.length === 4);
    await consumer.disconnect();

    expect(logged).toEqual(
      [0, 1, 2, 3].map((i) => ({
        topic: 'batches',
        partition: 0,
        highWatermark: '4',
        message: { offset: String(i), key: `k${i}`, value: `v${i}`, headers: {} },
      })),
    );
    expect(batches.map(({ buffers, ...rest }) => rest)).toEqual([{ firstOffset: '0', lastOffset: '3', offsetLag: '0', offsetLagLow: '3', isEmpty: false }]);
    const fetched = (await logOf(kafka, 'batches', 0)).size;
    for (const buffer of batches[0]!.buffers) {
      expect(buffer).toBeInstanceOf(ArrayBuffer);
      expect(buffer.byteLength).toBe(fetched);
    }
    const admin = kafka.admin();
    await admin.connect();
    expect(await admin.fetchOffsets({ groupId: 'batch-group', topics: ['batches'] })).toEqual([
      { topic: 'batches', partitions: [{ partition: 0, offset: '4', metadata: null, lag: '0' }] },
    ]);
  });

  it('eachBatch example with eachBatchAutoResolve false: stopping mid-batch leaves the unprocessed messages unresolved and uncommitted', async () => {
    const kafka = newKafka();
    await createTopic(kafka, 'jobs');
    await produce(
      kafka,
      'jobs',
      [0, 1, 2, 3, 4].map((i) => ({ value: `job-${i}` })),
    );
    const consumer = kafka.consumer({ groupId: 'jobs-group' });
    const processed: string[] = [];
    let stopping: Promise<void> | null = null;
    const processMessage = async (message: KafkaMessage) => {
      processed.push(message.value!.toString());
      if (message.offset === '2') stopping = consumer.stop(); // the consumer shuts down in the middle of the batch
    };
    await consumer.connect();
    await consumer.subscribe({ topic: 'jobs', fromBeginning: true });

    consumer.run({
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        for (let message of batch.messages) {
          if (!isRunning() || isStale()) break;
          await processMessage(message);
          resolveOffset(message.offset);
          await heartbeat();
        }
      },
    });
    await until('the stop', () => stopping !== null);
    await stopping;
    expect(processed).toEqual(['job-0', 'job-1', 'job-2']);

    // The next member of the group starts after the last resolved message.
    const next = kafka.consumer({ groupId: 'jobs-group' });
    const rest: string[] = [];
    await next.connect();
    await next.subscribe({ topic: 'jobs', fromBeginning: true });
    await next.run({ eachMessage: async ({ message }) => void rest.push(message.value!.toString()) });
    await until('two messages', () => rest.length === 2);
    expect(rest).toEqual(['job-3', 'job-4']);
  });

  it('autoCommitThreshold: within a batch the offsets are committed once that many were resolved, and the whole batch once it is processed', async () => {
    const kafka = newKafka();
    await createTopic(kafka, 'threshold');
    const consumer = kafka.consumer({ groupId: 'threshold-group' });
    const events = recordEvents(consumer);
    let handled = 0;
    await consumer.connect();
    await consumer.subscribe({ topic: 'threshold', fromBeginning: true });
    await consumer.run({
      autoCommitInterval: null,
      autoCommitThreshold: 2,
      eachMessage: async () => void handled++,
    });
    // One send, one batch of five: KafkaJS commits after the 2nd and the 4th message, then after the batch.
    await produce(
      kafka,
      'threshold',
      Array.from({ length: 5 }, (_, i) => ({ value: `m${i}` })),
    );
    await until('the commit after the batch', () => ofType(events, consumer.events.COMMIT_OFFSETS).length === 3);
    const commits = ofType(events, consumer.events.COMMIT_OFFSETS).map((e) => e.payload.topics[0].partitions[0].offset);
    expect(commits).toEqual(['2', '4', '5']);
    expect(handled).toBe(5);
  });

  it('the default auto-commit (no autoCommitInterval, no autoCommitThreshold): the offsets of each batch are committed once it is processed', async () => {
    const kafka = newKafka();
    await createTopic(kafka, 'default-commit');
    const consumer = kafka.consumer({ groupId: 'default-commit-group' });
    const events = recordEvents(consumer);
    const seen: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: 'default-commit', fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        seen.push(message.value!.toString());
      },
    });
    const admin = kafka.admin();
    await admin.connect();
    for (const round of [0, 1]) {
      await produce(
        kafka,
        'default-commit',
        Array.from({ length: 3 }, (_, i) => ({ value: `r${round}-${i}` })),
      );
      await until(`the commit of round ${round}`, () => ofType(events, consumer.events.COMMIT_OFFSETS).length === round + 1);
      // The batch's last offset + 1, with nothing left to process: lag 0 while the consumer sits idle.
      expect(await admin.fetchOffsets({ groupId: 'default-commit-group', topics: ['default-commit'] })).toEqual([
        { topic: 'default-commit', partitions: [{ partition: 0, offset: String(3 * (round + 1)), metadata: null, lag: '0' }] },
      ]);
    }
    expect(seen).toEqual(['r0-0', 'r0-1', 'r0-2', 'r1-0', 'r1-1', 'r1-2']);
    await admin.disconnect();
  });

  it('manual committing: run with autoCommit false, then consumer.commitOffsets stores exactly the given offsets', async () => {
    const kafka = newKafka();
    await createTopic(kafka, 'topic-A', 2);
    await createTopic(kafka, 'topic-B');
    const consumer = kafka.consumer({ groupId: 'manual-group' });
    await consumer.connect();
    await consumer.subscribe({ topics: ['topic-A', 'topic-B'] });

    // The documentation does not await run(); commitOffsets "can only be called after consumer.run",
    // that is once the consumer is a member of the group, so this awaits it.
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => {
        // Process the message somehow
      },
    });

    await consumer.commitOffsets([
      { topic: 'topic-A', partition: 0, offset: '1' },
      { topic: 'topic-A', partition: 1, offset: '3' },
      { topic: 'topic-B', partition: 0, offset: '2' },
    ]);

    const admin = kafka.admin();
    await admin.connect();
    expect(await admin.fetchOffsets({ groupId: 'manual-group', topics: ['topic-A', 'topic-B'] })).toEqual([
      {
        topic: 'topic-A',
        partitions: [
          { partition: 0, offset: '1', metadata: null, lag: '0' },
          { partition: 1, offset: '3', metadata: null, lag: '0' },
        ],
      },
      { topic: 'topic-B', partitions: [{ partition: 0, offset: '2', metadata: null, lag: '0' }] },
    ]);
  });

  it('Pause & Resume: the TooManyRequestsError example pauses the topic, nothing is delivered while paused, and the failed message comes again after resume', async () => {
    const kafka = newKafka();
    await createTopic(kafka, 'jobs');
    class TooManyRequestsError extends Error {
      readonly retryAfter = 0.2;
    }
    const delivered: string[] = [];
    const pausedWhilePaused: unknown[] = [];
    let calls = 0;
    let resumedAt = -1;
    const sendToDependency = async (message: KafkaMessage) => {
      if (++calls === 2) throw new TooManyRequestsError('slow down');
      delivered.push(message.value!.toString());
    };

    const consumer = kafka.consumer({ groupId: 'pause-group' });
    const events = recordEvents(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic: 'jobs' });

    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        try {
          await sendToDependency(message);
        } catch (e) {
          if (e instanceof TooManyRequestsError) {
            consumer.pause([{ topic }]);
            pausedWhilePaused.push(consumer.paused());
            setTimeout(() => {
              resumedAt = delivered.length;
              consumer.resume([{ topic }]);
            }, e.retryAfter * 1000);
          }

          throw e;
        }
      },
    });
    await until('GROUP_JOIN', () => ofType(events, consumer.events.GROUP_JOIN).length === 1);
    await produce(kafka, 'jobs', [{ value: 'a' }, { value: 'b' }, { value: 'c' }]);
    await until('three deliveries', () => delivered.length === 3);

    expect(delivered).toEqual(['a', 'b', 'c']);
    expect(resumedAt).toBe(1); // only 'a' went through before the resume
    expect(pausedWhilePaused).toEqual([[{ topic: 'jobs', partitions: [0] }]]);
    expect(consumer.paused()).toEqual([]);
    // As KafkaJS: a handler's failure is retried after the retry backoff, not a crash.
    expect(ofType(events, consumer.events.CRASH)).toEqual([]);
  });

  it('Pause & Resume per partition: a throttled partition is paused while the other partition keeps being delivered', async () => {
    const kafka = newKafka();
    await createTopic(kafka, 'jobs', 2);
    class TooManyRequestsError extends Error {
      // Longer than the first retry's wait (300 ms ± 20%), after which the other partition is delivered again.
      readonly retryAfter = 1;
    }
    const delivered: string[] = [];
    let throttled = false;
    const sendToDependency = async (message: KafkaMessage) => {
      const value = message.value!.toString();
      if (value === 'p0-b' && !throttled) {
        throttled = true;
        throw new TooManyRequestsError('partition 0 is throttled');
      }
      delivered.push(value);
    };
    const consumer = kafka.consumer({ groupId: 'pause-partition-group' });
    const events = recordEvents(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic: 'jobs' });

    consumer.run({
      partitionsConsumedConcurrently: 3, // Default: 1
      eachMessage: async ({ topic, partition, message }) => {
        // This will be called up to 3 times concurrently
        try {
          await sendToDependency(message);
        } catch (e) {
          if (e instanceof TooManyRequestsError) {
            consumer.pause([{ topic, partitions: [partition] }]);
            // Other partitions will keep fetching and processing, until if / when
            // they also get throttled
            setTimeout(() => {
              consumer.resume([{ topic, partitions: [partition] }]);
              // Other partitions that are paused will continue to be paused
            }, e.retryAfter * 1000);
          }

          throw e;
        }
      },
    });
    await until('GROUP_JOIN', () => ofType(events, consumer.events.GROUP_JOIN).length === 1);
    await produce(kafka, 'jobs', [
      { value: 'p0-a', partition: 0 },
      { value: 'p0-b', partition: 0 },
    ]);
    await until('partition 0 paused', () => throttled);
    expect(consumer.paused()).toEqual([{ topic: 'jobs', partitions: [0] }]);
    await produce(kafka, 'jobs', [
      { value: 'p1-a', partition: 1 },
      { value: 'p1-b', partition: 1 },
    ]);
    await until('partition 1 while 0 is paused', () => delivered.includes('p1-b'));
    expect(consumer.paused()).toEqual([{ topic: 'jobs', partitions: [0] }]);
    expect(delivered).toEqual(['p0-a', 'p1-a', 'p1-b']);
    await until('partition 0 after the resume', () => delivered.length === 4);
    expect(delivered).toEqual(['p0-a', 'p1-a', 'p1-b', 'p0-b']);
    expect(consumer.paused()).toEqual([]);
  });

  it('Seek: consumer.seek right after a consumer.run that is not awaited starts partition 0 at offset 12384', async () => {
    const kafka = newKafka();
    await createTopic(kafka, 'example');
    await produce(
      kafka,
      'example',
      Array.from({ length: 12_390 }, (_, i) => ({ value: `m${i}` })),
    );
    const offsets: string[] = [];
    const consumer = kafka.consumer({ groupId: 'seek-group' });

    await consumer.connect();
    await consumer.subscribe({ topic: 'example' });

    // you don't need to await consumer#run
    consumer.run({ eachMessage: async ({ topic, message }) => void offsets.push(message.offset) });
    consumer.seek({ topic: 'example', partition: 0, offset: '12384' });

    await until('six messages', () => offsets.length === 6);
    expect(offsets).toEqual(['12384', '12385', '12386', '12387', '12388', '12389']);
  });

  it('Seek during eachBatch: the batch turns stale (isStale), its remaining messages are skipped and the next batch starts at the sought offset', async () => {
    const kafka = newKafka();
    await createTopic(kafka, 'replay');
    const consumer = kafka.consumer({ groupId: 'replay-group' });
    const events = recordEvents(consumer);
    const seen: string[] = [];
    let sought = false;
    await consumer.connect();
    await consumer.subscribe({ topic: 'replay' });
    await consumer.run({
      eachBatch: async ({ batch, resolveOffset, isRunning, isStale }) => {
        for (const message of batch.messages) {
          if (!isRunning() || isStale()) break;
          seen.push(message.offset);
          resolveOffset(message.offset);
          if (message.offset === '3' && !sought) {
            sought = true;
            consumer.seek({ topic: 'replay', partition: 0, offset: '1' });
          }
        }
      },
    });
    await until('GROUP_JOIN', () => ofType(events, consumer.events.GROUP_JOIN).length === 1);
    await produce(
      kafka,
      'replay',
      [0, 1, 2, 3, 4, 5].map((i) => ({ value: `r${i}` })),
    );
    await until('the replay to the end', () => seen.length === 9, 3_000);
    expect(seen).toEqual(['0', '1', '2', '3', '1', '2', '3', '4', '5']);
  });

  it('Seek with a negative offset throws; seek before run throws; pause and resume of a topic not paused are no-ops', async () => {
    const kafka = newKafka();
    await createTopic(kafka, 'example');
    const consumer = kafka.consumer({ groupId: 'seek-errors' });
    await consumer.connect();
    await consumer.subscribe({ topic: 'example' });
    expect(() => consumer.seek({ topic: 'example', partition: 0, offset: '-5' })).toThrow(/negative/);
    expect(() => consumer.seek({ topic: 'example', partition: 0, offset: '3' })).toThrow(InvalidArgumentError);
    consumer.resume([{ topic: 'example' }]);
    expect(consumer.paused()).toEqual([]);
  });

  it('Describe group: right after run() the group is Stable with this member, shaped as the documented response', async () => {
    const kafka = newKafka();
    await createTopic(kafka, 'described', 2);
    const consumer = kafka.consumer({ groupId: 'consumer-group-id-f104efb0e1044702e5f6' });
    await consumer.connect();
    await consumer.subscribe({ topic: 'described' });
    await consumer.run({ eachMessage: async () => undefined });

    // KafkaJS's run() resolves once the consumer has joined the group.
    const data = await consumer.describeGroup();
    expect(data).toEqual({
      errorCode: 0,
      groupId: 'consumer-group-id-f104efb0e1044702e5f6',
      members: [
        {
          clientHost: expect.any(String),
          clientId: 'fjord',
          memberAssignment: expect.any(Buffer),
          memberId: expect.stringMatching(/^fjord-/),
          memberMetadata: expect.any(Buffer),
        },
      ],
      protocol: 'RoundRobinAssigner',
      protocolType: 'consumer',
      state: 'Stable',
    });
    const member = data.members[0] as { memberMetadata: Buffer; memberAssignment: Buffer };
    expect(AssignerProtocol.MemberMetadata.decode(member.memberMetadata)).toEqual({ version: 0, topics: ['described'], userData: Buffer.alloc(0) });
    expect(AssignerProtocol.MemberAssignment.decode(member.memberAssignment)).toEqual({
      version: 0,
      assignment: { described: [0, 1] },
      userData: Buffer.alloc(0),
    });
  });
});

describe('KafkaJS instrumentation events (docs/InstrumentationEvents.md)', () => {
  it('GROUP_JOIN, START/END_BATCH_PROCESS and COMMIT_OFFSETS carry the documented payloads; on() returns a remover', async () => {
    const kafka = newKafka();
    await createTopic(kafka, 'events', 2);
    await produce(kafka, 'events', [
      { value: 'e0', partition: 1 },
      { value: 'e1', partition: 1 },
      { value: 'e2', partition: 1 },
    ]);
    const consumer = kafka.consumer({ groupId: 'events-group' });
    const events = recordEvents(consumer);
    const { HEARTBEAT } = consumer.events;
    const heartbeats: number[] = [];
    const removeListener = consumer.on(HEARTBEAT, (e) => heartbeats.push((e as Event).timestamp));
    removeListener();
    await consumer.connect();
    await consumer.subscribe({ topic: 'events', fromBeginning: true });
    await consumer.run({ eachBatch: async () => undefined });
    await until('END_BATCH_PROCESS', () => ofType(events, consumer.events.END_BATCH_PROCESS).length === 1);
    await consumer.stop();

    for (const e of events) {
      expect(e).toEqual({ id: expect.any(Number), type: expect.stringMatching(/^consumer\./), timestamp: expect.any(Number), payload: e.payload });
    }
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    const [join] = ofType(events, consumer.events.GROUP_JOIN);
    const memberId = join!.payload.memberId as string;
    expect(join!.type).toBe('consumer.group_join');
    expect(join!.payload).toEqual({
      groupId: 'events-group',
      memberId,
      leaderId: memberId,
      isLeader: true,
      memberAssignment: { events: [0, 1] },
      groupProtocol: 'RoundRobinAssigner',
      duration: expect.any(Number),
    });
    const batch = { topic: 'events', partition: 1, highWatermark: '3', offsetLag: '0', offsetLagLow: '2', batchSize: 3, firstOffset: '0', lastOffset: '2' };
    expect(ofType(events, consumer.events.START_BATCH_PROCESS).map((e) => e.payload)).toEqual([batch]);
    expect(ofType(events, consumer.events.END_BATCH_PROCESS).map((e) => e.payload)).toEqual([{ ...batch, duration: expect.any(Number) }]);
    expect(ofType(events, consumer.events.COMMIT_OFFSETS).map((e) => e.payload)).toEqual([
      { groupId: 'events-group', memberId, groupGenerationId: expect.any(Number), topics: [{ topic: 'events', partitions: [{ partition: 1, offset: '3' }] }] },
    ]);
    expect(heartbeats).toEqual([]);
  });

  it('eachMessage throws once: no CRASH (KafkaJS retries it after its retry backoff), and the same message is delivered again', async () => {
    const kafka = newKafka();
    await createTopic(kafka, 'fragile');
    await produce(kafka, 'fragile', [{ value: 'm0' }, { value: 'm1' }, { value: 'm2' }]);
    const consumer = kafka.consumer({ groupId: 'crash-group' });
    const crashes: Event[] = [];
    consumer.on(consumer.events.CRASH, (e) => crashes.push(e as Event));
    const attempts: string[] = [];
    const failure = new Error('handler failed once');
    await consumer.connect();
    await consumer.subscribe({ topic: 'fragile', fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        attempts.push(message.offset);
        if (message.offset === '1' && attempts.filter((o) => o === '1').length === 1) throw failure;
      },
    });
    await until('the redelivery', () => attempts.length === 4);
    expect(attempts).toEqual(['0', '1', '1', '2']);
    expect(crashes).toEqual([]);
  });
});

describe('KafkaJS admin examples for groups (docs/Admin.md)', () => {
  async function consumeAll(kafka: Fjord, groupId: string, topic: string, count: number) {
    const consumer = kafka.consumer({ groupId });
    let seen = 0;
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async () => void seen++ });
    await until(`${count} messages`, () => seen === count);
    return consumer;
  }

  it('listGroups, describeGroups (decoded with AssignerProtocol) and deleteGroups: a group with members cannot be deleted', async () => {
    const kafka = newKafka();
    await createTopic(kafka, 'grouped', 2);
    await produce(kafka, 'grouped', [{ value: 'x', partition: 0 }]);
    const admin = kafka.admin();
    await admin.connect();
    expect(await admin.listGroups()).toEqual({ groups: [] });

    const consumer = await consumeAll(kafka, 'testgroup', 'grouped', 1);
    expect(await admin.listGroups()).toEqual({ groups: [{ groupId: 'testgroup', protocolType: 'consumer' }] });

    const { groups } = await admin.describeGroups(['testgroup']);
    expect(groups).toEqual([
      {
        errorCode: 0,
        groupId: 'testgroup',
        members: [
          {
            clientHost: expect.any(String),
            clientId: 'fjord',
            memberAssignment: expect.any(Buffer),
            memberId: expect.stringMatching(/^fjord-/),
            memberMetadata: expect.any(Buffer),
          },
        ],
        protocol: 'RoundRobinAssigner',
        protocolType: 'consumer',
        state: 'Stable',
      },
    ]);
    const [member] = groups[0]!.members;
    const memberMetadata = AssignerProtocol.MemberMetadata.decode(member!.memberMetadata);
    const memberAssignment = AssignerProtocol.MemberAssignment.decode(member!.memberAssignment);
    expect(memberMetadata).toEqual({ version: 0, topics: ['grouped'], userData: Buffer.alloc(0) });
    expect(memberAssignment).toEqual({ version: 0, assignment: { grouped: [0, 1] }, userData: Buffer.alloc(0) });

    // "Note that you can only delete groups with no connected consumers."
    await expect(admin.deleteGroups(['testgroup'])).rejects.toThrow(NonEmptyGroupError);
    await consumer.disconnect();
    expect((await admin.describeGroups(['testgroup'])).groups.map((g) => [g.state, g.members.length])).toEqual([['Empty', 0]]);
    expect(await admin.deleteGroups(['testgroup'])).toEqual([{ groupId: 'testgroup', errorCode: 0 }]);
    expect(await admin.listGroups()).toEqual({ groups: [] });
    expect(await admin.fetchOffsets({ groupId: 'testgroup', topics: ['grouped'] })).toEqual([
      {
        topic: 'grouped',
        partitions: [
          { partition: 0, offset: '-1', metadata: null, lag: '1' },
          { partition: 1, offset: '-1', metadata: null, lag: '0' },
        ],
      },
    ]);
  });

  it('fetchOffsets: per partition the committed offset (-1 when none) and the lag; without topics, every topic with commits', async () => {
    const kafka = newKafka();
    await createTopic(kafka, 'topic1', 4);
    await createTopic(kafka, 'topic2', 2);
    await produce(
      kafka,
      'topic1',
      [0, 0, 0, 1, 3, 3].map((partition, i) => ({ value: `v${i}`, partition })),
    );
    const groupId = 'offsets-group';
    const consumer = await consumeAll(kafka, groupId, 'topic1', 6);
    await consumer.disconnect();
    await produce(kafka, 'topic1', [{ value: 'after', partition: 0 }]);

    const admin = kafka.admin();
    await admin.connect();
    const topic1 = {
      topic: 'topic1',
      partitions: [
        { partition: 0, offset: '3', metadata: null, lag: '1' },
        { partition: 1, offset: '1', metadata: null, lag: '0' },
        { partition: 2, offset: '-1', metadata: null, lag: '0' },
        { partition: 3, offset: '2', metadata: null, lag: '0' },
      ],
    };
    expect(await admin.fetchOffsets({ groupId, topics: ['topic1', 'topic2'] })).toEqual([
      topic1,
      {
        topic: 'topic2',
        partitions: [
          { partition: 0, offset: '-1', metadata: null, lag: '0' },
          { partition: 1, offset: '-1', metadata: null, lag: '0' },
        ],
      },
    ]);
    // "Omit topics altogether if you want to get the consumer group offsets for all topics with committed offsets."
    expect(await admin.fetchOffsets({ groupId })).toEqual([topic1]);
  });

  it('resetOffsets (latest by default, earliest: true) and setOffsets: the documented calls, and a consumer starts where they point', async () => {
    const kafka = newKafka();
    await createTopic(kafka, 'custom-topic', 4);
    await produce(kafka, 'custom-topic', [
      ...Array.from({ length: 40 }, (_, i) => ({ value: `p0-${i}`, partition: 0 })),
      ...Array.from({ length: 20 }, (_, i) => ({ value: `p3-${i}`, partition: 3 })),
    ]);
    const admin = kafka.admin();
    await admin.connect();
    const groupId = 'my-consumer-group';
    const topic = 'custom-topic';
    const offsetsOf = async () => (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions.map((p) => [p.offset, p.lag]);

    await admin.resetOffsets({ groupId, topic }); // latest by default
    expect(await offsetsOf()).toEqual([
      ['40', '0'],
      ['0', '0'],
      ['0', '0'],
      ['20', '0'],
    ]);
    // Fjord stores the resolved offsets right away, so resolveOffsets changes nothing.
    expect(await admin.fetchOffsets({ groupId, topics: [topic], resolveOffsets: true })).toEqual(
      await admin.fetchOffsets({ groupId, topics: [topic], resolveOffsets: false }),
    );

    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '10' }] });
    await admin.resetOffsets({ groupId, topic, earliest: true });
    expect(await offsetsOf()).toEqual([
      ['10', '30'],
      ['0', '0'],
      ['0', '0'],
      ['0', '20'],
    ]);

    await admin.setOffsets({
      groupId: 'my-consumer-group',
      topic: 'custom-topic',
      partitions: [
        { partition: 0, offset: '35' },
        { partition: 3, offset: '19' },
      ],
    });
    expect(await offsetsOf()).toEqual([
      ['35', '5'],
      ['0', '0'],
      ['0', '0'],
      ['19', '1'],
    ]);

    const consumer = kafka.consumer({ groupId });
    const seen: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
    await until('six messages', () => seen.length === 6);
    expect(seen.sort()).toEqual(['p0-35', 'p0-36', 'p0-37', 'p0-38', 'p0-39', 'p3-19']);

    // "The consumer group must have no running instances when performing the reset."
    await expect(admin.resetOffsets({ groupId, topic })).rejects.toThrow(UnknownMemberIdError);
    await expect(admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '0' }] })).rejects.toThrow(UnknownMemberIdError);
  });

  it('reset offsets by timestamp: setOffsets with fetchTopicOffsetsByTimestamp', async () => {
    const kafka = newKafka();
    await createTopic(kafka, 'timed', 2);
    await produce(kafka, 'timed', [
      { value: 'old', partition: 0, timestamp: String(T0) },
      { value: 'new', partition: 0, timestamp: String(T0 + 1000) },
      { value: 'old', partition: 1, timestamp: String(T0) },
    ]);
    const admin = kafka.admin();
    await admin.connect();
    const groupId = 'timed-group';
    const topic = 'timed';
    const timestamp = T0 + 500;

    await admin.setOffsets({ groupId, topic, partitions: await admin.fetchTopicOffsetsByTimestamp(topic, timestamp) });

    expect(await admin.fetchOffsets({ groupId, topics: [topic] })).toEqual([
      {
        topic,
        partitions: [
          { partition: 0, offset: '1', metadata: null, lag: '1' },
          { partition: 1, offset: '1', metadata: null, lag: '0' },
        ],
      },
    ]);
  });
});
