// The error classes as the package exports them, and the class table of
// src/errors.ts: every code builds its class back, with its fields, from what
// crosses a thread (serializeError / deserializeError).
import { describe, expect, it } from 'vitest';

import * as fjord from '../src/index.js';
import {
  CorruptRecordError,
  deserializeError,
  FjordError,
  KafkaStorageError,
  OffsetOutOfRangeError,
  serializeError,
  UnsupportedFeatureError,
} from '../src/errors.js';

/** Class, code, Kafka's name and numeric code, retriable. */
const CLASSES: [string, string, string | undefined, number | undefined, boolean][] = [
  ['CorruptRecordError', 'ERR_CORRUPT_RECORD', 'CORRUPT_MESSAGE', 2, true],
  ['GroupIdNotFoundError', 'ERR_GROUP_ID_NOT_FOUND', 'GROUP_ID_NOT_FOUND', 69, false],
  ['IllegalGenerationError', 'ERR_ILLEGAL_GENERATION', 'ILLEGAL_GENERATION', 22, false],
  ['InconsistentGroupProtocolError', 'ERR_INCONSISTENT_GROUP_PROTOCOL', 'INCONSISTENT_GROUP_PROTOCOL', 23, false],
  ['InternalError', 'ERR_INTERNAL', 'UNKNOWN_SERVER_ERROR', -1, false],
  ['InvalidArgumentError', 'ERR_INVALID_ARGUMENT', undefined, undefined, false],
  ['InvalidConfigError', 'ERR_INVALID_CONFIG', 'INVALID_CONFIG', 40, false],
  ['InvalidPartitionsError', 'ERR_INVALID_PARTITIONS', 'INVALID_PARTITIONS', 37, false],
  ['InvalidProducerEpochError', 'ERR_INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_EPOCH', 47, false],
  ['InvalidRecordError', 'ERR_INVALID_RECORD', 'INVALID_RECORD', 87, false],
  ['InvalidTopicError', 'ERR_INVALID_TOPIC', 'INVALID_TOPIC_EXCEPTION', 17, false],
  ['KafkaStorageError', 'ERR_DISK_FULL', 'KAFKA_STORAGE_ERROR', 56, true],
  ['KafkaStorageError', 'ERR_FILE_TOO_LARGE', 'KAFKA_STORAGE_ERROR', 56, true],
  ['KafkaStorageError', 'ERR_STORAGE', 'KAFKA_STORAGE_ERROR', 56, true],
  // Offline until reopened: retrying does not help.
  ['KafkaStorageError', 'ERR_LOG_OFFLINE', 'KAFKA_STORAGE_ERROR', 56, false],
  ['LogClosedError', 'ERR_LOG_CLOSED', undefined, undefined, false],
  ['LogDirectoryLockedError', 'ERR_LOG_DIR_LOCKED', undefined, undefined, false],
  ['NonEmptyGroupError', 'ERR_NON_EMPTY_GROUP', 'NON_EMPTY_GROUP', 68, false],
  ['NotConnectedError', 'ERR_NOT_CONNECTED', undefined, undefined, false],
  ['NumberOfRetriesExceededError', 'ERR_NUMBER_OF_RETRIES_EXCEEDED', undefined, undefined, true],
  ['OffsetMetadataTooLargeError', 'ERR_OFFSET_METADATA_TOO_LARGE', 'OFFSET_METADATA_TOO_LARGE', 12, false],
  ['OffsetOutOfRangeError', 'ERR_OFFSET_OUT_OF_RANGE', 'OFFSET_OUT_OF_RANGE', 1, false],
  ['OutOfOrderSequenceNumberError', 'ERR_OUT_OF_ORDER_SEQUENCE_NUMBER', 'OUT_OF_ORDER_SEQUENCE_NUMBER', 45, false],
  ['ProtocolDecodeError', 'ERR_PROTOCOL_DECODE', undefined, undefined, false],
  ['RebalanceInProgressError', 'ERR_REBALANCE_IN_PROGRESS', 'REBALANCE_IN_PROGRESS', 27, true],
  ['RecordListTooLargeError', 'ERR_RECORD_LIST_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 18, false],
  ['RecordTooLargeError', 'ERR_RECORD_TOO_LARGE', 'MESSAGE_TOO_LARGE', 10, false],
  ['TimeoutError', 'ERR_TIMEOUT', 'REQUEST_TIMED_OUT', 7, true],
  ['TopicAlreadyExistsError', 'ERR_TOPIC_ALREADY_EXISTS', 'TOPIC_ALREADY_EXISTS', 36, false],
  ['UnknownMemberIdError', 'ERR_UNKNOWN_MEMBER_ID', 'UNKNOWN_MEMBER_ID', 25, false],
  ['UnknownTopicOrPartitionError', 'ERR_UNKNOWN_TOPIC_OR_PARTITION', 'UNKNOWN_TOPIC_OR_PARTITION', 3, false],
  ['UnsupportedCompressionError', 'ERR_UNSUPPORTED_COMPRESSION', 'UNSUPPORTED_COMPRESSION_TYPE', 76, false],
  ['UnsupportedFeatureError', 'ERR_UNSUPPORTED_FEATURE', 'UNSUPPORTED_VERSION', 35, false],
];

describe('error classes', () => {
  it('are all exported by the package', () => {
    const exported = Object.entries(fjord)
      .filter(([, value]) => typeof value === 'function' && value.prototype instanceof FjordError)
      .map(([name]) => name)
      .sort();
    expect(exported).toEqual([...new Set(CLASSES.map(([name]) => name))]);
    expect(fjord.FjordError).toBe(FjordError);
  });

  it.each(CLASSES)('%s (%s) comes back from its code as its class, with Kafka’s name and code', (name, code, type, kafkaErrorCode, retriable) => {
    const error = deserializeError({ name, code, message: `a ${name}` });
    expect(error).toBeInstanceOf((fjord as unknown as Record<string, new (...args: never[]) => Error>)[name]);
    expect({ ...error, message: error.message }).toMatchObject({ name, code, type, kafkaErrorCode, retriable, message: `a ${name}` });
    expect(deserializeError(serializeError(error))).toEqual(error);
  });

  it('keep their fields through serializeError and deserializeError', () => {
    const corrupt = new CorruptRecordError('bad batch', { topic: 't', partition: 3, offset: 42, file: '/d/t-3/0.log', position: 1234 });
    const storage = new KafkaStorageError('disk full', 'ERR_DISK_FULL', { errno: 28, errnoName: 'ENOSPC', op: 'append', path: '/d/t-0/0.log' });
    const range = new OffsetOutOfRangeError('out of range', { offset: 9, logStartOffset: 2, logEndOffset: 5 });
    const feature = new UnsupportedFeatureError('transactions are not supported yet', { feature: 'transactions' });
    for (const error of [corrupt, storage, range, feature]) {
      // A structured clone, as postMessage makes it.
      const crossed = deserializeError(structuredClone(serializeError(error)));
      expect(crossed).toBeInstanceOf(error.constructor);
      expect({ ...crossed }).toEqual({ ...error });
    }
    expect((deserializeError(structuredClone(serializeError(corrupt))) as CorruptRecordError).retriable).toBe(false);
  });

  it('without a class come back as FjordError with their code and Kafka’s fields; other errors as plain errors', () => {
    const unclassed = new FjordError('key version 9', 'ERR_UNSUPPORTED_VERSION', { type: 'UNSUPPORTED_VERSION', code: 35 });
    const crossed = deserializeError(structuredClone(serializeError(unclassed)));
    expect(crossed).toBeInstanceOf(FjordError);
    expect({ ...crossed, message: crossed.message }).toEqual({ ...unclassed, message: 'key version 9' });

    const plain = deserializeError(structuredClone(serializeError(new TypeError('not a function'))));
    expect(plain.constructor).toBe(Error);
    expect([plain.name, plain.message]).toEqual(['TypeError', 'not a function']);
  });
});
