// acks=all survives SIGKILL: a child process produces with acks=-1 and prints
// every acknowledged record; the parent kills it with SIGKILL mid-stream,
// reopens the data directory (recovery without a clean-shutdown marker) and
// checks that every acknowledged record is there, once, at its offset.
//
// A SIGKILL ends the process but leaves the kernel's page cache alone, so
// this proves durability across a *process* crash. It cannot prove
// durability across a power loss or kernel crash: that rests on the fsync
// that acks=-1 waits for, which this test cannot observe from the outside.
import { describe, expect, it } from 'vitest';

import { Fjord } from '../src/index.js';
import { FJORD, spawnScript } from './child-process.js';
import { tempDir } from './helpers.js';
import { recordsOf } from './fjord-kit.js';

const TOPIC = 'events';
const PARTITIONS = 3;
const SENDERS = 8;

// argv: dir, acks, round. Each sender loops: send one record, wait for the
// ack (and with acks=1, an explicit fsync of the partition), print it.
const CHILD = `
import { Fjord } from ${JSON.stringify(FJORD)};
const [dir, acksArg, round] = process.argv.slice(2);
const acks = Number(acksArg);
const fjord = await Fjord.open({ dir });
const admin = fjord.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic: ${JSON.stringify(TOPIC)}, numPartitions: ${PARTITIONS}, configEntries: [{ name: 'segment.bytes', value: '16384' }] }] });
const registry = await fjord.topics();
const producer = fjord.producer();
await producer.connect();
async function sender(s) {
  for (let i = 0; ; i++) {
    // Senders 0-3 key their records (one partition each); 4-7 go round-robin. Sizes vary so that segments roll.
    const key = s < 4 ? 'sender-' + s : null;
    const value = 'r' + round + '-s' + s + '-' + i + '-' + 'x'.repeat((i * 37) % 700);
    const [meta] = await producer.send({ topic: ${JSON.stringify(TOPIC)}, acks, messages: [{ key, value }] });
    if (acks === 1) await registry.get(${JSON.stringify(TOPIC)}).partition(meta.partition).durability.sync();
    process.stdout.write(meta.partition + ' ' + meta.baseOffset + ' ' + value + '\\n');
  }
}
for (let s = 0; s < ${SENDERS}; s++) sender(s).catch((error) => { console.error(error); process.exit(1); });
`;

interface Acked {
  partition: number;
  offset: number;
  value: string;
}

/** Runs the child until `killAfter` acknowledgements, SIGKILLs it, and returns every acknowledgement it printed. */
async function produceUntilKilled(scratch: string, dir: string, acks: number, round: number, killAfter: number): Promise<Acked[]> {
  const child = spawnScript(scratch, CHILD, [dir, String(acks), String(round)]);
  let buffered = '';
  let stderr = '';
  const acked: Acked[] = [];
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop()!; // a partial last line is not an acknowledgement yet
    for (const line of lines) {
      const [partition, offset, value] = line.split(' ') as [string, string, string];
      acked.push({ partition: Number(partition), offset: Number(offset), value });
    }
    if (acked.length >= killAfter && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c, s) => resolve([c, s]));
  });
  expect({ code, signal, stderr }).toEqual({ code: null, signal: 'SIGKILL', stderr: '' });
  return acked;
}

/** Reopens the directory and checks that every acknowledged record is present exactly once, at its offset, in order. */
async function checkAcknowledged(dir: string, acked: Acked[]): Promise<number> {
  const fjord = new Fjord({ dir });
  try {
    const registry = await fjord.topics();
    const topic = registry.get(TOPIC);
    expect(topic.numPartitions).toBe(PARTITIONS);
    // Killed: no clean-shutdown marker, so every partition went through recovery.
    expect(topic.partitions.map((p) => p.log.recoveryReport.cleanShutdown)).toEqual(Array(PARTITIONS).fill(false));
    const where = new Map<string, { partition: number; offset: number }>();
    let total = 0;
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const records = await recordsOf(fjord, TOPIC, partition);
      expect(records.map((r) => r.offset)).toEqual(records.map((_, i) => i));
      for (const record of records) {
        const value = record.value!.toString();
        expect(where.has(value), `${value} appears twice`).toBe(false);
        where.set(value, { partition, offset: record.offset });
      }
      total += records.length;
    }
    for (const { partition, offset, value } of acked) expect(where.get(value), value).toEqual({ partition, offset });
    // Each sender's acknowledged records sit in increasing offsets within each partition.
    const last = new Map<string, number>();
    for (const { partition, offset, value } of acked) {
      const sender = `${partition}/${value.split('-').slice(0, 2).join('-')}`;
      expect(offset).toBeGreaterThan(last.get(sender) ?? -1);
      last.set(sender, offset);
    }
    return total;
  } finally {
    await fjord.close();
  }
}

describe('acks and durability across a SIGKILL', () => {
  it('acks=-1: five rounds of produce / SIGKILL / recover lose no acknowledged record', async () => {
    const scratch = tempDir('fjord-durability-');
    const dir = `${scratch}/data`;
    const acked: Acked[] = [];
    // The same directory every round: each child recovers what the last one left.
    for (let round = 0; round < 5; round++) {
      const killAfter = 100 + Math.floor(Math.random() * 200);
      const thisRound = await produceUntilKilled(scratch, dir, -1, round, killAfter);
      expect(thisRound.length).toBeGreaterThanOrEqual(killAfter);
      acked.push(...thisRound);
      const total = await checkAcknowledged(dir, acked);
      // Records the child appended but had not yet reported may be there too; none of the acknowledged ones are missing.
      expect(total).toBeGreaterThanOrEqual(acked.length);
    }
  }, 60_000);

  it('acks=1 followed by an explicit durability.sync() of the partition loses no acknowledged record', async () => {
    const scratch = tempDir('fjord-durability-');
    const dir = `${scratch}/data`;
    const killAfter = 100 + Math.floor(Math.random() * 200);
    const acked = await produceUntilKilled(scratch, dir, 1, 0, killAfter);
    expect(acked.length).toBeGreaterThanOrEqual(killAfter);
    expect(await checkAcknowledged(dir, acked)).toBeGreaterThanOrEqual(acked.length);
  }, 30_000);
});
