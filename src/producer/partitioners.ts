// KafkaJS-compatible partitioners. The shapes (`PartitionerArgs`, a factory
// `() => (args) => partition`, the `Partitioners` object) are KafkaJS's, so a
// custom partitioner written for KafkaJS works unchanged and Fjord's
// partitioners can be passed to KafkaJS's `createPartitioner`.
//
// Behaviour follows Apache Kafka's Java producer, not KafkaJS where they
// differ: keyed records always use Kafka's murmur2 (see ./murmur2.ts), so a
// key lands on the partition Apache Kafka would choose for it.

import { InvalidArgumentError, InvalidConfigError } from '../errors.js';
import { partitionForKey, toPositive } from './murmur2.js';

/** What a partitioner is called with (the same shape as KafkaJS's `PartitionerArgs`). */
export interface PartitionerArgs {
  topic: string;
  partitionMetadata: { partitionId: number; leader: number; replicas?: number[]; isr?: number[] }[];
  message: {
    key?: Buffer | string | null;
    value: Buffer | string | null;
    partition?: number;
    headers?: unknown;
    timestamp?: string | number;
  };
}

/** Picks the partition for one message. */
export type Partitioner = (args: PartitionerArgs) => number;

/** Creates a partitioner with its own state (KafkaJS's `ICustomPartitioner`). */
export type PartitionerFactory = () => Partitioner;

/** Options of `Partitioners.StickyPartitioner`. */
export interface StickyPartitionerOptions {
  /**
   * Bytes (key + value) sent to the sticky partition before keyless records
   * switch to another partition. Kafka's `batch.size`; default 16384. `0`
   * switches after every record.
   */
  batchSize?: number;
  /** Random source in [0, 1) used to choose partitions; default `Math.random`. Handy in tests. */
  random?: () => number;
}

type Metadata = PartitionerArgs['partitionMetadata'];
type Message = PartitionerArgs['message'];

const DEFAULT_BATCH_SIZE = 16384;

function hasKey(message: Message): message is Message & { key: Buffer | string } {
  return message.key !== null && message.key !== undefined;
}

function requirePartitions(topic: string, metadata: Metadata): void {
  if (metadata.length === 0) {
    throw new InvalidArgumentError(`cannot choose a partition for topic "${topic}": partitionMetadata is empty`);
  }
}

/** Kafka's keyed choice: murmur2 over the key's bytes (strings as UTF-8), modulo the topic's partition count. */
function keyedPartition(key: Buffer | string | Uint8Array, metadata: Metadata): number {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  return partitionForKey(bytes, metadata.length);
}

function byteLength(data: Buffer | string | Uint8Array | null | undefined): number {
  if (data === null || data === undefined) return 0;
  return typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.byteLength;
}

/**
 * Partitions eligible for keyless records: those with a leader (`leader >= 0`),
 * or all of them when none has one (as Kafka and KafkaJS do).
 */
function useAllPartitions(metadata: Metadata): boolean {
  for (const p of metadata) if (p.leader >= 0) return false;
  return true;
}

/** The eligible partition ids, sorted ascending. */
function candidateIds(metadata: Metadata): number[] {
  const all = useAllPartitions(metadata);
  const ids: number[] = [];
  for (const p of metadata) if (all || p.leader >= 0) ids.push(p.partitionId);
  return ids.sort((a, b) => a - b);
}

/**
 * The `index`-th eligible partition id in ascending id order (a number index
 * is taken modulo the eligible count; a function gets the count). Does not
 * allocate when the metadata is already sorted by id (the usual case).
 */
function nthCandidate(metadata: Metadata, index: number | ((count: number) => number)): number {
  const all = useAllPartitions(metadata);
  let count = 0;
  let sorted = true;
  let previous = -Infinity;
  for (const p of metadata) {
    if (p.partitionId < previous) sorted = false;
    previous = p.partitionId;
    if (all || p.leader >= 0) count++;
  }
  const i = typeof index === 'number' ? index % count : index(count);
  if (!sorted) return candidateIds(metadata)[i]!;
  let seen = 0;
  for (const p of metadata) {
    if (!(all || p.leader >= 0)) continue;
    if (seen === i) return p.partitionId;
    seen++;
  }
  /* c8 ignore next */
  throw new Error('unreachable: candidate index out of range');
}

/** Per-topic round-robin: `(counter++ & 0x7fffffff) % eligible` with the counter starting at 0. */
function createRoundRobin(): (topic: string, metadata: Metadata) => number {
  const counters = new Map<string, { next: number }>();
  // The topic of the last call and its counter: most calls repeat the topic.
  let lastTopic: string | null = null;
  let last = { next: 0 };
  return (topic, metadata) => {
    let counter = topic === lastTopic ? last : counters.get(topic);
    if (counter === undefined) counters.set(topic, (counter = { next: 0 }));
    lastTopic = topic;
    last = counter;
    const value = counter.next;
    counter.next = (value + 1) | 0; // wraps like Java's int
    return nthCandidate(metadata, toPositive(value));
  };
}

/**
 * Kafka's default choice, the default for Fjord's producer.
 *
 * - `message.partition` (a number) wins, returned as is (the producer
 *   validates it against the topic).
 * - A key (`Buffer`, or a string hashed as UTF-8; an empty key is still a key)
 *   → `toPositive(murmur2(keyBytes)) % partitionMetadata.length`, exactly
 *   Apache Kafka's Java client, so keyed records land where Kafka puts them.
 * - No key (`null`/`undefined`) → round-robin: a per-topic counter starting at
 *   0, `(counter++ & 0x7fffffff) % n` indexing the eligible partitions sorted by
 *   id (eligible: `leader >= 0`, or all partitions if none has a leader). For a
 *   3-partition topic: 0, 1, 2, 0, 1, 2, … independently per topic.
 *
 * (Kafka's Java client made keyless records sticky by default in KIP-480/794;
 * use `StickyPartitioner` for that. KafkaJS also round-robins keyless records,
 * but starts its counter at a random value.)
 *
 * @throws InvalidArgumentError when a partition must be computed and
 *   `partitionMetadata` is empty.
 */
function DefaultPartitioner(): Partitioner {
  const roundRobin = createRoundRobin();
  return ({ topic, partitionMetadata, message }) => {
    if (typeof message.partition === 'number') return message.partition;
    requirePartitions(topic, partitionMetadata);
    if (hasKey(message)) return keyedPartition(message.key, partitionMetadata);
    return roundRobin(topic, partitionMetadata);
  };
}

/**
 * Kafka's `RoundRobinPartitioner`: ignores keys entirely. `message.partition`
 * (a number) still wins; every other record goes round-robin with a per-topic
 * counter starting at 0 over the eligible partitions sorted by id (see
 * `DefaultPartitioner`).
 */
function RoundRobinPartitioner(): Partitioner {
  const roundRobin = createRoundRobin();
  return ({ topic, partitionMetadata, message }) => {
    if (typeof message.partition === 'number') return message.partition;
    requirePartitions(topic, partitionMetadata);
    return roundRobin(topic, partitionMetadata);
  };
}

/**
 * Kafka's sticky behaviour for keyless records (KIP-480, simplified).
 *
 * - `message.partition` (a number) wins; keyed records hash exactly as in
 *   `DefaultPartitioner`. Neither affects the sticky state.
 * - Keyless records of a topic all go to one partition, chosen at random among
 *   the eligible ones, until `batchSize` bytes (default 16384; key + value
 *   bytes, strings counted as UTF-8) have been sent there; the record that
 *   reaches the threshold still goes there, and the next keyless record
 *   switches to a partition chosen at random among the *other* eligible
 *   partitions (the same one if it is the only one), with the count reset.
 *   If the sticky partition disappears from the metadata or loses its
 *   leader, a new one is chosen at once.
 *
 * Simplified from Kafka: Kafka counts serialized batch bytes (headers and
 * record overhead included), switches when the producer's batch is actually
 * full, and (KIP-794) weighs the choice by broker queue sizes. Fjord counts
 * key + value bytes and picks uniformly.
 *
 * @throws InvalidConfigError if `batchSize` is not a non-negative integer.
 */
function StickyPartitioner(options: StickyPartitionerOptions = {}): Partitioner {
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isSafeInteger(batchSize) || batchSize < 0) {
    throw new InvalidConfigError(`StickyPartitioner batchSize must be a non-negative integer, got ${String(batchSize)}`);
  }
  const random = options.random ?? Math.random;
  const pick = (count: number): number => Math.min(count - 1, Math.floor(random() * count));
  const sticky = new Map<string, { partition: number; bytes: number }>();

  return ({ topic, partitionMetadata, message }) => {
    if (typeof message.partition === 'number') return message.partition;
    requirePartitions(topic, partitionMetadata);
    if (hasKey(message)) return keyedPartition(message.key, partitionMetadata);

    let state = sticky.get(topic);
    if (state === undefined || !isCandidate(partitionMetadata, state.partition)) {
      state = { partition: nthCandidate(partitionMetadata, pick), bytes: 0 };
      sticky.set(topic, state);
    } else if (state.bytes >= batchSize) {
      const others = candidateIds(partitionMetadata).filter((id) => id !== state!.partition);
      if (others.length > 0) state.partition = others[pick(others.length)]!;
      state.bytes = 0;
    }
    state.bytes += byteLength(message.key) + byteLength(message.value);
    return state.partition;
  };
}

function isCandidate(metadata: Metadata, partitionId: number): boolean {
  const all = useAllPartitions(metadata);
  for (const p of metadata) if (p.partitionId === partitionId && (all || p.leader >= 0)) return true;
  return false;
}

/**
 * Fjord's partitioners, in KafkaJS's shape: each entry is a factory returning
 * a fresh partitioner (with its own counters) for
 * `producer({ createPartitioner })`.
 *
 * Everywhere: an explicit `message.partition` (a number) wins, and keyed
 * records (except in `RoundRobinPartitioner`) use Apache Kafka's Java-client
 * hash (`toPositive(murmur2(key)) % numPartitions`).
 */
export const Partitioners = Object.freeze({
  /** Explicit partition, else Kafka's key hash, else per-topic round-robin. */
  DefaultPartitioner: DefaultPartitioner,
  /** Ignores keys: always per-topic round-robin (Kafka's `RoundRobinPartitioner`). */
  RoundRobinPartitioner: RoundRobinPartitioner,
  /** Keyed as `DefaultPartitioner`; keyless records stick to a partition for `batchSize` bytes (KIP-480). */
  StickyPartitioner: StickyPartitioner,
  /**
   * Alias of `DefaultPartitioner`, kept for code written against KafkaJS
   * (where it is the old name of KafkaJS's Java-compatible partitioner).
   *
   * @deprecated Use `DefaultPartitioner`.
   */
  JavaCompatiblePartitioner: DefaultPartitioner,
  /**
   * Alias of `DefaultPartitioner`, kept so code written against KafkaJS
   * compiles and runs. Unlike KafkaJS's `LegacyPartitioner`, it does NOT
   * reproduce KafkaJS's pre-2.0 hash (a murmur2 port whose JavaScript
   * arithmetic does not match Java's 32-bit overflow, so keys land on
   * different partitions than Apache Kafka's clients pick). Fjord is a
   * Kafka-compatible log: a keyed record must land where Apache Kafka puts
   * it, so Fjord always hashes keys as the Java client does.
   *
   * @deprecated Use `DefaultPartitioner`.
   */
  LegacyPartitioner: DefaultPartitioner,
});
