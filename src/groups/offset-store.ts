// Committed offsets of consumer groups, kept as records in an internal
// `__consumer_offsets` log of the data directory (Kafka's compacted offsets
// topic, one partition), replayed into memory on open and kept small by
// snapshot-and-truncate compaction.
//
// Record schema (version 1), both encoded with msgpackr (`useRecords: false`,
// so plain MessagePack arrays and maps, readable by any MessagePack decoder):
//
//   key   = [1, groupId: string, topic: string, partition: int]        (array, version first)
//   value = { offset: int, metadata: string | null,
//             commitTimestamp: int (ms), leaderEpoch: int (-1 = none) } (map)
//   value = null (RecordBatch null value)  → tombstone: the key is deleted
//
// The record timestamp is the commit's `now`. One `commit` is one RecordBatch,
// so it is atomic: the log's recovery either keeps the whole batch (CRC-32C
// intact) or cuts it.
//
// Compaction ("kept small"): after each write, if the log holds more than
// `minCompactBytes` and more than `compactWhenDeadRatio` of the records from
// the log start on are dead (overwritten or deleted: records − live keys),
// a snapshot starts at S = the log end offset. Each following write (and this
// one) appends a bounded step of it (`snapshotStepRecords`, default 4096
// records): the current value of every live key not rewritten since S. When
// the snapshot is complete, every live key has a record at or after S that
// holds its current value, so the records before S are redundant. Then the log
// is fsync'd (off the main thread) and only after that are whole segments
// below S deleted (`log.deleteSegmentsBefore(S)`, which also moves the log
// start offset to S so replay starts there).
//
// Why no committed offset is lost, whenever the process (or the machine) dies:
// - Nothing is deleted until the snapshot is complete and fsync'd; a snapshot
//   cut short only restates current values, which changes nothing on replay
//   (last write wins).
// - Deletion removes only whole segments entirely below S (never the active
//   segment, never a segment holding S). So whatever survives below S is a
//   suffix of the pre-snapshot history, and replaying any suffix of the history
//   followed by everything from S on gives the current state: a key live at
//   the end has its latest value at or after S (snapshot or a later commit);
//   a key deleted has its latest record (a tombstone) either in the replayed
//   suffix or, if that tombstone was in a deleted segment, none of its records
//   survive at all. This also holds if the `log-start-offset` file is lost and
//   replay starts at the first surviving segment instead of S.
// - Tombstones disappear only with the segments that hold them, and then only
//   once no older record of their key survives (it is older, so it was in an
//   earlier or the same deleted segment).
//
// Bounds: between compactions the log holds at most about
// max(minCompactBytes, segmentBytes + 2 × the live set's bytes), so reopening
// reads that much whatever the number of commits behind it.
import { describeValue } from '../arguments.js';
import { join } from 'node:path';
import { Packr } from 'msgpackr';

import { CorruptRecordError, FjordError, InvalidArgumentError, InvalidConfigError, LogClosedError, OffsetMetadataTooLargeError } from '../errors.js';
import { Log } from '../storage/log.js';
import { decodeBatches } from '../record-batch/decode.js';
import { encodeBatch, type RecordInput } from '../record-batch/encode.js';
import { HEADER_SIZE } from '../record-batch/layout.js';

/** Kafka's `offset.metadata.max.bytes`: the most UTF-8 bytes of metadata a committed offset may carry. */
export const OFFSET_METADATA_MAX_BYTES = 4096;
/** The directory of the offsets log inside the data directory (Kafka's `__consumer_offsets`, partition 0). */
export const OFFSETS_LOG_NAME = '__consumer_offsets-0';
/** Version written as the first element of every key. */
export const OFFSETS_KEY_VERSION = 1;

export interface CommittedOffset {
  /** The next offset to read (last processed + 1). */
  offset: number;
  metadata: string | null;
  /** The `now` of the commit, in ms. */
  commitTimestamp: number;
  /** -1 when the committer gave none. */
  leaderEpoch: number;
}

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
  /** Segment size of the offsets log (default 4 MiB). A commit's batch must fit in one segment. */
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
  /** Bytes of the offsets log. */
  logBytes: number;
  /** Compactions completed (snapshot written) since this store was opened. */
  compactions: number;
}

const DEFAULTS = {
  segmentBytes: 4 << 20,
  compactWhenDeadRatio: 0.5,
  minCompactBytes: 8 << 20,
  snapshotStepRecords: 4096,
};
/** Most bytes per snapshot or tombstone batch (capped further by a quarter segment). */
const MAX_CHUNK_BYTES = 256 << 10;
/** Per-record framing beyond key and value bytes, generously (varints, attributes, deltas, header count). */
const RECORD_OVERHEAD = 24;
const REPLAY_READ_BYTES = 8 << 20;
const INT32_MAX = 0x7fffffff;

const packr = new Packr({ useRecords: false });

interface Entry {
  readonly topic: string;
  readonly partition: number;
  value: CommittedOffset;
  /** Log offset of the record that last wrote this value. */
  writtenAt: number;
}

interface Snapshot {
  /** Log end offset when the snapshot started: records below it become redundant once it completes. */
  readonly start: number;
  readonly groups: Iterator<[string, Map<string, Entry>]>;
  inner: Iterator<Entry> | null;
  groupId: string;
}

/** Stores open in this thread, by the real path of their log: a second store on one log would diverge from the first. */
const openStores = new Map<string, OffsetStore>();

function tpKey(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}

function encodeKey(groupId: string, topic: string, partition: number): Buffer {
  return packr.pack([OFFSETS_KEY_VERSION, groupId, topic, partition]);
}

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
  return { topic, partition, value: Object.freeze({ offset, metadata, commitTimestamp: now, leaderEpoch }) };
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

/** A decoded key; throws CorruptRecordError / unsupported version on anything this version did not write. */
function decodeKey(bytes: Buffer, offset: number): { groupId: string; topic: string; partition: number } {
  let key: unknown;
  try {
    key = packr.unpack(bytes);
  } catch (error) {
    throw corruptAt(offset, `key is not MessagePack (${(error as Error).message})`);
  }
  if (!Array.isArray(key) || typeof key[0] !== 'number') throw corruptAt(offset, `key ${describeValue(key)} is not [version, ...]`);
  if (key[0] !== OFFSETS_KEY_VERSION) {
    throw new FjordError(
      `${OFFSETS_LOG_NAME} record at offset ${offset} has key version ${key[0]}; this Fjord reads version ${OFFSETS_KEY_VERSION} only`,
      'ERR_UNSUPPORTED_VERSION',
      { type: 'UNSUPPORTED_VERSION', code: 35 },
    );
  }
  const [, groupId, topic, partition] = key as unknown[];
  if (key.length !== 4 || typeof groupId !== 'string' || typeof topic !== 'string' || typeof partition !== 'number' || !Number.isInteger(partition)) {
    throw corruptAt(offset, `key ${JSON.stringify(key)} is not [1, groupId, topic, partition]`);
  }
  return { groupId, topic, partition };
}

function decodeValue(bytes: Buffer, offset: number): CommittedOffset {
  let value: unknown;
  try {
    value = packr.unpack(bytes);
  } catch (error) {
    throw corruptAt(offset, `value is not MessagePack (${(error as Error).message})`);
  }
  const v = value as Record<string, unknown> | null;
  const int = (x: unknown): number | null => (typeof x === 'bigint' ? Number(x) : typeof x === 'number' && Number.isSafeInteger(x) ? x : null);
  const o = v !== null && typeof v === 'object' ? int(v.offset) : null;
  const t = v !== null && typeof v === 'object' ? int(v.commitTimestamp) : null;
  const e = v !== null && typeof v === 'object' ? int(v.leaderEpoch) : null;
  const metadata = v?.metadata ?? null;
  if (o === null || t === null || e === null || (metadata !== null && typeof metadata !== 'string')) {
    throw corruptAt(offset, `value ${describeValue(value)} is not { offset, metadata, commitTimestamp, leaderEpoch }`);
  }
  return Object.freeze({ offset: o, metadata, commitTimestamp: t, leaderEpoch: e });
}

function corruptAt(offset: number, message: string): CorruptRecordError {
  return new CorruptRecordError(`${OFFSETS_LOG_NAME} record at offset ${offset}: ${message}`);
}

/**
 * Committed offsets of consumer groups, durable in `<dataDir>/__consumer_offsets-0`.
 * Reads answer from memory; writes append to the log first, then update memory.
 * One store per data directory per thread (a second `open` while the first is
 * open throws): share it.
 */
export class OffsetStore {
  readonly #log: Log;
  /** Real path of the log directory. */
  readonly #dir: string;
  readonly #options: Required<OffsetStoreOptions>;
  readonly #chunkBytes: number;
  /** groupId → `${topic}:${partition}` → entry. A group is present only while it has an entry. */
  readonly #groups = new Map<string, Map<string, Entry>>();
  #liveKeys = 0;
  #compactions = 0;
  #snapshot: Snapshot | null = null;
  /** fsync then segment deletion after a completed snapshot; never rejects. */
  #cleanup: Promise<void> | null = null;
  /** No compaction starts before the log end reaches this (backs off after a failed snapshot). */
  #compactNotBefore = 0;
  #closed = false;

  private constructor(log: Log, options: Required<OffsetStoreOptions>) {
    this.#log = log;
    this.#dir = log.dir;
    this.#options = options;
    this.#chunkBytes = Math.max(1, Math.min(MAX_CHUNK_BYTES, Math.floor(options.segmentBytes / 4)));
  }

  /** Opens (creating if needed) `<dataDir>/__consumer_offsets-0` and replays it into memory. */
  static async open(dataDir: string, options?: OffsetStoreOptions): Promise<OffsetStore> {
    if (typeof dataDir !== 'string' || dataDir === '') throw new InvalidArgumentError(`dataDir must be a non-empty string, got ${describeValue(dataDir)}`);
    const opts = checkOptions(options);
    const log = await Log.open(join(dataDir, OFFSETS_LOG_NAME), {
      segmentBytes: opts.segmentBytes,
      // The segment is the real limit on one commit's batch.
      maxMessageBytes: Math.max(1048588, opts.segmentBytes),
      // Index files sized to the segment (an entry per 4 KiB of data at most)
      // rather than 10 MiB each: rolling a small segment costs a third.
      segmentIndexBytes: Math.max(64 << 10, Math.ceil(opts.segmentBytes / 128)),
    });
    const existing = openStores.get(log.dir);
    if (existing !== undefined && !existing.#log.closed) {
      await log.close();
      throw new InvalidArgumentError(`the offset store of ${dataDir} is already open in this thread: share that OffsetStore`);
    }
    const store = new OffsetStore(log, opts);
    try {
      store.#replay();
    } catch (error) {
      await log.close().catch(() => undefined);
      throw error;
    }
    openStores.set(log.dir, store);
    return store;
  }

  /** @internal for tests: the underlying offsets log. */
  get log(): Log {
    return this.#log;
  }

  /** @internal for tests: `snapshot` while a snapshot is being written, `cleanup` until the segments it replaced are gone. */
  get compactionPhase(): 'idle' | 'snapshot' | 'cleanup' {
    return this.#snapshot !== null ? 'snapshot' : this.#cleanup !== null ? 'cleanup' : 'idle';
  }

  /**
   * Rebuilds memory from the log start on. Last write wins per key; a
   * tombstone deletes. Values are decoded only for each key's last record.
   */
  #replay(): void {
    const log = this.#log;
    // Raw key bytes (latin1 string) → the key's last record so far.
    const last = new Map<string, { key: Buffer; value: Buffer | null; offset: number }>();
    let at = log.logStartOffset;
    for (;;) {
      const slice = log.readSlice(at, REPLAY_READ_BYTES);
      if (slice === null) break;
      for (const record of decodeBatches(slice.bytes, { fromOffset: at })) {
        if (record.key === null) throw corruptAt(record.offset, 'record has no key');
        const id = record.key.toString('latin1');
        const seen = last.get(id);
        if (seen === undefined) last.set(id, { key: record.key, value: record.value, offset: record.offset });
        else {
          seen.value = record.value;
          seen.offset = record.offset;
        }
      }
      if (slice.nextOffset <= at) break;
      at = slice.nextOffset;
    }
    // Distinct byte strings could in principle spell one logical key: apply in log order.
    const records = [...last.values()].sort((a, b) => a.offset - b.offset);
    for (const { key, value, offset } of records) {
      const { groupId, topic, partition } = decodeKey(key, offset);
      if (value === null) this.#delete(groupId, tpKey(topic, partition));
      else this.#set(groupId, topic, partition, decodeValue(value, offset), offset);
    }
  }

  #set(groupId: string, topic: string, partition: number, value: CommittedOffset, writtenAt: number): void {
    let group = this.#groups.get(groupId);
    if (group === undefined) {
      group = new Map();
      this.#groups.set(groupId, group);
    }
    const key = tpKey(topic, partition);
    const entry = group.get(key);
    if (entry === undefined) {
      group.set(key, { topic, partition, value, writtenAt });
      this.#liveKeys++;
    } else {
      entry.value = value;
      entry.writtenAt = writtenAt;
    }
  }

  #delete(groupId: string, key: string): void {
    const group = this.#groups.get(groupId);
    if (group === undefined || !group.delete(key)) return;
    this.#liveKeys--;
    if (group.size === 0) this.#groups.delete(groupId);
  }

  #writable(): Log {
    if (this.#closed || this.#log.closed) throw new LogClosedError('the offset store is closed');
    return this.#log;
  }

  /**
   * Stores `offsets` for `groupId` as ONE RecordBatch: every entry is
   * validated first (InvalidArgumentError, OffsetMetadataTooLargeError), and
   * on any error, including the append's, nothing is written and memory is
   * unchanged. A partition named twice keeps its last entry. Durable against
   * a process crash on return; call `sync()` for a power loss.
   */
  commit(groupId: string, offsets: OffsetCommit[], now: number): void {
    const log = this.#writable();
    checkGroupId(groupId);
    checkNow(now);
    if (!Array.isArray(offsets)) throw new InvalidArgumentError(`offsets must be an array, got ${describeValue(offsets)}`);
    const checked = offsets.map((commit, i) => checkCommit(commit, i, now));
    if (checked.length === 0) return;
    const records: RecordInput[] = checked.map(({ topic, partition, value }) => ({
      key: encodeKey(groupId, topic, partition),
      value: packr.pack(value),
    }));
    const { baseOffset } = log.append(encodeBatch(records, { now }), { now });
    for (let i = 0; i < checked.length; i++) {
      const { topic, partition, value } = checked[i]!;
      this.#set(groupId, topic, partition, value, baseOffset + i);
    }
    this.#afterWrite(now);
  }

  /** fsyncs the offsets log (data and indexes), and waits for a compaction's cleanup under way. */
  async sync(): Promise<void> {
    const log = this.#writable();
    const cleanup = this.#cleanup;
    await log.flush();
    if (cleanup !== null) await cleanup;
  }

  fetch(groupId: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.#groups.get(groupId)?.get(tpKey(topic, partition))?.value;
  }

  /**
   * The group's committed offsets, keyed `${topic}:${partition}` (a topic
   * name cannot hold ':' in Kafka, and the partition is what follows the last
   * ':' anyway), in first-commit order; each value also names its topic and
   * partition. A fresh Map of fresh objects.
   */
  offsets(groupId: string): Map<string, GroupOffset> {
    const result = new Map<string, GroupOffset>();
    const group = this.#groups.get(groupId);
    if (group !== undefined) {
      for (const [key, { topic, partition, value }] of group) result.set(key, { topic, partition, ...value });
    }
    return result;
  }

  /** Groups with at least one committed offset. */
  groups(): string[] {
    return [...this.#groups.keys()];
  }

  /** Deletes every committed offset of the group (tombstones); nothing is written for a group without any. */
  deleteGroup(groupId: string, now: number): void {
    const log = this.#writable();
    checkGroupId(groupId);
    checkNow(now);
    const group = this.#groups.get(groupId);
    if (group === undefined) return;
    this.#tombstone(log, groupId, [...group.values()], now);
    this.#afterWrite(now);
  }

  /** Deletes the group's committed offsets of these partitions of `topic` (tombstones for those that exist). */
  deletePartitions(groupId: string, topic: string, partitions: number[], now: number): void {
    const log = this.#writable();
    checkGroupId(groupId);
    checkTopic(topic, 'deletePartitions');
    checkNow(now);
    if (!Array.isArray(partitions)) throw new InvalidArgumentError(`partitions must be an array, got ${describeValue(partitions)}`);
    // forEach skips the holes of a sparse array (they match no entry below either).
    partitions.forEach((p, i) => {
      checkPartition(p, `partitions[${i}]`);
    });
    const group = this.#groups.get(groupId);
    if (group === undefined) return;
    const entries = [...new Set(partitions)].map((p) => group.get(tpKey(topic, p))).filter((e): e is Entry => e !== undefined);
    if (entries.length === 0) return;
    this.#tombstone(log, groupId, entries, now);
    this.#afterWrite(now);
  }

  /**
   * Appends tombstones for `entries` and drops them from memory: one batch
   * (atomic) when they fit in a chunk, else several batches in order.
   */
  #tombstone(log: Log, groupId: string, entries: Entry[], now: number): void {
    const records: RecordInput[] = [];
    let bytes = HEADER_SIZE;
    let from = 0;
    const flush = (): void => {
      log.append(encodeBatch(records, { now }), { now });
      for (let i = from; i < from + records.length; i++) this.#delete(groupId, tpKey(entries[i]!.topic, entries[i]!.partition));
      from += records.length;
      records.length = 0;
      bytes = HEADER_SIZE;
    };
    for (const entry of entries) {
      const key = encodeKey(groupId, entry.topic, entry.partition);
      if (records.length > 0 && bytes + key.length + RECORD_OVERHEAD > this.#chunkBytes) flush();
      records.push({ key, value: null });
      bytes += key.length + RECORD_OVERHEAD;
    }
    if (records.length > 0) flush();
  }

  /** The cheap compaction check, and a bounded step of a snapshot under way. Never throws: the write itself succeeded. */
  #afterWrite(now: number): void {
    if (this.#snapshot === null) {
      if (this.#cleanup !== null) return;
      const log = this.#log;
      const end = log.logEndOffset;
      if (end < this.#compactNotBefore || log.size <= this.#options.minCompactBytes) return;
      const records = end - log.logStartOffset;
      if (records <= 0 || (records - this.#liveKeys) / records <= this.#options.compactWhenDeadRatio) return;
      this.#snapshot = { start: end, groups: this.#groups.entries(), inner: null, groupId: '' };
    }
    try {
      this.#snapshotStep(now);
    } catch {
      // Disk full or the like: the records written so far only restate
      // current values. Give up this snapshot; retry after as many records as
      // there are live keys.
      this.#snapshot = null;
      try {
        this.#compactNotBefore = this.#log.logEndOffset + Math.max(1, this.#liveKeys);
      } catch {
        // the log is gone (closed or crashed)
      }
    }
  }

  /** Appends up to `snapshotStepRecords` live entries not rewritten since the snapshot began; finishes the snapshot when none are left. */
  #snapshotStep(now: number): void {
    const snapshot = this.#snapshot!;
    const log = this.#log;
    let budget = this.#options.snapshotStepRecords;
    const records: RecordInput[] = [];
    const written: Entry[] = [];
    let bytes = HEADER_SIZE;
    const flush = (): void => {
      const { baseOffset } = log.append(encodeBatch(records, { now }), { now });
      for (let i = 0; i < written.length; i++) written[i]!.writtenAt = baseOffset + i;
      records.length = 0;
      written.length = 0;
      bytes = HEADER_SIZE;
    };
    // Map iterators tolerate the maps changing between steps: deleted entries
    // are skipped, entries added later are visited (and skipped, as they were
    // written after the start).
    for (;;) {
      if (budget === 0) {
        if (records.length > 0) flush();
        return; // the rest in the next write's step
      }
      if (snapshot.inner === null) {
        const group = snapshot.groups.next();
        if (group.done) break;
        [snapshot.groupId, snapshot.inner] = [group.value[0], group.value[1].values()];
      }
      const next = snapshot.inner.next();
      if (next.done) {
        snapshot.inner = null;
        continue;
      }
      const entry = next.value;
      if (entry.writtenAt >= snapshot.start) continue; // rewritten since the start: already there
      const key = encodeKey(snapshot.groupId, entry.topic, entry.partition);
      const value = packr.pack(entry.value);
      if (records.length > 0 && bytes + key.length + value.length + RECORD_OVERHEAD > this.#chunkBytes) flush();
      records.push({ key, value });
      written.push(entry);
      bytes += key.length + value.length + RECORD_OVERHEAD;
      budget--;
    }
    if (records.length > 0) flush();
    // Complete: every live key has a record at or after `start` holding its current value.
    this.#snapshot = null;
    this.#compactions++;
    const start = snapshot.start;
    // Delete only once the snapshot is on disk, so that a power loss cannot
    // take the snapshot while the segments it replaces are already gone.
    // The fsync starts in a microtask, after the write that completed the
    // snapshot has returned (a crash test can then stop the log in between).
    this.#cleanup = Promise.resolve()
      .then(() => log.flush())
      .then(() => {
        if (!log.closed) log.deleteSegmentsBefore(start);
      })
      .catch(() => undefined) // closed or crashed meanwhile, or fsync failed (the next sync reports it): keep everything
      .finally(() => {
        this.#cleanup = null;
      });
  }

  get stats(): OffsetStoreStats {
    return { liveKeys: this.#liveKeys, logBytes: this.#log.closed ? 0 : this.#log.size, compactions: this.#compactions };
  }

  /** Waits for a compaction's cleanup under way, then closes the log (flush, clean-shutdown marker). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#snapshot = null; // a snapshot cut short is harmless
    if (this.#cleanup !== null) await this.#cleanup;
    if (openStores.get(this.#dir) === this) openStores.delete(this.#dir);
    if (!this.#log.closed) await this.#log.close();
  }
}
