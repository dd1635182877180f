// Everything at once on one topic: producers on every partition, a consumer
// group and a pull consumer reading, retention deleting segments, and the
// topic gaining partitions midway. No record is lost or handed out twice
// except those retention deleted first, and zero-copy views of deleted or
// truncated segments keep their bytes.
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';

import { ConfigResourceTypes, decodeBatches, encodeBatch, type Consumer, type Fjord } from '../src/index.js';
import { fjordFor, logOf } from './fjord-kit.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const T0 = 1_700_000_000_000;
const TOPIC = 'stream';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The value of the record with sequence number `seq` on `partition`; one writer per partition makes it its offset too. */
const valueFor = (partition: number, seq: number) => `${partition}:${seq}:`.padEnd(60, '.');

/** Consumed records of one consumer: offsets and values per partition, in the order handed out. */
class Seen {
  readonly byPartition = new Map<number, { offset: number; value: string }[]>();

  add(partition: number, offset: number, value: string): void {
    let list = this.byPartition.get(partition);
    if (list === undefined) this.byPartition.set(partition, (list = []));
    list.push({ offset, value });
  }

  last(partition: number): number {
    return this.byPartition.get(partition)?.at(-1)?.offset ?? -1;
  }
}

/**
 * Per partition: offsets strictly increase, each value is the one written at
 * that offset, every jump lands on a log start offset retention set (it
 * deleted what was skipped), and everything from the final log start to the
 * log end was handed out.
 */
async function expectComplete(fjord: Fjord, seen: Seen, starts: Map<number, Set<number>>, partitions: number, who: string): Promise<void> {
  for (let p = 0; p < partitions; p++) {
    const log = await logOf(fjord, TOPIC, p);
    const records = seen.byPartition.get(p) ?? [];
    const where = `${who}, partition ${p}`;
    expect(records.length, where).toBeGreaterThan(0);
    let previous = -1;
    for (const { offset, value } of records) {
      expect(value, where).toBe(valueFor(p, offset));
      if (offset !== previous + 1) {
        expect(offset, `${where}: a jump from ${previous}`).toBeGreaterThan(previous);
        expect(starts.get(p)!.has(offset), `${where}: jump from ${previous} to ${offset}, not a log start retention set`).toBe(true);
      }
      previous = offset;
    }
    const handedOut = new Set(records.map((r) => r.offset));
    for (let offset = log.logStartOffset; offset < log.logEndOffset; offset++) expect(handedOut.has(offset), `${where}: offset ${offset}`).toBe(true);
  }
}

describe('producing, consuming, retention and partition growth at once', () => {
  it('loses and duplicates nothing retention kept; the group picks up new partitions; nothing throws', async () => {
    const clock = { now: T0 };
    const fjord = fjordFor({ clock: () => clock.now, retentionCheckIntervalMs: 3_600_000 });
    const admin = fjord.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        {
          topic: TOPIC,
          numPartitions: 3,
          configEntries: [
            { name: 'segment.bytes', value: '2048' },
            { name: 'retention.bytes', value: '4096' },
          ],
        },
      ],
    });
    const errors: unknown[] = [];
    const starts = new Map<number, Set<number>>(Array.from({ length: 5 }, (_, p) => [p, new Set([0])]));

    // A consumer group of two members, and one pull consumer.
    const group = new Seen();
    const held: { value: Buffer; copy: Buffer; partition: number; offset: number }[] = [];
    const members: Consumer[] = [];
    for (let m = 0; m < 2; m++) {
      const member = fjord.consumer({ groupId: 'readers', maxWaitTimeInMs: 50, heartbeatInterval: 100 });
      member.on(member.events.CRASH, (event) => errors.push(event));
      await member.connect();
      await member.subscribe({ topics: [TOPIC], fromBeginning: true });
      await member.run({
        eachMessage: async ({ partition, message }) => {
          const offset = Number(message.offset);
          group.add(partition, offset, message.value!.toString());
          // Zero-copy views of the segment file, kept past the deletion of their segment.
          if (offset % 40 === 0 && held.length < 20) held.push({ value: message.value!, copy: Buffer.from(message.value!), partition, offset });
          // A reader slower than the writers, now and then: retention may delete what it has not read yet.
          if (offset % 10 === 0) await sleep(30);
        },
      });
      members.push(member);
    }
    const pulled = new Seen();
    const puller = fjord.consumer({ groupId: 'puller', autoOffsetReset: 'earliest' });
    await puller.connect();
    puller.assign([{ topic: TOPIC, partitions: [0, 1, 2] }]);

    let producing = true;
    const target = (p: number) => (p < 3 ? 300 : 100);
    const produced = new Map<number, number>();
    const producers = [fjord.producer(), fjord.producer({ lingerMs: 2 })];
    for (const producer of producers) await producer.connect();
    const produce = async (partition: number) => {
      const producer = producers[partition % 2]!;
      for (let seq = 0; seq < target(partition); seq += 5) {
        const messages = Array.from({ length: 5 }, (_, i) => ({ key: `k${seq + i}`, value: valueFor(partition, seq + i), partition }));
        const [meta] = await producer.send({ topic: TOPIC, acks: partition === 0 ? -1 : 1, messages });
        expect(meta!.baseOffset).toBe(String(seq));
        produced.set(partition, seq + 5);
      }
    };
    const writers = [0, 1, 2].map((p) => produce(p).catch((error: unknown) => errors.push(error)));

    const retention = (async () => {
      while (producing) {
        clock.now += 50;
        try {
          for (const result of await fjord.runRetention()) starts.get(result.partition)!.add(result.logStartOffset);
        } catch (error) {
          errors.push(error);
        }
        await sleep(10);
      }
    })();

    let reading = true;
    const pulling = (async () => {
      // The pull consumer starts once retention has deleted the start of partition 0, and stalls now and then, so that retention overtakes it.
      const first = await logOf(fjord, TOPIC, 0);
      while (reading && first.logStartOffset === 0) await sleep(5);
      for (let polls = 1; reading; polls++) {
        if (polls % 5 === 0) await sleep(250);
        try {
          for (const r of await puller.poll({ maxRecords: 20, timeoutMs: 20 })) pulled.add(r.partition, Number(r.offset), r.value!.toString());
        } catch (error) {
          errors.push(error);
          return;
        }
      }
    })();

    // Midway: grow the topic to five partitions, lower retention.ms, write to the new partitions too.
    while ((produced.get(0) ?? 0) < 150) await sleep(5);
    await admin.createPartitions({ topicPartitions: [{ topic: TOPIC, count: 5 }] });
    puller.assign([{ topic: TOPIC, partitions: [0, 1, 2, 3, 4] }]);
    await admin.alterConfigs({
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: TOPIC,
          configEntries: [
            { name: 'segment.bytes', value: '2048' },
            { name: 'retention.bytes', value: '4096' },
            { name: 'retention.ms', value: '2000' },
          ],
        },
      ],
    });
    writers.push(...[3, 4].map((p) => produce(p).catch((error: unknown) => errors.push(error))));
    await Promise.all(writers);
    producing = false;
    await retention;

    // Both consumers drain to the log end of every partition.
    const deadline = Date.now() + 10_000;
    const drained = (seen: Seen) => [0, 1, 2, 3, 4].every((p) => seen.last(p) === target(p) - 1);
    while (!(drained(group) && drained(pulled)) && Date.now() < deadline) await sleep(20);
    reading = false;
    await pulling;
    await Promise.all(members.map((member) => member.disconnect()));
    await Promise.all(producers.map((producer) => producer.disconnect()));

    expect(errors).toEqual([]);
    for (let p = 0; p < 5; p++) expect((await logOf(fjord, TOPIC, p)).logEndOffset).toBe(target(p));
    // Retention did delete segments under the readers.
    for (let p = 0; p < 3; p++) expect((await logOf(fjord, TOPIC, p)).logStartOffset, `partition ${p}`).toBeGreaterThan(100);
    await expectComplete(fjord, group, starts, 5, 'group');
    await expectComplete(fjord, pulled, starts, 5, 'pull consumer');
    expect(pulled.byPartition.get(0)![0]!.offset).toBeGreaterThan(0);

    // The held views outlived their segments.
    gc();
    const deletedUnderView = [];
    for (const { value, copy, partition, offset } of held) {
      expect(value.equals(copy)).toBe(true);
      if (offset < (await logOf(fjord, TOPIC, partition)).logStartOffset) deletedUnderView.push(offset);
    }
    expect(deletedUnderView.length).toBeGreaterThan(0);
  }, 20_000);
});

describe('zero-copy views across deletion and truncation', () => {
  it('message values and Log.read slices keep their exact bytes after their segments are truncated away, overwritten and deleted', async () => {
    const fjord = fjordFor();
    const admin = fjord.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: TOPIC, configEntries: [{ name: 'segment.bytes', value: '1024' }] }] });
    const producer = fjord.producer();
    await producer.connect();
    for (let seq = 0; seq < 60; seq += 2) {
      await producer.send({ topic: TOPIC, acks: 1, messages: [0, 1].map((i) => ({ value: valueFor(0, seq + i), partition: 0 })) });
    }
    const log = await logOf(fjord, TOPIC, 0);
    const segments = log.segments();
    expect(segments.length).toBeGreaterThan(4);
    const active = segments.at(-1)!;

    const consumer = fjord.consumer({ groupId: 'viewer', autoOffsetReset: 'earliest' });
    await consumer.connect();
    consumer.assign([{ topic: TOPIC, partitions: [0] }]);
    const views: { value: Buffer; copy: Buffer }[] = [];
    for (let records = await consumer.poll({ maxRecords: 100 }); records.length > 0; records = await consumer.poll({ maxRecords: 100 })) {
      for (const r of records) views.push({ value: r.value!, copy: Buffer.from(r.value!) });
    }
    expect(views.length).toBe(60);
    const firstSlice = log.read(0, 1);
    const activeSlice = log.read(active.baseOffset);
    const slices = [firstSlice, activeSlice].map((bytes) => ({ bytes, copy: Buffer.from(bytes) }));

    // Cut into the active segment and into the sealed ones before it, then write other bytes over the same offsets.
    log.truncateTo(segments[2]!.baseOffset + 1);
    for (let i = 0; i < 10; i++) log.append(encodeBatch([{ value: Buffer.alloc(300, 0xee) }]));
    gc();
    // Then delete every sealed segment.
    log.deleteSegmentsBefore(log.segments().at(-1)!.baseOffset);
    gc();
    await sleep(10);
    gc();

    for (const { value, copy } of views) expect(value.equals(copy)).toBe(true);
    for (const { bytes, copy } of slices) expect(bytes.equals(copy)).toBe(true);
    expect([...decodeBatches(firstSlice)].map((r) => r.value!.toString())).toEqual([valueFor(0, 0), valueFor(0, 1)]);
    // The log itself reads the new bytes.
    const now = [...decodeBatches(log.read(log.logStartOffset))];
    expect(now[0]!.value!.equals(Buffer.alloc(300, 0xee))).toBe(true);
  });
});
