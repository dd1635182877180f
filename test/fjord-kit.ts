// Shared bits of the client-level tests: Fjord instances closed after each
// test, and reading a partition back through the Log API.
import { afterEach } from 'vitest';

import { batchInfos, decodeBatches, Fjord, type BatchInfo, type DecodedRecord, type FjordConfig, type Log } from '../src/index.js';
import { tempDir } from './helpers.js';

const opened: Fjord[] = [];

/** A Fjord on a fresh temp dir (or `config.dir`), closed after the test. */
export function fjordFor(config: Partial<FjordConfig> = {}): Fjord {
  const fjord = new Fjord({ dir: tempDir(), ...config });
  opened.push(fjord);
  return fjord;
}

/** Registers a Fjord made elsewhere so that it is closed after the test. */
export function track(fjord: Fjord): Fjord {
  opened.push(fjord);
  return fjord;
}

// Registered after helpers.ts's afterEach: vitest runs after-hooks in reverse
// order, so instances close before their directories are removed.
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((fjord) => fjord.close()));
});

export async function logOf(fjord: Fjord, topic: string, partition: number): Promise<Log> {
  return (await fjord.topics()).get(topic).partition(partition).log;
}

/** Every record of a partition, from its log start offset to its end. */
export async function recordsOf(fjord: Fjord, topic: string, partition: number): Promise<DecodedRecord[]> {
  const log = await logOf(fjord, topic, partition);
  const records: DecodedRecord[] = [];
  let offset = log.logStartOffset;
  for (;;) {
    const slice = log.readSlice(offset);
    if (slice === null) return records;
    records.push(...decodeBatches(slice.bytes, { fromOffset: offset }));
    offset = slice.nextOffset;
  }
}

/** The headers of every batch of a partition. */
export async function batchesOf(fjord: Fjord, topic: string, partition: number): Promise<BatchInfo[]> {
  const log = await logOf(fjord, topic, partition);
  const batches: BatchInfo[] = [];
  let offset = log.logStartOffset;
  for (;;) {
    const slice = log.readSlice(offset);
    if (slice === null) return batches;
    batches.push(...batchInfos(slice.bytes));
    offset = slice.nextOffset;
  }
}

/** Values of a partition's records as strings (null for tombstones). */
export async function valuesOf(fjord: Fjord, topic: string, partition: number): Promise<(string | null)[]> {
  return (await recordsOf(fjord, topic, partition)).map((r) => (r.value === null ? null : r.value.toString()));
}
