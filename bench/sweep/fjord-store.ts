// Fjord as the sweep drives it: a topic of `partitions` partitions whose
// max.message.bytes is the sweep's limit, a KafkaJS-shaped producer sending
// each send's values to its partition at the cell's acks level, and a consumer
// of a fresh group reading the topic from the beginning with eachBatch.
import { setImmediate as nextTurn } from 'node:timers/promises';

import { Fjord, type Message, type Producer } from '../../src/index.js';
import { ConsumerRun } from './consumer-run.js';
import type { Acks, BenchStore, OpenOptions, ReadBack } from './store.js';

export const TOPIC = 'bench';
/** Fetch sizes: KafkaJS's defaults, raised when the limit is larger. */
const FETCH_BYTES_PER_PARTITION = 1024 * 1024;

export class FjordStore implements BenchStore {
  readonly fjord: Fjord;
  readonly #producer: Producer;
  readonly #acks: Acks;
  readonly #options: OpenOptions;
  /** Each pooled array of values as messages, per partition, built once. */
  readonly #messages = new WeakMap<readonly Buffer[], Message[][]>();
  #sent = 0;

  private constructor(fjord: Fjord, producer: Producer, options: OpenOptions) {
    this.fjord = fjord;
    this.#producer = producer;
    this.#acks = options.acks;
    this.#options = options;
  }

  static async open(options: OpenOptions): Promise<FjordStore> {
    const fjord = new Fjord({ dir: options.dir, allowAutoTopicCreation: false });
    const admin = fjord.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic: TOPIC, numPartitions: options.partitions, configEntries: [{ name: 'max.message.bytes', value: String(options.maxMessageBytes) }] }],
    });
    await admin.disconnect();
    const producer = fjord.producer({ maxRequestSize: options.maxMessageBytes });
    await producer.connect();
    return new FjordStore(fjord, producer, options);
  }

  async send(partition: number, values: readonly Buffer[]): Promise<void> {
    let byPartition = this.#messages.get(values);
    if (byPartition === undefined) {
      byPartition = [];
      this.#messages.set(values, byPartition);
    }
    const messages = (byPartition[partition] ??= values.map((value): Message => ({ value, partition })));
    this.#sent += messages.length;
    await this.#producer.send({ topic: TOPIC, messages, acks: this.#acks });
  }

  async drain(): Promise<void> {
    // acks 0 resolved at the queue: wait until the log holds every record sent.
    while ((await this.count()) < this.#sent) await nextTurn();
  }

  async count(): Promise<number> {
    const topic = (await this.fjord.topics()).get(TOPIC);
    let records = 0;
    for (let p = 0; p < this.#options.partitions; p++) records += topic.partition(p).log.logEndOffset;
    return records;
  }

  async readAll(): Promise<ReadBack> {
    const expected = await this.count();
    const fetchBytes = Math.max(FETCH_BYTES_PER_PARTITION, this.#options.maxMessageBytes);
    const consumer = this.fjord.consumer({ groupId: 'bench-read', maxBytesPerPartition: fetchBytes, maxBytes: Math.max(10 * fetchBytes, 10 * 1024 * 1024) });
    await consumer.connect();
    await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
    let records = 0;
    let touched = 0;
    const run = new ConsumerRun(consumer);
    if (expected === 0) run.finish();
    // Reading is timed from joining the group on: fetching and decoding only.
    let start = performance.now();
    consumer.on(consumer.events.GROUP_JOIN, () => (start = performance.now()));
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, resolveOffset }) => {
        const messages = batch.messages;
        for (let i = 0; i < messages.length; i++) touched += messages[i]!.value![0]!;
        records += messages.length;
        if (messages.length > 0) resolveOffset(messages[messages.length - 1]!.offset);
        if (records >= expected) run.finish();
      },
    });
    await run.ended;
    const seconds = (performance.now() - start) / 1000;
    await consumer.disconnect();
    run.check();
    return { records, touched, seconds };
  }

  async close(): Promise<void> {
    await this.#producer.disconnect();
    await this.fjord.close();
  }
}
