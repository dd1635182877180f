// The memory run: `totalBytes` of values produced (acks 1, several senders)
// through one topic while a group member consumes them with eachBatch; the
// peak anonymous RSS must stay small however much data flows, as values are
// views of mapped segments rather than copies.
import { rmSync } from 'node:fs';
import { join } from 'node:path';

import { Fjord } from '../../src/index.js';
import { randomValueGroups } from '../support.js';
import type { MemoryJob, MemoryResult } from './jobs.js';
import { ConsumerRun } from './consumer-run.js';
import type { MemorySampler } from './memory-sampler.js';

const TOPIC = 'memory';
const SENDERS = 16;
const SEND_BYTES = 256 * 1024;

export async function runMemoryJob(job: MemoryJob, sampler: MemorySampler): Promise<MemoryResult> {
  const dir = join(job.workDir, 'memory');
  const fjord = new Fjord({ dir, allowAutoTopicCreation: false });
  const perSend = Math.max(1, Math.floor(SEND_BYTES / job.valueBytes));
  const sends = Math.ceil(job.totalBytes / (perSend * job.valueBytes));
  const records = sends * perSend;
  const pool = randomValueGroups(64, perSend, job.valueBytes).map((values) => values.map((value) => ({ value })));
  const start = performance.now();
  try {
    const admin = fjord.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: job.partitions }] });
    await admin.disconnect();

    const consumer = fjord.consumer({ groupId: 'memory' });
    await consumer.connect();
    await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
    let consumed = 0;
    // biome-ignore lint/correctness/noUnusedVariables: the handler reads every value as a real one would; the sum is kept only so the reads stay
    let touched = 0;
    const run = new ConsumerRun(consumer);
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) touched += message.value![0]!;
        consumed += batch.messages.length;
        if (consumed >= records) run.finish();
      },
    });

    const producer = fjord.producer();
    await producer.connect();
    let next = 0;
    const sender = async (): Promise<void> => {
      while (next < sends && !run.failed) {
        const n = next++;
        await producer.send({ topic: TOPIC, messages: pool[n % pool.length]!, acks: 1 });
        if (n % 64 === 0) sampler.sample();
      }
    };
    await Promise.all(Array.from({ length: SENDERS }, sender));
    await producer.disconnect();
    await run.ended;
    await consumer.disconnect();
    run.check();
    if (consumed !== records) throw new Error(`memory run: consumed ${consumed} records, produced ${records}`);
    return {
      kind: 'memory',
      totalBytes: records * job.valueBytes,
      valueBytes: job.valueBytes,
      partitions: job.partitions,
      records,
      seconds: (performance.now() - start) / 1000,
      ...sampler.stop(),
    };
  } finally {
    await fjord.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
