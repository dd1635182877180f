// Typed errors. Each has a stable `code` (what the native layer sends), and
// where Apache Kafka has a matching error, its name (`type`) and numeric code.

export class FjordError extends Error {
  /** Stable machine-readable code, e.g. `ERR_OFFSET_OUT_OF_RANGE`. */
  readonly code: string;
  /** Kafka's error name (e.g. `OFFSET_OUT_OF_RANGE`), when one fits. */
  readonly type: string | undefined;
  /** Kafka's numeric error code, when one fits. */
  readonly kafkaErrorCode: number | undefined;
  readonly retriable: boolean;

  constructor(message: string, code: string, kafka?: { type: string; code: number; retriable?: boolean }) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.type = kafka?.type;
    this.kafkaErrorCode = kafka?.code;
    this.retriable = kafka?.retriable ?? false;
  }
}

/** A batch (or record) is larger than `max.message.bytes` or another size limit. */
export class RecordTooLargeError extends FjordError {
  /** For a producer send: what was written of the rest of the request. */
  recordMetadata?: unknown[];
  constructor(message: string) {
    super(message, 'ERR_RECORD_TOO_LARGE', { type: 'MESSAGE_TOO_LARGE', code: 10 });
  }
}

/** One append carries more bytes than a segment can hold. */
export class RecordListTooLargeError extends FjordError {
  constructor(message: string) {
    super(message, 'ERR_RECORD_LIST_TOO_LARGE', { type: 'RECORD_LIST_TOO_LARGE', code: 18 });
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

/** The store's message for a stored batch that failed its check on read. */
const STORED_CORRUPTION = /^corrupt record batch at offset (-?\d+) in ([\s\S]+) at byte (\d+): ([\s\S]*)$/;

function corruptRecord(message: string): CorruptRecordError {
  const stored = STORED_CORRUPTION.exec(message);
  if (stored === null) return new CorruptRecordError(message);
  const [, offset, file, position] = stored as unknown as [string, string, string, string];
  return new CorruptRecordError(message, { offset: Number(offset), file, position: Number(position) });
}

/** A batch is well-formed on the wire but breaks a RecordBatch v2 rule. */
export class InvalidRecordError extends FjordError {
  constructor(message: string) {
    super(message, 'ERR_INVALID_RECORD', { type: 'INVALID_RECORD', code: 87 });
  }
}

export class OffsetOutOfRangeError extends FjordError {
  constructor(message: string) {
    super(message, 'ERR_OFFSET_OUT_OF_RANGE', { type: 'OFFSET_OUT_OF_RANGE', code: 1 });
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
  constructor(message: string) {
    super(message, 'ERR_LOG_DIR_LOCKED');
  }
}

export class LogClosedError extends FjordError {
  constructor(message: string) {
    super(message, 'ERR_LOG_CLOSED');
  }
}

/** The disk refused a write or sync: full (`ERR_DISK_FULL`), over the file size limit (`ERR_FILE_TOO_LARGE`), or another I/O failure (`ERR_STORAGE`). */
export class KafkaStorageError extends FjordError {
  constructor(message: string, code: string) {
    super(message, code, { type: 'KAFKA_STORAGE_ERROR', code: 56, retriable: true });
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

export class UnsupportedCompressionError extends FjordError {
  /** The codec number from the batch attributes (2 snappy, 3 lz4, 4 zstd). */
  readonly codec: number | undefined;
  constructor(message: string, details?: { codec?: number }) {
    super(message, 'ERR_UNSUPPORTED_COMPRESSION', { type: 'UNSUPPORTED_COMPRESSION_TYPE', code: 76 });
    this.codec = details?.codec;
  }
}

const byCode: Record<string, (message: string, code: string) => FjordError> = {
  ERR_RECORD_TOO_LARGE: (m) => new RecordTooLargeError(m),
  ERR_RECORD_LIST_TOO_LARGE: (m) => new RecordListTooLargeError(m),
  ERR_CORRUPT_RECORD: (m) => corruptRecord(m),
  ERR_INVALID_RECORD: (m) => new InvalidRecordError(m),
  ERR_OFFSET_OUT_OF_RANGE: (m) => new OffsetOutOfRangeError(m),
  ERR_INVALID_CONFIG: (m) => new InvalidConfigError(m),
  ERR_LOG_DIR_LOCKED: (m) => new LogDirectoryLockedError(m),
  ERR_LOG_CLOSED: (m) => new LogClosedError(m),
  ERR_DISK_FULL: (m, c) => new KafkaStorageError(m, c),
  ERR_FILE_TOO_LARGE: (m, c) => new KafkaStorageError(m, c),
  ERR_STORAGE: (m, c) => new KafkaStorageError(m, c),
};

/** Turns an error thrown by the addon (`ERR_CODE: message`) into its class. */
export function fromNative(error: unknown): Error {
  if (!(error instanceof Error)) return new FjordError(String(error), 'ERR_UNKNOWN');
  const match = /^(ERR_[A-Z_]+): ([\s\S]*)$/.exec(error.message);
  if (!match) return error;
  const [, code, message] = match as unknown as [string, string, string];
  const make = byCode[code];
  const typed = make ? make(message, code) : new FjordError(message, code);
  typed.stack = `${typed.name}: ${message}\n${error.stack?.split('\n').slice(1).join('\n') ?? ''}`;
  return typed;
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

/** An error as it crosses between threads (structured clone keeps no class). */
export interface SerializedError {
  name: string;
  code?: string;
  message: string;
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof FjordError) return { name: error.name, code: error.code, message: error.message };
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}

/** Rebuilds a FjordError subclass by name; anything else becomes a plain Error. */
export function deserializeError(error: SerializedError): Error {
  const classes: Record<string, new (message: string) => Error> = {
    RecordTooLargeError,
    RecordListTooLargeError,
    CorruptRecordError,
    InvalidRecordError,
    OffsetOutOfRangeError,
    InvalidConfigError,
    InvalidArgumentError,
    LogDirectoryLockedError,
    LogClosedError,
    UnknownTopicOrPartitionError,
    InvalidTopicError,
    TopicAlreadyExistsError,
    InvalidPartitionsError,
    NotConnectedError,
    UnsupportedCompressionError,
    IllegalGenerationError,
    UnknownMemberIdError,
    RebalanceInProgressError,
    InconsistentGroupProtocolError,
    NonEmptyGroupError,
    GroupIdNotFoundError,
  };
  const make = classes[error.name];
  if (make !== undefined) return new make(error.message);
  if (error.name === 'KafkaStorageError') return new KafkaStorageError(error.message, error.code ?? 'ERR_STORAGE');
  if (error.code !== undefined) return new FjordError(error.message, error.code);
  const plain = new Error(error.message);
  plain.name = error.name;
  return plain;
}
