// The producer on the store: partitioning, batching, size limits, acks and
// group commit, and typed errors for bad input. Records are read back with
// the Log API of each partition.
import { describe, expect, it } from 'vitest';

import {
  CompressionTypes,
  encodeBatch,
  InvalidArgumentError,
  InvalidTopicError,
  NotConnectedError,
  partitionForKey,
  RecordTooLargeError,
  toPositive,
  UnknownTopicOrPartitionError,
  UnsupportedFeatureError,
  type Fjord,
  type Message,
  type RecordMetadata,
} from '../src/index.js';
import { batchesOf, fjordFor, logOf, recordsOf, valuesOf } from './fjord-kit.js';

const T0 = 1_700_000_000_000;

async function withTopic(fjord: Fjord, topic: string, numPartitions: number, configEntries: { name: string; value: string }[] = []): Promise<void> {
  const admin = fjord.admin();
  await admin.connect();
  expect(await admin.createTopics({ topics: [{ topic, numPartitions, configEntries }] })).toBe(true);
  await admin.disconnect();
}

async function endOffsets(fjord: Fjord, topic: string): Promise<number[]> {
  return (await fjord.topics()).get(topic).partitions.map((p) => p.log.logEndOffset);
}

function meta(topicName: string, partition: number, baseOffset: number): RecordMetadata {
  return { topicName, partition, errorCode: 0, baseOffset: String(baseOffset), logAppendTime: '-1', logStartOffset: '0' };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('ordering under concurrency', () => {
  it('keeps per-partition order for 64 concurrent senders: each sender increasing in every partition, nothing lost or duplicated', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'orders', 4);
    const producer = fjord.producer();
    await producer.connect();
    const SENDERS = 64;
    const SENDS = 20;
    const acked: { sender: number; partition: number; offset: number }[] = [];

    await Promise.all(
      range(SENDERS).map(async (sender) => {
        for (let send = 0; send < SENDS; send++) {
          // Even senders key every record (one partition each); odd senders go round-robin.
          const key = sender % 2 === 0 ? `sender-${sender}` : null;
          const seqs = [2 * send, 2 * send + 1];
          const result = await producer.send({
            topic: 'orders',
            acks: send % 5 === 0 ? -1 : 1,
            messages: seqs.map((seq) => ({ key, value: `${sender}:${seq}` })),
          });
          expect(result.every((r) => r.errorCode === 0 && r.topicName === 'orders')).toBe(true);
          for (const r of result) acked.push({ sender, partition: r.partition, offset: Number(r.baseOffset) });
        }
      }),
    );

    const seen = new Map<string, { partition: number; offset: number }>();
    const at = new Map<string, string>();
    for (const partition of range(4)) {
      const lastSeq = new Map<number, number>();
      const records = await recordsOf(fjord, 'orders', partition);
      expect(records.map((r) => r.offset)).toEqual(range(records.length));
      for (const record of records) {
        const value = record.value!.toString();
        const [sender, seq] = value.split(':').map(Number) as [number, number];
        expect(seen.has(value), `duplicate ${value}`).toBe(false);
        seen.set(value, { partition, offset: record.offset });
        at.set(`${partition}@${record.offset}`, value);
        expect(seq, `sender ${sender} in partition ${partition}`).toBeGreaterThan(lastSeq.get(sender) ?? -1);
        lastSeq.set(sender, seq);
        if (sender % 2 === 0) {
          expect(partition).toBe(partitionForKey(Buffer.from(`sender-${sender}`), 4));
          expect(record.key).toEqual(Buffer.from(`sender-${sender}`));
        } else {
          expect(record.key).toBeNull();
        }
      }
    }
    expect(seen.size).toBe(SENDERS * SENDS * 2);
    // Every baseOffset a send resolved with holds a record of that sender.
    expect(acked.length).toBe(SENDERS * SENDS * 1.5); // keyed sends touch one partition, keyless sends two
    for (const { sender, partition, offset } of acked) expect(at.get(`${partition}@${offset}`)?.startsWith(`${sender}:`)).toBe(true);
    await producer.disconnect();
  });
});

describe('partitioning', () => {
  it("lands keyed records on Kafka's partitions: toPositive(murmur2(key)) % n with the vectors of Kafka's UtilsTest", async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'keyed', 10);
    const producer = fjord.producer();
    await producer.connect();
    // [key, murmur2 from Kafka's UtilsTest, partition of 10 computed by hand]
    const vectors: [string, number, number][] = [
      ['21', -973932308, 0],
      ['foobar', -790332482, 6],
      ['a-little-bit-long-string', -985981536, 2],
      ['a-little-bit-longer-string', -1486304829, 9],
      ['abc', 479470107, 7],
    ];
    for (const [key, hash, expected] of vectors) {
      expect(toPositive(hash) % 10).toBe(expected);
      expect(partitionForKey(Buffer.from(key), 10)).toBe(expected);
      const [string] = await producer.send({ topic: 'keyed', acks: 1, messages: [{ key, value: `string ${key}` }] });
      const [buffer] = await producer.send({ topic: 'keyed', acks: 1, messages: [{ key: Buffer.from(key), value: `buffer ${key}` }] });
      expect([string!.partition, buffer!.partition]).toEqual([expected, expected]);
    }
    expect(await valuesOf(fjord, 'keyed', 6)).toEqual(['string foobar', 'buffer foobar']);
    expect(await valuesOf(fjord, 'keyed', 7)).toEqual(['string abc', 'buffer abc']);
    // Binary keys hash their bytes, an empty key is still a key.
    const binary = Buffer.from([0x00, 0xff, 0x80, 0x7f, 0x01]);
    const [b] = await producer.send({ topic: 'keyed', acks: 1, messages: [{ key: binary, value: 'bin' }] });
    const [e] = await producer.send({ topic: 'keyed', acks: 1, messages: [{ key: '', value: 'empty' }] });
    expect([b!.partition, e!.partition]).toEqual([partitionForKey(binary, 10), partitionForKey(Buffer.alloc(0), 10)]);
    await producer.disconnect();
  });

  it('round-robins keyless records over the partitions in id order, per topic, from partition 0', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'rr-a', 3);
    await withTopic(fjord, 'rr-b', 2);
    const producer = fjord.producer();
    await producer.connect();
    const result = await producer.send({ topic: 'rr-a', acks: 1, messages: range(7).map((i) => ({ value: `a${i}` })) });
    expect(result).toEqual([meta('rr-a', 0, 0), meta('rr-a', 1, 0), meta('rr-a', 2, 0)]);
    expect(await valuesOf(fjord, 'rr-a', 0)).toEqual(['a0', 'a3', 'a6']);
    expect(await valuesOf(fjord, 'rr-a', 1)).toEqual(['a1', 'a4']);
    expect(await valuesOf(fjord, 'rr-a', 2)).toEqual(['a2', 'a5']);
    // Another topic has its own counter; the first topic's goes on where it was.
    await producer.send({ topic: 'rr-b', acks: 1, messages: [{ value: 'b0' }, { value: 'b1' }, { value: 'b2' }] });
    await producer.send({ topic: 'rr-a', acks: 1, messages: [{ value: 'a7' }, { value: 'a8', key: null }] });
    expect(await valuesOf(fjord, 'rr-b', 0)).toEqual(['b0', 'b2']);
    expect(await valuesOf(fjord, 'rr-b', 1)).toEqual(['b1']);
    expect(await valuesOf(fjord, 'rr-a', 1)).toEqual(['a1', 'a4', 'a7']);
    expect(await valuesOf(fjord, 'rr-a', 2)).toEqual(['a2', 'a5', 'a8']);
    await producer.disconnect();
  });

  it('an explicit partition wins over the key', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'explicit', 10);
    const producer = fjord.producer();
    await producer.connect();
    expect(await producer.send({ topic: 'explicit', acks: 1, messages: [{ key: 'foobar', value: 'v', partition: 3 }] })).toEqual([meta('explicit', 3, 0)]);
    await producer.disconnect();
  });
});

describe('batching', () => {
  it('gathers 100 concurrent one-record sends into one RecordBatch within lingerMs', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'gathered', 1);
    const producer = fjord.producer({ lingerMs: 5 });
    await producer.connect();
    const results = await Promise.all(range(100).map((i) => producer.send({ topic: 'gathered', acks: 1, messages: [{ value: `v${i}` }] })));
    expect(results.map((r) => r[0]!.baseOffset)).toEqual(range(100).map(String));
    const batches = await batchesOf(fjord, 'gathered', 0);
    expect(batches.length).toBeLessThan(100);
    // All 100 were queued before the linger timer fired: one batch.
    expect(batches.map((b) => [b.baseOffset, b.lastOffset, b.recordCount])).toEqual([[0, 99, 100]]);
    expect(await valuesOf(fjord, 'gathered', 0)).toEqual(range(100).map((i) => `v${i}`));
    await producer.disconnect();
  });

  it('gives a record larger than batchSize a batch of its own and writes large values exactly (spliced in by the store)', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'large', 1);
    const producer = fjord.producer();
    await producer.connect();
    const big = (i: number) => Buffer.alloc(20_000 + i, i);
    const messages = [{ value: 'a' }, { value: big(1) }, { value: big(2) }, { value: 'b' }, { value: 'c' }, { key: 'k', value: big(3) }];
    expect(await producer.send({ topic: 'large', acks: 1, messages })).toEqual([meta('large', 0, 0)]);
    const batches = await batchesOf(fjord, 'large', 0);
    expect(batches.map((b) => [b.baseOffset, b.recordCount])).toEqual([
      [0, 1],
      [1, 1],
      [2, 1],
      [3, 2],
      [5, 1],
    ]);
    const records = await recordsOf(fjord, 'large', 0);
    expect(records.map((r) => r.value)).toEqual(messages.map((m) => (typeof m.value === 'string' ? Buffer.from(m.value) : m.value)));
    expect(records[5]!.key).toEqual(Buffer.from('k'));
    await producer.disconnect();
  });

  it('splits a large send into several batches, each at most batchSize plus one record', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'split', 1);
    const batchSize = 1000;
    const producer = fjord.producer({ batchSize });
    await producer.connect();
    const messages = range(50).map((i) => ({ key: `k${i}`, value: Buffer.alloc(100, i) }));
    const oneRecord = encodeBatch([messages[0]!]).length - 61;
    expect(await producer.send({ topic: 'split', acks: 1, messages })).toEqual([meta('split', 0, 0)]);
    const batches = await batchesOf(fjord, 'split', 0);
    expect(batches.length).toBeGreaterThan(1);
    for (const batch of batches) expect(batch.size).toBeLessThanOrEqual(batchSize + oneRecord);
    expect(batches.reduce((n, b) => n + b.recordCount, 0)).toBe(50);
    expect(batches.map((b) => b.baseOffset)).toEqual(batches.map((_, i) => (i === 0 ? 0 : batches[i - 1]!.lastOffset + 1)));
    const records = await recordsOf(fjord, 'split', 0);
    expect(records.map((r) => [r.offset, r.key!.toString(), r.value![0]])).toEqual(range(50).map((i) => [i, `k${i}`, i]));
    await producer.disconnect();
  });

  it('a send bigger than batchSize resolves only once all its records are appended (acks 1) and synced (acks -1)', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'split', 1);
    const producer = fjord.producer({ batchSize: 1000 });
    await producer.connect();
    const partition = (await fjord.topics()).get('split').partition(0);
    const messages = range(50).map((i) => ({ value: Buffer.alloc(100, i) }));
    await producer.send({ topic: 'split', acks: 1, messages });
    expect(partition.log.logEndOffset).toBe(50);
    const flushes = partition.durability.flushes;
    let synced = -1;
    const original = partition.log.flush.bind(partition.log);
    partition.log.flush = async () => {
      const end = partition.log.logEndOffset;
      await original();
      synced = Math.max(synced, end);
    };
    await producer.send({ topic: 'split', acks: -1, messages });
    expect(partition.log.logEndOffset).toBe(100);
    expect(partition.durability.flushes).toBeGreaterThan(flushes);
    expect(synced).toBe(100); // the fsync that resolved the send started after its last record was appended
    await producer.disconnect();
  });
});

describe('size limits', () => {
  it("rejects a record over the producer's maxRequestSize alone, naming size and limit, and writes the rest of the request", async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'limits', 1);
    const producer = fjord.producer({ maxRequestSize: 10_000 });
    await producer.connect();
    const big = Buffer.alloc(20_000, 7);
    const size = encodeBatch([{ key: null, value: big }]).length;
    const sending = producer.send({ topic: 'limits', messages: [{ value: 'before' }, { value: big }, { value: 'after' }] });
    const error = await sending.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecordTooLargeError);
    expect((error as RecordTooLargeError).message).toContain(`${size} bytes`);
    expect((error as RecordTooLargeError).message).toContain("the producer's maxRequestSize (10000 bytes)");
    expect((error as RecordTooLargeError).kafkaErrorCode).toBe(10);
    expect((error as RecordTooLargeError).recordMetadata).toEqual([meta('limits', 0, 0)]);
    expect(await valuesOf(fjord, 'limits', 0)).toEqual(['before', 'after']);
    // The producer carries on.
    expect(await producer.send({ topic: 'limits', messages: [{ value: Buffer.alloc(9_000) }] })).toEqual([meta('limits', 0, 2)]);
    await producer.disconnect();
  });

  it("rejects a record over the topic's max.message.bytes alone, naming size and limit, across a sendBatch", async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'small-messages', 2, [{ name: 'max.message.bytes', value: '5000' }]);
    await withTopic(fjord, 'other', 1);
    const producer = fjord.producer();
    await producer.connect();
    const big = Buffer.alloc(8_000, 1);
    const size = encodeBatch([{ key: null, value: big }]).length;
    const error = await producer
      .sendBatch({
        topicMessages: [
          {
            topic: 'small-messages',
            messages: [
              { value: 'a', partition: 0 },
              { value: big, partition: 1 },
              { value: 'b', partition: 1 },
            ],
          },
          { topic: 'other', messages: [{ value: big }] },
        ],
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecordTooLargeError);
    expect((error as RecordTooLargeError).message).toBe(
      `a record for small-messages-1 is ${size} bytes as a batch, larger than max.message.bytes of topic small-messages (5000 bytes)`,
    );
    expect((error as RecordTooLargeError).recordMetadata).toEqual([meta('small-messages', 0, 0), meta('small-messages', 1, 0), meta('other', 0, 0)]);
    expect(await valuesOf(fjord, 'small-messages', 0)).toEqual(['a']);
    expect(await valuesOf(fjord, 'small-messages', 1)).toEqual(['b']);
    expect((await recordsOf(fjord, 'other', 0)).map((r) => r.value!.length)).toEqual([8_000]);
    await producer.disconnect();
  });

  it('acks=0 also rejects an oversized record (refused before queueing) and queues the rest', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'limits', 1);
    const producer = fjord.producer({ maxRequestSize: 10_000 });
    await producer.connect();
    const error = await producer.send({ topic: 'limits', acks: 0, messages: [{ value: 'ok' }, { value: Buffer.alloc(20_000) }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecordTooLargeError);
    expect((error as RecordTooLargeError).recordMetadata).toEqual([
      { topicName: 'limits', partition: 0, errorCode: 0, baseOffset: '-1', logAppendTime: '-1', logStartOffset: '-1' },
    ]);
    await producer.disconnect();
    expect(await valuesOf(fjord, 'limits', 0)).toEqual(['ok']);
  });

  it('applies max.message.bytes to the compressed batch: a gzip record that compresses under the limit is accepted', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'compressible', 1, [{ name: 'max.message.bytes', value: '5000' }]);
    const producer = fjord.producer();
    await producer.connect();
    const zeros = Buffer.alloc(50_000);
    expect(await producer.send({ topic: 'compressible', compression: CompressionTypes.GZIP, messages: [{ value: zeros }] })).toEqual([
      meta('compressible', 0, 0),
    ]);
    await expect(producer.send({ topic: 'compressible', messages: [{ value: zeros }] })).rejects.toThrow(RecordTooLargeError);
    expect((await recordsOf(fjord, 'compressible', 0)).map((r) => r.value!.equals(zeros))).toEqual([true]);
    await producer.disconnect();
  });
});

describe('acks', () => {
  it('acks=0 resolves with baseOffset -1 once queued; the record is in the log by the next turn of the event loop', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'fire', 1);
    const producer = fjord.producer();
    await producer.connect();
    expect(await producer.send({ topic: 'fire', acks: 0, messages: [{ value: 'x' }] })).toEqual([
      { topicName: 'fire', partition: 0, errorCode: 0, baseOffset: '-1', logAppendTime: '-1', logStartOffset: '-1' },
    ]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(await valuesOf(fjord, 'fire', 0)).toEqual(['x']);
    const partition = (await fjord.topics()).get('fire').partition(0);
    expect(partition.durability.flushes).toBe(0);
    await producer.disconnect();
  });

  it('acks=0 with a long linger: the queued record is written by disconnect', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'fire', 1);
    const producer = fjord.producer({ lingerMs: 10_000 });
    await producer.connect();
    expect((await producer.send({ topic: 'fire', acks: 0, messages: [{ value: 'x' }] }))[0]!.baseOffset).toBe('-1');
    expect(await valuesOf(fjord, 'fire', 0)).toEqual([]);
    await producer.disconnect();
    expect(await valuesOf(fjord, 'fire', 0)).toEqual(['x']);
  });

  it('acks=1: the record is readable as soon as the send resolves, without an fsync', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'leader', 1);
    const producer = fjord.producer();
    await producer.connect();
    const partition = (await fjord.topics()).get('leader').partition(0);
    for (let i = 0; i < 5; i++) {
      const [result] = await producer.send({ topic: 'leader', acks: 1, messages: [{ value: `v${i}` }] });
      expect(result).toEqual(meta('leader', 0, i));
      expect(partition.log.logEndOffset).toBe(i + 1);
      expect((await recordsOf(fjord, 'leader', 0)).at(-1)!.value!.toString()).toBe(`v${i}`);
    }
    expect(partition.durability.flushes).toBe(0);
    await producer.disconnect();
  });

  it("acks=-1 and 'all' resolve after an fsync of the partition", async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'durable', 1);
    const producer = fjord.producer();
    await producer.connect();
    const partition = (await fjord.topics()).get('durable').partition(0);
    expect(await producer.send({ topic: 'durable', acks: -1, messages: [{ value: 'a' }] })).toEqual([meta('durable', 0, 0)]);
    expect(partition.durability.flushes).toBe(1);
    // KafkaJS types acks as a number; Kafka's 'all' is accepted too.
    expect(await producer.send({ topic: 'durable', acks: 'all' as unknown as number, messages: [{ value: 'b' }] })).toEqual([meta('durable', 0, 1)]);
    expect(partition.durability.flushes).toBe(2);
    // The default is -1 (all), as in KafkaJS.
    expect(await producer.send({ topic: 'durable', messages: [{ value: 'c' }] })).toEqual([meta('durable', 0, 2)]);
    expect(partition.durability.flushes).toBe(3);
    await producer.disconnect();
  });

  it('group commit: 64 concurrent acks=-1 sends all resolve, sharing far fewer fsyncs than sends', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'group', 1);
    const producer = fjord.producer();
    await producer.connect();
    const partition = (await fjord.topics()).get('group').partition(0);
    const SENDS = 64;
    const results = await Promise.all(range(SENDS).map((i) => producer.send({ topic: 'group', acks: -1, messages: [{ value: `v${i}` }] })));
    expect(results.map((r) => r[0]!.baseOffset).sort((a, b) => Number(a) - Number(b))).toEqual(range(SENDS).map(String));
    expect(partition.durability.flushes).toBeGreaterThanOrEqual(1);
    expect(partition.durability.flushes).toBeLessThan(SENDS);
    // The 64 sends are appended in one turn, before the first of them starts an fsync: that one covers them all.
    expect(partition.durability.flushes).toBe(1);
    await producer.disconnect();
  });
});

describe('event loop', () => {
  it('lets the event loop turn while 16 concurrent senders fill batches (no starvation by promise chains)', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'turns', 1);
    const producer = fjord.producer({ batchSize: 1024 });
    await producer.connect();
    let turns = 0;
    let sending = true;
    const tick = () => {
      turns++;
      if (sending) setImmediate(tick);
    };
    setImmediate(tick);
    const value = Buffer.alloc(100, 7);
    await Promise.all(
      range(16).map(async () => {
        for (let i = 0; i < 50; i++) await producer.send({ topic: 'turns', acks: 1, messages: range(20).map(() => ({ value })) });
      }),
    );
    sending = false;
    // Every flush waits for the next turn of the loop: 800 sends cannot finish in a handful of turns.
    expect(turns).toBeGreaterThanOrEqual(50);
    expect(await endOffsets(fjord, 'turns')).toEqual([16 * 50 * 20]);
    await producer.disconnect();
  });
});

describe('records round trip', () => {
  it('tombstones, string and Buffer keys and values, headers and timestamps come back as sent', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'shapes', 1);
    const producer = fjord.producer();
    await producer.connect();
    const binary = Buffer.from([0, 1, 2, 253, 254, 255]);
    await producer.send({
      topic: 'shapes',
      messages: [
        { key: 'user-1', value: null, timestamp: T0 },
        { key: binary, value: binary, timestamp: String(T0 + 1) },
        { value: 'no key', timestamp: T0 + 2, headers: { one: 'x', many: ['a', Buffer.from('b')], bin: binary, skipped: undefined } },
        { key: null, value: '', timestamp: T0 + 3, headers: {} },
        { key: 'ünïcødé', value: 'välue ✓', timestamp: T0 + 4 },
      ],
    });
    expect(await recordsOf(fjord, 'shapes', 0)).toEqual([
      { offset: 0, timestamp: T0, key: Buffer.from('user-1'), value: null, headers: {} },
      { offset: 1, timestamp: T0 + 1, key: binary, value: binary, headers: {} },
      {
        offset: 2,
        timestamp: T0 + 2,
        key: null,
        value: Buffer.from('no key'),
        headers: { one: Buffer.from('x'), many: [Buffer.from('a'), Buffer.from('b')], bin: binary },
      },
      { offset: 3, timestamp: T0 + 3, key: null, value: Buffer.alloc(0), headers: {} },
      { offset: 4, timestamp: T0 + 4, key: Buffer.from('ünïcødé'), value: Buffer.from('välue ✓'), headers: {} },
    ]);
    await producer.disconnect();
  });

  it("a record without a timestamp gets Fjord's clock", async () => {
    const fjord = fjordFor({ clock: () => T0 + 42 });
    await withTopic(fjord, 'clocked', 1);
    const producer = fjord.producer();
    await producer.connect();
    await producer.send({ topic: 'clocked', messages: [{ value: 'v' }] });
    expect((await recordsOf(fjord, 'clocked', 0))[0]!.timestamp).toBe(T0 + 42);
    await producer.disconnect();
  });

  it('a LogAppendTime topic stamps the append time and returns it as logAppendTime', async () => {
    const appendTime = 1_800_000_000_000;
    const fjord = fjordFor({ clock: () => appendTime });
    await withTopic(fjord, 'appended', 1, [{ name: 'message.timestamp.type', value: 'LogAppendTime' }]);
    const producer = fjord.producer();
    await producer.connect();
    const result = await producer.send({
      topic: 'appended',
      acks: 1,
      messages: [
        { value: 'a', timestamp: T0 },
        { value: 'b', timestamp: 1 },
      ],
    });
    expect(result).toEqual([{ topicName: 'appended', partition: 0, errorCode: 0, baseOffset: '0', logAppendTime: String(appendTime), logStartOffset: '0' }]);
    expect((await recordsOf(fjord, 'appended', 0)).map((r) => r.timestamp)).toEqual([appendTime, appendTime]);
    await producer.disconnect();
  });

  it('gzip: a compressed batch round trips keys, values and headers', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'zipped', 1);
    const producer = fjord.producer();
    await producer.connect();
    const messages: Message[] = range(20).map((i) => ({ key: `k${i}`, value: `value ${i} `.repeat(20), headers: { i: String(i) }, timestamp: T0 + i }));
    await producer.send({ topic: 'zipped', compression: CompressionTypes.GZIP, messages });
    const batches = await batchesOf(fjord, 'zipped', 0);
    expect(batches.map((b) => [b.recordCount, b.attributes & 7])).toEqual([[20, 1]]);
    expect(batches[0]!.size).toBeLessThan(messages.reduce((n, m) => n + Buffer.byteLength(m.value as string), 0));
    expect(await recordsOf(fjord, 'zipped', 0)).toEqual(
      messages.map((m, i) => ({
        offset: i,
        timestamp: T0 + i,
        key: Buffer.from(`k${i}`),
        value: Buffer.from(m.value as string),
        headers: { i: Buffer.from(String(i)) },
      })),
    );
    await producer.disconnect();
  });
});

describe('bad input gets a typed error and writes nothing', () => {
  const cases: [string, (topic: string) => Parameters<ReturnType<Fjord['producer']>['send']>[0], new (...args: never[]) => Error][] = [
    ['a message that is not an object', (topic) => ({ topic, messages: [{ value: 'ok' }, 'hello' as unknown as Message] }), InvalidArgumentError],
    ['a message without value', (topic) => ({ topic, messages: [{ value: 'ok' }, { key: 'k' } as unknown as Message] }), InvalidArgumentError],
    ['a number value', (topic) => ({ topic, messages: [{ value: 'ok' }, { value: 42 } as unknown as Message] }), InvalidArgumentError],
    ['an object key', (topic) => ({ topic, messages: [{ value: 'ok' }, { key: { id: 1 }, value: 'v' } as unknown as Message] }), InvalidArgumentError],
    [
      'a number header value',
      (topic) => ({ topic, messages: [{ value: 'ok' }, { value: 'v', headers: { h: 1 } } as unknown as Message] }),
      InvalidArgumentError,
    ],
    ['messages that are not an array', (topic) => ({ topic, messages: { value: 'v' } as unknown as Message[] }), InvalidArgumentError],
    ['acks 2', (topic) => ({ topic, acks: 2, messages: [{ value: 'ok' }] }), InvalidArgumentError],
    ['an unknown compression', (topic) => ({ topic, compression: 9, messages: [{ value: 'ok' }] }), InvalidArgumentError],
    ['an explicit partition out of range', (topic) => ({ topic, messages: [{ value: 'ok' }, { value: 'v', partition: 2 }] }), UnknownTopicOrPartitionError],
    ['a negative explicit partition', (topic) => ({ topic, messages: [{ value: 'ok' }, { value: 'v', partition: -1 }] }), UnknownTopicOrPartitionError],
  ];
  for (const [what, record, type] of cases) {
    it(`${what} → ${type.name}`, async () => {
      const fjord = fjordFor();
      await withTopic(fjord, 'strict', 2);
      const producer = fjord.producer();
      await producer.connect();
      await expect(producer.send(record('strict'))).rejects.toThrow(type);
      await new Promise((resolve) => setImmediate(resolve));
      expect(await endOffsets(fjord, 'strict')).toEqual([0, 0]);
      await producer.disconnect();
      expect(await endOffsets(fjord, 'strict')).toEqual([0, 0]);
    });
  }

  it('a bad timestamp is refused before queueing, so a concurrent send sharing the batch is unaffected', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'strict', 1);
    const producer = fjord.producer();
    await producer.connect();
    const good = producer.send({ topic: 'strict', acks: 1, messages: [{ value: 'good' }] });
    const bad = producer.send({ topic: 'strict', acks: 1, messages: [{ value: 'ok' }, { value: 'bad', timestamp: 'yesterday' }] });
    const worse = producer.send({ topic: 'strict', acks: 1, messages: [{ value: 'bad', timestamp: 1.5 }] });
    await expect(bad).rejects.toThrow(InvalidArgumentError);
    await expect(worse).rejects.toThrow(InvalidArgumentError);
    expect(await good).toEqual([meta('strict', 0, 0)]);
    expect(await valuesOf(fjord, 'strict', 0)).toEqual(['good']);
    await producer.disconnect();
  });

  it('send before connect and after disconnect → NotConnectedError', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'strict', 1);
    const producer = fjord.producer();
    await expect(producer.send({ topic: 'strict', messages: [{ value: 'v' }] })).rejects.toThrow(NotConnectedError);
    await producer.connect();
    await producer.disconnect();
    await expect(producer.send({ topic: 'strict', messages: [{ value: 'v' }] })).rejects.toThrow(NotConnectedError);
    await expect(producer.sendBatch({ topicMessages: [{ topic: 'strict', messages: [{ value: 'v' }] }] })).rejects.toThrow(NotConnectedError);
    expect(await endOffsets(fjord, 'strict')).toEqual([0]);
  });

  it('an unknown topic with allowAutoTopicCreation false → UnknownTopicOrPartitionError, and the topic is not created', async () => {
    const fjord = fjordFor();
    for (const producer of [fjord.producer({ allowAutoTopicCreation: false }), fjordFor({ allowAutoTopicCreation: false }).producer()]) {
      await producer.connect();
      await expect(producer.send({ topic: 'missing', messages: [{ value: 'v' }] })).rejects.toThrow(UnknownTopicOrPartitionError);
      await producer.disconnect();
    }
    expect((await fjord.topics()).has('missing')).toBe(false);
  });

  it('an invalid topic name → InvalidTopicError, whether or not topics are auto-created', async () => {
    const fjord = fjordFor();
    for (const producer of [fjord.producer(), fjord.producer({ allowAutoTopicCreation: false })]) {
      await producer.connect();
      await expect(producer.send({ topic: 'bad topic', messages: [{ value: 'v' }] })).rejects.toThrow(InvalidTopicError);
      await expect(producer.send({ topic: '', messages: [{ value: 'v' }] })).rejects.toThrow(InvalidTopicError);
      await expect(producer.send({ topic: 42 as unknown as string, messages: [{ value: 'v' }] })).rejects.toThrow(InvalidTopicError);
      await producer.disconnect();
    }
    expect((await fjord.topics()).list()).toEqual([]);
  });

  it('bad producer options → InvalidArgumentError', () => {
    const fjord = fjordFor();
    expect(() => fjord.producer({ lingerMs: -1 })).toThrow(InvalidArgumentError);
    expect(() => fjord.producer({ batchSize: 0 })).toThrow(InvalidArgumentError);
    expect(() => fjord.producer({ maxRequestSize: 1.5 })).toThrow(InvalidArgumentError);
    expect(() => fjord.producer({ createPartitioner: 'murmur2' as never })).toThrow(InvalidArgumentError);
    expect(() => fjord.producer({ bufferMemory: 0 })).toThrow(InvalidArgumentError);
    expect(() => fjord.producer({ bufferMemory: '32mb' as never })).toThrow(InvalidArgumentError);
    expect(() => fjord.producer({ maxBlockMs: -1 })).toThrow(InvalidArgumentError);
    expect(() => fjord.producer({ maxBlockMs: 1.5 })).toThrow(InvalidArgumentError);
  });
});

describe('transactions (not supported yet)', () => {
  it('a producer with a transactionalId is refused at construction with UnsupportedFeatureError naming the feature', () => {
    const fjord = fjordFor();
    let error: unknown;
    try {
      fjord.producer({ transactionalId: 'payments' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UnsupportedFeatureError);
    expect(error).toMatchObject({ code: 'ERR_UNSUPPORTED_FEATURE', feature: 'transactions', type: 'UNSUPPORTED_VERSION', kafkaErrorCode: 35 });
    expect((error as Error).message).toMatch(/^transactions are not supported yet/);
  });

  it('producer.transaction() rejects with UnsupportedFeatureError', async () => {
    const fjord = fjordFor();
    const producer = fjord.producer();
    await producer.connect();
    await expect(producer.transaction()).rejects.toThrow(UnsupportedFeatureError);
    await expect(producer.transaction()).rejects.toMatchObject({ feature: 'transactions' });
    await producer.disconnect();
  });
});

describe('topics and lifecycle', () => {
  it("auto-creates an unknown topic with Fjord's numPartitions", async () => {
    const fjord = fjordFor({ numPartitions: 3 });
    const producer = fjord.producer();
    await producer.connect();
    const result = await producer.send({ topic: 'auto', acks: 1, messages: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] });
    expect(result).toEqual([meta('auto', 0, 0), meta('auto', 1, 0), meta('auto', 2, 0)]);
    const admin = fjord.admin();
    await admin.connect();
    expect((await admin.fetchTopicMetadata({ topics: ['auto'] })).topics[0]!.partitions.map((p) => p.partitionId)).toEqual([0, 1, 2]);
    await admin.disconnect();
    await producer.disconnect();
  });

  it('disconnect writes what is queued: a send made just before it has resolved and its record is in the log', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'lingering', 1);
    const producer = fjord.producer({ lingerMs: 10_000 });
    await producer.connect();
    let result: RecordMetadata[] | undefined;
    const sending = producer.send({ topic: 'lingering', acks: 1, messages: [{ value: 'queued' }] }).then((r) => (result = r));
    await producer.disconnect();
    expect(result).toEqual([meta('lingering', 0, 0)]);
    expect(await valuesOf(fjord, 'lingering', 0)).toEqual(['queued']);
    await sending;
  });

  it('disconnect writes records that already sit in a linger queue', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'lingering', 1);
    const producer = fjord.producer({ lingerMs: 10_000 });
    await producer.connect();
    let settled = 0;
    const sends = range(3).map((i) =>
      producer.send({ topic: 'lingering', messages: [{ value: `q${i}` }] }).then((r) => {
        settled++;
        return r;
      }),
    );
    await new Promise((resolve) => setImmediate(resolve)); // the records are queued, waiting for the linger timer
    expect(await valuesOf(fjord, 'lingering', 0)).toEqual([]);
    await producer.disconnect();
    expect(settled).toBe(3);
    expect(await valuesOf(fjord, 'lingering', 0)).toEqual(['q0', 'q1', 'q2']);
    expect((await Promise.all(sends)).map((r) => r[0]!.baseOffset)).toEqual(['0', '1', '2']);
  });

  it('a send made while disconnect() runs is refused with NotConnectedError; the ones made before it are written', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'lingering', 1);
    const producer = fjord.producer({ lingerMs: 10_000 });
    await producer.connect();
    const before = producer.send({ topic: 'lingering', acks: 1, messages: [{ value: 'before' }] });
    const disconnecting = producer.disconnect();
    const during = producer.send({ topic: 'lingering', acks: 0, messages: [{ value: 'during' }] });
    await expect(during).rejects.toThrow(NotConnectedError);
    await expect(during).rejects.toThrow('producer is disconnecting');
    await disconnecting;
    expect(await before).toEqual([meta('lingering', 0, 0)]);
    expect(await valuesOf(fjord, 'lingering', 0)).toEqual(['before']);
  });

  it('disconnect() called twice while a send is queued: both resolve after the send settled, and a later disconnect drains again', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'lingering', 1);
    const producer = fjord.producer({ lingerMs: 10_000 });
    await producer.connect();
    let settled = false;
    const sending = producer.send({ topic: 'lingering', acks: -1, messages: [{ value: 'a' }] }).then((r) => {
      settled = true;
      return r;
    });
    const seen: boolean[] = [];
    await Promise.all([producer.disconnect().then(() => seen.push(settled)), producer.disconnect().then(() => seen.push(settled))]);
    expect(seen).toEqual([true, true]);
    expect(await sending).toEqual([meta('lingering', 0, 0)]);
    await producer.connect();
    const again = producer.send({ topic: 'lingering', acks: 1, messages: [{ value: 'b' }] });
    await producer.disconnect();
    expect(await again).toEqual([meta('lingering', 0, 1)]);
    expect(await valuesOf(fjord, 'lingering', 0)).toEqual(['a', 'b']);
  });

  it('records queued for a topic deleted before their flush fail their sends with UnknownTopicOrPartitionError', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'doomed', 1);
    const producer = fjord.producer({ lingerMs: 10_000 });
    await producer.connect();
    const sending = producer.send({ topic: 'doomed', acks: 1, messages: [{ value: 'lost' }] });
    await new Promise((resolve) => setImmediate(resolve)); // queued, waiting for the linger timer
    const admin = fjord.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: ['doomed'] });
    await admin.disconnect();
    await producer.disconnect();
    await expect(sending).rejects.toThrow(UnknownTopicOrPartitionError);
  });

  it('Fjord.close disconnects producers and writes their queues', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'closing', 1);
    const producer = fjord.producer({ lingerMs: 10_000 });
    await producer.connect();
    const sending = producer.send({ topic: 'closing', acks: 1, messages: [{ value: 'last' }] });
    await new Promise((resolve) => setImmediate(resolve));
    const dir = fjord.dir;
    await fjord.close();
    expect(await sending).toEqual([meta('closing', 0, 0)]);
    const reopened = fjordFor({ dir });
    expect(await valuesOf(reopened, 'closing', 0)).toEqual(['last']);
    expect((await logOf(reopened, 'closing', 0)).recoveryReport.cleanShutdown).toBe(true);
  });
});
