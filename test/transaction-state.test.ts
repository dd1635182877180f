// A partition's transactions read from its log (Kafka's transactional batches
// and COMMIT/ABORT markers): aborted ranges, the last stable offset, and a walk
// that goes only as far as the reads need.
import { afterEach, describe, expect, it } from 'vitest';

import { encodeBatch, Log } from '../src/index.js';
import { TransactionState } from '../src/topics/transaction-state.js';
import { tempDir, withAttributes } from './helpers.js';

const ABORT = 0;
const COMMIT = 1;
const opened: Log[] = [];

afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((log) => log.close()));
});

async function openLog(): Promise<Log> {
  const log = await Log.open(tempDir(), { segmentBytes: 16384 });
  opened.push(log);
  return log;
}

const data = (log: Log, producerId: number, count: number) =>
  log.append(
    encodeBatch(
      Array.from({ length: count }, (_, i) => ({ value: `p${producerId}-${i}` })),
      { producerId, producerEpoch: 0, baseSequence: 0, transactional: true, now: 1 },
    ),
  );
const plain = (log: Log, count: number) =>
  log.append(
    encodeBatch(
      Array.from({ length: count }, (_, i) => ({ value: `plain-${i}` })),
      { now: 1 },
    ),
  );
/** A transaction marker as a Kafka broker writes it: one control record, key version 0 + type, value version 0 + coordinator epoch. */
const marker = (log: Log, producerId: number, type: number) => {
  const key = Buffer.from([0, 0, 0, type]);
  const batch = encodeBatch([{ key, value: Buffer.alloc(6) }], { producerId, producerEpoch: 1, baseSequence: 0, transactional: true, now: 1 });
  batch.writeInt32BE(-1, 53); // a marker's baseSequence; withAttributes restores the CRC
  return log.append(withAttributes(batch, 0x30));
};

describe('TransactionState', () => {
  it('knows aborted ranges per producer and the last stable offset of interleaved transactions', async () => {
    const log = await openLog();
    data(log, 7, 2); // 0-1: producer 7 begins
    data(log, 8, 3); // 2-4: producer 8 begins
    plain(log, 1); // 5
    data(log, 7, 1); // 6
    marker(log, 7, ABORT); // 7
    marker(log, 8, COMMIT); // 8
    data(log, 7, 2); // 9-10: producer 7 again
    data(log, 9, 1); // 11: producer 9, never ended
    marker(log, 7, COMMIT); // 12
    plain(log, 2); // 13-14
    const state = new TransactionState(log);
    expect(state.lastStableOffset).toBe(11);
    expect([0, 1, 6, 7, 9].map((o) => state.isAborted(7n, o))).toEqual([true, true, true, true, false]);
    expect([2, 4].map((o) => state.isAborted(8n, o))).toEqual([false, false]);
    expect(state.abortedTransactions()).toEqual([{ producerId: 7n, firstOffset: 0, lastOffset: 7 }]);
    marker(log, 9, ABORT); // 15
    expect(state.lastStableOffset).toBe(16);
    expect(state.isAborted(9n, 11)).toBe(true);
  });

  it('walks only as far as a read needs: past its end and to the marker of every transaction begun before it', async () => {
    const log = await openLog();
    data(log, 7, 2); // 0-1
    plain(log, 3); // 2-4
    marker(log, 7, ABORT); // 5
    for (let i = 0; i < 200; i++) plain(log, 10); // 6-2005
    const state = new TransactionState(log);
    const view = state.view(2);
    expect(view.isAborted(7n, 0)).toBe(true);
    // Stable as far as walked: at least to the marker, short of the log end.
    expect(view.lastStableOffset).toBeGreaterThanOrEqual(6);
    expect(view.lastStableOffset).toBeLessThan(log.logEndOffset);
    expect(state.lastStableOffset).toBe(log.logEndOffset);
  });
});
