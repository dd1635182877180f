import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, statSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';

import {
  decodeBatches,
  encodeBatch,
  InvalidArgumentError,
  InvalidConfigError,
  InvalidRecordError,
  CorruptRecordError,
  Log,
  LogClosedError,
  LogDirectoryLockedError,
  OffsetOutOfRangeError,
  RecordTooLargeError,
} from '../src/index.js';
import { fromNative } from '../src/errors.js';
import { tempDir } from './helpers.js';

const T0 = 1_700_000_000_000;

function values(bytes: Buffer): string[] {
  return [...decodeBatches(bytes)].map((r) => r.value!.toString());
}

function batchOf(prefix: string, count: number, timestamp = T0): Buffer {
  return encodeBatch(Array.from({ length: count }, (_, i) => ({ key: `k${i}`, value: `${prefix}-${i}`, timestamp: timestamp + i })));
}

describe('Log', () => {
  it('assigns offsets on append and reads whole batches back', async () => {
    const log = await Log.open(tempDir());
    expect(log.append(batchOf('a', 3))).toEqual({ baseOffset: 0, lastOffset: 2, position: 0, logAppendTime: -1 });
    const second = log.append(batchOf('b', 2));
    expect(second.baseOffset).toBe(3);
    expect(second.lastOffset).toBe(4);
    expect(log.logStartOffset).toBe(0);
    expect(log.logEndOffset).toBe(5);
    expect(values(log.read(0))).toEqual(['a-0', 'a-1', 'a-2', 'b-0', 'b-1']);
    expect(values(log.read(4))).toEqual(['b-0', 'b-1']);
    expect([...decodeBatches(log.read(4))].map((r) => r.offset)).toEqual([3, 4]);
    expect(log.readSlice(0, 1)!.nextOffset).toBe(3);
    expect(log.read(5).length).toBe(0);
    expect(log.readSlice(5)).toBeNull();
    await log.close();
  });

  it('returns at least one batch even when it is larger than maxBytes', async () => {
    const log = await Log.open(tempDir());
    const big = encodeBatch([{ value: Buffer.alloc(200_000, 1) }]);
    log.append(big);
    log.append(batchOf('small', 1));
    expect(log.read(0, 10).length).toBe(big.length);
    expect(log.read(0, big.length).length).toBe(big.length);
    expect(values(log.read(0, big.length + 1000)).length).toBe(2);
    await log.close();
  });

  it('hands out each read as an ArrayBuffer of its own holding exactly the bytes read', async () => {
    const log = await Log.open(tempDir(), { segmentBytes: 8 << 20 });
    const cases: [count: number, size: number][] = [
      [10, 10], // a small read: copied
      [30, 9000], // 270 KB: a private mapping of the file
    ];
    for (const [count, size] of cases) {
      const first = log.logEndOffset;
      for (let i = 0; i < count; i++) log.append(encodeBatch([{ value: Buffer.alloc(size, i) }]));
      const a = log.read(first);
      const b = log.read(first);
      expect(a.buffer).not.toBe(b.buffer);
      expect(a.byteOffset).toBe(0);
      expect(a.buffer.byteLength).toBe(a.length);
      expect(a.equals(b)).toBe(true);
      // Decoded values view the read's own memory.
      const record = decodeBatches(b).next().value!;
      expect(record.value!.buffer).toBe(b.buffer);
      expect(record.value!.length).toBe(size);
    }
    await log.close();
  });

  it('keeps a read of the active segment whole after the segment is sealed and the log closed', async () => {
    const log = await Log.open(tempDir(), { segmentBytes: 1 << 20 });
    for (let i = 0; i < 30; i++) log.append(encodeBatch([{ value: Buffer.alloc(9000, i) }]));
    const active = log.read(0, 1 << 20);
    expect(active.length % 4096).not.toBe(0); // ends inside a page
    const copy = Buffer.from(active);
    log.append(encodeBatch([{ value: Buffer.alloc((1 << 20) - 1000, 1) }])); // rolls: the first segment is trimmed to its data
    expect(log.segments().length).toBe(2);
    expect(active.equals(copy)).toBe(true);
    await log.close();
    expect(active.equals(copy)).toBe(true);
  });

  it('keeps a Buffer readable after its segment is deleted or truncated', async () => {
    const log = await Log.open(tempDir(), { segmentBytes: 4096 });
    for (let i = 0; i < 120; i++) log.append(batchOf(`s${i}`, 4));
    const segments = log.segments();
    expect(segments.length).toBeGreaterThan(3);
    const held = log.read(0, 1 << 20);
    const copy = Buffer.from(held);
    const tail = log.read(log.logEndOffset - 1);
    const tailCopy = Buffer.from(tail);

    expect(log.deleteSegmentsBefore(segments[2]!.baseOffset)).toBe(2);
    expect(existsSync(join(log.dir, '00000000000000000000.log'))).toBe(false);
    expect(log.logStartOffset).toBe(segments[2]!.baseOffset);
    expect(held.equals(copy)).toBe(true);

    log.truncateTo(segments[segments.length - 1]!.baseOffset);
    log.append(encodeBatch([{ value: Buffer.alloc(3000, 0xee) }]));
    expect(tail.equals(tailCopy)).toBe(true);
    expect(() => log.read(0)).toThrow(OffsetOutOfRangeError);
    await log.close();
    expect(held.equals(copy)).toBe(true);
  });

  it('finds offsets by timestamp through the time index', async () => {
    const log = await Log.open(tempDir(), { segmentBytes: 2048, indexIntervalBytes: 100 });
    for (let i = 0; i < 100; i++) log.append(batchOf('t', 5, T0 + i * 10));
    expect(log.offsetForTimestamp(0)).toBe(0);
    expect(log.offsetForTimestamp(T0 + 3)).toBe(3);
    expect(log.offsetForTimestamp(T0 + 5)).toBe(5);
    expect(log.offsetForTimestamp(T0 + 512)).toBe(257);
    expect(log.offsetForTimestamp(T0 + 995)).toBeNull();
    const segments = log.segments();
    expect(segments.length).toBeGreaterThan(3);
    expect(segments[0]).toMatchObject({ baseOffset: 0, maxTimestamp: segments[0]!.maxTimestamp });
    expect(segments.reduce((n, s) => n + s.size, 0)).toBe(log.size);
    await log.close();
  });

  it('stamps LogAppendTime when the log is configured for it', async () => {
    const log = await Log.open(tempDir(), { messageTimestampType: 'LogAppendTime' });
    const result = log.append(batchOf('l', 2, 5), { now: T0 + 7 });
    expect(result.logAppendTime).toBe(T0 + 7);
    expect([...decodeBatches(log.read(0), { verifyCrc: true })].map((r) => r.timestamp)).toEqual([T0 + 7, T0 + 7]);
    await log.close();
  });

  it('rejects a batch over maxMessageBytes naming size and limit, writing nothing', async () => {
    const log = await Log.open(tempDir(), { maxMessageBytes: 1000 });
    log.append(batchOf('ok', 1));
    const big = encodeBatch([{ value: Buffer.alloc(1000) }]);
    let error: unknown;
    try {
      log.append(big);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RecordTooLargeError);
    expect((error as RecordTooLargeError).message).toBe(`record batch is ${big.length} bytes, larger than max.message.bytes (1000 bytes)`);
    expect((error as RecordTooLargeError).type).toBe('MESSAGE_TOO_LARGE');
    expect(log.logEndOffset).toBe(1);
    expect(values(log.read(0))).toEqual(['ok-0']);
    await log.close();
  });

  it('rejects garbage, corrupt batches and wrong argument types without writing', async () => {
    const log = await Log.open(tempDir());
    const corrupt = batchOf('c', 2);
    corrupt[corrupt.length - 1]! ^= 0xff;
    expect(() => log.append(corrupt)).toThrow(CorruptRecordError);
    expect(() => log.append(Buffer.from('not a record batch, just some text that is long enough to parse a header'))).toThrow(InvalidRecordError);
    expect(() => log.append(Buffer.alloc(0))).toThrow(InvalidRecordError);
    expect(() => log.append('text' as unknown as Buffer)).toThrow(InvalidArgumentError);
    expect(() => log.read(-1)).toThrow(OffsetOutOfRangeError);
    expect(() => log.read(1)).toThrow(OffsetOutOfRangeError);
    expect(() => log.read('abc')).toThrow(InvalidArgumentError);
    expect(() => log.read(0.5)).toThrow(InvalidArgumentError);
    expect(() => log.read(0, -1)).toThrow(InvalidArgumentError);
    expect(log.read('0').length).toBe(0);
    expect(log.logEndOffset).toBe(0);
    await log.close();
    expect(() => log.append(batchOf('late', 1))).toThrow(LogClosedError);
    expect(() => log.logEndOffset).toThrow(LogClosedError);
    await log.close(); // a second close is harmless
  });

  it('rejects invalid options with InvalidConfigError', async () => {
    const dir = tempDir();
    await expect(Log.open(dir, { segmentBytes: 10 })).rejects.toThrow(InvalidConfigError);
    await expect(Log.open(dir, { segmentByts: 1 } as never)).rejects.toThrow(/unknown log option 'segmentByts'/);
    expect(() => Log.openSync(dir, { messageTimestampType: 'Now' as never })).toThrow(InvalidConfigError);
    expect(() => Log.openSync(dir, { maxMessageBytes: -1 })).toThrow(InvalidConfigError);
  });

  it('keeps data, configless restarts and the log start offset across close and reopen', async () => {
    const dir = tempDir();
    const log = await Log.open(dir, { segmentBytes: 2048 });
    for (let i = 0; i < 50; i++) log.append(batchOf(`r${i}`, 3));
    const start = log.segments()[1]!.baseOffset;
    log.deleteSegmentsBefore(start);
    const segments = log.segments();
    await log.close();
    const again = await Log.open(dir, { segmentBytes: 2048 });
    expect(again.recoveryReport).toEqual({
      cleanShutdown: true,
      segmentsRecovered: 0,
      bytesTruncated: 0,
      tornBytesTruncated: 0,
      segmentsDeleted: 0,
      notes: [],
    });
    expect(again.logStartOffset).toBe(start);
    expect(again.logEndOffset).toBe(150);
    expect(again.segments()).toEqual(segments);
    expect(again.append(batchOf('after', 1)).baseOffset).toBe(150);
    await again.close();
  });

  it('recovers after a crash and cuts a torn batch and zeroed space at the tail', async () => {
    const dir = tempDir();
    const log = Log.openSync(dir);
    for (let i = 0; i < 30; i++) log.append(batchOf(`c${i}`, 2));
    log.flushSync();
    const dataEnd = log.size;
    log.simulateCrash();
    // The active file is kept sparse to segment.bytes; write a torn batch and
    // zeros where the next batch would have gone.
    const file = join(dir, '00000000000000000000.log');
    expect(statSync(file).size).toBe(1 << 30);
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.concat([batchOf('torn', 3).subarray(0, 40), Buffer.alloc(8192)]), 0, 40 + 8192, dataEnd);
    closeSync(fd);
    const again = await Log.open(dir);
    expect(again.recoveryReport.cleanShutdown).toBe(false);
    expect(again.recoveryReport.segmentsRecovered).toBe(1);
    // Written bytes count up to the hole after them, in whole file system blocks.
    expect(again.recoveryReport.bytesTruncated).toBe(Math.ceil((dataEnd + 40 + 8192) / 4096) * 4096 - dataEnd);
    expect(again.recoveryReport.notes[0]).toMatch(/^segment 00000000000000000000\.log: cut \d+ bytes after the last valid batch/);
    expect(again.logEndOffset).toBe(60);
    expect(values(again.read(58))).toEqual(['c29-0', 'c29-1']);
    await again.close();
  });

  it('reads, appends and crashes while an async flush is in flight', async () => {
    const log = await Log.open(tempDir());
    log.append(batchOf('a', 2));
    const flushing = log.flush();
    expect(values(log.read(0))).toEqual(['a-0', 'a-1']);
    expect(log.append(batchOf('b', 1)).baseOffset).toBe(2);
    await flushing;
    const again = log.flush();
    log.simulateCrash();
    // The flush either finished first or finds the log gone; it never throws a borrow error.
    const outcome = await again.then(
      () => 'flushed',
      (error: Error) => error.name,
    );
    expect(['flushed', 'LogClosedError']).toContain(outcome);
  });

  it('agrees between sync and async variants', async () => {
    const a = tempDir();
    const b = tempDir();
    const logA = Log.openSync(a, { segmentBytes: 1024 });
    const logB = await Log.open(b, { segmentBytes: 1024 });
    for (let i = 0; i < 20; i++) {
      const batch = batchOf(`v${i}`, 2);
      expect(logA.append(batch)).toEqual(logB.append(batch));
    }
    logA.flushSync();
    await logB.flush();
    expect(logA.segments()).toEqual(logB.segments());
    expect(logA.read(7).equals(logB.read(7))).toBe(true);
    logA.closeSync();
    await logB.close();
    expect(readdirSync(a).sort()).toEqual(readdirSync(b).sort());
  });

  it('shares one log between handles of one process and closes with the last', async () => {
    const dir = tempDir();
    const first = await Log.open(dir);
    const second = Log.openSync(dir);
    first.append(batchOf('one', 1));
    expect(second.logEndOffset).toBe(1);
    expect(second.read(0).equals(first.read(0))).toBe(true);
    await first.close();
    expect(first.closed).toBe(true);
    expect(second.append(batchOf('two', 1)).baseOffset).toBe(1);
    await second.close();
    expect(existsSync(join(dir, '.clean-shutdown'))).toBe(true);
  });

  it('shares the log with a worker thread of the same process', async () => {
    const dir = tempDir();
    const log = await Log.open(dir);
    log.append(batchOf('main', 2));
    const script = `
      const { parentPort, workerData } = require('node:worker_threads');
      const native = require(workerData.addon);
      const log = native.NativeLog.openSync(workerData.dir, {}, Date.now());
      const out = new Float64Array(5);
      const before = log.logEndOffset();
      log.append(Buffer.from(workerData.batch), Date.now(), out);
      log.closeSync();
      parentPort.postMessage({ before, baseOffset: out[0] });
    `;
    const worker = new Worker(script, {
      eval: true,
      workerData: { dir, addon: resolve('native/fjord.node'), batch: batchOf('worker', 1) },
    });
    const reply = await new Promise<{ before: number; baseOffset: number }>((res, rej) => {
      worker.once('message', res);
      worker.once('error', rej);
    });
    expect(reply).toEqual({ before: 2, baseOffset: 2 });
    expect(values(log.read(0))).toEqual(['main-0', 'main-1', 'worker-0']);
    await log.close();
  });

  it('refuses a second process, naming the process that holds the lock', async () => {
    const dir = tempDir();
    const log = await Log.open(dir);
    const child = spawnSync(
      process.execPath,
      [
        '-e',
        `try { require(${JSON.stringify(resolve('native/fjord.node'))}).NativeLog.openSync(${JSON.stringify(dir)}, {}, Date.now()); console.log('opened') } catch (e) { console.log(JSON.stringify({ ...e, message: e.message })) }`,
      ],
      { encoding: 'utf8' },
    );
    // The addon's error as the child saw it: its message and its properties (code, dir, holder).
    const thrown = JSON.parse(child.stdout) as { message: string };
    const error = fromNative(Object.assign(new Error(thrown.message), thrown));
    expect(error).toBeInstanceOf(LogDirectoryLockedError);
    expect(error.message).toMatch(new RegExp(`^log directory .* is locked by pid ${process.pid} \\(`));
    await log.close();
    const after = execFileSync(
      process.execPath,
      [
        '-e',
        `const l = require(${JSON.stringify(resolve('native/fjord.node'))}).NativeLog.openSync(${JSON.stringify(dir)}, {}, Date.now()); console.log(l.logEndOffset()); l.closeSync()`,
      ],
      { encoding: 'utf8' },
    );
    expect(after.trim()).toBe('0');
  });
});
