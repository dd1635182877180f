// KafkaJS's producer on the embedded store. Records for one partition are
// gathered (within `lingerMs` / `batchSize`) into RecordBatch v2 batches that
// cross into Rust as one Buffer each; acks decide when a send resolves.
import { InvalidArgumentError, NotConnectedError, RecordTooLargeError, UnknownTopicOrPartitionError, UnsupportedCompressionError } from '../errors.js';
import { booleanOption, describeValue, integerOption } from '../arguments.js';
import type { ClientContext } from '../client-context.js';
import { Instrumentation } from '../instrumentation.js';
import type { Logger } from '../logger.js';
import { encodeBatch, type RecordInput } from '../record-batch/encode.js';
import { headersObject } from '../record-batch/headers.js';
import * as layout from '../record-batch/layout.js';
import type { Partition } from '../topics/partition.js';
import { numericConfig } from '../topics/topic-config.js';
import type { Topic } from '../topics/topic-registry.js';
import { validateTopicName } from '../topics/topic-name.js';
import { BatchWriter } from './batch-writer.js';
import { Partitioners, type Partitioner, type PartitionerFactory } from './partitioners.js';
import { PendingSend } from './pending-send.js';
import type { Message } from './producer-types.js';
import { RecordRun } from './record-run.js';

export interface ProducerConfig {
  /** A KafkaJS partitioner factory; default: key hash as Kafka's Java client, round-robin without a key. */
  createPartitioner?: PartitionerFactory;
  /** Create unknown topics on first send (default: the Fjord instance's setting). */
  allowAutoTopicCreation?: boolean;
  /** Kafka's `linger.ms`: how long records wait for others to join their batch. 0 (default) gathers what is sent in one event-loop turn. */
  lingerMs?: number;
  /** Kafka's `batch.size`: bytes of records per batch (default 16384). */
  batchSize?: number;
  /** Kafka's `max.request.size`: the largest record accepted, as a one-record batch (default 1048576). */
  maxRequestSize?: number;
  /** Accepted for KafkaJS compatibility: an embedded append is never retried or duplicated. */
  idempotent?: boolean;
  retry?: unknown;
  metadataMaxAge?: number;
  maxInFlightRequests?: number;
}

/** KafkaJS's `CompressionTypes`. */
export const CompressionTypes = { None: 0, GZIP: 1, Snappy: 2, LZ4: 3, ZSTD: 4 } as const;

export interface ProducerRecord {
  topic: string;
  messages: Message[];
  /** -1 (all, the default): on disk; 1: in the log and readable; 0: queued. */
  acks?: number;
  timeout?: number;
  compression?: number;
}

export interface ProducerBatch {
  acks?: number;
  timeout?: number;
  compression?: number;
  topicMessages?: { topic: string; messages: Message[] }[];
}

export interface RecordMetadata {
  topicName: string;
  partition: number;
  errorCode: number;
  baseOffset: string;
  logAppendTime: string;
  logStartOffset: string;
}

// A module constant, not an imported binding: V8 folds it into the loops below (record-batch/layout.ts).
const { HEADER_SIZE } = layout;
/** Batches of one flush go to the store together, in one append, up to this many bytes. */
const APPEND_GATHER_BYTES = 1 << 20;

function checkAcks(acks: unknown): -1 | 0 | 1 {
  if (acks === undefined || acks === -1 || acks === 'all') return -1;
  if (acks === 0 || acks === 1) return acks;
  throw new InvalidArgumentError(`acks must be -1 (all), 0 or 1, got ${describeValue(acks)}`);
}

function checkCompression(compression: unknown): boolean {
  if (compression === undefined || compression === CompressionTypes.None) return false;
  if (compression === CompressionTypes.GZIP) return true;
  if (compression === CompressionTypes.Snappy || compression === CompressionTypes.LZ4 || compression === CompressionTypes.ZSTD) {
    throw new UnsupportedCompressionError(
      `compression ${compression} (${['', '', 'snappy', 'lz4', 'zstd'][compression]}) is not supported; use CompressionTypes.None or CompressionTypes.GZIP`,
      { codec: compression },
    );
  }
  throw new InvalidArgumentError(`compression must be one of CompressionTypes, got ${describeValue(compression)}`);
}

export class Producer {
  readonly events = { CONNECT: 'producer.connect', DISCONNECT: 'producer.disconnect' } as const;
  readonly #instrumentation: Instrumentation;
  readonly #logger: Logger;
  readonly #partitioner: Partitioner;
  readonly #allowAutoTopicCreation: boolean;
  readonly #lingerMs: number;
  readonly #batchSize: number;
  readonly #maxRequestSize: number;
  readonly #queues = new Map<Partition, RecordRun[]>();
  /** Encodes every flush; its pooled buffer is reused (an append is synchronous). */
  readonly #writer = new BatchWriter();
  readonly #queuedBytes = new Map<Partition, number>();
  #flushScheduled = false;
  #lingerTimer: NodeJS.Timeout | null = null;
  readonly #inFlight = new Set<Promise<unknown>>();
  #connected = false;
  #draining = false;

  readonly #context: ClientContext;

  constructor(context: ClientContext, config: ProducerConfig = {}) {
    this.#context = context;
    this.#logger = context.logger().namespace('Producer');
    this.#instrumentation = new Instrumentation(this.#logger);
    if (config === null || typeof config !== 'object') throw new InvalidArgumentError('producer config must be an object');
    const factory = config.createPartitioner ?? Partitioners.DefaultPartitioner;
    if (typeof factory !== 'function') throw new InvalidArgumentError('createPartitioner must be a function returning a partitioner');
    this.#partitioner = factory();
    this.#allowAutoTopicCreation = booleanOption(config.allowAutoTopicCreation, 'allowAutoTopicCreation', context.allowAutoTopicCreation);
    this.#lingerMs = integerOption(config.lingerMs, 'lingerMs', 0, 0);
    this.#batchSize = integerOption(config.batchSize, 'batchSize', 16384, 1);
    this.#maxRequestSize = integerOption(config.maxRequestSize, 'maxRequestSize', 1048576, 1);
  }

  async connect(): Promise<void> {
    await this.#context.topics();
    this.#connected = true;
    this.#context.attach(this, 'producer');
    this.#instrumentation.emit(this.events.CONNECT, null);
  }

  /** Writes what is queued, waits for sends in flight, and closes the producer. */
  async disconnect(): Promise<void> {
    // As KafkaJS: disconnecting a disconnected producer resolves and reports the event again.
    if (!this.#connected) {
      this.#instrumentation.emit(this.events.DISCONNECT, null);
      return;
    }
    // Sends still on their way to a queue must not wait out lingerMs.
    this.#draining = true;
    this.#flushAll();
    await Promise.allSettled([...this.#inFlight]);
    this.#draining = false;
    this.#connected = false;
    this.#context.detach(this);
    this.#instrumentation.emit(this.events.DISCONNECT, null);
  }

  /** KafkaJS instrumentation events; returns a function that removes the listener. */
  on(event: string, listener: (event: unknown) => unknown): () => void {
    return this.#instrumentation.on(event, listener);
  }

  /** This client's logger (KafkaJS's `producer.logger()`). */
  logger(): Logger {
    return this.#logger;
  }

  isIdempotent(): boolean {
    return false;
  }

  send(record: ProducerRecord): Promise<RecordMetadata[]> {
    if (record === null || typeof record !== 'object') return Promise.reject(new InvalidArgumentError('send(record): record must be an object'));
    return this.sendBatch({
      acks: record.acks,
      timeout: record.timeout,
      compression: record.compression,
      topicMessages: [{ topic: record.topic, messages: record.messages }],
    });
  }

  sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]> {
    const run = this.#sendBatch(batch);
    this.#inFlight.add(run);
    const forget = () => this.#inFlight.delete(run);
    run.then(forget, forget);
    return run;
  }

  async #sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]> {
    if (!this.#connected) throw new NotConnectedError('producer is not connected: call producer.connect() first');
    if (batch === null || typeof batch !== 'object' || !Array.isArray(batch.topicMessages)) {
      throw new InvalidArgumentError('sendBatch: topicMessages must be an array of { topic, messages }');
    }
    const acks = checkAcks(batch.acks);
    const gzip = checkCompression(batch.compression);
    this.#context.openedTopics();
    const now = this.#context.clock();
    const send = new PendingSend();
    const entries = batch.topicMessages;

    // Validate every message before any topic is created or anything queued.
    const staged: RecordRun[] = [];
    for (let t = 0; t < entries.length; t++) {
      const entry = entries[t];
      if (entry === null || typeof entry !== 'object' || !Array.isArray(entry.messages)) {
        throw new InvalidArgumentError(`topicMessages[${t}] must be { topic, messages: [...] }`);
      }
      validateTopicName(entry.topic);
      staged.push(RecordRun.measure(entry.messages, entry.topic, send, now, gzip));
    }
    const routed: { partition: Partition; run: RecordRun }[] = [];
    for (let t = 0; t < entries.length; t++) {
      const registry = this.#context.openedTopics();
      const name = entries[t]!.topic;
      const topic = registry.has(name) ? registry.get(name) : await this.#topic(name);
      this.#route(topic, entries[t]!.messages, staged[t]!, gzip, send, routed);
    }
    // Count every record before queueing any: a full batch is appended on
    // the next turn, and the send must not look done while later records wait.
    for (const { run } of routed) send.outstanding += run.count;
    if (send.outstanding === 0) send.resolve();
    for (const { partition, run } of routed) this.#enqueue(partition, run);
    if (acks === 0) {
      // Resolved once queued: offsets are not known yet (-1, as Kafka's client reports).
      const touched = [...new Set(routed.map((r) => r.partition))];
      const queued = touched.map((partition) => ({
        topicName: partition.topic,
        partition: partition.id,
        errorCode: 0,
        baseOffset: '-1',
        logAppendTime: '-1',
        logStartOffset: '-1',
      }));
      // A record refused before queueing is refused at every acks level, as Kafka's producer does.
      if (send.rejected.length > 0) {
        const error = send.rejected[0]!;
        error.recordMetadata = queued;
        throw error;
      }
      return queued;
    }
    await send.done;
    if (send.error !== null) throw send.error;
    if (acks === -1) {
      if (send.firsts.size === 1) await send.firsts.keys().next().value!.durability.sync();
      else await Promise.all([...send.firsts.keys()].map((p) => p.durability.sync()));
    }
    const results = this.#results(send);
    if (send.rejected.length > 0) {
      const error = send.rejected[0]!;
      (error as RecordTooLargeError).recordMetadata = results;
      throw error;
    }
    return results;
  }

  /**
   * Picks each record's partition and splits `run` (the records of
   * `messages`) into one run per partition, in `routed`; a record over the
   * size limit goes to `send.rejected` instead.
   */
  #route(
    topic: Topic,
    messages: readonly Message[],
    run: RecordRun,
    gzip: boolean,
    send: PendingSend,
    routed: { partition: Partition; run: RecordRun }[],
  ): void {
    if (run.count === 0) return;
    const name = topic.name;
    const partitionMetadata = topic.partitions.map((p) => ({ partitionId: p.id, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));
    const limit = Math.min(numericConfig(topic.configs, 'max.message.bytes'), this.#maxRequestSize);
    // Partition ids per record, kept only once they differ.
    let firstId = NaN;
    let ids: number[] | null = null;
    let lastId = NaN;
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i]!;
      let id = message.partition ?? this.#partitioner({ topic: name, partitionMetadata, message });
      if (id !== lastId) {
        topic.partition(id); // throws for a partition the topic lacks
        lastId = id;
      }
      if (HEADER_SIZE + run.bounds[i]! > limit) {
        const tooLarge = this.#sizeProblem(topic.partition(id), message, run.timestampOf(i), limit, gzip);
        if (tooLarge !== null) {
          send.rejected.push(tooLarge);
          id = -1;
        }
      }
      if (ids !== null) ids.push(id);
      else if (i === 0) firstId = id;
      else if (id !== firstId) {
        ids = new Array<number>(i).fill(firstId);
        ids.push(id);
      }
    }
    if (ids === null) {
      if (firstId !== -1) routed.push({ partition: topic.partition(firstId), run });
      return;
    }
    const byPartition = new Map<number, number[]>();
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] === -1) continue;
      let indexes = byPartition.get(ids[i]!);
      if (indexes === undefined) byPartition.set(ids[i]!, (indexes = []));
      indexes.push(i);
    }
    for (const [id, indexes] of byPartition) routed.push({ partition: topic.partition(id), run: run.pick(indexes) });
  }

  async #topic(name: string): Promise<Topic> {
    const registry = this.#context.openedTopics();
    if (registry.has(name)) return registry.get(name);
    if (!this.#allowAutoTopicCreation) {
      registry.get(name); // throws the typed error for a bad or unknown name
      throw new UnknownTopicOrPartitionError(`unknown topic ${JSON.stringify(name)}`);
    }
    await registry.create(name, this.#context.numPartitions, {});
    return registry.get(name);
  }

  /** A record over the limit gets its own error; the rest of the request goes on. */
  #sizeProblem(partition: Partition, message: Message, timestamp: number, limit: number, gzip: boolean): RecordTooLargeError | null {
    const record: RecordInput = { key: message.key, value: message.value, headers: message.headers, timestamp };
    const exact = encodeBatch([record], { compression: gzip ? 'gzip' : 'none' }).length;
    if (exact <= limit) return null;
    const which =
      limit === this.#maxRequestSize ? `the producer's maxRequestSize (${limit} bytes)` : `max.message.bytes of topic ${partition.topic} (${limit} bytes)`;
    return new RecordTooLargeError(`a record for ${partition.topic}-${partition.id} is ${exact} bytes as a batch, larger than ${which}`);
  }

  #enqueue(partition: Partition, run: RecordRun): void {
    let queue = this.#queues.get(partition);
    if (queue === undefined) {
      queue = [];
      this.#queues.set(partition, queue);
    }
    queue.push(run);
    const bytes = (this.#queuedBytes.get(partition) ?? 0) + run.bytes;
    this.#queuedBytes.set(partition, bytes);
    // A full batch is written on the next turn of the event loop, not inside
    // send(): appending synchronously here lets sends resolve each other
    // through promise callbacks alone and starves timers and I/O.
    this.#scheduleFlush(bytes >= this.#batchSize);
  }

  #scheduleFlush(full = false): void {
    if (this.#lingerMs > 0 && !this.#draining && !full) {
      this.#lingerTimer ??= setTimeout(() => {
        this.#lingerTimer = null;
        this.#flushAll();
      }, this.#lingerMs);
      return;
    }
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      this.#flushAll();
    });
  }

  #flushAll(): void {
    if (this.#lingerTimer !== null) clearTimeout(this.#lingerTimer);
    this.#lingerTimer = null;
    for (const partition of [...this.#queues.keys()]) this.#flush(partition);
  }

  /**
   * Encodes the partition's queue into batches of at most `batchSize` bytes
   * (a record larger than that gets a batch of its own, as in Kafka) and
   * appends them, as many together as fit APPEND_GATHER_BYTES and the
   * topic's segment.bytes.
   */
  #flush(partition: Partition): void {
    const runs = this.#queues.get(partition);
    if (runs === undefined || runs.length === 0) return;
    this.#queues.delete(partition);
    this.#queuedBytes.delete(partition);
    const configs = this.#context.openedTopics().get(partition.topic).configs;
    const cap = Math.min(this.#batchSize, numericConfig(configs, 'max.message.bytes') - HEADER_SIZE);
    const groupCap = Math.min(APPEND_GATHER_BYTES, numericConfig(configs, 'segment.bytes'));
    const writer = this.#writer;
    const group = new AppendGroup();
    const now = this.#context.clock();
    writer.reset();
    let r = 0;
    let i = 0;
    while (r < runs.length) {
      const gzip = runs[r]!.gzip;
      // One batch: records while they fit the cap, at least one.
      const startRun = r;
      const startIndex = i;
      let bytes = 0;
      let count = 0;
      while (r < runs.length && runs[r]!.gzip === gzip) {
        const run = runs[r]!;
        const bound = run.bounds[i]!;
        if (count > 0 && bytes + bound > cap) break;
        bytes += bound;
        count++;
        if (++i === run.count) {
          r++;
          i = 0;
        }
      }
      // The group is written first when this batch would take it past its cap.
      if (!writer.isEmpty && writer.bytes + HEADER_SIZE + bytes > groupCap) this.#write(partition, group, now);
      if (gzip) this.#addCompressed(runs, startRun, startIndex, count, now, group);
      else {
        writer.beginBatch();
        for (let run = startRun, at = startIndex, left = count; left > 0; left--) {
          writer.addRecord(runs[run]!, at);
          group.add(runs[run]!, 1);
          if (++at === runs[run]!.count) {
            run++;
            at = 0;
          }
        }
        writer.endBatch();
      }
    }
    if (!writer.isEmpty) this.#write(partition, group, now);
  }

  /** A gzip batch of `count` records from record `index` of `runs[first]` on, encoded whole and added to the group. */
  #addCompressed(runs: readonly RecordRun[], first: number, index: number, count: number, now: number, group: AppendGroup): void {
    const records: RecordInput[] = [];
    const members: { run: RecordRun; count: number }[] = [];
    for (let r = first, at = index, left = count; left > 0; left--) {
      const run = runs[r]!;
      const headers = run.headers?.[at] ?? null;
      records.push({
        key: run.keyOf(at),
        value: run.values[at]!,
        headers: headers === null ? undefined : headersObject(headers.names, headers.values),
        timestamp: run.timestampOf(at),
      });
      if (members.at(-1)?.run === run) members.at(-1)!.count++;
      else members.push({ run, count: 1 });
      if (++at === run.count) {
        r++;
        at = 0;
      }
    }
    let bytes: Buffer;
    try {
      bytes = encodeBatch(records, { compression: 'gzip', now });
    } catch (error) {
      for (const m of members) m.run.send.recordsFailed(error, m.count);
      return;
    }
    this.#writer.addEncoded(bytes, count);
    for (const m of members) group.add(m.run, m.count);
  }

  /** Appends what the writer holds and tells the sends of the group's records. */
  #write(partition: Partition, group: AppendGroup, now: number): void {
    const writer = this.#writer;
    try {
      const result = partition.appendGathered(writer.framing, writer.values, writer.cuts, now, writer.records);
      let offset = result.baseOffset;
      for (let k = 0; k < group.runs.length; k++) {
        group.runs[k]!.send.recordsWritten(partition, offset, group.counts[k]!, result.logAppendTime, result.logStartOffset);
        offset += group.counts[k]!;
      }
    } catch (error) {
      for (let k = 0; k < group.runs.length; k++) group.runs[k]!.send.recordsFailed(error, group.counts[k]!);
    }
    writer.reset();
    group.clear();
  }

  #results(send: PendingSend): RecordMetadata[] {
    return [...send.firsts.entries()].map(([partition, first]) => ({
      topicName: partition.topic,
      partition: partition.id,
      errorCode: 0,
      baseOffset: String(first.baseOffset),
      logAppendTime: String(first.logAppendTime),
      logStartOffset: String(first.logStartOffset),
    }));
  }
}

/** The records of one append, as runs of consecutive records of one RecordRun each. */
class AppendGroup {
  readonly runs: RecordRun[] = [];
  readonly counts: number[] = [];

  add(run: RecordRun, count: number): void {
    const last = this.runs.length - 1;
    if (last >= 0 && this.runs[last] === run) this.counts[last]! += count;
    else {
      this.runs.push(run);
      this.counts.push(count);
    }
  }

  clear(): void {
    this.runs.length = 0;
    this.counts.length = 0;
  }
}
