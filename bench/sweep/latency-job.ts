// Produce → consume latency: one record per send at a fixed rate, acks 1, into
// a one-partition topic a group member is already waiting on; each record
// carries its send time, eachMessage takes the difference.
import { randomFillSync } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

import { Fjord, type Consumer } from '../../src/index.js';
import { gc } from '../support.js';
import type { LatencyJob, LatencyResult } from './jobs.js';
import { ConsumerRun } from './consumer-run.js';
import { quantiles } from './quantiles.js';

const TOPIC = 'latency';
const WARMUP_SECONDS = 0.5;

export async function runLatencyJob(job: LatencyJob): Promise<LatencyResult> {
  const dir = join(job.workDir, 'latency');
  const fjord = new Fjord({ dir, allowAutoTopicCreation: false });
  const warmup = Math.round(job.rate * WARMUP_SECONDS);
  const measured = Math.round(job.rate * job.seconds);
  const total = warmup + measured;
  const endToEnd = new Float64Array(measured);
  const sendLatency = new Float64Array(measured);
  const template = randomFillSync(Buffer.allocUnsafe(Math.max(16, job.valueBytes)));
  let consumer: Consumer | null = null;
  try {
    const admin = fjord.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1 }] });
    await admin.disconnect();

    // The consumer joins and waits at the end of the empty topic before anything is sent.
    consumer = fjord.consumer({ groupId: 'latency' });
    await consumer.connect();
    await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
    let received = 0;
    const run = new ConsumerRun(consumer);
    const joined = new Promise<void>((resolve) => consumer!.on(consumer!.events.GROUP_JOIN, () => resolve()));
    await consumer.run({
      eachMessage: async ({ message }) => {
        const at = performance.now();
        const value = message.value!;
        const seq = value.readUInt32LE(8);
        if (seq !== received) {
          run.fail(new Error(`latency: record ${received} expected, eachMessage got ${seq} (offset ${message.offset})`));
        }
        if (seq >= warmup) endToEnd[seq - warmup] = at - value.readDoubleLE(0);
        if (++received === total) run.finish();
      },
    });
    await Promise.race([joined, run.ended]);
    run.check();

    const producer = fjord.producer();
    await producer.connect();
    let sent = 0;
    let sendFailure: unknown = null;
    const pending = new Set<Promise<unknown>>();
    const sendOne = (seq: number): void => {
      const value = Buffer.from(template);
      const startedAt = performance.now();
      value.writeDoubleLE(startedAt, 0);
      value.writeUInt32LE(seq, 8);
      const p: Promise<unknown> = producer.send({ topic: TOPIC, messages: [{ value }], acks: 1 }).then(
        () => {
          if (seq >= warmup) sendLatency[seq - warmup] = performance.now() - startedAt;
          pending.delete(p);
        },
        (error: unknown) => {
          sendFailure ??= error;
          pending.delete(p);
        },
      );
      pending.add(p);
    };
    gc?.();
    const begin = performance.now();
    let measuredFrom = 0;
    // Each turn of the event loop sends every record due by now; a turn with nothing due just yields.
    await new Promise<void>((resolve) => {
      const turn = (): void => {
        const due = Math.min(total, Math.floor(((performance.now() - begin) / 1000) * job.rate) + 1);
        while (sent < due) {
          if (sent === warmup) measuredFrom = performance.now();
          sendOne(sent++);
        }
        if (sent < total && sendFailure === null && !run.failed) setImmediate(turn);
        else resolve();
      };
      turn();
    });
    const sendingMs = performance.now() - measuredFrom;
    await Promise.all(pending);
    const timeout = setTimeout(() => {
      run.fail(new Error(`latency: eachMessage saw ${received} of ${total} records 10 s after the last send`));
    }, 10_000);
    await run.ended;
    clearTimeout(timeout);
    await producer.disconnect();
    if (sendFailure !== null) throw sendFailure;
    run.check();
    return {
      kind: 'latency',
      rate: job.rate,
      achievedRate: (measured - 1) / (sendingMs / 1000),
      valueBytes: template.length,
      records: measured,
      endToEndMs: quantiles(endToEnd),
      sendMs: quantiles(sendLatency),
    };
  } finally {
    await consumer?.disconnect();
    await fjord.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
