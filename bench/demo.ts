// A tour of the client API: create a topic with the admin client, produce a
// stream of generated events with several concurrent senders, close, reopen,
// and read every partition back with the store API to check that nothing was
// lost, duplicated or misplaced.
//
//   npx tsc -p tsconfig.json && npm run demo [-- --records N] [-- --acks all]
//
// Phases are functions of a `Fjord` and a `StreamCheck`: a consumer phase
// (issue 4) reads the topic its own way and feeds the same check.
import { rmSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import cliProgress from 'cli-progress';

import { decodeBatches, Fjord, partitionForKey, type DecodedRecord, type Message } from '../src/index.js';

const TOPIC = 'events';
const PARTITIONS = 6;
const SENDERS = 16;
const MESSAGES_PER_SEND = 100;
// Small enough that each partition rolls a few segments at the default record count.
const SEGMENT_BYTES = 16 * 1024 * 1024;
const HEADERS = { source: 'demo' };
const EVENT_TYPES = ['page_view', 'search', 'add_to_cart', 'checkout', 'login'] as const;
const USERS = 50_000;

/** A failed check: reported as one message, exit code 1. */
class DemoFailure extends Error {}

interface DemoOptions {
  records: number;
  acks: -1 | 0 | 1;
}

function parseOptions(): DemoOptions {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '1000000' },
      acks: { type: 'string', default: '1' },
    },
  });
  const records = Number(values.records);
  if (!Number.isSafeInteger(records) || records < 1) {
    console.error(`demo: --records must be a positive integer, got ${JSON.stringify(values.records)}`);
    process.exit(2);
  }
  const acks = ({ all: -1, '-1': -1, '0': 0, '1': 1 } as const)[values.acks as 'all' | '-1' | '0' | '1'];
  if (acks === undefined) {
    console.error(`demo: --acks must be 0, 1, all or -1, got ${JSON.stringify(values.acks)}`);
    process.exit(2);
  }
  return { records, acks };
}

function acksName(acks: number): string {
  return acks === -1 ? 'all' : String(acks);
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

/**
 * Event number `seq`: a pure function of `seq`, so reading back can
 * regenerate what was written. The value starts with `{"seq":<seq>,` so a
 * reader finds `seq` without parsing the JSON.
 */
function eventAt(seq: number, baseTime: number): DemoEvent {
  const h = mix32(seq);
  const user = `user-${h % USERS}`;
  const type = EVENT_TYPES[(h >>> 20) % EVENT_TYPES.length]!;
  const timestamp = baseTime + Math.floor(seq / 100);
  const amountCents = type === 'checkout' ? h % 100_000 : 0;
  const value = `{"seq":${seq},"type":"${type}","user":"${user}","path":"/products/${(h >>> 8) % 5000}","amountCents":${amountCents},"at":${timestamp}}`;
  return { key: user, value, timestamp };
}

const SEQ_PREFIX = Buffer.from('{"seq":');

/** The `seq` a value starts with, or -1 if it does not look like an event. */
function seqOf(value: Buffer | null): number {
  if (value === null || value.length <= SEQ_PREFIX.length || value.compare(SEQ_PREFIX, 0, SEQ_PREFIX.length, 0, SEQ_PREFIX.length) !== 0) return -1;
  let seq = 0;
  let i = SEQ_PREFIX.length;
  for (; i < value.length && i < SEQ_PREFIX.length + 16; i++) {
    const c = value[i]!;
    if (c === 0x2c) break; // ','
    if (c < 0x30 || c > 0x39) return -1;
    seq = seq * 10 + (c - 0x30);
  }
  return i === SEQ_PREFIX.length || value[i] !== 0x2c ? -1 : seq;
}

function show(bytes: Buffer | null): string {
  if (bytes === null) return 'null';
  const text = bytes.toString('utf8');
  return JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text);
}

// ---------------------------------------------------------------- checks

/**
 * Everything the demo promises about the topic, checked record by record in
 * whatever order a reader delivers them per partition: every event exactly
 * once and byte for byte, each key always in one partition (the one Kafka's
 * partitioner picks), offsets dense from the log start to the log end.
 */
class StreamCheck {
  readonly #seen: Uint8Array;
  readonly #nextOffset: number[];
  /** Partition of each user id, from the first record seen with it. */
  readonly #keyPartition = new Map<string, number>();
  #count = 0;
  bytes = 0;

  constructor(
    readonly total: number,
    readonly partitions: number,
    readonly baseTime: number,
  ) {
    this.#seen = new Uint8Array(total);
    this.#nextOffset = new Array<number>(partitions).fill(0);
  }

  get count(): number {
    return this.#count;
  }

  /** Where reading partition `partition` starts: its log start offset. */
  startPartition(partition: number, logStartOffset: number): void {
    this.#nextOffset[partition] = logStartOffset;
  }

  record(partition: number, record: DecodedRecord): void {
    const where = `${TOPIC}-${partition} offset ${record.offset}`;
    const expectedOffset = this.#nextOffset[partition]!;
    if (record.offset !== expectedOffset) throw new DemoFailure(`${where}: offsets are not dense, expected offset ${expectedOffset} next`);
    this.#nextOffset[partition] = expectedOffset + 1;

    const seq = seqOf(record.value);
    if (seq < 0 || seq >= this.total) throw new DemoFailure(`${where}: value ${show(record.value)} is not one of the ${this.total} events produced`);
    if (this.#seen[seq] === 1) throw new DemoFailure(`${where}: event ${seq} was read twice`);
    this.#seen[seq] = 1;
    this.#count++;

    const expected = eventAt(seq, this.baseTime);
    if (record.key === null || record.key.toString('latin1') !== expected.key) throw new DemoFailure(`${where}: key is ${show(record.key)}, expected ${JSON.stringify(expected.key)}`);
    if (record.value!.toString('utf8') !== expected.value) throw new DemoFailure(`${where}: value is ${show(record.value)}, expected ${JSON.stringify(expected.value)}`);
    if (record.timestamp !== expected.timestamp) throw new DemoFailure(`${where}: timestamp is ${record.timestamp}, expected ${expected.timestamp}`);
    const source = record.headers.source;
    if (Array.isArray(source) || source == null || source.toString('utf8') !== HEADERS.source) {
      throw new DemoFailure(`${where}: header source is ${Array.isArray(source) ? JSON.stringify(source.map(show)) : show(source ?? null)}, expected "demo"`);
    }

    const first = this.#keyPartition.get(expected.key);
    if (first === undefined) {
      const kafka = partitionForKey(record.key, this.partitions);
      if (kafka !== partition) throw new DemoFailure(`${where}: key ${expected.key} is in partition ${partition}; Kafka's partitioner puts it in ${kafka}`);
      this.#keyPartition.set(expected.key, partition);
    } else if (first !== partition) {
      throw new DemoFailure(`${where}: key ${expected.key} is in partition ${partition} and also in partition ${first}`);
    }
  }

  /** After the whole partition was read: it must end at its log end offset. */
  endPartition(partition: number, logEndOffset: number): void {
    const next = this.#nextOffset[partition]!;
    if (next !== logEndOffset) throw new DemoFailure(`${TOPIC}-${partition}: reading ended at offset ${next}, but the log end offset is ${logEndOffset}`);
  }

  /** After every partition was read: every event, once. */
  finish(): void {
    if (this.#count !== this.total) {
      const missing = this.#seen.indexOf(0);
      throw new DemoFailure(`read ${this.#count.toLocaleString('en-US')} records, produced ${this.total.toLocaleString('en-US')} (event ${missing} is missing)`);
    }
  }

  get keys(): number {
    return this.#keyPartition.size;
  }
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
/** Yields to the event loop now and then during synchronous work, so the bar can redraw from its timer. */
async function breathe(): Promise<void> {
  if (performance.now() - lastBreath < 50) return;
  await new Promise((resolve) => setImmediate(resolve));
  lastBreath = performance.now();
}

// ---------------------------------------------------------------- phases

async function createTopic(fjord: Fjord): Promise<void> {
  const admin = fjord.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic: TOPIC, numPartitions: PARTITIONS, configEntries: [{ name: 'segment.bytes', value: String(SEGMENT_BYTES) }] }],
    });
  } finally {
    await admin.disconnect();
  }
}

interface ProduceStats {
  /** Key, value and header bytes handed to `send`. */
  bytes: number;
  sends: number;
  ms: number;
}

/**
 * SENDERS async loops, each taking the next MESSAGES_PER_SEND events and
 * awaiting `producer.send` of them, until `total` events were sent. Keys are
 * user ids, so Kafka's partitioner spreads the events over the partitions.
 */
async function produceEvents(fjord: Fjord, options: DemoOptions, baseTime: number): Promise<ProduceStats> {
  const producer = fjord.producer();
  await producer.connect();
  const bar = progressBar('produce');
  const start = performance.now();
  const headerBytes = Buffer.byteLength('source') + Buffer.byteLength(HEADERS.source);
  let next = 0;
  let acked = 0;
  let bytes = 0;
  let sends = 0;
  bar.start(options.records, 0, rates(0, 0, start));

  const sender = async (): Promise<void> => {
    while (next < options.records) {
      const first = next;
      const count = Math.min(MESSAGES_PER_SEND, options.records - first);
      next += count;
      const messages: Message[] = [];
      let sendBytes = 0;
      for (let seq = first; seq < first + count; seq++) {
        const event = eventAt(seq, baseTime);
        messages.push({ key: event.key, value: event.value, headers: HEADERS, timestamp: event.timestamp });
        sendBytes += event.key.length + event.value.length + headerBytes; // ASCII: length is bytes
      }
      await producer.send({ topic: TOPIC, messages, acks: options.acks });
      acked += count;
      bytes += sendBytes;
      sends++;
      bar.update(acked, rates(acked, bytes, start));
      // With acks 1 and several senders, sends resolve one another through
      // microtasks (a full batch is appended inside a send) and the event loop
      // may never turn; a real source of events would yield on its own I/O.
      await breathe();
    }
  };

  try {
    await Promise.all(Array.from({ length: SENDERS }, sender));
    // Writes anything still queued (nothing is, once every send resolved, unless acks is 0).
    await producer.disconnect();
  } finally {
    bar.stop();
  }
  return { bytes, sends, ms: performance.now() - start };
}

async function printOffsets(fjord: Fjord): Promise<number> {
  const admin = fjord.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(TOPIC);
    let total = 0;
    console.log(`\nadmin.fetchTopicOffsets('${TOPIC}'):`);
    console.log('  partition       low        high     records');
    for (const { partition, low, high } of offsets) {
      const records = Number(high) - Number(low);
      total += records;
      console.log(`  ${String(partition).padStart(9)} ${low.padStart(9)} ${high.padStart(11)} ${records.toLocaleString('en-US').padStart(11)}`);
    }
    console.log(`  ${'total'.padStart(9)} ${''.padStart(9)} ${''.padStart(11)} ${total.toLocaleString('en-US').padStart(11)}`);
    return total;
  } finally {
    await admin.disconnect();
  }
}

/** Reads every partition with the store API (zero-copy slices, decoded here) and feeds the check. */
async function verifyWithStore(fjord: Fjord, check: StreamCheck): Promise<{ ms: number; segments: number; diskBytes: number }> {
  const topic = (await fjord.topics()).get(TOPIC);
  if (topic.numPartitions !== check.partitions) throw new DemoFailure(`topic ${TOPIC} has ${topic.numPartitions} partitions after reopening, expected ${check.partitions}`);
  const bar = progressBar('verify ');
  const start = performance.now();
  let segments = 0;
  let diskBytes = 0;
  bar.start(check.total, 0, rates(0, 0, start));
  try {
    for (let p = 0; p < topic.numPartitions; p++) {
      const log = topic.partition(p).log;
      const report = log.recoveryReport;
      if (!report.cleanShutdown) throw new DemoFailure(`${TOPIC}-${p}: the topic was closed cleanly, yet recovery did not see a clean shutdown (${report.notes.join('; ')})`);
      segments += log.segments().length;
      diskBytes += log.size;
      check.startPartition(p, log.logStartOffset);
      for (let slice = log.readSlice(log.logStartOffset); slice !== null; slice = log.readSlice(slice.nextOffset)) {
        check.bytes += slice.bytes.length;
        for (const record of decodeBatches(slice.bytes)) check.record(p, record);
        bar.update(check.count, rates(check.count, check.bytes, start));
        await breathe();
      }
      check.endPartition(p, log.logEndOffset);
    }
  } finally {
    bar.stop();
  }
  check.finish();
  return { ms: performance.now() - start, segments, diskBytes };
}

// ---------------------------------------------------------------- main

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

const perSecond = (count: number, ms: number) => Math.round((count * 1000) / ms).toLocaleString('en-US');
const mbPerSecond = (bytes: number, ms: number) => ((bytes * 1000) / 1e6 / ms).toFixed(1);

async function main(): Promise<void> {
  const options = parseOptions();
  const dataDir = resolve('.fjord-data', 'demo');
  rmSync(dataDir, { recursive: true, force: true });
  const baseTime = Date.now();
  console.log(
    `fjord demo: ${options.records.toLocaleString('en-US')} events into topic ${TOPIC} (${PARTITIONS} partitions) in ${relative(process.cwd(), dataDir)}/, ` +
      `${SENDERS} concurrent senders of ${MESSAGES_PER_SEND} messages, acks ${acksName(options.acks)}`,
  );

  const t0 = performance.now();
  const fjord = new Fjord({ dir: dataDir });
  let produced: ProduceStats;
  let offsetsTotal: number;
  try {
    await createTopic(fjord);
    produced = await produceEvents(fjord, options, baseTime);
    offsetsTotal = await printOffsets(fjord);
  } finally {
    await fjord.close();
  }
  const t1 = performance.now();
  if (offsetsTotal !== options.records) throw new DemoFailure(`the partitions' offsets add up to ${offsetsTotal} records, produced ${options.records}`);

  const reopened = await Fjord.open({ dir: dataDir });
  const t2 = performance.now();
  console.log(`\nclosed in ${seconds(t1 - t0 - produced.ms)} (create, disconnect, offsets, close), reopened with Fjord.open in ${seconds(t2 - t1)}`);
  const check = new StreamCheck(options.records, PARTITIONS, baseTime);
  try {
    const verified = await verifyWithStore(reopened, check);
    // Issue 4: a consumer phase goes here, e.g. `await consumeEvents(reopened, new StreamCheck(...))`.
    const t3 = performance.now();
    const total = options.records;

    console.log(
      `\nverified: all ${total.toLocaleString('en-US')} events read back exactly once and byte for byte; ` +
        `each of ${check.keys.toLocaleString('en-US')} keys in one partition (Kafka's murmur2 choice); offsets dense in every partition`,
    );
    console.log(`records   ${total.toLocaleString('en-US')} in ${produced.sends.toLocaleString('en-US')} sends`);
    console.log(
      `bytes     ${(produced.bytes / 1e6).toFixed(1)} MB of keys, values and headers; ${(verified.diskBytes / 1e6).toFixed(1)} MB on disk ` +
        `in ${verified.segments} segments (${(verified.diskBytes / total).toFixed(0)} B a record)`,
    );
    console.log(`produce   ${seconds(produced.ms)}  ${perSecond(total, produced.ms)} records/s  ${mbPerSecond(produced.bytes, produced.ms)} MB/s (acks ${acksName(options.acks)})`);
    console.log(`verify    ${seconds(verified.ms)}  ${perSecond(total, verified.ms)} records/s  ${mbPerSecond(check.bytes, verified.ms)} MB/s (read + decode + check)`);
    console.log(`elapsed   ${seconds(t3 - t0)} including topic creation, close and reopen`);
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
