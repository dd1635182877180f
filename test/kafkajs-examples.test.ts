// The producer and admin examples of KafkaJS's documentation (docs/Producing.md,
// docs/Admin.md, docs/ProducerExample.md and the README), run as written
// there except for the constructor: `new Fjord({ dir })` stands where
// `new Kafka({ clientId, brokers })` stood. Result shapes are asserted whole.
import { describe, expect, it } from 'vitest';

import {
  CompressionCodecs,
  CompressionTypes,
  ConfigResourceTypes,
  Fjord,
  InvalidConfigError,
  InvalidPartitionsError,
  OffsetOutOfRangeError,
  Partitioners,
  UnknownTopicOrPartitionError,
  partitionForKey,
} from '../src/index.js';
import { tempDir } from './helpers.js';
import { batchesOf, logOf, recordsOf, track, valuesOf } from './fjord-kit.js';

const T0 = 1_700_000_000_000;

function meta(topicName: string, partition: number, baseOffset: number, logStartOffset = 0) {
  return { topicName, partition, errorCode: 0, baseOffset: String(baseOffset), logAppendTime: '-1', logStartOffset: String(logStartOffset) };
}

function newKafka(): Fjord {
  const dir = tempDir();
  // was: const kafka = new Kafka({ clientId: 'my-app', brokers: ['kafka1:9092', 'kafka2:9092'] })
  const kafka = new Fjord({ dir });
  return track(kafka);
}

describe('KafkaJS producer examples', () => {
  it('README usage: connect, send one value to an auto-created topic, disconnect', async () => {
    const kafka = newKafka();
    const producer = kafka.producer();

    await producer.connect();
    const result = await producer.send({
      topic: 'test-topic',
      messages: [{ value: 'Hello KafkaJS user!' }],
    });
    await producer.disconnect();

    expect(result).toEqual([meta('test-topic', 0, 0)]);
    expect(await valuesOf(kafka, 'test-topic', 0)).toEqual(['Hello KafkaJS user!']);
  });

  it('Producing messages: keyed messages land on the partition of the key hash, in order', async () => {
    const kafka = newKafka();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'topic-name', numPartitions: 2 }] });

    const producer = kafka.producer();

    await producer.connect();
    const result = await producer.send({
      topic: 'topic-name',
      messages: [
        { key: 'key1', value: 'hello world' },
        { key: 'key2', value: 'hey hey!' },
      ],
    });

    const p1 = partitionForKey(Buffer.from('key1'), 2);
    const p2 = partitionForKey(Buffer.from('key2'), 2);
    expect([p1, p2]).toEqual([0, 1]); // murmur2 as Kafka's Java client: the keys split over both partitions
    expect(result).toEqual([meta('topic-name', p1, 0), meta('topic-name', p2, 0)]);
    const r1 = await recordsOf(kafka, 'topic-name', p1);
    expect(r1.map((r) => [r.offset, r.key!.toString(), r.value!.toString()])).toEqual([[0, 'key1', 'hello world']]);
    const r2 = await recordsOf(kafka, 'topic-name', p2);
    expect(r2.map((r) => [r.offset, r.key!.toString(), r.value!.toString()])).toEqual([[0, 'key2', 'hey hey!']]);
    await producer.disconnect();
  });

  it('Producing messages: "Example with a defined partition" writes each message to its partition', async () => {
    const kafka = newKafka();
    const admin = kafka.admin();
    await admin.connect();
    expect(await admin.createTopics({ topics: [{ topic: 'topic-name', numPartitions: 2 }] })).toBe(true);

    const producer = kafka.producer();

    await producer.connect();
    const result = await producer.send({
      topic: 'topic-name',
      messages: [
        { key: 'key1', value: 'hello world', partition: 0 },
        { key: 'key2', value: 'hey hey!', partition: 1 },
      ],
    });

    expect(result).toEqual([meta('topic-name', 0, 0), meta('topic-name', 1, 0)]);
    expect(await valuesOf(kafka, 'topic-name', 0)).toEqual(['hello world']);
    expect(await valuesOf(kafka, 'topic-name', 1)).toEqual(['hey hey!']);
    await producer.disconnect();
  });

  it('Producing messages: the full send signature with acks, timeout and compression', async () => {
    const kafka = newKafka();
    const producer = kafka.producer();
    await producer.connect();
    const all = await producer.send({ topic: 'topic-name', messages: [{ value: 'a' }], acks: -1, timeout: 30000, compression: CompressionTypes.None });
    const leader = await producer.send({ topic: 'topic-name', messages: [{ value: 'b' }], acks: 1, timeout: 30000, compression: CompressionTypes.None });
    const none = await producer.send({ topic: 'topic-name', messages: [{ value: 'c' }], acks: 0, timeout: 30000, compression: CompressionTypes.None });
    expect(all).toEqual([meta('topic-name', 0, 0)]);
    expect(leader).toEqual([meta('topic-name', 0, 1)]);
    // acks 0: no answer from the log, so no offsets (Kafka's clients report -1).
    expect(none).toEqual([{ topicName: 'topic-name', partition: 0, errorCode: 0, baseOffset: '-1', logAppendTime: '-1', logStartOffset: '-1' }]);
    await producer.disconnect();
    expect(await valuesOf(kafka, 'topic-name', 0)).toEqual(['a', 'b', 'c']);
  });

  it('Message headers: string and array values come back as Buffers, with key, value and timestamp', async () => {
    const kafka = newKafka();
    const producer = kafka.producer();
    await producer.connect();

    await producer.send({
      topic: 'topic-name',
      messages: [
        {
          key: 'key1',
          value: 'hello world',
          headers: {
            'correlation-id': '2bfb68bb-893a-423b-a7fa-7b568cad5b67',
            'system-id': 'my-system',
          },
        },
      ],
    });
    // "A header value can be either a string or an array of strings", and a timestamp a string.
    await producer.send({
      topic: 'topic-name',
      messages: [{ key: 'key2', value: 'hey hey!', timestamp: String(T0), headers: { tags: ['a', 'b'] } }],
    });

    const [first, second] = await recordsOf(kafka, 'topic-name', 0);
    expect(first!.key).toEqual(Buffer.from('key1'));
    expect(first!.value).toEqual(Buffer.from('hello world'));
    expect(first!.headers).toEqual({
      'correlation-id': Buffer.from('2bfb68bb-893a-423b-a7fa-7b568cad5b67'),
      'system-id': Buffer.from('my-system'),
    });
    expect(second).toEqual({
      offset: 1,
      timestamp: T0,
      key: Buffer.from('key2'),
      value: Buffer.from('hey hey!'),
      headers: { tags: [Buffer.from('a'), Buffer.from('b')] },
    });
    await producer.disconnect();
  });

  it('Producing to multiple topics: sendBatch with topicMessages', async () => {
    const kafka = newKafka();
    const producer = kafka.producer();
    await producer.connect();

    const topicMessages = [
      {
        topic: 'topic-a',
        messages: [{ key: 'key', value: 'hello topic-a' }],
      },
      {
        topic: 'topic-b',
        messages: [{ key: 'key', value: 'hello topic-b' }],
      },
      {
        topic: 'topic-c',
        messages: [
          {
            key: 'key',
            value: 'hello topic-c',
            headers: {
              'correlation-id': '2bfb68bb-893a-423b-a7fa-7b568cad5b67',
            },
          },
        ],
      },
    ];
    const result = await producer.sendBatch({ topicMessages });

    expect(result).toEqual([meta('topic-a', 0, 0), meta('topic-b', 0, 0), meta('topic-c', 0, 0)]);
    expect(await valuesOf(kafka, 'topic-a', 0)).toEqual(['hello topic-a']);
    expect(await valuesOf(kafka, 'topic-b', 0)).toEqual(['hello topic-b']);
    expect((await recordsOf(kafka, 'topic-c', 0))[0]!.headers).toEqual({ 'correlation-id': Buffer.from('2bfb68bb-893a-423b-a7fa-7b568cad5b67') });

    // "sendBatch has the same signature as send": acks, timeout, compression.
    const again = await producer.sendBatch({ topicMessages, acks: 1, timeout: 30000, compression: CompressionTypes.GZIP });
    expect(again).toEqual([meta('topic-a', 0, 1), meta('topic-b', 0, 1), meta('topic-c', 0, 1)]);
    await producer.disconnect();
  });

  it('Custom partitioner: MyPartitioner sends everything to partition 0, seeing KafkaJS partitionMetadata', async () => {
    const kafka = newKafka();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'topic-name', numPartitions: 3 }] });
    const seen: unknown[] = [];

    const MyPartitioner = () => {
      return ({ topic, partitionMetadata, message }: { topic: string; partitionMetadata: { partitionId: number; leader: number }[]; message: unknown }) => {
        seen.push({ topic, partitionMetadata, message });
        // select a partition based on some logic
        // return the partition number
        return 0;
      };
    };
    const producer = kafka.producer({ createPartitioner: MyPartitioner });

    await producer.connect();
    const result = await producer.send({ topic: 'topic-name', messages: [{ key: 'key1', value: 'a' }, { value: 'b' }] });
    expect(result).toEqual([meta('topic-name', 0, 0)]);
    expect(await valuesOf(kafka, 'topic-name', 0)).toEqual(['a', 'b']);
    expect(seen).toEqual([
      {
        topic: 'topic-name',
        partitionMetadata: [0, 1, 2].map((id) => ({ partitionId: id, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 })),
        message: { key: 'key1', value: 'a' },
      },
      {
        topic: 'topic-name',
        partitionMetadata: [0, 1, 2].map((id) => ({ partitionId: id, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 })),
        message: { value: 'b' },
      },
    ]);
    await producer.disconnect();
  });

  it('Default partitioners: createPartitioner: Partitioners.DefaultPartitioner (and LegacyPartitioner) hash keys as Kafka does', async () => {
    const kafka = newKafka();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'topic-name', numPartitions: 10 }] });

    for (const createPartitioner of [Partitioners.DefaultPartitioner, Partitioners.LegacyPartitioner]) {
      const producer = kafka.producer({ createPartitioner });
      await producer.connect();
      // Kafka's UtilsTest: murmur2("foobar") = -790332482; toPositive → 1357151166; % 10 → 6.
      const result = await producer.send({ topic: 'topic-name', messages: [{ key: 'foobar', value: 'v' }] });
      expect(result.map((r) => r.partition)).toEqual([6]);
      await producer.disconnect();
    }
    expect(await valuesOf(kafka, 'topic-name', 6)).toEqual(['v', 'v']);
  });

  it('Compression: the GZIP example writes one gzip batch that reads back unchanged', async () => {
    const kafka = newKafka();
    const producer = kafka.producer();
    await producer.connect();

    await producer.send({
      topic: 'topic-name',
      compression: CompressionTypes.GZIP,
      messages: [
        { key: 'key1', value: 'hello world' },
        { key: 'key2', value: 'hey hey!' },
      ],
    });

    const batches = await batchesOf(kafka, 'topic-name', 0);
    expect(batches.map((b) => [b.baseOffset, b.lastOffset, b.recordCount, b.attributes & 7])).toEqual([[0, 1, 2, CompressionTypes.GZIP]]);
    const records = await recordsOf(kafka, 'topic-name', 0);
    expect(records.map((r) => [r.offset, r.key!.toString(), r.value!.toString()])).toEqual([
      [0, 'key1', 'hello world'],
      [1, 'key2', 'hey hey!'],
    ]);
    await producer.disconnect();
  });

  it('Compression: "Implementing your own codec" registers a Snappy codec in CompressionCodecs that sends and reads use', async () => {
    const kafka = newKafka();
    // The docs leave the snappy library open; Fjord's built-in snappy codec stands in for it, counted.
    const builtIn = CompressionCodecs[CompressionTypes.Snappy]!;
    const library = builtIn();
    const calls: string[] = [];
    const someCompressFunction = async (buffer: Buffer) => {
      calls.push('compress');
      return library.compress({ buffer });
    };
    const someDecompressFunction = async (buffer: Buffer) => {
      calls.push('decompress');
      return library.decompress(buffer);
    };
    try {
      const MyCustomSnappyCodec = {
        async compress(encoder: { buffer: Buffer }) {
          return someCompressFunction(encoder.buffer);
        },

        async decompress(buffer: Buffer) {
          return someDecompressFunction(buffer);
        },
      };

      CompressionCodecs[CompressionTypes.Snappy] = () => MyCustomSnappyCodec;

      const producer = kafka.producer();
      await producer.connect();
      await producer.send({
        topic: 'topic-name',
        compression: CompressionTypes.Snappy,
        messages: [
          { key: 'key1', value: 'hello world' },
          { key: 'key2', value: 'hey hey!' },
        ],
      });
      await producer.disconnect();
      const batches = await batchesOf(kafka, 'topic-name', 0);
      expect(batches.map((b) => [b.baseOffset, b.lastOffset, b.recordCount, b.attributes & 7])).toEqual([[0, 1, 2, CompressionTypes.Snappy]]);

      const consumer = kafka.consumer({ groupId: 'test-group' });
      await consumer.connect();
      consumer.assign([{ topic: 'topic-name', partitions: [0] }]);
      consumer.seek({ topic: 'topic-name', partition: 0, offset: '0' });
      expect((await consumer.poll()).map((r) => [r.offset, r.key!.toString(), r.value!.toString()])).toEqual([
        ['0', 'key1', 'hello world'],
        ['1', 'key2', 'hey hey!'],
      ]);
      await consumer.disconnect();
      expect(calls).toEqual(['compress', 'decompress']);
    } finally {
      CompressionCodecs[CompressionTypes.Snappy] = builtIn;
    }
  });

  it('Producer example (docs/ProducerExample.md): gzip sends of generated keyed messages resolve with RecordMetadata', async () => {
    const kafka = newKafka();
    const topic = 'topic-test';
    const producer = kafka.producer();

    let seed = 7;
    const getRandomNumber = () => (seed = (seed * 48271) % 2147483647) % 1000; // deterministic in place of Math.random
    const createMessage = (num: number) => ({
      key: `key-${num}`,
      value: `value-${num}-${new Date(T0).toISOString()}`,
    });
    const sent: number[] = [];
    const sendMessage = () => {
      const count = getRandomNumber();
      sent.push(count);
      return producer.send({
        topic,
        compression: CompressionTypes.GZIP,
        messages: Array(count)
          .fill(undefined)
          .map((_) => createMessage(getRandomNumber())),
      });
    };

    await producer.connect();
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await sendMessage());
    let next = 0;
    expect(results).toEqual(
      sent.map((count) => {
        const expected = [meta(topic, 0, next)];
        next += count;
        return expected;
      }),
    );
    expect((await logOf(kafka, topic, 0)).logEndOffset).toBe(next);
    await producer.disconnect();
  });
});

describe('KafkaJS admin examples', () => {
  it('connect, listTopics, createTopics (true, then false when it exists), disconnect', async () => {
    const kafka = newKafka();
    const admin = kafka.admin();

    // remember to connect and disconnect when you are done
    await admin.connect();
    expect(await admin.listTopics()).toEqual([]);
    expect(
      await admin.createTopics({
        validateOnly: false,
        waitForLeaders: true,
        timeout: 5000,
        topics: [
          {
            topic: 'topic-1',
            numPartitions: 4,
            replicationFactor: 1,
            replicaAssignment: [],
            configEntries: [{ name: 'retention.ms', value: '86400000' }],
          },
          { topic: 'topic-2' },
        ],
      }),
    ).toBe(true);
    expect(await admin.createTopics({ topics: [{ topic: 'topic-1', numPartitions: 4 }] })).toBe(false);
    expect(await admin.createTopics({ topics: [{ topic: 'topic-3', numPartitions: -1, replicationFactor: -1 }] })).toBe(true);
    expect((await admin.listTopics()).sort()).toEqual(['topic-1', 'topic-2', 'topic-3']);
    // numPartitions omitted or -1: the broker's `num.partitions` (Fjord's numPartitions, default 1).
    const metadata = await admin.fetchTopicMetadata({ topics: ['topic-2', 'topic-3'] });
    expect(metadata.topics.map((t) => [t.name, t.partitions.length])).toEqual([
      ['topic-2', 1],
      ['topic-3', 1],
    ]);
    await admin.disconnect();
  });

  it('createTopics with the documented configEntries example (cleanup.policy=compact) is refused as not supported yet', async () => {
    const kafka = newKafka();
    const admin = kafka.admin();
    await admin.connect();
    const creating = admin.createTopics({ topics: [{ topic: 'compacted', configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] });
    await expect(creating).rejects.toThrow(InvalidConfigError);
    await expect(creating).rejects.toThrow(/not supported yet/);
    expect(await admin.listTopics()).toEqual([]);
    await admin.disconnect();
  });

  it('fetchTopicMetadata: one topic, all topics, and an unknown topic throws', async () => {
    const kafka = newKafka();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'topic-1', numPartitions: 2 }, { topic: 'topic-2' }] });

    const partition = (partitionId: number) => ({ partitionErrorCode: 0, partitionId, leader: 0, replicas: [0], isr: [0], offlineReplicas: [] });
    expect(await admin.fetchTopicMetadata({ topics: ['topic-1'] })).toEqual({ topics: [{ name: 'topic-1', partitions: [partition(0), partition(1)] }] });
    const all = await admin.fetchTopicMetadata();
    expect(all.topics.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { name: 'topic-1', partitions: [partition(0), partition(1)] },
      { name: 'topic-2', partitions: [partition(0)] },
    ]);
    await expect(admin.fetchTopicMetadata({ topics: ['no-such-topic'] })).rejects.toThrow(UnknownTopicOrPartitionError);
    await admin.disconnect();
  });

  it('createPartitions grows a topic; asking for fewer (or as many) partitions rejects with InvalidPartitionsError', async () => {
    const kafka = newKafka();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'topic-name', numPartitions: 2 }] });

    expect(
      await admin.createPartitions({
        validateOnly: false,
        timeout: 5000,
        topicPartitions: [{ topic: 'topic-name', count: 5 }],
      }),
    ).toBe(true);
    expect((await admin.fetchTopicMetadata({ topics: ['topic-name'] })).topics[0]!.partitions.map((p) => p.partitionId)).toEqual([0, 1, 2, 3, 4]);
    expect((await admin.fetchTopicOffsets('topic-name')).map((o) => o.partition)).toEqual([0, 1, 2, 3, 4]);

    await expect(admin.createPartitions({ topicPartitions: [{ topic: 'topic-name', count: 3 }] })).rejects.toThrow(InvalidPartitionsError);
    await expect(admin.createPartitions({ topicPartitions: [{ topic: 'topic-name', count: 5 }] })).rejects.toThrow(InvalidPartitionsError);
    await expect(admin.createPartitions({ topicPartitions: [{ topic: 'no-such-topic', count: 5 }] })).rejects.toThrow(UnknownTopicOrPartitionError);
    expect((await admin.fetchTopicMetadata({ topics: ['topic-name'] })).topics[0]!.partitions).toHaveLength(5);

    // A new partition takes writes at once.
    const producer = kafka.producer();
    await producer.connect();
    expect(await producer.send({ topic: 'topic-name', messages: [{ value: 'new', partition: 4 }] })).toEqual([meta('topic-name', 4, 0)]);
    await producer.disconnect();
    await admin.disconnect();
  });

  it('fetchTopicOffsets returns { partition, offset, high, low } as decimal strings', async () => {
    const kafka = newKafka();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'topic-name', numPartitions: 4 }] });
    const producer = kafka.producer();
    await producer.connect();
    const counts = [31, 54, 0, 28];
    for (const [partition, count] of counts.entries()) {
      if (count > 0) await producer.send({ topic: 'topic-name', messages: Array.from({ length: count }, (_, i) => ({ value: `m${i}`, partition })) });
    }

    expect(await admin.fetchTopicOffsets('topic-name')).toEqual([
      { partition: 0, offset: '31', high: '31', low: '0' },
      { partition: 1, offset: '54', high: '54', low: '0' },
      { partition: 2, offset: '0', high: '0', low: '0' },
      { partition: 3, offset: '28', high: '28', low: '0' },
    ]);
    await expect(admin.fetchTopicOffsets('no-such-topic')).rejects.toThrow(UnknownTopicOrPartitionError);
    await producer.disconnect();
    await admin.disconnect();
  });

  it('fetchTopicOffsetsByTimestamp: the earliest offset with timestamp >= the given one, per partition', async () => {
    const kafka = newKafka();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'topic-name', numPartitions: 2 }] });
    const producer = kafka.producer();
    await producer.connect();
    // partition 0: timestamps T0, T0+10, ..., T0+90; partition 1: T0+1000, T0+1001.
    await producer.send({ topic: 'topic-name', messages: Array.from({ length: 10 }, (_, i) => ({ value: `a${i}`, partition: 0, timestamp: T0 + 10 * i })) });
    await producer.send({ topic: 'topic-name', messages: [0, 1].map((i) => ({ value: `b${i}`, partition: 1, timestamp: String(T0 + 1000 + i) })) });

    expect(await admin.fetchTopicOffsetsByTimestamp('topic-name', T0 + 35)).toEqual([
      { partition: 0, offset: '4' },
      { partition: 1, offset: '0' },
    ]);
    expect(await admin.fetchTopicOffsetsByTimestamp('topic-name', T0)).toEqual([
      { partition: 0, offset: '0' },
      { partition: 1, offset: '0' },
    ]);
    // Past every record: the log end offset, where a consumer would start.
    expect(await admin.fetchTopicOffsetsByTimestamp('topic-name', T0 + 1001)).toEqual([
      { partition: 0, offset: '10' },
      { partition: 1, offset: '1' },
    ]);
    expect(await admin.fetchTopicOffsetsByTimestamp('topic-name', T0 + 5000)).toEqual([
      { partition: 0, offset: '10' },
      { partition: 1, offset: '2' },
    ]);
    await producer.disconnect();
    await admin.disconnect();
  });

  it('describeCluster describes the single embedded node', async () => {
    const kafka = newKafka();
    const admin = kafka.admin();
    await admin.connect();
    expect(await admin.describeCluster()).toEqual({ brokers: [{ nodeId: 0, host: 'localhost', port: 0 }], controller: 0, clusterId: `fjord:${kafka.dir}` });
    await admin.disconnect();
  });

  it('describeConfigs: the documented specific-config example answers the documented response', async () => {
    const kafka = newKafka();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'topic-name' }] });

    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: 'topic-name',
          configNames: ['cleanup.policy'],
        },
      ],
    });
    expect(described).toEqual({
      resources: [
        {
          configEntries: [
            {
              configName: 'cleanup.policy',
              configValue: 'delete',
              isDefault: true,
              configSource: 5,
              isSensitive: false,
              readOnly: false,
              configSynonyms: [],
            },
          ],
          errorCode: 0,
          errorMessage: null,
          resourceName: 'topic-name',
          resourceType: 2,
        },
      ],
      throttleTime: 0,
    });
    await admin.disconnect();
  });

  it('describeConfigs: all configs of a topic, overrides marked as TOPIC_CONFIG with Kafka defaults elsewhere', async () => {
    const kafka = newKafka();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'topic-name', configEntries: [{ name: 'retention.ms', value: '86400000' }] }] });

    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: 'topic-name',
        },
      ],
    });
    const entries = new Map(described.resources[0]!.configEntries.map((e) => [e.configName, e]));
    expect(entries.get('retention.ms')).toEqual({
      configName: 'retention.ms',
      configValue: '86400000',
      isDefault: false,
      configSource: 1,
      isSensitive: false,
      readOnly: false,
      configSynonyms: [],
    });
    const defaults = {
      'cleanup.policy': 'delete',
      'retention.bytes': '-1',
      'segment.bytes': '1073741824',
      'segment.ms': '604800000',
      'segment.index.bytes': '10485760',
      'index.interval.bytes': '4096',
      'max.message.bytes': '1048588',
      'message.timestamp.type': 'CreateTime',
      'flush.messages': '9223372036854775807',
      'flush.ms': '9223372036854775807',
      'file.delete.delay.ms': '60000',
      'delete.retention.ms': '86400000',
      'min.compaction.lag.ms': '0',
      'min.cleanable.dirty.ratio': '0.5',
      'compression.type': 'producer',
      preallocate: 'false',
    };
    for (const [name, value] of Object.entries(defaults)) {
      expect(entries.get(name), name).toEqual({
        configName: name,
        configValue: value,
        isDefault: true,
        configSource: 5,
        isSensitive: false,
        readOnly: false,
        configSynonyms: [],
      });
    }
    await expect(admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'no-such-topic' }] })).rejects.toThrow(
      UnknownTopicOrPartitionError,
    );
    await admin.disconnect();
  });

  it('alterConfigs: the documented example (cleanup.policy=compact) is refused; the same call with a supported config answers the documented response', async () => {
    const kafka = newKafka();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'topic-name' }] });

    await expect(
      admin.alterConfigs({
        resources: [
          {
            type: ConfigResourceTypes.TOPIC,
            name: 'topic-name',
            configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
          },
        ],
      }),
    ).rejects.toThrow(/compact is not supported yet/);

    expect(
      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: ConfigResourceTypes.TOPIC,
            name: 'topic-name',
            configEntries: [{ name: 'retention.ms', value: '3600000' }],
          },
        ],
      }),
    ).toEqual({
      resources: [
        {
          errorCode: 0,
          errorMessage: null,
          resourceName: 'topic-name',
          resourceType: 2,
        },
      ],
      throttleTime: 0,
    });
    const [entry] = (await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: 'topic-name', configNames: ['retention.ms'] }] }))
      .resources[0]!.configEntries;
    expect([entry!.configValue, entry!.isDefault, entry!.configSource]).toEqual(['3600000', false, 1]);
    await admin.disconnect();
  });

  it('alterConfigs replaces the overrides, as Kafka AlterConfigs does: configs not named return to their defaults (validateOnly changes nothing)', async () => {
    const kafka = newKafka();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        {
          topic: 'topic-name',
          configEntries: [
            { name: 'retention.ms', value: '86400000' },
            { name: 'segment.bytes', value: '1048576' },
          ],
        },
      ],
    });
    const describe = async () =>
      Object.fromEntries(
        (
          await admin.describeConfigs({
            resources: [{ type: ConfigResourceTypes.TOPIC, name: 'topic-name', configNames: ['retention.ms', 'segment.bytes', 'max.message.bytes'] }],
          })
        ).resources[0]!.configEntries.map((e) => [e.configName, [e.configValue, e.isDefault]]),
      );
    const log = await logOf(kafka, 'topic-name', 0);
    expect(log.config.segmentBytes).toBe(1048576);

    await admin.alterConfigs({
      validateOnly: true,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: 'topic-name', configEntries: [{ name: 'max.message.bytes', value: '2000000' }] }],
    });
    expect(await describe()).toEqual({ 'retention.ms': ['86400000', false], 'segment.bytes': ['1048576', false], 'max.message.bytes': ['1048588', true] });

    await admin.alterConfigs({
      resources: [{ type: ConfigResourceTypes.TOPIC, name: 'topic-name', configEntries: [{ name: 'max.message.bytes', value: '2000000' }] }],
    });
    expect(await describe()).toEqual({ 'retention.ms': ['604800000', true], 'segment.bytes': ['1073741824', true], 'max.message.bytes': ['2000000', false] });
    // The partition logs follow.
    expect([log.config.segmentBytes, log.config.maxMessageBytes]).toEqual([1073741824, 2000000]);
    await admin.disconnect();
  });

  it('deleteTopics removes the topics; deleting an unknown topic throws', async () => {
    const kafka = newKafka();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'topic-1' }, { topic: 'topic-2' }, { topic: 'topic-3' }] });

    await admin.deleteTopics({
      topics: ['topic-1', 'topic-3'],
      timeout: 5000,
    });
    expect(await admin.listTopics()).toEqual(['topic-2']);
    await expect(admin.deleteTopics({ topics: ['topic-1'] })).rejects.toThrow(UnknownTopicOrPartitionError);
    await admin.disconnect();
  });

  it('deleteTopicRecords: the documented example deletes up to offset 30 on partition 0 and everything on partition 3', async () => {
    const kafka = newKafka();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'custom-topic', numPartitions: 4 }] });
    const producer = kafka.producer();
    await producer.connect();
    for (const partition of [0, 1, 2, 3]) {
      await producer.send({ topic: 'custom-topic', messages: Array.from({ length: 40 }, (_, i) => ({ value: `p${partition}-${i}`, partition })) });
    }

    await admin.deleteTopicRecords({
      topic: 'custom-topic',
      partitions: [
        { partition: 0, offset: '30' }, // delete up to and including offset 29
        { partition: 3, offset: '-1' }, // delete all available records on this partition
      ],
    });

    expect(await admin.fetchTopicOffsets('custom-topic')).toEqual([
      { partition: 0, offset: '40', high: '40', low: '30' },
      { partition: 1, offset: '40', high: '40', low: '0' },
      { partition: 2, offset: '40', high: '40', low: '0' },
      { partition: 3, offset: '40', high: '40', low: '40' },
    ]);
    expect(await valuesOf(kafka, 'custom-topic', 0)).toEqual(Array.from({ length: 10 }, (_, i) => `p0-${30 + i}`));
    expect(await valuesOf(kafka, 'custom-topic', 3)).toEqual([]);
    const log0 = await logOf(kafka, 'custom-topic', 0);
    expect(() => log0.read(29)).toThrow(OffsetOutOfRangeError);

    // The offsets carry on where they were.
    expect(await producer.send({ topic: 'custom-topic', messages: [{ value: 'after', partition: 3 }] })).toEqual([meta('custom-topic', 3, 40, 40)]);
    // deleteRecords is the same call.
    await admin.deleteRecords({ topic: 'custom-topic', partitions: [{ partition: 1, offset: '5' }] });
    expect((await admin.fetchTopicOffsets('custom-topic'))[1]).toEqual({ partition: 1, offset: '40', high: '40', low: '5' });
    await producer.disconnect();
    await admin.disconnect();
  });

  it('deleteTopicRecords beyond the log end rejects with OffsetOutOfRangeError and leaves the partition as it was', async () => {
    const kafka = newKafka();
    const admin = kafka.admin();
    await admin.connect();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'custom-topic', messages: [{ value: 'a' }, { value: 'b' }] });
    await expect(admin.deleteTopicRecords({ topic: 'custom-topic', partitions: [{ partition: 0, offset: '3' }] })).rejects.toThrow(OffsetOutOfRangeError);
    expect(await admin.fetchTopicOffsets('custom-topic')).toEqual([{ partition: 0, offset: '2', high: '2', low: '0' }]);
    await expect(admin.deleteTopicRecords({ topic: 'custom-topic', partitions: [{ partition: 1, offset: '0' }] })).rejects.toThrow(
      UnknownTopicOrPartitionError,
    );
    await producer.disconnect();
    await admin.disconnect();
  });

  it('admin calls before connect() reject with a typed error', async () => {
    const kafka = newKafka();
    const admin = kafka.admin();
    await expect(admin.listTopics()).rejects.toMatchObject({ name: 'NotConnectedError', code: 'ERR_NOT_CONNECTED' });
    await admin.connect();
    await admin.disconnect();
    await expect(admin.createTopics({ topics: [{ topic: 'x' }] })).rejects.toMatchObject({ name: 'NotConnectedError' });
  });
});
