// KafkaJS's auto-commit as its runner does it: every batch's offsets
// committed once the batch is processed (whatever autoCommitInterval and
// autoCommitThreshold say), a commit put off by a cooperative rejoin made
// by the idle loop, and a consumer killed mid-run (SIGKILL) reprocessing at
// most the batch it was in.
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';

import { Fjord, PartitionAssigners, type Consumer, type ConsumerConfig } from '../src/index.js';
import { FJORD, spawnScript } from './child-process.js';
import { track } from './fjord-kit.js';
import { tempDir } from './helpers.js';

const FAST = { heartbeatInterval: 50, sessionTimeout: 2_000, rebalanceTimeout: 10_000 } satisfies Partial<ConsumerConfig>;
const COOPERATIVE = { ...FAST, partitionAssigners: [PartitionAssigners.cooperativeSticky] };

async function until(what: string, condition: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function createTopics(fjord: Fjord, topics: string[]): Promise<void> {
  const admin = fjord.admin();
  await admin.connect();
  await admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions: 1 })) });
  await admin.disconnect();
}

async function send(fjord: Fjord, topic: string, values: string[]): Promise<void> {
  const producer = fjord.producer();
  await producer.connect();
  await producer.send({ topic, messages: values.map((value) => ({ value })) });
  await producer.disconnect();
}

async function committed(fjord: Fjord, groupId: string, topic: string): Promise<string> {
  const admin = fjord.admin();
  await admin.connect();
  const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
  await admin.disconnect();
  return entry!.partitions[0]!.offset;
}

describe('auto-commit put off by a cooperative rejoin', () => {
  // Member `reader` reads topic t; `blocker` (topic u) sits in a handler, so a
  // rebalance started by `joiner` cannot complete and reader's cooperative
  // rejoin runs in the background while it goes on consuming t. The batch
  // commit is put off then (a commit may meet the group completing its
  // rebalance); once the rejoin completed, reader is idle: the commit comes
  // from the idle loop, with and without an autoCommitInterval.
  for (const run of [
    { name: 'the default', config: {} },
    { name: 'autoCommitInterval 200', config: { autoCommitInterval: 200 } },
  ]) {
    it(`${run.name}: an idle consumer commits what it processed during the rejoin`, async () => {
      const fjord = track(new Fjord({ dir: tempDir() }));
      await createTopics(fjord, ['t', 'u']);
      const groupId = 'idle-commit';
      const consumers: Consumer[] = [];
      const member = async (topic: string, eachMessage: () => Promise<void>) => {
        const consumer = fjord.consumer({ groupId, ...COOPERATIVE });
        consumers.push(consumer);
        await consumer.connect();
        await consumer.subscribe({ topic, fromBeginning: true });
        await consumer.run({ ...run.config, eachMessage });
        return consumer;
      };
      let readerSeen = 0;
      await member('t', async () => void readerSeen++);
      let release: () => void = () => undefined;
      let blocked = false;
      await member('u', async () => {
        blocked = true;
        await new Promise<void>((r) => {
          release = r;
        });
      });
      await send(fjord, 'u', ['hold']);
      await until('the blocker in its handler', () => blocked);
      let joined = false;
      void member('u', async () => undefined).then(() => {
        joined = true;
      });
      // The rebalance waits for the blocker; reader consumes during its background rejoin.
      await send(fjord, 't', ['a', 'b', 'c']);
      await until('reader read the three records', () => readerSeen === 3);
      expect(await committed(fjord, groupId, 't')).toBe('-1');
      release();
      await until('the joiner in the group', () => joined);
      await until('the commit of the records read during the rejoin', async () => (await committed(fjord, groupId, 't')) === '3');
      expect(readerSeen).toBe(3);
      for (const c of consumers) await c.disconnect();
    }, 30_000);
  }
});

describe('a consumer killed mid-run (SIGKILL)', () => {
  it('reprocesses at most the batch it was in: the default commits every processed batch', async () => {
    const dir = tempDir();
    const fjord = new Fjord({ dir });
    await createTopics(fjord, ['jobs']);
    const producer = fjord.producer();
    await producer.connect();
    // 668 records in record batches of 4.
    for (let i = 0; i < 668; i += 4) await producer.send({ topic: 'jobs', messages: [0, 1, 2, 3].map((k) => ({ value: `job-${i + k}` })) });
    await producer.disconnect();
    await fjord.close();

    // Small fetches: a KafkaJS batch of a few record batches.
    const script = `
import { Fjord } from ${JSON.stringify(FJORD)};
const fjord = new Fjord({ dir: process.argv[2] });
const consumer = fjord.consumer({ groupId: 'jobs-group', maxBytesPerPartition: 512 });
consumer.on(consumer.events.START_BATCH_PROCESS, (e) => process.stdout.write('batch ' + e.payload.firstOffset + ' ' + e.payload.lastOffset + '\\n'));
await consumer.connect();
await consumer.subscribe({ topic: 'jobs', fromBeginning: true });
await consumer.run({
  eachMessage: async ({ message }) => {
    await new Promise((r) => setTimeout(r, 1));
    process.stdout.write('message ' + message.offset + '\\n');
  },
});
`;
    const child = spawnScript(dir, script, [dir]);
    const lines: string[] = [];
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      lines.push(...parts);
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    await until('300 records processed', () => lines.filter((l) => l.startsWith('message ')).length >= 300 || child.exitCode !== null, 60_000);
    if (child.exitCode !== null) throw new Error(`the consumer process ended early (${child.exitCode}): ${stderr}`);
    child.kill('SIGKILL');
    await once(child, 'exit');

    const processed = lines.filter((l) => l.startsWith('message ')).map((l) => Number(l.split(' ')[1]));
    const batches = lines.filter((l) => l.startsWith('batch ')).map((l) => l.split(' ').slice(1).map(Number) as [number, number]);
    const [inFirst, inLast] = batches[batches.length - 1]!;
    expect(processed).toEqual(Array.from({ length: processed.length }, (_, i) => i));

    const again = track(new Fjord({ dir }));
    const commit = Number(await committed(again, 'jobs-group', 'jobs'));
    // Every batch before the one in hand was committed; the one in hand (or its successor, if its commit landed) is all that is read again.
    expect(commit).toBeGreaterThanOrEqual(inFirst);
    expect(commit).toBeLessThanOrEqual(inLast + 1);
    const reprocessed = processed.filter((offset) => offset >= commit).length;
    expect(reprocessed).toBeLessThanOrEqual(inLast - inFirst + 1);
    expect(processed.length).toBeGreaterThanOrEqual(300);
  }, 90_000);
});
