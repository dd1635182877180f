// Issue 4's acceptance: "consumers in two worker_threads of one process can
// share a group". A child process (so that this test file's own Fjord state
// stays out of it) creates a 4-partition topic, closes it, and starts two
// worker threads; each opens `new Fjord({ dir })` on the same directory and
// runs a consumer of one group. The two must split the partitions between
// them and together consume every record exactly once.
//
// The workers load src/ through the TypeScript loader of child-process.ts:
// the child's main thread gets it from `--import`. Recent Node 20 releases
// hand those hooks on to worker threads; each worker also registers them
// itself so that releases that do not still load src/ (registering the same
// hooks twice is harmless).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { expect, it } from 'vitest';

import { FJORD, runScript } from './child-process.js';
import { tempDir } from './helpers.js';

const WORKER = `
import { parentPort, workerData } from 'node:worker_threads';
await import(workerData.register);
const { Fjord } = await import(workerData.fjord);

const fjord = new Fjord({ dir: workerData.dir });
const consumer = fjord.consumer({ groupId: 'shared-group', heartbeatInterval: 50, sessionTimeout: 1000, rebalanceTimeout: 3000 });
consumer.on(consumer.events.GROUP_JOIN, (e) =>
  parentPort.postMessage({ type: 'join', memberId: e.payload.memberId, assignment: e.payload.memberAssignment }));
consumer.on(consumer.events.CRASH, (e) => parentPort.postMessage({ type: 'crash', error: String(e.payload.error) }));
await consumer.connect();
await consumer.subscribe({ topic: 'split', fromBeginning: true });
await consumer.run({
  eachMessage: async ({ partition, message }) =>
    parentPort.postMessage({ type: 'record', partition, offset: message.offset, value: message.value.toString() }),
});
parentPort.postMessage({ type: 'running' });
parentPort.on('message', async (message) => {
  if (message !== 'stop') return;
  await fjord.close();
  parentPort.postMessage({ type: 'stopped' });
});
`;

const MAIN = `
import { Worker } from 'node:worker_threads';
import { Fjord } from ${JSON.stringify(FJORD)};

const [dir, workerFile, register] = process.argv.slice(2);
const report = { setup: null, workers: [[], []] };
const done = (code) => { console.log(JSON.stringify(report)); process.exit(code); };
setTimeout(() => { report.timedOut = true; done(0); }, 12000).unref();

try {
  const fjord = new Fjord({ dir });
  const admin = fjord.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'split', numPartitions: 4 }] });
  const producer = fjord.producer();
  await producer.connect();
  await producer.send({ topic: 'split', messages: Array.from({ length: 40 }, (_, i) => ({ partition: i % 4, value: 'v' + i })) });
  await fjord.close();
  report.setup = 'ok';
} catch (error) {
  report.setup = String(error);
  done(0);
}

const workers = [0, 1].map((i) => {
  const worker = new Worker(new URL(workerFile), { workerData: { dir, register, fjord: ${JSON.stringify(FJORD)} } });
  worker.on('message', (m) => report.workers[i].push(m));
  worker.on('error', (error) => report.workers[i].push({ type: 'error', error: String(error) }));
  return worker;
});

const last = (i, type) => report.workers[i].filter((m) => m.type === type).at(-1);
const records = () => report.workers.flat().filter((m) => m.type === 'record').length;
// Until both run and every record arrived (or a worker failed), then 500 ms more for any second delivery.
for (let t = 0; t < 8000; t += 20) {
  if (report.workers.some((w) => w.some((m) => m.type === 'error' || m.type === 'crash'))) break;
  if (last(0, 'running') && last(1, 'running') && last(0, 'join') && last(1, 'join') && records() >= 40) break;
  await new Promise((r) => setTimeout(r, 20));
}
await new Promise((r) => setTimeout(r, 500));
// Joins after this point are the group shrinking as the workers stop one by one.
for (const messages of report.workers) messages.push({ type: 'stopping' });
for (const worker of workers) worker.postMessage('stop');
await Promise.race([
  Promise.all(workers.map((w, i) => new Promise((r) => { const check = () => (last(i, 'stopped') || last(i, 'error') ? r() : setTimeout(check, 20)); check(); }))),
  new Promise((r) => setTimeout(r, 3000)),
]);
await Promise.all(workers.map((w) => w.terminate()));
done(0);
`;

it('two worker_threads of one process share a consumer group: they split the partitions and consume every record once', async () => {
  const dir = tempDir();
  const scripts = tempDir('fjord-workers-');
  const workerFile = join(scripts, 'worker.mjs');
  writeFileSync(workerFile, WORKER);
  const { code, stdout, stderr } = await runScript(scripts, MAIN, [dir, pathToFileURL(workerFile).href, pathToFileURL(join(scripts, 'ts-register.mjs')).href]);
  expect({ code, stderr: stderr.split('\n').filter((l) => /Error/.test(l)) }).toEqual({ code: 0, stderr: [] });
  const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
    setup: string;
    timedOut?: boolean;
    workers: { type: string; assignment?: Record<string, number[]>; memberId?: string; partition?: number; offset?: string; error?: string }[][];
  };
  expect(report.setup).toBe('ok');
  expect(report.timedOut).toBeUndefined();
  const failures = report.workers.flat().filter((m) => m.type === 'error' || m.type === 'crash');
  expect(failures).toEqual([]);

  // The latest assignments before the workers stopped: one group, two members, disjoint, covering all four partitions.
  const beforeStop = report.workers.map((messages) =>
    messages.slice(
      0,
      messages.findIndex((m) => m.type === 'stopping'),
    ),
  );
  const [first, second] = beforeStop.map((messages) => messages.filter((m) => m.type === 'join').at(-1)!);
  expect(first!.memberId).not.toBe(second!.memberId);
  const a = first!.assignment!.split ?? [];
  const b = second!.assignment!.split ?? [];
  expect({ a: a.length, b: b.length }).toEqual({ a: 2, b: 2 });
  expect([...a, ...b].sort()).toEqual([0, 1, 2, 3]);

  // Every record once, across both workers.
  const records = report.workers
    .flat()
    .filter((m) => m.type === 'record')
    .map((m) => `${m.partition}@${m.offset}`);
  expect(records.sort()).toEqual(
    Array.from({ length: 4 }, (_, p) => Array.from({ length: 10 }, (_, o) => `${p}@${o}`))
      .flat()
      .sort(),
  );
}, 30_000);

const FAILOVER_WORKER = `
import { parentPort, workerData } from 'node:worker_threads';
await import(workerData.register);
const { Fjord } = await import(workerData.fjord);

const fjord = new Fjord({ dir: workerData.dir });
const consumer = fjord.consumer({ groupId: 'failover-group', heartbeatInterval: 50, sessionTimeout: 1000, rebalanceTimeout: 3000 });
consumer.on(consumer.events.GROUP_JOIN, (e) => parentPort.postMessage({ type: 'join', assignment: e.payload.memberAssignment }));
await consumer.connect();
await consumer.subscribe({ topic: 'failover', fromBeginning: true });
const values = [];
await consumer.run({ eachMessage: async ({ message }) => { values.push(message.value.toString()); } });
const producer = fjord.producer();
await producer.connect();
parentPort.postMessage({ type: 'running' });
parentPort.on('message', async (message) => {
  if (message === 'produce') {
    await producer.send({ topic: 'failover', messages: Array.from({ length: 8 }, (_, i) => ({ partition: i % 4, value: 'after-' + i })) });
    return;
  }
  if (message === 'report') return parentPort.postMessage({ type: 'values', values: [...values].sort() });
  await fjord.close();
  parentPort.postMessage({ type: 'stopped' });
});
`;

const FAILOVER_MAIN = `
import { Worker } from 'node:worker_threads';
import { Fjord } from ${JSON.stringify(FJORD)};

const [dir, workerFile, register, mode] = process.argv.slice(2);
const fjord = new Fjord({ dir });
const admin = fjord.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic: 'failover', numPartitions: 4 }] });
await fjord.close();

const logs = [[], []];
const start = (i) => {
  const worker = new Worker(new URL(workerFile), { workerData: { dir, register, fjord: ${JSON.stringify(FJORD)} } });
  worker.on('message', (m) => logs[i].push(m));
  worker.on('error', (error) => logs[i].push({ type: 'error', error: String(error) }));
  return worker;
};
const until = async (check) => { for (let t = 0; t < 10000 && !check(); t += 20) await new Promise((r) => setTimeout(r, 20)); };
const host = start(0);
await until(() => logs[0].some((m) => m.type === 'running'));
const guest = start(1);
await until(() => logs[1].some((m) => m.type === 'join') && logs[0].filter((m) => m.type === 'join').length >= 2);
if (mode === 'terminate') {
  await host.terminate(); // the thread hosting the coordinator dies without a word
} else {
  host.postMessage('stop'); // the thread hosting the coordinator leaves
  await until(() => logs[0].some((m) => m.type === 'stopped'));
}
await until(() => logs[1].filter((m) => m.type === 'join').at(-1)?.assignment.failover?.length === 4);
guest.postMessage('produce');
await new Promise((r) => setTimeout(r, 500));
guest.postMessage('report');
await until(() => logs[1].some((m) => m.type === 'values'));
guest.postMessage('stop');
await until(() => logs[1].some((m) => m.type === 'stopped'));
await Promise.all([host.terminate(), guest.terminate()]);
console.log(JSON.stringify(logs));
process.exit(0);
`;

for (const mode of ['close', 'terminate'] as const) {
  it(`a guest thread takes over the coordinator when the host thread ${mode === 'close' ? 'closes' : 'is terminated without closing'}, and its consumer goes on`, async () => {
    const dir = tempDir();
    const scripts = tempDir('fjord-failover-');
    const workerFile = join(scripts, 'worker.mjs');
    writeFileSync(workerFile, FAILOVER_WORKER);
    const { code, stdout } = await runScript(scripts, FAILOVER_MAIN, [
      dir,
      pathToFileURL(workerFile).href,
      pathToFileURL(join(scripts, 'ts-register.mjs')).href,
      mode,
    ]);
    expect(code).toBe(0);
    const logs = JSON.parse(stdout.trim().split('\n').at(-1)!) as { type: string; assignment?: Record<string, number[]>; values?: string[] }[][];
    expect(logs.flat().filter((m) => m.type === 'error')).toEqual([]);
    const guestJoins = logs[1]!.filter((m) => m.type === 'join').map((m) => m.assignment!.failover ?? []);
    expect(guestJoins.at(-1)).toEqual([0, 1, 2, 3]);
    // At least once, as Kafka promises across a rebalance: the guest's member may
    // rejoin once more after the takeover and fetch again from the last commit.
    const values = logs[1]!.find((m) => m.type === 'values')!.values!;
    expect([...new Set(values)].sort()).toEqual(Array.from({ length: 8 }, (_, i) => `after-${i}`).sort());
  }, 30_000);
}

const WAKE_WORKER = `
import { parentPort, workerData } from 'node:worker_threads';
await import(workerData.register);
const { Fjord } = await import(workerData.fjord);

const fjord = new Fjord({ dir: workerData.dir });
if (workerData.role === 'consumer') {
  const consumer = fjord.consumer({ groupId: 'wake-group', maxWaitTimeInMs: 60000, heartbeatInterval: 50, sessionTimeout: 1000 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'wake' });
  await consumer.run({ eachMessage: async ({ message }) => parentPort.postMessage({ type: 'record', value: message.value.toString(), at: Date.now() }) });
  parentPort.postMessage({ type: 'running' });
} else {
  const producer = fjord.producer();
  await producer.connect();
  parentPort.postMessage({ type: 'running' });
  parentPort.on('message', async () => {
    const at = Date.now();
    await producer.send({ topic: 'wake', acks: 1, messages: [{ value: 'hello' }] });
    parentPort.postMessage({ type: 'sent', at });
  });
}
parentPort.on('message', async (message) => {
  if (message !== 'stop') return;
  await fjord.close();
  parentPort.postMessage({ type: 'stopped' });
});
`;

const WAKE_MAIN = `
import { Worker } from 'node:worker_threads';
import { Fjord } from ${JSON.stringify(FJORD)};

const [dir, workerFile, register] = process.argv.slice(2);
const fjord = new Fjord({ dir });
const admin = fjord.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic: 'wake', numPartitions: 1 }] });
await fjord.close();

const logs = { consumer: [], producer: [] };
const start = (role) => {
  const worker = new Worker(new URL(workerFile), { workerData: { dir, register, role, fjord: ${JSON.stringify(FJORD)} } });
  worker.on('message', (m) => logs[role].push(m));
  worker.on('error', (error) => logs[role].push({ type: 'error', error: String(error) }));
  return worker;
};
const until = async (check) => { for (let t = 0; t < 10000 && !check(); t += 10) await new Promise((r) => setTimeout(r, 10)); };
const consumer = start('consumer');
await until(() => logs.consumer.some((m) => m.type === 'running'));
const producer = start('producer');
await until(() => logs.producer.some((m) => m.type === 'running'));
await new Promise((r) => setTimeout(r, 200)); // the consumer is now waiting at the end of the partition
producer.postMessage('send');
await until(() => logs.consumer.some((m) => m.type === 'record'));
for (const w of [producer, consumer]) w.postMessage('stop');
await until(() => logs.consumer.some((m) => m.type === 'stopped') && logs.producer.some((m) => m.type === 'stopped'));
await Promise.all([producer.terminate(), consumer.terminate()]);
console.log(JSON.stringify(logs));
process.exit(0);
`;

it('an append in one thread wakes a consumer waiting in another, long before maxWaitTimeInMs', async () => {
  const dir = tempDir();
  const scripts = tempDir('fjord-wake-');
  const workerFile = join(scripts, 'worker.mjs');
  writeFileSync(workerFile, WAKE_WORKER);
  const { code, stdout } = await runScript(scripts, WAKE_MAIN, [dir, pathToFileURL(workerFile).href, pathToFileURL(join(scripts, 'ts-register.mjs')).href]);
  expect(code).toBe(0);
  const logs = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<'consumer' | 'producer', { type: string; value?: string; at?: number }[]>;
  expect([...logs.consumer, ...logs.producer].filter((m) => m.type === 'error')).toEqual([]);
  const record = logs.consumer.find((m) => m.type === 'record')!;
  expect(record.value).toBe('hello');
  const sent = logs.producer.find((m) => m.type === 'sent')!;
  // Woken by the append (maxWaitTimeInMs is 60 s), not by a timer.
  expect(record.at! - sent.at!).toBeLessThan(2000);
}, 30_000);
