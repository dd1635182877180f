// Two worker_threads of one process on one data directory. Topic metadata
// and the group coordinator live in one JavaScript environment, so a second
// environment would be a second writer: today it is refused with
// LogDirectoryLockedError, and the first keeps consuming alone. (Issue 4 asks
// that such workers share a group; that needs a process-wide coordinator and
// stays open. The commit before this one has the sharing test as written.)
// A child process (so that this test file's own Fjord state stays out of it)
// creates a 4-partition topic, closes it, and starts the two workers.
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
for (const worker of workers) worker.postMessage('stop');
await Promise.race([
  Promise.all(workers.map((w, i) => new Promise((r) => { const check = () => (last(i, 'stopped') || last(i, 'error') ? r() : setTimeout(check, 20)); check(); }))),
  new Promise((r) => setTimeout(r, 3000)),
]);
await Promise.all(workers.map((w) => w.terminate()));
done(0);
`;

it('refuses a second worker thread on the same data directory, naming the thread lock, while the first consumes every record once', async () => {
  const dir = tempDir();
  const scripts = tempDir('fjord-workers-');
  const workerFile = join(scripts, 'worker.mjs');
  writeFileSync(workerFile, WORKER);
  const { code, stdout } = await runScript(scripts, MAIN, [dir, pathToFileURL(workerFile).href, pathToFileURL(join(scripts, 'ts-register.mjs')).href]);
  expect(code).toBe(0);
  const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
    setup: string;
    workers: { type: string; assignment?: Record<string, number[]>; partition?: number; offset?: string; error?: string }[][];
  };
  expect(report.setup).toBe('ok');
  const outcomes = report.workers.map((messages) => (messages.some((m) => m.type === 'join') ? 'consumed' : 'refused'));
  expect([...outcomes].sort()).toEqual(['consumed', 'refused']);
  const refused = report.workers[outcomes.indexOf('refused')]!;
  const consumed = report.workers[outcomes.indexOf('consumed')]!;
  const errors = refused.filter((m) => m.type === "error").map((m) => m.error!);
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(/^LogDirectoryLockedError: log directory .* is locked by another thread of this process \(pid \d+\)/);
  expect(consumed.filter((m) => m.type === 'join').at(-1)!.assignment).toEqual({ split: [0, 1, 2, 3] });
  const records = consumed.filter((m) => m.type === 'record').map((m) => `${m.partition}@${m.offset}`);
  expect(records.sort()).toEqual(Array.from({ length: 4 }, (_, p) => Array.from({ length: 10 }, (_, o) => `${p}@${o}`)).flat().sort());
}, 30_000);
