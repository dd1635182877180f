// Bad input through the public API: every call below fails with a typed error
// whose message names the offending value, the process goes on, and what was
// stored before (topics, configs, offsets, record bytes, committed offsets)
// is exactly what is stored after.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  ConfigResourceTypes,
  CorruptRecordError,
  encodeBatch,
  Fjord,
  InvalidArgumentError,
  InvalidConfigError,
  InvalidPartitionsError,
  InvalidRecordError,
  InvalidTopicError,
  Log,
  LogClosedError,
  NotConnectedError,
  OffsetOutOfRangeError,
  RecordTooLargeError,
  UnknownTopicOrPartitionError,
  type Admin,
  type Message,
  type Producer,
} from '../src/index.js';
import { native } from '../src/storage/native.js';
import { fjordFor, recordsOf, valuesOf } from './fjord-kit.js';
import { tempDir } from './helpers.js';

type ErrorClass = abstract new (...args: never[]) => Error;

/** The error `fn` throws or rejects with; fails the test if it succeeds. */
async function failure(fn: () => unknown): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

async function expectFailure(fn: () => unknown, type: ErrorClass, message: string | RegExp): Promise<Error> {
  const error = await failure(fn);
  expect(error).toBeInstanceOf(type);
  if (typeof message === 'string') expect(error.message).toContain(message);
  else expect(error.message).toMatch(message);
  return error;
}

/** Every stored byte of a log from its start, as a digest. */
function digest(log: Log): string {
  const hash = createHash('sha256');
  let offset = log.logStartOffset;
  for (let slice = log.readSlice(offset); slice !== null; slice = log.readSlice(offset)) {
    hash.update(slice.bytes);
    offset = slice.nextOffset;
  }
  return hash.digest('hex');
}

function logState(log: Log) {
  return { start: log.logStartOffset, end: log.logEndOffset, size: log.size, segments: log.segments(), bytes: digest(log) };
}

/** Topics, their configs, and every partition's offsets and record bytes; committed offsets of group `g`. */
async function stored(fjord: Fjord, admin: Admin) {
  const registry = await fjord.topics();
  const topics = registry
    .list()
    .map((topic) => ({ topic: topic.name, configs: { ...topic.configs }, partitions: topic.partitions.map((p) => logState(p.log)) }))
    .sort((a, b) => a.topic.localeCompare(b.topic));
  const committed = await admin.fetchOffsets({ groupId: 'g', topics: topics.map((t) => t.topic) });
  return { topics, committed, files: readdirSync(fjord.dir).sort() };
}

interface Seeded {
  fjord: Fjord;
  admin: Admin;
  producer: Producer;
  /** What is stored; compare with `stored(fjord, admin)` after a bad call. */
  before: Awaited<ReturnType<typeof stored>>;
}

/**
 * Topic `orders` (3 partitions, 3 records each) and topic `small`
 * (`max.message.bytes` 1000, 2 records); group `g` committed orders-0 at 2.
 */
async function seeded(config: { allowAutoTopicCreation?: boolean; dir?: string } = {}): Promise<Seeded> {
  const fjord = config.dir === undefined ? fjordFor(config) : new Fjord({ dir: config.dir, ...config });
  const admin = fjord.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic: 'orders', numPartitions: 3, configEntries: [{ name: 'retention.ms', value: '3600000' }] },
      { topic: 'small', configEntries: [{ name: 'max.message.bytes', value: '1000' }] },
    ],
  });
  const producer = fjord.producer();
  await producer.connect();
  await producer.send({
    topic: 'orders',
    acks: 1,
    messages: [0, 1, 2].flatMap((partition) => [0, 1, 2].map((i) => ({ key: `k${i}`, value: `p${partition}-${i}`, partition }))),
  });
  await producer.send({ topic: 'small', acks: 1, messages: [{ value: 'a' }, { value: 'b', headers: { h: 'x' } }] });
  await admin.setOffsets({ groupId: 'g', topic: 'orders', partitions: [{ partition: 0, offset: '2' }] });
  return { fjord, admin, producer, before: await stored(fjord, admin) };
}

/**
 * One seeded Fjord for the table-driven tests of a describe block: every row
 * must leave it unchanged, so rows share it (and check each other).
 */
function sharedSeed(): () => Seeded {
  let seed: Seeded | null = null;
  let dir = '';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fjord-bad-input-'));
    seed = await seeded({ dir });
  });
  afterAll(async () => {
    await seed?.fjord.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return () => seed!;
}

async function expectUnchanged({ fjord, admin, before }: Seeded): Promise<void> {
  expect(await stored(fjord, admin)).toEqual(before);
}

describe('topic names', () => {
  const shared = sharedSeed();
  const bad: [string, unknown, string][] = [
    ['empty', '', 'topic name is empty'],
    ['"."', '.', 'topic name cannot be "."'],
    ['".."', '..', 'topic name cannot be ".."'],
    ['250 characters', 'a'.repeat(250), 'topic name is 250 characters, more than 249: aaaa'],
    ['a slash', 'a/b', `topic name "a/b" has characters other than ASCII letters, digits, '.', '_' and '-'`],
    ['a space', 'my topic', 'topic name "my topic" has characters other than ASCII letters'],
    ['non-ASCII letters', 'tøpic', 'topic name "tøpic" has characters other than ASCII letters'],
    ['a number', 42, 'topic name must be a string, got 42'],
    ['null', null, 'topic name must be a string, got null'],
  ];
  for (const [what, name, message] of bad) {
    it(`refuses a name that is ${what} with InvalidTopicError in every call that takes one`, async () => {
      const seed = shared();
      const { fjord, admin, producer } = seed;
      const topic = name as string;
      const consumer = fjord.consumer({ groupId: 'names' });
      await consumer.connect();
      await expectFailure(() => admin.createTopics({ topics: [{ topic: 'fine' }, { topic }] }), InvalidTopicError, message);
      await expectFailure(() => producer.send({ topic, messages: [{ value: 'v' }] }), InvalidTopicError, message);
      await expectFailure(
        () =>
          producer.sendBatch({
            topicMessages: [
              { topic: 'orders', messages: [{ value: 'v' }] },
              { topic, messages: [{ value: 'v' }] },
            ],
          }),
        InvalidTopicError,
        message,
      );
      if (typeof name === 'string') await expectFailure(() => consumer.subscribe({ topics: [topic] }), InvalidTopicError, message);
      else
        await expectFailure(
          () => consumer.subscribe({ topics: [topic] }),
          InvalidArgumentError,
          `subscribe: ${String(name)} is neither a topic name nor a RegExp`,
        );
      await expectFailure(() => consumer.assign([{ topic, partitions: [0] }]), InvalidTopicError, message);
      await expectFailure(() => admin.fetchTopicOffsets(topic), InvalidTopicError, message);
      await expectFailure(() => admin.deleteTopics({ topics: ['orders', topic] }), InvalidTopicError, message);
      await expectFailure(() => admin.createPartitions({ topicPartitions: [{ topic, count: 2 }] }), InvalidTopicError, message);
      await expectUnchanged(seed);
    });
  }

  it('refuses the reserved __consumer_offsets, in createTopics and on auto-creation', async () => {
    const seed = shared();
    const message = 'topic name __consumer_offsets is reserved: Fjord keeps committed offsets there';
    await expectFailure(() => seed.admin.createTopics({ topics: [{ topic: '__consumer_offsets' }] }), InvalidTopicError, message);
    await expectFailure(() => seed.producer.send({ topic: '__consumer_offsets', messages: [{ value: 'v' }] }), InvalidTopicError, message);
    await expectUnchanged(seed);
  });
});

describe('unknown topics and partitions', () => {
  it('a send to an unknown topic without auto-creation is UnknownTopicOrPartitionError, from the Fjord or the producer setting', async () => {
    const seed = await seeded({ allowAutoTopicCreation: false });
    await expectFailure(() => seed.producer.send({ topic: 'missing', messages: [{ value: 'v' }] }), UnknownTopicOrPartitionError, 'unknown topic "missing"');
    const strict = seed.fjord.producer({ allowAutoTopicCreation: false });
    await strict.connect();
    await expectFailure(() => strict.send({ topic: 'missing', messages: [{ value: 'v' }] }), UnknownTopicOrPartitionError, 'unknown topic "missing"');
    const consumer = seed.fjord.consumer({ groupId: 'strict' });
    await consumer.connect();
    await expectFailure(() => consumer.subscribe({ topics: ['orders', 'missing'] }), UnknownTopicOrPartitionError, 'unknown topic "missing"');
    await expectUnchanged(seed);
  });

  it('with auto-creation (the default) a send creates the topic with numPartitions partitions', async () => {
    const fjord = fjordFor({ numPartitions: 2 });
    const producer = fjord.producer();
    await producer.connect();
    await producer.send({ topic: 'fresh', messages: [{ value: 'v', partition: 1 }] });
    expect((await fjord.topics()).get('fresh').numPartitions).toBe(2);
    expect(await valuesOf(fjord, 'fresh', 1)).toEqual(['v']);
  });

  const badPartitions: [string, unknown, ErrorClass, string][] = [
    ['past the last', 3, UnknownTopicOrPartitionError, 'topic orders has no partition 3 (it has 3: 0 to 2)'],
    ['negative', -1, UnknownTopicOrPartitionError, 'topic orders has no partition -1 (it has 3: 0 to 2)'],
    ['fractional', 1.5, InvalidArgumentError, 'orders messages[1].partition must be an integer partition number, got 1.5'],
    ['a string', '1', InvalidArgumentError, 'orders messages[1].partition must be an integer partition number, got "1"'],
  ];
  for (const [what, partition, type, message] of badPartitions) {
    it(`a message for a partition that is ${what} fails the whole send, writing none of it`, async () => {
      const seed = await seeded();
      const messages = [
        { value: 'good', partition: 0 },
        { value: 'bad', partition: partition as number },
      ];
      await expectFailure(() => seed.producer.send({ topic: 'orders', messages }), type, message);
      await expectUnchanged(seed);
    });
  }

  it('a partitioner that picks a partition the topic lacks fails the send', async () => {
    const seed = await seeded();
    const producer = seed.fjord.producer({ createPartitioner: () => () => 7 });
    await producer.connect();
    await expectFailure(() => producer.send({ topic: 'orders', messages: [{ value: 'v' }] }), UnknownTopicOrPartitionError, 'topic orders has no partition 7');
    await expectUnchanged(seed);
  });

  it('consumer calls on an unknown topic or partition', async () => {
    const seed = await seeded();
    const consumer = seed.fjord.consumer({ groupId: 'g' });
    await consumer.connect();
    await expectFailure(() => consumer.assign([{ topic: 'missing', partitions: [0] }]), UnknownTopicOrPartitionError, 'unknown topic "missing"');
    await expectFailure(() => consumer.assign([{ topic: 'orders', partitions: [0, 5] }]), UnknownTopicOrPartitionError, 'topic orders has no partition 5');
    await expectFailure(
      () => consumer.commitOffsets([{ topic: 'missing', partition: 0, offset: '1' }]),
      UnknownTopicOrPartitionError,
      'unknown topic "missing"',
    );
    await expectFailure(
      () =>
        consumer.commitOffsets([
          { topic: 'orders', partition: 1, offset: '1' },
          { topic: 'orders', partition: 9, offset: '1' },
        ]),
      UnknownTopicOrPartitionError,
      'topic orders has no partition 9',
    );
    // A failed assign leaves the consumer free to subscribe.
    await consumer.subscribe({ topics: ['orders'] });
    await expectFailure(() => consumer.seek({ topic: 'orders', partition: 4, offset: '0' }), UnknownTopicOrPartitionError, 'topic orders has no partition 4');
    await expectUnchanged(seed);
  });

  it('admin calls on an unknown topic or partition change nothing, not even the entries listed before it', async () => {
    const seed = await seeded();
    const { admin } = seed;
    const unknown = 'unknown topic "missing"';
    const topicResource = (name: string) => ({ type: ConfigResourceTypes.TOPIC, name, configEntries: [{ name: 'retention.ms', value: '1' }] });
    const calls: [string, () => Promise<unknown>, string][] = [
      ['fetchTopicOffsets', () => admin.fetchTopicOffsets('missing'), unknown],
      ['fetchTopicMetadata', () => admin.fetchTopicMetadata({ topics: ['orders', 'missing'] }), unknown],
      ['deleteTopics', () => admin.deleteTopics({ topics: ['orders', 'missing'] }), unknown],
      [
        'createPartitions',
        () =>
          admin.createPartitions({
            topicPartitions: [
              { topic: 'orders', count: 5 },
              { topic: 'missing', count: 2 },
            ],
          }),
        unknown,
      ],
      ['alterConfigs', () => admin.alterConfigs({ resources: [topicResource('orders'), topicResource('missing')] }), unknown],
      ['describeConfigs', () => admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: 'missing' }] }), unknown],
      ['fetchOffsets', () => admin.fetchOffsets({ groupId: 'g', topics: ['missing'] }), unknown],
      ['resetOffsets', () => admin.resetOffsets({ groupId: 'g', topic: 'missing' }), unknown],
      [
        'setOffsets',
        () =>
          admin.setOffsets({
            groupId: 'g',
            topic: 'orders',
            partitions: [
              { partition: 1, offset: '1' },
              { partition: 9, offset: '1' },
            ],
          }),
        'topic orders has no partition 9',
      ],
      [
        'deleteTopicRecords',
        () =>
          admin.deleteTopicRecords({
            topic: 'orders',
            partitions: [
              { partition: 0, offset: '2' },
              { partition: 3, offset: '1' },
            ],
          }),
        'topic orders has no partition 3',
      ],
    ];
    for (const [call, fn, message] of calls) {
      const error = await failure(fn);
      expect(error, call).toBeInstanceOf(UnknownTopicOrPartitionError);
      expect(error.message, call).toContain(message);
      expect((error as UnknownTopicOrPartitionError).type).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    }
    await expectUnchanged(seed);
  });

  it('createPartitions checks every entry before growing any topic', async () => {
    const seed = await seeded();
    await expectFailure(
      () =>
        seed.admin.createPartitions({
          topicPartitions: [
            { topic: 'orders', count: 5 },
            { topic: 'small', count: 1 },
          ],
        }),
      InvalidPartitionsError,
      'topic small has 1 partitions; it can only grow, and 1 is not more',
    );
    await expectFailure(
      () => seed.admin.createPartitions({ topicPartitions: [{ topic: 'orders', count: 4.5 }] }),
      InvalidPartitionsError,
      'count for topic orders must be an integer in [1, 100000], got 4.5',
    );
    await expectFailure(
      () => seed.admin.createTopics({ topics: [{ topic: 'fine' }, { topic: 'zero', numPartitions: 0 }] }),
      InvalidPartitionsError,
      'numPartitions must be an integer in [1, 100000], got 0',
    );
    await expectUnchanged(seed);
  });
});

describe('offsets', () => {
  async function logWithTenRecords(): Promise<Log> {
    const log = await Log.open(tempDir(), { segmentBytes: 300 });
    for (let i = 0; i < 10; i++) log.append(encodeBatch([{ value: `record-${i}`.padEnd(100, '.') }]));
    log.deleteSegmentsBefore(log.segments()[1]!.baseOffset);
    return log;
  }

  it('Log calls with negative, fractional, non-numeric or out-of-range offsets', async () => {
    const log = await logWithTenRecords();
    const start = log.logStartOffset;
    expect(start).toBeGreaterThan(0);
    const before = logState(log);
    const calls: [string, () => unknown, ErrorClass, string][] = [
      ['read(-1)', () => log.read(-1), OffsetOutOfRangeError, 'offset -1 is out of range: offsets are never negative'],
      ['read below the log start', () => log.read(start - 1), OffsetOutOfRangeError, `offset ${start - 1} is out of range: the log holds [${start}, 10)`],
      ['read past the end', () => log.read(11), OffsetOutOfRangeError, `offset 11 is out of range: the log holds [${start}, 10)`],
      ['read(1.5)', () => log.read(1.5), InvalidArgumentError, 'offset must be a safe integer, got 1.5'],
      ['read(NaN)', () => log.read(NaN), InvalidArgumentError, 'offset must be a safe integer, got NaN'],
      ['read(Infinity)', () => log.read(Infinity), InvalidArgumentError, 'offset must be a safe integer, got Infinity'],
      ['read(2n ** 60n)', () => log.read(2n ** 60n), InvalidArgumentError, 'offset must be a safe integer, got 1152921504606846976n'],
      ['read("abc")', () => log.read('abc'), InvalidArgumentError, 'offset must be an integer (number, bigint or decimal string), got "abc"'],
      ['read("1.5")', () => log.read('1.5'), InvalidArgumentError, 'got "1.5"'],
      ['read({})', () => log.read({} as never), InvalidArgumentError, 'got [object Object]'],
      ['read(undefined)', () => log.read(undefined as never), InvalidArgumentError, 'got undefined'],
      ['read with maxBytes -1', () => log.read(start, -1), InvalidArgumentError, 'maxBytes must be a non-negative integer, got -1'],
      ['truncateTo(-1)', () => log.truncateTo(-1), OffsetOutOfRangeError, `offset -1 is out of range: the log holds [${start}, 10)`],
      ['truncateTo("x")', () => log.truncateTo('x'), InvalidArgumentError, 'got "x"'],
      ['deleteSegmentsBefore(-1)', () => log.deleteSegmentsBefore(-1), OffsetOutOfRangeError, 'offset -1 is out of range: offsets are never negative'],
      [
        'deleteSegmentsBefore past the end',
        () => log.deleteSegmentsBefore(11),
        OffsetOutOfRangeError,
        `offset 11 is out of range: the log holds [${start}, 10)`,
      ],
      ['offsetForTimestamp(1.5)', () => log.offsetForTimestamp(1.5), InvalidArgumentError, 'timestamp must be an integer, got 1.5'],
    ];
    for (const [call, fn, type, message] of calls) {
      const error = await failure(fn);
      expect(error, call).toBeInstanceOf(type);
      expect(error.message, call).toContain(message);
    }
    expect(logState(log)).toEqual(before);
    // At the log end a read is empty, not an error; truncating past the end is a no-op.
    expect(log.read(10).length).toBe(0);
    expect(log.readSlice('10')).toBeNull();
    expect(log.truncateTo(50)).toBe(10);
    expect(logState(log)).toEqual(before);
    await log.close();
  });

  it('seek: negative offsets other than -2 / -1, fractions and words are refused; -2 and -1 go to the log start and end (KafkaJS)', async () => {
    const seed = await seeded();
    const consumer = seed.fjord.consumer({ groupId: 'seeker', autoOffsetReset: 'earliest' });
    await consumer.connect();
    consumer.assign([{ topic: 'orders', partitions: [1] }]);
    const seek = (offset: unknown) => () => consumer.seek({ topic: 'orders', partition: 1, offset: offset as string });
    await expectFailure(seek('-5'), OffsetOutOfRangeError, 'seek to offset -5 of orders-1: offsets are never negative (-2 is the earliest, -1 the latest)');
    await expectFailure(seek('1.5'), InvalidArgumentError, 'offset must be an integer (number, bigint or decimal string), got "1.5"');
    await expectFailure(seek('next'), InvalidArgumentError, 'got "next"');
    await expectFailure(seek(0.5), InvalidArgumentError, 'offset must be a safe integer, got 0.5');
    await expectFailure(
      () => consumer.seek({ topic: 'orders', partition: 2, offset: '0' }),
      InvalidArgumentError,
      'seek: orders-2 is not assigned to this consumer',
    );

    expect((await consumer.poll()).map((r) => r.value!.toString())).toEqual(['p1-0', 'p1-1', 'p1-2']);
    consumer.seek({ topic: 'orders', partition: 1, offset: '-2' });
    expect((await consumer.poll()).map((r) => r.offset)).toEqual(['0', '1', '2']);
    await seed.producer.send({ topic: 'orders', messages: [{ value: 'later', partition: 1 }] });
    consumer.seek({ topic: 'orders', partition: 1, offset: '1' });
    consumer.seek({ topic: 'orders', partition: 1, offset: '-1' });
    expect(await consumer.poll()).toEqual([]);

    const subscribed = seed.fjord.consumer({ groupId: 'not-running' });
    await subscribed.connect();
    await subscribed.subscribe({ topics: ['orders'] });
    await expectFailure(
      () => subscribed.seek({ topic: 'orders', partition: 0, offset: '0' }),
      InvalidArgumentError,
      'seek: the consumer is not running: call run() first',
    );
  });

  it('a seek past the log end resets by autoOffsetReset, or fails the poll with OffsetOutOfRangeError under "none"', async () => {
    const seed = await seeded();
    const earliest = seed.fjord.consumer({ groupId: 'reset-earliest', autoOffsetReset: 'earliest' });
    await earliest.connect();
    earliest.assign([{ topic: 'orders', partitions: [2] }]);
    await earliest.poll();
    earliest.seek({ topic: 'orders', partition: 2, offset: '99' });
    expect(await earliest.poll()).toEqual([]);
    expect((await earliest.poll()).map((r) => r.offset)).toEqual(['0', '1', '2']);

    const strict = seed.fjord.consumer({ groupId: 'reset-none', autoOffsetReset: 'none' });
    await strict.connect();
    strict.assign([{ topic: 'orders', partitions: [0] }]);
    await expectFailure(() => strict.poll(), OffsetOutOfRangeError, 'no committed offset for orders-0 in group reset-none and autoOffsetReset is none');
    await strict.commitOffsets([{ topic: 'orders', partition: 0, offset: '1' }]);
    const again = seed.fjord.consumer({ groupId: 'reset-none', autoOffsetReset: 'none' });
    await again.connect();
    again.assign([{ topic: 'orders', partitions: [0] }]);
    expect((await again.poll()).map((r) => r.offset)).toEqual(['1', '2']);
    again.seek({ topic: 'orders', partition: 0, offset: '99' });
    await expectFailure(() => again.poll(), OffsetOutOfRangeError, 'offset 99 of orders-0 is outside the log [0, 3] and autoOffsetReset is none');
  });

  it('admin and consumer commits of negative, fractional or non-numeric offsets', async () => {
    const seed = await seeded();
    const { admin } = seed;
    const consumer = seed.fjord.consumer({ groupId: 'g' });
    await consumer.connect();
    const set = (offset: unknown) => () =>
      admin.setOffsets({
        groupId: 'g',
        topic: 'orders',
        partitions: [
          { partition: 1, offset: '1' },
          { partition: 0, offset: offset as string },
        ],
      });
    await expectFailure(set('-5'), InvalidArgumentError, 'offsets[1].offset must be a non-negative safe integer, got -5');
    await expectFailure(set('1.5'), InvalidArgumentError, 'offset must be an integer (number, bigint or decimal string), got "1.5"');
    await expectFailure(set('soon'), InvalidArgumentError, 'got "soon"');
    await expectFailure(
      () => admin.setOffsets({ groupId: 'g', topic: 'orders' } as never),
      InvalidArgumentError,
      'setOffsets: partitions must be an array of { partition, offset }, got undefined',
    );
    await expectFailure(
      () => admin.setOffsets({ groupId: 'g', topic: 'orders', partitions: [null as never] }),
      InvalidArgumentError,
      'setOffsets: each partition entry must be { partition, offset }, got null',
    );
    await expectFailure(() => admin.fetchOffsets({} as never), InvalidArgumentError, 'fetchOffsets: groupId must be a non-empty string, got undefined');
    await expectFailure(
      () => consumer.commitOffsets([{ topic: 'orders', partition: 0, offset: '-1' }]),
      InvalidArgumentError,
      'offsets[0].offset must be a non-negative safe integer, got -1',
    );
    await expectFailure(
      () => consumer.commitOffsets([null as never]),
      InvalidArgumentError,
      'commitOffsets: offsets[0] must be { topic, partition, offset }, got null',
    );
    await expectFailure(() => admin.fetchTopicOffsetsByTimestamp('orders', 1.5), InvalidArgumentError, 'timestamp must be an integer, got 1.5');
    await expectUnchanged(seed);
  });

  it('deleteTopicRecords with an offset below -1 or past the log end cuts no partition', async () => {
    const seed = await seeded();
    const cut = (offset: string) => () =>
      seed.admin.deleteTopicRecords({
        topic: 'orders',
        partitions: [
          { partition: 0, offset: '2' },
          { partition: 1, offset },
        ],
      });
    await expectFailure(
      cut('-5'),
      OffsetOutOfRangeError,
      'deleteTopicRecords: offset -5 of orders-1 is out of range: it must be -1 (the log end) or in [0, 3]',
    );
    await expectFailure(cut('4'), OffsetOutOfRangeError, 'deleteTopicRecords: offset 4 of orders-1 is out of range');
    await expectFailure(cut('x'), InvalidArgumentError, 'got "x"');
    await expectUnchanged(seed);
  });
});

describe('record sizes and record contents', () => {
  const shared = sharedSeed();
  it('a record over max.message.bytes or maxRequestSize is RecordTooLargeError naming its size and the limit', async () => {
    const seed = await seeded();
    const big = 'x'.repeat(1000);
    const error = await expectFailure(
      () => seed.producer.send({ topic: 'small', messages: [{ value: big }] }),
      RecordTooLargeError,
      /^a record for small-0 is \d{4} bytes as a batch, larger than max\.message\.bytes of topic small \(1000 bytes\)$/,
    );
    expect((error as RecordTooLargeError).type).toBe('MESSAGE_TOO_LARGE');
    const tight = seed.fjord.producer({ maxRequestSize: 500 });
    await tight.connect();
    await expectFailure(
      () => tight.send({ topic: 'orders', messages: [{ value: big, partition: 0 }] }),
      RecordTooLargeError,
      "larger than the producer's maxRequestSize (500 bytes)",
    );
    const log = (await seed.fjord.topics()).get('small').partition(0).log;
    const batch = encodeBatch([{ value: big }]);
    await expectFailure(() => log.append(batch), RecordTooLargeError, `record batch is ${batch.length} bytes, larger than max.message.bytes (1000 bytes)`);
    await expectUnchanged(seed);
  });

  const badMessages: [string, unknown, string][] = [
    ['a number value', { value: 42 }, 'orders messages[1].value must be a Buffer, a string or null, got number'],
    ['an object value', { value: { total: 12 } }, 'orders messages[1].value must be a Buffer, a string or null, got [object Object]'],
    ['a boolean value', { value: true }, 'got boolean'],
    ['a Uint8Array value', { value: new Uint8Array(3) }, 'got [object Uint8Array]'],
    ['an undefined value', { value: undefined }, 'orders messages[1].value is missing (use null for a tombstone)'],
    ['no value', { key: 'k' }, 'orders messages[1].value is missing'],
    ['a number key', { key: 7, value: 'v' }, 'orders messages[1].key must be a Buffer, a string or null, got number'],
    ['an object key', { key: [1], value: 'v' }, 'orders messages[1].key must be a Buffer, a string or null, got [object Array]'],
    ['a number header value', { value: 'v', headers: { h: 1 } }, 'orders messages[1].headers["h"] must be a Buffer, a string or null, got number'],
    ['an object header value', { value: 'v', headers: { h: [{}] } }, 'orders messages[1].headers["h"] must be a Buffer, a string or null, got [object Object]'],
    ['headers that are a string', { value: 'v', headers: 'h=1' }, 'orders messages[1].headers must be an object'],
    ['headers that are an array', { value: 'v', headers: [['h', '1']] }, 'orders messages[1].headers must be an object'],
    [
      'a word for a timestamp',
      { value: 'v', timestamp: 'now' },
      'orders messages[1].timestamp must be an integer number of ms since the epoch (or a decimal string of one), got "now"',
    ],
    ['a fractional timestamp', { value: 'v', timestamp: 1.5 }, 'got 1.5'],
    ['a timestamp below -1', { value: 'v', timestamp: -2 }, 'got -2'],
    ['null for a message', null, 'orders messages[1] must be an object with a value'],
  ];
  for (const [what, message, expected] of badMessages) {
    it(`a message with ${what} is InvalidArgumentError, and no record of its send is written`, async () => {
      const seed = shared();
      const messages = [{ value: 'good', partition: 0 }, message] as Message[];
      await expectFailure(() => seed.producer.send({ topic: 'orders', messages }), InvalidArgumentError, expected);
      await expectUnchanged(seed);
    });
  }

  it('messages that are not an array, and a record that is not an object, are InvalidArgumentError', async () => {
    const seed = await seeded();
    await expectFailure(
      () => seed.producer.send({ topic: 'orders', messages: { value: 'v' } as never }),
      InvalidArgumentError,
      'topicMessages[0] must be { topic, messages: [...] }',
    );
    await expectFailure(() => seed.producer.send(null as never), InvalidArgumentError, 'send(record): record must be an object');
    await expectFailure(
      () => seed.producer.sendBatch({ topicMessages: 'orders' as never }),
      InvalidArgumentError,
      'sendBatch: topicMessages must be an array of { topic, messages }',
    );
    await expectUnchanged(seed);
  });

  it('null and undefined mean what KafkaJS makes them mean: a tombstone, no key, no header', async () => {
    const fjord = fjordFor();
    const producer = fjord.producer();
    await producer.connect();
    await producer.send({
      topic: 't',
      messages: [{ value: null }, { key: null, value: 'a' }, { key: undefined, value: 'b', headers: { gone: undefined, empty: null as never, kept: 'x' } }],
    });
    const records = await recordsOf(fjord, 't', 0);
    expect(records.map((r) => [r.key, r.value?.toString() ?? null])).toEqual([
      [null, null],
      [null, 'a'],
      [null, 'b'],
    ]);
    expect(records[2]!.headers).toEqual({ empty: null, kept: Buffer.from('x') });
  });
});

describe('configs and options', () => {
  const shared = sharedSeed();
  const badConfigs: [string, unknown, string][] = [
    ['an unknown name', [{ name: 'retention.msec', value: '1000' }], 'unknown topic config "retention.msec"; known: cleanup.policy, retention.ms'],
    ['a name that is not a string', [{ name: 7, value: '1' }], 'unknown topic config 7'],
    ['an object value', [{ name: 'retention.ms', value: { days: 1 } }], 'topic config retention.ms must be a string, got [object Object]'],
    ['a missing value', [{ name: 'retention.ms' }], 'topic config retention.ms must be a string, got undefined'],
    ['retention.ms below -1', [{ name: 'retention.ms', value: '-2' }], 'topic config retention.ms must be in [-1, 9007199254740991], got -2'],
    ['retention.bytes as words', [{ name: 'retention.bytes', value: 'a lot' }], 'topic config retention.bytes must be an integer, got "a lot"'],
    ['segment.bytes below a batch header', [{ name: 'segment.bytes', value: '10' }], 'topic config segment.bytes must be in [61, 2147483647], got 10'],
    ['segment.bytes over 2^31 - 1', [{ name: 'segment.bytes', value: '2147483648' }], 'got 2147483648'],
    ['a negative max.message.bytes', [{ name: 'max.message.bytes', value: '-1' }], 'topic config max.message.bytes must be in [0, 2147483647], got -1'],
    ['a fractional segment.ms', [{ name: 'segment.ms', value: '0.5' }], 'topic config segment.ms must be an integer, got "0.5"'],
    ['an unknown timestamp type', [{ name: 'message.timestamp.type', value: 'Now' }], 'must be one of CreateTime, LogAppendTime, got "Now"'],
    ['configEntries that are not an array', 'retention.ms=1', 'configEntries must be an array of { name, value }, got "retention.ms=1"'],
    ['a null entry', [null], 'a config entry must be { name, value }, got null'],
  ];
  for (const [what, configEntries, message] of badConfigs) {
    it(`topic configs with ${what}: InvalidConfigError in createTopics and alterConfigs, nothing changed`, async () => {
      const seed = shared();
      const entries = configEntries as { name: string; value: string }[];
      await expectFailure(
        () => seed.admin.createTopics({ topics: [{ topic: 'fine' }, { topic: 'configured', configEntries: entries }] }),
        InvalidConfigError,
        message,
      );
      await expectFailure(
        () => seed.admin.alterConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: 'orders', configEntries: entries }] }),
        InvalidConfigError,
        message,
      );
      await expectUnchanged(seed);
    });
  }

  it('a Log refuses bad options on open and on setConfig, keeping its config', async () => {
    await expectFailure(() => Log.open(tempDir(), { segmentBytes: 10 }), InvalidConfigError, 'segmentBytes must be an integer in [61, 2147483647], got 10');
    await expectFailure(
      () => Log.open(tempDir(), { retentionMs: 5 } as never),
      InvalidConfigError,
      "unknown log option 'retentionMs'; known options: segmentBytes",
    );
    await expectFailure(() => Log.open(tempDir(), 'big' as never), InvalidConfigError, 'log options must be an object, got string');
    await expectFailure(
      () => Log.open(tempDir(), { maxMessageBytes: NaN }),
      InvalidConfigError,
      'maxMessageBytes must be an integer in [0, 2147483647], got NaN',
    );
    await expectFailure(() => Log.open('' as string), InvalidArgumentError, 'dir must be a non-empty string, got ""');
    const log = await Log.open(tempDir(), { segmentBytes: 4096 });
    const config = log.config;
    await expectFailure(
      () => log.setConfig({ segmentBytes: 4096, maxMessageBytes: -5 }),
      InvalidConfigError,
      'maxMessageBytes must be an integer in [0, 2147483647], got -5',
    );
    await expectFailure(
      () => log.setConfig({ messageTimestampType: 'Wall' as never }),
      InvalidConfigError,
      `messageTimestampType must be 'CreateTime' or 'LogAppendTime', got "Wall"`,
    );
    expect(log.config).toEqual(config);
    await log.close();
  });

  const badFjordConfigs: [string, unknown, ErrorClass, string][] = [
    ['no config', undefined, InvalidArgumentError, 'new Fjord(config): config must be an object with a dir'],
    ['an empty dir', { dir: '' }, InvalidArgumentError, 'config.dir must be a non-empty path, got ""'],
    ['a numeric dir', { dir: 5 }, InvalidArgumentError, 'config.dir must be a non-empty path, got 5'],
    ['numPartitions 0', { numPartitions: 0 }, InvalidPartitionsError, 'numPartitions must be an integer in [1, 100000], got 0'],
    ['numPartitions "2"', { numPartitions: '2' }, InvalidPartitionsError, 'got "2"'],
    ['retentionCheckIntervalMs 0', { retentionCheckIntervalMs: 0 }, InvalidArgumentError, 'retentionCheckIntervalMs must be a positive integer, got 0'],
    ['retentionCheckIntervalMs NaN', { retentionCheckIntervalMs: NaN }, InvalidArgumentError, 'retentionCheckIntervalMs must be a positive integer, got NaN'],
    [
      'a negative groupInitialRebalanceDelayMs',
      { groupInitialRebalanceDelayMs: -1 },
      InvalidArgumentError,
      'groupInitialRebalanceDelayMs must be a non-negative integer, got -1',
    ],
    ['allowAutoTopicCreation "no"', { allowAutoTopicCreation: 'no' }, InvalidArgumentError, 'allowAutoTopicCreation must be true or false, got "no"'],
    ['a clock that is a number', { clock: 1_700_000_000_000 }, InvalidArgumentError, 'clock must be a function, got 1700000000000'],
    ['a numeric clientId', { clientId: 7 }, InvalidArgumentError, 'clientId must be a string, got 7'],
    ['an onBackgroundError that is not a function', { onBackgroundError: true }, InvalidArgumentError, 'onBackgroundError must be a function, got true'],
  ];
  for (const [what, config, type, message] of badFjordConfigs) {
    it(`new Fjord with ${what} throws ${type.name} and creates no directory`, async () => {
      const dir = tempDir();
      const full = config === undefined || (config as { dir?: unknown }).dir !== undefined ? config : { dir: `${dir}/data`, ...(config as object) };
      await expectFailure(() => new Fjord(full as never), type, message);
      expect(readdirSync(dir)).toEqual([]);
    });
  }

  it('producer options of the wrong type or range are InvalidArgumentError', async () => {
    const fjord = fjordFor();
    const options: [unknown, string][] = [
      [null, 'producer config must be an object'],
      [{ lingerMs: -1 }, 'lingerMs must be a non-negative integer, got -1'],
      [{ batchSize: 0 }, 'batchSize must be an integer >= 1, got 0'],
      [{ maxRequestSize: 'big' }, 'maxRequestSize must be an integer >= 1, got "big"'],
      [{ createPartitioner: 5 }, 'createPartitioner must be a function returning a partitioner'],
    ];
    for (const [config, message] of options) await expectFailure(() => fjord.producer(config as never), InvalidArgumentError, message);
    const producer = fjord.producer();
    await producer.connect();
    await expectFailure(() => producer.send({ topic: 't', acks: 2, messages: [{ value: 'v' }] }), InvalidArgumentError, 'acks must be -1 (all), 0 or 1, got 2');
    await expectFailure(
      () => producer.send({ topic: 't', compression: 9, messages: [{ value: 'v' }] }),
      InvalidArgumentError,
      'compression must be one of CompressionTypes, got 9',
    );
    expect(await (await fjord.topics()).list()).toEqual([]);
  });

  it('consumer and run options of the wrong type or range are InvalidArgumentError', async () => {
    const seed = await seeded();
    const options: [unknown, string][] = [
      [undefined, 'consumer config must be an object with a groupId'],
      [{}, 'groupId must be a non-empty string, got undefined'],
      [{ groupId: '' }, 'groupId must be a non-empty string, got ""'],
      [{ groupId: 'c', sessionTimeout: -1 }, 'sessionTimeout must be a non-negative integer, got -1'],
      [{ groupId: 'c', maxBytes: 1.5 }, 'maxBytes must be a non-negative integer, got 1.5'],
      [{ groupId: 'c', autoOffsetReset: 'smallest' }, 'autoOffsetReset must be earliest, latest or none, got "smallest"'],
      [{ groupId: 'c', partitionAssigners: [] }, 'partitionAssigners must be a non-empty array of assigner factories'],
    ];
    for (const [config, message] of options) await expectFailure(() => seed.fjord.consumer(config as never), InvalidArgumentError, message);

    const consumer = seed.fjord.consumer({ groupId: 'c' });
    await consumer.connect();
    await consumer.subscribe({ topics: ['orders'] });
    const eachMessage = async () => undefined;
    const runs: [unknown, string][] = [
      [{}, 'run needs an eachMessage or an eachBatch handler'],
      [{ eachMessage: 'log it' }, 'eachMessage must be a function, got "log it"'],
      [{ eachMessage, partitionsConsumedConcurrently: 0 }, 'partitionsConsumedConcurrently must be an integer >= 1, got 0'],
      [{ eachMessage, autoCommitInterval: -1 }, 'autoCommitInterval must be a non-negative integer, got -1'],
      [{ eachMessage, autoCommitThreshold: 0 }, 'autoCommitThreshold must be an integer >= 1, got 0'],
      [null, 'run(config): config must be an object, got null'],
    ];
    for (const [config, message] of runs) await expectFailure(() => consumer.run(config as never), InvalidArgumentError, message);
    const listed: [() => unknown, string][] = [
      [() => consumer.pause('orders' as never), 'pause takes an array of { topic, partitions }, got "orders"'],
      [() => consumer.resume([{ topic: 'orders', partitions: 0 as never }]), 'resume: partitions of orders must be an array of partition numbers, got 0'],
      [() => consumer.assign([{ topic: 'orders' } as never]), 'this consumer uses subscribe(); subscribe and assign do not mix'],
    ];
    for (const [fn, message] of listed) await expectFailure(fn, InvalidArgumentError, message);
    expect(consumer.paused()).toEqual([]);
    const manual = seed.fjord.consumer({ groupId: 'm' });
    await manual.connect();
    await expectFailure(() => manual.assign('orders' as never), InvalidArgumentError, 'assign takes an array of { topic, partitions }, got "orders"');
    await expectFailure(
      () => manual.assign([{ topic: 'orders' } as never]),
      InvalidArgumentError,
      'assign: partitions of orders must be an array of partition numbers',
    );
    await expectUnchanged(seed);
  });
});

describe('closed and disconnected clients', () => {
  it('connect and disconnect twice resolve and report each call, as in KafkaJS', async () => {
    const fjord = fjordFor();
    const clients = [fjord.producer(), fjord.consumer({ groupId: 'twice' }), fjord.admin()];
    for (const client of clients) {
      const events: string[] = [];
      client.on(client.events.CONNECT, () => events.push('connect'));
      client.on(client.events.DISCONNECT, () => events.push('disconnect'));
      await client.disconnect();
      await client.connect();
      await client.connect();
      await client.disconnect();
      await client.disconnect();
      expect(events).toEqual(['disconnect', 'connect', 'connect', 'disconnect', 'disconnect']);
    }
  });

  it('clients used before connect or after disconnect are NotConnectedError', async () => {
    const seed = await seeded();
    const producer = seed.fjord.producer();
    await expectFailure(
      () => producer.send({ topic: 'orders', messages: [{ value: 'v' }] }),
      NotConnectedError,
      'producer is not connected: call producer.connect() first',
    );
    await producer.connect();
    await producer.disconnect();
    await expectFailure(() => producer.send({ topic: 'orders', messages: [{ value: 'v' }] }), NotConnectedError, 'producer is not connected');
    const admin = seed.fjord.admin();
    await expectFailure(() => admin.listTopics(), NotConnectedError, 'admin is not connected: call admin.connect() first');
    const consumer = seed.fjord.consumer({ groupId: 'late' });
    await expectFailure(() => consumer.subscribe({ topics: ['orders'] }), NotConnectedError, 'consumer is not connected: call consumer.connect() first');
    await expectFailure(() => consumer.poll(), NotConnectedError, 'consumer is not connected');
    await expectUnchanged(seed);
  });

  it('after Fjord.close every client and log handle refuses with a typed error, and the data is as it was', async () => {
    const seed = await seeded();
    const { fjord, admin, producer } = seed;
    const log = (await fjord.topics()).get('orders').partition(0).log;
    const consumer = fjord.consumer({ groupId: 'closing' });
    await consumer.connect();
    await fjord.close();
    await fjord.close(); // a second close resolves
    await expectFailure(() => producer.send({ topic: 'orders', messages: [{ value: 'v' }] }), NotConnectedError, 'producer is not connected');
    await expectFailure(() => admin.listTopics(), NotConnectedError, `Fjord on ${fjord.dir} is closed`);
    await expectFailure(() => consumer.subscribe({ topics: ['orders'] }), NotConnectedError, 'consumer is not connected');
    await expectFailure(() => fjord.producer().connect(), NotConnectedError, `Fjord on ${fjord.dir} is closed`);
    await expectFailure(() => fjord.admin().connect(), NotConnectedError, 'is closed');
    await expectFailure(() => fjord.runRetention(), NotConnectedError, 'is closed');
    await expectFailure(() => log.read(0), LogClosedError, 'this log handle is closed');
    await expectFailure(() => log.append(encodeBatch([{ value: 'v' }])), LogClosedError, 'this log handle is closed');

    const reopened = fjordFor({ dir: fjord.dir });
    const again = reopened.admin();
    await again.connect();
    expect(await stored(reopened, again)).toEqual(seed.before);
  });
});

describe('garbage bytes through Log.append', () => {
  const T0 = 1_700_000_000_000;
  const good = () =>
    encodeBatch([
      { key: 'k', value: 'first', timestamp: T0 },
      { value: 'second', timestamp: T0 + 1 },
    ]);

  /** Re-stamps the CRC-32C, so that only the rule under test is broken. */
  function withCrc(batch: Buffer): Buffer {
    batch.writeUInt32BE(native.crc32c(batch.subarray(21)), 17);
    return batch;
  }

  /** A batch header from `good()` over other record bytes, with the given codec. */
  function batchOver(records: Buffer, codec: number): Buffer {
    const batch = Buffer.concat([good().subarray(0, 61), records]);
    batch.writeInt32BE(batch.length - 12, 8);
    batch.writeInt16BE(codec, 21);
    return withCrc(batch);
  }

  /** Deterministic noise (xorshift32). */
  function noise(length: number, seed: number): Buffer {
    const out = Buffer.alloc(length);
    let x = seed;
    for (let i = 0; i < length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[i] = x & 0xff;
    }
    return out;
  }

  const size = good().length;
  const cases: [string, () => Uint8Array, ErrorClass, string | RegExp][] = [
    [
      'random bytes',
      () => noise(300, 7),
      InvalidRecordError,
      /^invalid record batch at byte 0 of the input: batch length (field -?\d+ is below the 49-byte minimum|says \d+ bytes but only 300 remain)$/,
    ],
    ['an empty buffer', () => Buffer.alloc(0), InvalidRecordError, 'invalid record batch at byte 0 of the input: no record batch in the append'],
    ['the first 40 bytes of a batch', () => good().subarray(0, 40), InvalidRecordError, '40 trailing bytes are shorter than a 61-byte batch header'],
    ['a batch without its last byte', () => good().subarray(0, size - 1), InvalidRecordError, `batch length says ${size} bytes but only ${size - 1} remain`],
    [
      'a flipped bit in a value',
      () => {
        const batch = good();
        batch[size - 5]! ^= 0x01;
        return batch;
      },
      CorruptRecordError,
      /^corrupt record batch at byte 0 of the input: CRC-32C is 0x[0-9a-f]{8}, the batch says 0x[0-9a-f]{8}$/,
    ],
    [
      'magic 1',
      () => {
        const batch = good();
        batch[16] = 1;
        return batch;
      },
      InvalidRecordError,
      'magic 1 is not supported, only RecordBatch v2 (magic 2)',
    ],
    [
      'magic 255',
      () => {
        const batch = good();
        batch[16] = 255;
        return batch;
      },
      InvalidRecordError,
      'magic -1 is not supported',
    ],
    [
      'a batchLength 100 bytes too long',
      () => {
        const batch = good();
        batch.writeInt32BE(batch.length - 12 + 100, 8);
        return batch;
      },
      InvalidRecordError,
      `batch length says ${size + 100} bytes but only ${size} remain`,
    ],
    [
      'a batchLength 5 bytes too short',
      () => {
        const batch = good();
        batch.writeInt32BE(batch.length - 12 - 5, 8);
        return batch;
      },
      CorruptRecordError,
      'corrupt record batch at byte 0 of the input: CRC-32C is',
    ],
    [
      'a negative batchLength',
      () => {
        const batch = good();
        batch.writeInt32BE(-1, 8);
        return batch;
      },
      InvalidRecordError,
      'batch length field -1 is below the 49-byte minimum',
    ],
    [
      'a record count that lies (valid CRC)',
      () => {
        const batch = good();
        batch.writeInt32BE(5, 57);
        batch.writeInt32BE(4, 23);
        return withCrc(batch);
      },
      InvalidRecordError,
      'invalid record batch at byte 0 of the input: record 2: bad length varint',
    ],
    [
      'a lastOffsetDelta that lies (valid CRC)',
      () => {
        const batch = good();
        batch.writeInt32BE(7, 23);
        return withCrc(batch);
      },
      InvalidRecordError,
      'lastOffsetDelta 7 does not match 2 records',
    ],
    [
      'codec 7 (valid CRC)',
      () => {
        const batch = good();
        batch.writeInt16BE(7, 21);
        return withCrc(batch);
      },
      InvalidRecordError,
      'unknown compression codec 7',
    ],
    [
      'gzip-flagged bytes that are not gzip (valid CRC)',
      () => batchOver(Buffer.from('plain text, not a gzip stream'), 1),
      InvalidRecordError,
      'invalid record batch at byte 0 of the input: gzip records do not decompress: incorrect header check',
    ],
    [
      'gzip of bytes that are not records (valid CRC)',
      () => batchOver(gzipSync(noise(64, 3)), 1),
      InvalidRecordError,
      /^invalid record batch at byte 0 of the input: gzip record 0: /,
    ],
    [
      'gzip records with a bad offsetDelta (valid CRC)',
      () => {
        const plain = good().subarray(61);
        const records = Buffer.from(plain);
        records[3] = 0x04; // record 0: offsetDelta varint 2 (zigzag 4) instead of 0
        return batchOver(gzipSync(records), 1);
      },
      InvalidRecordError,
      'gzip record 0: offsetDelta is 2',
    ],
    [
      'a baseTimestamp beyond 2^53 (valid CRC)',
      () => {
        const batch = good();
        batch.writeBigInt64BE(2n ** 60n, 27);
        return withCrc(batch);
      },
      InvalidRecordError,
      'baseTimestamp 1152921504606846976 is outside the range Fjord reads',
    ],
    [
      'a good batch followed by a truncated one',
      () => Buffer.concat([good(), good().subarray(0, 70)]),
      InvalidRecordError,
      `invalid record batch at byte ${size} of the input: batch length says ${size} bytes but only 70 remain`,
    ],
    [
      'a good batch followed by a corrupt one',
      () => {
        const second = good();
        second[size - 1]! ^= 0xff;
        return Buffer.concat([good(), second]);
      },
      CorruptRecordError,
      `corrupt record batch at byte ${size} of the input`,
    ],
    [
      'a good batch followed by 3 stray bytes',
      () => Buffer.concat([good(), Buffer.from([1, 2, 3])]),
      InvalidRecordError,
      `invalid record batch at byte ${size} of the input: 3 trailing bytes are shorter than a 61-byte batch header`,
    ],
  ];

  for (const [what, bytes, type, message] of cases) {
    it(`rejects ${what} with ${type.name}, appending nothing`, async () => {
      const log = await Log.open(tempDir(), { segmentBytes: 1024 });
      for (let i = 0; i < 8; i++) log.append(good());
      const before = logState(log);
      await expectFailure(() => log.append(bytes()), type, message);
      expect(logState(log)).toEqual(before);
      // The log goes on at the same offset.
      expect(log.append(good()).baseOffset).toBe(16);
      await log.close();
    });
  }

  it('refuses what is not a Uint8Array, and a bad clock, with InvalidArgumentError; accepts a plain Uint8Array', async () => {
    const log = await Log.open(tempDir());
    log.append(good());
    const before = logState(log);
    const inputs: [unknown, string][] = [
      ['a string', 'got "a string"'],
      [42, 'got 42'],
      [[0, 0, 0], 'got [object Array]'],
      [new ArrayBuffer(70), 'got [object ArrayBuffer]'],
      [null, 'got null'],
    ];
    for (const [input, message] of inputs) {
      await expectFailure(
        () => log.append(input as Uint8Array),
        InvalidArgumentError,
        `batches must be a Buffer or Uint8Array of RecordBatch v2 bytes, ${message}`,
      );
    }
    await expectFailure(() => log.append(good(), { now: 1.5 }), InvalidArgumentError, 'now must be an integer timestamp, got 1.5');
    expect(logState(log)).toEqual(before);
    const gzipped = encodeBatch([{ value: 'zipped' }], { compression: 'gzip' });
    expect(log.append(new Uint8Array(gzipped)).baseOffset).toBe(2);
    await log.close();
  });
});
