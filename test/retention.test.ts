// Retention under a fake clock: whole sealed segments go, oldest first, by
// their largest timestamp (retention.ms) or while what remains stays at or
// above retention.bytes; never the active segment; live Buffers stay valid.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { ConfigResourceTypes, decodeBatches, OffsetOutOfRangeError, type Fjord } from '../src/index.js';
import { fjordFor, logOf, valuesOf } from './fjord-kit.js';

const T0 = 1_700_000_000_000;
const DAY = 86_400_000;
const TOPIC = 'logs';

afterEach(() => {
  vi.useRealTimers();
});

interface Setup {
  fjord: Fjord;
  clock: { now: number };
}

/**
 * A topic with 1024-byte segments and ten records of 300-byte values, one
 * batch each, timestamps T0, T0+100, ..., T0+900 unless given: two batches
 * (740 bytes) fill a segment, so the log is five segments with base offsets
 * 0, 2, 4, 6, 8 (the last one active), largest timestamps T0+100, +300, ...
 */
async function tenRecordsInFiveSegments(
  configEntries: { name: string; value: string }[],
  timestamps?: number[],
  options: { retentionCheckIntervalMs?: number } = {},
): Promise<Setup> {
  const clock = { now: T0 + 1000 };
  const fjord = fjordFor({ clock: () => clock.now, ...options });
  const admin = fjord.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, configEntries: [{ name: 'segment.bytes', value: '1024' }, ...configEntries] }] });
  await admin.disconnect();
  const producer = fjord.producer();
  await producer.connect();
  for (let i = 0; i < 10; i++) {
    await producer.send({ topic: TOPIC, acks: 1, messages: [{ value: `${i}`.padEnd(300, '.'), timestamp: timestamps?.[i] ?? T0 + 100 * i }] });
  }
  await producer.disconnect();
  const log = await logOf(fjord, TOPIC, 0);
  expect(log.segments().map((s) => [s.baseOffset, s.nextOffset, s.size])).toEqual([
    [0, 2, 740],
    [2, 4, 740],
    [4, 6, 740],
    [6, 8, 740],
    [8, 10, 740],
  ]);
  return { fjord, clock };
}

async function baseOffsets(fjord: Fjord): Promise<number[]> {
  return (await logOf(fjord, TOPIC, 0)).segments().map((s) => s.baseOffset);
}

const value = (i: number) => `${i}`.padEnd(300, '.');
const values = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => value(from + i));

describe('retention.ms', () => {
  it('deletes exactly the sealed segments whose largest timestamp is more than retention.ms old, and moves logStartOffset', async () => {
    const { fjord, clock } = await tenRecordsInFiveSegments([{ name: 'retention.ms', value: '1000' }]);
    const log = await logOf(fjord, TOPIC, 0);
    expect(log.segments().map((s) => s.maxTimestamp)).toEqual([T0 + 100, T0 + 300, T0 + 500, T0 + 700, T0 + 900]);

    // Exactly retention.ms old is not older than retention.ms.
    clock.now = T0 + 1100;
    expect(await fjord.runRetention()).toEqual([]);
    expect(await baseOffsets(fjord)).toEqual([0, 2, 4, 6, 8]);

    clock.now = T0 + 1101;
    expect(await fjord.runRetention()).toEqual([{ topic: TOPIC, partition: 0, segmentsDeleted: 1, logStartOffset: 2 }]);
    expect(await baseOffsets(fjord)).toEqual([2, 4, 6, 8]);
    expect(log.logStartOffset).toBe(2);
    expect(existsSync(join(fjord.dir, `${TOPIC}-0`, '00000000000000000000.log'))).toBe(false);
    expect(() => log.read(0)).toThrow(OffsetOutOfRangeError);
    expect(() => log.read(1)).toThrow(OffsetOutOfRangeError);
    expect(await valuesOf(fjord, TOPIC, 0)).toEqual(values(2, 10));

    clock.now = T0 + 1600; // segments with largest timestamps T0+300 and T0+500 are past; T0+700 is not
    expect(await fjord.runRetention()).toEqual([{ topic: TOPIC, partition: 0, segmentsDeleted: 2, logStartOffset: 6 }]);
    expect(await baseOffsets(fjord)).toEqual([6, 8]);
    expect(readdirSync(join(fjord.dir, `${TOPIC}-0`)).filter((f) => f.endsWith('.log'))).toEqual(['00000000000000000006.log', '00000000000000000008.log']);
    expect(() => log.read(5)).toThrow(OffsetOutOfRangeError);
    const admin = fjord.admin();
    await admin.connect();
    expect(await admin.fetchTopicOffsets(TOPIC)).toEqual([{ partition: 0, offset: '10', high: '10', low: '6' }]);
    await admin.disconnect();
  });

  it('never deletes the active segment, even when every record in it has expired (Kafka pain point: it expires only after it rolls)', async () => {
    const { fjord, clock } = await tenRecordsInFiveSegments([{ name: 'retention.ms', value: '1000' }]);
    const log = await logOf(fjord, TOPIC, 0);
    clock.now = T0 + 365 * DAY;
    expect(await fjord.runRetention()).toEqual([{ topic: TOPIC, partition: 0, segmentsDeleted: 4, logStartOffset: 8 }]);
    expect(await baseOffsets(fjord)).toEqual([8]);
    expect(await valuesOf(fjord, TOPIC, 0)).toEqual(values(8, 10));
    expect(await fjord.runRetention()).toEqual([]);
    expect(await baseOffsets(fjord)).toEqual([8]);

    // Once a new record rolls the segment, the old active one is sealed and goes.
    const producer = fjord.producer();
    await producer.connect();
    await producer.send({ topic: TOPIC, acks: 1, messages: [{ value: value(10), timestamp: clock.now }] });
    expect(await baseOffsets(fjord)).toEqual([8, 10]);
    expect(await fjord.runRetention()).toEqual([{ topic: TOPIC, partition: 0, segmentsDeleted: 1, logStartOffset: 10 }]);
    expect(await valuesOf(fjord, TOPIC, 0)).toEqual([value(10)]);
    expect(log.logStartOffset).toBe(10);
    await producer.disconnect();
  });

  it('a future timestamp holds back its segment and every later one (Kafka pain point: retention goes by largest timestamp, oldest first)', async () => {
    const timestamps = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => T0 + 100 * i);
    timestamps[3] = T0 + 30 * DAY; // a producer with a clock a month ahead, in the second segment
    // segment.ms never: a timestamp a month past its segment's first would otherwise roll the segment.
    const { fjord, clock } = await tenRecordsInFiveSegments(
      [
        { name: 'retention.ms', value: '1000' },
        { name: 'segment.ms', value: '9223372036854775807' },
      ],
      timestamps,
    );
    clock.now = T0 + DAY;
    // Segments 4 and 6 are long expired, but segment 2 is not: nothing after it goes either.
    expect(await fjord.runRetention()).toEqual([{ topic: TOPIC, partition: 0, segmentsDeleted: 1, logStartOffset: 2 }]);
    expect(await baseOffsets(fjord)).toEqual([2, 4, 6, 8]);
    clock.now = T0 + 30 * DAY + 1001;
    expect(await fjord.runRetention()).toEqual([{ topic: TOPIC, partition: 0, segmentsDeleted: 3, logStartOffset: 8 }]);
  });

  it('retention.ms=-1 never deletes anything', async () => {
    const { fjord, clock } = await tenRecordsInFiveSegments([{ name: 'retention.ms', value: '-1' }]);
    clock.now = T0 + 100_000 * DAY;
    expect(await fjord.runRetention()).toEqual([]);
    expect(await baseOffsets(fjord)).toEqual([0, 2, 4, 6, 8]);
    expect(await valuesOf(fjord, TOPIC, 0)).toEqual(values(0, 10));
  });

  it("defaults to Kafka's 7 days", async () => {
    const { fjord, clock } = await tenRecordsInFiveSegments([]);
    clock.now = T0 + 100 + 7 * DAY;
    expect(await fjord.runRetention()).toEqual([]);
    clock.now = T0 + 101 + 7 * DAY;
    expect(await fjord.runRetention()).toEqual([{ topic: TOPIC, partition: 0, segmentsDeleted: 1, logStartOffset: 2 }]);
  });

  it('only touches the topics whose segments expired', async () => {
    const { fjord, clock } = await tenRecordsInFiveSegments([{ name: 'retention.ms', value: '1000' }]);
    const admin = fjord.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        {
          topic: 'forever',
          numPartitions: 2,
          configEntries: [
            { name: 'segment.bytes', value: '1024' },
            { name: 'retention.ms', value: '-1' },
          ],
        },
      ],
    });
    const producer = fjord.producer();
    await producer.connect();
    for (let i = 0; i < 6; i++) await producer.send({ topic: 'forever', acks: 1, messages: [{ value: value(i), timestamp: T0, partition: i % 2 }] });
    clock.now = T0 + DAY;
    expect(await fjord.runRetention()).toEqual([{ topic: TOPIC, partition: 0, segmentsDeleted: 4, logStartOffset: 8 }]);
    expect(await admin.fetchTopicOffsets('forever')).toEqual([
      { partition: 0, offset: '3', high: '3', low: '0' },
      { partition: 1, offset: '3', high: '3', low: '0' },
    ]);
    await producer.disconnect();
    await admin.disconnect();
  });
});

describe('retention.bytes', () => {
  it('deletes the oldest sealed segments while what remains stays at or above retention.bytes', async () => {
    const { fjord } = await tenRecordsInFiveSegments([{ name: 'retention.ms', value: '-1' }]);
    const admin = fjord.admin();
    await admin.connect();
    // alterConfigs replaces every override, so segment.bytes and retention.ms are restated.
    const setRetentionBytes = (bytes: number) =>
      admin.alterConfigs({
        resources: [
          {
            type: ConfigResourceTypes.TOPIC,
            name: TOPIC,
            configEntries: [
              { name: 'segment.bytes', value: '1024' },
              { name: 'retention.ms', value: '-1' },
              { name: 'retention.bytes', value: String(bytes) },
            ],
          },
        ],
      });

    // 5 × 740 = 3700 bytes. Limit 1481: dropping 0 and 2 leaves 2220; dropping 4 too would leave 1480 < 1481.
    await setRetentionBytes(1481);
    expect(await fjord.runRetention()).toEqual([{ topic: TOPIC, partition: 0, segmentsDeleted: 2, logStartOffset: 4 }]);
    expect(await baseOffsets(fjord)).toEqual([4, 6, 8]);

    // Limit 1480: dropping 4 leaves exactly 1480, which is allowed; dropping 6 would leave 740.
    await setRetentionBytes(1480);
    expect(await fjord.runRetention()).toEqual([{ topic: TOPIC, partition: 0, segmentsDeleted: 1, logStartOffset: 6 }]);
    expect(await baseOffsets(fjord)).toEqual([6, 8]);

    // Limit 0: everything sealed goes, the active segment stays.
    await setRetentionBytes(0);
    expect(await fjord.runRetention()).toEqual([{ topic: TOPIC, partition: 0, segmentsDeleted: 1, logStartOffset: 8 }]);
    expect(await baseOffsets(fjord)).toEqual([8]);
    expect(await valuesOf(fjord, TOPIC, 0)).toEqual(values(8, 10));
    expect(await fjord.runRetention()).toEqual([]);
    await admin.disconnect();
  });

  it('retention.bytes larger than the log deletes nothing; -1 (the default) never does', async () => {
    const { fjord } = await tenRecordsInFiveSegments([
      { name: 'retention.ms', value: '-1' },
      { name: 'retention.bytes', value: '3700' },
    ]);
    expect(await fjord.runRetention()).toEqual([]);
    const other = await tenRecordsInFiveSegments([{ name: 'retention.ms', value: '-1' }]);
    expect(await other.fjord.runRetention()).toEqual([]);
    expect(await baseOffsets(other.fjord)).toEqual([0, 2, 4, 6, 8]);
  });

  it('with both retention.ms and retention.bytes set, the deeper cut wins', async () => {
    const bySize = await tenRecordsInFiveSegments([
      { name: 'retention.ms', value: '1000' },
      { name: 'retention.bytes', value: '1480' },
    ]);
    bySize.clock.now = T0 + 1101; // time alone drops segment 0; size drops 0, 2 and 4
    expect(await bySize.fjord.runRetention()).toEqual([{ topic: TOPIC, partition: 0, segmentsDeleted: 3, logStartOffset: 6 }]);
    const byTime = await tenRecordsInFiveSegments([
      { name: 'retention.ms', value: '1000' },
      { name: 'retention.bytes', value: '2960' },
    ]);
    byTime.clock.now = T0 + 1601; // size alone drops segment 0; time drops 0, 2 and 4
    expect(await byTime.fjord.runRetention()).toEqual([{ topic: TOPIC, partition: 0, segmentsDeleted: 3, logStartOffset: 6 }]);
  });
});

describe('retention and live zero-copy Buffers', () => {
  it('a Buffer read from a segment before retention deleted it still reads the same bytes', async () => {
    const { fjord, clock } = await tenRecordsInFiveSegments([{ name: 'retention.ms', value: '1000' }]);
    const log = await logOf(fjord, TOPIC, 0);
    const view = log.read(0);
    const copy = Buffer.from(view);
    expect([...decodeBatches(view)].map((r) => r.offset)).toEqual([0, 1]);

    clock.now = T0 + 1101;
    expect(await fjord.runRetention()).toEqual([{ topic: TOPIC, partition: 0, segmentsDeleted: 1, logStartOffset: 2 }]);
    expect(existsSync(join(fjord.dir, `${TOPIC}-0`, '00000000000000000000.log'))).toBe(false);
    expect(view.equals(copy)).toBe(true);
    expect([...decodeBatches(view, { verifyCrc: true })].map((r) => [r.offset, r.value!.toString()])).toEqual([
      [0, value(0)],
      [1, value(1)],
    ]);
  });
});

describe('the retention timer', () => {
  it("runs retention on its own every retentionCheckIntervalMs (default Kafka's 300000), and stops when Fjord closes", async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { fjord, clock } = await tenRecordsInFiveSegments([{ name: 'retention.ms', value: '1000' }]);
    expect(vi.getTimerCount()).toBe(1);
    clock.now = T0 + 1101;
    vi.advanceTimersByTime(299_999);
    expect(await baseOffsets(fjord)).toEqual([0, 2, 4, 6, 8]);
    vi.advanceTimersByTime(1);
    expect(await baseOffsets(fjord)).toEqual([2, 4, 6, 8]);
    clock.now = T0 + 1301;
    vi.advanceTimersByTime(300_000);
    expect(await baseOffsets(fjord)).toEqual([4, 6, 8]);
    await fjord.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('honours a configured retentionCheckIntervalMs', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { fjord, clock } = await tenRecordsInFiveSegments([{ name: 'retention.ms', value: '1000' }], undefined, { retentionCheckIntervalMs: 1000 });
    clock.now = T0 + 1101;
    vi.advanceTimersByTime(999);
    expect(await baseOffsets(fjord)).toEqual([0, 2, 4, 6, 8]);
    vi.advanceTimersByTime(1);
    expect(await baseOffsets(fjord)).toEqual([2, 4, 6, 8]);
  });

  it('runs on a real 20 ms interval too', async () => {
    const { fjord, clock } = await tenRecordsInFiveSegments([{ name: 'retention.ms', value: '1000' }], undefined, { retentionCheckIntervalMs: 20 });
    const log = await logOf(fjord, TOPIC, 0);
    clock.now = T0 + 1601;
    const deadline = Date.now() + 5000;
    while (log.logStartOffset !== 6 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(log.logStartOffset).toBe(6);
    expect(await baseOffsets(fjord)).toEqual([6, 8]);
  });
});
