// The consumer-protocol payloads that travel through JoinGroup (member
// metadata, a.k.a. the subscription) and SyncGroup (member assignment), and
// the partition-assigner types. Byte-compatible with KafkaJS's
// `AssignerProtocol` and with Kafka's ConsumerProtocolSubscription v0 /
// ConsumerProtocolAssignment v0 (every later version of Kafka's assignment has
// the same layout): big-endian, int16 version, int32-counted arrays,
// int16-length UTF-8 strings, int32-length bytes (-1 = null).
//
// Decoders ignore trailing bytes, as KafkaJS's and Kafka's do, so metadata
// written by a newer protocol version (Kafka v1+ appends owned partitions,
// generation and rack after the user data) still decodes.

import { Buffer } from 'node:buffer';

import { InvalidArgumentError, ProtocolDecodeError } from '../errors.js';

/** `{ [topic]: partitions }`, KafkaJS's `Assignment`. */
export type Assignment = { [topic: string]: number[] };

/** What a member sends in JoinGroup for one protocol (KafkaJS's `MemberMetadata`). */
export type MemberMetadata = {
  version: number;
  topics: string[];
  /** Decoding yields `null` when the field was written as null (length -1). */
  userData: Buffer;
};

/** What the leader hands each member through SyncGroup (KafkaJS's `MemberAssignment`). */
export type MemberAssignment = {
  version: number;
  assignment: Assignment;
  userData: Buffer;
};

/** Input of `encode`: `userData` defaults to an empty buffer; `null` is written as a null byte array. */
export type MemberMetadataInput = {
  version: number;
  topics: string[];
  userData?: Uint8Array | null;
};

export type MemberAssignmentInput = {
  version: number;
  assignment: Assignment;
  userData?: Uint8Array | null;
};

/** KafkaJS's `ISerializer<T>`. */
export interface ISerializer<TOut, TIn = TOut> {
  encode(value: TIn): Buffer;
  decode(buffer: Buffer): TOut | null;
}

/** A member as the coordinator hands it to the leader's assigner. */
export type GroupMember = { memberId: string; memberMetadata: Buffer };

/** One member's encoded assignment, as returned by `Assigner.assign`. */
export type GroupMemberAssignment = { memberId: string; memberAssignment: Buffer };

/** The `{ name, metadata }` an assigner offers in JoinGroup (KafkaJS's `GroupState`). */
export type GroupProtocolMetadata = { name: string; metadata: Buffer };

/**
 * What a consumer passes to `Assigner.protocol`. KafkaJS passes `{ topics }`
 * only; Fjord's consumer also passes the partitions it owns and the generation
 * they were assigned in, which the cooperative-sticky assigner puts into its
 * metadata. Assigners that do not care ignore the extra fields.
 */
export type AssignerSubscription = {
  topics: string[];
  ownedPartitions?: Assignment;
  generationId?: number;
};

/** The part of KafkaJS's `Cluster` that Fjord's coordinator hands to assigners. */
export interface AssignerCluster {
  findTopicPartitionMetadata(topic: string): ReadonlyArray<{ partitionId: number }>;
}

/** The logger subset of KafkaJS's `Logger` that assigners may use. */
export interface AssignerLogger {
  info(message: string, extra?: object): void;
  error(message: string, extra?: object): void;
  warn(message: string, extra?: object): void;
  debug(message: string, extra?: object): void;
}

export type AssignerConfig = {
  cluster: AssignerCluster;
  groupId?: string;
  logger?: AssignerLogger;
};

/** KafkaJS's `Assigner`. */
export type Assigner = {
  name: string;
  version: number;
  assign(group: { members: GroupMember[]; topics: string[] }): Promise<GroupMemberAssignment[]>;
  protocol(subscription: AssignerSubscription): GroupProtocolMetadata;
};

/**
 * KafkaJS's `PartitionAssigner`: a factory called once per consumer. Declared
 * with method (bivariant) parameter checking so that assigners typed against
 * KafkaJS's declarations (whose `cluster` is the full KafkaJS `Cluster`) are
 * accepted where a Fjord `PartitionAssigner` is expected.
 */
export type PartitionAssigner = {
  bivarianceHack(config: AssignerConfig): Assigner;
}['bivarianceHack'];

// ---------------------------------------------------------------------------
// Encoding

/** Internal: a big-endian writer of Kafka protocol primitives. */
export class ProtocolWriter {
  #chunks: Buffer[] = [];

  int16(value: number): this {
    const b = Buffer.allocUnsafe(2);
    b.writeInt16BE(value, 0);
    this.#chunks.push(b);
    return this;
  }

  int32(value: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32BE(value, 0);
    this.#chunks.push(b);
    return this;
  }

  string(value: string): this {
    const bytes = Buffer.from(value, 'utf8');
    if (bytes.length > 0x7fff) throw new InvalidArgumentError(`string of ${bytes.length} bytes does not fit an int16 length`);
    return this.int16(bytes.length).raw(bytes);
  }

  bytes(value: Uint8Array | null | undefined): this {
    if (value == null) return this.int32(-1);
    return this.int32(value.length).raw(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  }

  raw(value: Buffer): this {
    this.#chunks.push(value);
    return this;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.#chunks);
  }
}

/** Internal: a big-endian reader of Kafka protocol primitives; throws `ProtocolDecodeError` on truncated input. */
export class ProtocolReader {
  #offset = 0;
  constructor(readonly buffer: Buffer) {}

  get remaining(): number {
    return this.buffer.length - this.#offset;
  }

  #need(n: number, what: string): void {
    if (n < 0 || this.remaining < n) {
      throw new ProtocolDecodeError(`truncated ${what}: need ${n} bytes at offset ${this.#offset}, ${this.remaining} left`);
    }
  }

  int16(): number {
    this.#need(2, 'int16');
    const v = this.buffer.readInt16BE(this.#offset);
    this.#offset += 2;
    return v;
  }

  int32(): number {
    this.#need(4, 'int32');
    const v = this.buffer.readInt32BE(this.#offset);
    this.#offset += 4;
    return v;
  }

  string(): string {
    const length = this.int16();
    if (length < 0) throw new ProtocolDecodeError('unexpected null string');
    this.#need(length, 'string');
    const v = this.buffer.toString('utf8', this.#offset, this.#offset + length);
    this.#offset += length;
    return v;
  }

  /** A view into the input (no copy), as KafkaJS's decoder returns; `null` for length -1. */
  bytes(): Buffer | null {
    const length = this.int32();
    if (length === -1) return null;
    this.#need(length, 'bytes');
    const v = this.buffer.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return v;
  }

  array<T>(read: (r: ProtocolReader) => T): T[] {
    const length = this.int32();
    if (length === -1) return [];
    if (length < 0) throw new ProtocolDecodeError(`negative array length ${length}`);
    // Every element takes at least one byte (a partition four), so a count
    // beyond what is left is corrupt; refuse it before allocating.
    this.#need(length, 'array');
    const out: T[] = [];
    for (let i = 0; i < length; i++) out.push(read(this));
    return out;
  }
}

export const MemberMetadataSerializer: ISerializer<MemberMetadata, MemberMetadataInput> = {
  encode({ version, topics, userData = Buffer.alloc(0) }: MemberMetadataInput): Buffer {
    const w = new ProtocolWriter().int16(version).int32(topics.length);
    for (const topic of topics) w.string(topic);
    return w.bytes(userData).toBuffer();
  },

  decode(buffer: Buffer): MemberMetadata {
    const r = new ProtocolReader(buffer);
    return {
      version: r.int16(),
      topics: r.array((d) => d.string()),
      userData: r.bytes() as Buffer,
    };
  },
};

export const MemberAssignmentSerializer: ISerializer<MemberAssignment, MemberAssignmentInput> = {
  encode({ version, assignment, userData = Buffer.alloc(0) }: MemberAssignmentInput): Buffer {
    const topics = Object.keys(assignment);
    const w = new ProtocolWriter().int16(version).int32(topics.length);
    for (const topic of topics) {
      const partitions = assignment[topic] ?? [];
      w.string(topic).int32(partitions.length);
      for (const p of partitions) w.int32(p);
    }
    return w.bytes(userData).toBuffer();
  },

  /** `null` for a buffer too short to hold a version (an empty assignment from the coordinator), as in KafkaJS. */
  decode(buffer: Buffer): MemberAssignment | null {
    if (buffer.length < 2) return null;
    const r = new ProtocolReader(buffer);
    const version = r.int16();
    const assignment: Assignment = {};
    for (const { topic, partitions } of r.array((d) => ({ topic: d.string(), partitions: d.array((e) => e.int32()) }))) {
      setOwn(assignment, topic, partitions);
    }
    return { version, assignment, userData: r.bytes() as Buffer };
  },
};

/** `obj[key] = value` as an own enumerable property even for `'__proto__'` (a legal topic name). */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Drop-in for KafkaJS's `AssignerProtocol`. */
export const AssignerProtocol = {
  MemberMetadata: MemberMetadataSerializer,
  MemberAssignment: MemberAssignmentSerializer,
};
