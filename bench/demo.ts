// A tour of the log: write N events, flush and close, reopen (recovery must
// report a clean shutdown), read everything back and check every record byte
// for byte against what was written.
//
//   npx tsc -p tsconfig.json && npm run demo [-- --records N]
import { rmSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import cliProgress from 'cli-progress';

import { decodeBatches, encodeBatch, Log, type DecodedRecord, type LogOptions, type RecordInput } from '../src/index.js';

const RECORDS_PER_BATCH = 500;
const LOG_OPTIONS: LogOptions = { segmentBytes: 64 * 1024 * 1024 };
const HEADERS = { source: 'demo' };
const EVENT_TYPES = ['page_view', 'search', 'add_to_cart', 'checkout', 'login'] as const;
const USERS = 50_000;

/** A failed check: reported as one message, exit code 1. */
class DemoFailure extends Error {}

function parseRecordCount(): number {
  const { values } = parseArgs({ options: { records: { type: 'string', default: '1000000' } } });
  const count = Number(values.records);
  if (!Number.isSafeInteger(count) || count < 1) {
    console.error(`demo: --records must be a positive integer, got ${JSON.stringify(values.records)}`);
    process.exit(2);
  }
  return count;
}

// ---------------------------------------------------------------- events

interface DemoEvent {
  key: string;
  value: string;
  timestamp: number;
}

/** A 32-bit integer hash (lowbias32), so events vary but are reproducible. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The event at offset `seq`: a pure function of `seq`, so reading back can regenerate what was written. */
function eventAt(seq: number, baseTime: number): DemoEvent {
  const h = mix32(seq);
  const user = `user-${h % USERS}`;
  const type = EVENT_TYPES[(h >>> 20) % EVENT_TYPES.length]!;
  const timestamp = baseTime + Math.floor(seq / 100);
  const amountCents = type === 'checkout' ? h % 100_000 : 0;
  const value = `{"seq":${seq},"type":"${type}","user":"${user}","path":"/products/${(h >>> 8) % 5000}","amountCents":${amountCents},"at":${timestamp}}`;
  return { key: user, value, timestamp };
}

/** What is wrong with `record` as the event at `seq`, or null if it matches exactly. */
function mismatch(record: DecodedRecord, seq: number, baseTime: number): string | null {
  const expected = eventAt(seq, baseTime);
  if (record.offset !== seq) return `offset is ${record.offset}, expected ${seq}`;
  if (!sameBytes(record.key, expected.key)) return `key is ${show(record.key)}, expected ${JSON.stringify(expected.key)}`;
  if (!sameBytes(record.value, expected.value)) return `value is ${show(record.value)}, expected ${JSON.stringify(expected.value)}`;
  if (record.timestamp !== expected.timestamp) return `timestamp is ${record.timestamp}, expected ${expected.timestamp}`;
  const source = record.headers.source;
  if (Array.isArray(source) || !sameBytes(source ?? null, HEADERS.source)) return `header source is ${JSON.stringify(source)}, expected "demo"`;
  return null;
}

function sameBytes(actual: Buffer | null, expected: string): boolean {
  return actual !== null && actual.equals(Buffer.from(expected, 'utf8'));
}

function show(bytes: Buffer | null): string {
  if (bytes === null) return 'null';
  const text = bytes.toString('utf8');
  return JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text);
}

// ---------------------------------------------------------------- progress

const interactive = process.stdout.isTTY === true;

function progressBar(label: string): cliProgress.SingleBar {
  return new cliProgress.SingleBar(
    {
      stream: process.stdout,
      format: `${label} {bar} {percentage}% | {value}/{total} records | {recordsPerSec} records/s | {mbPerSec} MB/s`,
      formatValue: (v, _options, type) => (type === 'value' || type === 'total' ? v.toLocaleString('en-US') : String(v)),
      barsize: 30,
      hideCursor: interactive,
      // Without a TTY: one plain line a second instead of redraws (or nothing).
      noTTYOutput: true,
      notTTYSchedule: 1000,
      // Without a TTY the last line already ends the output; with one, keep the finished bar.
      clearOnComplete: !interactive,
    },
    cliProgress.Presets.shades_classic,
  );
}

function rates(records: number, bytes: number, startMs: number): { recordsPerSec: string; mbPerSec: string } {
  const seconds = Math.max((performance.now() - startMs) / 1000, 1e-3);
  return {
    recordsPerSec: Math.round(records / seconds).toLocaleString('en-US'),
    mbPerSec: (bytes / 1e6 / seconds).toFixed(1),
  };
}

let lastBreath = performance.now();
/** Yields to the event loop now and then: the work is synchronous, and the bar redraws from a timer. */
async function breathe(): Promise<void> {
  if (performance.now() - lastBreath < 50) return;
  await new Promise((resolve) => setImmediate(resolve));
  lastBreath = performance.now();
}

// ---------------------------------------------------------------- phases

async function writeEvents(log: Log, total: number, baseTime: number): Promise<number> {
  const bar = progressBar('write');
  const start = performance.now();
  let bytes = 0;
  bar.start(total, 0, rates(0, 0, start));
  try {
    for (let first = 0; first < total; first += RECORDS_PER_BATCH) {
      const count = Math.min(RECORDS_PER_BATCH, total - first);
      const records: RecordInput[] = [];
      for (let seq = first; seq < first + count; seq++) {
        const event = eventAt(seq, baseTime);
        records.push({ key: event.key, value: event.value, headers: HEADERS, timestamp: event.timestamp });
      }
      const batch = encodeBatch(records);
      const { baseOffset } = log.append(batch);
      if (baseOffset !== first) throw new DemoFailure(`append assigned base offset ${baseOffset} to the batch starting at record ${first}`);
      bytes += batch.length;
      bar.update(first + count, rates(first + count, bytes, start));
      await breathe();
    }
  } finally {
    bar.stop();
  }
  return bytes;
}

/** Reads the whole log back and checks every record; returns the bytes read. */
async function verifyEvents(log: Log, total: number, baseTime: number): Promise<number> {
  const bar = progressBar('read ');
  const start = performance.now();
  let seq = 0;
  let bytes = 0;
  bar.start(total, 0, rates(0, 0, start));
  try {
    for (let slice = log.readSlice(0); slice !== null; slice = log.readSlice(slice.nextOffset)) {
      bytes += slice.bytes.length;
      for (const record of decodeBatches(slice.bytes)) {
        if (seq >= total) throw new DemoFailure(`read more records than the ${total} written (offset ${record.offset})`);
        const problem = mismatch(record, seq, baseTime);
        if (problem !== null) throw new DemoFailure(`record ${seq}: ${problem}`);
        seq++;
      }
      bar.update(seq, rates(seq, bytes, start));
      await breathe();
    }
  } finally {
    bar.stop();
  }
  if (seq !== total) throw new DemoFailure(`read back ${seq} records, wrote ${total}`);
  return bytes;
}

function seconds(fromMs: number, toMs: number): string {
  return `${((toMs - fromMs) / 1000).toFixed(2)} s`;
}

async function main(): Promise<void> {
  const total = parseRecordCount();
  const dataDir = resolve('.fjord-data', 'demo');
  rmSync(dataDir, { recursive: true, force: true });
  const baseTime = Date.now();
  console.log(`fjord demo: ${total.toLocaleString('en-US')} events in batches of ${RECORDS_PER_BATCH} into ${relative(process.cwd(), dataDir)}/`);

  const t0 = performance.now();
  const log = await Log.open(dataDir, LOG_OPTIONS);
  const bytesWritten = await writeEvents(log, total, baseTime);
  const t1 = performance.now();
  await log.flush();
  await log.close();
  const t2 = performance.now();
  console.log(`flushed and closed in ${seconds(t1, t2)}`);

  const reopened = await Log.open(dataDir, LOG_OPTIONS);
  const t3 = performance.now();
  try {
    const report = reopened.recoveryReport;
    console.log(
      `reopened in ${seconds(t2, t3)}: clean shutdown ${report.cleanShutdown ? 'yes' : 'NO'}, ` +
        `${report.segmentsRecovered} segments recovered, ${report.bytesTruncated} bytes truncated` +
        (report.notes.length > 0 ? `; notes: ${report.notes.join('; ')}` : ''),
    );
    if (!report.cleanShutdown) throw new DemoFailure('the log was closed cleanly, yet recovery did not see a clean shutdown');
    if (reopened.logEndOffset !== total) throw new DemoFailure(`log end offset is ${reopened.logEndOffset} after reopening, expected ${total}`);

    await verifyEvents(reopened, total, baseTime);
    const t4 = performance.now();
    const size = reopened.size;
    const segments = reopened.segments().length;
    const perSecond = (count: number, fromMs: number, toMs: number) => Math.round((count * 1000) / (toMs - fromMs)).toLocaleString('en-US');
    const mbPerSecond = (bytes: number, fromMs: number, toMs: number) => ((bytes * 1000) / 1e6 / (toMs - fromMs)).toFixed(1);

    console.log(`\nverified: all ${total.toLocaleString('en-US')} records match what was written (offset, key, value, timestamp, header)`);
    console.log(`records   ${total.toLocaleString('en-US')}`);
    console.log(`bytes     ${(size / 1e6).toFixed(1)} MB on disk in ${segments} segment${segments === 1 ? '' : 's'} (${(size / total).toFixed(0)} B a record)`);
    console.log(`write     ${seconds(t0, t1)}  ${perSecond(total, t0, t1)} records/s  ${mbPerSecond(bytesWritten, t0, t1)} MB/s (encode + append)`);
    console.log(`read      ${seconds(t3, t4)}  ${perSecond(total, t3, t4)} records/s  ${mbPerSecond(size, t3, t4)} MB/s (read + decode + check)`);
    console.log(`elapsed   ${seconds(t0, t4)} including flush, close and reopen`);
  } finally {
    await reopened.close();
  }
}

try {
  await main();
} catch (error) {
  if (!(error instanceof DemoFailure)) throw error;
  console.error(`\ndemo: FAILED: ${error.message}`);
  process.exitCode = 1;
}
