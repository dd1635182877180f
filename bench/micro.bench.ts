// Micro benchmarks of the hot paths under the producer and the consumer:
// RecordBatch encode and decode, Log.append, murmur2 and the default
// partitioner, and the index lookups behind Log.read and offsetForTimestamp.
//
//   npx tsc -p tsconfig.json && node --expose-gc dist/bench/micro.bench.js [--quick]
//
// Every task does its setup (records, encoded batches, logs on disk) before it
// is timed and folds what it computes into `sink`, so V8 cannot drop the work.
// Short operations run `opsPerCall` times per timed call (1024 keys or lookups,
// 256 KiB of batches), so the timer's own cost is spread over many of them;
// ns/op is the time of a call divided by its operations.
import { rmSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { parseArgs } from 'node:util';

import { Bench, type FnOptions, type Task } from 'tinybench';

import { batchInfos, decodeBatches, encodeBatch, Log, murmur2, Partitioners, type LogOptions, type PartitionerArgs, type RecordInput } from '../src/index.js';
import { banner, gc, KiB, makeWorkDir, MiB, noteMissingGc, onProjectFilesystem, randomValueGroups, whole, writeResults } from './support.js';

const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const quick = args.quick;

const TASK_TIME_MS = quick ? 250 : 700;
const WARMUP_TIME_MS = quick ? 50 : 150;
const MIN_CALLS = quick ? 8 : 16;

const RECORD_SIZES = [
  { label: '100 B', valueBytes: 100 },
  { label: '1 KiB', valueBytes: KiB },
  { label: '16 KiB', valueBytes: 16 * KiB },
];
// A whole batch is at most this many bytes (one record when a record alone is larger);
// 1 MiB stays under the default max.message.bytes (1048588), so the log takes it.
const BATCH_SIZES = [
  { label: '16 KiB', bytes: 16 * KiB },
  { label: '1 MiB', bytes: MiB },
];
// Append measures the page-cache path: every TRIM_BYTES the log is cut back to
// empty (untimed), so no segment rolls and nothing is written back to disk
// inside a measurement. Sustained appends with rolls and writeback: bench:store.
const TRIM_BYTES = 128 * MiB;
const APPEND_LOG: LogOptions = { segmentBytes: 2 * TRIM_BYTES };
// The log the index lookups search: INDEX_BATCHES batches of 16 records of 1 KiB, over many segments.
const INDEX_LOG: LogOptions = { segmentBytes: 4 * MiB };
const INDEX_BATCHES = 4096;
const INDEX_RECORDS_PER_BATCH = 16;
const INDEX_FIRST_TIMESTAMP = 1_700_000_000_000;
// Keys, partitioner arguments and lookup targets are drawn from pools of this many, walked in turn.
const POOL = 1024;
const PARTITIONS = 6;
// Batch tasks handle this many bytes per timed call (at least one batch), so the
// timer's ~60 ns stays near 1% of a call even for the fastest 16 KiB decode.
const CALL_BYTES = 256 * KiB;

noteMissingGc('task');

const { path: workDir, freshPath } = makeWorkDir('fjord-micro-bench-');

// Everything the tasks compute ends up here (as an int32), so no task's work is dead code.
let sink = 0;

type Group = 'encode' | 'append' | 'decode' | 'hash' | 'partition' | 'index';

interface MicroTask {
  group: Group;
  name: string;
  /** Operations per timed call. */
  opsPerCall: number;
  /** Bytes one operation processes (an encoded batch), or 0 where bytes do not apply. */
  bytesPerOp: number;
  fn: () => void;
  hooks?: FnOptions;
}

// ---------------------------------------------------------------- records and batches

/** Records of `valueBytes` random bytes (no key), as many as fit one batch of at most `batchBytes`. */
function recordsForBatch(valueBytes: number, batchBytes: number): RecordInput[] {
  let count = Math.max(1, Math.floor(batchBytes / valueBytes));
  const [values] = randomValueGroups(1, count, valueBytes);
  const records = values!.map((value): RecordInput => ({ key: null, value }));
  for (;;) {
    const size = encodeBatch(records.slice(0, count)).length;
    if (size <= batchBytes || count === 1) return records.slice(0, count);
    // Shrink in proportion to the overshoot, then step down to the exact fit.
    count = Math.max(1, Math.min(count - 1, Math.floor((count * batchBytes) / size)));
  }
}

interface BatchCase {
  label: string;
  records: RecordInput[];
  encoded: Buffer;
  /** Batches per timed call. */
  perCall: number;
}

function batchCases(): BatchCase[] {
  const cases: BatchCase[] = [];
  for (const size of RECORD_SIZES) {
    for (const batch of BATCH_SIZES) {
      const records = recordsForBatch(size.valueBytes, batch.bytes);
      const encoded = encodeBatch(records);
      const label = `${size.label} records, ${batch.label} batch (${records.length} × ${size.label}, ${whole(encoded.length)} B)`;
      cases.push({ label, records, encoded, perCall: Math.max(1, Math.floor(CALL_BYTES / encoded.length)) });
    }
  }
  return cases;
}

// ---------------------------------------------------------------- tasks

function encodeTasks(cases: readonly BatchCase[]): MicroTask[] {
  return cases.map(({ label, records, encoded, perCall }) => ({
    group: 'encode',
    name: `encodeBatch, ${label}`,
    opsPerCall: perCall,
    bytesPerOp: encoded.length,
    fn: () => {
      for (let i = 0; i < perCall; i++) {
        const batch = encodeBatch(records);
        sink = (sink + batch.length + batch[batch.length - 1]!) | 0;
      }
    },
  }));
}

function appendTasks(cases: readonly BatchCase[]): MicroTask[] {
  return cases.map(({ label, encoded, perCall }) => {
    let log: Log | null = null;
    let dir = '';
    let sinceTrim = 0;
    return {
      group: 'append',
      name: `Log.append, ${label}`,
      opsPerCall: perCall,
      bytesPerOp: encoded.length,
      fn: () => {
        for (let i = 0; i < perCall; i++) sink = (sink + log!.append(encoded).lastOffset) | 0;
      },
      hooks: {
        // A fresh log for the warm-up and one for the run; opening and removing it is not timed.
        beforeAll: () => {
          gc?.();
          dir = freshPath('append-log');
          log = Log.openSync(dir, APPEND_LOG);
          sinceTrim = 0;
        },
        afterEach: () => {
          sinceTrim += encoded.length * perCall;
          if (sinceTrim >= TRIM_BYTES) {
            log!.truncateTo(0);
            sinceTrim = 0;
          }
        },
        afterAll: () => {
          log?.closeSync();
          log = null;
          rmSync(dir, { recursive: true, force: true });
        },
      },
    };
  });
}

/** Decodes each case's batch as a consumer gets it: bytes returned by Log.read, viewing the mapped segment. */
function decodeTasks(cases: readonly BatchCase[], fetchLog: Log): MicroTask[] {
  return cases.map(({ label, records, encoded, perCall }) => {
    const { baseOffset } = fetchLog.append(encoded);
    const fetched = fetchLog.read(baseOffset, encoded.length);
    if (fetched.length !== encoded.length) throw new Error(`decode setup: read ${fetched.length} bytes, appended ${encoded.length}`);
    const count = records.length;
    return {
      group: 'decode',
      name: `decodeBatches, ${label}`,
      opsPerCall: perCall,
      bytesPerOp: encoded.length,
      fn: () => {
        for (let i = 0; i < perCall; i++) {
          let seen = 0;
          let touched = 0;
          for (const record of decodeBatches(fetched)) {
            const value = record.value!;
            touched += value.length + value[0]! + record.offset;
            seen++;
          }
          if (seen !== count) throw new Error(`decodeBatches yielded ${seen} records, expected ${count}`);
          sink = (sink + touched) | 0;
        }
      },
    };
  });
}

function randomKeys(keyBytes: number): Buffer[] {
  const bytes = randomFillSync(Buffer.allocUnsafe(POOL * keyBytes));
  return Array.from({ length: POOL }, (_, i) => bytes.subarray(i * keyBytes, (i + 1) * keyBytes));
}

function hashTasks(): MicroTask[] {
  return [10, 100].map((keyBytes) => {
    const keys = randomKeys(keyBytes);
    return {
      group: 'hash',
      name: `murmur2, ${keyBytes}-byte key`,
      opsPerCall: POOL,
      bytesPerOp: keyBytes,
      fn: () => {
        let h = 0;
        for (let i = 0; i < POOL; i++) h ^= murmur2(keys[i]!);
        sink = (sink + h) | 0;
      },
    };
  });
}

function partitionerTasks(): MicroTask[] {
  const partitionMetadata = Array.from({ length: PARTITIONS }, (_, partitionId) => ({ partitionId, leader: 0 }));
  const value = randomFillSync(Buffer.allocUnsafe(100));
  const argsWith = (key: (i: number) => Buffer | string | null): PartitionerArgs[] =>
    Array.from({ length: POOL }, (_, i) => ({ topic: 'events', partitionMetadata, message: { key: key(i), value } }));
  const bufferKeys = randomKeys(10);
  const cases: { name: string; args: PartitionerArgs[] }[] = [
    { name: '10-byte Buffer key', args: argsWith((i) => bufferKeys[i]!) },
    // Like the demo's user ids: a string key is hashed as its UTF-8 bytes.
    { name: '10-char string key', args: argsWith((i) => `user-${String(10_000 + i)}`) },
    { name: 'no key (round-robin)', args: argsWith(() => null) },
  ];
  return cases.map(({ name, args }) => {
    const partition = Partitioners.DefaultPartitioner();
    return {
      group: 'partition',
      name: `DefaultPartitioner, ${name}, ${PARTITIONS} partitions`,
      opsPerCall: POOL,
      bytesPerOp: 0,
      fn: () => {
        let sum = 0;
        for (let i = 0; i < POOL; i++) sum += partition(args[i]!);
        sink = (sink + sum) | 0;
      },
    };
  });
}

/** INDEX_BATCHES batches whose record at offset o has timestamp INDEX_FIRST_TIMESTAMP + o. */
function fillIndexLog(log: Log): void {
  const values = randomValueGroups(1, INDEX_RECORDS_PER_BATCH, KiB)[0]!;
  for (let b = 0; b < INDEX_BATCHES; b++) {
    const first = b * INDEX_RECORDS_PER_BATCH;
    log.append(encodeBatch(values.map((value, i): RecordInput => ({ key: null, value, timestamp: INDEX_FIRST_TIMESTAMP + first + i }))));
  }
}

function indexTasks(indexLog: Log): MicroTask[] {
  const end = indexLog.logEndOffset;
  const segments = indexLog.segments().length;
  const offsets = Int32Array.from({ length: POOL }, () => Math.floor(Math.random() * end));
  // Checked once, untimed: a lookup lands on the batch holding the offset, and timestamps map back to offsets.
  for (const offset of offsets.subarray(0, 32)) {
    const [first] = batchInfos(indexLog.read(offset, 1));
    if (first === undefined || first.baseOffset > offset || first.lastOffset < offset) throw new Error(`read(${offset}) missed its batch`);
    const found = indexLog.offsetForTimestamp(INDEX_FIRST_TIMESTAMP + offset);
    if (found !== offset) throw new Error(`offsetForTimestamp for offset ${offset} gave ${found}`);
  }
  const where = `${whole(end)} offsets in ${INDEX_BATCHES} batches over ${segments} segments`;
  return [
    {
      group: 'index',
      name: `Log.read at a random offset (one batch), ${where}`,
      opsPerCall: POOL,
      bytesPerOp: 0,
      fn: () => {
        let sum = 0;
        for (let i = 0; i < POOL; i++) sum += indexLog.read(offsets[i]!, 1).length;
        sink = (sink + sum) | 0;
      },
    },
    {
      group: 'index',
      name: `Log.offsetForTimestamp at a random time, ${where}`,
      opsPerCall: POOL,
      bytesPerOp: 0,
      fn: () => {
        let sum = 0;
        for (let i = 0; i < POOL; i++) sum += indexLog.offsetForTimestamp(INDEX_FIRST_TIMESTAMP + offsets[i]!)!;
        sink = (sink + sum) | 0;
      },
    },
  ];
}

// ---------------------------------------------------------------- run and report

interface ResultRow {
  group: Group;
  name: string;
  opsPerCall: number;
  bytesPerOp: number;
  timedCalls: number;
  /** Over the median call: on a shared machine a few preempted calls move the mean far more than the median. */
  opsPerSec: number;
  /** Median call, per operation. */
  nsPerOp: number;
  /** Mean call, per operation. */
  meanNsPerOp: number;
  /** 10^6 bytes per second over the median call; null where bytes do not apply. */
  mbPerSec: number | null;
  /** Relative margin of error of the mean (95%), in percent. */
  rmePercent: number;
}

function resultRow(task: Task, micro: MicroTask): ResultRow {
  const result = task.result;
  if (result.state !== 'completed') {
    throw new Error(`task '${task.name}' ended ${result.state}${result.state === 'errored' ? `: ${result.error.message}` : ''}`);
  }
  const nsPerOp = (result.latency.p50 * 1e6) / micro.opsPerCall;
  return {
    group: micro.group,
    name: micro.name,
    opsPerCall: micro.opsPerCall,
    bytesPerOp: micro.bytesPerOp,
    timedCalls: result.latency.samplesCount,
    opsPerSec: 1e9 / nsPerOp,
    nsPerOp,
    meanNsPerOp: (result.latency.mean * 1e6) / micro.opsPerCall,
    mbPerSec: micro.bytesPerOp > 0 ? (micro.bytesPerOp * 1e3) / nsPerOp : null,
    rmePercent: result.latency.rme,
  };
}

function nanoseconds(ns: number): string {
  return ns < 100 ? ns.toFixed(1) : whole(ns);
}

function markdownTable(rows: readonly ResultRow[]): string {
  const lines = ['| group | task | ops/s | ns/op | MB/s | mean ns/op | ± |', '|---|---|---:|---:|---:|---:|---:|'];
  for (const row of rows) {
    const mb = row.mbPerSec === null ? '–' : whole(row.mbPerSec);
    lines.push(
      `| ${row.group} | ${row.name} | ${whole(row.opsPerSec)} | ${nanoseconds(row.nsPerOp)} | ${mb} | ` +
        `${nanoseconds(row.meanNsPerOp)} | ${row.rmePercent.toFixed(1)}% |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const sameFilesystem = onProjectFilesystem(workDir);
  console.error(banner('micro', quick, workDir, sameFilesystem));
  const logs: Log[] = [];
  const rows: ResultRow[] = [];
  try {
    const cases = batchCases();
    const fetchLog = Log.openSync(freshPath('fetch-log'));
    logs.push(fetchLog);
    const indexLog = Log.openSync(freshPath('index-log'), INDEX_LOG);
    logs.push(indexLog);
    fillIndexLog(indexLog);

    const micros = [
      ...encodeTasks(cases),
      ...appendTasks(cases),
      ...decodeTasks(cases, fetchLog),
      ...hashTasks(),
      ...partitionerTasks(),
      ...indexTasks(indexLog),
    ];
    const bench = new Bench({
      time: TASK_TIME_MS,
      iterations: MIN_CALLS,
      warmupTime: WARMUP_TIME_MS,
      warmupIterations: 4,
      timestampProvider: 'hrtimeNow',
      throws: true,
    });
    for (const micro of micros) {
      const { beforeAll, ...hooks } = micro.hooks ?? {};
      bench.add(micro.name, micro.fn, {
        ...hooks,
        // async: false skips tinybench's detection, which would call the task once outside its hooks.
        async: false,
        beforeAll(mode) {
          gc?.();
          return beforeAll?.call(this, mode);
        },
      });
    }
    bench.runSync();
    for (const micro of micros) rows.push(resultRow(bench.getTask(micro.name)!, micro));
  } finally {
    for (const log of logs) log.closeSync();
    rmSync(workDir, { recursive: true, force: true });
  }
  if (!Number.isInteger(sink)) throw new Error('the result sink lost its int32');
  const elapsed = (Date.now() - startedAt.getTime()) / 1000;
  console.log(
    `\n${TASK_TIME_MS} ms of timed calls per task after ${WARMUP_TIME_MS} ms of warm-up. ops/s, ns/op and MB/s: over the median call;\n` +
      'mean ns/op and ± (the relative margin of error of the mean, 95%) show how much slow calls (GC, preemption) weigh.\n' +
      'MB/s: bytes of the encoded batch, or of the key for murmur2 (10^6 per second). Records have no key and a random value.\n' +
      `Append runs in the page cache: the log is cut back to empty every ${TRIM_BYTES / MiB} MiB (untimed), so it never rolls a segment or waits for writeback.\n`,
  );
  console.log(markdownTable(rows));
  const path = writeResults('micro', startedAt, quick, sameFilesystem, {
    settings: {
      taskTimeMs: TASK_TIME_MS,
      warmupTimeMs: WARMUP_TIME_MS,
      minCalls: MIN_CALLS,
      callBytes: CALL_BYTES,
      keyAndLookupPool: POOL,
      appendLog: APPEND_LOG,
      appendTrimBytes: TRIM_BYTES,
      indexLog: { ...INDEX_LOG, batches: INDEX_BATCHES, recordsPerBatch: INDEX_RECORDS_PER_BATCH, valueBytes: KiB },
      partitions: PARTITIONS,
      mbPerSec: 'encoded batch bytes, or key bytes for murmur2 (10^6), per second over the median call',
    },
    results: rows,
  });
  console.log(`\nresults: ${path} (${elapsed.toFixed(1)} s)`);
}

await main();
