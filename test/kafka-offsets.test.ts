// Committed offsets in Kafka's own layout: the records Kafka 4.4 writes (hex
// vectors observed from a Kafka 4.4 broker, and a fixture a real broker wrote:
// scripts/kafka-offsets/check.mjs --save-fixture), Kafka's group → partition
// rule, and the move of a directory Fjord wrote in its MessagePack layout.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';

import { runCommand } from '../src/command.js';
import { CorruptRecordError } from '../src/errors.js';
import { Fjord } from '../src/fjord.js';
import { decodeOffsetCommitValue, decodeOffsetsKey, encodeOffsetCommitKey, encodeOffsetCommitValue } from '../src/groups/offset-records.js';
import { LEGACY_OFFSETS_DIR, OffsetStore } from '../src/groups/offset-store.js';
import { javaStringHashCode, offsetsPartitionFor } from '../src/groups/offsets-partitioner.js';
import { formatOffsetsCsv } from '../src/groups/offsets-csv.js';
import { encodeBatch } from '../src/record-batch/encode.js';
import { Log } from '../src/storage/log.js';
import { FJORD, runScript } from './child-process.js';
import { tempDir, withAttributes } from './helpers.js';

const FIXTURE = 'test/fixtures/kafka-4.4-offsets';
const manifest = JSON.parse(readFileSync(join(FIXTURE, 'manifest.json'), 'utf8')) as { groups: Record<string, [string, number, number][]> };

/** SHA-256 of every file under `dir`, by relative path. */
function hashes(dir: string): Map<string, string> {
  const result = new Map<string, string>();
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const file = join(dir, name);
    if (statSync(file).isFile()) result.set(name, createHash('sha256').update(readFileSync(file)).digest('hex'));
  }
  return result;
}

function offsetsOf(store: OffsetStore, group: string): [string, number, number][] {
  return [...store.offsets(group).values()]
    .map((o): [string, number, number] => [o.topic, o.partition, o.offset])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
}

describe("Kafka's __consumer_offsets records", () => {
  it('decodes the records Kafka 4.4 wrote (KAFKA-WIRE-FACTS §3 vectors)', () => {
    const key = Buffer.from('0001000b6b61666b612d67726f757000056b2d74786e00000000', 'hex');
    expect(decodeOffsetsKey(key, 'vector')).toEqual({ type: 'offset', groupId: 'kafka-group', topic: 'k-txn', partition: 0 });
    // Version 4: compact metadata and the tagged topicId (tag 0, 16 bytes), which Fjord skips.
    const value = Buffer.from('000400000000000007e40000000001000001a23434f7ca0100101766e471dd144bd49eb815d33cc65d0b', 'hex');
    expect(decodeOffsetCommitValue(value, 'vector')).toEqual({ offset: 2020, leaderEpoch: 0, metadata: null, commitTimestamp: 1796172216266 });
    expect(decodeOffsetsKey(Buffer.from('0002000b6b61666b612d67726f7570', 'hex'), 'vector')).toEqual({ type: 'group', groupId: 'kafka-group' });
    // Record types of KIP-848, share and streams groups: not read, skipped.
    expect(decodeOffsetsKey(Buffer.from('000300066b697038343800', 'hex'), 'vector')).toEqual({ type: 'unknown', recordType: 3 });
    // The legacy key type 0 has the same fields; values v0 to v2 have no leader epoch, v1 an expire timestamp.
    const legacyKey = Buffer.from(`0000${encodeOffsetCommitKey('g', 't', 7).subarray(2).toString('hex')}`, 'hex');
    expect(decodeOffsetsKey(legacyKey, 'v')).toEqual({ type: 'offset', groupId: 'g', topic: 't', partition: 7 });
    expect(decodeOffsetCommitValue(Buffer.from('0000000000000000000500016d000000000000000a', 'hex'), 'v')).toEqual({
      offset: 5,
      leaderEpoch: -1,
      metadata: 'm',
      commitTimestamp: 10,
    });
    expect(decodeOffsetCommitValue(Buffer.from('000100000000000000050000000000000000000affffffffffffffff', 'hex'), 'v')).toEqual({
      offset: 5,
      leaderEpoch: -1,
      metadata: null,
      commitTimestamp: 10,
    });
    // A version newer than Kafka 4.4's: not read (null), never misread.
    expect(decodeOffsetCommitValue(Buffer.from('0005000000000000000500000000', 'hex'), 'v')).toBeNull();
    // What Fjord writes reads back.
    const written = { offset: 9, leaderEpoch: 3, metadata: 'héllo', commitTimestamp: 1_700_000_000_000 };
    expect(decodeOffsetCommitValue(encodeOffsetCommitValue(written), 'v')).toEqual(written);
  });

  it('refuses a malformed record of a type it reads, naming it', () => {
    expect(() => decodeOffsetsKey(Buffer.from('0001000167', 'hex'), '__consumer_offsets-3 record at offset 0')).toThrow(
      new CorruptRecordError('__consumer_offsets-3 record at offset 0: key ends at byte 5, 2 more needed at 5 (key 0001000167)'),
    );
    expect(() => decodeOffsetCommitValue(Buffer.from('00030000', 'hex'), 'r')).toThrow(CorruptRecordError);
    expect(() =>
      decodeOffsetCommitValue(
        Buffer.from(`${encodeOffsetCommitValue({ offset: 1, leaderEpoch: -1, metadata: null, commitTimestamp: 2 }).toString('hex')}00`, 'hex'),
        'r',
      ),
    ).toThrow(new CorruptRecordError('r: value: 1 bytes left after its fields (value 00030000000000000001ffffffff0000000000000000000200)'));
  });

  it("places a group by Kafka's rule: abs(String.hashCode) % partitions", () => {
    // KAFKA-WIRE-FACTS §3, from Kafka's GroupCoordinatorService.partitionFor.
    expect(javaStringHashCode('kafka-group')).toBe(-1481372392);
    expect(javaStringHashCode('billing')).toBe(-109829509);
    expect(offsetsPartitionFor('kafka-group', 50)).toBe(42);
    expect(offsetsPartitionFor('billing', 50)).toBe(9);
    expect(offsetsPartitionFor('g', 50)).toBe(3);
    // Java's hash of this string is Integer.MIN_VALUE, which Kafka's Utils.abs maps to 0.
    expect(javaStringHashCode('polygenelubricants')).toBe(-0x80000000);
    expect(offsetsPartitionFor('polygenelubricants', 50)).toBe(0);
    // UTF-16 code units, as Java counts them.
    expect(javaStringHashCode('é😀')).toBe(((0xe9 * 31 + 0xd83d) * 31 + 0xde00) | 0);
  });

  it('formats the CSV kafka-consumer-groups --reset-offsets --from-file reads', () => {
    expect(
      formatOffsetsCsv([
        { topic: 'orders', partition: 10, offset: 5 },
        { topic: 'events', partition: 0, offset: 0 },
        { topic: 'orders', partition: 2, offset: 17 },
      ]),
    ).toBe('events,0,0\norders,2,17\norders,10,5\n');
    expect(formatOffsetsCsv([])).toBe('');
  });
});

describe("a Kafka 4.4 broker's __consumer_offsets (fixture written by the broker)", () => {
  it('reads every committed offset Kafka reported, skips KIP-848 records, and leaves Kafka files as they were', async () => {
    const dir = tempDir();
    cpSync(FIXTURE, dir, { recursive: true });
    const before = hashes(dir);
    const store = await OffsetStore.open(dir);
    expect(store.kafkaLayout).toBe(true);
    expect(store.partitionCount).toBe(50);
    expect(store.groups().sort()).toEqual(['billing', 'kafka-group', 'kip848']);
    for (const [group, offsets] of Object.entries(manifest.groups)) expect(offsetsOf(store, group), group).toEqual(offsets);
    expect(store.fetch('billing', 'events', 0)).toMatchObject({ offset: 70, leaderEpoch: 0, metadata: null });
    // kip848's ConsumerGroup* records (types 3, 5, 6, 7, 8: one last record per key).
    expect(store.stats.skippedRecords).toBe(5);
    await store.close();
    const after = hashes(dir);
    for (const [file, hash] of before) expect(after.get(file), file).toBe(hash);
  });

  it("never compacts Kafka's partitions: its segments stay, whatever Fjord commits after them", async () => {
    const dir = tempDir();
    cpSync(FIXTURE, dir, { recursive: true });
    const kafkaSegment = join(dir, '__consumer_offsets-9', '00000000000000000000.log');
    const kafkaBytes = readFileSync(kafkaSegment);
    // Settings under which a partition Fjord created compacts at once (see offset-store.test.ts).
    const store = await OffsetStore.open(dir, { segmentBytes: 4096, minCompactBytes: 0, compactWhenDeadRatio: 0, snapshotStepRecords: 4 });
    for (let i = 0; i < 200; i++) store.commit('billing', [{ topic: 'events', partition: 0, offset: 70 + i }], 1_800_000_000_000 + i);
    await store.sync();
    expect(store.stats.compactions).toBe(0);
    const log = store.partitionOf('billing')!.log;
    expect(log.logStartOffset).toBe(0);
    expect(log.segments().length).toBeGreaterThan(1);
    expect(readFileSync(kafkaSegment).subarray(0, kafkaBytes.length).equals(kafkaBytes)).toBe(true);
    expect(store.fetch('billing', 'events', 0)!.offset).toBe(269);
    await store.close();
    // The same settings in a directory Fjord started compact at once.
    const own = await OffsetStore.open(tempDir(), { segmentBytes: 4096, minCompactBytes: 0, compactWhenDeadRatio: 0, snapshotStepRecords: 4 });
    for (let i = 0; i < 200; i++) own.commit('billing', [{ topic: 'events', partition: 0, offset: 70 + i }], 1_800_000_000_000 + i);
    expect(own.stats.compactions).toBeGreaterThan(0);
    await own.close();
  });

  it('answers listGroups and fetchOffsets through Fjord, and commits in the group partition in Kafka format', async () => {
    const dir = tempDir();
    cpSync(FIXTURE, dir, { recursive: true });
    const fjord = new Fjord({ dir, logLevel: 0 });
    const admin = fjord.admin();
    await admin.connect();
    expect(await admin.listGroups()).toEqual({
      groups: [
        { groupId: 'billing', protocolType: 'consumer' },
        { groupId: 'kafka-group', protocolType: 'consumer' },
        { groupId: 'kip848', protocolType: 'consumer' },
      ],
    });
    await admin.createTopics({ topics: [{ topic: 'events', numPartitions: 2 }] });
    expect(await admin.fetchOffsets({ groupId: 'billing', topics: ['events'] })).toEqual([
      {
        topic: 'events',
        partitions: [
          { partition: 0, offset: '70', metadata: null, lag: '0' },
          { partition: 1, offset: '0', metadata: null, lag: '0' },
        ],
      },
    ]);
    await admin.setOffsets({ groupId: 'billing', topic: 'events', partitions: [{ partition: 1, offset: '0' }] });
    await admin.disconnect();
    await fjord.close();
    // Kafka's segment of partition 9 is kept (never compacted away by Fjord), with Fjord's record after Kafka's.
    const store = await OffsetStore.open(dir);
    const log = store.partitionOf('billing')!.log;
    expect(log.logStartOffset).toBe(0);
    expect(log.logEndOffset).toBe(6); // Kafka wrote offsets 0 to 4
    expect(store.fetch('billing', 'events', 1)).toMatchObject({ offset: 0, leaderEpoch: -1 });
    await store.close();
  });
});

describe('a consumer moving from Kafka', () => {
  it('resumes at the offsets the Kafka broker committed for its group', async () => {
    const dir = tempDir();
    cpSync(FIXTURE, dir, { recursive: true });
    const fjord = new Fjord({ dir, logLevel: 0 });
    const admin = fjord.admin();
    await admin.connect();
    // The topic's records (adopting Kafka's topic directories is another step, tested on its own): 100 in each partition.
    await admin.createTopics({ topics: [{ topic: 'events', numPartitions: 2 }] });
    const producer = fjord.producer();
    await producer.connect();
    for (const partition of [0, 1]) {
      await producer.send({ topic: 'events', messages: Array.from({ length: 100 }, (_, i) => ({ partition, value: `events-${partition}-${i}` })) });
    }
    // billing committed events-0 at 70 and events-1 at 0 on the Kafka broker.
    const consumer = fjord.consumer({ groupId: 'billing' });
    await consumer.connect();
    await consumer.subscribe({ topics: ['events'], fromBeginning: true });
    const first = new Map<number, string>();
    let count = 0;
    const done = new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          if (!first.has(partition)) first.set(partition, message.offset);
          if (++count === 30 + 100) resolve();
        },
      });
    });
    await done;
    expect(new Map([...first].sort())).toEqual(
      new Map([
        [0, '70'],
        [1, '0'],
      ]),
    );
    await consumer.disconnect();
    expect(await admin.fetchOffsets({ groupId: 'billing', topics: ['events'] })).toEqual([
      {
        topic: 'events',
        partitions: [
          { partition: 0, offset: '100', metadata: null, lag: '0' },
          { partition: 1, offset: '100', metadata: null, lag: '0' },
        ],
      },
    ]);
    await producer.disconnect();
    await admin.disconnect();
    await fjord.close();
  });
});

describe('offsets committed in transactions (TxnOffsetCommit)', () => {
  it("are applied at their COMMIT marker, dropped at ABORT, kept pending while open, as Kafka's loader does", async () => {
    const dir = tempDir();
    const log = await Log.open(join(dir, '__consumer_offsets-9')); // billing's
    const T = 1_700_000_000_000;
    const commit = (partition: number, offset: number) => ({
      key: encodeOffsetCommitKey('billing', 'orders', partition),
      value: encodeOffsetCommitValue({ offset, leaderEpoch: -1, metadata: null, commitTimestamp: T }),
    });
    const txn = (producerId: number, records: { key: Buffer; value: Buffer }[]) =>
      encodeBatch(records, { now: T, producerId, producerEpoch: 0, baseSequence: 0, transactional: true });
    // A marker: key version 0 + type (0 ABORT, 1 COMMIT), value version 0 + coordinator epoch; attributes transactional + control.
    const marker = (producerId: number, type: number) =>
      withAttributes(
        encodeBatch([{ key: Buffer.from([0, 0, 0, type]), value: Buffer.alloc(6) }], {
          now: T,
          producerId,
          producerEpoch: 0,
          baseSequence: 0,
          transactional: true,
        }),
        0x30,
      );
    log.append(encodeBatch([commit(0, 5)], { now: T })); // offset 0
    log.append(txn(7, [commit(0, 10), commit(1, 11)])); // 1, 2
    log.append(txn(8, [commit(2, 12)])); // 3
    log.append(encodeBatch([commit(1, 3)], { now: T })); // 4: written after producer 7's pending commit of partition 1
    log.append(marker(8, 0)); // 5: ABORT
    log.append(marker(7, 1)); // 6: COMMIT
    log.append(txn(9, [commit(3, 99)])); // 7: never ended
    await log.close();
    const store = await OffsetStore.open(dir);
    // Partition 0: producer 7's commit (record 1) is newer than record 0. Partition 1: record 4 is newer
    // than producer 7's (record 2), which does not override it. Partition 2: aborted. Partition 3: open.
    expect(offsetsOf(store, 'billing')).toEqual([
      ['orders', 0, 10],
      ['orders', 1, 3],
    ]);
    await store.close();
  });
});

describe('fjord groups export-offsets', () => {
  const capture = () => {
    const out = { text: '', write: (t: string) => (out.text += t) };
    return out;
  };

  it("prints a group's offsets as the CSV kafka-consumer-groups --reset-offsets --from-file reads", async () => {
    const dir = tempDir();
    const fjord = new Fjord({ dir, logLevel: 0 });
    const admin = fjord.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 12 }, { topic: 'audit' }] });
    await admin.setOffsets({
      groupId: 'billing',
      topic: 'orders',
      partitions: [
        { partition: 11, offset: '0' },
        { partition: 2, offset: '0' },
      ],
    });
    await admin.setOffsets({ groupId: 'billing', topic: 'audit', partitions: [{ partition: 0, offset: '0' }] });
    await admin.disconnect();
    await fjord.close();
    const [stdout, stderr] = [capture(), capture()];
    expect(await runCommand(['groups', 'export-offsets', '--dir', dir, '--group', 'billing'], stdout, stderr)).toBe(0);
    expect([stdout.text, stderr.text]).toEqual(['audit,0,0\norders,2,0\norders,11,0\n', '']);
    // A group without offsets: no lines.
    const none = capture();
    expect(await runCommand(['groups', 'export-offsets', '--dir', dir, '--group', 'nobody'], none, capture())).toBe(0);
    expect(none.text).toBe('');
  });

  it('exports the offsets a Kafka broker committed, and refuses bad arguments', async () => {
    const dir = tempDir();
    cpSync(FIXTURE, dir, { recursive: true });
    const stdout = capture();
    expect(await runCommand(['groups', 'export-offsets', '--dir', dir, '--group', 'kafka-group'], stdout, capture())).toBe(0);
    expect(stdout.text).toBe(manifest.groups['kafka-group']!.map(([t, p, o]) => `${t},${p},${o}\n`).join(''));
    for (const args of [
      ['groups'],
      ['groups', 'export-offsets', '--dir', dir],
      ['groups', 'export-offsets', '--dir', dir, '--group'],
      ['groups', 'export-offsets', '--dir', dir, '--group', 'g', '--all'],
      ['groups', 'list', '--dir', dir, '--group', 'g'],
    ]) {
      const stderr = capture();
      expect(await runCommand(args, capture(), stderr), args.join(' ')).toBe(2);
      expect(stderr.text, args.join(' ')).toContain('usage: fjord');
    }
    const stderr = capture();
    expect(await runCommand(['groups', 'export-offsets', '--dir', join(dir, 'nope'), '--group', 'g'], capture(), stderr)).toBe(2);
    expect(stderr.text).toBe(`fjord groups export-offsets: ${join(dir, 'nope')} is not a directory\n`);
  });
});

describe('a directory Fjord wrote in its MessagePack layout', () => {
  const packr = new Packr({ useRecords: false });
  const T0 = 1_700_000_000_000;
  const legacyRecord = (group: string, topic: string, partition: number, value: object | null) => ({
    key: packr.pack([1, group, topic, partition]),
    value: value === null ? null : packr.pack(value),
  });

  async function writeLegacy(dir: string): Promise<void> {
    const log = await Log.open(join(dir, '__consumer_offsets-0'));
    log.append(
      encodeBatch([
        legacyRecord('billing', 'orders', 0, { offset: 10, metadata: null, commitTimestamp: T0, leaderEpoch: -1 }),
        legacyRecord('billing', 'orders', 1, { offset: 11, metadata: 'm', commitTimestamp: T0, leaderEpoch: 4 }),
        legacyRecord('g', 'orders', 0, { offset: 1, metadata: null, commitTimestamp: T0, leaderEpoch: -1 }),
      ]),
    );
    log.append(
      encodeBatch([
        legacyRecord('billing', 'orders', 0, { offset: 12, metadata: null, commitTimestamp: T0 + 1, leaderEpoch: -1 }),
        legacyRecord('g', 'orders', 0, null),
        legacyRecord('g', 'events', 3, { offset: 30, metadata: '', commitTimestamp: T0 + 2, leaderEpoch: 2 }),
      ]),
    );
    await log.close();
  }

  const expected = {
    billing: [
      ['orders', 0, { offset: 12, metadata: null, commitTimestamp: T0 + 1, leaderEpoch: -1 }],
      ['orders', 1, { offset: 11, metadata: 'm', commitTimestamp: T0, leaderEpoch: 4 }],
    ],
    g: [['events', 3, { offset: 30, metadata: null, commitTimestamp: T0 + 2, leaderEpoch: 2 }]],
  };
  const stateOf = (store: OffsetStore) =>
    Object.fromEntries(
      ['billing', 'g'].map((group) => [
        group,
        [...store.offsets(group).values()]
          .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))
          .map(({ topic, partition, ...value }) => [topic, partition, value]),
      ]),
    );

  it("is moved to Kafka's layout once, at open: same offsets, each group in its partition", async () => {
    const dir = tempDir();
    await writeLegacy(dir);
    const store = await OffsetStore.open(dir);
    expect(stateOf(store)).toEqual(expected);
    expect(readdirSync(dir).sort()).toEqual(['__consumer_offsets-3', '__consumer_offsets-9']); // g → 3, billing → 9
    await store.close();
    const reopened = await OffsetStore.open(dir);
    expect(stateOf(reopened)).toEqual(expected);
    expect(reopened.stats.liveKeys).toBe(3);
    await reopened.close();
  });

  it('finishes a move a crash cut short (the legacy log set aside, part of it written)', async () => {
    const dir = tempDir();
    await writeLegacy(dir);
    // The state a crash can leave: the legacy log renamed, one group's offsets already in its partition.
    renameSync(join(dir, '__consumer_offsets-0'), join(dir, LEGACY_OFFSETS_DIR));
    const partial = await Log.open(join(dir, '__consumer_offsets-9'));
    partial.append(
      encodeBatch([{ key: encodeOffsetCommitKey('billing', 'orders', 1), value: encodeOffsetCommitValue(expected.billing[1]![2] as never) }], { now: T0 }),
    );
    await partial.close();
    const store = await OffsetStore.open(dir);
    expect(stateOf(store)).toEqual(expected);
    expect(existsSync(join(dir, LEGACY_OFFSETS_DIR))).toBe(false);
    await store.close();
  });
});

describe('offsets Fjord cannot read', () => {
  it('fail the group calls with CorruptRecordError and a member with CRASH, never as an unhandled rejection', async () => {
    const dir = tempDir();
    const log = await Log.open(join(dir, '__consumer_offsets-3')); // group 'g'
    log.append(encodeBatch([{ key: Buffer.from('0001000167', 'hex'), value: null }])); // a truncated OffsetCommit key
    await log.close();
    const script = `
      import { Fjord } from ${JSON.stringify(FJORD)};
      const fjord = new Fjord({ dir: ${JSON.stringify(dir)}, logLevel: 0 });
      const admin = fjord.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: 't' }] });
      const consumer = fjord.consumer({ groupId: 'g' });
      const crashed = new Promise((resolve) => consumer.on(consumer.events.CRASH, (e) => resolve(e.payload.error)));
      await consumer.connect();
      await consumer.subscribe({ topics: ['t'] });
      await consumer.run({ eachMessage: async () => {} });
      const error = await crashed;
      console.log('CRASH', error.name, error.message);
      await admin.listGroups().catch((e) => console.log('listGroups', e.name));
      await consumer.disconnect().catch(() => undefined);
      await fjord.close();
      console.log('closed');
    `;
    const { code, stdout, stderr } = await runScript(tempDir(), script);
    expect(stderr).toBe('');
    expect(stdout).toBe(
      'CRASH CorruptRecordError __consumer_offsets-3 record at offset 0: key ends at byte 5, 2 more needed at 5 (key 0001000167)\nlistGroups CorruptRecordError\nclosed\n',
    );
    expect(code).toBe(0);
  });
});
