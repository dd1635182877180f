// Fail-stop under injected disk errors (test/fault-shim.c, preloaded into a
// child process): with a consumer group and acks=all producers running on two
// partitions, the first fsync or write error on partition 0 takes it offline.
// No send whose records the failed fsync covered resolves; every later send,
// flush and read on it fails with KafkaStorageError (ERR_LOG_OFFLINE) naming
// the cause; partition 1 goes on; the process does not abort; after close and
// reopen every resolved send's record is read back at its offset, and the
// partition takes writes again.
import type { ChildProcess } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';

import { FJORD, spawnScript } from './child-process.js';
import { buildFaultShim } from './fault-shim.js';
import { tempDir } from './helpers.js';

const TOPIC = 't';

// Starts a group consumer and 4 acks=all senders alternating between
// partitions 0 and 1; prints {ready} after 60 sends (the parent then arms the
// fault), stops once partition 0 has refused 10 sends and partition 1 has
// taken 20 more, checks partition 0 is offline, closes, disarms the shim,
// reopens and prints everything it saw.
const CHILD = `
import { writeFileSync } from 'node:fs';
import { decodeBatches, Fjord } from ${JSON.stringify(FJORD)};
const [dir] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
process.on('unhandledRejection', (e) => { out({ unhandled: String(e?.stack ?? e) }); process.exit(3); });
process.on('uncaughtException', (e) => { out({ uncaught: String(e?.stack ?? e) }); process.exit(4); });
const describe = (e) => ({ name: e.name, code: e.code, op: e.op, path: e.path, errnoName: e.errnoName, message: e.message });
const settle = async (promise) => { try { await promise; return 'ok'; } catch (e) { return describe(e); } };
const attempt = (fn) => { try { fn(); return 'ok'; } catch (e) { return describe(e); } };

let fjord = await Fjord.open({ dir });
const admin = fjord.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic: '${TOPIC}', numPartitions: 2, configEntries: [
  { name: 'segment.bytes', value: '16384' }, { name: 'segment.index.bytes', value: '4096' }, { name: 'index.interval.bytes', value: '1024' },
] }] });
const producer = fjord.producer();
await producer.connect();
const consumer = fjord.consumer({ groupId: 'g' });
await consumer.connect();
const consumed = [[], []];
const crashes = [];
consumer.on(consumer.events.CRASH, (e) => crashes.push({ ...describe(e.payload.error), restart: e.payload.restart }));
await consumer.subscribe({ topics: ['${TOPIC}'], fromBeginning: true });
await consumer.run({ eachMessage: async ({ partition, message }) => { consumed[partition].push(message.value.toString().split('-').slice(0, 2).join('-')); } });

const sends = [];
let done;
const finished = new Promise((resolve) => (done = resolve));
let stop = false;
const count = (p, ok) => sends.filter((s) => s.partition === p && ('offset' in s) === ok).length;
let p1AtFirstRejection = null;
async function sender(id) {
  for (let i = 0; !stop; i++) {
    const partition = i % 2;
    const value = id + '-' + i;
    try {
      const [meta] = await producer.send({ topic: '${TOPIC}', acks: -1, messages: [{ partition, value: value + '-' + 'v'.repeat(500) }] });
      sends.push({ partition, value, offset: Number(meta.baseOffset) });
    } catch (e) {
      sends.push({ partition, value, error: describe(e) });
      p1AtFirstRejection ??= count(1, true);
    }
    if (sends.length === 60) out({ ready: true });
    if (p1AtFirstRejection !== null && count(0, false) >= 10 && count(1, true) >= p1AtFirstRejection + 20) done();
    if (sends.length > 4000) done();
  }
}
const senders = [0, 1, 2, 3].map(sender);
await finished;
stop = true;
await Promise.all(senders);
// The consumer goes on with partition 1: wait (bounded) until it has every acknowledged record there.
const p1Resolved = count(1, true);
for (const deadline = Date.now() + 30_000; consumed[1].length < p1Resolved && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));

const log0 = (await fjord.topics()).get('${TOPIC}').partition(0).log;
const offline = {
  send: await settle(producer.send({ topic: '${TOPIC}', acks: -1, messages: [{ partition: 0, value: 'late' }] })),
  flush: await settle(log0.flush()),
  read: attempt(() => log0.read(0)),
};
await consumer.disconnect();
await producer.disconnect();
await admin.disconnect();
const closed = await settle(fjord.close());

writeFileSync(process.env.FJORD_FAULTS, '');
fjord = await Fjord.open({ dir });
const partitions = (await fjord.topics()).get('${TOPIC}').partitions;
const after = partitions.map((p) => {
  const records = [];
  for (let offset = p.log.logStartOffset; ; ) {
    const slice = p.log.readSlice(offset);
    if (slice === null) break;
    for (const r of decodeBatches(slice.bytes, { fromOffset: offset })) records.push([Number(r.offset), r.value.toString().split('-').slice(0, 2).join('-')]);
    offset = slice.nextOffset;
  }
  return records;
});
const cleanShutdown = partitions.map((p) => p.log.recoveryReport.cleanShutdown);
const end0 = partitions[0].log.logEndOffset;
const again = fjord.producer();
await again.connect();
const [reopened] = await again.send({ topic: '${TOPIC}', acks: -1, messages: [{ partition: 0, value: 'again' }] });
await again.disconnect();
await fjord.close();
out({ sends, offline, crashes, consumed, closed, after, cleanShutdown, end0, reopenedOffset: Number(reopened.baseOffset) });
`;

interface SendResult {
  partition: number;
  value: string;
  offset?: number;
  error?: Record<string, unknown>;
}

interface Report {
  sends: SendResult[];
  offline: Record<string, unknown>;
  crashes: Record<string, unknown>[];
  consumed: string[][];
  closed: unknown;
  after: [number, string][][];
  cleanShutdown: boolean[];
  end0: number;
  reopenedOffset: number;
}

/** Runs the child; arms `rules` (built from the partition directory) once it is ready. */
async function runWithFault(rules: (partitionDir: string) => string) {
  const scratch = realpathSync(tempDir('fjord-faults-'));
  const dir = join(scratch, 'data');
  const shim = buildFaultShim(scratch);
  const child: ChildProcess = spawnScript(scratch, CHILD, [dir], { prefix: shim.prefix });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  let report: Report | null = null;
  const lines: unknown[] = [];
  for await (const line of createInterface({ input: child.stdout! })) {
    const message = JSON.parse(line) as Record<string, unknown>;
    if (message.ready === true) shim.arm(rules(join(dir, `${TOPIC}-0`)));
    else if ('sends' in message) report = message as unknown as Report;
    else lines.push(message);
  }
  const exit = await exited;
  expect({ ...exit, lines }, stderr).toEqual({ code: 0, signal: null, lines: [] });
  return { report: report!, hits: shim.hits(), partitionDir: join(dir, `${TOPIC}-0`) };
}

/** What every refused send, flush and read on the offline partition is rejected with. */
function offlineError(partitionDir: string, op: string, path: string, cause: string) {
  return {
    name: 'KafkaStorageError',
    code: 'ERR_LOG_OFFLINE',
    op,
    path,
    errnoName: 'EIO',
    message: `partition log ${partitionDir} is offline after ${cause}; close and reopen it to recover from its files`,
  };
}

function checkFailStop(report: Report, error: ReturnType<typeof offlineError>): void {
  const { sends } = report;
  const at0 = sends.filter((s) => s.partition === 0);
  const firstRefused = at0.findIndex((s) => s.error !== undefined);
  expect(firstRefused).toBeGreaterThan(0);
  // Once partition 0 refused a send, it refuses every later one, each with the same error.
  expect(at0.slice(firstRefused).map((s) => s.error)).toEqual(at0.slice(firstRefused).map(() => error));
  expect(report.offline).toEqual({ send: error, flush: error, read: error });
  // Partition 1 went on: nothing refused, and sends resolved after partition 0 went offline.
  const at1 = sends.filter((s) => s.partition === 1);
  expect(at1.filter((s) => s.error !== undefined)).toEqual([]);
  // The consumer read only what the partitions held; the offline partition is
  // skipped (no crash), and partition 1 is read to its last acknowledged record.
  for (const [p, values] of report.consumed.entries()) {
    const sent = new Set(sends.filter((s) => s.partition === p).map((s) => s.value));
    expect(values.filter((v) => !sent.has(v))).toEqual([]);
  }
  expect(report.crashes).toEqual([]);
  expect([...report.consumed[1]!].sort()).toEqual(
    at1
      .filter((s) => s.offset !== undefined)
      .map((s) => s.value)
      .sort(),
  );
  expect(report.closed).toBe('ok');
  // No acknowledged record is lost: each resolved send's record is at its offset after reopen.
  for (const [p, records] of report.after.entries()) {
    const byOffset = new Map(records);
    const resolved = sends.filter((s) => s.partition === p && s.offset !== undefined);
    expect(resolved.length).toBeGreaterThan(0);
    expect(resolved.filter((s) => byOffset.get(s.offset!) !== s.value)).toEqual([]);
  }
  expect(report.cleanShutdown).toEqual([false, true]);
  expect(report.reopenedOffset).toBe(report.end0);
}

describe('an I/O error on a partition with a consumer and acks=all producers running', () => {
  it('an fsync EIO on the active segment takes the partition offline until reopen', async () => {
    const { report, hits, partitionDir } = await runWithFault((d) => `fdatasync,fsync ${d}/*.log EIO 0 1`);
    expect(hits).toHaveLength(1);
    const [call, errno, path] = hits[0]!.split(' ') as [string, string, string];
    expect([call, errno, path.endsWith('.log')]).toEqual(['fdatasync', 'EIO', true]);
    checkFailStop(report, offlineError(partitionDir, 'fsync', path, `input/output error (EIO) syncing ${path}`));
  }, 120_000);

  for (const suffix of ['index', 'timeindex']) {
    it(`an fsync EIO on a rolled segment's .${suffix} takes the partition offline until reopen`, async () => {
      const { report, hits, partitionDir } = await runWithFault((d) => `fdatasync,fsync ${d}/*.${suffix} EIO 0 1`);
      expect(hits).toHaveLength(1);
      const [call, errno, path] = hits[0]!.split(' ') as [string, string, string];
      expect([call, errno, path.startsWith(partitionDir), path.endsWith(`.${suffix}`)]).toEqual(['fdatasync', 'EIO', true, true]);
      checkFailStop(report, offlineError(partitionDir, 'fsync', path, `input/output error (EIO) syncing ${path}`));
    }, 120_000);
  }

  it('an EIO on a write takes the partition offline until reopen', async () => {
    const { report, hits, partitionDir } = await runWithFault((d) => `pwritev ${d}/*.log EIO 0 1`);
    expect(hits).toHaveLength(1);
    const [call, errno, path] = hits[0]!.split(' ') as [string, string, string];
    expect([call, errno, path.endsWith('.log')]).toEqual(['pwritev', 'EIO', true]);
    checkFailStop(report, offlineError(partitionDir, 'append', path, `input/output error (EIO) appending to ${path}`));
  }, 120_000);
});
