// A Fjord data directory that exercises everything Fjord writes, for Kafka's
// own tools and broker to judge (test/kafka-accepts-fjord.test.ts and
// test/kafka-broker-accepts-fjord.test.ts): topics with each codec,
// LogAppendTime, rolled segments (small segment.bytes), segments deleted by
// retention, a log truncated by Log.truncateTo and appended after, headers,
// null keys and values, 1 MiB records, a consumer group's commits and a
// deleted group. Returns what was written, record by record.
import { join } from 'node:path';
import { CompressionTypes, encodeBatch, Fjord, Log, type Message } from '../src/index.js';

export const BASE_TIMESTAMP = 1_700_000_000_000;
const MIB = 1 << 20;

/** One record as written: what DumpLogSegments and Kafka's consumer must show. */
export interface WrittenRecord {
  offset: number;
  timestampType: 'CreateTime' | 'LogAppendTime';
  /** CreateTime: the producer's; LogAppendTime: the bounds Fjord's clock was within. */
  timestamp: number | { from: number; to: number };
  key: string | null;
  value: string | null;
  headers: [string, string | null][];
}

export interface TopicSpec {
  partitions: number;
  /** Topic configs, given to Fjord and to the Kafka broker's topic alike. */
  configs: Record<string, string>;
}

export interface FjordData {
  dir: string;
  topics: Record<string, TopicSpec>;
  /** `<topic>-<partition>` → its records from the log start on. */
  records: Map<string, WrittenRecord[]>;
  /** `<topic>-<partition>` → the log start offset (retention and truncation move it). */
  logStart: Map<string, number>;
  /** Group → [topic, partition, offset] committed, sorted. */
  groups: Record<string, [string, number, number][]>;
  deletedGroup: string;
}

export const CODECS = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};
const SMALL_SEGMENTS = { 'segment.bytes': '8192', 'index.interval.bytes': '512' };

export const TOPICS: Record<string, TopicSpec> = {
  ...Object.fromEntries(Object.keys(CODECS).map((codec) => [`t-${codec}`, { partitions: 2, configs: SMALL_SEGMENTS }])),
  't-logappend': { partitions: 1, configs: { ...SMALL_SEGMENTS, 'message.timestamp.type': 'LogAppendTime' } },
  't-retained': { partitions: 1, configs: { 'segment.bytes': '1024', 'retention.ms': '1000' } },
  't-big': { partitions: 1, configs: { 'segment.bytes': String(MIB + MIB / 2), 'max.message.bytes': String(2 * MIB) } },
  't-truncated': { partitions: 1, configs: { 'segment.bytes': '1024', 'index.interval.bytes': '128' } },
};

// Record i of a codec topic's partition: null keys, null values, no, one or a repeated header.
const key = (p: number, i: number) => (i % 5 === 4 ? null : `key-${p}-${i}`);
const value = (p: number, i: number) => (i % 7 === 6 ? null : `value ${p} ${i} `.repeat(1 + (i % 40)));
function headers(i: number): [string, string][] {
  if (i % 3 === 0) return [];
  if (i % 3 === 1) return [['h', `v${i}`]];
  return [
    ['h', `v${i}`],
    ['h', `w${i}`],
    ['g', `${i}`],
  ];
}
/** KafkaJS's header shape: a repeated key is an array, in order. */
function kafkajsHeaders(h: [string, string][]): Message['headers'] {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of h) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

/** Writes the directory and closes it. */
export async function writeFjordData(dir: string): Promise<FjordData> {
  // A real clock shifted back to just after BASE_TIMESTAMP: the CreateTime records are young enough for the default retention (7 days).
  const shift = Date.now() - (BASE_TIMESTAMP + 10_000_000);
  const clock = () => Date.now() - shift;
  const fjord = new Fjord({ dir, clock, logLevel: 0 });
  const records = new Map<string, WrittenRecord[]>();
  const logStart = new Map<string, number>();
  const admin = fjord.admin();
  await admin.connect();
  await admin.createTopics({
    topics: Object.entries(TOPICS).map(([topic, spec]) => ({
      topic,
      numPartitions: spec.partitions,
      configEntries: Object.entries(spec.configs).map(([name, v]) => ({ name, value: v })),
    })),
  });
  const producer = fjord.producer({ maxRequestSize: 2 * MIB });
  await producer.connect();

  // Each codec: 300 records a partition, 10 to a send.
  for (const [codec, compression] of Object.entries(CODECS)) {
    const topic = `t-${codec}`;
    for (let p = 0; p < 2; p++) {
      const written: WrittenRecord[] = [];
      for (let from = 0; from < 300; from += 10) {
        const messages = Array.from({ length: 10 }, (_, j) => {
          const i = from + j;
          written.push({
            offset: i,
            timestampType: 'CreateTime',
            timestamp: BASE_TIMESTAMP + 13 * i,
            key: key(p, i),
            value: value(p, i),
            headers: headers(i),
          });
          return { partition: p, key: key(p, i), value: value(p, i), headers: kafkajsHeaders(headers(i)), timestamp: String(BASE_TIMESTAMP + 13 * i) };
        });
        await producer.send({ topic, compression, messages });
      }
      records.set(`${topic}-${p}`, written);
      logStart.set(`${topic}-${p}`, 0);
    }
  }

  // LogAppendTime: Fjord stamps its clock's time; 100 records, 10 to a send, gzip.
  {
    const written: WrittenRecord[] = [];
    for (let from = 0; from < 100; from += 10) {
      const before = clock();
      await producer.send({
        topic: 't-logappend',
        compression: CompressionTypes.GZIP,
        messages: Array.from({ length: 10 }, (_, j) => ({ key: key(0, from + j), value: value(0, from + j), timestamp: '1' })),
      });
      const after = clock();
      for (let j = 0; j < 10; j++) {
        written.push({
          offset: from + j,
          timestampType: 'LogAppendTime',
          timestamp: { from: before, to: after },
          key: key(0, from + j),
          value: value(0, from + j),
          headers: [],
        });
      }
    }
    records.set('t-logappend-0', written);
    logStart.set('t-logappend-0', 0);
  }

  // Retention: ten 300-byte records, one a batch, two batches a segment; retention.ms deletes the four sealed segments.
  {
    for (let i = 0; i < 10; i++) {
      await producer.send({ topic: 't-retained', messages: [{ value: `${i}`.padEnd(300, '.'), timestamp: String(BASE_TIMESTAMP + 100 * i) }] });
    }
    const results = await fjord.runRetention();
    const retained = results.find((r) => r.topic === 't-retained');
    if (retained?.logStartOffset !== 8) throw new Error(`retention did not delete t-retained's four sealed segments: ${JSON.stringify(results)}`);
    records.set(
      't-retained-0',
      [8, 9].map((i) => ({
        offset: i,
        timestampType: 'CreateTime' as const,
        timestamp: BASE_TIMESTAMP + 100 * i,
        key: null,
        value: `${i}`.padEnd(300, '.'),
        headers: [],
      })),
    );
    logStart.set('t-retained-0', 8);
  }

  // 1 MiB records, one a batch, one a segment.
  {
    const written: WrittenRecord[] = [];
    for (let i = 0; i < 3; i++) {
      const v = String.fromCharCode(97 + i).repeat(MIB);
      await producer.send({ topic: 't-big', messages: [{ key: `big-${i}`, value: v, timestamp: String(BASE_TIMESTAMP + i) }] });
      written.push({ offset: i, timestampType: 'CreateTime', timestamp: BASE_TIMESTAMP + i, key: `big-${i}`, value: v, headers: [] });
    }
    records.set('t-big-0', written);
    logStart.set('t-big-0', 0);
  }

  // Truncation: 40 records of 100 bytes, one a batch; written now, truncated below through Log once Fjord is closed.
  for (let i = 0; i < 40; i++) {
    await producer.send({ topic: 't-truncated', messages: [{ key: `k${i}`, value: `${i}`.padEnd(100, '-'), timestamp: String(BASE_TIMESTAMP + i) }] });
  }

  // Group billing: a consumer reads all of t-none and commits; the admin sets an offset on t-gzip.
  const consumer = fjord.consumer({ groupId: 'billing' });
  await consumer.connect();
  await consumer.subscribe({ topics: ['t-none'], fromBeginning: true });
  let seen = 0;
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async () => {
        if (++seen === 600) resolve();
      },
    });
  });
  await consumer.disconnect();
  await admin.setOffsets({ groupId: 'billing', topic: 't-gzip', partitions: [{ partition: 1, offset: '123' }] });
  // A group committed and deleted.
  await admin.setOffsets({ groupId: 'gone', topic: 't-lz4', partitions: [{ partition: 0, offset: '7' }] });
  await admin.deleteGroups(['gone']);
  await producer.disconnect();
  await admin.disconnect();
  await fjord.close();

  // Log.truncateTo on the closed topic's partition: cut at 13 (inside the segment of offsets 10 to 14, which is rewritten), then 5 more records with headers, nulls and zstd.
  {
    const log = await Log.open(join(dir, 't-truncated-0'), { segmentBytes: 1024, indexIntervalBytes: 128 });
    log.truncateTo(13);
    const messages = Array.from({ length: 5 }, (_, j) => ({
      key: j === 4 ? null : `after-${j}`,
      value: j === 3 ? null : `after ${j}`,
      headers: { h: `a${j}` },
      timestamp: String(BASE_TIMESTAMP + 1000 + j),
    }));
    log.append(encodeBatch(messages, { compression: 'zstd' }));
    await log.close();
    records.set('t-truncated-0', [
      ...Array.from({ length: 13 }, (_, i) => ({
        offset: i,
        timestampType: 'CreateTime' as const,
        timestamp: BASE_TIMESTAMP + i,
        key: `k${i}`,
        value: `${i}`.padEnd(100, '-'),
        headers: [],
      })),
      ...messages.map((m, j) => ({
        offset: 13 + j,
        timestampType: 'CreateTime' as const,
        timestamp: BASE_TIMESTAMP + 1000 + j,
        key: m.key,
        value: m.value,
        headers: [['h', `a${j}`]] as [string, string | null][],
      })),
    ]);
    logStart.set('t-truncated-0', 0);
  }

  return {
    dir,
    topics: TOPICS,
    records,
    logStart,
    groups: {
      billing: [
        ['t-gzip', 1, 123],
        ['t-none', 0, 300],
        ['t-none', 1, 300],
      ],
    },
    deletedGroup: 'gone',
  };
}
