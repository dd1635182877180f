// The sweep's tables and its verdict on the targets of issue 5, from the
// rows of one run (every ratio compares stores measured in that run).
import { latency, whole } from '../support.js';
import type { ConsumeResult, LatencyResult, MemoryResult, ProduceResult, RejectResult } from './jobs.js';
import { acksLabel, type StoreKind } from './store.js';

export interface SweepResults {
  produce: ProduceResult[];
  consume: ConsumeResult[];
  reject: RejectResult | null;
  latency: LatencyResult | null;
  memory: MemoryResult | null;
  peakRss: { store: StoreKind; valueBytes: number; peakRssMiB: number; peakAnonRssMiB: number }[];
}

export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean;
}

export function sizeLabel(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

const mb = (n: number | undefined): string => (n === undefined ? '–' : n >= 100 ? whole(n) : n.toFixed(1));
const ratio = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(2)}×` : '–');

function find(rows: readonly ProduceResult[], store: StoreKind, like: ProduceResult, floorSync?: string): ProduceResult | undefined {
  return rows.find(
    (r) =>
      r.store === store &&
      r.valueBytes === like.valueBytes &&
      r.acks === like.acks &&
      r.senders === like.senders &&
      r.partitions === like.partitions &&
      r.floorSync === floorSync,
  );
}

export function produceTable(rows: readonly ProduceResult[]): string {
  const lines = [
    '| size | acks | senders | partitions | fjord records/s | fjord MB/s | p50 | p99 | p999 | lmdb MB/s | sqlite MB/s | floor MB/s | fjord / best embedded | fjord / floor |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of rows) {
    if (row.store !== 'fjord') continue;
    const lmdb = find(rows, 'lmdb', row);
    const sqlite = find(rows, 'sqlite', row);
    const floor = find(rows, 'floor', row);
    const best = Math.max(lmdb?.mbPerSec ?? 0, sqlite?.mbPerSec ?? 0);
    lines.push(
      `| ${sizeLabel(row.valueBytes)} | ${acksLabel(row.acks)} | ${row.senders} | ${row.partitions} | ${whole(row.recordsPerSec)} | ${mb(row.mbPerSec)} | ` +
        `${latency(row.latencyMs.p50)} | ${latency(row.latencyMs.p99)} | ${latency(row.latencyMs.p999)} | ${mb(lmdb?.mbPerSec)} | ${mb(sqlite?.mbPerSec)} | ${mb(floor?.mbPerSec)} | ` +
        `${ratio(row.mbPerSec / best)} | ${ratio(row.mbPerSec / (floor?.mbPerSec ?? NaN))} |`,
    );
  }
  return lines.join('\n');
}

export function consumeTable(rows: readonly ConsumeResult[]): string {
  const lines = [
    '| size | partitions | fjord records/s | fjord MB/s | lmdb MB/s | sqlite MB/s | floor MB/s | fjord / floor |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of rows) {
    if (row.store !== 'fjord') continue;
    const of = (store: StoreKind) => rows.find((r) => r.store === store && r.valueBytes === row.valueBytes && r.partitions === row.partitions);
    const floor = of('floor');
    lines.push(
      `| ${sizeLabel(row.valueBytes)} | ${row.partitions} | ${whole(row.recordsPerSec)} | ${mb(row.mbPerSec)} | ${mb(of('lmdb')?.mbPerSec)} | ${mb(of('sqlite')?.mbPerSec)} | ${mb(floor?.mbPerSec)} | ${ratio(row.mbPerSec / (floor?.mbPerSec ?? NaN))} |`,
    );
  }
  return lines.join('\n');
}

/** Worst case of `value` over `rows`, with the row it came from. */
function worst<T>(rows: readonly T[], value: (row: T) => number): { value: number; row: T | undefined } {
  let result: { value: number; row: T | undefined } = { value: Infinity, row: undefined };
  for (const row of rows) {
    const v = value(row);
    if (!(v >= result.value)) result = { value: v, row };
  }
  return rows.length === 0 ? { value: NaN, row: undefined } : result;
}

const cellName = (r: ProduceResult | ConsumeResult | undefined): string =>
  r === undefined
    ? ''
    : ` (worst: ${sizeLabel(r.valueBytes)}${'acks' in r ? `, ${r.senders} senders` : ''}, ${r.partitions} partition${r.partitions === 1 ? '' : 's'})`;

export function checkTargets(results: SweepResults, memoryGoalBytes: number): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const fjordProduce = results.produce.filter((r) => r.store === 'fjord');
  const acks1 = fjordProduce.filter((r) => r.acks === 1);

  const vsEmbedded = worst(
    acks1,
    (r) => r.mbPerSec / Math.max(find(results.produce, 'lmdb', r)?.mbPerSec ?? 0, find(results.produce, 'sqlite', r)?.mbPerSec ?? 0),
  );
  checks.push({
    target: 'produce acks 1: ≥ 3× the best of lmdb-js and better-sqlite3 at every size',
    measured: `${ratio(vsEmbedded.value)}${cellName(vsEmbedded.row)}`,
    met: vsEmbedded.value >= 3,
  });

  const vsFloor = worst(
    acks1.filter((r) => r.valueBytes >= 1024),
    (r) => r.mbPerSec / (find(results.produce, 'floor', r)?.mbPerSec ?? NaN),
  );
  checks.push({
    target: 'produce acks 1: ≥ 0.9× the fs.writeSync floor at 1 KiB and above',
    measured: `${ratio(vsFloor.value)}${cellName(vsFloor.row)}`,
    met: vsFloor.value >= 0.9,
  });

  const durable = fjordProduce.filter((r) => r.acks === -1 && r.senders === 64);
  const vsSyncEnd = worst(
    durable.filter((r) => r.valueBytes >= 16 * 1024),
    (r) => r.mbPerSec / (find(results.produce, 'floor', r, 'end')?.mbPerSec ?? NaN),
  );
  checks.push({
    target: 'produce acks all, 64 senders: ≥ 0.8× the floor with one fdatasync at the end, at 16 KiB and above',
    measured: `${ratio(vsSyncEnd.value)}${cellName(vsSyncEnd.row)}`,
    met: vsSyncEnd.value >= 0.8,
  });

  const perRecord = results.produce.find((r) => r.store === 'floor' && r.floorSync === 'record');
  const small = durable.filter((r) => r.valueBytes === Math.min(...durable.map((d) => d.valueBytes)));
  const vsPerRecord = worst(small, (r) => r.recordsPerSec / (perRecord?.recordsPerSec ?? NaN));
  checks.push({
    target: 'produce acks all, 64 senders, smallest size: ≥ 20× the rate of one fsync per record',
    measured: `${ratio(vsPerRecord.value)} (${whole(vsPerRecord.row?.recordsPerSec ?? NaN)} vs ${whole(perRecord?.recordsPerSec ?? NaN)} records/s)`,
    met: vsPerRecord.value >= 20,
  });

  const fjordConsume = results.consume.filter((r) => r.store === 'fjord');
  const consumeVsFloor = worst(
    fjordConsume.filter((r) => r.valueBytes >= 1024),
    (r) => r.mbPerSec / (results.consume.find((f) => f.store === 'floor' && f.valueBytes === r.valueBytes && f.partitions === r.partitions)?.mbPerSec ?? NaN),
  );
  checks.push({
    target: 'consume eachBatch: ≥ 1.5× the fs.readSync floor at 1 KiB and above',
    measured: `${ratio(consumeVsFloor.value)}${cellName(consumeVsFloor.row)}`,
    met: consumeVsFloor.value >= 1.5,
  });
  const smallest = fjordConsume.filter((r) => r.valueBytes === 100);
  const smallRate = worst(smallest, (r) => r.recordsPerSec);
  checks.push({
    target: 'consume at 100 B: ≥ 5 million records/s',
    measured: `${whole(smallRate.value)} records/s${cellName(smallRate.row)}`,
    met: smallRate.value >= 5e6,
  });

  if (results.latency !== null) {
    const l = results.latency;
    checks.push({
      target: `produce → consume latency at ${whole(l.rate)} records/s, acks 1: p99 < 1 ms`,
      measured: `p50 ${latency(l.endToEndMs.p50)}, p99 ${latency(l.endToEndMs.p99)}, p999 ${latency(l.endToEndMs.p999)}`,
      met: l.endToEndMs.p99 < 1,
    });
  }
  if (results.memory !== null) {
    const m = results.memory;
    const gib = (m.totalBytes / 1024 ** 3).toFixed(1);
    checks.push({
      target: `memory: producing and consuming ${(memoryGoalBytes / 1024 ** 3).toFixed(0)} GiB keeps anonymous RSS < 200 MiB`,
      measured: `${gib} GiB in ${m.seconds.toFixed(1)} s: peak anonymous RSS ${m.peakAnonRssMiB} MiB (all RSS incl. mapped file pages ${m.peakRssMiB} MiB)`,
      met: m.peakAnonRssMiB < 200 && m.totalBytes >= memoryGoalBytes * 0.99,
    });
  }
  if (results.reject !== null) {
    const r = results.reject;
    checks.push({
      target: `one step past max.message.bytes (${whole(r.maxMessageBytes)}): every record rejected with RecordTooLargeError, nothing written`,
      measured: `${r.rejected}/${r.attempted} rejected (${r.errorName}), ${r.recordsWritten} records and ${r.bytesWritten} bytes written; the largest fitting value (${whole(r.valueBytes - 1)} B) then went to offset ${r.largestFitOffset}`,
      met: r.rejected === r.attempted && r.errorName === 'RecordTooLargeError' && r.recordsWritten === 0 && r.bytesWritten === 0 && r.largestFitOffset === 0,
    });
  }
  return checks;
}

export function targetsTable(checks: readonly TargetCheck[]): string {
  return ['| target | measured | met |', '|---|---|---|', ...checks.map((c) => `| ${c.target} | ${c.measured} | ${c.met ? 'yes' : '**no**'} |`)].join('\n');
}
