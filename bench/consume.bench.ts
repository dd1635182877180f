// Consumer throughput and end-to-end latency.
//
// Throughput: a fixed volume of records (values of 100 B to 1 MB, no key) is
// produced into a one-partition topic, untimed; then, pass after pass, a
// consumer of a fresh group (fromBeginning, eachBatch, eachBatchAutoResolve,
// autoCommit, KafkaJS's default fetch sizes) reads it all from the page cache,
// touching the first byte of every value. Timed from `run()` (the group join
// included) to the handler seeing the last offset.
//
// In the same run, per size, the floor: the same values as 4-byte
// length-prefixed frames in one file, read back with `fs.readSync` in 1 MiB
// chunks, each frame parsed and the first byte of its value touched. Passes
// alternate floor and Fjord; throughput is the median pass.
//
// Latency: a consumer (eachMessage) waits at the end of an empty topic while
// a producer sends one 100 B record per `send` (acks 1) at a fixed rate; per
// record, from the start of its `send` call (stamped into the value) to its
// eachMessage call. The sender paces itself on setImmediate turns, sending
// whatever is due, so the rate holds without batching records up in a timer.
//
//   npx tsc -p tsconfig.json && node --expose-gc dist/bench/consume.bench.js [--quick]
//   one cell, e.g. to profile it: node --cpu-prof dist/bench/consume.bench.js --only throughput --size 1KiB --fjord-only [--passes N (the minimum)]
//   latency at another rate:       ... --only latency --rate 50000 --seconds 5
import { closeSync, openSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { Fjord, type Message } from '../src/index.js';
import {
  banner,
  frame,
  gc,
  KiB,
  latency,
  makeWorkDir,
  MiB,
  msSince,
  noteMissingGc,
  now,
  onProjectFilesystem,
  randomValueGroups,
  readFrames,
  throughput,
  usageFor,
  whole,
  writeAll,
  writeResults,
  type Throughput,
} from './support.js';
import { ConsumerRun } from './sweep/consumer-run.js';
import type { LatencyResult } from './sweep/jobs.js';
import { runLatencyJob } from './sweep/latency-job.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    // Filters, to run (and profile) one part or cell: --only throughput --size 100; --size may repeat.
    only: { type: 'string' },
    size: { type: 'string', multiple: true },
    passes: { type: 'string' },
    // Profiling aid: only the consumer's passes (no floor), so a CPU profile is the consumer path alone.
    'fjord-only': { type: 'boolean', default: false },
    rate: { type: 'string' },
    seconds: { type: 'string' },
  },
});
const quick = args.quick;

const usage: (message: string) => never = usageFor('consume bench');

function positiveNumber(text: string | undefined, flag: string, fallback: number, integer = true): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isSafeInteger(n)))
    usage(`--${flag} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(text)}`);
  return n;
}

if (args.only !== undefined && !['throughput', 'latency'].includes(args.only)) usage(`--only must be throughput or latency, got ${JSON.stringify(args.only)}`);
const runThroughput = args.only !== 'latency';
const runLatency = args.only !== 'throughput';
const fjordOnly = args['fjord-only'];

interface SizeCase {
  label: string;
  valueBytes: number;
  /** Record value bytes in the topic a pass reads. */
  topicBytes: number;
}

const scale = quick ? 1 : 4;
const sizeCases: SizeCase[] = [
  { label: '100 B', valueBytes: 100, topicBytes: 96 * MiB * scale },
  { label: '1 KiB', valueBytes: KiB, topicBytes: 192 * MiB * scale },
  { label: '16 KiB', valueBytes: 16 * KiB, topicBytes: 256 * MiB * scale },
  // 10^6 rather than 2^20: a 1 MiB value would not fit the default max.message.bytes (1 MiB + 12).
  { label: '1 MB', valueBytes: 1_000_000, topicBytes: 256 * MiB * scale },
];
const sizes = (() => {
  if (args.size === undefined) return sizeCases;
  const chosen = sizeCases.filter((s) => [String(s.valueBytes), s.label, s.label.replace(' ', '')].some((k) => args.size!.includes(k)));
  if (chosen.length === 0) usage(`--size ${args.size.join(', ')} matches none of ${sizeCases.map((s) => s.valueBytes).join(', ')}`);
  return chosen;
})();

/**
 * Timed passes per size and side, floor and Fjord alternating, after one
 * untimed warm-up pass of each: at least PASSES, and more (up to MAX_PASSES)
 * until the cell's timed passes add up to MIN_CELL_MS, as a zero-copy pass of
 * the large sizes takes a few milliseconds.
 */
const PASSES = positiveNumber(args.passes, 'passes', quick ? 3 : 5);
const MIN_CELL_MS = quick ? 500 : 2000;
const MAX_PASSES = Math.max(PASSES, quick ? 40 : 100);
/** Value bytes per `send` while filling the topic (untimed), and concurrent senders doing it. */
const FILL_SEND_BYTES = 256 * KiB;
const FILL_SENDERS = 8;
/** Distinct value bytes; sends cycle over them. Larger than CPU caches. */
const POOL_BYTES = 16 * MiB;
const READ_CHUNK_BYTES = MiB;
const TOPIC = 'bench';

const LATENCY_RATE = positiveNumber(args.rate, 'rate', 10_000);
const LATENCY_SECONDS = positiveNumber(args.seconds, 'seconds', 3, false);
const LATENCY_VALUE_BYTES = 100;

noteMissingGc('pass');

const { path: workDir, freshPath } = makeWorkDir('fjord-consume-bench-');

// Accumulates the bytes the passes touch, so no pass can be optimised away.
let sink = 0;

// ---------------------------------------------------------------- throughput

/** The records of one size: a pool of random values the fill cycles over. */
class Workload {
  readonly records: number;
  readonly messagesPerSend: number;
  readonly sends: number;
  readonly messagePool: Message[][] = [];

  constructor(readonly size: SizeCase) {
    this.messagesPerSend = Math.max(1, Math.floor(FILL_SEND_BYTES / size.valueBytes));
    this.sends = Math.max(1, Math.round(size.topicBytes / (this.messagesPerSend * size.valueBytes)));
    this.records = this.sends * this.messagesPerSend;
    const sendBytes = this.messagesPerSend * size.valueBytes;
    const pooled = Math.min(this.sends, Math.max(2, Math.floor(POOL_BYTES / sendBytes)));
    for (const values of randomValueGroups(pooled, this.messagesPerSend, size.valueBytes)) {
      this.messagePool.push(values.map((value): Message => ({ key: null, value })));
    }
  }

  get payloadBytes(): number {
    return this.records * this.size.valueBytes;
  }

  messages(send: number): Message[] {
    return this.messagePool[send % this.messagePool.length]!;
  }
}

/** The floor's file: every value of the topic, in order, as a 4-byte big-endian length and its bytes. */
function writeFrames(work: Workload): string {
  const path = freshPath('frames');
  const fd = openSync(path, 'w');
  try {
    for (let s = 0; s < work.sends; s++) writeAll(fd, frame(work.messages(s).map(({ value }) => value as Buffer)));
  } finally {
    closeSync(fd);
  }
  return path;
}

/** Fills a one-partition topic with the workload's records: `sends` sends of `messagesPerSend`, FILL_SENDERS at a time, acks 1. */
async function fillTopic(fjord: Fjord, work: Workload): Promise<void> {
  const admin = fjord.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1 }] });
  await admin.disconnect();
  const producer = fjord.producer();
  await producer.connect();
  let next = 0;
  const sender = async (): Promise<void> => {
    while (next < work.sends) {
      const s = next++;
      await producer.send({ topic: TOPIC, messages: work.messages(s), acks: 1 });
    }
  };
  await Promise.all(Array.from({ length: FILL_SENDERS }, sender));
  await producer.disconnect();
  const end = (await fjord.topics()).get(TOPIC).partition(0).log.logEndOffset;
  if (end !== work.records) throw new Error(`fill: the topic ends at offset ${end}, expected ${work.records}`);
}

interface ConsumePass {
  ms: number;
  /** From run() to the first batch: joining the group and the first fetch. */
  firstBatchMs: number;
  batches: number;
}

let groupSerial = 0;

/** One consumer of a fresh group reads the topic from the beginning to its end; the first byte of each value is touched. */
async function fjordPass(fjord: Fjord, work: Workload): Promise<ConsumePass> {
  const consumer = fjord.consumer({ groupId: `consume-bench-${groupSerial++}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
  const last = String(work.records - 1);
  let records = 0;
  let touched = 0;
  let batches = 0;
  let firstBatchAt = 0n;
  const run = new ConsumerRun(consumer);
  const start = now();
  await consumer.run({
    autoCommit: true,
    eachBatchAutoResolve: true,
    eachBatch: async ({ batch }) => {
      if (batches++ === 0) firstBatchAt = now();
      const messages = batch.messages;
      for (let i = 0; i < messages.length; i++) touched += messages[i]!.value![0]!;
      records += messages.length;
      if (messages[messages.length - 1]!.offset === last) run.finish();
    },
  });
  await run.ended;
  const ms = msSince(start);
  await consumer.disconnect();
  run.check();
  if (records !== work.records) throw new Error(`fjord pass: the consumer saw ${records} records, expected ${work.records}`);
  sink += touched;
  return { ms, firstBatchMs: Number(firstBatchAt - start) / 1e6, batches };
}

/** Reads the frame file in READ_CHUNK_BYTES chunks, parses every frame and touches the first byte of its value. */
function floorPass(path: string, readBuffer: Buffer, work: Workload): ConsumePass {
  const start = now();
  const fd = openSync(path, 'r');
  let read: ReturnType<typeof readFrames>;
  try {
    read = readFrames(fd, readBuffer, READ_CHUNK_BYTES);
  } finally {
    closeSync(fd);
  }
  const ms = msSince(start);
  if (read.records !== work.records) throw new Error(`floor pass: parsed ${read.records} frames, expected ${work.records}`);
  sink += read.touched;
  return { ms, firstBatchMs: 0, batches: read.reads };
}

interface ThroughputRow {
  size: string;
  valueBytes: number;
  records: number;
  payloadBytes: number;
  passes: number;
  fjord: Throughput & { firstBatchMs: number; batches: number };
  /** null with --fjord-only. */
  floor: Throughput | null;
  /** Fjord MB/s over floor MB/s; above 1 means Fjord is faster. */
  ratio: number | null;
}

async function benchThroughput(size: SizeCase): Promise<ThroughputRow> {
  const cellStart = now();
  const work = new Workload(size);
  const dir = freshPath('fjord');
  const fjord = new Fjord({ dir, allowAutoTopicCreation: false });
  let framesPath = '';
  try {
    await fillTopic(fjord, work);
    if (!fjordOnly) framesPath = writeFrames(work);
    const readBuffer = Buffer.allocUnsafe(READ_CHUNK_BYTES + 4 + size.valueBytes);
    console.error(
      `${size.label}: ${work.records.toLocaleString('en-US')} records (${(work.payloadBytes / MiB).toFixed(0)} MiB) in the topic, ` +
        `filled in ${(msSince(cellStart) / 1000).toFixed(1)} s; at least ${PASSES} timed passes each after a warm-up`,
    );
    // Warm-up: maps the segment (page faults) and brings the frame file into the cache, untimed.
    if (!fjordOnly) floorPass(framesPath, readBuffer, work);
    await fjordPass(fjord, work);
    const floorPasses: ConsumePass[] = [];
    const fjordPasses: ConsumePass[] = [];
    let timedMs = 0;
    while (fjordPasses.length < PASSES || (timedMs < MIN_CELL_MS && fjordPasses.length < MAX_PASSES)) {
      if (!fjordOnly) {
        gc?.();
        floorPasses.push(floorPass(framesPath, readBuffer, work));
        timedMs += floorPasses[floorPasses.length - 1]!.ms;
      }
      gc?.();
      fjordPasses.push(await fjordPass(fjord, work));
      timedMs += fjordPasses[fjordPasses.length - 1]!.ms;
    }
    const floor = fjordOnly ? null : throughput(work, floorPasses);
    const fjordM = throughput(work, fjordPasses);
    const { median, ...fjordRest } = fjordM;
    const floorRest = floor === null ? null : (({ median: _median, ...rest }) => rest)(floor);
    const row: ThroughputRow = {
      size: size.label,
      valueBytes: size.valueBytes,
      records: work.records,
      payloadBytes: work.payloadBytes,
      passes: fjordPasses.length,
      fjord: { ...fjordRest, firstBatchMs: median.firstBatchMs, batches: median.batches },
      floor: floorRest,
      ratio: floor === null ? null : fjordM.mbPerSec / floor.mbPerSec,
    };
    const spread = (m: Throughput) => `${Math.min(...m.passMbPerSec)}–${Math.max(...m.passMbPerSec)}`;
    console.error(
      `  ${fjordPasses.length} passes: fjord ${spread(fjordM)} MB/s (median ${Math.round(fjordM.mbPerSec)}, run() to first batch ${median.firstBatchMs.toFixed(2)} ms), ` +
        (floor === null ? '' : `floor ${spread(floor)} MB/s (median ${Math.round(floor.mbPerSec)}), median ratio ${row.ratio!.toFixed(2)}, `) +
        `${(msSince(cellStart) / 1000).toFixed(1)} s`,
    );
    return row;
  } finally {
    await fjord.close();
    rmSync(dir, { recursive: true, force: true });
    if (framesPath !== '') rmSync(framesPath, { force: true });
  }
}

// ---------------------------------------------------------------- latency

/** The shared produce → consume latency run (bench/sweep/latency-job.ts, also run by fjord-bench). */
async function benchLatency(): Promise<LatencyResult> {
  console.error(
    `latency: ${LATENCY_RATE.toLocaleString('en-US')} records/s of ${LATENCY_VALUE_BYTES} B, one per send, acks 1, for ${LATENCY_SECONDS} s after 0.5 s of warm-up`,
  );
  return runLatencyJob({ kind: 'latency', rate: LATENCY_RATE, seconds: LATENCY_SECONDS, valueBytes: LATENCY_VALUE_BYTES, workDir });
}

// ---------------------------------------------------------------- report

function throughputTable(rows: readonly ThroughputRow[]): string {
  const lines = [
    '| size | records | passes | fjord records/s | fjord MB/s | floor records/s | floor MB/s | fjord / floor |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of rows) {
    lines.push(
      `| ${row.size} | ${whole(row.records)} | ${row.passes} | ${whole(row.fjord.recordsPerSec)} | ${whole(row.fjord.mbPerSec)} | ` +
        (row.floor === null ? '– | – | – |' : `${whole(row.floor.recordsPerSec)} | ${whole(row.floor.mbPerSec)} | ${row.ratio!.toFixed(2)} |`),
    );
  }
  return lines.join('\n');
}

function latencyTable(result: LatencyResult): string {
  const e = result.endToEndMs;
  const s = result.sendMs;
  return [
    '| rate (records/s) | acks | value | records | p50 | p99 | p999 | max | send p50 | send p99 |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    `| ${whole(result.rate)} (achieved ${whole(result.achievedRate)}) | 1 | ${result.valueBytes} B | ${whole(result.records)} | ` +
      `${latency(e.p50)} | ${latency(e.p99)} | ${latency(e.p999)} | ${latency(e.max)} | ${latency(s.p50)} | ${latency(s.p99)} |`,
  ].join('\n');
}

function writeConsumeResults(rows: readonly ThroughputRow[], latencyResult: LatencyResult | null, startedAt: Date, sameFilesystem: boolean): string {
  return writeResults('consume', startedAt, quick, sameFilesystem, {
    settings: {
      passes: `at least ${PASSES}, more until a cell's timed passes add up to ${MIN_CELL_MS} ms (at most ${MAX_PASSES})`,
      gcBetweenPasses: gc !== undefined,
      filters: { only: args.only ?? 'all', size: args.size ?? 'all', fjordOnly },
      partitions: 1,
      fill: `${FILL_SENDERS} concurrent senders of ${FILL_SEND_BYTES / KiB} KiB of values, acks 1, producer defaults (batchSize 16384)`,
      consumer:
        'a fresh group per pass; fromBeginning, eachBatch, eachBatchAutoResolve, autoCommit; KafkaJS default fetch sizes (maxBytesPerPartition 1 MiB, maxBytes 10 MiB)',
      throughput: 'from consumer.run() (group join included) to the handler seeing the last offset; median pass; the first byte of each value touched',
      mbPerSec: 'record value bytes (10^6) per second over the median timed pass',
      floor: `4-byte length + value frames in one file, fs.readSync in ${READ_CHUNK_BYTES / MiB} MiB chunks, each frame parsed and the first byte of its value touched`,
      latency:
        'per record, from the start of its producer.send call (one record per send, acks 1) to its eachMessage call; the sender paces on setImmediate turns, sending every record due',
    },
    throughput: rows,
    latency: latencyResult,
    sink,
  });
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const sameFilesystem = onProjectFilesystem(workDir);
  console.error(banner('consume', quick, workDir, sameFilesystem));
  const rows: ThroughputRow[] = [];
  let latencyResult: LatencyResult | null = null;
  try {
    if (runThroughput) for (const size of sizes) rows.push(await benchThroughput(size));
    if (runLatency) latencyResult = await benchLatency();
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
  const elapsed = (Date.now() - startedAt.getTime()) / 1000;
  if (rows.length > 0) {
    console.log(
      `\nConsume throughput, one partition, from the page cache: one consumer (eachBatch, autoCommit, KafkaJS default fetch sizes) reads the whole topic, ` +
        `touching the first byte of each value; timed from run() (group join included) to the last offset. MB/s: record value bytes (10^6) per second, median pass.\n` +
        `floor: the same values as 4-byte length-prefixed frames read with fs.readSync in 1 MiB chunks, parsed, first byte touched.\n`,
    );
    console.log(throughputTable(rows));
    console.log(
      '\nFjord hands out views of the mapped segment and copies no value bytes, so once values are large its MB/s is a rate of\n' +
        'records handed out times their size, not of bytes moved; the floor copies every byte once out of the page cache.',
    );
  }
  if (latencyResult !== null) {
    console.log(
      `\nEnd-to-end latency: one 100 B record per producer.send (acks 1) at a fixed rate into one partition; a consumer (eachMessage) waiting at the end; ` +
        `from the start of the send call to eachMessage, over ${whole(latencyResult.records)} records after 0.5 s of warm-up. ` +
        `send: from the call to its promise resolving.\n`,
    );
    console.log(latencyTable(latencyResult));
  }
  console.log(`\nresults: ${writeConsumeResults(rows, latencyResult, startedAt, sameFilesystem)} (${elapsed.toFixed(1)} s)`);
}

await main();
