// Throughput of the segment store (append, read) against a plain-file baseline:
// length-prefixed frames written with fs.writeSync and read back with fs.readSync.
//
//   npx tsc -p tsconfig.json && node --expose-gc dist/bench/store.bench.js [--quick]
//
// MB/s counts record value bytes (10^6 B) for both sides, so the ratio is a
// ratio of times for the same user data; format overhead is part of the cost.
import { closeSync, openSync, readSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { Bench, type Task } from 'tinybench';

import { decodeBatches, encodeBatch, Log, type LogOptions, type RecordInput } from '../src/index.js';
import { banner, frame, gc, KiB, makeWorkDir, MiB, noteMissingGc, randomValueGroups, whole, writeAll, writeResults } from './support.js';

const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const quick = args.quick;

interface SizeCase {
  label: string;
  valueBytes: number;
  /** Record value bytes written (and read) by one pass. */
  passBytes: number;
}

const sizeCases: SizeCase[] = [
  { label: '100 B', valueBytes: 100, passBytes: (quick ? 16 : 64) * MiB },
  { label: '1 KiB', valueBytes: KiB, passBytes: (quick ? 64 : 256) * MiB },
  { label: '16 KiB', valueBytes: 16 * KiB, passBytes: (quick ? 128 : 256) * MiB },
  // 10^6 rather than 2^20: a 1 MiB value would not fit the default max.message.bytes (1 MiB + 12).
  { label: '1 MB', valueBytes: 1_000_000, passBytes: (quick ? 128 : 256) * MiB },
];

const BATCH_TARGET_BYTES = 64 * KiB;
// Distinct record values per size; passes cycle over them. Larger than CPU caches.
const POOL_BYTES = 16 * MiB;
const READ_CHUNK_BYTES = MiB;
const PASSES = quick ? 4 : 8;
// Small enough that the bigger sizes' append passes roll segments.
const logOptions: LogOptions = { segmentBytes: 64 * MiB };

noteMissingGc('pass');

const { path: workDir, freshPath } = makeWorkDir('fjord-bench-');

/** The records of one size case, laid out once and reused by every pass. */
class Workload {
  readonly recordsPerBatch: number;
  readonly batchesPerPass: number;
  readonly recordsPerPass: number;
  readonly payloadBytesPerPass: number;
  /** Per pooled batch: its records (for encodeBatch), the encoded batch and its frames. */
  readonly recordBatches: RecordInput[][] = [];
  readonly valueBatches: Buffer[][] = [];
  readonly encodedBatches: Buffer[] = [];
  readonly frameChunks: Buffer[] = [];

  constructor(readonly size: SizeCase) {
    this.recordsPerBatch = Math.max(1, Math.floor(BATCH_TARGET_BYTES / size.valueBytes));
    const batchBytes = this.recordsPerBatch * size.valueBytes;
    this.batchesPerPass = Math.max(1, Math.round(size.passBytes / batchBytes));
    this.recordsPerPass = this.batchesPerPass * this.recordsPerBatch;
    this.payloadBytesPerPass = this.recordsPerPass * size.valueBytes;

    const pooledBatches = Math.min(this.batchesPerPass, Math.max(1, Math.floor(POOL_BYTES / batchBytes)));
    for (const values of randomValueGroups(pooledBatches, this.recordsPerBatch, size.valueBytes)) {
      const records = values.map((value): RecordInput => ({ key: null, value }));
      this.valueBatches.push(values);
      this.recordBatches.push(records);
      this.encodedBatches.push(encodeBatch(records));
      this.frameChunks.push(frame(values));
    }
  }

  get maxFrameBytes(): number {
    return 4 + this.size.valueBytes;
  }
}

function expectCount(what: string, actual: number, expected: number): void {
  if (actual !== expected) throw new Error(`${what}: saw ${actual} records, expected ${expected}`);
}

// ---------------------------------------------------------------- passes

function appendPass(log: Log, work: Workload, encode: boolean): void {
  const pooled = work.encodedBatches.length;
  for (let b = 0; b < work.batchesPerPass; b++) {
    log.append(encode ? encodeBatch(work.recordBatches[b % pooled]!) : work.encodedBatches[b % pooled]!);
  }
}

function baselineAppendPass(fd: number, work: Workload, encode: boolean): void {
  const pooled = work.frameChunks.length;
  for (let b = 0; b < work.batchesPerPass; b++) {
    writeAll(fd, encode ? frame(work.valueBatches[b % pooled]!) : work.frameChunks[b % pooled]!);
  }
}

// Accumulates what the read passes touch, so no pass can be optimised away.
// biome-ignore lint/correctness/noUnusedVariables: written only, on purpose (a closure variable V8 cannot drop)
let sink = 0;

/** Walks the whole log with readSlice; with `decode`, also every record, touching its value. */
function readPass(log: Log, work: Workload, decode: boolean): void {
  let records = 0;
  let touched = 0;
  let slice = log.readSlice(0, READ_CHUNK_BYTES);
  while (slice !== null) {
    if (decode) {
      for (const record of decodeBatches(slice.bytes)) {
        const value = record.value!;
        touched += value.length + value[0]! + (record.key?.length ?? 0);
        records++;
      }
    } else {
      touched += slice.bytes.length;
      records = slice.nextOffset;
    }
    slice = log.readSlice(slice.nextOffset, READ_CHUNK_BYTES);
  }
  expectCount(decode ? 'store read + decode' : 'store read', records, work.recordsPerPass);
  sink += touched;
}

/** Reads the frame file in chunks and walks its frames; with `decode`, also views and touches each value. */
function baselineReadPass(path: string, readBuffer: Buffer, work: Workload, decode: boolean): void {
  const fd = openSync(path, 'r');
  let records = 0;
  let touched = 0;
  let filePosition = 0;
  let filled = 0;
  try {
    for (;;) {
      const bytesRead = readSync(fd, readBuffer, filled, READ_CHUNK_BYTES, filePosition);
      if (bytesRead === 0) break;
      filePosition += bytesRead;
      filled += bytesRead;
      let at = 0;
      while (filled - at >= 4) {
        const length = readBuffer.readUInt32BE(at);
        if (filled - at - 4 < length) break;
        if (decode) {
          const value = readBuffer.subarray(at + 4, at + 4 + length);
          touched += value.length + value[0]!;
        }
        at += 4 + length;
        records++;
      }
      // Carry a partial frame to the front; the buffer has room for one frame plus a chunk.
      readBuffer.copyWithin(0, at, filled);
      filled -= at;
    }
  } finally {
    closeSync(fd);
  }
  expectCount(decode ? 'baseline read + parse' : 'baseline read', records, work.recordsPerPass);
  sink += touched;
}

// ---------------------------------------------------------------- one size

type Operation = 'append' | 'append + encode' | 'read' | 'read + decode';
const operations: Operation[] = ['append', 'append + encode', 'read', 'read + decode'];

interface Measurement {
  medianMs: number;
  meanMs: number;
  rmePercent: number;
  passes: number;
  mbPerSec: number;
  recordsPerSec: number;
}

interface ResultRow {
  size: string;
  valueBytes: number;
  operation: Operation;
  recordsPerPass: number;
  payloadBytesPerPass: number;
  store: Measurement;
  baseline: Measurement;
  /** Store throughput over baseline throughput; above 1 means the store is faster. */
  ratio: number;
}

function measurement(task: Task, work: Workload): Measurement {
  const result = task.result;
  if (result.state !== 'completed') {
    throw new Error(`task '${task.name}' ended ${result.state}${result.state === 'errored' ? `: ${result.error.message}` : ''}`);
  }
  const seconds = result.latency.p50 / 1000;
  return {
    medianMs: result.latency.p50,
    meanMs: result.latency.mean,
    rmePercent: result.latency.rme,
    passes: result.latency.samplesCount,
    mbPerSec: work.payloadBytesPerPass / 1e6 / seconds,
    recordsPerSec: work.recordsPerPass / seconds,
  };
}

async function benchSize(size: SizeCase): Promise<ResultRow[]> {
  const work = new Workload(size);
  console.error(
    `${size.label}: ${work.recordsPerPass.toLocaleString('en-US')} records (${(work.payloadBytesPerPass / MiB).toFixed(0)} MiB) per pass, ` +
      `${work.recordsPerBatch} per batch`,
  );

  // One log and one frame file, written once, that the read tasks walk again and again.
  const readLog = await Log.open(freshPath('read-log'), logOptions);
  appendPass(readLog, work, false);
  const readFramesPath = freshPath('read-frames');
  const framesFd = openSync(readFramesPath, 'w');
  baselineAppendPass(framesFd, work, false);
  closeSync(framesFd);
  const readBuffer = Buffer.allocUnsafe(READ_CHUNK_BYTES + work.maxFrameBytes);

  // Each append pass starts from an empty log or file; opening and removing it is not timed.
  let appendLog: Log | null = null;
  let appendDir = '';
  const storeAppendHooks = {
    beforeEach: async () => {
      gc?.();
      appendDir = freshPath('append-log');
      appendLog = await Log.open(appendDir, logOptions);
    },
    afterEach: async () => {
      await appendLog?.close();
      appendLog = null;
      rmSync(appendDir, { recursive: true, force: true });
    },
  };
  let appendFd = -1;
  let appendPath = '';
  const baselineAppendHooks = {
    beforeEach: () => {
      gc?.();
      appendPath = freshPath('append-frames');
      appendFd = openSync(appendPath, 'w');
    },
    afterEach: () => {
      closeSync(appendFd);
      rmSync(appendPath, { force: true });
    },
  };
  const readHooks = { beforeEach: () => gc?.() };

  // Exactly PASSES timed passes per task after one warm-up pass.
  const bench = new Bench({ time: 0, iterations: PASSES, warmupTime: 0, warmupIterations: 1, throws: true });
  // async: false skips tinybench's detection, which would call the task once outside its hooks.
  bench
    .add('store append', () => appendPass(appendLog!, work, false), { ...storeAppendHooks, async: false })
    .add('store append + encode', () => appendPass(appendLog!, work, true), { ...storeAppendHooks, async: false })
    .add('baseline append', () => baselineAppendPass(appendFd, work, false), { ...baselineAppendHooks, async: false })
    .add('baseline append + encode', () => baselineAppendPass(appendFd, work, true), { ...baselineAppendHooks, async: false })
    .add('store read', () => readPass(readLog, work, false), { ...readHooks, async: false })
    .add('store read + decode', () => readPass(readLog, work, true), { ...readHooks, async: false })
    .add('baseline read', () => baselineReadPass(readFramesPath, readBuffer, work, false), { ...readHooks, async: false })
    .add('baseline read + decode', () => baselineReadPass(readFramesPath, readBuffer, work, true), { ...readHooks, async: false });

  try {
    await bench.run();
  } finally {
    const readLogDir = readLog.dir;
    await readLog.close();
    rmSync(readLogDir, { recursive: true, force: true });
    rmSync(readFramesPath, { force: true });
  }

  return operations.map((operation) => {
    const store = measurement(bench.getTask(`store ${operation}`)!, work);
    const baseline = measurement(bench.getTask(`baseline ${operation}`)!, work);
    return {
      size: size.label,
      valueBytes: size.valueBytes,
      operation,
      recordsPerPass: work.recordsPerPass,
      payloadBytesPerPass: work.payloadBytesPerPass,
      store,
      baseline,
      ratio: store.mbPerSec / baseline.mbPerSec,
    };
  });
}

// ---------------------------------------------------------------- report

function markdownTable(rows: readonly ResultRow[]): string {
  const lines = ['| size | operation | store MB/s | store records/s | baseline MB/s | store / baseline |', '|---|---|---:|---:|---:|---:|'];
  for (const row of rows) {
    lines.push(
      `| ${row.size} | ${row.operation} | ${whole(row.store.mbPerSec)} | ${whole(row.store.recordsPerSec)} | ` +
        `${whole(row.baseline.mbPerSec)} | ${row.ratio.toFixed(2)} |`,
    );
  }
  return lines.join('\n');
}

function writeStoreResults(rows: readonly ResultRow[], startedAt: Date): string {
  return writeResults('store', startedAt, quick, null, {
    settings: {
      passes: PASSES,
      batchTargetBytes: BATCH_TARGET_BYTES,
      poolBytes: POOL_BYTES,
      readChunkBytes: READ_CHUNK_BYTES,
      logOptions,
      mbPerSec: 'record value bytes (10^6) per second over the median pass',
    },
    results: rows,
  });
}

async function main(): Promise<void> {
  const startedAt = new Date();
  console.error(banner('store', quick, workDir));
  const rows: ResultRow[] = [];
  try {
    for (const size of sizeCases) rows.push(...(await benchSize(size)));
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
  const elapsed = (Date.now() - startedAt.getTime()) / 1000;
  console.log(`\nMB/s: record value bytes (10^6) per second, median of ${PASSES} passes; baseline: 4-byte length + value frames, writeSync / readSync.\n`);
  console.log(markdownTable(rows));
  console.log(
    '\nstore read hands out views of the mapped segments without touching their bytes, so its MB/s is a rate of\n' +
      'lookups, not of bytes moved; read + decode walks every record but touches only the first byte of each value.\n' +
      'Neither side fsyncs inside a timed pass.',
  );
  console.log(`\nresults: ${writeStoreResults(rows, startedAt)} (${elapsed.toFixed(1)} s)`);
}

await main();
