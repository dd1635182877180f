import { closeSync, openSync, readdirSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { InvalidArgumentError, InvalidConfigError, LogClosedError, OffsetMetadataTooLargeError } from '../src/errors.js';
import { type CommittedOffset, OFFSET_METADATA_MAX_BYTES, OffsetStore, type OffsetStoreOptions } from '../src/groups/offset-store.js';
import { decodeOffsetCommitValue, decodeOffsetsKey } from '../src/groups/offset-records.js';
import { DEFAULT_OFFSETS_PARTITIONS, offsetsPartitionFor } from '../src/groups/offsets-partitioner.js';
import type { Log } from '../src/storage/log.js';
import { batchInfos, decodeBatches } from '../src/record-batch/decode.js';
import { tempDir } from './helpers.js';

const T0 = 1_700_000_000_000;

/** `n` group ids Kafka's rule puts in one offsets partition, so that one log holds them all. */
function colocatedGroups(prefix: string, n: number): string[] {
  const target = offsetsPartitionFor(`${prefix}0`, DEFAULT_OFFSETS_PARTITIONS);
  const groups: string[] = [];
  for (let i = 0; groups.length < n; i++) if (offsetsPartitionFor(`${prefix}${i}`, DEFAULT_OFFSETS_PARTITIONS) === target) groups.push(`${prefix}${i}`);
  return groups;
}

/** The log of the offsets partition holding `group`. */
function logOf(store: OffsetStore, group: string): Log {
  return store.partitionOf(group)!.log;
}

type State = Map<string, Map<string, CommittedOffset>>;

/** Everything the store holds, as group → `${topic}:${partition}` → value, groups and keys sorted. */
function stateOf(store: OffsetStore): State {
  const state: State = new Map();
  for (const group of [...store.groups()].sort()) {
    const offsets = [...store.offsets(group)].map(([key, { topic, partition, ...value }]): [string, CommittedOffset] => {
      expect(key).toBe(`${topic}:${partition}`);
      return [key, value];
    });
    state.set(group, new Map(offsets.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
  }
  return state;
}

function sorted(model: State): State {
  const state: State = new Map();
  for (const group of [...model.keys()].sort()) {
    const offsets = model.get(group)!;
    if (offsets.size > 0) state.set(group, new Map([...offsets].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
  }
  return state;
}

/** Every record from the log start on, keys and values decoded. */
function recordsOf(log: Log): { offset: number; key: unknown; value: unknown }[] {
  const out: { offset: number; key: unknown; value: unknown }[] = [];
  let at = log.logStartOffset;
  for (let slice = log.readSlice(at); slice !== null; slice = log.readSlice(at)) {
    for (const r of decodeBatches(slice.bytes, { fromOffset: at })) {
      const key = decodeOffsetsKey(r.key!, 'test');
      out.push({
        offset: r.offset,
        key: key.type === 'offset' ? [1, key.groupId, key.topic, key.partition] : key.type === 'group' ? [2, key.groupId] : key,
        value: r.value === null ? null : decodeOffsetCommitValue(r.value, 'test'),
      });
    }
    at = slice.nextOffset;
  }
  return out;
}

function countRecords(log: Log): { records: number; batches: number } {
  let records = 0;
  let batches = 0;
  let at = log.logStartOffset;
  for (let slice = log.readSlice(at, 8 << 20); slice !== null; slice = log.readSlice(at, 8 << 20)) {
    for (const info of batchInfos(slice.bytes)) {
      records += info.recordCount;
      batches++;
    }
    at = slice.nextOffset;
  }
  return { records, batches };
}

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('OffsetStore', () => {
  it("round-trips commits, one RecordBatch per commit of Kafka's OffsetCommit records, in the group's partition by Kafka's rule", async () => {
    const dir = tempDir();
    const store = await OffsetStore.open(dir);
    expect(store.fetch('g', 'orders', 0)).toBeUndefined();
    expect(store.groups()).toEqual([]);

    store.commit(
      'g',
      [
        { topic: 'orders', partition: 0, offset: 42 },
        { topic: 'orders', partition: 3, offset: 7, metadata: 'm', leaderEpoch: 5 },
      ],
      T0,
    );
    expect(store.fetch('g', 'orders', 0)).toEqual({ offset: 42, metadata: null, commitTimestamp: T0, leaderEpoch: -1 });
    expect(store.fetch('g', 'orders', 3)).toEqual({ offset: 7, metadata: 'm', commitTimestamp: T0, leaderEpoch: 5 });
    expect(store.fetch('g', 'orders', 1)).toBeUndefined();
    expect(store.fetch('other', 'orders', 0)).toBeUndefined();
    expect(store.offsets('g')).toEqual(
      new Map([
        ['orders:0', { topic: 'orders', partition: 0, offset: 42, metadata: null, commitTimestamp: T0, leaderEpoch: -1 }],
        ['orders:3', { topic: 'orders', partition: 3, offset: 7, metadata: 'm', commitTimestamp: T0, leaderEpoch: 5 }],
      ]),
    );
    expect(store.offsets('nobody').size).toBe(0);
    expect(store.groups()).toEqual(['g']);
    expect(store.stats.liveKeys).toBe(2);
    expect(store.stats.logBytes).toBeGreaterThan(0);
    expect(Object.isFrozen(store.fetch('g', 'orders', 0))).toBe(true);

    // An empty commit writes nothing.
    store.commit('g', [], T0);

    // 'g'.hashCode() = 103, 103 % 50 = 3: only that partition exists.
    expect(store.partitionCount).toBe(50);
    expect(readdirSync(dir)).toEqual(['__consumer_offsets-3']);
    const log = logOf(store, 'g');
    expect(log.dir.endsWith('__consumer_offsets-3')).toBe(true);
    expect(countRecords(log)).toEqual({ records: 2, batches: 1 });
    // Kafka's OffsetCommitKey (type 1: group, topic, partition) and OffsetCommitValue v3
    // (offset, leader epoch, metadata "" for none, commit timestamp).
    const raw = [...decodeBatches(log.read(0))].map((r) => [r.key!.toString('hex'), r.value!.toString('hex')]);
    expect(raw).toEqual([
      ['0001000167000' + '66f726465727300000000', '0003000000000000002affffffff00000000018bcfe56800'],
      ['0001000167000' + '66f726465727300000003', '00030000000000000007000000050001' + '6d0000018bcfe56800'],
    ]);
    expect(recordsOf(log)).toEqual([
      { offset: 0, key: [1, 'g', 'orders', 0], value: { offset: 42, metadata: null, commitTimestamp: T0, leaderEpoch: -1 } },
      { offset: 1, key: [1, 'g', 'orders', 3], value: { offset: 7, metadata: 'm', commitTimestamp: T0, leaderEpoch: 5 } },
    ]);
    const [record] = decodeBatches(log.read(0));
    expect(record!.timestamp).toBe(T0);
    await store.close();
    await store.close(); // idempotent
    expect(() => store.commit('g', [{ topic: 'orders', partition: 0, offset: 1 }], T0)).toThrow(LogClosedError);
    await expect(store.sync()).rejects.toThrow(LogClosedError);
  });

  it('keeps the last write, within a commit and across commits', async () => {
    const dir = tempDir();
    const store = await OffsetStore.open(dir);
    store.commit('g', [{ topic: 't', partition: 0, offset: 1 }], T0);
    store.commit('g', [{ topic: 't', partition: 0, offset: 5, metadata: 'x' }], T0 + 1);
    store.commit(
      'g',
      [
        { topic: 't', partition: 1, offset: 3 },
        { topic: 't', partition: 1, offset: 2 },
      ],
      T0 + 2,
    );
    expect(store.fetch('g', 't', 0)).toEqual({ offset: 5, metadata: 'x', commitTimestamp: T0 + 1, leaderEpoch: -1 });
    expect(store.fetch('g', 't', 1)!.offset).toBe(2); // moving back is allowed, as in Kafka
    expect(store.stats.liveKeys).toBe(2);
    await store.close();
    const reopened = await OffsetStore.open(dir);
    expect(reopened.fetch('g', 't', 0)).toEqual({ offset: 5, metadata: 'x', commitTimestamp: T0 + 1, leaderEpoch: -1 });
    expect(reopened.fetch('g', 't', 1)!.offset).toBe(2);
    await reopened.close();
  });

  it('writes tombstones for deleteGroup and deletePartitions, and they survive restart', async () => {
    const dir = tempDir();
    const [a, b] = colocatedGroups('group-', 2) as [string, string];
    const store = await OffsetStore.open(dir);
    store.commit(
      a,
      [0, 1, 2, 3].map((p) => ({ topic: 't', partition: p, offset: 10 + p })),
      T0,
    );
    store.commit(a, [{ topic: 'u', partition: 0, offset: 1 }], T0);
    store.commit(b, [{ topic: 't', partition: 0, offset: 99 }], T0);
    store.deletePartitions(a, 't', [1, 3, 3, 7], T0 + 1); // 7 has no offset: no tombstone for it
    store.deleteGroup(b, T0 + 2);
    store.deleteGroup('nobody', T0 + 2); // nothing to delete: nothing written
    store.deletePartitions('nobody', 't', [0], T0 + 2);
    expect(store.groups()).toEqual([a]);
    expect([...store.offsets(a).keys()]).toEqual(['t:0', 't:2', 'u:0']);
    expect(store.stats.liveKeys).toBe(3);

    const records = recordsOf(logOf(store, a));
    expect(records.length).toBe(6 + 2 + 2);
    expect(records.slice(6)).toEqual([
      { offset: 6, key: [1, a, 't', 1], value: null },
      { offset: 7, key: [1, a, 't', 3], value: null },
      { offset: 8, key: [1, b, 't', 0], value: null },
      { offset: 9, key: [2, b], value: null }, // the group's GroupMetadata tombstone, as Kafka writes on deletion
    ]);
    expect(countRecords(logOf(store, a)).batches).toBe(5);
    await store.close();

    const reopened = await OffsetStore.open(dir);
    expect(reopened.groups()).toEqual([a]);
    expect(reopened.fetch(b, 't', 0)).toBeUndefined();
    expect(reopened.fetch(a, 't', 1)).toBeUndefined();
    expect(reopened.fetch(a, 't', 2)!.offset).toBe(12);
    expect(reopened.stats.liveKeys).toBe(3);
    // A deleted key can be committed again.
    reopened.commit(b, [{ topic: 't', partition: 0, offset: 5 }], T0 + 3);
    reopened.deleteGroup(a, T0 + 4);
    await reopened.close();
    const again = await OffsetStore.open(dir);
    expect(stateOf(again)).toEqual(new Map([[b, new Map([['t:0', { offset: 5, metadata: null, commitTimestamp: T0 + 3, leaderEpoch: -1 }]])]]));
    await again.close();
  });

  it('keeps groups independent', async () => {
    const dir = tempDir();
    const store = await OffsetStore.open(dir);
    store.commit('g1', [{ topic: 't', partition: 0, offset: 1 }], T0);
    store.commit('g2', [{ topic: 't', partition: 0, offset: 2 }], T0);
    store.commit('g1', [{ topic: 't', partition: 0, offset: 3 }], T0);
    expect(store.fetch('g1', 't', 0)!.offset).toBe(3);
    expect(store.fetch('g2', 't', 0)!.offset).toBe(2);
    store.deleteGroup('g1', T0);
    expect(store.fetch('g2', 't', 0)!.offset).toBe(2);
    expect(store.groups()).toEqual(['g2']);
    await store.close();
  });

  it('rejects a whole commit when one entry is invalid: nothing written, nothing changed', async () => {
    const dir = tempDir();
    const store = await OffsetStore.open(dir);
    store.commit('g', [{ topic: 't', partition: 0, offset: 1 }], T0);
    const end = logOf(store, 'g').logEndOffset;
    const before = stateOf(store);
    const good = { topic: 't', partition: 1, offset: 5 };
    const bad: unknown[] = [
      { topic: 't', partition: 0, offset: -1 },
      { topic: 't', partition: 0, offset: 1.5 },
      { topic: 't', partition: 0, offset: 2 ** 53 },
      { topic: 't', partition: 0, offset: '5' },
      { topic: 't', partition: -1, offset: 5 },
      { topic: 't', partition: 0.5, offset: 5 },
      { topic: 't', partition: 2 ** 31, offset: 5 },
      { topic: '', partition: 0, offset: 5 },
      { topic: 7, partition: 0, offset: 5 },
      { topic: 't', partition: 0, offset: 5, metadata: 12 },
      { topic: 't', partition: 0, offset: 5, leaderEpoch: -2 },
      { topic: 't', partition: 0, offset: 5, leaderEpoch: 'x' },
      null,
      'nope',
    ];
    for (const entry of bad) {
      expect(() => store.commit('g', [good, entry as never], T0 + 1), JSON.stringify(entry)).toThrow(InvalidArgumentError);
    }
    expect(() => store.commit('', [good], T0)).toThrow(InvalidArgumentError);
    expect(() => store.commit(5 as never, [good], T0)).toThrow(InvalidArgumentError);
    expect(() => store.commit('g', good as never, T0)).toThrow(InvalidArgumentError);
    expect(() => store.commit('g', [good], -1)).toThrow(InvalidArgumentError);
    expect(() => store.commit('g', [good], 1.5)).toThrow(InvalidArgumentError);
    expect(() => store.deletePartitions('g', 't', [-1], T0)).toThrow(InvalidArgumentError);
    expect(() => store.deletePartitions('g', 't', 0 as never, T0)).toThrow(InvalidArgumentError);
    expect(() => store.deleteGroup('', T0)).toThrow(InvalidArgumentError);
    expect(logOf(store, 'g').logEndOffset).toBe(end);
    expect(stateOf(store)).toEqual(before);
    await store.close();
    const reopened = await OffsetStore.open(dir);
    expect(stateOf(reopened)).toEqual(before);
    await reopened.close();
  });

  it('limits metadata to offset.metadata.max.bytes (4096 bytes of UTF-8)', async () => {
    const dir = tempDir();
    const store = await OffsetStore.open(dir);
    expect(OFFSET_METADATA_MAX_BYTES).toBe(4096);
    const atLimit = 'é'.repeat(2048); // 4096 bytes, 2048 characters
    store.commit('g', [{ topic: 't', partition: 0, offset: 1, metadata: atLimit }], T0);
    expect(store.fetch('g', 't', 0)!.metadata).toBe(atLimit);

    const end = logOf(store, 'g').logEndOffset;
    let error: unknown;
    try {
      store.commit(
        'g',
        [
          { topic: 't', partition: 1, offset: 1 },
          { topic: 't', partition: 2, offset: 1, metadata: `${'é'.repeat(2048)}x` },
        ],
        T0,
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OffsetMetadataTooLargeError);
    const typed = error as OffsetMetadataTooLargeError;
    expect(typed.code).toBe('ERR_OFFSET_METADATA_TOO_LARGE');
    expect(typed.type).toBe('OFFSET_METADATA_TOO_LARGE');
    expect(typed.kafkaErrorCode).toBe(12);
    expect(typed.message).toMatch(/4097 bytes.*4096/);
    expect(logOf(store, 'g').logEndOffset).toBe(end);
    expect(store.fetch('g', 't', 1)).toBeUndefined();
    await store.close();
    const reopened = await OffsetStore.open(dir);
    expect(reopened.fetch('g', 't', 0)!.metadata).toBe(atLimit);
    await reopened.close();
  });

  it('survives restart exactly', async () => {
    const dir = tempDir();
    const store = await OffsetStore.open(dir);
    for (let g = 0; g < 5; g++) {
      for (let round = 0; round < 4; round++) {
        store.commit(
          `group-${g}`,
          Array.from({ length: 8 }, (_, p) => ({
            topic: `topic-${p % 3}`,
            partition: p,
            offset: g * 1000 + round * 10 + p + 2 ** 40, // past 32 bits
            metadata: p % 2 === 0 ? null : `meta ${g}/${round}/${p} ✓`,
            leaderEpoch: p % 3 === 0 ? undefined : round,
          })),
          T0 + g * 10 + round,
        );
      }
    }
    const before = stateOf(store);
    expect(store.stats.liveKeys).toBe(40);
    await store.sync();
    await store.close();
    const reopened = await OffsetStore.open(dir);
    expect(stateOf(reopened)).toEqual(before);
    expect(reopened.stats.liveKeys).toBe(40);
    await reopened.close();
  });

  it('refuses a second store on one directory in this thread, and bad options', async () => {
    const dir = tempDir();
    const store = await OffsetStore.open(dir);
    await expect(OffsetStore.open(dir)).rejects.toThrow(InvalidArgumentError);
    store.commit('g', [{ topic: 't', partition: 0, offset: 1 }], T0); // the first is undisturbed
    await store.close();
    const reopened = await OffsetStore.open(dir);
    expect(reopened.fetch('g', 't', 0)!.offset).toBe(1);
    await reopened.close();

    const bad: unknown[] = [{ compactWhenDeadRatio: 1 }, { compactWhenDeadRatio: -0.1 }, { minCompactBytes: -1 }, { segmentBytes: 0 }, { nope: 1 }, 'x'];
    for (const options of bad) await expect(OffsetStore.open(tempDir(), options as OffsetStoreOptions)).rejects.toThrow(InvalidConfigError);
  });

  it('compaction keeps exactly the live set through random commits, deletes, restarts and crashes, with bounded log bytes', async () => {
    const dir = tempDir();
    const options: OffsetStoreOptions = { segmentBytes: 16 << 10, minCompactBytes: 48 << 10, compactWhenDeadRatio: 0.5, snapshotStepRecords: 16 };
    const random = prng(0xf10d);
    const int = (n: number) => Math.floor(random() * n);
    const groups = colocatedGroups('g', 4); // one partition, so the bounds below are one log's
    const model: State = new Map();
    let store = await OffsetStore.open(dir, options);
    let now = T0;
    let compactions = 0;
    let maxLogBytes = 0;
    let restarts = 0;
    let crashes = 0;
    const crashPhases = new Set<string>();
    let written = 0;

    for (let op = 0; op < 6000; op++) {
      now += int(3);
      const group = groups[int(groups.length)]!;
      const roll = random();
      if (roll < 0.85) {
        const n = 1 + int(6);
        const offsets = Array.from({ length: n }, () => ({
          topic: `t${int(3)}`,
          partition: int(6),
          offset: int(1_000_000),
          metadata: random() < 0.3 ? `m${int(1000)}`.repeat(1 + int(20)) : null,
          leaderEpoch: random() < 0.5 ? int(10) : undefined,
        }));
        if (random() < 0.03) {
          // An invalid entry somewhere: the whole commit is rejected.
          offsets[int(n)]!.offset = -5;
          expect(() => store.commit(group, offsets, now)).toThrow(InvalidArgumentError);
          continue;
        }
        store.commit(group, offsets, now);
        written += n;
        let offsetsOf = model.get(group);
        if (offsetsOf === undefined) model.set(group, (offsetsOf = new Map()));
        for (const o of offsets) {
          offsetsOf.set(`${o.topic}:${o.partition}`, { offset: o.offset, metadata: o.metadata, commitTimestamp: now, leaderEpoch: o.leaderEpoch ?? -1 });
        }
      } else if (roll < 0.95) {
        const topic = `t${int(3)}`;
        const partitions = Array.from({ length: 1 + int(3) }, () => int(6));
        store.deletePartitions(group, topic, partitions, now);
        for (const p of partitions) model.get(group)?.delete(`${topic}:${p}`);
      } else if (roll < 0.98) {
        store.deleteGroup(group, now);
        model.delete(group);
      } else if (roll < 0.993) {
        compactions += store.stats.compactions;
        await store.close();
        store = await OffsetStore.open(dir, options);
        restarts++;
        expect(stateOf(store)).toEqual(sorted(model));
      } else {
        // A crash at an arbitrary point, perhaps mid-snapshot or before a snapshot's cleanup: kill -9 keeps what was written.
        compactions += store.stats.compactions;
        crashPhases.add(store.compactionPhase);
        store.simulateCrash();
        store = await OffsetStore.open(dir, options);
        crashes++;
        expect(stateOf(store)).toEqual(sorted(model));
      }
      if (op % 25 === 0) {
        await store.sync();
        maxLogBytes = Math.max(maxLogBytes, store.stats.logBytes);
        expect(stateOf(store)).toEqual(sorted(model));
      }
      expect(store.stats.liveKeys).toBe([...model.values()].reduce((n, m) => n + m.size, 0));
    }
    await store.sync();
    compactions += store.stats.compactions;
    expect(stateOf(store)).toEqual(sorted(model));
    await store.close();
    store = await OffsetStore.open(dir, options);
    expect(stateOf(store)).toEqual(sorted(model));
    const { records } = countRecords(logOf(store, groups[0]!));
    console.log(
      `random model: ${written} offsets written, ${restarts} restarts, ${crashes} crashes, ${compactions} compactions, ` +
        `crashes in phases ${[...crashPhases].join('/')}, max log ${maxLogBytes} bytes, final log ${store.stats.logBytes} bytes / ${records} records, ${store.stats.liveKeys} live keys`,
    );
    expect(restarts).toBeGreaterThan(3);
    expect(crashes).toBeGreaterThan(3);
    expect(crashPhases.has('snapshot')).toBe(true);
    expect(compactions).toBeGreaterThan(10);
    // Without compaction the log would hold every record (> 1 MB); with it, at most the
    // compaction threshold plus about three segments (the one holding the snapshot start,
    // the snapshot, and what is written while the snapshot is fsync'd).
    expect(maxLogBytes).toBeLessThan(options.minCompactBytes! + 3 * options.segmentBytes!);
    expect(records).toBeLessThan(written / 5);
    await store.close();
  }, 30_000);

  it('recovers every synced commit after a crash, and drops a torn last commit whole', async () => {
    const dir = tempDir();
    let store = await OffsetStore.open(dir, { segmentBytes: 64 << 10 });
    for (let i = 0; i < 200; i++) {
      store.commit(
        `g${i % 3}`,
        [
          { topic: 't', partition: i % 10, offset: i },
          { topic: 'u', partition: i % 4, offset: i * 2 },
        ],
        T0 + i,
      );
    }
    await store.sync();
    const synced = stateOf(store);
    // One more commit, then the process dies before its fsync; its last bytes are torn.
    store.commit(
      'g0',
      [
        { topic: 't', partition: 0, offset: 5000 },
        { topic: 'new', partition: 0, offset: 1 },
      ],
      T0 + 1000,
    );
    expect(store.fetch('g0', 't', 0)!.offset).toBe(5000);
    const log = logOf(store, 'g0');
    const lastBatch = Buffer.from(log.read(log.logEndOffset - 2)); // a copy: the log is about to go
    const active = log.segments().at(-1)!;
    const position = active.size - lastBatch.length;
    const logDir = log.dir;
    store.simulateCrash();

    const file = join(logDir, `${String(active.baseOffset).padStart(20, '0')}.log`);
    const fd = openSync(file, 'r+');
    const check = Buffer.alloc(lastBatch.length);
    readSync(fd, check, 0, check.length, position);
    expect(check.equals(lastBatch)).toBe(true);
    writeSync(fd, Buffer.alloc(20, 0xee), 0, 20, position + lastBatch.length - 20); // tear the batch's last bytes
    closeSync(fd);

    store = await OffsetStore.open(dir, { segmentBytes: 64 << 10 });
    expect(logOf(store, 'g0').recoveryReport.cleanShutdown).toBe(false);
    expect(stateOf(store)).toEqual(synced); // neither entry of the torn commit, everything before it
    expect(store.fetch('g0', 'new', 0)).toBeUndefined();

    // And a plain crash (no tearing) keeps even what was not synced: the kernel holds it.
    store.commit('g1', [{ topic: 'after', partition: 0, offset: 77 }], T0 + 2000);
    const expected = stateOf(store);
    store.simulateCrash();
    store = await OffsetStore.open(dir, { segmentBytes: 64 << 10 });
    expect(stateOf(store)).toEqual(expected);
    await store.close();
  });

  it('never loses an offset when the process dies mid-compaction', async () => {
    const options: OffsetStoreOptions = { segmentBytes: 8 << 10, minCompactBytes: 16 << 10, snapshotStepRecords: 7 };
    // Crash at every point from before the snapshot starts until after its cleanup.
    const phases = new Set<string>();
    for (let crashAfter = 0; crashAfter < 16; crashAfter++) {
      const dir = tempDir();
      let store = await OffsetStore.open(dir, options);
      const model = new Map<string, number>();
      let now = T0;
      let i = 0;
      const commit = () => {
        const partition = i % 40;
        store.commit('g', [{ topic: 't', partition, offset: i, metadata: 'x'.repeat(40) }], ++now);
        model.set(`t:${partition}`, i);
        i++;
      };
      while (store.stats.compactions === 0) commit(); // the first snapshot completes (its cleanup not yet run)
      const firstCompactionAt = i;
      store.deleteGroup('g', ++now);
      model.clear();
      while (i < firstCompactionAt * 3) commit(); // the second snapshot starts and runs step by step
      let steps = 0;
      while (steps++ < crashAfter) {
        commit();
        if (steps % 4 === 0) await store.sync(); // lets a cleanup run
      }
      const expected = stateOf(store);
      expect([...expected.get('g')!].map(([k, v]) => [k, v.offset])).toEqual([...model].sort(([a], [b]) => (a < b ? -1 : 1)));
      phases.add(store.compactionPhase);
      const logStart = logOf(store, 'g').logStartOffset;
      store.simulateCrash();
      store = await OffsetStore.open(dir, options);
      expect(stateOf(store), `crash after ${crashAfter} steps`).toEqual(expected);
      expect(logOf(store, 'g').logStartOffset).toBe(logStart);
      await store.close();
    }
    expect([...phases].sort()).toEqual(['cleanup', 'idle', 'snapshot']);
  });

  it('opens fast with a million commits behind it', async () => {
    const dir = tempDir();
    const options: OffsetStoreOptions = { segmentBytes: 256 << 10, minCompactBytes: 1 << 20 };
    const store = await OffsetStore.open(dir, options);
    const groups = colocatedGroups('group-', 10); // one partition, so the bounds below are one log's
    const model = new Map<string, number>();
    const keys = 1000;
    const perCommit = 100;
    const total = 1_000_000;
    const started = performance.now();
    let maxLogBytes = 0;
    for (let n = 0, commit = 0; n < total; commit++) {
      const group = groups[commit % 10]!;
      const offsets = [];
      for (let j = 0; j < perCommit; j++, n++) {
        const partition = (n * 7) % 100; // 10 groups × 100 partitions = 1,000 keys
        offsets.push({ topic: 'events', partition, offset: n });
        model.set(`${group} events:${partition}`, n);
      }
      store.commit(group, offsets, T0 + commit);
      if (commit % 100 === 99) {
        await store.sync();
        maxLogBytes = Math.max(maxLogBytes, store.stats.logBytes);
      }
    }
    await store.sync();
    const writeMs = performance.now() - started;
    const { compactions } = store.stats;
    const before = stateOf(store);
    await store.close();

    const t = performance.now();
    const reopened = await OffsetStore.open(dir, options);
    const reopenMs = performance.now() - t;
    const { records, batches } = countRecords(logOf(reopened, groups[0]!));
    console.log(
      `million commits: ${total} offsets in ${total / perCommit} commits written in ${writeMs.toFixed(0)} ms; ` +
        `${compactions} compactions; max log ${(maxLogBytes / 1024).toFixed(0)} KiB; after close: ${reopened.stats.logBytes} bytes, ` +
        `${records} records in ${batches} batches, ${logOf(reopened, groups[0]!).segments().length} segments; reopen ${reopenMs.toFixed(1)} ms`,
    );
    expect(stateOf(reopened)).toEqual(before);
    expect(reopened.stats.liveKeys).toBe(keys);
    const flat = new Map<string, number>();
    for (const [group, offsets] of stateOf(reopened)) for (const [key, value] of offsets) flat.set(`${group} ${key}`, value.offset);
    expect(flat).toEqual(model);
    expect(compactions).toBeGreaterThan(10);
    expect(records).toBeLessThan(total / 10);
    expect(maxLogBytes).toBeLessThan(options.minCompactBytes! + 3 * options.segmentBytes!);
    expect(reopened.stats.logBytes).toBeLessThan(options.minCompactBytes! + 3 * options.segmentBytes!);
    await reopened.close();
  }, 120_000);
});
