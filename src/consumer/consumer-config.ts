// KafkaJS's consumer shapes (config, run config, payloads, events) and the
// checks of what a caller passes in.
import { describeValue, integerOption, kafkaJsFlag } from '../arguments.js';
import { InvalidArgumentError } from '../errors.js';
import type { PartitionAssigner } from '../groups/assigner-protocol.js';
import { PartitionAssigners } from '../groups/assigners.js';
import { validateTopicName } from '../topics/topic-name.js';
import { networkEvents } from '../instrumentation.js';
import type { KafkaMessage } from './kafka-message.js';

export interface ConsumerConfig {
  groupId: string;
  /** Kafka's `session.timeout.ms` (KafkaJS default 30000). */
  sessionTimeout?: number;
  /** How long the group waits for members to rejoin (KafkaJS default 60000). */
  rebalanceTimeout?: number;
  heartbeatInterval?: number;
  maxBytesPerPartition?: number;
  maxBytes?: number;
  minBytes?: number;
  maxWaitTimeInMs?: number;
  /**
   * Kafka's isolation.level: false (the default, read_committed) hides records of
   * aborted transactions and stops at the last stable offset; true returns them.
   * Transaction markers are never returned. Only topics adopted from a Kafka
   * broker can hold transactions: Fjord's producers write none.
   */
  readUncommitted?: boolean;
  partitionAssigners?: PartitionAssigner[];
  allowAutoTopicCreation?: boolean;
  /** Kafka's `max.poll.interval.ms`: a handler busy longer than this makes the member leave (default 300000). */
  maxPollInterval?: number;
  /** Where to start without a committed offset, or when it fell out of the log: default from `fromBeginning`. */
  autoOffsetReset?: AutoOffsetReset;
  retry?: unknown;
  metadataMaxAge?: number;
  maxInFlightRequests?: number;
  rackId?: string;
}

export type AutoOffsetReset = 'earliest' | 'latest' | 'none';

export interface Batch {
  topic: string;
  partition: number;
  highWatermark: string;
  messages: KafkaMessage[];
  isEmpty(): boolean;
  firstOffset(): string | null;
  lastOffset(): string;
  offsetLag(): string;
  offsetLagLow(): string;
}

export interface EachMessagePayload {
  topic: string;
  partition: number;
  message: KafkaMessage;
  heartbeat(): Promise<void>;
  pause(): () => void;
}

export interface EachBatchPayload {
  batch: Batch;
  resolveOffset(offset: string): void;
  heartbeat(): Promise<void>;
  pause(): () => void;
  commitOffsetsIfNecessary(offsets?: unknown): Promise<void>;
  uncommittedOffsets(): { topics: TopicOffsets[] };
  isRunning(): boolean;
  isStale(): boolean;
}

export interface ConsumerRunConfig {
  eachMessage?: (payload: EachMessagePayload) => Promise<void>;
  eachBatch?: (payload: EachBatchPayload) => Promise<void>;
  autoCommit?: boolean;
  autoCommitInterval?: number | null;
  autoCommitThreshold?: number | null;
  eachBatchAutoResolve?: boolean;
  partitionsConsumedConcurrently?: number;
}

/** A record of `poll()`: the message shape `run()` hands out (offset and timestamp as strings), with its topic and partition. */
export interface PolledRecord extends KafkaMessage {
  topic: string;
  partition: number;
}

/** Offsets grouped by topic, as KafkaJS's events and `uncommittedOffsets()` give them. */
export interface TopicOffsets {
  topic: string;
  partitions: { partition: number; offset: string }[];
}

/** KafkaJS's consumer events, in its order (the order `on()`'s error lists them in). */
export const CONSUMER_EVENTS = {
  HEARTBEAT: 'consumer.heartbeat',
  COMMIT_OFFSETS: 'consumer.commit_offsets',
  GROUP_JOIN: 'consumer.group_join',
  FETCH: 'consumer.fetch',
  FETCH_START: 'consumer.fetch_start',
  START_BATCH_PROCESS: 'consumer.start_batch_process',
  END_BATCH_PROCESS: 'consumer.end_batch_process',
  CONNECT: 'consumer.connect',
  DISCONNECT: 'consumer.disconnect',
  STOP: 'consumer.stop',
  CRASH: 'consumer.crash',
  REBALANCING: 'consumer.rebalancing',
  RECEIVED_UNSUBSCRIBED_TOPICS: 'consumer.received_unsubscribed_topics',
  ...networkEvents('consumer'),
} as const;

/** Emits a KafkaJS instrumentation event. */
export type EmitEvent = (type: string, payload: unknown) => void;

/** A consumer's checked settings, KafkaJS's defaults filled in. */
export interface ConsumerOptions {
  groupId: string;
  sessionTimeout: number;
  rebalanceTimeout: number;
  heartbeatInterval: number;
  maxBytesPerPartition: number;
  maxBytes: number;
  maxWaitTimeInMs: number;
  maxPollInterval: number;
  /** false: read_committed (KafkaJS's default). */
  readUncommitted: boolean;
  allowAutoTopicCreation: boolean;
  autoOffsetReset: AutoOffsetReset | undefined;
  partitionAssigners: PartitionAssigner[];
}

export function consumerOptions(config: ConsumerConfig, defaults: { allowAutoTopicCreation: boolean }): ConsumerOptions {
  if (config === null || typeof config !== 'object') throw new InvalidArgumentError('consumer config must be an object with a groupId');
  if (typeof config.groupId !== 'string' || config.groupId === '')
    throw new InvalidArgumentError(`groupId must be a non-empty string, got ${describeValue(config.groupId)}`);
  const options = {
    groupId: config.groupId,
    sessionTimeout: integerOption(config.sessionTimeout, 'sessionTimeout', 30_000, 0),
    rebalanceTimeout: integerOption(config.rebalanceTimeout, 'rebalanceTimeout', 60_000, 0),
    heartbeatInterval: integerOption(config.heartbeatInterval, 'heartbeatInterval', 3_000, 0),
    maxBytesPerPartition: integerOption(config.maxBytesPerPartition, 'maxBytesPerPartition', 1_048_576, 0),
    maxBytes: integerOption(config.maxBytes, 'maxBytes', 10_485_760, 0),
    maxWaitTimeInMs: integerOption(config.maxWaitTimeInMs, 'maxWaitTimeInMs', 5_000, 0),
    maxPollInterval: integerOption(config.maxPollInterval, 'maxPollInterval', 300_000, 0),
  };
  integerOption(config.minBytes, 'minBytes', 1, 0);
  const partitionAssigners = config.partitionAssigners ?? [PartitionAssigners.roundRobin];
  if (!Array.isArray(partitionAssigners) || partitionAssigners.length === 0 || partitionAssigners.some((a) => typeof a !== 'function')) {
    throw new InvalidArgumentError('partitionAssigners must be a non-empty array of assigner factories');
  }
  const allowAutoTopicCreation = kafkaJsFlag(config.allowAutoTopicCreation, defaults.allowAutoTopicCreation);
  if (config.autoOffsetReset !== undefined && !['earliest', 'latest', 'none'].includes(config.autoOffsetReset)) {
    throw new InvalidArgumentError(`autoOffsetReset must be earliest, latest or none, got ${describeValue(config.autoOffsetReset)}`);
  }
  const readUncommitted = kafkaJsFlag(config.readUncommitted, false);
  return { ...options, readUncommitted, allowAutoTopicCreation, autoOffsetReset: config.autoOffsetReset, partitionAssigners };
}

/** Checks a run config; returns it with KafkaJS's flags read as KafkaJS reads them (by truthiness, true when absent). */
export function checkRunConfig(config: ConsumerRunConfig): ConsumerRunConfig {
  if (config === null || typeof config !== 'object') throw new InvalidArgumentError(`run(config): config must be an object, got ${describeValue(config)}`);
  const { eachMessage, eachBatch } = config;
  if (eachMessage === undefined && eachBatch === undefined) throw new InvalidArgumentError('run needs an eachMessage or an eachBatch handler');
  if (eachMessage !== undefined && typeof eachMessage !== 'function')
    throw new InvalidArgumentError(`eachMessage must be a function, got ${describeValue(eachMessage)}`);
  if (eachBatch !== undefined && typeof eachBatch !== 'function')
    throw new InvalidArgumentError(`eachBatch must be a function, got ${describeValue(eachBatch)}`);
  if (config.autoCommitInterval !== null) integerOption(config.autoCommitInterval, 'autoCommitInterval', 0, 0);
  if (config.autoCommitThreshold !== null) integerOption(config.autoCommitThreshold, 'autoCommitThreshold', 1, 1);
  integerOption(config.partitionsConsumedConcurrently, 'partitionsConsumedConcurrently', 1, 1);
  return { ...config, autoCommit: kafkaJsFlag(config.autoCommit, true), eachBatchAutoResolve: kafkaJsFlag(config.eachBatchAutoResolve, true) };
}

/** Checks a KafkaJS `[{ topic, partitions? }]` list (assign, pause, resume). */
export function topicPartitionList(list: unknown, call: string): { topic: string; partitions?: number[] }[] {
  if (!Array.isArray(list)) throw new InvalidArgumentError(`${call} takes an array of { topic, partitions }, got ${describeValue(list)}`);
  for (const [i, entry] of (list as unknown[]).entries()) {
    if (entry === null || typeof entry !== 'object')
      throw new InvalidArgumentError(`${call}: entry ${i} must be { topic, partitions }, got ${describeValue(entry)}`);
    const { topic, partitions } = entry as { topic: string; partitions: unknown };
    validateTopicName(topic);
    if (partitions !== undefined && (!Array.isArray(partitions) || partitions.some((p) => !Number.isInteger(p)))) {
      throw new InvalidArgumentError(`${call}: partitions of ${topic} must be an array of partition numbers, got ${describeValue(partitions)}`);
    }
  }
  return list as { topic: string; partitions?: number[] }[];
}

/** Offsets grouped by topic, offsets as decimal strings. */
export function byTopic(offsets: { topic: string; partition: number; offset: number }[]): TopicOffsets[] {
  const grouped = new Map<string, { partition: number; offset: string }[]>();
  for (const o of offsets) {
    const list = grouped.get(o.topic) ?? [];
    list.push({ partition: o.partition, offset: String(o.offset) });
    grouped.set(o.topic, list);
  }
  return [...grouped.entries()].map(([topic, partitions]) => ({ topic, partitions }));
}
