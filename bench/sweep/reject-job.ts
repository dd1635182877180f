// The step past the limit: records one byte larger than the largest value a
// batch of max.message.bytes can hold are each rejected with
// RecordTooLargeError and nothing reaches the log; the largest value that fits
// is then accepted.
import { rmSync } from 'node:fs';
import { join } from 'node:path';

import { RecordTooLargeError } from '../../src/index.js';
import { FjordStore, TOPIC } from './fjord-store.js';
import type { RejectJob, RejectResult } from './jobs.js';

/** Single-record sends, then a send of several records at once. */
const SINGLE_SENDS = 8;
const MULTI_SEND_RECORDS = 4;

export async function runRejectJob(job: RejectJob): Promise<RejectResult> {
  const dir = join(job.workDir, 'reject');
  const store = await FjordStore.open({ dir, partitions: 1, acks: 1, maxMessageBytes: job.maxMessageBytes });
  try {
    const tooLarge = Buffer.alloc(job.valueBytes, 0x61);
    let attempted = 0;
    let rejected = 0;
    let error: Error | null = null;
    const attempt = async (values: Buffer[]): Promise<void> => {
      attempted += values.length;
      try {
        await store.send(0, values);
      } catch (caught) {
        if (!(caught instanceof RecordTooLargeError)) throw caught;
        error ??= caught;
        // The producer rejects oversized records alone; the send fails once for all of them.
        rejected += values.length;
      }
    };
    for (let i = 0; i < SINGLE_SENDS; i++) await attempt([tooLarge]);
    await attempt(Array.from({ length: MULTI_SEND_RECORDS }, () => tooLarge));
    const recordsWritten = await store.count();
    const log = (await store.fjord.topics()).get(TOPIC).partition(0).log;
    const bytesWritten = log.size;
    await store.send(0, [tooLarge.subarray(1)]);
    const largestFitOffset = log.logEndOffset - 1;
    const found = error as Error | null;
    return {
      kind: 'reject',
      valueBytes: job.valueBytes,
      maxMessageBytes: job.maxMessageBytes,
      attempted,
      rejected,
      errorName: found?.name ?? 'none',
      errorMessage: found?.message ?? '',
      recordsWritten,
      bytesWritten,
      largestFitOffset,
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
