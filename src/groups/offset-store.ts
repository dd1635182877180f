// Committed offsets of consumer groups, kept as Kafka keeps them: records of
// Kafka's OffsetCommit schemas (offset-records.ts) in the partitions of an
// internal `__consumer_offsets` topic of the data directory, a group in the
// partition Kafka's rule picks (offsets-partitioner.ts), each partition
// replayed into memory on open and kept small by compaction
// (offsets-partition.ts). Kafka's DumpLogSegments --offsets-decoder reads
// these records, and a stopped Kafka broker's `__consumer_offsets` is read as
// it is, so consumers moving from Kafka to Fjord resume where they were.
//
// Partitions: a directory Fjord starts has Kafka's default 50
// (`offsets.topic.num.partitions`), each created at the first write of a
// group that hashes to it, so a partition no group uses costs nothing. A
// directory with Kafka's `__consumer_offsets-N` partitions (they hold a
// `partition.metadata`) keeps Kafka's number: as many as there are. Those
// partitions are never compacted by Fjord (their segments are Kafka's files).
//
// Fjord before Kafka's layout wrote MessagePack records to one
// `__consumer_offsets-0` (legacy-offsets.ts). Such a directory is moved to
// Kafka's layout once, at open: the log is renamed to
// `__consumer_offsets-0.msgpack`, its live offsets are written into the
// partitions of their groups and fsync'd, then the renamed log is removed. A
// crash in between leaves the renamed log, and the next open writes its
// offsets again (the same values: last write wins, so nothing changes).
import { describeValue } from '../arguments.js';
import { readdir, rename, rm, stat } from 'node:fs/promises';
import { existsSync, mkdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';

import { InvalidArgumentError, InvalidConfigError, LogClosedError, OffsetMetadataTooLargeError } from '../errors.js';
import { Log, type LogOptions } from '../storage/log.js';
import type { OffsetCommitValue } from './offset-records.js';
import { isLegacyOffsetsLog, readLegacyOffsets } from './legacy-offsets.js';
import { DEFAULT_OFFSETS_PARTITIONS, offsetsPartitionFor } from './offsets-partitioner.js';
import { type CheckedCommit, type CompactionOptions, OffsetsPartition, tpKey } from './offsets-partition.js';

/** Kafka's `offset.metadata.max.bytes`: the most UTF-8 bytes of metadata a committed offset may carry. */
export const OFFSET_METADATA_MAX_BYTES = 4096;
/** The internal topic of committed offsets (Kafka's). */
export const OFFSETS_TOPIC = '__consumer_offsets';
/** Where a legacy MessagePack `__consumer_offsets-0` is moved while its offsets are rewritten. */
export const LEGACY_OFFSETS_DIR = '__consumer_offsets-0.msgpack';
/** A file every partition directory a Kafka broker writes holds. */
const KAFKA_PARTITION_FILE = 'partition.metadata';
const PARTITION_DIR = /^__consumer_offsets-(\d+)$/;

export type CommittedOffset = OffsetCommitValue;

/** A committed offset as `offsets(groupId)` lists it: with its topic and partition. */
export interface GroupOffset extends CommittedOffset {
  topic: string;
  partition: number;
}

export interface OffsetCommit {
  topic: string;
  partition: number;
  offset: number;
  metadata?: string | null;
  leaderEpoch?: number;
}

export interface OffsetStoreOptions {
  /** Segment size of each offsets partition (default 4 MiB). A commit's batch must fit in one segment. */
  segmentBytes?: number;
  /** Compact once more than this fraction of the records from the log start on are dead (default 0.5; in [0, 1)). */
  compactWhenDeadRatio?: number;
  /** ... and the log holds more than this many bytes (default 8 MiB). */
  minCompactBytes?: number;
  /** @internal Most snapshot records appended per write while a compaction runs (default 4096). */
  snapshotStepRecords?: number;
}

export interface OffsetStoreStats {
  /** Committed offsets held (group, topic, partition keys). */
  liveKeys: number;
  /** Bytes of the offsets partitions. */
  logBytes: number;
  /** Compactions completed (snapshot written) since this store was opened. */
  compactions: number;
  /** Records replay skipped: record types Fjord does not read (KIP-848, share and streams groups) and newer value versions. */
  skippedRecords: number;
}

const DEFAULTS = {
  segmentBytes: 4 << 20,
  compactWhenDeadRatio: 0.5,
  minCompactBytes: 8 << 20,
  snapshotStepRecords: 4096,
};
/** Most bytes per snapshot or tombstone batch (capped further by a quarter segment). */
const MAX_CHUNK_BYTES = 256 << 10;
/** Most offsets per batch when a legacy log is rewritten. */
const MIGRATION_BATCH = 1000;
const INT32_MAX = 0x7fffffff;

/** Stores open in this thread, by the real path of their data directory: a second store on one directory would diverge from the first. */
const openStores = new Map<string, OffsetStore>();

function checkGroupId(groupId: unknown): string {
  if (typeof groupId !== 'string' || groupId.length === 0) {
    throw new InvalidArgumentError(`groupId must be a non-empty string, got ${describeValue(groupId)}`);
  }
  return groupId;
}

function checkTopic(topic: unknown, where: string): string {
  if (typeof topic !== 'string' || topic.length === 0) {
    throw new InvalidArgumentError(`${where}.topic must be a non-empty string, got ${describeValue(topic)}`);
  }
  return topic;
}

function checkPartition(partition: unknown, where: string): number {
  if (typeof partition !== 'number' || !Number.isInteger(partition) || partition < 0 || partition > INT32_MAX) {
    throw new InvalidArgumentError(`${where}.partition must be an integer in [0, ${INT32_MAX}], got ${describeValue(partition)}`);
  }
  return partition;
}

function checkNow(now: unknown): number {
  if (typeof now !== 'number' || !Number.isSafeInteger(now) || now < 0) {
    throw new InvalidArgumentError(`now must be a non-negative integer timestamp in ms, got ${describeValue(now)}`);
  }
  return now;
}

/** Validates one commit entry; throws before anything is written. */
function checkCommit(commit: unknown, index: number, now: number): { topic: string; partition: number; value: CommittedOffset } {
  const where = `offsets[${index}]`;
  if (commit === null || typeof commit !== 'object') throw new InvalidArgumentError(`${where} must be an object, got ${describeValue(commit)}`);
  const c = commit as Record<string, unknown>;
  const topic = checkTopic(c.topic, where);
  const partition = checkPartition(c.partition, where);
  const offset = c.offset;
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw new InvalidArgumentError(`${where}.offset must be a non-negative safe integer, got ${describeValue(offset)}`);
  }
  const metadata = c.metadata ?? null;
  if (metadata !== null) {
    if (typeof metadata !== 'string') throw new InvalidArgumentError(`${where}.metadata must be a string or null, got ${describeValue(metadata)}`);
    const bytes = Buffer.byteLength(metadata, 'utf8');
    if (bytes > OFFSET_METADATA_MAX_BYTES) {
      throw new OffsetMetadataTooLargeError(
        `${where}.metadata for ${topic}-${partition} is ${bytes} bytes of UTF-8, more than offset.metadata.max.bytes (${OFFSET_METADATA_MAX_BYTES})`,
      );
    }
  }
  const leaderEpoch = c.leaderEpoch ?? -1;
  if (typeof leaderEpoch !== 'number' || !Number.isInteger(leaderEpoch) || leaderEpoch < -1 || leaderEpoch > INT32_MAX) {
    throw new InvalidArgumentError(`${where}.leaderEpoch must be an integer in [-1, ${INT32_MAX}], got ${describeValue(leaderEpoch)}`);
  }
  // Kafka stores "" for no metadata and KafkaJS reports "" as null: one value, null.
  return { topic, partition, value: Object.freeze({ offset, metadata: metadata === '' ? null : metadata, commitTimestamp: now, leaderEpoch }) };
}

function checkOptions(options: unknown): Required<OffsetStoreOptions> {
  if (options === undefined) return { ...DEFAULTS };
  if (options === null || typeof options !== 'object') throw new InvalidConfigError(`offset store options must be an object, got ${describeValue(options)}`);
  const result = { ...DEFAULTS };
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (!(name in DEFAULTS)) throw new InvalidConfigError(`unknown offset store option '${name}'; known options: ${Object.keys(DEFAULTS).join(', ')}`);
    const ok =
      typeof value === 'number' &&
      (name === 'compactWhenDeadRatio' ? value >= 0 && value < 1 : Number.isSafeInteger(value) && value >= (name === 'minCompactBytes' ? 0 : 1));
    if (!ok) {
      const rule = name === 'compactWhenDeadRatio' ? 'a number in [0, 1)' : name === 'minCompactBytes' ? 'a non-negative integer' : 'a positive integer';
      throw new InvalidConfigError(`${name} must be ${rule}, got ${describeValue(value)}`);
    }
    result[name as keyof typeof DEFAULTS] = value as number;
  }
  return result;
}

function logOptions(opts: Required<OffsetStoreOptions>): LogOptions {
  return {
    segmentBytes: opts.segmentBytes,
    // The segment is the real limit on one commit's batch.
    maxMessageBytes: Math.max(1048588, opts.segmentBytes),
    // Index files sized to the segment (an entry per 4 KiB of data at most)
    // rather than 10 MiB each: rolling a small segment costs a third.
    segmentIndexBytes: Math.max(64 << 10, Math.ceil(opts.segmentBytes / 128)),
  };
}

interface Layout {
  /** Partition numbers with a directory. */
  present: number[];
  /** Whether a Kafka broker wrote them. */
  kafka: boolean;
  partitions: number;
}

/** What the data directory holds of `__consumer_offsets`. */
async function layoutOf(dataDir: string): Promise<Layout> {
  const present: number[] = [];
  let kafka = false;
  for (const entry of await readdir(dataDir, { withFileTypes: true })) {
    const match = PARTITION_DIR.exec(entry.name);
    if (match === null || !entry.isDirectory()) continue;
    const index = Number(match[1]);
    if (!Number.isSafeInteger(index) || index > INT32_MAX) continue;
    present.push(index);
    if (
      await stat(join(dataDir, entry.name, KAFKA_PARTITION_FILE)).then(
        () => true,
        () => false,
      )
    )
      kafka = true;
  }
  present.sort((a, b) => a - b);
  const partitions = kafka ? present[present.length - 1]! + 1 : DEFAULT_OFFSETS_PARTITIONS;
  return { present, kafka, partitions };
}

/**
 * Committed offsets of consumer groups, durable in `<dataDir>/__consumer_offsets-<n>`.
 * Reads answer from memory; writes append to the group's partition first,
 * then update memory. One store per data directory per thread (a second
 * `open` while the first is open throws): share it.
 */
export class OffsetStore {
  readonly #dataDir: string;
  /** Real path of the data directory. */
  readonly #key: string;
  readonly #options: Required<OffsetStoreOptions>;
  readonly #compaction: CompactionOptions;
  /** By partition number; undefined until a group of it first writes. */
  readonly #partitions: (OffsetsPartition | undefined)[];
  /** Whether a Kafka broker wrote this directory's partitions. */
  readonly kafkaLayout: boolean;
  #closed = false;

  private constructor(dataDir: string, key: string, options: Required<OffsetStoreOptions>, layout: Layout) {
    this.#dataDir = dataDir;
    this.#key = key;
    this.#options = options;
    this.#compaction = {
      compactWhenDeadRatio: options.compactWhenDeadRatio,
      minCompactBytes: options.minCompactBytes,
      snapshotStepRecords: options.snapshotStepRecords,
      chunkBytes: Math.max(1, Math.min(MAX_CHUNK_BYTES, Math.floor(options.segmentBytes / 4))),
    };
    this.#partitions = new Array<OffsetsPartition | undefined>(layout.partitions).fill(undefined);
    this.kafkaLayout = layout.kafka;
  }

  /** Opens the data directory's offsets partitions and replays them into memory (moving a legacy MessagePack log to Kafka's layout first). */
  static async open(dataDir: string, options?: OffsetStoreOptions): Promise<OffsetStore> {
    if (typeof dataDir !== 'string' || dataDir === '') throw new InvalidArgumentError(`dataDir must be a non-empty string, got ${describeValue(dataDir)}`);
    const opts = checkOptions(options);
    mkdirSync(dataDir, { recursive: true });
    const key = realpathSync(dataDir);
    const layout = await layoutOf(dataDir);
    const other = openStores.get(key);
    if (other !== undefined && !other.#closed) {
      throw new InvalidArgumentError(`the offset store of ${dataDir} is already open in this thread: share that OffsetStore`);
    }
    const store = new OffsetStore(dataDir, key, opts, layout);
    openStores.set(key, store);
    const legacyDir = join(dataDir, LEGACY_OFFSETS_DIR);
    try {
      await Promise.all(layout.present.map((index) => store.#openPartition(index)));
      const first = store.#partitions[0];
      if (!layout.kafka && first !== undefined && !existsSync(legacyDir) && isLegacyOffsetsLog(first.log)) {
        // A legacy log is set aside before anything is written in Kafka's layout.
        store.#partitions[0] = undefined;
        await first.close();
        await rename(join(dataDir, `${OFFSETS_TOPIC}-0`), legacyDir);
      }
      for (const partition of store.#partitions) partition?.replay((groupId) => offsetsPartitionFor(groupId, layout.partitions) === partition.index);
      if (!layout.kafka && existsSync(legacyDir)) await store.#migrate(legacyDir);
    } catch (error) {
      await store.close().catch(() => undefined);
      throw error;
    }
    return store;
  }

  async #openPartition(index: number): Promise<void> {
    const log = await Log.open(join(this.#dataDir, `${OFFSETS_TOPIC}-${index}`), logOptions(this.#options));
    this.#partitions[index] = new OffsetsPartition(log, index, !this.kafkaLayout, this.#compaction);
  }

  /** Writes a legacy log's live offsets into their groups' partitions, fsyncs them, then removes the legacy log. */
  async #migrate(legacyDir: string): Promise<void> {
    const log = await Log.open(legacyDir, logOptions(this.#options));
    let offsets: ReturnType<typeof readLegacyOffsets>;
    try {
      offsets = readLegacyOffsets(log);
    } finally {
      await log.close();
    }
    const byGroup = new Map<string, CheckedCommit[]>();
    for (const { groupId, topic, partition, ...value } of offsets) {
      let group = byGroup.get(groupId);
      if (group === undefined) byGroup.set(groupId, (group = []));
      group.push({ topic, partition, value: Object.freeze(value) });
    }
    for (const [groupId, commits] of byGroup) {
      const partition = this.#partitionFor(groupId, true)!;
      for (let i = 0; i < commits.length; i += MIGRATION_BATCH) {
        const batch = commits.slice(i, i + MIGRATION_BATCH);
        partition.commit(groupId, batch, Math.max(...batch.map((c) => c.value.commitTimestamp)));
      }
    }
    await Promise.all(this.partitions.map((p) => p.sync()));
    await rm(legacyDir, { recursive: true, force: true });
  }

  /** The group's partition by Kafka's rule; with `create`, opened (created) if it has no directory yet. */
  #partitionFor(groupId: string, create: boolean): OffsetsPartition | undefined {
    const index = offsetsPartitionFor(groupId, this.#partitions.length);
    let partition = this.#partitions[index];
    if (partition === undefined && create) {
      const log = Log.openSync(join(this.#dataDir, `${OFFSETS_TOPIC}-${index}`), logOptions(this.#options));
      partition = this.#partitions[index] = new OffsetsPartition(log, index, !this.kafkaLayout, this.#compaction);
    }
    return partition;
  }

  /** Number of partitions of `__consumer_offsets` (Kafka's `offsets.topic.num.partitions`). */
  get partitionCount(): number {
    return this.#partitions.length;
  }

  /** @internal the partitions with a directory, by number. */
  get partitions(): OffsetsPartition[] {
    return this.#partitions.filter((p): p is OffsetsPartition => p !== undefined);
  }

  /** @internal for tests: the partition holding `groupId`, if it has a directory. */
  partitionOf(groupId: string): OffsetsPartition | undefined {
    return this.#partitionFor(checkGroupId(groupId), false);
  }

  /** @internal for tests: `snapshot` while a partition writes a snapshot, `cleanup` until the segments it replaced are gone. */
  get compactionPhase(): 'idle' | 'snapshot' | 'cleanup' {
    const phases = this.partitions.map((p) => p.compactionPhase);
    return phases.includes('snapshot') ? 'snapshot' : phases.includes('cleanup') ? 'cleanup' : 'idle';
  }

  /** @internal for tests: stops every partition's log as a killed process would. */
  simulateCrash(): void {
    for (const p of this.partitions) if (!p.log.closed) p.log.simulateCrash();
    this.#closed = true;
    if (openStores.get(this.#key) === this) openStores.delete(this.#key);
  }

  #writable(): void {
    if (this.#closed) throw new LogClosedError('the offset store is closed');
  }

  /**
   * Stores `offsets` for `groupId` as ONE RecordBatch in the group's
   * partition: every entry is validated first (InvalidArgumentError,
   * OffsetMetadataTooLargeError), and on any error, including the append's,
   * nothing is written and memory is unchanged. A partition named twice keeps
   * its last entry. Durable against a process crash on return; call `sync()`
   * for a power loss.
   */
  commit(groupId: string, offsets: OffsetCommit[], now: number): void {
    this.#writable();
    checkGroupId(groupId);
    checkNow(now);
    if (!Array.isArray(offsets)) throw new InvalidArgumentError(`offsets must be an array, got ${describeValue(offsets)}`);
    const checked = offsets.map((commit, i) => checkCommit(commit, i, now));
    if (checked.length === 0) return;
    this.#partitionFor(groupId, true)!.commit(groupId, checked, now);
  }

  /** fsyncs the offsets partitions (data and indexes), and waits for compaction cleanups under way. */
  async sync(): Promise<void> {
    this.#writable();
    await Promise.all(this.partitions.map((p) => p.sync()));
  }

  fetch(groupId: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.#partitionFor(groupId, false)?.groups.get(groupId)?.get(tpKey(topic, partition))?.value;
  }

  /**
   * The group's committed offsets, keyed `${topic}:${partition}` (a topic
   * name cannot hold ':' in Kafka, and the partition is what follows the last
   * ':' anyway), in first-commit order; each value also names its topic and
   * partition. A fresh Map of fresh objects.
   */
  offsets(groupId: string): Map<string, GroupOffset> {
    const result = new Map<string, GroupOffset>();
    const group = this.#partitionFor(groupId, false)?.groups.get(groupId);
    if (group !== undefined) {
      for (const [key, { topic, partition, value }] of group) result.set(key, { topic, partition, ...value });
    }
    return result;
  }

  /** Groups with at least one committed offset. */
  groups(): string[] {
    return this.partitions.flatMap((p) => [...p.groups.keys()]);
  }

  /** Deletes every committed offset of the group (tombstones, and the group's GroupMetadata tombstone); nothing is written for a group without any. */
  deleteGroup(groupId: string, now: number): void {
    this.#writable();
    checkGroupId(groupId);
    checkNow(now);
    const partition = this.#partitionFor(groupId, false);
    const group = partition?.groups.get(groupId);
    if (partition === undefined || group === undefined) return;
    partition.tombstone(groupId, [...group.values()], now, true);
  }

  /** Deletes the group's committed offsets of these partitions of `topic` (tombstones for those that exist). */
  deletePartitions(groupId: string, topic: string, partitions: number[], now: number): void {
    this.#writable();
    checkGroupId(groupId);
    checkTopic(topic, 'deletePartitions');
    checkNow(now);
    if (!Array.isArray(partitions)) throw new InvalidArgumentError(`partitions must be an array, got ${describeValue(partitions)}`);
    // forEach skips the holes of a sparse array (they match no entry below either).
    partitions.forEach((p, i) => {
      checkPartition(p, `partitions[${i}]`);
    });
    const partition = this.#partitionFor(groupId, false);
    const group = partition?.groups.get(groupId);
    if (partition === undefined || group === undefined) return;
    const entries = [...new Set(partitions)].map((p) => group.get(tpKey(topic, p))).filter((e) => e !== undefined);
    if (entries.length === 0) return;
    partition.tombstone(groupId, entries, now, false);
  }

  get stats(): OffsetStoreStats {
    const stats: OffsetStoreStats = { liveKeys: 0, logBytes: 0, compactions: 0, skippedRecords: 0 };
    for (const p of this.partitions) {
      stats.liveKeys += p.liveKeys;
      stats.logBytes += p.log.closed ? 0 : p.log.size;
      stats.compactions += p.compactions;
      stats.skippedRecords += p.skippedRecords;
    }
    return stats;
  }

  /** Waits for compaction cleanups under way, then closes the partitions (flush, clean-shutdown marker). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await Promise.all(this.partitions.map((p) => p.close()));
    } finally {
      if (openStores.get(this.#key) === this) openStores.delete(this.#key);
    }
  }
}
