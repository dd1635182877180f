// KafkaJS's producer on the embedded store. Records for one partition are
// gathered (within `lingerMs` / `batchSize`) into RecordBatch v2 batches that
// cross into Rust as one Buffer each; acks decide when a send resolves.
import {
  InvalidArgumentError,
  NotConnectedError,
  RecordTooLargeError,
  UnknownTopicOrPartitionError,
  UnsupportedCompressionError,
} from '../errors.js';
import { booleanOption, describeValue, integerOption } from '../arguments.js';
import type { Fjord } from '../fjord.js';
import { Instrumentation } from '../instrumentation.js';
import { concatBuilt, encodeBatch, type RecordInput } from '../storage/record-batch.js';
import type { Partition } from '../topics/partition.js';
import { numericConfig } from '../topics/topic-config.js';
import type { Topic } from '../topics/topic-registry.js';
import { validateTopicName } from '../topics/topic-name.js';
import { Partitioners, type Partitioner, type PartitionerFactory } from './partitioners.js';

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

export interface Message {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  partition?: number;
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
  timestamp?: string | number;
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

/** One send() call: its records, and what it waits for. */
class PendingSend {
  outstanding = 0;
  /** First offset of this send's records per touched partition, in first-touch order. */
  readonly firsts = new Map<Partition, { baseOffset: number; logAppendTime: number }>();
  readonly rejected: RecordTooLargeError[] = [];
  error: unknown = null;
  readonly done: Promise<void>;
  resolve!: () => void;

  constructor() {
    this.done = new Promise<void>((resolve) => (this.resolve = resolve));
  }

  recordWritten(partition: Partition, offset: number, logAppendTime: number): void {
    if (!this.firsts.has(partition)) this.firsts.set(partition, { baseOffset: offset, logAppendTime });
    if (--this.outstanding === 0) this.resolve();
  }

  recordFailed(error: unknown): void {
    this.error ??= error;
    if (--this.outstanding === 0) this.resolve();
  }
}

interface Queued {
  record: RecordInput;
  /** Upper bound of the record's bytes inside a batch. */
  bytes: number;
  send: PendingSend;
  gzip: boolean;
}

/** Batches of one flush are copied together into one append up to this many bytes. */
const APPEND_GATHER_BYTES = 1 << 20;
const RECORD_OVERHEAD = 21; // attributes, timestamp delta, offset delta and length varints, at most
const BATCH_HEADER = 61;
const VARINT_MAX = 5;

function byteLength(data: Buffer | string | null | undefined): number {
  if (data === null || data === undefined) return 0;
  return typeof data === 'string' ? Buffer.byteLength(data) : data.length;
}

function checkData(data: unknown, what: string): void {
  if (data === null || data === undefined || typeof data === 'string' || Buffer.isBuffer(data)) return;
  throw new InvalidArgumentError(`${what} must be a Buffer, a string or null, got ${typeof data === 'object' ? Object.prototype.toString.call(data) : typeof data}`);
}

/** The rule encodeBatch applies, checked before queueing so that one bad record cannot fail a batch shared with other sends. */
function checkTimestamp(timestamp: unknown, what: string): void {
  if (timestamp === undefined || timestamp === null) return;
  const ms = typeof timestamp === 'string' && /^-?\d+$/.test(timestamp) ? Number(timestamp) : timestamp;
  if (typeof ms === 'number' && Number.isInteger(ms) && ms >= -1 && ms <= 8.64e15) return;
  throw new InvalidArgumentError(`${what} must be an integer number of ms since the epoch (or a decimal string of one), got ${typeof timestamp === 'string' ? JSON.stringify(timestamp) : String(timestamp)}`);
}

/** Validates a message and returns an upper bound of its encoded bytes in a batch. */
function measure(message: Message, where: string): number {
  if (message === null || typeof message !== 'object') throw new InvalidArgumentError(`${where} must be an object with a value`);
  if (message.value === undefined) throw new InvalidArgumentError(`${where}.value is missing (use null for a tombstone)`);
  checkData(message.value, `${where}.value`);
  checkData(message.key, `${where}.key`);
  checkTimestamp(message.timestamp, `${where}.timestamp`);
  if (message.partition !== undefined && message.partition !== null && !Number.isInteger(message.partition)) {
    throw new InvalidArgumentError(`${where}.partition must be an integer partition number, got ${describeValue(message.partition)}`);
  }
  let bytes = RECORD_OVERHEAD + 2 * VARINT_MAX + byteLength(message.key) + byteLength(message.value);
  if (message.headers !== undefined) {
    if (message.headers === null || typeof message.headers !== 'object' || Array.isArray(message.headers)) {
      throw new InvalidArgumentError(`${where}.headers must be an object`);
    }
    for (const [name, value] of Object.entries(message.headers)) {
      const values = Array.isArray(value) ? value : [value];
      for (const v of values) {
        if (v === undefined) continue;
        checkData(v, `${where}.headers[${JSON.stringify(name)}]`);
        bytes += 2 * VARINT_MAX + Buffer.byteLength(name) + byteLength(v);
      }
    }
    bytes += VARINT_MAX;
  }
  return bytes;
}

function checkAcks(acks: unknown): -1 | 0 | 1 {
  if (acks === undefined || acks === -1 || acks === 'all') return -1;
  if (acks === 0 || acks === 1) return acks;
  throw new InvalidArgumentError(`acks must be -1 (all), 0 or 1, got ${describeValue(acks)}`);
}

function checkCompression(compression: unknown): boolean {
  if (compression === undefined || compression === CompressionTypes.None) return false;
  if (compression === CompressionTypes.GZIP) return true;
  if (compression === CompressionTypes.Snappy || compression === CompressionTypes.LZ4 || compression === CompressionTypes.ZSTD) {
    throw new UnsupportedCompressionError(`compression ${compression} (${['', '', 'snappy', 'lz4', 'zstd'][compression]}) is not supported; use CompressionTypes.None or CompressionTypes.GZIP`, { codec: compression });
  }
  throw new InvalidArgumentError(`compression must be one of CompressionTypes, got ${describeValue(compression)}`);
}


export class Producer {
  readonly events = { CONNECT: 'producer.connect', DISCONNECT: 'producer.disconnect' } as const;
  readonly #instrumentation = new Instrumentation();
  readonly #partitioner: Partitioner;
  readonly #allowAutoTopicCreation: boolean;
  readonly #lingerMs: number;
  readonly #batchSize: number;
  readonly #maxRequestSize: number;
  readonly #queues = new Map<Partition, Queued[]>();
  readonly #queuedBytes = new Map<Partition, number>();
  #flushScheduled = false;
  #lingerTimer: NodeJS.Timeout | null = null;
  readonly #inFlight = new Set<Promise<unknown>>();
  #connected = false;
  #draining = false;

  constructor(
    private readonly fjord: Fjord,
    config: ProducerConfig = {},
  ) {
    if (config === null || typeof config !== 'object') throw new InvalidArgumentError('producer config must be an object');
    const factory = config.createPartitioner ?? Partitioners.DefaultPartitioner;
    if (typeof factory !== 'function') throw new InvalidArgumentError('createPartitioner must be a function returning a partitioner');
    this.#partitioner = factory();
    this.#allowAutoTopicCreation = booleanOption(config.allowAutoTopicCreation, 'allowAutoTopicCreation', fjord.allowAutoTopicCreation);
    this.#lingerMs = integerOption(config.lingerMs, 'lingerMs', 0, 0);
    this.#batchSize = integerOption(config.batchSize, 'batchSize', 16384, 1);
    this.#maxRequestSize = integerOption(config.maxRequestSize, 'maxRequestSize', 1048576, 1);
  }

  async connect(): Promise<void> {
    await this.fjord.topics();
    this.#connected = true;
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
    this.#instrumentation.emit(this.events.DISCONNECT, null);
  }

  /** KafkaJS instrumentation events; returns a function that removes the listener. */
  on(event: string, listener: (event: unknown) => void): () => void {
    return this.#instrumentation.on(event, listener);
  }

  isIdempotent(): boolean {
    return false;
  }

  send(record: ProducerRecord): Promise<RecordMetadata[]> {
    if (record === null || typeof record !== 'object') return Promise.reject(new InvalidArgumentError('send(record): record must be an object'));
    return this.sendBatch({ acks: record.acks, timeout: record.timeout, compression: record.compression, topicMessages: [{ topic: record.topic, messages: record.messages }] });
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
    this.fjord.openedTopics();
    const now = this.fjord.clock();

    // Validate every message before any topic is created or anything queued.
    const sizes = batch.topicMessages.map((entry, t) => {
      if (entry === null || typeof entry !== 'object' || !Array.isArray(entry.messages)) {
        throw new InvalidArgumentError(`topicMessages[${t}] must be { topic, messages: [...] }`);
      }
      validateTopicName(entry.topic);
      return entry.messages.map((message, i) => measure(message, `${entry.topic} messages[${i}]`));
    });
    const planned: { partition: Partition; record: RecordInput; bytes: number; limit: number }[] = [];
    for (const [t, { topic: name, messages }] of batch.topicMessages.entries()) {
      const topic = await this.#topic(name);
      const partitionMetadata = topic.partitions.map((p) => ({ partitionId: p.id, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));
      const limit = Math.min(numericConfig(topic.configs, 'max.message.bytes'), this.#maxRequestSize);
      for (const [i, message] of messages.entries()) {
        const id = message.partition ?? this.#partitioner({ topic: name, partitionMetadata, message });
        const partition = topic.partition(id);
        const timestamp = message.timestamp ?? now;
        planned.push({ partition, record: { key: message.key, value: message.value, headers: message.headers, timestamp }, bytes: sizes[t]![i]!, limit });
      }
    }

    const send = new PendingSend();
    const accepted: { partition: Partition; record: RecordInput; bytes: number }[] = [];
    for (const { partition, record, bytes, limit } of planned) {
      const tooLarge = this.#sizeProblem(partition, record, bytes, limit, gzip);
      if (tooLarge !== null) {
        send.rejected.push(tooLarge);
        continue;
      }
      accepted.push({ partition, record, bytes });
    }
    // Count every record before queueing any: a full batch is appended inside
    // #enqueue, and the send must not look done while later records wait.
    send.outstanding = accepted.length;
    if (send.outstanding === 0) send.resolve();
    for (const { partition, record, bytes } of accepted) this.#enqueue(partition, { record, bytes, send, gzip });
    if (acks === 0) {
      // Resolved once queued: offsets are not known yet (-1, as Kafka's client reports).
      const touched = [...new Set(accepted.map((p) => p.partition))];
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
    if (acks === -1) await Promise.all([...send.firsts.keys()].map((p) => p.durability.sync()));
    const results = this.#results(send);
    if (send.rejected.length > 0) {
      const error = send.rejected[0]!;
      (error as RecordTooLargeError).recordMetadata = results;
      throw error;
    }
    return results;
  }

  async #topic(name: string): Promise<Topic> {
    const registry = this.fjord.openedTopics();
    if (registry.has(name)) return registry.get(name);
    if (!this.#allowAutoTopicCreation) {
      registry.get(name); // throws the typed error for a bad or unknown name
      throw new UnknownTopicOrPartitionError(`unknown topic ${JSON.stringify(name)}`);
    }
    await registry.create(name, this.fjord.numPartitions, {});
    return registry.get(name);
  }

  /** A record over the limit gets its own error; the rest of the request goes on. */
  #sizeProblem(partition: Partition, record: RecordInput, bytes: number, limit: number, gzip: boolean): RecordTooLargeError | null {
    if (BATCH_HEADER + bytes <= limit) return null;
    const exact = encodeBatch([record], { compression: gzip ? 'gzip' : 'none' }).length;
    if (exact <= limit) return null;
    const which = limit === this.#maxRequestSize ? `the producer's maxRequestSize (${limit} bytes)` : `max.message.bytes of topic ${partition.topic} (${limit} bytes)`;
    return new RecordTooLargeError(`a record for ${partition.topic}-${partition.id} is ${exact} bytes as a batch, larger than ${which}`);
  }

  #enqueue(partition: Partition, queued: Queued): void {
    let queue = this.#queues.get(partition);
    if (queue === undefined) {
      queue = [];
      this.#queues.set(partition, queue);
    }
    queue.push(queued);
    const bytes = (this.#queuedBytes.get(partition) ?? 0) + queued.bytes;
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

  /** Encodes the partition's queue into batches of at most `batchSize` and appends them. */
  #flush(partition: Partition): void {
    const queue = this.#queues.get(partition);
    if (queue === undefined || queue.length === 0) return;
    this.#queues.delete(partition);
    this.#queuedBytes.delete(partition);
    const cap = Math.min(this.#batchSize, numericConfig(this.fjord.openedTopics().get(partition.topic).configs, 'max.message.bytes') - BATCH_HEADER);
    const batches: Queued[][] = [];
    let start = 0;
    while (start < queue.length) {
      let end = start + 1;
      let bytes = queue[start]!.bytes;
      while (end < queue.length && queue[end]!.gzip === queue[start]!.gzip && bytes + queue[end]!.bytes <= cap) bytes += queue[end++]!.bytes;
      batches.push(queue.slice(start, end));
      start = end;
    }
    this.#append(partition, batches);
  }

  /**
   * Encodes the batches and appends them, gathering small ones into one call
   * (one vectored write) up to APPEND_GATHER_BYTES; larger batches go alone,
   * as copying them together would cost more than the calls it saves.
   */
  #append(partition: Partition, batches: Queued[][]): void {
    const now = this.fjord.clock();
    let pending: { bytes: Buffer; records: Queued[] }[] = [];
    let pendingBytes = 0;
    const write = () => {
      if (pending.length === 0) return;
      const group = pending;
      pending = [];
      pendingBytes = 0;
      try {
        const bytes = group.length === 1 ? group[0]!.bytes : concatBuilt(group.map((g) => g.bytes));
        const result = partition.append(bytes, now, group.reduce((n, g) => n + g.records.length, 0));
        let offset = result.baseOffset;
        for (const g of group) for (const q of g.records) q.send.recordWritten(partition, offset++, result.logAppendTime);
      } catch (error) {
        for (const g of group) for (const q of g.records) q.send.recordFailed(error);
      }
    };
    for (const records of batches) {
      let bytes: Buffer;
      try {
        bytes = encodeBatch(records.map((q) => q.record), { compression: records[0]!.gzip ? 'gzip' : 'none', now });
      } catch (error) {
        for (const q of records) q.send.recordFailed(error);
        continue;
      }
      if (pendingBytes + bytes.length > APPEND_GATHER_BYTES) write();
      pending.push({ bytes, records });
      pendingBytes += bytes.length;
    }
    write();
  }

  #results(send: PendingSend): RecordMetadata[] {
    return [...send.firsts.entries()].map(([partition, first]) => ({
      topicName: partition.topic,
      partition: partition.id,
      errorCode: 0,
      baseOffset: String(first.baseOffset),
      logAppendTime: String(first.logAppendTime),
      logStartOffset: String(partition.log.logStartOffset),
    }));
  }
}
