// A tight loop of `await producer.send({ acks: 0, ... })` (issue 11 #2):
// does the event loop keep turning, and does memory stay bounded? One sender
// (or --senders N concurrent ones) sends one fresh record a send, each value
// a new Buffer of --value-bytes, until --total-mib of values are sent, while a
// 100 ms setInterval counts its fires. Prints the heap's peak (V8 heap used,
// and ArrayBuffer memory, where the values live, apart), the interval's
// fires, records per second, and the log end offset 3 s in, when the loop
// ends and after disconnect.
//
// A guard stops the loop when the V8 heap passes --guard-mib or the loop runs
// past --max-seconds (without one, a producer that does not bound its queue
// runs Node out of memory); memory is sampled inside the loop as well, every
// 4096 sends, since a starved interval samples nothing.
//
//   npx tsc -p tsconfig.json && node dist/bench/acks-zero-loop.js [--total-mib 1024] [--value-bytes 1024] [--acks 0] [--senders 1]
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { Fjord, logLevel } from '../src/index.js';
import { makeWorkDir, MiB, usageFor } from './support.js';

const { values: args } = parseArgs({
  options: {
    'total-mib': { type: 'string', default: '1024' },
    'value-bytes': { type: 'string', default: '1024' },
    acks: { type: 'string', default: '0' },
    senders: { type: 'string', default: '1' },
    'guard-mib': { type: 'string', default: '1536' },
    'max-seconds': { type: 'string', default: '300' },
  },
});
const usage = usageFor('acks-zero-loop');
function positive(name: keyof typeof args): number {
  const value = Number(args[name]);
  if (!Number.isSafeInteger(value) || value < 1) usage(`--${name} must be a positive integer, got ${JSON.stringify(args[name])}`);
  return value;
}
const totalBytes = positive('total-mib') * MiB;
const valueBytes = positive('value-bytes');
const senders = positive('senders');
const guardBytes = positive('guard-mib') * MiB;
const maxMs = positive('max-seconds') * 1000;
const acks = Number(args.acks);
if (acks !== 0 && acks !== 1 && acks !== -1) usage(`--acks must be 0, 1 or -1, got ${JSON.stringify(args.acks)}`);

const { path: workDir, freshPath } = makeWorkDir('fjord-acks-zero-loop-');
const fjord = new Fjord({ dir: freshPath('data'), logLevel: logLevel.NOTHING });
const admin = fjord.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic: 'loop', numPartitions: 1 }] });
await admin.disconnect();
const partition = (await fjord.topics()).get('loop').partition(0);
const producer = fjord.producer();
await producer.connect();

const peak = { heapUsed: 0, arrayBuffers: 0, rss: 0 };
function sample(): number {
  const usage = process.memoryUsage();
  peak.heapUsed = Math.max(peak.heapUsed, usage.heapUsed);
  peak.arrayBuffers = Math.max(peak.arrayBuffers, usage.arrayBuffers);
  peak.rss = Math.max(peak.rss, usage.rss);
  return usage.heapUsed;
}

let fires = 0;
const interval = setInterval(() => {
  fires++;
  sample();
}, 100);

const sends = Math.ceil(totalBytes / valueBytes);
let sent = 0;
let stopped: string | null = null;
let logEndAt3s: number | null = null;
const start = performance.now();

async function sender(): Promise<void> {
  while (sent < sends && stopped === null) {
    const n = sent++;
    const value = Buffer.allocUnsafeSlow(valueBytes);
    value.writeUInt32BE(n % 2 ** 32, 0);
    await producer.send({ topic: 'loop', acks, messages: [{ value }] });
    if ((n & 4095) === 0) {
      const elapsed = performance.now() - start;
      if (logEndAt3s === null && elapsed >= 3000) logEndAt3s = partition.log.logEndOffset;
      if (sample() > guardBytes) stopped = `V8 heap over --guard-mib after ${n + 1} sends`;
      else if (elapsed > maxMs) stopped = `--max-seconds passed after ${n + 1} sends`;
    }
  }
}

await Promise.all(Array.from({ length: senders }, sender));
const loopMs = performance.now() - start;
const logEndAtLoopEnd = partition.log.logEndOffset;
sample();
await producer.disconnect();
const totalMs = performance.now() - start;
const logEndAfterDisconnect = partition.log.logEndOffset;
clearInterval(interval);
await fjord.close();
rmSync(workDir, { recursive: true, force: true });

const mib = (bytes: number) => Math.round((bytes / MiB) * 10) / 10;
console.log(
  JSON.stringify(
    {
      node: process.version,
      acks,
      senders,
      valueBytes,
      sends: sent,
      stopped,
      loopSeconds: Math.round(loopMs) / 1000,
      recordsPerSecond: Math.round(sent / (loopMs / 1000)),
      recordsPerSecondWithDisconnect: Math.round(sent / (totalMs / 1000)),
      intervalFires: fires,
      intervalFiresExpected: Math.floor(totalMs / 100),
      heapUsedPeakMiB: mib(peak.heapUsed),
      arrayBuffersPeakMiB: mib(peak.arrayBuffers),
      rssPeakMiB: mib(peak.rss),
      logEndAt3s,
      logEndAtLoopEnd,
      logEndAfterDisconnect,
    },
    null,
    2,
  ),
);
