// KafkaJS's producer on the embedded store. Records for one partition are
// gathered (within `lingerMs` / `batchSize`) into RecordBatch v2 batches that
// cross into Rust as one Buffer each; acks decide when a send resolves.
import { InvalidArgumentError, NotConnectedError, RecordTooLargeError, UnknownTopicOrPartitionError, UnsupportedFeatureError } from '../errors.js';
import { describeValue, integerOption, kafkaJsFlag } from '../arguments.js';
import type { ClientContext } from '../client-context.js';
import { checkEventName, Instrumentation, networkEvents } from '../instrumentation.js';
import { checkBatchContents } from '../record-batch/append-checks.js';
import type { CompressionName } from '../record-batch/codecs.js';
import { type CompressionCodec, compressWith, registeredCodec } from '../record-batch/compression-codecs.js';
import { encodeBatch, type RecordInput, withCompressedRecords } from '../record-batch/encode.js';
import type { Logger } from '../logger.js';
import { headersObject } from '../record-batch/headers.js';
import * as layout from '../record-batch/layout.js';
import type { Partition } from '../topics/partition.js';
import { numericConfig, topicCompression } from '../topics/topic-config.js';
import type { Topic } from '../topics/topic-registry.js';
import { validateTopicName } from '../topics/topic-name.js';
import { BatchWriter } from './batch-writer.js';
import { BufferMemory, type Piece } from './buffer-memory.js';
import { CompressionRatios } from './compression-ratios.js';
import { Partitioners, type Partitioner, type PartitionerFactory } from './partitioners.js';
import { PendingSend } from './pending-send.js';
import { allocateProducerId } from '../storage/producer-ids.js';
import { nextSequence } from './sequences.js';
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
  /**
   * Kafka's `buffer.memory`: bytes of records that sends have handed over and
   * that are not appended yet (default 33554432, Kafka's). A send that does
   * not fit waits; a record larger than this is refused with RecordTooLargeError.
   */
  bufferMemory?: number;
  /** Kafka's `max.block.ms`: how long a send waits for room in `bufferMemory` before its records fail with TimeoutError (default 60000). */
  maxBlockMs?: number;
  /**
   * An idempotent producer, as Kafka's: it gets a producer id at connect (epoch
   * 0) and numbers its batches per partition; the store stores a batch it
   * already holds once and refuses a gap (OutOfOrderSequenceNumberError). As
   * in KafkaJS, sends must use acks -1 and `retry.retries` must be at least 1.
   */
  idempotent?: boolean;
  /** Transactions are not supported yet: a producer with a transactionalId is refused with UnsupportedFeatureError. */
  transactionalId?: string;
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

/** The codec number of a send's `compression` (one of CompressionTypes; none when absent). */
function checkCompression(compression: unknown): number {
  if (compression === undefined) return CompressionTypes.None;
  if (typeof compression === 'number' && Number.isInteger(compression) && compression >= CompressionTypes.None && compression <= CompressionTypes.ZSTD) {
    return compression;
  }
  throw new InvalidArgumentError(`compression must be one of CompressionTypes, got ${describeValue(compression)}`);
}

const CODEC_NAMES: readonly CompressionName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

export class Producer {
  readonly events = { CONNECT: 'producer.connect', DISCONNECT: 'producer.disconnect', ...networkEvents('producer') } as const;
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
  readonly #memory: BufferMemory;
  #flushScheduled = false;
  #lingerTimer: NodeJS.Timeout | null = null;
  /** Resolves on the next turn of the event loop, after the flush due in this one (acks 0 sends wait for it). */
  #turn: Promise<void> | null = null;
  /** Every send accepted and not settled: disconnect() waits for them. */
  readonly #inFlight = new Set<Promise<unknown>>();
  #state: 'disconnected' | 'connected' | 'disconnecting' = 'disconnected';
  /** The last disconnect(): while the state is 'disconnecting', every call returns it. */
  #disconnecting: Promise<void> | null = null;
  readonly #ratios = new CompressionRatios();
  /** Partitions whose next batch a codec registered in CompressionCodecs is compressing (#compressRegistered). */
  readonly #compressing = new Map<Partition, Promise<void>>();

  readonly #context: ClientContext;
  readonly #idempotent: boolean;
  /** The idempotent producer's id, from connect() on; -1 otherwise. Its epoch is 0. */
  #producerId = -1;
  /** The sequence number of the next record per partition, for an idempotent producer: advanced once an append is stored. */
  readonly #sequences = new Map<Partition, number>();

  constructor(context: ClientContext, config: ProducerConfig = {}) {
    this.#context = context;
    this.#logger = context.logger().namespace('Producer');
    this.#instrumentation = new Instrumentation(this.#logger);
    if (config === null || typeof config !== 'object') throw new InvalidArgumentError('producer config must be an object');
    if (config.transactionalId !== undefined && config.transactionalId !== null) throw transactionsUnsupported();
    const factory = config.createPartitioner ?? Partitioners.DefaultPartitioner;
    if (typeof factory !== 'function') throw new InvalidArgumentError('createPartitioner must be a function returning a partitioner');
    this.#partitioner = factory();
    this.#allowAutoTopicCreation = kafkaJsFlag(config.allowAutoTopicCreation, context.allowAutoTopicCreation);
    this.#lingerMs = integerOption(config.lingerMs, 'lingerMs', 0, 0);
    this.#batchSize = integerOption(config.batchSize, 'batchSize', 16384, 1);
    this.#maxRequestSize = integerOption(config.maxRequestSize, 'maxRequestSize', 1048576, 1);
    this.#memory = new BufferMemory(integerOption(config.bufferMemory, 'bufferMemory', 33554432, 1), integerOption(config.maxBlockMs, 'maxBlockMs', 60000, 0));
    this.#idempotent = kafkaJsFlag(config.idempotent, false);
    if (this.#idempotent) checkIdempotentRetry(config.retry, context);
  }

  async connect(): Promise<void> {
    if (this.#disconnecting !== null) await this.#disconnecting;
    const registry = await this.#context.topics();
    if (this.#idempotent) {
      // A new id at every connect, as KafkaJS asks for one (InitProducerId) at
      // connect; above every id in the logs, adopted Kafka partitions included.
      let floor = 0;
      for (const topic of registry.list()) for (const partition of topic.partitions) floor = Math.max(floor, partition.log.maxProducerId + 1);
      this.#producerId = allocateProducerId(this.#context.dir, floor);
      this.#sequences.clear();
    }
    this.#state = 'connected';
    this.#context.attach(this, 'producer');
    this.#instrumentation.emit(this.events.CONNECT, null);
  }

  /**
   * Refuses new sends, writes what is queued and resolves once every send
   * accepted before it has settled (Fjord.close() relies on this).
   */
  disconnect(): Promise<void> {
    // As KafkaJS: disconnecting a disconnected producer resolves and reports the event again.
    if (this.#state === 'disconnected') {
      this.#instrumentation.emit(this.events.DISCONNECT, null);
      return Promise.resolve();
    }
    if (this.#state === 'connected') this.#disconnecting = this.#drain();
    return this.#disconnecting!;
  }

  async #drain(): Promise<void> {
    this.#state = 'disconnecting';
    try {
      // Queued records are written now, not after lingerMs; a send still on
      // its way to a queue (creating its topic, or waiting for bufferMemory)
      // queues behind, so this goes round until nothing is left.
      // Batches a registered codec is compressing hold their partition's queue until written.
      while (this.#inFlight.size > 0 || this.#queues.size > 0 || this.#compressing.size > 0) {
        this.#flushAll();
        if (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
        else if (this.#compressing.size > 0) await Promise.allSettled([...this.#compressing.values()]);
      }
    } finally {
      this.#state = 'disconnected';
      this.#context.detach(this);
    }
    this.#instrumentation.emit(this.events.DISCONNECT, null);
  }

  /** KafkaJS instrumentation events; returns a function that removes the listener. */
  on(event: string, listener: (event: unknown) => unknown): () => void {
    checkEventName('producer', this.events, event);
    return this.#instrumentation.on(event, listener);
  }

  /** This client's logger (KafkaJS's `producer.logger()`). */
  logger(): Logger {
    return this.#logger;
  }

  isIdempotent(): boolean {
    return this.#idempotent;
  }

  /** KafkaJS's transactions are not supported yet: rejects with UnsupportedFeatureError. */
  transaction(): Promise<never> {
    return Promise.reject(transactionsUnsupported());
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
    // Checked before the first await: a send made after disconnect() is refused, as in KafkaJS.
    if (this.#state === 'disconnecting') throw new NotConnectedError('producer is disconnecting: it accepts no more sends');
    if (this.#state !== 'connected') throw new NotConnectedError('producer is not connected: call producer.connect() first');
    if (batch === null || typeof batch !== 'object' || !Array.isArray(batch.topicMessages)) {
      throw new InvalidArgumentError('sendBatch: topicMessages must be an array of { topic, messages }');
    }
    const acks = checkAcks(batch.acks);
    if (this.#idempotent && acks !== -1) {
      throw new InvalidArgumentError("Not requiring ack for all messages invalidates the idempotent producer's EoS guarantees");
    }
    const codec = checkCompression(batch.compression);
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
      staged.push(RecordRun.measure(entry.messages, entry.topic, send, now, codec));
    }
    const routed: { partition: Partition; run: RecordRun }[] = [];
    for (let t = 0; t < entries.length; t++) {
      const registry = this.#context.openedTopics();
      const name = entries[t]!.topic;
      const topic = registry.has(name) ? registry.get(name) : await this.#topic(name);
      this.#route(topic, entries[t]!.messages, staged[t]!, codec, send, routed);
    }
    // Count every record before queueing any: a full batch is appended on
    // the next turn, and the send must not look done while later records wait.
    for (const { run } of routed) send.outstanding += run.count;
    if (send.outstanding === 0) send.resolve();
    const admitted = this.#admit(routed);
    if (acks === 0) {
      if (admitted !== null) await admitted;
      // Resolved once queued, on the next turn of the event loop: a loop of
      // acks 0 sends lets timers and I/O run, and the flush due in this turn
      // runs first. Offsets are not known (-1, as Kafka's client reports).
      await this.#nextTurn();
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
      // Records that failed before the send resolved (Fjord closed under the producer, maxBlockMs, a disk error).
      if (send.error !== null) throw send.error;
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
    codec: number,
    send: PendingSend,
    routed: { partition: Partition; run: RecordRun }[],
  ): void {
    if (run.count === 0) return;
    // A topic's compression.type other than `producer` decides the codec, as Kafka's broker recompresses to it.
    const topicCodec = topicCompression(topic.configs);
    if (topicCodec !== -1) codec = run.codec = topicCodec;
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
        const tooLarge = this.#sizeProblem(topic.partition(id), message, run.timestampOf(i), limit, codec);
        if (tooLarge !== null) {
          send.rejected.push(tooLarge);
          id = -1;
        }
      }
      // As Kafka's producer: a record that could never fit bufferMemory is refused rather than waited for.
      if (id !== -1 && run.bounds[i]! > this.#memory.total) {
        send.rejected.push(
          new RecordTooLargeError(
            `a record for ${name}-${id} takes up to ${run.bounds[i]} bytes of buffer memory, more than the producer's bufferMemory (${this.#memory.total} bytes)`,
          ),
        );
        id = -1;
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
  #sizeProblem(partition: Partition, message: Message, timestamp: number, limit: number, codec: number): RecordTooLargeError | null {
    const record: RecordInput = { key: message.key, value: message.value, headers: message.headers, timestamp };
    // As Kafka's producer, the limit applies to the record as written: compressed when the send compresses.
    const exact = encodeBatch([record], { compression: CODEC_NAMES[codec] }).length;
    if (exact <= limit) return null;
    const which =
      limit === this.#maxRequestSize ? `the producer's maxRequestSize (${limit} bytes)` : `max.message.bytes of topic ${partition.topic} (${limit} bytes)`;
    return new RecordTooLargeError(`a record for ${partition.topic}-${partition.id} is ${exact} bytes as a batch, larger than ${which}`);
  }

  /**
   * Hands the routed runs to their queues within bufferMemory: at once when
   * they fit and no send waits before them (null), otherwise in line, in
   * pieces of at most bufferMemory, all queued now so that no later send
   * overtakes them. The promise resolves once every piece is queued or has
   * failed with TimeoutError after maxBlockMs.
   */
  #admit(routed: readonly { partition: Partition; run: RecordRun }[]): Promise<void> | null {
    let k = 0;
    while (k < routed.length && this.#memory.tryTake(routed[k]!.run.bytes)) {
      this.#enqueue(routed[k]!.partition, routed[k]!.run);
      k++;
    }
    if (k === routed.length) return null;
    const pieces: RunPiece[] = [];
    for (; k < routed.length; k++) {
      const { partition, run } = routed[k]!;
      for (const piece of run.split(this.#memory.total)) pieces.push({ bytes: piece.bytes, run: piece, admit: () => this.#enqueue(partition, piece) });
    }
    return new Promise((resolve) => {
      this.#memory.wait(pieces, resolve, (error, left) => {
        // These pieces never took memory: nothing to give back.
        for (const { run } of left) {
          run.settled = run.count;
          run.send.recordsFailed(error, run.count);
        }
      });
      // Sends wait for room: what is queued is written now rather than after
      // lingerMs (as Kafka's sender does when memory is exhausted).
      this.#scheduleFlush(true);
    });
  }

  /** Resolves on the next turn of the event loop; one immediate serves every send of this turn. */
  #nextTurn(): Promise<void> {
    this.#turn ??= new Promise((resolve) =>
      setImmediate(() => {
        this.#turn = null;
        resolve();
      }),
    );
    return this.#turn;
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
    if (this.#lingerMs > 0 && this.#state !== 'disconnecting' && !full && !this.#memory.isExhausted) {
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

  /** Writes every queue; runs from timers and immediates, so it never throws: a failure goes to the sends of the records it hit. */
  #flushAll(): void {
    if (this.#lingerTimer !== null) clearTimeout(this.#lingerTimer);
    this.#lingerTimer = null;
    for (const partition of [...this.#queues.keys()]) this.#flush(partition);
  }

  /** Takes the partition's queue and writes it; never throws. */
  #flush(partition: Partition): void {
    // A registered codec is compressing a batch of this partition: the queue waits its turn (#compressRegistered).
    if (this.#compressing.has(partition)) return;
    const runs = this.#queues.get(partition);
    if (runs === undefined) return;
    this.#queues.delete(partition);
    this.#queuedBytes.delete(partition);
    try {
      this.#append(partition, runs);
    } catch (error) {
      // Not an append's error (#write gives those to its records): the topic
      // was deleted or Fjord closed under the producer. Every record not told
      // yet fails with it.
      this.#writer.reset();
      for (const run of runs) {
        const left = run.count - run.settled;
        if (left === 0) continue;
        this.#settle(run, left);
        run.send.recordsFailed(error, left);
      }
    }
  }

  /**
   * The next `count` records of `run` (a run's records settle in order) were
   * appended or failed: their bytes go back to bufferMemory, which may let
   * waiting sends into the queues.
   */
  #settle(run: RecordRun, count: number): void {
    let bytes = 0;
    for (let i = run.settled, end = run.settled + count; i < end; i++) bytes += run.bounds[i]!;
    run.settled += count;
    this.#memory.release(bytes);
  }

  /**
   * Encodes the partition's queue into batches of at most `batchSize` bytes
   * (a record larger than that gets a batch of its own, as in Kafka) and
   * appends them, as many together as fit APPEND_GATHER_BYTES and the
   * topic's segment.bytes.
   */
  #append(partition: Partition, runs: readonly RecordRun[]): void {
    const configs = this.#context.openedTopics().get(partition.topic).configs;
    // A batch's records never exceed max.message.bytes uncompressed, so a wrong compression estimate cannot make it too large.
    const messageCap = numericConfig(configs, 'max.message.bytes') - HEADER_SIZE;
    const groupCap = Math.min(APPEND_GATHER_BYTES, numericConfig(configs, 'segment.bytes'));
    const writer = this.#writer;
    const group = new AppendGroup();
    const now = this.#context.clock();
    const producerId = this.#producerId;
    // The first sequence of the next batch: numbered as encoded, kept once stored.
    let sequence = producerId === -1 ? -1 : (this.#sequences.get(partition) ?? 0);
    writer.reset();
    let r = 0;
    let i = 0;
    while (r < runs.length) {
      const codec = runs[r]!.codec;
      // batch.size counts estimated compressed bytes, as in Kafka's producer (compression-ratios.ts).
      const cap = Math.min(
        codec === CompressionTypes.None ? this.#batchSize : this.#ratios.recordBytesFor(partition.topic, codec, this.#batchSize),
        messageCap,
      );
      // One batch: records while they fit the cap, at least one.
      const startRun = r;
      const startIndex = i;
      let bytes = 0;
      let count = 0;
      while (r < runs.length && runs[r]!.codec === codec) {
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
      if (codec !== CompressionTypes.None && this.#startRegistered(partition, runs, startRun, startIndex, count, bytes, r, i, codec, now, group, sequence))
        return;
      // The group is written first when this batch would take it past its cap.
      if (!writer.isEmpty && writer.bytes + HEADER_SIZE + bytes > groupCap && !this.#write(partition, group, now, sequence)) {
        // Nothing of the group was stored: its sequence numbers go to the next batches.
        sequence = this.#sequences.get(partition) ?? 0;
      }
      if (codec !== CompressionTypes.None) {
        const size = this.#addCompressed(runs, startRun, startIndex, count, codec, now, group, sequence);
        if (size > 0) {
          this.#ratios.update(partition.topic, codec, bytes, size - HEADER_SIZE);
          if (producerId !== -1) sequence = nextSequence(sequence, count);
        }
      } else {
        writer.beginBatch();
        for (let run = startRun, at = startIndex, left = count; left > 0; left--) {
          writer.addRecord(runs[run]!, at);
          group.add(runs[run]!, 1);
          if (++at === runs[run]!.count) {
            run++;
            at = 0;
          }
        }
        if (producerId === -1) writer.endBatch();
        else {
          writer.endBatch(producerId, 0, sequence);
          sequence = nextSequence(sequence, count);
        }
      }
    }
    if (!writer.isEmpty) this.#write(partition, group, now, sequence);
  }

  /**
   * A compressed batch of `count` records from record `index` of `runs[first]`
   * on, encoded whole (first sequence `sequence` for an idempotent producer)
   * and added to the group; its size, 0 when it could not be encoded (its
   * records failed).
   */
  #addCompressed(
    runs: readonly RecordRun[],
    first: number,
    index: number,
    count: number,
    codec: number,
    now: number,
    group: AppendGroup,
    sequence: number,
  ): number {
    const { records, members } = batchRecords(runs, first, index, count);
    let bytes: Buffer;
    try {
      bytes = encodeBatch(records, { compression: CODEC_NAMES[codec], now, ...this.#producerFields(sequence) });
    } catch (error) {
      for (const m of members) {
        this.#settle(m.run, m.count);
        m.run.send.recordsFailed(error, m.count);
      }
      return 0;
    }
    this.#writer.addEncoded(bytes, count);
    for (const m of members) group.add(m.run, m.count);
    return bytes.length;
  }

  /**
   * When a codec registered in CompressionCodecs replaces the built-in one
   * for `codec`: writes what the flush gathered so far, puts the records after
   * this batch (from record `nextIndex` of `runs[nextRun]` on) back in the
   * queue, starts compressing the batch with the registered codec and returns
   * true; the partition's queue is flushed again once that batch is written.
   */
  #startRegistered(
    partition: Partition,
    runs: readonly RecordRun[],
    first: number,
    index: number,
    count: number,
    recordBytes: number,
    nextRun: number,
    nextIndex: number,
    codec: number,
    now: number,
    group: AppendGroup,
    sequence: number,
  ): boolean {
    let registered: CompressionCodec | null;
    try {
      registered = registeredCodec(codec);
    } catch (error) {
      registered = { compress: () => Promise.reject(error), decompress: () => Promise.reject(error) };
    }
    if (registered === null) return false;
    // What the flush gathered goes first; the batch's first sequence follows what was stored.
    if (!this.#writer.isEmpty && !this.#write(partition, group, now, sequence)) sequence = this.#sequences.get(partition) ?? 0;
    const rest = runs.slice(nextRun);
    if (nextIndex > 0) rest[0] = runs[nextRun]!.pick(Array.from({ length: runs[nextRun]!.count - nextIndex }, (_, k) => nextIndex + k));
    if (rest.length > 0) {
      this.#queues.set(partition, rest);
      this.#queuedBytes.set(
        partition,
        rest.reduce((sum, run) => sum + run.bytes, 0),
      );
    }
    const { records, members } = batchRecords(runs, first, index, count);
    this.#compressing.set(partition, this.#compressRegistered(partition, registered, codec, records, members, recordBytes, now, sequence));
    return true;
  }

  /** Compresses one batch with a registered codec, appends it, then lets the partition's queue flush again. Never rejects. */
  async #compressRegistered(
    partition: Partition,
    registered: CompressionCodec,
    codec: number,
    records: RecordInput[],
    members: { run: RecordRun; count: number }[],
    recordBytes: number,
    now: number,
    sequence: number,
  ): Promise<void> {
    try {
      let bytes: Buffer;
      try {
        const plain = encodeBatch(records, { now, ...this.#producerFields(sequence) });
        const compressed = await compressWith(registered, plain.subarray(HEADER_SIZE), CODEC_NAMES[codec]!);
        bytes = withCompressedRecords(plain, compressed, codec);
        this.#ratios.update(partition.topic, codec, recordBytes, compressed.length);
        // What a registered codec wrote must be what Kafka reads: the built-in codec decodes it, as a broker would.
        checkBatchContents(bytes);
      } catch (error) {
        for (const m of members) {
          this.#settle(m.run, m.count);
          m.run.send.recordsFailed(error, m.count);
        }
        return;
      }
      const group = new AppendGroup();
      this.#writer.reset();
      this.#writer.addEncoded(bytes, records.length);
      for (const m of members) group.add(m.run, m.count);
      this.#write(partition, group, now, this.#producerId === -1 ? -1 : nextSequence(sequence, records.length));
    } finally {
      this.#compressing.delete(partition);
      if (this.#queues.has(partition)) this.#scheduleFlush(true);
    }
  }

  /** An idempotent producer's batch header fields for a batch whose first sequence is `sequence` (epoch 0); none otherwise. */
  #producerFields(sequence: number): { producerId?: number; producerEpoch?: number; baseSequence?: number } {
    return this.#producerId === -1 ? {} : { producerId: this.#producerId, producerEpoch: 0, baseSequence: sequence };
  }

  /**
   * Appends what the writer holds and tells the sends of the group's records;
   * false when the append failed. `sequence`: an idempotent producer's next
   * sequence number once the group is stored.
   */
  #write(partition: Partition, group: AppendGroup, now: number, sequence: number): boolean {
    const writer = this.#writer;
    let stored = false;
    try {
      const result = partition.appendGathered(writer.framing, writer.values, writer.cuts, now, writer.records);
      stored = true;
      if (this.#producerId !== -1) this.#sequences.set(partition, sequence);
      let offset = result.baseOffset;
      for (let k = 0; k < group.runs.length; k++) {
        this.#settle(group.runs[k]!, group.counts[k]!);
        group.runs[k]!.send.recordsWritten(partition, offset, group.counts[k]!, result.logAppendTime, result.logStartOffset);
        offset += group.counts[k]!;
      }
    } catch (error) {
      for (let k = 0; k < group.runs.length; k++) {
        this.#settle(group.runs[k]!, group.counts[k]!);
        group.runs[k]!.send.recordsFailed(error, group.counts[k]!);
      }
    }
    writer.reset();
    group.clear();
    return stored;
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

/** Records of a send waiting for bufferMemory. */
interface RunPiece extends Piece {
  readonly run: RecordRun;
}

/** KafkaJS's rules for an idempotent producer's `retry` (kafkajs/src/producer/index.js). */
function checkIdempotentRetry(retry: unknown, context: ClientContext): void {
  const retries = retry !== null && typeof retry === 'object' ? (retry as { retries?: unknown }).retries : undefined;
  if (typeof retries !== 'number') return;
  if (retries < 1) throw new InvalidArgumentError('Idempotent producer must allow retries to protect against transient errors');
  if (retries < Number.MAX_SAFE_INTEGER)
    context.logger().namespace('Producer').warn('Limiting retries for the idempotent producer may invalidate EoS guarantees');
}

function transactionsUnsupported(): UnsupportedFeatureError {
  return new UnsupportedFeatureError('transactions are not supported yet: a producer cannot have a transactionalId, and transaction() is refused', {
    feature: 'transactions',
  });
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

/** The records of a batch: `count` records from record `index` of `runs[first]` on, as encodeBatch takes them, and how many each run gave. */
function batchRecords(
  runs: readonly RecordRun[],
  first: number,
  index: number,
  count: number,
): { records: RecordInput[]; members: { run: RecordRun; count: number }[] } {
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
  return { records, members };
}
