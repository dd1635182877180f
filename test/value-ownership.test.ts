// Issue 11 #3: a message's key and value are its fetch's own memory. Writing
// into one (in-place parsing) neither crashes the process nor changes the
// log for anyone else; cloning or posting one to a worker copies at most the
// fetch it came from, not the segment (1 GiB by default) it was read from.
// Both kinds of fetch are covered: a small one (copied onto the heap) and one
// of 64 KiB or more (a private copy-on-write mapping of the file).
import { Worker } from 'node:worker_threads';

import { expect, it } from 'vitest';

import type { Fjord, KafkaMessage } from '../src/index.js';
import { FJORD, runScript } from './child-process.js';
import { fjordFor, logOf, valuesOf } from './fjord-kit.js';
import { tempDir } from './helpers.js';

const SMALL = ['abcdefg', 'hijklmn'];
/** 40 values of 5000 bytes: 200 KB in one fetch, which is mapped. */
const LARGE = Array.from({ length: 40 }, (_, i) => String.fromCharCode(65 + (i % 26)).repeat(5000));

const FILL = `
async function fill(fjord) {
  const admin = fjord.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'small' }, { topic: 'large' }] });
  await admin.disconnect();
  const producer = fjord.producer();
  await producer.connect();
  await producer.send({ topic: 'small', messages: ${JSON.stringify(SMALL)}.map((value, i) => ({ key: 'key-' + i, value })) });
  await producer.send({ topic: 'large', messages: ${JSON.stringify(LARGE)}.map((value, i) => ({ key: 'key-' + i, value })) });
  await producer.disconnect();
}`;

async function fill(fjord: Fjord): Promise<void> {
  const admin = fjord.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'small' }, { topic: 'large' }] });
  await admin.disconnect();
  const producer = fjord.producer();
  await producer.connect();
  await producer.send({ topic: 'small', messages: SMALL.map((value, i) => ({ key: `key-${i}`, value })) });
  await producer.send({ topic: 'large', messages: LARGE.map((value, i) => ({ key: `key-${i}`, value })) });
  await producer.disconnect();
}

/** Every message of both topics, read by a consumer of group `groupId`. */
async function consumeAll(fjord: Fjord, groupId: string): Promise<Map<string, KafkaMessage[]>> {
  const consumer = fjord.consumer({ groupId });
  await consumer.connect();
  await consumer.subscribe({ topics: ['small', 'large'], fromBeginning: true });
  const got = new Map<string, KafkaMessage[]>([
    ['small', []],
    ['large', []],
  ]);
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  await consumer.run({
    eachMessage: async ({ topic, message }) => {
      got.get(topic)!.push(message);
      if (got.get('small')!.length === SMALL.length && got.get('large')!.length === LARGE.length) done();
    },
  });
  await all;
  await consumer.disconnect();
  return got;
}

it('lets a handler write into keys and values without crashing or changing what any other reader sees', async () => {
  const dir = tempDir();
  const script = `
import { Fjord, Log, logLevel } from ${JSON.stringify(FJORD)};
const { native } = await import(new URL('./storage/native.ts', ${JSON.stringify(FJORD)}).href);
${FILL}
const dir = process.argv[2];
// WARN: joins and leaves are logged at INFO, and stderr must hold only what went wrong.
const fjord = new Fjord({ dir, logLevel: logLevel.WARN });
await fill(fjord);

async function consume(groupId, handle) {
  const consumer = fjord.consumer({ groupId });
  await consumer.connect();
  await consumer.subscribe({ topics: ['small', 'large'], fromBeginning: true });
  const results = { small: [], large: [] };
  let done;
  const all = new Promise((resolve) => (done = resolve));
  await consumer.run({
    eachMessage: async ({ topic, message }) => {
      results[topic].push(handle(topic, message));
      if (results.small.length === ${SMALL.length} && results.large.length === ${LARGE.length}) done();
    },
  });
  await all;
  await consumer.disconnect();
  return results;
}

let mapped = 0;
const written = await consume('writer', (topic, message) => {
  if (topic === 'large') mapped = Math.max(mapped, native.liveFetchMaps());
  const { key, value } = message;
  value[0] = 1;
  value.reverse();
  value.fill(0x2a);
  key.fill(0x2b);
  return value.every((b) => b === 0x2a) && key.every((b) => b === 0x2b);
});
const read = await consume('reader', (topic, message) => message.key.toString() + '=' + message.value.toString());

// The store API's reads are the reader's own too.
const log = await Log.open(dir + '/large-0');
const raw = log.read(0, 1 << 20);
const rawCopy = Buffer.from(raw);
raw.fill(0);
const rawWritten = raw.every((b) => b === 0);
const rawAgain = log.read(0, 1 << 20).equals(rawCopy);
await log.close();
await fjord.close();
console.log(JSON.stringify({ mapped, written, read, rawWritten, rawAgain }));
`;
  const { code, stdout, stderr } = await runScript(dir, script, [dir]);
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  const result = JSON.parse(stdout);
  expect(result.mapped).toBeGreaterThan(0);
  expect(result.written).toEqual({ small: SMALL.map(() => true), large: LARGE.map(() => true) });
  expect(result.read).toEqual({ small: SMALL.map((v, i) => `key-${i}=${v}`), large: LARGE.map((v, i) => `key-${i}=${v}`) });
  expect([result.rawWritten, result.rawAgain]).toEqual([true, true]);

  // Reopened: the files hold what was produced.
  const reopened = fjordFor({ dir });
  expect(await valuesOf(reopened, 'small', 0)).toEqual(SMALL);
  expect(await valuesOf(reopened, 'large', 0)).toEqual(LARGE);
}, 60_000);

it('copies at most the fetch when a value from a 1 GiB segment is cloned or posted to a worker', async () => {
  const fjord = fjordFor();
  await fill(fjord);
  const got = await consumeAll(fjord, 'cloner');
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
     parentPort.on('message', (v) => parentPort.postMessage({ text: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString(), byteLength: v.buffer.byteLength }));`,
    { eval: true },
  );
  try {
    for (const [topic, values] of [
      ['small', SMALL],
      ['large', LARGE],
    ] as const) {
      // A fetch holds at most the partition's bytes.
      const partitionBytes = (await logOf(fjord, topic, 0)).size;
      const messages = got.get(topic)!;
      for (const [i, message] of [messages[0]!, messages.at(-1)!].entries()) {
        const expected = i === 0 ? values[0] : values.at(-1);
        const clone = structuredClone(message.value!);
        expect(clone.buffer.byteLength).toBeLessThanOrEqual(partitionBytes);
        expect(Buffer.from(clone.buffer, clone.byteOffset, clone.byteLength).toString()).toBe(expected);

        const reply = new Promise<{ text: string; byteLength: number }>((resolve) => worker.once('message', resolve));
        worker.postMessage(message.value);
        const { text, byteLength } = await reply;
        expect(text).toBe(expected);
        expect(byteLength).toBeLessThanOrEqual(partitionBytes);
      }
    }
  } finally {
    await worker.terminate();
  }
  // The segments themselves are Kafka's default 1 GiB.
  expect((await logOf(fjord, 'small', 0)).config.segmentBytes).toBe(1 << 30);
}, 30_000);
