// The layout Fjord wrote committed offsets in before it wrote Kafka's
// (offset-records.ts): one `__consumer_offsets-0` log of MessagePack records,
//   key   = [1, groupId, topic, partition]                          (array, version first)
//   value = { offset, metadata, commitTimestamp, leaderEpoch }       (map), null = tombstone
// Read once, to move a directory Fjord wrote to Kafka's layout
// (offset-store.ts); never written any more.
import { Packr } from 'msgpackr';
import { CorruptRecordError } from '../errors.js';
import { decodeBatches } from '../record-batch/decode.js';
import type { Log } from '../storage/log.js';
import type { OffsetCommitValue } from './offset-records.js';

const packr = new Packr({ useRecords: false });
/** MessagePack's fixarray of 4, the first byte of every legacy key. */
const LEGACY_KEY_FIRST_BYTE = 0x94;
const READ_BYTES = 8 << 20;

export interface LegacyOffset extends OffsetCommitValue {
  groupId: string;
  topic: string;
  partition: number;
}

/** Whether the first record of the log (from its start) has a legacy MessagePack key. An empty log is not legacy. */
export function isLegacyOffsetsLog(log: Log): boolean {
  const slice = log.readSlice(log.logStartOffset, READ_BYTES);
  if (slice === null) return false;
  for (const record of decodeBatches(slice.bytes, { fromOffset: log.logStartOffset })) {
    return record.key !== null && record.key.length > 0 && record.key[0] === LEGACY_KEY_FIRST_BYTE;
  }
  return false;
}

function corrupt(offset: number, message: string): CorruptRecordError {
  return new CorruptRecordError(`legacy __consumer_offsets-0 record at offset ${offset}: ${message}`);
}

/** The live committed offsets of a legacy log: last write wins per key, a null value deletes. */
export function readLegacyOffsets(log: Log): LegacyOffset[] {
  const live = new Map<string, LegacyOffset>();
  let at = log.logStartOffset;
  for (let slice = log.readSlice(at, READ_BYTES); slice !== null; slice = log.readSlice(at, READ_BYTES)) {
    for (const record of decodeBatches(slice.bytes, { fromOffset: at })) {
      if (record.key === null) throw corrupt(record.offset, 'record has no key');
      let key: unknown;
      let value: unknown = null;
      try {
        key = packr.unpack(record.key);
        if (record.value !== null) value = packr.unpack(record.value);
      } catch (error) {
        throw corrupt(record.offset, `not MessagePack (${(error as Error).message})`);
      }
      const [version, groupId, topic, partition] = Array.isArray(key) ? key : [];
      if (version !== 1 || typeof groupId !== 'string' || typeof topic !== 'string' || !Number.isInteger(partition)) {
        throw corrupt(record.offset, `key ${JSON.stringify(key)} is not [1, groupId, topic, partition]`);
      }
      const id = JSON.stringify([groupId, topic, partition]);
      if (value === null) {
        live.delete(id);
        continue;
      }
      const v = value as Record<string, unknown>;
      const int = (x: unknown): number | null => (typeof x === 'bigint' ? Number(x) : typeof x === 'number' && Number.isSafeInteger(x) ? x : null);
      const offset = int(v.offset);
      const commitTimestamp = int(v.commitTimestamp);
      const leaderEpoch = int(v.leaderEpoch);
      const metadata = v.metadata ?? null;
      if (offset === null || commitTimestamp === null || leaderEpoch === null || (metadata !== null && typeof metadata !== 'string')) {
        throw corrupt(record.offset, 'value is not { offset, metadata, commitTimestamp, leaderEpoch }');
      }
      live.delete(id); // re-insert: the order of the last writes
      live.set(id, { groupId, topic, partition: partition as number, offset, metadata: metadata === '' ? null : metadata, commitTimestamp, leaderEpoch });
    }
    if (slice.nextOffset <= at) break;
    at = slice.nextOffset;
  }
  return [...live.values()];
}
