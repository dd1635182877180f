// The seam between the addon and src/errors.ts: a store failure arrives as a
// JavaScript error whose code and fields are properties set by the binding
// (native/napi/src/errors.rs), and fromNative builds the typed error from
// those properties alone (the message is never parsed).
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  CorruptRecordError,
  fromNative,
  InvalidConfigError,
  KafkaStorageError,
  LogClosedError,
  LogDirectoryLockedError,
  OffsetOutOfRangeError,
  RecordListTooLargeError,
  RecordTooLargeError,
} from '../src/errors.js';
import { batchInfos } from '../src/record-batch/decode.js';
import { encodeBatch } from '../src/record-batch/encode.js';
import { native } from '../src/storage/native.js';
import { flipByte, partitionDir, producedDataDir, segmentFiles } from './damaged-dir.js';
import { captureError, tempDir } from './helpers.js';

const out = new Float64Array(5);
const batch = (count: number, size = 10) =>
  encodeBatch(Array.from({ length: count }, (_, i) => ({ value: `${i}`.padEnd(size, 'v'), timestamp: 1_700_000_000_000 })));

/** `fromNative(raw)`, checked to be a `type` carrying `fields`. */
function typed<T extends Error>(raw: unknown, type: new (...args: never[]) => T, fields: Partial<T>): T {
  const error = fromNative(raw);
  expect(error).toBeInstanceOf(type);
  expect(error).toMatchObject(fields);
  return error as T;
}

/** The raw error's own properties, message included. */
function propertiesOf(error: unknown): Record<string, unknown> {
  expect(error).toBeInstanceOf(Error);
  return { ...(error as object), message: (error as Error).message };
}

describe('an error thrown by the addon', () => {
  it('from a damaged segment carries code, file, offset and position as properties', async () => {
    const dir = await producedDataDir();
    const file = realpathSync(join(partitionDir(dir), segmentFiles(dir)[0]!));
    const bad = [...batchInfos(readFileSync(file))][5]!;
    flipByte(file, bad.position + bad.size - 3);
    const log = native.NativeLog.openSync(partitionDir(dir), {}, Date.now());
    const raw = captureError(() => log.read(5, 1 << 20, out));
    const properties = propertiesOf(raw);
    expect(properties).toEqual({ code: 'ERR_CORRUPT_RECORD', file, offset: 5, position: bad.position, message: expect.any(String) });
    expect(properties.message).toMatch(
      new RegExp(
        `^corrupt record batch at offset 5 in ${file.replaceAll('.', '\\.')} at byte ${bad.position}: CRC-32C is 0x[0-9a-f]{8}, the batch says 0x[0-9a-f]{8}$`,
      ),
    );

    const typed = fromNative(raw) as CorruptRecordError;
    expect(typed).toBeInstanceOf(CorruptRecordError);
    expect([typed.message, typed.file, typed.offset, typed.position, typed.retriable]).toEqual([properties.message, file, 5, bad.position, false]);
    log.closeSync();
  });

  it('from a failed system call carries errno, its name, the operation and the path (sync and async paths alike)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'file'), '');
    const path = join(dir, 'file', 't-0');
    const expected = {
      code: 'ERR_STORAGE',
      errno: 20,
      errnoName: 'ENOTDIR',
      op: 'create directory',
      path,
      message: `not a directory (ENOTDIR) creating directory ${path}`,
    };
    const sync = captureError(() => native.NativeLog.openSync(path, {}, Date.now()));
    expect(propertiesOf(sync)).toEqual(expected);
    const async = await native.openLog(path, {}, Date.now()).catch((error: unknown) => error);
    expect(propertiesOf(async)).toEqual(expected);

    const typed = fromNative(async) as KafkaStorageError;
    expect(typed).toBeInstanceOf(KafkaStorageError);
    expect({ ...typed, message: typed.message }).toEqual({
      ...expected,
      name: 'KafkaStorageError',
      type: 'KAFKA_STORAGE_ERROR',
      kafkaErrorCode: 56,
      retriable: true,
    });
  });

  it('for an offset out of range, a batch too large, a closed log and a bad config carries their fields', () => {
    const dir = tempDir();
    const log = native.NativeLog.openSync(dir, { maxMessageBytes: 200, segmentBytes: 600 }, Date.now());
    log.append(batch(2), Date.now(), out);

    const range = captureError(() => log.read(7, 1 << 20, out));
    expect(propertiesOf(range)).toEqual({
      code: 'ERR_OFFSET_OUT_OF_RANGE',
      offset: 7,
      logStartOffset: 0,
      logEndOffset: 2,
      message: 'offset 7 is out of range: the log holds [0, 2)',
    });
    typed(range, OffsetOutOfRangeError, { offset: 7, logStartOffset: 0, logEndOffset: 2 });

    const big = batch(1, 300);
    const tooLarge = captureError(() => log.append(big, Date.now(), out));
    expect(propertiesOf(tooLarge)).toEqual({
      code: 'ERR_RECORD_TOO_LARGE',
      size: big.length,
      limit: 200,
      message: `record batch is ${big.length} bytes, larger than max.message.bytes (200 bytes)`,
    });
    typed(tooLarge, RecordTooLargeError, { size: big.length, limit: 200 });

    const many = Buffer.concat([batch(1, 100), batch(1, 100), batch(1, 100), batch(1, 100), batch(1, 100)]);
    const listTooLarge = captureError(() => log.append(many, Date.now(), out));
    expect(propertiesOf(listTooLarge)).toEqual({
      code: 'ERR_RECORD_LIST_TOO_LARGE',
      size: many.length,
      limit: 600,
      message: `append of ${many.length} bytes is larger than segment.bytes (600 bytes)`,
    });
    typed(listTooLarge, RecordListTooLargeError, { size: many.length, limit: 600 });

    const config = captureError(() => log.setConfig({ messageTimestampType: 'Yesterday' }));
    expect(propertiesOf(config)).toEqual({
      code: 'ERR_INVALID_CONFIG',
      message: 'invalid log config: message.timestamp.type must be CreateTime or LogAppendTime, got Yesterday',
    });
    typed(config, InvalidConfigError, { code: 'ERR_INVALID_CONFIG' });

    log.closeSync();
    const closed = captureError(() => log.logEndOffset());
    expect(propertiesOf(closed)).toEqual({ code: 'ERR_LOG_CLOSED', dir, message: `log ${dir} is closed` });
    typed(closed, LogClosedError, { dir });
  });

  it('for a directory locked by this process names it and its holder', () => {
    const dir = tempDir();
    const lock = native.DirectoryLock.acquire(dir);
    try {
      // Another process would get the same: a read-only lock is refused while the directory is held.
      const locked = captureError(() => native.ReadOnlyLock.acquire(dir));
      const properties = propertiesOf(locked);
      expect(properties).toEqual({
        code: 'ERR_LOG_DIR_LOCKED',
        dir,
        holder: expect.stringMatching(new RegExp(`^pid ${process.pid} \\(`)),
        message: expect.any(String),
      });
      expect(properties.message).toBe(`log directory ${dir} is locked by ${properties.holder}`);
      typed(locked, LogDirectoryLockedError, { dir, holder: properties.holder as string });
    } finally {
      lock.release();
    }
  });

  it('that is not the addon’s (no ERR_ code) is passed through as it is', () => {
    const plain = new TypeError('Failed to convert JavaScript value');
    expect(fromNative(plain)).toBe(plain);
  });
});
