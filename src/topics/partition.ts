import type { AppendResult, GatheredAppendResult, Log } from '../storage/log.js';
import { GroupCommit } from './group-commit.js';
import { numericConfig, type TopicConfigs } from './topic-config.js';
import type { TransactionState } from './transaction-state.js';

/** One partition of a topic: its log, shared fsyncs, and the topic's flush policy. */
export class Partition {
  readonly durability: GroupCommit;
  #unflushedMessages = 0;
  #flushTimer: NodeJS.Timeout | null = null;
  #flushMessages = Infinity;
  #flushMs = Infinity;
  #appended: { promise: Promise<void>; resolve: () => void } | null = null;
  /** The partition's transactions, for read_committed reads; null where no transaction can be (topics Fjord created). */
  transactions: TransactionState | null = null;
  /**
   * The first background flush (`flush.messages`, `flush.ms`) that failed,
   * kept because nobody awaits one. Nothing is lost by not throwing it: a
   * failed fsync takes the log offline in the store, so every later append,
   * read and flush of this partition (and every acks=all send waiting on a
   * flush) fails with the same KafkaStorageError (`ERR_LOG_OFFLINE`) until
   * the partition is reopened.
   */
  backgroundFlushError: unknown = null;

  constructor(
    readonly topic: string,
    readonly id: number,
    readonly log: Log,
    configs: TopicConfigs,
    /** Tells other threads of the process about the append (set when there are any). */
    readonly onAppend: ((topic: string, partition: number) => void) | null = null,
  ) {
    this.durability = new GroupCommit(() => {
      this.#unflushedMessages = 0;
      return this.log.flush();
    });
    this.applyConfigs(configs);
  }

  applyConfigs(configs: TopicConfigs): void {
    this.#flushMessages = numericConfig(configs, 'flush.messages');
    this.#flushMs = numericConfig(configs, 'flush.ms');
  }

  /** Appends encoded batches; applies `flush.messages` / `flush.ms` without waiting for them. */
  append(batch: Uint8Array, now: number, records: number): AppendResult {
    const result = this.log.append(batch, { now });
    this.#afterAppend(records);
    return result;
  }

  /** `append` of batches in pieces, their CRCs stamped by the store (see `Log.appendGathered`). */
  appendGathered(framing: Uint8Array, values: readonly Uint8Array[], cuts: Uint32Array, now: number, records: number): GatheredAppendResult {
    const result = this.log.appendGathered(framing, values, cuts, { now });
    this.#afterAppend(records);
    return result;
  }

  #afterAppend(records: number): void {
    this.durability.appended();
    this.notifyAppend();
    this.onAppend?.(this.topic, this.id);
    this.#unflushedMessages += records;
    if (this.#unflushedMessages >= this.#flushMessages) {
      this.durability.sync().catch(this.#backgroundFlushFailed);
    } else if (this.#flushMs !== Infinity && this.#flushTimer === null) {
      this.#flushTimer = setTimeout(() => {
        this.#flushTimer = null;
        this.durability.sync().catch(this.#backgroundFlushFailed);
      }, this.#flushMs);
      this.#flushTimer.unref();
    }
  }

  #backgroundFlushFailed = (error: unknown): void => {
    this.backgroundFlushError ??= error;
  };

  /** Wakes consumers waiting at the end; also called when another thread appended. */
  notifyAppend(): void {
    if (this.#appended !== null) {
      this.#appended.resolve();
      this.#appended = null;
    }
  }

  /** Resolves at the next append to this partition: consumers at the log end wait on it. */
  nextAppend(): Promise<void> {
    if (this.#appended === null) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#appended = { promise, resolve };
    }
    return this.#appended.promise;
  }

  async close(): Promise<void> {
    if (this.#flushTimer !== null) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
    await this.log.close();
  }
}
