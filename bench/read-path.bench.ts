// The read path a consumer takes, per fetch: `Log.readSlice` then the
// consumer's decode (`decodeMessages`), one fetch after another with a
// setImmediate turn between them (as the fetch loop awaits its handler, so
// finalizers run). Measured in CPU time (user + system, all threads: garbage
// collection and page faults included), which a loaded machine disturbs less
// than wall time.
//
// Two ways of reading, per value size (16 KiB batches, 1 MiB fetches, the
// KafkaJS default maxBytesPerPartition):
// - fresh: each pass appends 32 MiB (untimed) and reads it, as a consumer
//   following producers does; no page of it was read before;
// - again: each pass reads the same 128 MiB from the start, as a new group
//   would; the process has read every page before.
//
// With `--baseline <checkout>` the same passes run, alternating, against
// another checkout's build (its dist/ and native/fjord.node), in the same
// process. Then also: structuredClone of a 7-byte value consumed from a
// default (1 GiB) segment, on each side.
//
//   npx tsc -p tsconfig.json && node --expose-gc dist/bench/read-path.bench.js [--baseline ../main] [--rounds 7]
import { mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import type { Log } from '../src/index.js';
import { gc, KiB, MiB, noteMissingGc, usageFor } from './support.js';

const { values: args } = parseArgs({
  options: {
    baseline: { type: 'string' },
    rounds: { type: 'string', default: '7' },
    size: { type: 'string', multiple: true },
  },
});
const usage: (message: string) => never = usageFor('read-path bench');
const rounds = Number(args.rounds);
if (!Number.isSafeInteger(rounds) || rounds < 1) usage(`--rounds must be a positive integer, got ${JSON.stringify(args.rounds)}`);
const valueSizes = (args.size ?? ['100', '1024', '16384', '1000000']).map(Number);
if (valueSizes.some((n) => !Number.isSafeInteger(n) || n < 1)) usage(`--size must be a positive integer of bytes, got ${args.size?.join(', ')}`);
noteMissingGc('pass');

const FETCH_BYTES = MiB;
const BATCH_BYTES = 16 * KiB;
const FRESH_BYTES = 32 * MiB;
const AGAIN_BYTES = 128 * MiB;

interface Build {
  Log: typeof import('../src/index.js').Log;
  Fjord: typeof import('../src/index.js').Fjord;
  encodeBatch: typeof import('../src/index.js').encodeBatch;
  decodeMessages: typeof import('../src/consumer/kafka-message.js').decodeMessages;
}

/** A checkout's build: its dist/ (which loads its own native/fjord.node). */
async function load(checkout: string): Promise<Build> {
  const dist = (path: string) => pathToFileURL(join(resolve(checkout), 'dist', path)).href;
  const index = await import(dist('src/index.js'));
  const { decodeMessages } = await import(dist('src/consumer/kafka-message.js'));
  return { Log: index.Log, Fjord: index.Fjord, encodeBatch: index.encodeBatch, decodeMessages };
}

const sides: [string, Build][] = [['this', await load(new URL('../..', import.meta.url).pathname)]];
if (args.baseline !== undefined) sides.push(['baseline', await load(args.baseline)]);
const workDir = mkdtempSync(join(tmpdir(), 'fjord-read-path-bench-'));
let sink = 0;

/** Reads [from, end) fetch after fetch; returns the number of reads. */
async function readRange(build: Build, log: Log, from: number, end: number): Promise<number> {
  let at = from;
  let reads = 0;
  while (at < end) {
    const slice = log.readSlice(at, FETCH_BYTES)!;
    const messages = build.decodeMessages(slice.bytes, at);
    sink += messages[messages.length - 1]!.value![0]!;
    at = slice.nextOffset;
    reads++;
    await new Promise(setImmediate);
  }
  return reads;
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

console.log(`read path: CPU µs per 1 MiB fetch (readSlice + decodeMessages), median of ${rounds} passes${sides.length > 1 ? ', sides alternating' : ''}`);
console.log(`| value | way | ${sides.map(([name]) => `${name} µs/fetch`).join(' | ')} |`);
console.log(`|---:|---|${sides.map(() => '---:').join('|')}|`);
for (const valueBytes of valueSizes) {
  const logs = sides.map(([name, build]) => {
    const log = build.Log.openSync(join(workDir, `${name}-${valueBytes}`));
    const perBatch = Math.max(1, Math.floor(BATCH_BYTES / valueBytes));
    const batch = build.encodeBatch(Array.from({ length: perBatch }, () => ({ value: Buffer.alloc(valueBytes, 7) })));
    while (log.size < AGAIN_BYTES) log.append(batch);
    return { log, batch, againEnd: log.logEndOffset };
  });
  for (const way of ['fresh', 'again'] as const) {
    const perRead: number[][] = sides.map(() => []);
    for (let round = -1; round < rounds; round++) {
      for (const [i, [, build]] of sides.entries()) {
        const { log, batch, againEnd } = logs[i]!;
        let [from, end] = [0, againEnd];
        if (way === 'fresh') {
          from = log.logEndOffset;
          const until = log.size + FRESH_BYTES;
          while (log.size < until) log.append(batch);
          end = log.logEndOffset;
        }
        gc?.();
        await new Promise(setImmediate);
        const since = process.cpuUsage();
        const reads = await readRange(build, log, from, end);
        if (round >= 0) perRead[i]!.push((cpuMs(since) * 1000) / reads);
      }
    }
    console.log(`| ${valueBytes} B | ${way} | ${perRead.map((xs) => median(xs).toFixed(1)).join(' | ')} |`);
  }
  for (const { log } of logs) await log.close();
}

if (sides.length > 1) {
  console.log('\nstructuredClone of a 7-byte value a consumer got from a 1 GiB segment');
  for (const [name, build] of sides) {
    const fjord = new build.Fjord({ dir: join(workDir, `clone-${name}`) });
    const admin = fjord.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'clone' }] });
    const producer = fjord.producer();
    await producer.connect();
    await producer.send({ topic: 'clone', messages: [{ value: 'value-0' }] });
    const consumer = fjord.consumer({ groupId: 'clone' });
    await consumer.connect();
    await consumer.subscribe({ topics: ['clone'], fromBeginning: true });
    const value = await new Promise<Buffer>((resolveValue) => {
      void consumer.run({ eachMessage: async ({ message }) => resolveValue(message.value!) });
    });
    await consumer.disconnect();
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    const clone = structuredClone(value);
    const ms = performance.now() - started;
    const rssAfter = process.memoryUsage().rss;
    console.log(`${name}: ${ms.toFixed(1)} ms, clone's ArrayBuffer ${clone.buffer.byteLength} bytes, RSS +${((rssAfter - rssBefore) / MiB).toFixed(0)} MiB`);
    await producer.disconnect();
    await admin.disconnect();
    await fjord.close();
  }
}
rmSync(workDir, { recursive: true, force: true });
if (sink === -1) console.log('');
