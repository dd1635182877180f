// The records of Kafka's `__consumer_offsets` topic, as Kafka 4.4's group
// coordinator writes and loads them (the message schemas bundled in Kafka's
// group-coordinator jar: OffsetCommitKey/Value, GroupMetadataKey).
//
//   key   = int16 record type, then the key's fields (non-flexible: a string is
//           int16 length + UTF-8, an int32 is big-endian)
//             type 0, 1  OffsetCommit: group, topic, partition int32 (0 is the legacy type, same fields)
//             type 2     GroupMetadata: group
//             3 and up   consumer-protocol (KIP-848), share and streams groups
//   value = int16 version, then the value's fields; a null value is a tombstone
//             OffsetCommit v0, v2  offset i64, metadata str16, commitTimestamp i64
//                          v1      ... + expireTimestamp i64
//                          v3      offset i64, leaderEpoch i32, metadata str16, commitTimestamp i64
//                          v4      as v3 with a compact metadata (uvarint length + 1) and tagged fields (tag 0: topicId)
//
// Fjord writes key type 1 and value version 3: the newest non-flexible version,
// read by every Kafka since 2.1. Version 4 only adds the tagged topicId, which
// Fjord's topics do not have. Kafka's metadata string is not nullable: a
// commit without metadata is stored as "" (as Kafka stores it) and read back as
// null (as KafkaJS reports Kafka's "").
import { CorruptRecordError } from '../errors.js';

/** Record types (the key's int16 prefix) this module decodes. */
export const LEGACY_OFFSET_COMMIT_TYPE = 0;
export const OFFSET_COMMIT_TYPE = 1;
export const GROUP_METADATA_TYPE = 2;
/** The OffsetCommitValue version Fjord writes. */
export const OFFSET_COMMIT_VALUE_VERSION = 3;
/** The newest OffsetCommitValue version Kafka 4.4 knows (and Fjord reads). */
export const MAX_OFFSET_COMMIT_VALUE_VERSION = 4;

export interface OffsetCommitValue {
  /** The next offset to read (last processed + 1). */
  offset: number;
  /** null when Kafka's record holds "" (no metadata). */
  metadata: string | null;
  /** The `now` of the commit, in ms. */
  commitTimestamp: number;
  /** -1 when the committer gave none (and in value versions 0 to 2). */
  leaderEpoch: number;
}

/** A decoded key: an offset commit, a group's metadata, or a type Fjord does not read (skipped as Kafka's loader skips unknown types). */
export type OffsetsKey =
  | { type: 'offset'; groupId: string; topic: string; partition: number }
  | { type: 'group'; groupId: string }
  | { type: 'unknown'; recordType: number };

class Reader {
  pos = 0;
  constructor(
    readonly bytes: Buffer,
    readonly what: string,
  ) {}

  #need(n: number): void {
    if (this.pos + n > this.bytes.length) throw new RangeError(`${this.what} ends at byte ${this.bytes.length}, ${n} more needed at ${this.pos}`);
  }
  int16(): number {
    this.#need(2);
    const v = this.bytes.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  int32(): number {
    this.#need(4);
    const v = this.bytes.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  int64(): number {
    this.#need(8);
    const v = this.bytes.readBigInt64BE(this.pos);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new RangeError(`${this.what}: ${v} is not a safe integer`);
    return Number(v);
  }
  uvarint(): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      this.#need(1);
      const b = this.bytes[this.pos++]!;
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
    }
    throw new RangeError(`${this.what}: unsigned varint longer than 5 bytes at ${this.pos}`);
  }
  #utf8(length: number): string {
    this.#need(length);
    const s = this.bytes.toString('utf8', this.pos, this.pos + length);
    this.pos += length;
    return s;
  }
  /** A non-nullable int16-length string. */
  string(): string {
    const length = this.int16();
    if (length < 0) throw new RangeError(`${this.what}: a non-nullable string has length ${length}`);
    return this.#utf8(length);
  }
  /** A non-nullable compact string (uvarint length + 1). */
  compactString(): string {
    const length = this.uvarint() - 1;
    if (length < 0) throw new RangeError(`${this.what}: a non-nullable compact string is null`);
    return this.#utf8(length);
  }
  skip(n: number): void {
    this.#need(n);
    this.pos += n;
  }
  end(): void {
    if (this.pos !== this.bytes.length) throw new RangeError(`${this.what}: ${this.bytes.length - this.pos} bytes left after its fields`);
  }
}

function stringBytes(s: string): number {
  return 2 + Buffer.byteLength(s, 'utf8');
}

function writeString(buf: Buffer, pos: number, s: string): number {
  const length = buf.write(s, pos + 2, 'utf8');
  buf.writeInt16BE(length, pos);
  return pos + 2 + length;
}

/** OffsetCommitKey (record type 1): group, topic, partition. */
export function encodeOffsetCommitKey(groupId: string, topic: string, partition: number): Buffer {
  const buf = Buffer.allocUnsafe(2 + stringBytes(groupId) + stringBytes(topic) + 4);
  buf.writeInt16BE(OFFSET_COMMIT_TYPE, 0);
  const pos = writeString(buf, writeString(buf, 2, groupId), topic);
  buf.writeInt32BE(partition, pos);
  return buf;
}

/** GroupMetadataKey (record type 2): group. Fjord writes it only with a null value, when a group is deleted. */
export function encodeGroupMetadataKey(groupId: string): Buffer {
  const buf = Buffer.allocUnsafe(2 + stringBytes(groupId));
  buf.writeInt16BE(GROUP_METADATA_TYPE, 0);
  writeString(buf, 2, groupId);
  return buf;
}

/** OffsetCommitValue version 3: offset, leaderEpoch, metadata, commitTimestamp. */
export function encodeOffsetCommitValue(value: OffsetCommitValue): Buffer {
  const metadata = value.metadata ?? '';
  const buf = Buffer.allocUnsafe(2 + 8 + 4 + stringBytes(metadata) + 8);
  buf.writeInt16BE(OFFSET_COMMIT_VALUE_VERSION, 0);
  buf.writeBigInt64BE(BigInt(value.offset), 2);
  buf.writeInt32BE(value.leaderEpoch, 10);
  const pos = writeString(buf, 14, metadata);
  buf.writeBigInt64BE(BigInt(value.commitTimestamp), pos);
  return buf;
}

function corrupt(where: string, message: string): CorruptRecordError {
  return new CorruptRecordError(`${where}: ${message}`);
}

/** Decodes a `__consumer_offsets` key; `where` names the record in errors. Throws CorruptRecordError on a malformed key of a known type. */
export function decodeOffsetsKey(bytes: Buffer, where: string): OffsetsKey {
  const reader = new Reader(bytes, 'key');
  try {
    const recordType = reader.int16();
    switch (recordType) {
      case LEGACY_OFFSET_COMMIT_TYPE:
      case OFFSET_COMMIT_TYPE: {
        const groupId = reader.string();
        const topic = reader.string();
        const partition = reader.int32();
        reader.end();
        if (partition < 0) throw new RangeError(`partition ${partition} is negative`);
        return { type: 'offset', groupId, topic, partition };
      }
      case GROUP_METADATA_TYPE: {
        const groupId = reader.string();
        reader.end();
        return { type: 'group', groupId };
      }
      default:
        return { type: 'unknown', recordType };
    }
  } catch (error) {
    throw corrupt(where, `${(error as Error).message} (key ${bytes.toString('hex')})`);
  }
}

/**
 * Decodes an OffsetCommitValue of versions 0 to 4; `null` for a version Fjord
 * does not know (newer than Kafka 4.4's). Throws CorruptRecordError on a
 * malformed value.
 */
export function decodeOffsetCommitValue(bytes: Buffer, where: string): OffsetCommitValue | null {
  const reader = new Reader(bytes, 'value');
  try {
    const version = reader.int16();
    if (version < 0) throw new RangeError(`version ${version} is negative`);
    if (version > MAX_OFFSET_COMMIT_VALUE_VERSION) return null;
    const offset = reader.int64();
    const leaderEpoch = version >= 3 ? reader.int32() : -1;
    const metadata = version >= 4 ? reader.compactString() : reader.string();
    const commitTimestamp = reader.int64();
    if (version === 1) reader.int64(); // expireTimestamp: Fjord expires nothing
    if (version >= 4) {
      // Tagged fields (tag 0: topicId): Fjord names topics only.
      for (let n = reader.uvarint(); n > 0; n--) {
        reader.uvarint();
        reader.skip(reader.uvarint());
      }
    }
    reader.end();
    return { offset, metadata: metadata === '' ? null : metadata, commitTimestamp, leaderEpoch };
  } catch (error) {
    if (error instanceof CorruptRecordError) throw error;
    throw corrupt(where, `${(error as Error).message} (value ${bytes.toString('hex')})`);
  }
}
