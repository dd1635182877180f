// A tour of the client API: create a topic with the admin client, produce a
// stream of generated events with several concurrent senders while a consumer
// group of several members reads them (printing each partition's lag as
// admin.fetchOffsets reports it), close, reopen, and read every partition back
// with the store API to check that nothing was lost, duplicated or misplaced.
//
//   npx tsc -p tsconfig.json && npm run demo [-- --records N] [-- --acks all] [-- --consumers N] [-- --late-join]
//
// --late-join starts the last member a third of the way through, so a
// rebalance moves partitions while records flow (--consumers 0: no group).
//
// Phases are functions of a `Fjord` and a `StreamCheck`: the consumer group
// and the store read-back each feed a check of their own.
import { rmSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import cliProgress from 'cli-progress';

import { decodeBatches, Fjord, partitionForKey, type Consumer, type DecodedRecord, type EachBatchPayload, type Message } from '../src/index.js';

const TOPIC = 'events';
const PARTITIONS = 6;
const SENDERS = 16;
const MESSAGES_PER_SEND = 100;
// Small enough that each partition rolls a few segments at the default record count.
const SEGMENT_BYTES = 16 * 1024 * 1024;
const HEADERS = { source: 'demo' };
const EVENT_TYPES = ['page_view', 'search', 'add_to_cart', 'checkout', 'login'] as const;
const USERS = 50_000;
const GROUP_ID = 'demo-readers';
/** Members also commit this often within a batch (KafkaJS commits after every batch anyway): lag below reflects commits. */
const AUTO_COMMIT_INTERVAL_MS = 100;
/** After the last send, how long the group may take to read the rest. */
const DRAIN_TIMEOUT_MS = 20_000;

/** A failed check: reported as one message, exit code 1. */
class DemoFailure extends Error {}

interface DemoOptions {
  records: number;
  acks: -1 | 0 | 1;
  /** Members of the consumer group that reads while the producer writes; 0: no group. */
  consumers: number;
  /** Start the last member once a third of the records were sent: a rebalance moves partitions mid-stream. */
  lateJoin: boolean;
}

const USAGE = 'usage: demo [--records N] [--acks 0|1|all] [--consumers N] [--late-join]';

function parseOptions(): DemoOptions {
  let parsed: { values: { records: string; acks: string; consumers: string; 'late-join': boolean; help: boolean } };
  try {
    parsed = parseArgs({
      options: {
        records: { type: 'string', default: '1000000' },
        acks: { type: 'string', default: '1' },
        consumers: { type: 'string', default: '3' },
        'late-join': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    console.error(`demo: ${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  const { values } = parsed;
  if (values.help) {
    console.log(USAGE);
    console.log('Produces --records events (default 1,000,000) with acks --acks (default 1) while --consumers members (default 3) read them.');
    process.exit(0);
  }
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
  const consumers = Number(values.consumers);
  if (!Number.isSafeInteger(consumers) || consumers < 0 || consumers > 64) {
    console.error(`demo: --consumers must be an integer from 0 to 64, got ${JSON.stringify(values.consumers)}`);
    process.exit(2);
  }
  return { records, acks, consumers, lateJoin: values['late-join'] === true && consumers > 1 };
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
    if (record.key === null || record.key.toString('latin1') !== expected.key)
      throw new DemoFailure(`${where}: key is ${show(record.key)}, expected ${JSON.stringify(expected.key)}`);
    if (record.value!.toString('utf8') !== expected.value)
      throw new DemoFailure(`${where}: value is ${show(record.value)}, expected ${JSON.stringify(expected.value)}`);
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
      throw new DemoFailure(
        `read ${this.#count.toLocaleString('en-US')} records, produced ${this.total.toLocaleString('en-US')} (event ${missing} is missing)`,
      );
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

/** Shared with the lag report while a consumer group reads along: how far the producer is; set `aborted` to stop it. */
interface LiveProduce {
  acked: number;
  aborted: boolean;
}

/**
 * SENDERS async loops, each taking the next MESSAGES_PER_SEND events and
 * awaiting `producer.send` of them, until `total` events were sent. Keys are
 * user ids, so Kafka's partitioner spreads the events over the partitions.
 */
async function produceEvents(fjord: Fjord, options: DemoOptions, baseTime: number, live: LiveProduce | null = null): Promise<ProduceStats> {
  const producer = fjord.producer();
  await producer.connect();
  // With a group reading along, the lag report prints progress (plain lines, no bar to redraw around).
  const bar = live === null ? progressBar('produce') : null;
  const start = performance.now();
  const headerBytes = Buffer.byteLength('source') + Buffer.byteLength(HEADERS.source);
  let next = 0;
  let acked = 0;
  let bytes = 0;
  let sends = 0;
  bar?.start(options.records, 0, rates(0, 0, start));

  const sender = async (): Promise<void> => {
    while (next < options.records && live?.aborted !== true) {
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
      if (live !== null) live.acked = acked;
      bar?.update(acked, rates(acked, bytes, start));
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
    bar?.stop();
  }
  return { bytes, sends, ms: performance.now() - start };
}

// ---------------------------------------------------------------- consumer group

interface GroupStats {
  members: number;
  /** New records per member (redeliveries not counted). */
  perMember: number[];
  batches: number;
  /** Records handed out again after their partition moved to another member. */
  duplicates: number;
  /** GROUP_JOIN events over all members: one per member per generation it joined. */
  joins: number;
  /** From the last acknowledged send until every partition was read to its log end. */
  catchUpMs: number;
}

/**
 * `members` consumers of one group (eachBatch, autoCommit, fromBeginning)
 * reading the topic while it is written. Every batch goes through the same
 * StreamCheck as the store read-back, plus what a group must guarantee: per
 * partition, offsets handed out in increasing order without gaps; one member
 * at a time in a partition; a record handed out twice only right after its
 * partition moved to another member (from the last committed offset), and
 * then byte for byte the same event.
 */
class GroupReader {
  readonly consumers: Consumer[] = [];
  readonly perMember: number[];
  batches = 0;
  duplicates = 0;
  failure: DemoFailure | null = null;
  /** Rejects with the first failure; main races it against producing and draining. */
  readonly failed: Promise<never>;
  #rejectFailed!: (error: DemoFailure) => void;
  /** Next offset never read before, per partition. */
  readonly #next: number[];
  /** Last offset handed out, per partition. */
  readonly #lastDelivered: number[];
  /** The member and generation (its GROUP_JOIN count) that last read each partition. */
  readonly #owner: string[];
  /** The member inside a batch of each partition, -1: none. */
  readonly #inFlight: number[];
  /** The event each offset read so far carried, per partition: redeliveries must carry the same. */
  #seqAt: Int32Array[];
  readonly #joins: number[];

  constructor(
    readonly fjord: Fjord,
    readonly check: StreamCheck,
    readonly members: number,
    readonly elapsed: () => string,
  ) {
    this.perMember = new Array<number>(members).fill(0);
    this.#joins = new Array<number>(members).fill(0);
    this.#next = new Array<number>(check.partitions).fill(0);
    this.#lastDelivered = new Array<number>(check.partitions).fill(-1);
    this.#owner = new Array<string>(check.partitions).fill('');
    this.#inFlight = new Array<number>(check.partitions).fill(-1);
    const expected = Math.ceil((check.total / check.partitions) * 1.25) + 16;
    this.#seqAt = Array.from({ length: check.partitions }, () => new Int32Array(expected));
    this.failed = new Promise<never>((_resolve, reject) => (this.#rejectFailed = reject));
    this.failed.catch(() => undefined); // raced by main; never unhandled
  }

  get consumed(): number {
    return this.perMember.reduce((a, b) => a + b, 0);
  }

  get joins(): number {
    return this.#joins.reduce((a, b) => a + b, 0);
  }

  fail(error: DemoFailure): void {
    if (this.failure !== null) return;
    this.failure = error;
    this.#rejectFailed(error);
  }

  /** Connects and runs members `first` to `last` (exclusive); they join the group, rebalancing it, while the producer runs. */
  async start(first = 0, last = this.members): Promise<void> {
    const started: Consumer[] = [];
    for (let m = first; m < last; m++) {
      const name = `m${m + 1}`;
      const consumer = this.fjord.consumer({ groupId: GROUP_ID });
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        const { isLeader, memberAssignment } = (event as { payload: { isLeader: boolean; memberAssignment: Record<string, number[]> } }).payload;
        this.#joins[m]!++;
        const partitions = memberAssignment[TOPIC] ?? [];
        console.log(
          `${this.elapsed()}  ${name} joined ${GROUP_ID}${isLeader ? ' as leader' : ''}: ` +
            (partitions.length === 0 ? 'no partitions' : `partitions ${[...partitions].sort((a, b) => a - b).join(', ')}`),
        );
      });
      consumer.on(consumer.events.CRASH, (event) => {
        const { error } = (event as { payload: { error: unknown } }).payload;
        this.fail(
          error instanceof DemoFailure ? error : new DemoFailure(`consumer ${name} crashed: ${error instanceof Error ? error.message : String(error)}`),
        );
      });
      await consumer.connect();
      await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
      this.consumers.push(consumer);
      started.push(consumer);
    }
    for (let i = 0; i < started.length; i++) {
      const m = first + i;
      await started[i]!.run({
        autoCommit: true,
        autoCommitInterval: AUTO_COMMIT_INTERVAL_MS,
        eachBatch: (payload) => this.#eachBatch(m, payload),
      });
    }
  }

  async #eachBatch(member: number, { batch }: EachBatchPayload): Promise<void> {
    if (this.failure !== null) return;
    const p = batch.partition;
    const inside = this.#inFlight[p]!;
    if (inside !== -1) {
      this.fail(new DemoFailure(`${TOPIC}-${p}: m${member + 1} was handed a batch while m${inside + 1} was still processing one of the same partition`));
      return;
    }
    this.#inFlight[p] = member;
    try {
      this.#read(member, p, batch.messages);
      this.batches++;
    } catch (error) {
      this.fail(error instanceof DemoFailure ? error : new DemoFailure(`${TOPIC}-${p}: ${error instanceof Error ? error.message : String(error)}`));
    }
    // Checking is synchronous work: let timers (the lag report, heartbeats) and the producer's I/O run.
    await breathe();
    this.#inFlight[p] = -1;
  }

  #read(member: number, p: number, messages: EachBatchPayload['batch']['messages']): void {
    if (messages.length === 0) return;
    const name = `m${member + 1}`;
    const owner = `${member}/${this.#joins[member]}`;
    if (owner !== this.#owner[p]) {
      // A member that (re)gained the partition starts at the group's committed offset: at or before what was read.
      const first = Number(messages[0]!.offset);
      if (first > this.#next[p]!) {
        throw new DemoFailure(
          `${TOPIC}-${p}: ${name} took the partition over at offset ${first}, but offsets ${this.#next[p]} to ${first - 1} were never read`,
        );
      }
      this.#owner[p] = owner;
      this.#lastDelivered[p] = first - 1;
    }
    let seqAt = this.#seqAt[p]!;
    for (const message of messages) {
      const offset = Number(message.offset);
      const last = this.#lastDelivered[p]!;
      if (offset !== last + 1) {
        throw new DemoFailure(`${TOPIC}-${p}: ${name} was handed offset ${offset} right after ${last}: a partition's offsets must come in order, without gaps`);
      }
      this.#lastDelivered[p] = offset;
      if (offset < this.#next[p]!) {
        const seq = seqOf(message.value);
        if (seq !== seqAt[offset]) {
          throw new DemoFailure(`${TOPIC}-${p} offset ${offset}: ${name} was handed event ${seq}, the offset held event ${seqAt[offset]} when first read`);
        }
        this.duplicates++;
        continue;
      }
      this.check.record(p, { offset, timestamp: Number(message.timestamp), key: message.key, value: message.value, headers: message.headers });
      if (offset >= seqAt.length) {
        const bigger = new Int32Array(seqAt.length * 2);
        bigger.set(seqAt);
        this.#seqAt[p] = seqAt = bigger;
      }
      seqAt[offset] = seqOf(message.value);
      this.#next[p] = offset + 1;
      this.perMember[member]!++;
    }
  }

  /** Whether every partition was read to `logEndOffsets`. */
  caughtUp(logEndOffsets: readonly number[]): boolean {
    return logEndOffsets.every((end, p) => this.#next[p] === end);
  }

  /** Waits until every partition was read to its log end (after the last send), then stops the members. */
  async drain(producedAt: number): Promise<number> {
    const topic = (await this.fjord.topics()).get(TOPIC);
    const ends = () => topic.partitions.map((p) => p.log.logEndOffset);
    const deadline = performance.now() + DRAIN_TIMEOUT_MS;
    while (!this.caughtUp(ends())) {
      if (this.failure !== null) throw this.failure;
      if (performance.now() > deadline) {
        const behind = ends().map((end, p) => `${TOPIC}-${p} at ${this.#next[p]} of ${end}`);
        throw new DemoFailure(`the group had not read every record ${DRAIN_TIMEOUT_MS / 1000} s after the last send: ${behind.join(', ')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const catchUpMs = performance.now() - producedAt;
    // stop() commits what each member processed and leaves the group.
    await Promise.all(this.consumers.map((consumer) => consumer.disconnect()));
    if (this.failure !== null) throw this.failure;
    const finalEnds = ends();
    for (let p = 0; p < finalEnds.length; p++) this.check.endPartition(p, finalEnds[p]!);
    this.check.finish();
    return catchUpMs;
  }
}

/**
 * Once a second, one plain line (no redraws, readable in CI logs): how far the
 * producer and the group are, and each partition's lag as admin.fetchOffsets
 * reports it (log end offset minus the group's committed offset).
 */
function startLagReport(fjord: Fjord, live: LiveProduce, group: GroupReader, elapsed: () => string): () => Promise<void> {
  const admin = fjord.admin();
  let connected = admin.connect();
  let busy = false;
  const tick = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      await connected;
      const [offsets] = await admin.fetchOffsets({ groupId: GROUP_ID, topics: [TOPIC] });
      const lags = (offsets?.partitions ?? []).map(({ partition, lag }) => `p${partition} ${Number(lag).toLocaleString('en-US').padStart(7)}`);
      console.log(
        `${elapsed()}  produced ${live.acked.toLocaleString('en-US').padStart(9)}  consumed ${group.consumed.toLocaleString('en-US').padStart(9)}  lag ${lags.join('  ')}`,
      );
    } catch (error) {
      group.fail(new DemoFailure(`admin.fetchOffsets failed: ${error instanceof Error ? error.message : String(error)}`));
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), 1000);
  return async () => {
    clearInterval(timer);
    await connected;
    await admin.disconnect();
    connected = Promise.resolve();
  };
}

/**
 * The topic's offsets per partition; with a group, its committed offsets and
 * lag too, which must be at the log end once the group has read everything.
 */
async function printOffsets(fjord: Fjord, groupId: string | null): Promise<number> {
  const admin = fjord.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(TOPIC);
    const committed = groupId === null ? [] : ((await admin.fetchOffsets({ groupId, topics: [TOPIC] }))[0]?.partitions ?? []);
    let total = 0;
    console.log(`\nadmin.fetchTopicOffsets('${TOPIC}')${groupId === null ? '' : ` and admin.fetchOffsets({ groupId: '${groupId}' })`}:`);
    console.log(`  partition       low        high     records${groupId === null ? '' : '   committed     lag'}`);
    for (const { partition, low, high } of offsets) {
      const records = Number(high) - Number(low);
      total += records;
      let group = '';
      if (groupId !== null) {
        const c = committed.find((o) => o.partition === partition);
        group = ` ${(c?.offset ?? '-').padStart(11)} ${(c?.lag ?? '-').padStart(7)}`;
        if (c?.offset !== high || c.lag !== '0') {
          throw new DemoFailure(
            `${TOPIC}-${partition}: group ${groupId} committed offset ${c?.offset ?? 'none'} (lag ${c?.lag ?? '?'}) after reading everything; the log ends at ${high}`,
          );
        }
      }
      console.log(`  ${String(partition).padStart(9)} ${low.padStart(9)} ${high.padStart(11)} ${records.toLocaleString('en-US').padStart(11)}${group}`);
    }
    console.log(`  ${'total'.padStart(9)} ${''.padStart(9)} ${''.padStart(11)} ${total.toLocaleString('en-US').padStart(11)}`);
    return total;
  } finally {
    await admin.disconnect();
  }
}

/** After reopening: the group's commits were replayed from __consumer_offsets, still at each log end. */
async function checkCommittedAfterReopen(fjord: Fjord): Promise<void> {
  const admin = fjord.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(TOPIC);
    const [committed] = await admin.fetchOffsets({ groupId: GROUP_ID, topics: [TOPIC] });
    for (const { partition, high } of ends) {
      const c = committed?.partitions.find((o) => o.partition === partition);
      if (c?.offset !== high)
        throw new DemoFailure(`${TOPIC}-${partition}: after reopening, group ${GROUP_ID} has committed offset ${c?.offset ?? 'none'}, expected ${high}`);
    }
  } finally {
    await admin.disconnect();
  }
}

/** Reads every partition with the store API (zero-copy slices, decoded here) and feeds the check. */
async function verifyWithStore(fjord: Fjord, check: StreamCheck): Promise<{ ms: number; segments: number; diskBytes: number }> {
  const topic = (await fjord.topics()).get(TOPIC);
  if (topic.numPartitions !== check.partitions)
    throw new DemoFailure(`topic ${TOPIC} has ${topic.numPartitions} partitions after reopening, expected ${check.partitions}`);
  const bar = progressBar('verify ');
  const start = performance.now();
  let segments = 0;
  let diskBytes = 0;
  bar.start(check.total, 0, rates(0, 0, start));
  try {
    for (let p = 0; p < topic.numPartitions; p++) {
      const log = topic.partition(p).log;
      const report = log.recoveryReport;
      if (!report.cleanShutdown)
        throw new DemoFailure(`${TOPIC}-${p}: the topic was closed cleanly, yet recovery did not see a clean shutdown (${report.notes.join('; ')})`);
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
      `${SENDERS} concurrent senders of ${MESSAGES_PER_SEND} messages, acks ${acksName(options.acks)}` +
      (options.consumers === 0 ? '' : `; consumer group ${GROUP_ID} of ${options.consumers} members (eachBatch, fromBeginning) reading along`),
  );

  const t0 = performance.now();
  const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s`;
  const fjord = new Fjord({ dir: dataDir });
  let produced: ProduceStats;
  let offsetsTotal: number;
  let group: (GroupStats & { ms: number }) | null = null;
  try {
    await createTopic(fjord);
    if (options.consumers === 0) {
      produced = await produceEvents(fjord, options, baseTime);
    } else {
      const live: LiveProduce = { acked: 0, aborted: false };
      const reader = new GroupReader(fjord, new StreamCheck(options.records, PARTITIONS, baseTime), options.consumers, elapsed);
      console.log(
        `\nonce a second: records produced and consumed, and lag per partition (log end offset − committed offset, admin.fetchOffsets; members commit every ${AUTO_COMMIT_INTERVAL_MS} ms):`,
      );
      const stopReport = startLagReport(fjord, live, reader, elapsed);
      const groupStart = performance.now();
      try {
        const early = options.lateJoin ? options.consumers - 1 : options.consumers;
        await reader.start(0, early);
        const producing = produceEvents(fjord, options, baseTime, live);
        const joining = (async () => {
          if (!options.lateJoin) return;
          while (live.acked < options.records / 3 && !live.aborted) await new Promise((r) => setTimeout(r, 5));
          if (!live.aborted) await reader.start(early);
        })();
        try {
          produced = await Promise.race([producing, reader.failed]);
          await Promise.race([joining, reader.failed]);
        } catch (error) {
          live.aborted = true;
          await Promise.allSettled([producing, joining]);
          throw error;
        }
        const catchUpMs = await Promise.race([reader.drain(performance.now()), reader.failed]);
        group = {
          members: options.consumers,
          perMember: reader.perMember,
          batches: reader.batches,
          duplicates: reader.duplicates,
          joins: reader.joins,
          catchUpMs,
          ms: performance.now() - groupStart,
        };
      } finally {
        await stopReport();
      }
      console.log(`${elapsed()}  group ${GROUP_ID} read all ${reader.consumed.toLocaleString('en-US')} records; members stopped and committed`);
    }
    offsetsTotal = await printOffsets(fjord, group === null ? null : GROUP_ID);
  } finally {
    await fjord.close();
  }
  const t1 = performance.now();
  if (offsetsTotal !== options.records) throw new DemoFailure(`the partitions' offsets add up to ${offsetsTotal} records, produced ${options.records}`);

  const reopened = await Fjord.open({ dir: dataDir });
  const t2 = performance.now();
  console.log(`\nclosed in ${seconds(t1 - t0 - (group?.ms ?? produced.ms))} (create, offsets, close), reopened with Fjord.open in ${seconds(t2 - t1)}`);
  const check = new StreamCheck(options.records, PARTITIONS, baseTime);
  try {
    if (group !== null) await checkCommittedAfterReopen(reopened);
    const verified = await verifyWithStore(reopened, check);
    const t3 = performance.now();
    const total = options.records;

    console.log(
      `\nverified: all ${total.toLocaleString('en-US')} events read back exactly once and byte for byte; ` +
        `each of ${check.keys.toLocaleString('en-US')} keys in one partition (Kafka's murmur2 choice); offsets dense in every partition`,
    );
    if (group !== null) {
      console.log(
        `          and by the consumer group while they were written: every record, in offset order within its partition, one member ` +
          `per partition at a time, ${group.duplicates.toLocaleString('en-US')} handed out twice; committed offsets at the log end, also after reopening`,
      );
    }
    console.log(`records   ${total.toLocaleString('en-US')} in ${produced.sends.toLocaleString('en-US')} sends`);
    console.log(
      `bytes     ${(produced.bytes / 1e6).toFixed(1)} MB of keys, values and headers; ${(verified.diskBytes / 1e6).toFixed(1)} MB on disk ` +
        `in ${verified.segments} segments (${(verified.diskBytes / total).toFixed(0)} B a record)`,
    );
    console.log(
      `produce   ${seconds(produced.ms)}  ${perSecond(total, produced.ms)} records/s  ${mbPerSecond(produced.bytes, produced.ms)} MB/s (acks ${acksName(options.acks)})`,
    );
    if (group !== null) {
      const members = group.perMember.map((n, m) => `m${m + 1} ${n.toLocaleString('en-US')}`).join(', ');
      console.log(
        `consume   ${seconds(group.ms)}  ${perSecond(total, group.ms)} records/s alongside the producer, ${group.members} members (${members}), ` +
          `${group.batches.toLocaleString('en-US')} batches; caught up ${group.catchUpMs.toFixed(0)} ms after the last send`,
      );
      console.log(
        `group     ${GROUP_ID}: ${group.joins} joins over all members, ${group.duplicates.toLocaleString('en-US')} duplicates ` +
          `(records handed out again after their partition moved in a rebalance)`,
      );
    }
    console.log(
      `verify    ${seconds(verified.ms)}  ${perSecond(total, verified.ms)} records/s  ${mbPerSecond(check.bytes, verified.ms)} MB/s (read + decode + check)`,
    );
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
