// The entry point: one data directory, its topics, and KafkaJS-shaped clients.
import { resolve } from 'node:path';

import { booleanOption, describeValue, functionOption } from './arguments.js';
import { InvalidArgumentError, NotConnectedError } from './errors.js';
import { createLogger, logLevel, stderrLogCreator, type LogCreator, type Logger, type LogLevel } from './logger.js';
import { Admin, type AdminConfig } from './admin/admin.js';
import type { ClientContext, ClientKind, ConnectedClient } from './client-context.js';
import { Consumer, type ConsumerConfig } from './consumer/consumer.js';
import { SharedDirectory } from './directory/shared-directory.js';
import type { GroupClient } from './groups/group-client.js';
import type { GroupCoordinator } from './groups/group-coordinator.js';
import { Producer, type ProducerConfig } from './producer/producer.js';
import { RetentionCleaner, type RetentionResult } from './topics/retention.js';
import { type TopicRegistry, validatePartitionCount } from './topics/topic-registry.js';

export interface FjordConfig {
  /** The data directory; created if missing. One process at a time. */
  dir: string;
  clientId?: string;
  /** Create a topic on first produce to it (KafkaJS and Kafka default: true). */
  allowAutoTopicCreation?: boolean;
  /** Partitions of an auto-created topic (Kafka's `num.partitions`, default 1). */
  numPartitions?: number;
  /** How often retention runs (Kafka's `log.retention.check.interval.ms`, default 300000). */
  retentionCheckIntervalMs?: number;
  /** Milliseconds since the epoch; replace for tests with a fake clock. */
  clock?: () => number;
  /** Kafka's `group.initial.rebalance.delay.ms`: how long a new group waits for more members to join (Fjord default 0). */
  groupInitialRebalanceDelayMs?: number;
  /** Where background failures (a retention run that could not delete) are reported; default `console.warn`. */
  onBackgroundError?: (error: Error, context: string) => void;
  /** KafkaJS's `logLevel`: entries above it are dropped (default `logLevel.INFO`). */
  logLevel?: LogLevel;
  /**
   * KafkaJS's `logCreator`. Fjord logs what recovery repaired when it opens a
   * partition (a warning when data was cut). Default: one line on stderr.
   */
  logCreator?: LogCreator;
}

/** Fjord instances of one JavaScript environment on one directory share it. */
const openDirectories = new Map<string, SharedDirectory>();

/**
 * An embedded Kafka: `new Fjord({ dir })` stands where `new Kafka({ brokers })`
 * stood, and `producer()`, `admin()` return KafkaJS-shaped clients.
 */
export class Fjord implements ClientContext {
  readonly dir: string;
  readonly clientId: string;
  readonly allowAutoTopicCreation: boolean;
  readonly numPartitions: number;
  readonly retentionCheckIntervalMs: number;
  readonly groupInitialRebalanceDelayMs: number;
  readonly clock: () => number;
  readonly #onBackgroundError: (error: Error, context: string) => void;
  readonly #logger: Logger;
  #registry: TopicRegistry | null = null;
  #opening: Promise<TopicRegistry> | null = null;
  #retention: RetentionCleaner | null = null;
  /** Connected clients, by kind: close() disconnects consumers, then producers. */
  readonly #clients = new Map<ConnectedClient, ClientKind>();
  /** close() began: no new connection, group or retention call. */
  #closing: Promise<void> | null = null;
  #closed = false;

  constructor(config: FjordConfig) {
    if (config === null || typeof config !== 'object') throw new InvalidArgumentError('new Fjord(config): config must be an object with a dir');
    if (typeof config.dir !== 'string' || config.dir === '')
      throw new InvalidArgumentError(`config.dir must be a non-empty path, got ${describeValue(config.dir)}`);
    this.dir = resolve(config.dir);
    if (config.clientId !== undefined && typeof config.clientId !== 'string')
      throw new InvalidArgumentError(`clientId must be a string, got ${describeValue(config.clientId)}`);
    this.clientId = config.clientId ?? 'fjord';
    this.allowAutoTopicCreation = booleanOption(config.allowAutoTopicCreation, 'allowAutoTopicCreation', true);
    this.numPartitions = validatePartitionCount(config.numPartitions ?? 1, 'numPartitions');
    const interval = config.retentionCheckIntervalMs ?? 300_000;
    if (!Number.isSafeInteger(interval) || interval < 1) {
      throw new InvalidArgumentError(`retentionCheckIntervalMs must be a positive integer, got ${describeValue(interval)}`);
    }
    this.retentionCheckIntervalMs = interval;
    this.clock = functionOption(config.clock, 'clock', Date.now);
    const delay = config.groupInitialRebalanceDelayMs ?? 0;
    if (!Number.isSafeInteger(delay) || delay < 0) {
      throw new InvalidArgumentError(`groupInitialRebalanceDelayMs must be a non-negative integer, got ${describeValue(delay)}`);
    }
    this.groupInitialRebalanceDelayMs = delay;
    this.#onBackgroundError = functionOption(config.onBackgroundError, 'onBackgroundError', (error: Error, context: string) =>
      console.warn(`fjord: ${context}:`, error),
    );
    const level = config.logLevel ?? logLevel.INFO;
    if (!(Object.values(logLevel) as number[]).includes(level)) {
      throw new InvalidArgumentError(`logLevel must be one of logLevel.NOTHING, ERROR, WARN, INFO, DEBUG (0, 1, 2, 4, 5), got ${describeValue(level)}`);
    }
    this.#logger = createLogger(level, functionOption(config.logCreator, 'logCreator', stderrLogCreator));
  }

  /** The root logger (KafkaJS's `kafka.logger()`). */
  logger(): Logger {
    return this.#logger;
  }

  /** `new Fjord(config)` and open its data directory (recovering logs off the main thread). */
  static async open(config: FjordConfig): Promise<Fjord> {
    const fjord = new Fjord(config);
    await fjord.topics();
    return fjord;
  }

  /** The opened topic registry; opens the data directory on first use. */
  topics(): Promise<TopicRegistry> {
    if (this.#closing !== null) return Promise.reject(new NotConnectedError(`Fjord on ${this.dir} is ${this.#closed ? 'closed' : 'closing'}`));
    if (this.#registry !== null) return Promise.resolve(this.#registry);
    this.#opening ??= this.#open();
    return this.#opening;
  }

  /** The registry once open; for synchronous paths that run after connect(). */
  openedTopics(): TopicRegistry {
    if (this.#closed) throw new NotConnectedError(`Fjord on ${this.dir} is closed`);
    if (this.#registry === null) throw new NotConnectedError(`Fjord on ${this.dir} is not open: call connect() first`);
    return this.#registry;
  }

  async #open(): Promise<TopicRegistry> {
    let shared = openDirectories.get(this.dir);
    if (shared === undefined) {
      try {
        shared = new SharedDirectory(this.dir, { clock: this.clock, initialRebalanceDelayMs: this.groupInitialRebalanceDelayMs, logger: this.#logger });
      } catch (error) {
        this.#opening = null;
        throw error;
      }
      const opened = shared;
      openDirectories.set(this.dir, opened);
      opened.registry.catch(() => {
        openDirectories.delete(this.dir);
        void opened.close().catch(() => undefined);
      });
    }
    shared.refs++;
    try {
      const registry = await shared.registry;
      this.#registry = registry;
      // Closed while the directory opened: close() releases it; nothing more to start.
      if (this.#closing !== null) return registry;
      this.#retention = new RetentionCleaner(registry, this.clock, (error, context) => this.#backgroundError(error, context));
      this.#retention.start(this.retentionCheckIntervalMs);
      return registry;
    } catch (error) {
      shared.refs--;
      this.#opening = null;
      throw error;
    }
  }

  /** A failure of a timer's work (retention): to `onBackgroundError`, which must not throw into the timer either. */
  #backgroundError(error: Error, context: string): void {
    try {
      this.#onBackgroundError(error, context);
    } catch (failure) {
      this.#logger.error(`Caught error when calling onBackgroundError for ${context}: ${String(failure)}`, { error, failure });
    }
  }

  /**
   * The group coordinator of this data directory, when this thread hosts it
   * (the first thread of the process to open the directory does).
   */
  async groups(): Promise<GroupCoordinator> {
    await this.topics();
    return openDirectories.get(this.dir)!.coordinator();
  }

  /** Group calls, to this thread's coordinator or to the host thread's. */
  async groupClient(): Promise<GroupClient> {
    await this.topics();
    return openDirectories.get(this.dir)!.groups;
  }

  consumer(config: ConsumerConfig): Consumer {
    return new Consumer(this, config);
  }

  producer(config?: ProducerConfig): Producer {
    return new Producer(this, config);
  }

  attach(client: ConnectedClient, kind: ClientKind): void {
    this.#clients.set(client, kind);
  }

  detach(client: ConnectedClient): void {
    this.#clients.delete(client);
  }

  admin(config?: AdminConfig): Admin {
    return new Admin(this, config);
  }

  /** Runs the retention check now (it also runs every `retentionCheckIntervalMs`). */
  async runRetention(): Promise<RetentionResult[]> {
    await this.topics();
    return this.#retention!.runOnce();
  }

  /**
   * Disconnects consumers (each waits for its handler in flight and commits
   * what it processed), then producers (each writes what it queued and waits
   * for its sends in flight), closes every log, releases the data directory.
   * Calls that need the directory fail with NotConnectedError from the start
   * of close on; concurrent closes share the one.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    for (const kind of ['consumer', 'producer'] as const) {
      // A client that connected while others disconnected is disconnected too.
      for (;;) {
        const clients = [...this.#clients].filter(([, k]) => k === kind).map(([client]) => client);
        if (clients.length === 0) break;
        const results = await Promise.allSettled(clients.map((client) => client.disconnect()));
        results.forEach((result, i) => {
          if (result.status === 'rejected')
            this.#logger.error(`Caught error when disconnecting a ${kind} on close: ${String(result.reason)}`, { error: result.reason });
          this.#clients.delete(clients[i]!);
        });
      }
    }
    this.#closed = true;
    this.#retention?.stop();
    const opened =
      this.#registry !== null ||
      (await this.#opening?.then(
        () => true,
        () => false,
      )) === true;
    this.#registry = null;
    const shared = openDirectories.get(this.dir);
    if (!opened || shared === undefined || --shared.refs > 0) return;
    openDirectories.delete(this.dir);
    await shared.close();
  }
}
