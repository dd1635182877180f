#!/usr/bin/env node
// fjord-bench: throughput against max.message.bytes, Fjord side by side with
// what a Node user would embed instead (lmdb-js, better-sqlite3) and the floor
// (length-prefixed frames with fs.writeSync / fs.readSync).
//
// Sweeps record size from 100 B to the largest value a batch of
// max.message.bytes holds, and one step past it (every record must be
// rejected with RecordTooLargeError); for acks 0/1/all, 1 and 64 concurrent
// senders, 1 and 8 partitions; produce and consume records/s and MB/s,
// produce latency p50/p99/p999, peak RSS; then produce→consume latency at
// 10,000 records/s and anonymous RSS while 10 GiB flow through one topic.
// Each store at each size runs in a child process of its own. Writes
// bench/results/<date>.json and .svg (the chart) and prints the tables.
//
//   npm run bench [-- --quick] [--max-message-bytes 16777216] [--stores fjord,lmdb] [--sizes 100,1024]
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import cliProgress from 'cli-progress';

import { encodeBatch } from '../src/index.js';
import { chartAvailable, renderChart } from './sweep/chart.js';
import { PEER_PACKAGES, storeAvailable } from './sweep/open-store.js';
import type { CellSpec, ChildMessage, Job, JobResult, LatencyResult, MemoryResult, RejectResult, StoreJob, StoreJobResult } from './sweep/jobs.js';
import { checkTargets, consumeTable, produceTable, sizeLabel, targetsTable, type SweepResults } from './sweep/report.js';
import { STORE_KINDS, type Acks, type StoreKind } from './sweep/store.js';
import { onProjectFilesystem, usageFor } from './support.js';

const usage = usageFor('fjord-bench');
const USAGE =
  'usage: fjord-bench [--quick] [--max-message-bytes N] [--stores fjord,lmdb,sqlite,floor] [--sizes 100,1024,...] [--cell-seconds S] [--memory-gib G] [--out DIR]';
const { values: args } = (() => {
  try {
    return parseArgs({
      options: {
        quick: { type: 'boolean', default: false },
        'max-message-bytes': { type: 'string' },
        stores: { type: 'string' },
        sizes: { type: 'string' },
        'cell-seconds': { type: 'string' },
        'memory-gib': { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    return usage(`${(error as Error).message}\n${USAGE}`);
  }
})();
if (args.help) {
  console.log(USAGE);
  console.log(
    'The lmdb and sqlite rows run when the lmdb and better-sqlite3 packages can be imported (they are devDependencies of fjord), the chart when vega and vega-lite can; otherwise they are reported as skipped.',
  );
  process.exit(0);
}

const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;
const quick = args.quick;

function positive(text: string | undefined, flag: string, fallback: number, integer: boolean): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isSafeInteger(n)))
    usage(`--${flag} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(text)}`);
  return n;
}

const maxMessageBytes = positive(args['max-message-bytes'], 'max-message-bytes', DEFAULT_MAX_MESSAGE_BYTES, true);
if (maxMessageBytes < 1024) usage(`--max-message-bytes must be at least 1024, got ${maxMessageBytes}`);
if (maxMessageBytes > 2 ** 30)
  usage(`--max-message-bytes must be at most ${2 ** 30} (a batch's length is an int32 and a segment holds it), got ${maxMessageBytes}`);
const requestedStores: StoreKind[] = args.stores === undefined ? [...STORE_KINDS] : args.stores.split(',').map((s) => s.trim() as StoreKind);
for (const s of requestedStores) if (!STORE_KINDS.includes(s)) usage(`--stores: unknown store ${JSON.stringify(s)}; known: ${STORE_KINDS.join(', ')}`);
/** Peer stores whose package is not installed: skipped by default, an error when named in --stores. */
const skippedStores: { store: StoreKind; reason: string }[] = [];
for (const s of requestedStores) {
  if (await storeAvailable(s)) continue;
  const reason = `package ${PEER_PACKAGES[s]} is not installed`;
  if (args.stores !== undefined) usage(`--stores: ${s} cannot run here: ${reason}`);
  skippedStores.push({ store: s, reason });
}
const stores = requestedStores.filter((s) => !skippedStores.some((k) => k.store === s));
const withChart = await chartAvailable();
/** Where the results go: the checkout's bench/results when run from one, else ./fjord-bench-results. */
const resultsDir =
  args.out ??
  (existsSync(fileURLToPath(new URL('../../bench/fjord-bench.ts', import.meta.url)))
    ? fileURLToPath(new URL('../../bench/results/', import.meta.url))
    : join(process.cwd(), 'fjord-bench-results'));
const produceSeconds = positive(args['cell-seconds'], 'cell-seconds', quick ? 0.2 : 1, false);
const memoryBytes = positive(args['memory-gib'], 'memory-gib', quick ? 1 : 10, false) * 1024 ** 3;

/** The largest record value (null key, no headers) whose one-record batch fits `limit`. */
function largestFittingValue(limit: number): number {
  let low = 0;
  let high = limit;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (encodeBatch([{ value: Buffer.alloc(mid) }]).length <= limit) low = mid;
    else high = mid - 1;
  }
  return low;
}

const largestFit = largestFittingValue(maxMessageBytes);
const sizes: number[] = (() => {
  if (args.sizes !== undefined) {
    const given = args.sizes.split(',').map((s) => positive(s.trim(), 'sizes', 0, true));
    for (const s of given) if (s > largestFit) usage(`--sizes: ${s} does not fit max.message.bytes ${maxMessageBytes} (largest value ${largestFit})`);
    return given;
  }
  // 100 B, then ×16 steps below the limit, then the largest value that fits.
  const steps = quick ? [100, 1024, 16 * 1024] : [100, 1024, 16 * 1024, 256 * 1024];
  for (let s = 4 * 1024 * 1024; !quick && s < largestFit; s *= 16) steps.push(s);
  return [...steps.filter((s) => s < largestFit), largestFit];
})();

const ACKS: Acks[] = [0, 1, -1];
const SENDERS = [1, 64];
const PARTITIONS = quick ? [1] : [1, 8];

function cellsFor(store: StoreKind, valueBytes: number): CellSpec[] {
  const cells: CellSpec[] = [];
  for (const partitions of PARTITIONS) {
    for (const acks of ACKS) {
      for (const senders of SENDERS) {
        // Read back what 64 senders at acks 1 wrote: the most records of a cell.
        cells.push({ acks, senders, partitions, consume: acks === 1 && senders === 64 });
        if (store === 'floor' && acks === -1 && senders === 64) cells.push({ acks, senders, partitions, floorSync: 'end', consume: false });
      }
    }
  }
  if (store === 'floor' && valueBytes === sizes[0]) cells.push({ acks: -1, senders: 1, partitions: 1, floorSync: 'record', consume: false });
  return cells;
}

const childPath = fileURLToPath(new URL('./sweep/child.js', import.meta.url));

const jobName = (job: Job): string => (job.kind === 'store' ? `${job.store} ${sizeLabel(job.valueBytes)}` : job.kind);

/** Runs `job` in a child process; `onCell` is called as each of its cells ends. */
function runChild(job: Job, onCell: () => void): Promise<JobResult> {
  return new Promise((resolve, reject) => {
    const child = fork(childPath, [], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: JobResult | null = null;
    let failure: Error | null = null;
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'cell') onCell();
      else if (message.type === 'result') result = message.result;
      else failure = Object.assign(new Error(message.message), { stack: message.stack });
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (result !== null) resolve(result);
      else reject(failure ?? new Error(`the ${jobName(job)} job's child exited with ${signal ?? `code ${code}`} before reporting`));
    });
    child.send(job);
  });
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const workDir = mkdtempSync(join(tmpdir(), 'fjord-bench-'));
  const sameFilesystem = onProjectFilesystem(workDir);
  const storeJobs: StoreJob[] = [];
  for (const valueBytes of sizes) {
    for (const store of stores) {
      storeJobs.push({
        kind: 'store',
        store,
        valueBytes,
        maxMessageBytes,
        workDir,
        cells: cellsFor(store, valueBytes),
        produceSeconds,
        warmupSeconds: Math.max(0.1, produceSeconds / 4),
      });
    }
  }
  const withFjord = stores.includes('fjord');
  const extraJobs = withFjord ? 3 : 0;
  const totalCells = storeJobs.reduce((n, job) => n + job.cells.length, 0) + extraJobs;
  console.error(
    `fjord-bench (${quick ? 'quick' : 'full'}): node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, data in ${workDir}` +
      `${sameFilesystem ? '' : ` (not the filesystem of ${process.cwd()})`}\n` +
      `max.message.bytes ${maxMessageBytes}: sizes ${sizes.map(sizeLabel).join(', ')}, then ${sizeLabel(largestFit + 1)} (must be rejected); ` +
      `stores ${stores.join(', ')}; ${totalCells} cells of ${produceSeconds} s` +
      skippedStores.map(({ store, reason }) => `\nskipped: ${store} (${reason})`).join('') +
      (withChart ? '' : '\nskipped: the chart (packages vega and vega-lite are not installed)'),
  );
  const bar = new cliProgress.SingleBar(
    { format: '{bar} {percentage}% | {value}/{total} cells | {eta_formatted} left | {job}', stream: process.stderr, hideCursor: true, etaBuffer: 40 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(totalCells, 0, { job: '' });
  const results: SweepResults = { produce: [], consume: [], reject: null, latency: null, memory: null, peakRss: [] };
  const tick = () => bar.increment();
  try {
    for (const job of storeJobs) {
      bar.update({ job: `${job.store} ${sizeLabel(job.valueBytes)}` });
      const result = (await runChild(job, tick)) as StoreJobResult;
      results.produce.push(...result.produce);
      results.consume.push(...result.consume);
      results.peakRss.push({ store: job.store, valueBytes: job.valueBytes, peakRssMiB: result.peakRssMiB, peakAnonRssMiB: result.peakAnonRssMiB });
    }
    if (withFjord) {
      bar.update({ job: `fjord ${sizeLabel(largestFit + 1)}: past the limit` });
      results.reject = (await runChild({ kind: 'reject', valueBytes: largestFit + 1, maxMessageBytes, workDir }, tick)) as RejectResult;
      tick();
      bar.update({ job: 'fjord latency at 10,000 records/s' });
      results.latency = (await runChild({ kind: 'latency', rate: 10_000, seconds: quick ? 1.5 : 5, valueBytes: 100, workDir }, tick)) as LatencyResult;
      tick();
      bar.update({ job: `fjord memory: ${(memoryBytes / 1024 ** 3).toFixed(0)} GiB through one topic` });
      results.memory = (await runChild({ kind: 'memory', totalBytes: memoryBytes, valueBytes: 16 * 1024, partitions: 4, workDir }, tick)) as MemoryResult;
      tick();
    }
  } finally {
    bar.stop();
    rmSync(workDir, { recursive: true, force: true });
  }

  const elapsedSeconds = (Date.now() - startedAt.getTime()) / 1000;
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Linux ${release()}, node ${process.version}`;
  const targets = checkTargets(results, memoryBytes);
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  mkdirSync(resultsDir, { recursive: true });
  const jsonPath = join(resultsDir, `${stamp}.json`);
  const svgPath = join(resultsDir, `${stamp}.svg`);
  const report = {
    startedAt: startedAt.toISOString(),
    elapsedSeconds,
    quick,
    machine,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    node: process.version,
    workDirOnProjectFilesystem: sameFilesystem,
    settings: {
      maxMessageBytes,
      largestFittingValue: largestFit,
      sizes,
      acks: ACKS,
      senders: SENDERS,
      partitions: PARTITIONS,
      stores,
      skippedStores,
      produceSecondsPerCell: produceSeconds,
      warmupSecondsPerCell: Math.max(0.1, produceSeconds / 4),
      memoryBytes,
      mbPerSec: 'record value bytes (10^6) per second',
      send: 'one send = up to 64 KiB of values (at least one) to one partition; sender n sends to partition n % partitions',
      durability:
        'acks 0/1: no fsync (Fjord: in the log; lmdb noSync; sqlite synchronous=OFF; floor none); acks all: Fjord group commit, lmdb overlapping sync awaited, sqlite WAL synchronous=FULL, floor one fdatasync per event-loop turn of waiting sends (floorSync end: once at the end; record: per record)',
      consume:
        'the acks 1, 64-sender cell read back from the start: Fjord a consumer group member with eachBatch (timed from joining), lmdb getRange, sqlite iterate, floor readSync in 1 MiB chunks; every value touched',
    },
    targets,
    ...results,
  };
  writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  if (withChart) {
    writeFileSync(
      svgPath,
      await renderChart(results.produce, results.consume, `${machine}; ${quick ? 'quick' : 'full'} run ${startedAt.toISOString().slice(0, 10)}`),
    );
  }

  console.log(`\n## Produce (${machine})\n`);
  console.log(produceTable(results.produce));
  console.log('\n## Consume\n');
  console.log(consumeTable(results.consume));
  console.log('\n## Peak RSS per store and size (MiB, all / anonymous)\n');
  const rssStores = [...new Set(results.peakRss.map((r) => r.store))];
  console.log(`| size | ${rssStores.join(' | ')} |\n|---|${rssStores.map(() => '---:').join('|')}|`);
  for (const valueBytes of sizes) {
    const cells = rssStores.map((store) => {
      const r = results.peakRss.find((p) => p.store === store && p.valueBytes === valueBytes);
      return r === undefined ? '–' : `${r.peakRssMiB} / ${r.peakAnonRssMiB}`;
    });
    console.log(`| ${sizeLabel(valueBytes)} | ${cells.join(' | ')} |`);
  }
  console.log('\n## Targets\n');
  console.log(targetsTable(targets));
  for (const { store, reason } of skippedStores) console.log(`skipped: ${store} (${reason})`);
  console.log(
    `\nresults: ${jsonPath}\nchart: ${withChart ? svgPath : 'skipped (packages vega and vega-lite are not installed)'}\n(${elapsedSeconds.toFixed(0)} s)`,
  );
}

await main();
