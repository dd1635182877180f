// Kafka's RecordBatch v2 (magic 2), the on-disk and on-wire unit of a partition
// log: where every field lies. Field semantics: /work/shared/KAFKA-REFERENCE.md
// and Kafka's DefaultRecordBatch. Encoding (encode.ts, the producer's
// batch-writer.ts), decoding (decode.ts) and the append checks
// (append-checks.ts) all read the layout from here.
//
// Plain `const` numbers. V8 folds a module's own constants into optimized code
// but loads an imported binding (or a namespace property) at every use, 1.6x
// slower in a tight loop: the encoders and decoders take module constants of
// the ones they use, `import * as layout` then `const { HEADER_SIZE } = layout`.
import { VARINT_MAX_BYTES, VARLONG_MAX_BYTES } from './varint.js';

// ---------------------------------------------------------------- batch header
// Byte offsets from the start of the batch; big-endian, sizes in the comments.

/** int64: offset of the first record. */
export const BASE_OFFSET = 0;
/** int32: bytes of the batch after this field (everything but LOG_OVERHEAD). */
export const LENGTH = 8;
/** int32. */
export const PARTITION_LEADER_EPOCH = 12;
/** int8: MAGIC_V2. */
export const MAGIC = 16;
/** uint32: CRC-32C of the bytes from ATTRIBUTES to the end of the batch. */
export const CRC = 17;
/** int16: ATTRIBUTE_* bits. */
export const ATTRIBUTES = 21;
/** int32: offset of the last record minus BASE_OFFSET's. */
export const LAST_OFFSET_DELTA = 23;
/** int64: timestamp of the first record, ms; record timestamps are deltas from it. */
export const BASE_TIMESTAMP = 27;
/** int64: the largest record timestamp, or the append time under LogAppendTime. */
export const MAX_TIMESTAMP = 35;
/** int64: -1 without an idempotent producer. */
export const PRODUCER_ID = 43;
/** int16: -1 without an idempotent producer. */
export const PRODUCER_EPOCH = 51;
/** int32: -1 without an idempotent producer. */
export const BASE_SEQUENCE = 53;
/** int32: records in the batch. */
export const RECORDS_COUNT = 57;
/** Bytes of the header: the records start here. */
export const HEADER_SIZE = 61;

/** Bytes before the length-counted part (baseOffset and length): the log's per-batch overhead. */
export const LOG_OVERHEAD = LENGTH + 4;
/** The smallest valid LENGTH: a header and no records. */
export const MIN_LENGTH = HEADER_SIZE - LOG_OVERHEAD;
/** The only magic Fjord reads and writes. */
export const MAGIC_V2 = 2;
/** The no-producer value of PRODUCER_ID, PRODUCER_EPOCH and BASE_SEQUENCE. */
export const NO_PRODUCER = -1;

// ---------------------------------------------------------------- attributes

/** Bits 0-2: the compression codec of the records. */
export const ATTRIBUTE_CODEC_MASK = 0x07;
export const CODEC_NONE = 0;
export const CODEC_GZIP = 1;
export const CODEC_SNAPPY = 2;
export const CODEC_LZ4 = 3;
export const CODEC_ZSTD = 4;
/** Codec names by number, as Kafka's CompressionType. */
export const CODEC_NAMES: readonly string[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
/** Bit 3: LogAppendTime; every record's timestamp is MAX_TIMESTAMP. */
export const ATTRIBUTE_LOG_APPEND_TIME = 0x08;
/** Bit 4. */
export const ATTRIBUTE_TRANSACTIONAL = 0x10;
/** Bit 5: a control batch (transaction markers), no data records. */
export const ATTRIBUTE_CONTROL = 0x20;

// ---------------------------------------------------------------- records
// After the header (compressed together unless the codec is CODEC_NONE), each record:
//   length          varint  bytes of the record after this field
//   attributes      int8    unused, 0
//   timestampDelta  varlong from BASE_TIMESTAMP
//   offsetDelta     varint  from BASE_OFFSET: 0, 1, 2, ...
//   keyLength       varint  -1 for a null key
//   key
//   valueLength     varint  -1 for a null value
//   value
//   headerCount     varint
//   headers         per header: nameLength varint, name (UTF-8),
//                   valueLength varint (-1 for null), value

/** Bytes of a record's attributes. */
export const RECORD_ATTRIBUTES_SIZE = 1;
/** The most bytes a record takes before its key length: length, attributes, timestampDelta, offsetDelta. */
export const RECORD_PREFIX_MAX = VARINT_MAX_BYTES + RECORD_ATTRIBUTES_SIZE + VARLONG_MAX_BYTES + VARINT_MAX_BYTES;

/** The largest int32: the bound of LENGTH and of every record and field length. */
export const INT32_MAX = 0x7fffffff;
