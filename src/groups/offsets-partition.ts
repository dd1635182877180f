// One partition of the `__consumer_offsets` topic: a log of Kafka's
// OffsetCommit records (offset-records.ts) for the groups that hash to it,
// replayed into memory on open and kept small by snapshot-and-truncate
// compaction when Fjord created the partition.
//
// One commit is one RecordBatch, so it is atomic: the log's recovery either
// keeps the whole batch (CRC-32C intact) or cuts it. The record timestamp is
// the commit's `now`.
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
// A partition a Kafka broker wrote (adopted) is never compacted: its segments
// are Kafka's files, and Fjord deletes no file it did not write.
//
// Bounds: between compactions the log holds at most about
// max(minCompactBytes, segmentBytes + 2 × the live set's bytes), so reopening
// reads that much whatever the number of commits behind it.
import { CorruptRecordError } from '../errors.js';
import type { Log } from '../storage/log.js';
import { batchInfos, decodeBatches } from '../record-batch/decode.js';
import { encodeBatch, type RecordInput } from '../record-batch/encode.js';
import { ATTRIBUTE_CONTROL, ATTRIBUTE_TRANSACTIONAL, HEADER_SIZE, PRODUCER_ID } from '../record-batch/layout.js';
import { readVarint, readVarlong } from '../record-batch/varint.js';
import {
  decodeOffsetCommitValue,
  decodeOffsetsKey,
  encodeGroupMetadataKey,
  encodeOffsetCommitKey,
  encodeOffsetCommitValue,
  type OffsetCommitValue,
} from './offset-records.js';

export interface CompactionOptions {
  compactWhenDeadRatio: number;
  minCompactBytes: number;
  snapshotStepRecords: number;
  /** Most bytes per snapshot or tombstone batch. */
  chunkBytes: number;
}

export interface OffsetsEntry {
  readonly topic: string;
  readonly partition: number;
  value: OffsetCommitValue;
  /** Log offset of the record that last wrote this value. */
  writtenAt: number;
}

/** A checked commit entry (the store validates before a partition sees it). */
export interface CheckedCommit {
  topic: string;
  partition: number;
  value: OffsetCommitValue;
}

interface Snapshot {
  /** Log end offset when the snapshot started: records below it become redundant once it completes. */
  readonly start: number;
  readonly groups: Iterator<[string, Map<string, OffsetsEntry>]>;
  inner: Iterator<OffsetsEntry> | null;
  groupId: string;
}

/** Per-record framing beyond key and value bytes, generously (varints, attributes, deltas, header count). */
const RECORD_OVERHEAD = 24;
const REPLAY_READ_BYTES = 8 << 20;

interface KeyedRecord {
  key: Buffer;
  value: Buffer | null;
  offset: number;
}

/** Control record types (the key: version i16, type i16). */
const CONTROL_ABORT = 0;
const CONTROL_COMMIT = 1;

/** The type of a control batch's marker (its one record's key), or -1 when the record is not a marker. */
function controlType(batch: Buffer, baseOffset: number): number {
  const cursor = { pos: HEADER_SIZE };
  try {
    readVarint(batch, cursor); // length
    cursor.pos += 1; // attributes
    readVarlong(batch, cursor); // timestamp delta
    readVarint(batch, cursor); // offset delta
    const keyLength = readVarint(batch, cursor);
    if (keyLength < 4 || cursor.pos + keyLength > batch.length) return -1;
    return batch.readInt16BE(cursor.pos + 2);
  } catch {
    throw new CorruptRecordError(`__consumer_offsets control batch at offset ${baseOffset} has no readable marker`);
  }
}

export function tpKey(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}

export class OffsetsPartition {
  /** groupId → `${topic}:${partition}` → entry. A group is present only while it has an entry. */
  readonly groups = new Map<string, Map<string, OffsetsEntry>>();
  liveKeys = 0;
  compactions = 0;
  /** Records replay skipped: types and value versions Fjord does not read (as Kafka's loader skips unknown record types). */
  skippedRecords = 0;
  #snapshot: Snapshot | null = null;
  /** fsync then segment deletion after a completed snapshot; never rejects. */
  #cleanup: Promise<void> | null = null;
  /** No compaction starts before the log end reaches this (backs off after a failed snapshot). */
  #compactNotBefore = 0;

  constructor(
    readonly log: Log,
    /** The partition's number in `__consumer_offsets`. */
    readonly index: number,
    /** False for a partition a Kafka broker wrote: Fjord never deletes its segments. */
    readonly compactable: boolean,
    private readonly options: CompactionOptions,
  ) {}

  get compactionPhase(): 'idle' | 'snapshot' | 'cleanup' {
    return this.#snapshot !== null ? 'snapshot' : this.#cleanup !== null ? 'cleanup' : 'idle';
  }

  /** Where errors name a record of this partition. */
  #where(offset: number): string {
    return `__consumer_offsets-${this.index} record at offset ${offset}`;
  }

  /**
   * Rebuilds memory from the log start on. Last write wins per key; a
   * tombstone deletes. Values are decoded only for each key's last record.
   * `owns(groupId)` says whether a group belongs here by Kafka's rule; a
   * group that does not is never served by Kafka from this partition, so it
   * is skipped too.
   */
  replay(owns: (groupId: string) => boolean): void {
    const log = this.log;
    // Raw key bytes (latin1 string) → the key's last record so far.
    const last = new Map<string, KeyedRecord>();
    const put = (record: KeyedRecord): void => {
      const id = record.key.toString('latin1');
      const seen = last.get(id);
      if (seen === undefined || seen.offset < record.offset) last.set(id, record);
    };
    // Offsets committed in a transaction (TxnOffsetCommit), by producer id,
    // until its COMMIT marker applies them or its ABORT marker drops them,
    // as Kafka's loader does. One still open at the end is not applied.
    const pending = new Map<bigint, KeyedRecord[]>();
    let at = log.logStartOffset;
    for (;;) {
      const slice = log.readSlice(at, REPLAY_READ_BYTES);
      if (slice === null) break;
      for (const batch of batchInfos(slice.bytes)) {
        if (batch.lastOffset < at) continue;
        const bytes = slice.bytes.subarray(batch.position, batch.position + batch.size);
        const producerId = bytes.readBigInt64BE(PRODUCER_ID);
        if ((batch.attributes & ATTRIBUTE_CONTROL) !== 0) {
          const marker = controlType(bytes, batch.baseOffset);
          if (marker === CONTROL_COMMIT) for (const record of pending.get(producerId) ?? []) put(record);
          if (marker === CONTROL_COMMIT || marker === CONTROL_ABORT) pending.delete(producerId);
          continue;
        }
        const transactional = (batch.attributes & ATTRIBUTE_TRANSACTIONAL) !== 0;
        for (const { key, value, offset } of decodeBatches(bytes, { fromOffset: at })) {
          if (key === null) {
            this.skippedRecords++; // Kafka's loader skips a keyless record too
            continue;
          }
          if (!transactional) put({ key, value, offset });
          else {
            let records = pending.get(producerId);
            if (records === undefined) pending.set(producerId, (records = []));
            records.push({ key, value, offset });
          }
        }
      }
      if (slice.nextOffset <= at) break;
      at = slice.nextOffset;
    }
    const records = [...last.values()].sort((a, b) => a.offset - b.offset);
    for (const { key, value, offset } of records) {
      const decoded = decodeOffsetsKey(key, this.#where(offset));
      // GroupMetadata records: Fjord keeps no group state across restarts (members rejoin).
      if (decoded.type !== 'offset') {
        if (decoded.type === 'unknown') this.skippedRecords++;
        continue;
      }
      const { groupId, topic, partition } = decoded;
      if (!owns(groupId)) {
        this.skippedRecords++;
        continue;
      }
      if (value === null) this.#delete(groupId, tpKey(topic, partition));
      else {
        const committed = decodeOffsetCommitValue(value, this.#where(offset));
        if (committed === null) this.skippedRecords++;
        else this.#set(groupId, topic, partition, Object.freeze(committed), offset);
      }
    }
  }

  #set(groupId: string, topic: string, partition: number, value: OffsetCommitValue, writtenAt: number): void {
    let group = this.groups.get(groupId);
    if (group === undefined) {
      group = new Map();
      this.groups.set(groupId, group);
    }
    const key = tpKey(topic, partition);
    const entry = group.get(key);
    if (entry === undefined) {
      group.set(key, { topic, partition, value, writtenAt });
      this.liveKeys++;
    } else {
      entry.value = value;
      entry.writtenAt = writtenAt;
    }
  }

  #delete(groupId: string, key: string): void {
    const group = this.groups.get(groupId);
    if (group === undefined || !group.delete(key)) return;
    this.liveKeys--;
    if (group.size === 0) this.groups.delete(groupId);
  }

  /** Appends the commit as one batch, then updates memory. Throws (and changes nothing) if the append fails. */
  commit(groupId: string, checked: CheckedCommit[], now: number): void {
    const records: RecordInput[] = checked.map(({ topic, partition, value }) => ({
      key: encodeOffsetCommitKey(groupId, topic, partition),
      value: encodeOffsetCommitValue(value),
    }));
    const { baseOffset } = this.log.append(encodeBatch(records, { now }), { now });
    for (let i = 0; i < checked.length; i++) {
      const { topic, partition, value } = checked[i]!;
      this.#set(groupId, topic, partition, value, baseOffset + i);
    }
    this.#afterWrite(now);
  }

  /**
   * Appends tombstones for `entries` and drops them from memory: one batch
   * (atomic) when they fit in a chunk, else several batches in order. With
   * `group`, the last batch also carries the group's GroupMetadata tombstone,
   * as Kafka writes when it deletes a group.
   */
  tombstone(groupId: string, entries: OffsetsEntry[], now: number, group: boolean): void {
    const records: RecordInput[] = [];
    let bytes = HEADER_SIZE;
    let from = 0;
    const flush = (): void => {
      this.log.append(encodeBatch(records, { now }), { now });
      for (let i = from; i < Math.min(entries.length, from + records.length); i++) this.#delete(groupId, tpKey(entries[i]!.topic, entries[i]!.partition));
      from += records.length;
      records.length = 0;
      bytes = HEADER_SIZE;
    };
    const keys = entries.map((entry) => encodeOffsetCommitKey(groupId, entry.topic, entry.partition));
    if (group) keys.push(encodeGroupMetadataKey(groupId));
    for (const key of keys) {
      if (records.length > 0 && bytes + key.length + RECORD_OVERHEAD > this.options.chunkBytes) flush();
      records.push({ key, value: null });
      bytes += key.length + RECORD_OVERHEAD;
    }
    if (records.length > 0) flush();
    this.#afterWrite(now);
  }

  /** The cheap compaction check, and a bounded step of a snapshot under way. Never throws: the write itself succeeded. */
  #afterWrite(now: number): void {
    if (!this.compactable) return;
    if (this.#snapshot === null) {
      if (this.#cleanup !== null) return;
      const log = this.log;
      const end = log.logEndOffset;
      if (end < this.#compactNotBefore || log.size <= this.options.minCompactBytes) return;
      const records = end - log.logStartOffset;
      if (records <= 0 || (records - this.liveKeys) / records <= this.options.compactWhenDeadRatio) return;
      this.#snapshot = { start: end, groups: this.groups.entries(), inner: null, groupId: '' };
    }
    try {
      this.#snapshotStep(now);
    } catch {
      // Disk full or the like: the records written so far only restate
      // current values. Give up this snapshot; retry after as many records as
      // there are live keys.
      this.#snapshot = null;
      try {
        this.#compactNotBefore = this.log.logEndOffset + Math.max(1, this.liveKeys);
      } catch {
        // the log is gone (closed or crashed)
      }
    }
  }

  /** Appends up to `snapshotStepRecords` live entries not rewritten since the snapshot began; finishes the snapshot when none are left. */
  #snapshotStep(now: number): void {
    const snapshot = this.#snapshot!;
    const log = this.log;
    let budget = this.options.snapshotStepRecords;
    const records: RecordInput[] = [];
    const written: OffsetsEntry[] = [];
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
      const key = encodeOffsetCommitKey(snapshot.groupId, entry.topic, entry.partition);
      const value = encodeOffsetCommitValue(entry.value);
      if (records.length > 0 && bytes + key.length + value.length + RECORD_OVERHEAD > this.options.chunkBytes) flush();
      records.push({ key, value });
      written.push(entry);
      bytes += key.length + value.length + RECORD_OVERHEAD;
      budget--;
    }
    if (records.length > 0) flush();
    // Complete: every live key has a record at or after `start` holding its current value.
    this.#snapshot = null;
    this.compactions++;
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

  /** fsyncs the log, and waits for a compaction's cleanup under way. */
  async sync(): Promise<void> {
    const cleanup = this.#cleanup;
    await this.log.flush();
    if (cleanup !== null) await cleanup;
  }

  /** Waits for a compaction's cleanup under way, then closes the log (flush, clean-shutdown marker). */
  async close(): Promise<void> {
    this.#snapshot = null; // a snapshot cut short is harmless
    if (this.#cleanup !== null) await this.#cleanup;
    if (!this.log.closed) await this.log.close();
  }
}
