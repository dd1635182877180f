// The loop behind consumer.run(): join when a rebalance is due, fetch from
// the owned partitions (up to partitionsConsumedConcurrently at once, each in
// order), hand batches to eachBatch / eachMessage under the max.poll.interval
// watchdog, commit as configured, and wait for an append when there is
// nothing to read. A handler that throws is logged and retried with the
// `retry` options' backoff (as KafkaJS's runner does); once no retry is left
// the loop ends with NumberOfRetriesExceededError.
import { KafkaStorageError, NumberOfRetriesExceededError } from '../errors.js';
import type { Logger } from '../logger.js';
import { decompressRegistered, hasRegisteredCodecs } from '../record-batch/compression-codecs.js';
import { type LogSlice, toOffset } from '../storage/log.js';
import { type Batch, CONSUMER_EVENTS, type ConsumerOptions, type ConsumerRunConfig, type EmitEvent, type TopicOffsets } from './consumer-config.js';
import type { Committer } from './committer.js';
import { decodeMessages, type KafkaMessage } from './kafka-message.js';
import type { Membership } from './membership.js';
import type { Owned, Positions } from './positions.js';
import { type Backoff, Retrier } from './retry.js';

/** eachMessage / eachBatch threw: what threw, and where. */
class HandlerFailure {
  constructor(
    readonly error: unknown,
    readonly handler: 'eachMessage' | 'eachBatch',
    readonly topic: string,
    readonly partition: number,
    readonly offset: string | null,
  ) {}
}

/** KafkaJS's rule: a handler's error is retried unless it says `retriable: false` or is a programming error. */
function isRetriable(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return true;
  const { retriable, name } = error as { retriable?: unknown; name?: unknown };
  return retriable !== false && !['RangeError', 'ReferenceError', 'SyntaxError', 'TypeError'].includes(name as string);
}

export class FetchRunner {
  #running = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  /** A wakeUp() that came while the loop was not waiting (mid-pass): the next idle wait is skipped, so it is not lost. */
  #wakePending = false;
  #retrier: Retrier;
  /** Partitions found offline (logged once); skipped by every later pass. */
  readonly #offline = new WeakSet<Owned>();

  constructor(
    private readonly options: ConsumerOptions,
    private readonly positions: Positions,
    private readonly membership: Membership,
    private readonly committer: Committer,
    private readonly emit: EmitEvent,
    /** Resumes a partition a handler paused (consumer.resume). */
    private readonly resume: (topic: string, partition: number) => void,
    private readonly retry: Backoff,
    /** The consumer's `Runner` logger. */
    private readonly logger: Logger,
  ) {
    this.#retrier = new Retrier(retry);
  }

  get running(): boolean {
    return this.#running;
  }

  /** Starts the loop; resolves once the member first joined its group, or the loop ended. `onCrash` gets what ended it. */
  async start(config: ConsumerRunConfig, onCrash: (error: unknown) => void): Promise<void> {
    this.#running = true;
    this.#retrier = new Retrier(this.retry);
    this.membership.rejoin = true;
    this.membership.startHeartbeats();
    const joined = new Promise<void>((resolve) => {
      this.membership.onJoined = resolve;
    });
    this.#loop = this.#run(config).catch((error: unknown) => {
      this.#running = false;
      this.membership.stopHeartbeats();
      try {
        onCrash(error);
      } catch (failure) {
        this.logger.error(`Caught error when reporting a crash: ${String(failure)}`, { groupId: this.options.groupId, stack: (failure as Error)?.stack });
      }
    });
    await Promise.race([joined, this.#loop]);
  }

  /** Ends the loop after the batch in hand; commits what was processed (autoCommit). */
  async stop(): Promise<void> {
    this.#running = false;
    this.wakeUp();
    await this.#loop;
    this.#loop = null;
  }

  /** Ends a wait for data now (a rebalance, a seek, a resume, stop). */
  wakeUp(): void {
    const wake = this.#wake;
    this.#wake = null;
    if (wake === null) this.#wakePending = true;
    else wake();
  }

  async #run(config: ConsumerRunConfig): Promise<void> {
    const autoCommit = config.autoCommit ?? true;
    const membership = this.membership;
    while (this.#running) {
      if (!membership.rejoin && membership.layoutChanged()) membership.rejoin = true;
      if (membership.mustRejoin()) {
        // Revoked partitions' progress is committed once their processing has ended,
        // before the rejoin that lets another member take them.
        await this.committer.commitRevoked();
        if (autoCommit) await this.committer.commitResolved().catch(() => undefined);
        if (membership.memberId !== '') {
          this.logger.info('The group is rebalancing, re-joining', { groupId: this.options.groupId, memberId: membership.memberId });
        }
        this.emit(CONSUMER_EVENTS.REBALANCING, { groupId: this.options.groupId, memberId: membership.memberId });
        if (!(await membership.startRejoin())) continue;
        // As KafkaJS: a rejoin starts a fresh run of retries.
        this.#retrier = new Retrier(this.retry);
      }
      if (membership.backgroundError !== null) {
        const error = membership.backgroundError;
        membership.backgroundError = null;
        throw error;
      }
      let worked: boolean;
      try {
        worked = await this.#fetchAndProcess(config, autoCommit);
      } catch (error) {
        if (!(error instanceof HandlerFailure)) throw error;
        await this.#retryAfter(error, autoCommit);
        continue;
      }
      // Timers and I/O get a turn between passes: a batch handed out again and
      // again (eachBatchAutoResolve false, nothing resolved) would otherwise loop on microtasks alone.
      if (worked) await new Promise<void>((resolve) => setImmediate(resolve));
      if (!worked && this.#running && !membership.mustRejoin()) {
        // Idle: a batch commit put off during a cooperative rejoin, or an autoCommitInterval commit, still falls due.
        if (autoCommit) await this.committer.idleAutoCommit(config);
        if (this.#wakePending) this.#wakePending = false;
        else
          await this.positions.waitForAppend(Math.min(this.options.maxWaitTimeInMs, this.committer.untilIntervalCommit(config)), (wake) => {
            this.#wake = wake;
          });
        this.#wake = null;
      }
    }
    await membership.backgroundJoin;
    membership.backgroundError = null;
    await this.committer.commitRevoked();
    if (autoCommit) await this.committer.commitResolved().catch(() => undefined);
  }

  /**
   * A handler failed (already logged): commits what was processed before it,
   * then waits the backoff's next wait before the loop fetches the failed
   * records again; throws once no retry is left, or for an error that is not
   * worth retrying (KafkaJS's rule).
   */
  async #retryAfter(failure: HandlerFailure, autoCommit: boolean): Promise<void> {
    if (autoCommit) await this.committer.commitResolved().catch(() => undefined);
    const error = failure.error;
    if (!isRetriable(error)) throw error;
    const retryCount = this.#retrier.retryCount;
    const wait = this.#retrier.failed();
    if (wait === null) {
      const { retryCount: count, retryTime } = this.#retrier;
      throw new NumberOfRetriesExceededError(`${failure.handler} failed ${count + 1} times: ${error instanceof Error ? error.message : String(error)}`, {
        retryCount: count,
        retryTime,
        cause: error,
      });
    }
    this.logger.debug('Error while consuming, trying again...', {
      groupId: this.options.groupId,
      memberId: this.membership.memberId,
      error: error instanceof Error ? error.message : String(error),
      stack: error instanceof Error ? error.stack : undefined,
      retryCount,
      retryTime: wait,
    });
    await this.#sleep(wait);
  }

  /** Waits `ms`, or less when the consumer stops or its group rebalances (a seek or a resume does not cut the wait short). */
  async #sleep(ms: number): Promise<void> {
    // A duration: on the monotonic clock.
    const deadline = performance.now() + ms;
    for (let left = ms; left > 0 && this.#running && !this.membership.mustRejoin(); left = deadline - performance.now()) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.#wake = null;
    }
  }

  /** One pass over the owned partitions; true if any records were handed out. */
  async #fetchAndProcess(config: ConsumerRunConfig, autoCommit: boolean): Promise<boolean> {
    await this.positions.resolve((topic, partition) => this.membership.committedOffset(topic, partition));
    this.committer.noteAssignment();
    this.emit(CONSUMER_EVENTS.FETCH_START, {});
    const started = performance.now();
    const owned = this.positions.owned();
    let budget = this.options.maxBytes;
    let worked = false;
    let fetched = 0;
    let next = 0;
    let failure: HandlerFailure | null = null;
    // Up to partitionsConsumedConcurrently partitions are handled at once; each
    // partition's batches stay in order (one worker holds a partition at a time).
    const worker = async () => {
      while (next < owned.length) {
        const o = owned[next++]!;
        if (!this.#running || this.membership.mustRejoin() || budget <= 0 || failure !== null) return;
        if (this.positions.isPaused(o)) continue;
        // As KafkaJS: under autoCommit a seek is committed when it is applied.
        if (this.positions.applySeek(o) && autoCommit) await this.committer.autoCommit(config);
        const slice = this.#unlessOffline(o, () => this.positions.slice(o, Math.min(this.options.maxBytesPerPartition, budget)));
        if (slice === null) continue;
        // Batches of a codec registered in CompressionCodecs are decompressed by it, awaited, first.
        const decompressed = hasRegisteredCodecs() ? await decompressRegistered(slice.bytes, o.position) : undefined;
        const records = this.#unlessOffline(o, () => this.#read(o, slice, decompressed));
        if (records === null) continue;
        budget -= records.bytes;
        fetched++;
        if (records.messages.length === 0) continue;
        worked = true;
        const failed = await this.#process(o, records.messages, records.highWatermark, config);
        if (failed !== null) {
          failure ??= failed;
          return;
        }
        // As KafkaJS: every batch's resolved offsets are committed once it is processed.
        if (autoCommit) await this.committer.autoCommit(config);
      }
    };
    const concurrency = Math.max(1, Math.min(owned.length, config.partitionsConsumedConcurrently ?? 1));
    await Promise.all(Array.from({ length: concurrency }, worker));
    this.emit(CONSUMER_EVENTS.FETCH, { numberOfBatches: fetched, duration: Math.round(performance.now() - started) });
    if (failure !== null) throw failure;
    return worked;
  }

  /**
   * `read()`, or null for a partition an I/O error took offline
   * (KafkaStorageError ERR_LOG_OFFLINE, until Fjord reopens it): it is
   * skipped, as Kafka's consumer goes on fetching the other partitions after a
   * KAFKA_STORAGE_ERROR; logged once. Synchronous, so a pass keeps its turns.
   */
  #unlessOffline<T>(owned: Owned, read: () => T | null): T | null {
    try {
      return read();
    } catch (error) {
      if (!(error instanceof KafkaStorageError && error.code === 'ERR_LOG_OFFLINE')) throw error;
      if (!this.#offline.has(owned)) {
        this.#offline.add(owned);
        this.logger.error(`Partition offline, not fetched until Fjord reopens it: ${error.message}`, {
          groupId: this.options.groupId,
          topic: owned.topic,
          partition: owned.partition.id,
        });
      }
      return null;
    }
  }

  #read(
    owned: Owned,
    slice: LogSlice,
    decompressed: ReadonlyMap<number, Buffer> | undefined,
  ): { messages: KafkaMessage[]; bytes: number; highWatermark: number } {
    // read_committed: nothing at or past the last stable offset, no aborted transaction's records.
    const committed = this.options.readUncommitted ? null : (owned.partition.transactions?.view(slice.nextOffset) ?? null);
    const messages =
      committed !== null && owned.position >= committed.lastStableOffset ? [] : decodeMessages(slice.bytes, owned.position, decompressed, committed);
    if (messages.length === 0) owned.position = Math.max(owned.position, Math.min(slice.nextOffset, committed?.lastStableOffset ?? Infinity));
    return { messages, bytes: slice.bytes.length, highWatermark: owned.partition.log.logEndOffset };
  }

  /** Hands a batch to the handler; what it threw, or null. */
  async #process(owned: Owned, messages: KafkaMessage[], highWatermark: number, config: ConsumerRunConfig): Promise<HandlerFailure | null> {
    const topic = owned.topic;
    const partitionId = owned.partition.id;
    const resolveOffset = (offset: string) => this.committer.resolveOffset(owned, toOffset(offset));
    let pausedHere = false;
    const pause = () => {
      this.positions.pause([{ topic, partitions: [partitionId] }]);
      pausedHere = true;
      return () => this.resume(topic, partitionId);
    };
    const heartbeat = async () => this.membership.heartbeat();
    // Stale once the partition is no longer this member's (a kept partition keeps its Owned object across a cooperative rebalance).
    const stale = () =>
      !this.#running || this.membership.mustRejoin() || this.positions.get(topic, partitionId) !== owned || this.positions.hasPendingSeek(owned);
    const first = Number(messages[0]!.offset);
    const last = Number(messages[messages.length - 1]!.offset);
    const batchPayload = {
      topic,
      partition: partitionId,
      highWatermark: String(highWatermark),
      offsetLag: String(Math.max(0, highWatermark - 1 - last)),
      offsetLagLow: String(Math.max(0, highWatermark - 1 - first)),
      batchSize: messages.length,
      firstOffset: String(first),
      lastOffset: String(last),
    };
    this.emit(CONSUMER_EVENTS.START_BATCH_PROCESS, batchPayload);
    const started = performance.now();
    // A handler past max.poll.interval.ms: leave the group so the others take the partitions.
    const watchdog = setTimeout(() => this.membership.abandon(), this.options.maxPollInterval);
    watchdog.unref();
    let failure: HandlerFailure | null = null;
    let current: string | null = null;
    try {
      if (config.eachBatch !== undefined) {
        const batch: Batch = {
          topic,
          partition: partitionId,
          highWatermark: String(highWatermark),
          messages,
          isEmpty: () => messages.length === 0,
          firstOffset: () => messages[0]?.offset ?? null,
          lastOffset: () => messages[messages.length - 1]?.offset ?? String(highWatermark - 1),
          offsetLag: () => String(Math.max(0, highWatermark - 1 - Number(messages[messages.length - 1]!.offset))),
          offsetLagLow: () => String(Math.max(0, highWatermark - 1 - Number(messages[0]!.offset))),
        };
        await config.eachBatch({
          batch,
          resolveOffset,
          heartbeat,
          pause,
          commitOffsetsIfNecessary: async (offsets?: unknown) => this.committer.commitIfNecessary(config, offsets as { topics?: TopicOffsets[] } | undefined),
          uncommittedOffsets: () => this.committer.uncommittedOffsets(),
          isRunning: () => this.#running,
          isStale: stale,
        });
        if (config.eachBatchAutoResolve ?? true) resolveOffset(messages[messages.length - 1]!.offset);
      } else {
        for (const message of messages) {
          if (stale() || pausedHere) break;
          current = message.offset;
          await config.eachMessage!({ topic, partition: partitionId, message, heartbeat, pause });
          resolveOffset(message.offset);
          await this.committer.maybeAutoCommit(config);
        }
      }
    } catch (error) {
      const handler = config.eachBatch !== undefined ? 'eachBatch' : 'eachMessage';
      // As KafkaJS: eachBatch's failure is reported at the batch's first offset.
      const offset = handler === 'eachBatch' ? messages[0]!.offset : current;
      failure = new HandlerFailure(error, handler, topic, partitionId, offset);
      this.logger.error(`Error when calling ${handler}`, {
        topic,
        partition: partitionId,
        offset,
        stack: error instanceof Error ? error.stack : undefined,
        error,
      });
    } finally {
      clearTimeout(watchdog);
      // Unprocessed records are fetched again from here.
      owned.position = owned.resolved ?? owned.position;
    }
    if (failure === null) this.emit(CONSUMER_EVENTS.END_BATCH_PROCESS, { ...batchPayload, duration: Math.round(performance.now() - started) });
    return failure;
  }
}
