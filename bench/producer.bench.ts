// Producer throughput and latency: `producer.send` of batches of records into
// a one-partition topic, acks 1 and all, 1 sender (each awaits its send
// before the next) and 64 concurrent senders, record values of 100 B to 1 MB.
//
// In the same run, per cell, the floor: the same value bytes as 4-byte
// length-prefixed frames, framed and appended with `fs.writeSync` to one file.
// For acks all the floor fdatasyncs the way the best group commit could: once
// per send with 1 sender; with 64 senders once per round of 64 sends, all of
// whose latencies are the round's time. Acks all cells also measure two more
// floors: the same frames with ONE fdatasync at the end of the pass (what
// durability costs at best), and one fdatasync per record (no group commit;
// sampled for at most FSYNC_SAMPLE_MS, as it is slow).
//
// Each pass also records the process's CPU time (user + system): on a shared
// machine the wall-clock ratio swings with the load, the CPU ratio much less.
//
// A hand-rolled loop rather than tinybench: a cell is a few timed passes of a
// fixed volume, floor and Fjord alternating, each on a fresh file or data dir
// after a warm-up on it, timed with process.hrtime.bigint(); throughput is
// the median pass, latency is per send over all passes. Before each timed
// pass the page cache is primed (see primePageCache).
//
//   npx tsc -p tsconfig.json && node --expose-gc dist/bench/producer.bench.js [--quick] [--batch-size N]
//   one cell, e.g. to profile it: ... --size 100 --acks 1 --senders 64
//   an idempotent producer (acks all only): ... --idempotent --acks all
import { closeSync, fdatasyncSync, openSync, rmSync } from 'node:fs';
import { cpuUsage } from 'node:process';
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
  quantile,
  randomValueGroups,
  throughput,
  usageFor,
  whole,
  writeAll,
  writeResults,
  type Throughput,
} from './support.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'batch-size': { type: 'string' },
    idempotent: { type: 'boolean', default: false },
    // Filters, to run (and profile) one cell: --size 100 --acks 1 --senders 1; each may repeat.
    size: { type: 'string', multiple: true },
    acks: { type: 'string', multiple: true },
    senders: { type: 'string', multiple: true },
  },
});
const quick = args.quick;

const usage: (message: string) => never = usageFor('producer bench');

const batchSize = args['batch-size'] === undefined ? undefined : Number(args['batch-size']);
if (batchSize !== undefined && (!Number.isSafeInteger(batchSize) || batchSize < 1))
  usage(`--batch-size must be a positive integer, got ${JSON.stringify(args['batch-size'])}`);

interface SizeCase {
  label: string;
  valueBytes: number;
  /** Record value bytes sent by one cell's timed part, for acks 1 and acks all (at least MIN_ROUNDS rounds of the most senders). */
  cellBytes: { 1: number; [-1]: number };
}

const scale = quick ? 1 : 4;
const sizeCases: SizeCase[] = [
  { label: '100 B', valueBytes: 100, cellBytes: { 1: 32 * MiB * scale, [-1]: 12 * MiB * scale } },
  { label: '1 KiB', valueBytes: KiB, cellBytes: { 1: 64 * MiB * scale, [-1]: 24 * MiB * scale } },
  { label: '16 KiB', valueBytes: 16 * KiB, cellBytes: { 1: 128 * MiB * scale, [-1]: 48 * MiB * scale } },
  // 10^6 rather than 2^20: a 1 MiB value would not fit the default max.message.bytes (1 MiB + 12).
  { label: '1 MB', valueBytes: 1_000_000, cellBytes: { 1: 256 * MiB * scale, [-1]: 128 * MiB * scale } },
];
/** Timed passes per cell, floor and Fjord alternating, each on a fresh file or data dir; throughput is the median pass. */
const PASSES = quick ? 3 : 5;
const ACKS = [1, -1] as const;
const SENDERS = [1, 64] as const;
type Acks = (typeof ACKS)[number];

function filter<T>(all: readonly T[], given: string[] | undefined, key: (item: T) => string[], flag: string): T[] {
  if (given === undefined) return [...all];
  const chosen = all.filter((item) => key(item).some((k) => given.includes(k)));
  if (chosen.length === 0) usage(`--${flag} ${given.join(', ')} matches none of ${all.map((item) => key(item)[0]).join(', ')}`);
  return chosen;
}
const idempotent = args.idempotent;
if (idempotent && args.acks?.some((a) => a !== 'all' && a !== '-1')) usage('--idempotent sends with acks all only, as KafkaJS requires');
const sizes = filter(sizeCases, args.size, (s) => [String(s.valueBytes), s.label, s.label.replace(' ', '')], 'size');
const acksLevels = filter(ACKS, idempotent ? ['all'] : args.acks, (a) => (a === -1 ? ['all', '-1'] : [String(a)]), 'acks');
const senderCounts = filter(SENDERS, args.senders, (n) => [String(n)], 'senders');

/** Value bytes per `send` call: the records of one send are one request, as a KafkaJS user would batch them. */
const SEND_TARGET_BYTES = 64 * KiB;
/** Every cell runs at least this many rounds of the largest sender count. */
const MIN_ROUNDS = quick ? 2 : 4;
/** Sends before each timed pass, on the same log or file: a tenth of the pass, at least one round. */
const WARMUP_FRACTION = 0.1;
/** Distinct value bytes; sends cycle over them. Larger than CPU caches. */
const POOL_BYTES = 16 * MiB;
const TOPIC = 'bench';
/** Page cache primed before a timed part, relative to its value bytes (batches and frames add a little). */
const PRIME_FACTOR = 1.1;

noteMissingGc('cell');

const { path: workDir, freshPath } = makeWorkDir('fjord-producer-bench-');

/** The records of one size and acks level: `sends` arrays of messages over a pool of random values, reused by its cells. */
class Workload {
  readonly messagesPerSend: number;
  readonly sendBytes: number;
  readonly sends: number;
  readonly warmupSends: number;
  /** Per pooled send: its messages (for the producer) and their values (for the floor). */
  readonly messagePool: Message[][] = [];
  readonly valuePool: Buffer[][] = [];

  constructor(
    readonly size: SizeCase,
    acks: Acks,
  ) {
    this.messagesPerSend = Math.max(1, Math.floor(SEND_TARGET_BYTES / size.valueBytes));
    this.sendBytes = this.messagesPerSend * size.valueBytes;
    const mostSenders = Math.max(...SENDERS);
    this.sends = Math.max(Math.ceil(size.cellBytes[acks] / this.sendBytes), MIN_ROUNDS * mostSenders);
    this.sends = Math.ceil(this.sends / mostSenders) * mostSenders; // whole rounds
    this.warmupSends = Math.max(mostSenders, Math.ceil(this.sends * WARMUP_FRACTION));

    const pooled = Math.min(this.sends, Math.max(2, Math.floor(POOL_BYTES / this.sendBytes)));
    for (const values of randomValueGroups(pooled, this.messagesPerSend, size.valueBytes)) {
      this.valuePool.push(values);
      this.messagePool.push(values.map((value): Message => ({ key: null, value })));
    }
  }

  get records(): number {
    return this.sends * this.messagesPerSend;
  }

  get payloadBytes(): number {
    return this.sends * this.sendBytes;
  }

  messages(send: number): Message[] {
    return this.messagePool[send % this.messagePool.length]!;
  }

  values(send: number): Buffer[] {
    return this.valuePool[send % this.valuePool.length]!;
  }
}

/**
 * Writes and unlinks a file of `bytes`, right before a timed part, so the
 * page-cache pages that part will take were just freed. On a VM that returns
 * free guest memory to the host (free page reporting, as on this Firecracker
 * guest), pages idle for a couple of seconds fault on the host when touched
 * again: a timed write into them runs several times slower. Untimed.
 */
const PRIME_CHUNK = Buffer.alloc(MiB, 0x5a);
function primePageCache(bytes: number): void {
  const path = freshPath('prime');
  const fd = openSync(path, 'w');
  try {
    for (let written = 0; written < bytes; written += PRIME_CHUNK.length) writeAll(fd, PRIME_CHUNK);
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
}

// ---------------------------------------------------------------- cells

/** One timed pass of a cell. */
interface Pass {
  ms: number;
  /** CPU time of the process (user + system, all threads) during the pass, in ms. */
  cpuMs: number;
  /** Per send, from the call to its completion, in ms. */
  latencies: Float64Array;
  /** fsyncs (Fjord: group-commit flushes; floor: fdatasync calls) during the pass. */
  fsyncs: number;
}

interface Measurement extends Throughput {
  /** Record value bytes (10^6) per CPU second (user + system), over the pass of median CPU time. */
  cpuMbPerSec: number;
  /** Per send, over the sends of every pass. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Of the median pass. */
  fsyncs: number;
}

interface ResultRow {
  size: string;
  valueBytes: number;
  acks: Acks;
  senders: number;
  messagesPerSend: number;
  sends: number;
  records: number;
  payloadBytes: number;
  fjord: Measurement;
  floor: Measurement;
  /** Fjord MB/s over floor MB/s; above 1 means Fjord is faster. */
  ratio: number;
  /** Floor CPU time over Fjord CPU time for the same bytes; above 1 means Fjord spends less CPU. */
  cpuRatio: number;
  /** Acks all only: the frames with one fdatasync at the end of the pass, and Fjord's MB/s over its MB/s. */
  floorOneSync?: Measurement;
  ratioOneSync?: number;
  /** Acks all only: one fdatasync per record, and Fjord's records/s over its records/s. */
  syncPerRecord?: SyncPerRecord;
  ratioSyncPerRecord?: number;
}

interface SyncPerRecord {
  records: number;
  recordsPerSec: number;
  mbPerSec: number;
}

function measurement(work: Workload, passes: readonly Pass[]): Measurement {
  const { median, ...rate } = throughput(work, passes);
  const sorted = new Float64Array(passes.reduce((n, pass) => n + pass.latencies.length, 0));
  let at = 0;
  for (const pass of passes) {
    sorted.set(pass.latencies, at);
    at += pass.latencies.length;
  }
  sorted.sort();
  const cpuMs = passes.map((pass) => pass.cpuMs).sort((a, b) => a - b)[Math.floor(passes.length / 2)]!;
  return {
    ...rate,
    cpuMbPerSec: work.payloadBytes / 1e3 / cpuMs,
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    maxMs: sorted[sorted.length - 1] ?? NaN,
    fsyncs: median.fsyncs,
  };
}

/**
 * `senders` async loops share `count` sends, starting at send number `first`;
 * each awaits its send before taking the next. Latencies land in `latencies`
 * (by send number minus `first`) when given.
 */
async function drive(senders: number, first: number, count: number, send: (n: number) => Promise<unknown>, latencies?: Float64Array): Promise<void> {
  let next = 0;
  const loop = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const start = now();
      await send(first + i);
      if (latencies !== undefined) latencies[i] = msSince(start);
    }
  };
  await Promise.all(Array.from({ length: senders }, loop));
}

async function fjordPass(work: Workload, acks: Acks, senders: number): Promise<Pass> {
  const dir = freshPath('fjord');
  const fjord = new Fjord({ dir, allowAutoTopicCreation: false });
  try {
    const admin = fjord.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1 }] });
    await admin.disconnect();
    const producer = fjord.producer({ ...(batchSize === undefined ? {} : { batchSize }), ...(idempotent ? { idempotent } : {}) });
    await producer.connect();
    const send = (n: number) => producer.send({ topic: TOPIC, messages: work.messages(n), acks });

    await drive(senders, 0, work.warmupSends, send);
    gc?.();
    primePageCache(work.payloadBytes * PRIME_FACTOR);
    const partition = (await fjord.topics()).get(TOPIC).partition(0);
    const durability = partition.durability;
    const fsyncsBefore = durability.flushes;
    const latencies = new Float64Array(work.sends);
    const cpuBefore = cpuUsage();
    const start = now();
    await drive(senders, work.warmupSends, work.sends, send, latencies);
    const ms = msSince(start);
    const cpuMs = cpuMsSince(cpuBefore);
    const fsyncs = durability.flushes - fsyncsBefore;
    await producer.disconnect();
    const expected = (work.warmupSends + work.sends) * work.messagesPerSend;
    if (partition.log.logEndOffset !== expected) throw new Error(`fjord pass: the log ends at offset ${partition.log.logEndOffset}, expected ${expected}`);
    return { ms, cpuMs, latencies, fsyncs };
  } finally {
    await fjord.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The floor: frame and writeSync each send's values; for acks all, one
 * fdatasync per round of `senders` sends (every send of a round completes
 * with the round).
 */
function floorPass(work: Workload, acks: Acks, senders: number): Pass {
  const path = freshPath('frames');
  const fd = openSync(path, 'w');
  let fsyncs = 0;
  const round = (first: number, latencies?: Float64Array, at = 0): void => {
    const start = now();
    for (let s = 0; s < senders; s++) writeAll(fd, frame(work.values(first + s)));
    if (acks === -1) {
      fdatasyncSync(fd);
      fsyncs++;
    }
    if (latencies !== undefined) latencies.fill(msSince(start), at, at + senders);
  };
  try {
    for (let s = 0; s < work.warmupSends; s += senders) round(s);
    gc?.();
    primePageCache(work.payloadBytes * PRIME_FACTOR);
    fsyncs = 0;
    const latencies = new Float64Array(work.sends);
    const cpuBefore = cpuUsage();
    const start = now();
    for (let s = 0; s < work.sends; s += senders) round(work.warmupSends + s, latencies, s);
    const ms = msSince(start);
    return { ms, cpuMs: cpuMsSince(cpuBefore), latencies, fsyncs };
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
}

/**
 * The floor of durability: every send's frames written with writeSync and
 * ONE fdatasync at the end of the pass (timed); a send's latency is the
 * pass's time, as none is durable before the end.
 */
function floorOneSyncPass(work: Workload): Pass {
  const path = freshPath('frames-one-sync');
  const fd = openSync(path, 'w');
  try {
    for (let s = 0; s < work.warmupSends; s++) writeAll(fd, frame(work.values(s)));
    fdatasyncSync(fd);
    gc?.();
    primePageCache(work.payloadBytes * PRIME_FACTOR);
    const cpuBefore = cpuUsage();
    const start = now();
    for (let s = 0; s < work.sends; s++) writeAll(fd, frame(work.values(work.warmupSends + s)));
    fdatasyncSync(fd);
    const ms = msSince(start);
    return { ms, cpuMs: cpuMsSince(cpuBefore), latencies: new Float64Array(work.sends).fill(ms), fsyncs: 1 };
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
}

/** fdatasync per record is slow: it is timed over at most this long (and at most the cell's records). */
const FSYNC_SAMPLE_MS = quick ? 1000 : 3000;

/** No group commit: each record framed, written and fdatasynced on its own. */
function syncPerRecord(work: Workload): SyncPerRecord {
  const path = freshPath('frames-sync-each');
  const fd = openSync(path, 'w');
  const values = work.values(0);
  const one = (r: number): void => {
    writeAll(fd, frame([values[r % values.length]!]));
    fdatasyncSync(fd);
  };
  try {
    for (let r = 0; r < 8; r++) one(r);
    let records = 0;
    const start = now();
    while (records < work.records && (records < 16 || msSince(start) < FSYNC_SAMPLE_MS)) one(records++);
    const seconds = msSince(start) / 1000;
    return { records, recordsPerSec: records / seconds, mbPerSec: (records * work.size.valueBytes) / 1e6 / seconds };
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
}

function cpuMsSince(before: NodeJS.CpuUsage): number {
  const used = cpuUsage(before);
  return (used.user + used.system) / 1000;
}

async function benchSize(size: SizeCase): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  for (const acks of acksLevels) {
    const work = new Workload(size, acks);
    console.error(
      `${size.label}, acks ${acksLabel(acks)}: ${work.records.toLocaleString('en-US')} records (${(work.payloadBytes / MiB).toFixed(0)} MiB) in ` +
        `${work.sends.toLocaleString('en-US')} sends of ${work.messagesPerSend} per pass, after ${work.warmupSends} warm-up sends`,
    );
    // Independent of the sender count: measured once per size.
    const perRecord = acks === -1 ? syncPerRecord(work) : undefined;
    for (const senders of senderCounts) {
      const cellStart = now();
      const floorPasses: Pass[] = [];
      const oneSyncPasses: Pass[] = [];
      const fjordPasses: Pass[] = [];
      for (let pass = 0; pass < PASSES; pass++) {
        floorPasses.push(floorPass(work, acks, senders));
        if (acks === -1) oneSyncPasses.push(floorOneSyncPass(work));
        fjordPasses.push(await fjordPass(work, acks, senders));
      }
      const floor = measurement(work, floorPasses);
      const fjord = measurement(work, fjordPasses);
      const floorOneSync = acks === -1 ? measurement(work, oneSyncPasses) : undefined;
      const row: ResultRow = {
        size: size.label,
        valueBytes: size.valueBytes,
        acks,
        senders,
        messagesPerSend: work.messagesPerSend,
        sends: work.sends,
        records: work.records,
        payloadBytes: work.payloadBytes,
        fjord,
        floor,
        ratio: fjord.mbPerSec / floor.mbPerSec,
        cpuRatio: fjord.cpuMbPerSec / floor.cpuMbPerSec,
        ...(floorOneSync === undefined || perRecord === undefined
          ? {}
          : {
              floorOneSync,
              ratioOneSync: fjord.mbPerSec / floorOneSync.mbPerSec,
              syncPerRecord: perRecord,
              ratioSyncPerRecord: fjord.recordsPerSec / perRecord.recordsPerSec,
            }),
      };
      rows.push(row);
      const durable =
        row.floorOneSync === undefined
          ? ''
          : `; floor with one fdatasync ${row.floorOneSync.passMbPerSec.join(' ')} MB/s, ratio ${row.ratioOneSync!.toFixed(2)}; ` +
            `fdatasync per record ${whole(row.syncPerRecord!.recordsPerSec)} records/s, fjord ${row.ratioSyncPerRecord!.toFixed(1)}x`;
      console.error(
        `  acks ${acksLabel(acks).padEnd(3)} senders ${String(senders).padStart(2)}: fjord ${fjord.passMbPerSec.join(' ')} MB/s, ` +
          `floor ${floor.passMbPerSec.join(' ')} MB/s, median ratio ${row.ratio.toFixed(2)} (cpu ${row.cpuRatio.toFixed(2)})${durable}, ${(msSince(cellStart) / 1000).toFixed(1)} s`,
      );
    }
  }
  return rows;
}

// ---------------------------------------------------------------- report

function acksLabel(acks: Acks): string {
  return acks === -1 ? 'all' : String(acks);
}

function markdownTable(rows: readonly ResultRow[]): string {
  const lines = [
    '| size | acks | senders | fjord records/s | fjord MB/s | p50 | p99 | floor MB/s | fjord / floor | cpu: fjord / floor | fsyncs fjord / floor | ' +
      'floor, one fdatasync, MB/s | fjord / that | fdatasync per record, records/s | fjord / that (records/s) |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of rows) {
    const fsyncs = row.acks === -1 ? `${whole(row.fjord.fsyncs)} / ${whole(row.floor.fsyncs)}` : '–';
    const durable =
      row.floorOneSync === undefined
        ? '– | – | – | –'
        : `${whole(row.floorOneSync.mbPerSec)} | ${row.ratioOneSync!.toFixed(2)} | ${whole(row.syncPerRecord!.recordsPerSec)} | ${row.ratioSyncPerRecord!.toFixed(1)}`;
    lines.push(
      `| ${row.size} | ${acksLabel(row.acks)} | ${row.senders} | ${whole(row.fjord.recordsPerSec)} | ${whole(row.fjord.mbPerSec)} | ` +
        `${latency(row.fjord.p50Ms)} | ${latency(row.fjord.p99Ms)} | ${whole(row.floor.mbPerSec)} | ${row.ratio.toFixed(2)} | ${row.cpuRatio.toFixed(2)} | ${fsyncs} | ${durable} |`,
    );
  }
  return lines.join('\n');
}

function writeProducerResults(rows: readonly ResultRow[], startedAt: Date, sameFilesystem: boolean): string {
  return writeResults('producer', startedAt, quick, sameFilesystem, {
    settings: {
      passes: PASSES,
      gcBetweenPasses: gc !== undefined,
      filters: { size: args.size ?? 'all', acks: args.acks ?? 'all', senders: args.senders ?? 'all' },
      partitions: 1,
      producerBatchSize: batchSize ?? 'default (16384)',
      sendTargetBytes: SEND_TARGET_BYTES,
      minRounds: MIN_ROUNDS,
      warmupFraction: WARMUP_FRACTION,
      poolBytes: POOL_BYTES,
      mbPerSec: 'record value bytes (10^6) per second over the median timed pass of the cell',
      latency: 'per send over all passes, from the call to its resolution (floor: the time of the round of `senders` sends it belongs to)',
      primePageCache: `a file of ${PRIME_FACTOR}x the pass's bytes written and unlinked before each timed pass`,
      floor: '4-byte length + value frames, framed and written with fs.writeSync; acks all: one fdatasync per round of `senders` sends',
      floorOneSync: 'acks all: the same frames with one fdatasync at the end of the timed pass',
      syncPerRecord: `acks all: one frame written and fdatasynced per record, timed over at most ${FSYNC_SAMPLE_MS} ms`,
      cpuRatio: 'CPU time (user + system) of the floor over that of Fjord for the same bytes, median passes',
    },
    results: rows,
  });
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const sameFilesystem = onProjectFilesystem(workDir);
  console.error(banner('producer', quick, workDir, sameFilesystem));
  const rows: ResultRow[] = [];
  try {
    for (const size of sizes) rows.push(...(await benchSize(size)));
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
  const elapsed = (Date.now() - startedAt.getTime()) / 1000;
  console.log(
    `\nOne partition, producer batchSize ${batchSize ?? '16384 (default)'}, ${Math.floor(SEND_TARGET_BYTES / KiB)} KiB of values per send. ` +
      `MB/s: record value bytes (10^6) per second, median of ${PASSES} passes; p50/p99: latency of one send over all passes.\n` +
      'floor: the same values as 4-byte length-prefixed frames appended with fs.writeSync; for acks all, one fdatasync per send (1 sender) ' +
      'or per round of 64 sends (64 senders), the best a group commit can do. cpu: CPU seconds of the floor over those of Fjord for the same bytes. ' +
      'Acks all also: the frames with ONE fdatasync at the end of the pass, and one fdatasync per record (records/s, sampled).\n',
  );
  console.log(markdownTable(rows));
  console.log(`\nresults: ${writeProducerResults(rows, startedAt, sameFilesystem)} (${elapsed.toFixed(1)} s)`);
}

await main();
