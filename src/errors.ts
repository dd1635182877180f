// Typed errors. Each has a stable `code` (what the native layer sends), and
// where Apache Kafka has a matching error, its name (`type`) and numeric code.
// `CLASS_BY_CODE` (below the classes) is where an error gets its class back
// from a code: for an error thrown by the addon (`fromNative`) and for one
// that crossed between threads (`deserializeError`). Fields travel as
// properties (`ErrorFields`), never inside the message.

export class FjordError extends Error {
  /** Stable machine-readable code, e.g. `ERR_OFFSET_OUT_OF_RANGE`. */
  readonly code: string;
  /** Kafka's error name (e.g. `OFFSET_OUT_OF_RANGE`), when one fits. */
  readonly type: string | undefined;
  /** Kafka's numeric error code, when one fits. */
  readonly kafkaErrorCode: number | undefined;
  readonly retriable: boolean;

  constructor(message: string, code: string, kafka?: { type: string; code: number; retriable?: boolean }, retriable?: boolean) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.type = kafka?.type;
    this.kafkaErrorCode = kafka?.code;
    this.retriable = kafka?.retriable ?? retriable ?? false;
  }
}

/** A batch (or record) is larger than `max.message.bytes` or another size limit. */
export class RecordTooLargeError extends FjordError {
  /** For a producer send: what was written of the rest of the request. */
  recordMetadata?: unknown[];
  /** The batch's size in bytes, when the store refused it. */
  readonly size: number | undefined;
  /** The limit it broke (`max.message.bytes`), when the store refused it. */
  readonly limit: number | undefined;
  constructor(message: string, details?: { size?: number; limit?: number }) {
    super(message, 'ERR_RECORD_TOO_LARGE', { type: 'MESSAGE_TOO_LARGE', code: 10 });
    this.size = details?.size;
    this.limit = details?.limit;
  }
}

/** One append carries more bytes than a segment can hold. */
export class RecordListTooLargeError extends FjordError {
  /** The append's size in bytes. */
  readonly size: number | undefined;
  /** `segment.bytes`. */
  readonly limit: number | undefined;
  constructor(message: string, details?: { size?: number; limit?: number }) {
    super(message, 'ERR_RECORD_LIST_TOO_LARGE', { type: 'RECORD_LIST_TOO_LARGE', code: 18 });
    this.size = details?.size;
    this.limit = details?.limit;
  }
}

export interface CorruptRecordDetails {
  /** Byte position of the bad batch (in `file`, or in the bytes being decoded). */
  position?: number;
  topic?: string;
  partition?: number;
  /** The first offset the bad batch holds (or should hold). */
  offset?: number;
  /** The segment file the bad batch is stored in. */
  file?: string;
}

/**
 * Bytes fail their CRC-32C or cannot be framed: never appended, never served.
 * When stored data is damaged (`file` is set) the read that met it fails, and
 * every read at that batch will (retrying does not help): seek past `offset`'s
 * batch to go on. Reads before and after it still work.
 */
export class CorruptRecordError extends FjordError {
  readonly position: number | undefined;
  readonly topic: string | undefined;
  readonly partition: number | undefined;
  readonly offset: number | undefined;
  readonly file: string | undefined;
  constructor(message: string, details?: CorruptRecordDetails) {
    // Kafka's CORRUPT_MESSAGE is retriable (a network error); a damaged file is not.
    super(message, 'ERR_CORRUPT_RECORD', { type: 'CORRUPT_MESSAGE', code: 2, retriable: details?.file === undefined });
    this.position = details?.position;
    this.topic = details?.topic;
    this.partition = details?.partition;
    this.offset = details?.offset;
    this.file = details?.file;
  }
}

/** A batch is well-formed on the wire but breaks a RecordBatch v2 rule. */
export class InvalidRecordError extends FjordError {
  /** Byte position of the bad batch in the bytes being appended. */
  readonly position: number | undefined;
  constructor(message: string, details?: { position?: number }) {
    super(message, 'ERR_INVALID_RECORD', { type: 'INVALID_RECORD', code: 87 });
    this.position = details?.position;
  }
}

export class OffsetOutOfRangeError extends FjordError {
  /** The offset asked for. */
  readonly offset: number | undefined;
  /** The log's range when the store refused it: [logStartOffset, logEndOffset). */
  readonly logStartOffset: number | undefined;
  readonly logEndOffset: number | undefined;
  constructor(message: string, details?: { offset?: number; logStartOffset?: number; logEndOffset?: number }) {
    super(message, 'ERR_OFFSET_OUT_OF_RANGE', { type: 'OFFSET_OUT_OF_RANGE', code: 1 });
    this.offset = details?.offset;
    this.logStartOffset = details?.logStartOffset;
    this.logEndOffset = details?.logEndOffset;
  }
}

export class InvalidConfigError extends FjordError {
  constructor(message: string) {
    super(message, 'ERR_INVALID_CONFIG', { type: 'INVALID_CONFIG', code: 40 });
  }
}

/** A call's arguments have the wrong type or shape. */
export class InvalidArgumentError extends FjordError {
  constructor(message: string) {
    super(message, 'ERR_INVALID_ARGUMENT');
  }
}

/** Another process holds the data directory. */
export class LogDirectoryLockedError extends FjordError {
  /** The locked directory. */
  readonly dir: string | undefined;
  /** Who holds it, as its `.lock` file says (e.g. `pid 4242 (node)`). */
  readonly holder: string | undefined;
  constructor(message: string, details?: { dir?: string; holder?: string }) {
    super(message, 'ERR_LOG_DIR_LOCKED');
    this.dir = details?.dir;
    this.holder = details?.holder;
  }
}

export class LogClosedError extends FjordError {
  /** The closed log's directory, when the store reported it. */
  readonly dir: string | undefined;
  constructor(message: string, details?: { dir?: string }) {
    super(message, 'ERR_LOG_CLOSED');
    this.dir = details?.dir;
  }
}

/** Which idempotent producer's batch the store refused, and why it judged so. */
export interface ProducerErrorDetails {
  producerId?: number;
  /** The epoch the batch carries. */
  producerEpoch?: number;
  /** The batch's first sequence number (OutOfOrderSequenceNumberError). */
  sequence?: number;
  /** The producer's epoch in the log (InvalidProducerEpochError). */
  currentEpoch?: number;
}

/**
 * An idempotent producer's batch does not follow the last one the partition
 * holds from it (a gap, or a batch older than the last five): nothing was written.
 */
export class OutOfOrderSequenceNumberError extends FjordError {
  readonly producerId: number | undefined;
  readonly producerEpoch: number | undefined;
  readonly sequence: number | undefined;
  constructor(message: string, details?: ProducerErrorDetails) {
    super(message, 'ERR_OUT_OF_ORDER_SEQUENCE_NUMBER', { type: 'OUT_OF_ORDER_SEQUENCE_NUMBER', code: 45 });
    this.producerId = details?.producerId;
    this.producerEpoch = details?.producerEpoch;
    this.sequence = details?.sequence;
  }
}

/** A batch from an older epoch of a producer the partition has seen at a newer one (it was fenced): nothing was written. */
export class InvalidProducerEpochError extends FjordError {
  readonly producerId: number | undefined;
  readonly producerEpoch: number | undefined;
  readonly currentEpoch: number | undefined;
  constructor(message: string, details?: ProducerErrorDetails) {
    super(message, 'ERR_INVALID_PRODUCER_EPOCH', { type: 'INVALID_PRODUCER_EPOCH', code: 47 });
    this.producerId = details?.producerId;
    this.producerEpoch = details?.producerEpoch;
    this.currentEpoch = details?.currentEpoch;
  }
}

export interface StorageErrorDetails {
  /** The OS error number (28 for ENOSPC on Linux). */
  errno?: number;
  /** Its name: `ENOSPC`, `EFBIG`, `EIO`... */
  errnoName?: string;
  /** The store's operation: `append`, `fsync`, `create`, `mmap`... (`panic` for a panic in the store). */
  op?: string;
  /** The file or directory it was working on. */
  path?: string;
  /** The partition directory, for `ERR_LOG_OFFLINE`. */
  dir?: string;
}

/**
 * The disk refused a write or sync: full (`ERR_DISK_FULL`), over the file
 * size limit (`ERR_FILE_TOO_LARGE`), or another I/O failure (`ERR_STORAGE`);
 * or the partition is offline (`ERR_LOG_OFFLINE`): an earlier write or fsync
 * error (or a panic in the store) took it offline, and every call on it fails
 * until it is closed and opened again. `errno`, `errnoName`, `op` and `path`
 * then name that first cause. Offline is not retriable: only a reopen heals it.
 */
export class KafkaStorageError extends FjordError {
  readonly errno: number | undefined;
  readonly errnoName: string | undefined;
  readonly op: string | undefined;
  readonly path: string | undefined;
  readonly dir: string | undefined;
  constructor(message: string, code: string, details?: StorageErrorDetails) {
    super(message, code, { type: 'KAFKA_STORAGE_ERROR', code: 56, retriable: code !== 'ERR_LOG_OFFLINE' });
    this.errno = details?.errno;
    this.errnoName = details?.errnoName;
    this.op = details?.op;
    this.path = details?.path;
    this.dir = details?.dir;
  }

  /** True when the partition is offline until it is reopened. */
  get offline(): boolean {
    return this.code === 'ERR_LOG_OFFLINE';
  }
}

/** A bug: a panic in the native store outside any partition log (Kafka's `UNKNOWN_SERVER_ERROR`). The process goes on. */
export class InternalError extends FjordError {
  constructor(message: string) {
    super(message, 'ERR_INTERNAL', { type: 'UNKNOWN_SERVER_ERROR', code: -1 });
  }
}

export class UnknownTopicOrPartitionError extends FjordError {
  constructor(message: string) {
    super(message, 'ERR_UNKNOWN_TOPIC_OR_PARTITION', { type: 'UNKNOWN_TOPIC_OR_PARTITION', code: 3 });
  }
}

/** A topic name breaks Kafka's rules (1 to 249 of `[a-zA-Z0-9._-]`, not `.` or `..`). */
export class InvalidTopicError extends FjordError {
  constructor(message: string) {
    super(message, 'ERR_INVALID_TOPIC', { type: 'INVALID_TOPIC_EXCEPTION', code: 17 });
  }
}

export class TopicAlreadyExistsError extends FjordError {
  constructor(message: string) {
    super(message, 'ERR_TOPIC_ALREADY_EXISTS', { type: 'TOPIC_ALREADY_EXISTS', code: 36 });
  }
}

/** A partition count that is not a positive integer, or one that would shrink a topic. */
export class InvalidPartitionsError extends FjordError {
  constructor(message: string) {
    super(message, 'ERR_INVALID_PARTITIONS', { type: 'INVALID_PARTITIONS', code: 37 });
  }
}

/** A producer, consumer or admin used before `connect()` or after `disconnect()`, or a closed Fjord. */
export class NotConnectedError extends FjordError {
  constructor(message: string) {
    super(message, 'ERR_NOT_CONNECTED');
  }
}

/**
 * A consumer's eachMessage / eachBatch kept failing through every retry of
 * its `retry` options (KafkaJS's KafkaJSNumberOfRetriesExceeded): the
 * consumer crashes with it, and restarts unless `restartOnFailure` says no.
 */
export class NumberOfRetriesExceededError extends FjordError {
  /** Retries made before giving up. */
  readonly retryCount: number;
  /** The wait the next retry would have had (KafkaJS restarts the consumer after it). */
  readonly retryTime: number;
  constructor(message: string, details: { retryCount?: number; retryTime?: number; cause?: unknown } = {}) {
    super(message, 'ERR_NUMBER_OF_RETRIES_EXCEEDED', undefined, true);
    this.retryCount = details.retryCount ?? 0;
    this.retryTime = details.retryTime ?? 0;
    if (details.cause !== undefined) this.cause = details.cause;
  }
}

export class UnsupportedCompressionError extends FjordError {
  /** The codec number from the batch attributes (2 snappy, 3 lz4, 4 zstd). */
  readonly codec: number | undefined;
  constructor(message: string, details?: { codec?: number }) {
    super(message, 'ERR_UNSUPPORTED_COMPRESSION', { type: 'UNSUPPORTED_COMPRESSION_TYPE', code: 76 });
    this.codec = details?.codec;
  }
}

/**
 * An operation did not finish within its time limit, Kafka's TimeoutException:
 * a producer send that waited longer than `maxBlockMs` for room in
 * `bufferMemory` (Kafka's BufferExhaustedException, one of them).
 */
export class TimeoutError extends FjordError {
  constructor(message: string) {
    super(message, 'ERR_TIMEOUT', { type: 'REQUEST_TIMED_OUT', code: 7, retriable: true });
  }
}

/** A Kafka feature Fjord does not have yet, named in `feature` (e.g. `transactions`). */
export class UnsupportedFeatureError extends FjordError {
  readonly feature: string | undefined;
  constructor(message: string, details?: { feature?: string }) {
    // Kafka's client gets UNSUPPORTED_VERSION from a broker that lacks a feature it asks for.
    super(message, 'ERR_UNSUPPORTED_FEATURE', { type: 'UNSUPPORTED_VERSION', code: 35 });
    this.feature = details?.feature;
  }
}

/** A commit or heartbeat from a member of an older generation of its group. */
export class IllegalGenerationError extends FjordError {
  constructor(message: string) {
    super(message, 'ERR_ILLEGAL_GENERATION', { type: 'ILLEGAL_GENERATION', code: 22 });
  }
}

export class UnknownMemberIdError extends FjordError {
  constructor(message: string) {
    super(message, 'ERR_UNKNOWN_MEMBER_ID', { type: 'UNKNOWN_MEMBER_ID', code: 25 });
  }
}

/** The group is rebalancing: rejoin before committing or heartbeating again. */
export class RebalanceInProgressError extends FjordError {
  constructor(message: string) {
    super(message, 'ERR_REBALANCE_IN_PROGRESS', { type: 'REBALANCE_IN_PROGRESS', code: 27, retriable: true });
  }
}

/** No assigner protocol is supported by every member of the group. */
export class InconsistentGroupProtocolError extends FjordError {
  constructor(message: string) {
    super(message, 'ERR_INCONSISTENT_GROUP_PROTOCOL', { type: 'INCONSISTENT_GROUP_PROTOCOL', code: 23 });
  }
}

/** A group that has members cannot be deleted (Kafka's NON_EMPTY_GROUP). */
export class NonEmptyGroupError extends FjordError {
  constructor(message: string) {
    super(message, 'ERR_NON_EMPTY_GROUP', { type: 'NON_EMPTY_GROUP', code: 68 });
  }
}

export class GroupIdNotFoundError extends FjordError {
  constructor(message: string) {
    super(message, 'ERR_GROUP_ID_NOT_FOUND', { type: 'GROUP_ID_NOT_FOUND', code: 69 });
  }
}

/** A commit's metadata is longer than `offset.metadata.max.bytes` (4096 bytes of UTF-8). */
export class OffsetMetadataTooLargeError extends FjordError {
  constructor(message: string) {
    super(message, 'ERR_OFFSET_METADATA_TOO_LARGE', { type: 'OFFSET_METADATA_TOO_LARGE', code: 12 });
  }
}

/** Member metadata, an assignment or assigner user data that cannot be decoded. */
export class ProtocolDecodeError extends FjordError {
  constructor(message: string) {
    super(message, 'ERR_PROTOCOL_DECODE');
  }
}

/**
 * Every field an error of this module may carry. A class's property and the
 * addon's property (native/napi/src/errors.rs) have the same name.
 */
export interface ErrorFields extends CorruptRecordDetails, StorageErrorDetails, ProducerErrorDetails {
  size?: number;
  limit?: number;
  logStartOffset?: number;
  logEndOffset?: number;
  dir?: string;
  holder?: string;
  codec?: number;
  feature?: string;
}

const FIELD_TYPES: { [K in keyof Required<ErrorFields>]: 'number' | 'string' } = {
  position: 'number',
  topic: 'string',
  partition: 'number',
  offset: 'number',
  file: 'string',
  errno: 'number',
  errnoName: 'string',
  op: 'string',
  path: 'string',
  size: 'number',
  limit: 'number',
  logStartOffset: 'number',
  logEndOffset: 'number',
  dir: 'string',
  holder: 'string',
  codec: 'number',
  feature: 'string',
  producerId: 'number',
  producerEpoch: 'number',
  sequence: 'number',
  currentEpoch: 'number',
};

/** The fields `error` carries as properties (an addon error, or a FjordError). */
function fieldsOf(error: object): ErrorFields {
  const fields: Record<string, unknown> = {};
  for (const [name, type] of Object.entries(FIELD_TYPES)) {
    const value = (error as Record<string, unknown>)[name];
    if (typeof value === type) fields[name] = value;
  }
  return fields as ErrorFields;
}

/**
 * The class of each code, built from a message and the fields. The addon's
 * codes come from `StoreError::code` (native/store/src/error.rs).
 */
const CLASS_BY_CODE: Record<string, (message: string, fields: ErrorFields) => FjordError> = {
  // Sent by the addon.
  ERR_RECORD_TOO_LARGE: (m, f) => new RecordTooLargeError(m, f),
  ERR_RECORD_LIST_TOO_LARGE: (m, f) => new RecordListTooLargeError(m, f),
  ERR_CORRUPT_RECORD: (m, f) => new CorruptRecordError(m, f),
  ERR_INVALID_RECORD: (m, f) => new InvalidRecordError(m, f),
  ERR_OFFSET_OUT_OF_RANGE: (m, f) => new OffsetOutOfRangeError(m, f),
  ERR_INVALID_CONFIG: (m) => new InvalidConfigError(m),
  ERR_LOG_DIR_LOCKED: (m, f) => new LogDirectoryLockedError(m, f),
  ERR_LOG_CLOSED: (m, f) => new LogClosedError(m, f),
  ERR_DISK_FULL: (m, f) => new KafkaStorageError(m, 'ERR_DISK_FULL', f),
  ERR_FILE_TOO_LARGE: (m, f) => new KafkaStorageError(m, 'ERR_FILE_TOO_LARGE', f),
  ERR_STORAGE: (m, f) => new KafkaStorageError(m, 'ERR_STORAGE', f),
  ERR_LOG_OFFLINE: (m, f) => new KafkaStorageError(m, 'ERR_LOG_OFFLINE', f),
  ERR_INTERNAL: (m) => new InternalError(m),
  ERR_OUT_OF_ORDER_SEQUENCE_NUMBER: (m, f) => new OutOfOrderSequenceNumberError(m, f),
  ERR_INVALID_PRODUCER_EPOCH: (m, f) => new InvalidProducerEpochError(m, f),
  // Thrown in TypeScript only; they cross threads.
  ERR_INVALID_ARGUMENT: (m) => new InvalidArgumentError(m),
  ERR_UNKNOWN_TOPIC_OR_PARTITION: (m) => new UnknownTopicOrPartitionError(m),
  ERR_INVALID_TOPIC: (m) => new InvalidTopicError(m),
  ERR_TOPIC_ALREADY_EXISTS: (m) => new TopicAlreadyExistsError(m),
  ERR_INVALID_PARTITIONS: (m) => new InvalidPartitionsError(m),
  ERR_NOT_CONNECTED: (m) => new NotConnectedError(m),
  ERR_NUMBER_OF_RETRIES_EXCEEDED: (m) => new NumberOfRetriesExceededError(m),
  ERR_UNSUPPORTED_COMPRESSION: (m, f) => new UnsupportedCompressionError(m, f),
  ERR_TIMEOUT: (m) => new TimeoutError(m),
  ERR_UNSUPPORTED_FEATURE: (m, f) => new UnsupportedFeatureError(m, f),
  ERR_ILLEGAL_GENERATION: (m) => new IllegalGenerationError(m),
  ERR_UNKNOWN_MEMBER_ID: (m) => new UnknownMemberIdError(m),
  ERR_REBALANCE_IN_PROGRESS: (m) => new RebalanceInProgressError(m),
  ERR_INCONSISTENT_GROUP_PROTOCOL: (m) => new InconsistentGroupProtocolError(m),
  ERR_NON_EMPTY_GROUP: (m) => new NonEmptyGroupError(m),
  ERR_GROUP_ID_NOT_FOUND: (m) => new GroupIdNotFoundError(m),
  ERR_OFFSET_METADATA_TOO_LARGE: (m) => new OffsetMetadataTooLargeError(m),
  ERR_PROTOCOL_DECODE: (m) => new ProtocolDecodeError(m),
};

/**
 * Turns an error thrown by the addon into its class. The addon's errors carry
 * `code` (`ERR_...`) and their fields as properties (native/napi/src/errors.rs);
 * any other error is returned as it is.
 */
export function fromNative(error: unknown): Error {
  if (!(error instanceof Error)) return new FjordError(String(error), 'ERR_UNKNOWN');
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string' || !code.startsWith('ERR_')) return error;
  const make = CLASS_BY_CODE[code];
  const typed = make ? make(error.message, fieldsOf(error)) : new FjordError(error.message, code);
  typed.stack = `${typed.name}: ${error.message}\n${error.stack?.split('\n').slice(1).join('\n') ?? ''}`;
  return typed;
}

/** An error as it crosses between threads (structured clone keeps no class and no custom property). */
export interface SerializedError {
  name: string;
  code?: string;
  message: string;
  fields?: ErrorFields;
  /** Kafka's name, numeric code and retriability, for a FjordError with a code no class has. */
  kafka?: { type: string; code: number; retriable: boolean };
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof FjordError) {
    const serialized: SerializedError = { name: error.name, code: error.code, message: error.message, fields: fieldsOf(error) };
    if (error.type !== undefined && error.kafkaErrorCode !== undefined) {
      serialized.kafka = { type: error.type, code: error.kafkaErrorCode, retriable: error.retriable };
    }
    return serialized;
  }
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}

/** Rebuilds a FjordError by its code (the class and fields it had); anything else becomes a plain Error. */
export function deserializeError(error: SerializedError): Error {
  if (error.code !== undefined) {
    const make = CLASS_BY_CODE[error.code];
    return make ? make(error.message, error.fields ?? {}) : new FjordError(error.message, error.code, error.kafka);
  }
  const plain = new Error(error.message);
  plain.name = error.name;
  return plain;
}
