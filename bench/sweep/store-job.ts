// One store at one record size: every produce cell of the job on a fresh
// directory, each timed for a fixed time after a warm-up on the same store,
// and for the cells marked so, the records read back (consume).
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';

import { gc, KiB, MiB, randomValueGroups } from '../support.js';
import type { CellSpec, ConsumeResult, ProduceResult, StoreJob, StoreJobResult } from './jobs.js';
import type { MemorySampler } from './memory-sampler.js';
import { openStore } from './open-store.js';
import { quantiles } from './quantiles.js';
import type { BenchStore } from './store.js';

/** Value bytes per send: the records of one send are one request, as a KafkaJS user would batch them. */
export const SEND_TARGET_BYTES = 64 * KiB;
/** Distinct value bytes; sends cycle over them. Larger than CPU caches. */
const POOL_BYTES = 16 * MiB;

class ValuePool {
  readonly messagesPerSend: number;
  readonly #groups: Buffer[][];

  constructor(valueBytes: number) {
    this.messagesPerSend = Math.max(1, Math.floor(SEND_TARGET_BYTES / valueBytes));
    const groups = Math.max(2, Math.floor(POOL_BYTES / (this.messagesPerSend * valueBytes)));
    this.#groups = randomValueGroups(groups, this.messagesPerSend, valueBytes);
  }

  values(send: number): Buffer[] {
    return this.#groups[send % this.#groups.length]!;
  }
}

/** `senders` loops send until `until` (ms, performance.now()), send n to partition n % partitions; returns sends made and their latencies. */
async function drive(store: BenchStore, pool: ValuePool, cell: CellSpec, first: number, until: number, latencies?: number[]): Promise<number> {
  let next = first;
  const loop = async (): Promise<void> => {
    while (performance.now() < until) {
      const n = next++;
      const start = performance.now();
      await store.send(n % cell.partitions, pool.values(n));
      latencies?.push(performance.now() - start);
      // What resolves at once (acks 0, a synchronous store) would otherwise
      // never let the event loop turn: senders of a real service are driven by I/O.
      await nextTurn();
    }
  };
  await Promise.all(Array.from({ length: cell.senders }, loop));
  return next - first;
}

async function runCell(
  job: StoreJob,
  pool: ValuePool,
  cell: CellSpec,
  sampler: MemorySampler,
): Promise<{ produce: ProduceResult; consume: ConsumeResult | null }> {
  const dir = join(job.workDir, `${job.store}-${job.valueBytes}-${cell.acks}-${cell.senders}-${cell.partitions}-${cell.floorSync ?? ''}`);
  mkdirSync(dir, { recursive: true });
  const store = await openStore(job.store, {
    dir,
    partitions: cell.partitions,
    acks: cell.acks,
    maxMessageBytes: job.maxMessageBytes,
    floorSync: cell.floorSync,
  });
  try {
    const warmupSends = await drive(store, pool, cell, 0, performance.now() + job.warmupSeconds * 1000);
    await store.drain();
    gc?.();
    sampler.sample();
    const latencies: number[] = [];
    const start = performance.now();
    const sends = await drive(store, pool, cell, warmupSends, start + job.produceSeconds * 1000, latencies);
    await store.drain();
    const seconds = (performance.now() - start) / 1000;
    sampler.sample();
    const records = sends * pool.messagesPerSend;
    const stored = await store.count();
    const expected = (warmupSends + sends) * pool.messagesPerSend;
    if (stored !== expected) throw new Error(`${job.store}: holds ${stored} records after the cell, expected ${expected}`);
    const produce: ProduceResult = {
      store: job.store,
      valueBytes: job.valueBytes,
      acks: cell.acks,
      senders: cell.senders,
      partitions: cell.partitions,
      ...(cell.floorSync === undefined ? {} : { floorSync: cell.floorSync }),
      messagesPerSend: pool.messagesPerSend,
      sends,
      records,
      seconds,
      recordsPerSec: records / seconds,
      mbPerSec: (records * job.valueBytes) / 1e6 / seconds,
      latencyMs: quantiles(latencies),
    };
    if (!cell.consume) return { produce, consume: null };

    gc?.();
    const readStart = performance.now();
    const read = await store.readAll();
    const readSeconds = read.seconds ?? (performance.now() - readStart) / 1000;
    sampler.sample();
    if (read.records !== stored) throw new Error(`${job.store}: read back ${read.records} records, expected ${stored}`);
    return {
      produce,
      consume: {
        store: job.store,
        valueBytes: job.valueBytes,
        partitions: cell.partitions,
        records: read.records,
        seconds: readSeconds,
        recordsPerSec: read.records / readSeconds,
        mbPerSec: (read.records * job.valueBytes) / 1e6 / readSeconds,
      },
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Untimed cells first, one per acks level (each takes other code paths), the
 * acks 1 one read back, so that every timed cell runs JIT-compiled code: each
 * job is a fresh process.
 */
const JOB_WARMUP: CellSpec[] = [
  { acks: 1, senders: 64, partitions: 1, consume: true },
  { acks: 0, senders: 1, partitions: 1, consume: false },
  { acks: -1, senders: 64, partitions: 1, consume: false },
];
const JOB_WARMUP_SECONDS = 0.3;

export async function runStoreJob(job: StoreJob, sampler: MemorySampler, onCell: () => void): Promise<StoreJobResult> {
  const pool = new ValuePool(job.valueBytes);
  for (const cell of JOB_WARMUP) await runCell({ ...job, produceSeconds: JOB_WARMUP_SECONDS }, pool, cell, sampler);
  const produce: ProduceResult[] = [];
  const consume: ConsumeResult[] = [];
  for (const cell of job.cells) {
    const result = await runCell(job, pool, cell, sampler);
    produce.push(result.produce);
    if (result.consume !== null) consume.push(result.consume);
    onCell();
  }
  return { kind: 'store', produce, consume, ...sampler.stop() };
}
