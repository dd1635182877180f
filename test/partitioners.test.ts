import kafkajs from 'kafkajs';
import type { ICustomPartitioner } from 'kafkajs';
import { describe, expect, expectTypeOf, it } from 'vitest';

import { InvalidArgumentError, InvalidConfigError } from '../src/errors.js';
import { murmur2, partitionForKey, toPositive } from '../src/producer/murmur2.js';
import { Partitioners, type Partitioner, type PartitionerArgs, type PartitionerFactory } from '../src/producer/partitioners.js';

const { Partitioners: KafkaJSPartitioners } = kafkajs;

// An independent murmur2: BigInt arithmetic, truncated to int32 by
// BigInt.asIntN after every step, transcribed from Kafka's Java Utils.murmur2.
function referenceMurmur2(data: Uint8Array): number {
  const i32 = (x: bigint): bigint => BigInt.asIntN(32, x);
  const u32 = (x: bigint): bigint => BigInt.asUintN(32, x);
  const m = 0x5bd1e995n;
  const length = data.length;
  let h = i32(0x9747b28cn ^ BigInt(length));
  const length4 = Math.floor(length / 4);
  for (let i = 0; i < length4; i++) {
    const b = (j: number): bigint => BigInt(data[i * 4 + j]!);
    let k = i32(b(0) + (b(1) << 8n) + (b(2) << 16n) + (b(3) << 24n));
    k = i32(k * m);
    k = i32(k ^ (u32(k) >> 24n));
    k = i32(k * m);
    h = i32(h * m);
    h = i32(h ^ k);
  }
  const tail = length - (length % 4);
  const rest = length % 4;
  if (rest >= 3) h = i32(h ^ (BigInt(data[tail + 2]!) << 16n));
  if (rest >= 2) h = i32(h ^ (BigInt(data[tail + 1]!) << 8n));
  if (rest >= 1) {
    h = i32(h ^ BigInt(data[tail]!));
    h = i32(h * m);
  }
  h = i32(h ^ (u32(h) >> 13n));
  h = i32(h * m);
  h = i32(h ^ (u32(h) >> 15n));
  return Number(h);
}

// Deterministic PRNG (mulberry32) so failures are reproducible.
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomBytes(random: () => number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(random() * 256);
  return bytes;
}

function meta(...ids: number[]): PartitionerArgs['partitionMetadata'] {
  return ids.map((partitionId) => ({ partitionId, leader: 0, replicas: [0], isr: [0] }));
}

function args(topic: string, partitionMetadata: PartitionerArgs['partitionMetadata'], message: Partial<PartitionerArgs['message']> = {}): PartitionerArgs {
  return { topic, partitionMetadata, message: { value: null, ...message } };
}

function run(partitioner: Partitioner, times: number, a: PartitionerArgs): number[] {
  return Array.from({ length: times }, () => partitioner(a));
}

const ALL_FACTORIES: [string, PartitionerFactory][] = Object.entries(Partitioners);

describe('murmur2 (Kafka Utils.murmur2)', () => {
  it("matches Kafka's UtilsTest vectors", () => {
    expect(murmur2(Buffer.from('21'))).toBe(-973932308);
    expect(murmur2(Buffer.from('foobar'))).toBe(-790332482);
    expect(murmur2(Buffer.from('a-little-bit-long-string'))).toBe(-985981536);
    expect(murmur2(Buffer.from('a-little-bit-longer-string'))).toBe(-1486304829);
    expect(murmur2(new Uint8Array([0x61, 0x62, 0x63]))).toBe(479470107);
  });

  it('hashes the empty key (h = seed ^ 0, no blocks, no tail)', () => {
    // Computed independently (Python port of the Java code).
    expect(murmur2(new Uint8Array(0))).toBe(275646681);
    expect(murmur2(Buffer.alloc(0))).toBe(referenceMurmur2(new Uint8Array(0)));
  });

  it('returns signed 32-bit integers', () => {
    const value = murmur2(Buffer.from('foobar'));
    expect(Number.isInteger(value)).toBe(true);
    expect(value | 0).toBe(value);
  });

  it('hashes only the view it is given (subarray with a byteOffset)', () => {
    const backing = Buffer.from('xxfoobarxx');
    expect(murmur2(backing.subarray(2, 8))).toBe(-790332482);
  });

  it('agrees with a BigInt reference on 10,000 random keys of length 0..64', () => {
    const random = prng(0xf10d);
    for (let i = 0; i < 10_000; i++) {
      const key = randomBytes(random, Math.floor(random() * 65));
      const expected = referenceMurmur2(key);
      const actual = murmur2(key);
      if (actual !== expected) {
        throw new Error(`key ${Buffer.from(key).toString('hex')}: murmur2 ${actual}, reference ${expected}`);
      }
    }
  });
});

describe('toPositive and partitionForKey', () => {
  it('toPositive masks the sign bit (not Math.abs)', () => {
    expect(toPositive(0)).toBe(0);
    expect(toPositive(5)).toBe(5);
    expect(toPositive(0x7fffffff)).toBe(0x7fffffff);
    expect(toPositive(-1)).toBe(0x7fffffff);
    expect(toPositive(-2147483648)).toBe(0);
    expect(toPositive(-973932308)).toBe(1173551340);
    expect(toPositive(-973932308)).not.toBe(973932308);
  });

  it('partitionForKey = toPositive(murmur2(key)) % numPartitions', () => {
    // Expected values computed independently (Python port of the Java code).
    const cases: [string, number, number][] = [
      ['21', 3, 0],
      ['21', 100, 40],
      ['foobar', 12, 6],
      ['foobar', 100, 66],
      ['a-little-bit-long-string', 3, 2],
      ['a-little-bit-longer-string', 12, 11],
      ['abc', 100, 7],
      ['', 12, 9],
      ['ключ', 100, 24],
      ['🎉key', 12, 6],
    ];
    for (const [key, n, expected] of cases) {
      expect(partitionForKey(Buffer.from(key), n), `${key} % ${n}`).toBe(expected);
    }
    expect(partitionForKey(Buffer.from('anything'), 1)).toBe(0);
  });

  it('partitionForKey matches the reference for random keys and partition counts', () => {
    const random = prng(42);
    for (let i = 0; i < 2_000; i++) {
      const key = randomBytes(random, Math.floor(random() * 65));
      const n = 1 + Math.floor(random() * 1000);
      expect(partitionForKey(key, n)).toBe((referenceMurmur2(key) & 0x7fffffff) % n);
    }
  });

  it('rejects a partition count that is not a positive integer', () => {
    for (const n of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => partitionForKey(Buffer.from('k'), n)).toThrow(InvalidArgumentError);
    }
  });
});

describe('keyed partitioning (DefaultPartitioner)', () => {
  it('string keys (UTF-8) and Buffer keys hash identically', () => {
    const partitioner = Partitioners.DefaultPartitioner();
    const m = meta(...Array.from({ length: 12 }, (_, i) => i));
    for (const key of ['21', 'foobar', '', 'ключ', '🎉key', 'a-little-bit-longer-string']) {
      const fromString = partitioner(args('t', m, { key }));
      const fromBuffer = partitioner(args('t', m, { key: Buffer.from(key, 'utf8') }));
      expect(fromString).toBe(fromBuffer);
      expect(fromString).toBe(partitionForKey(Buffer.from(key, 'utf8'), 12));
    }
  });

  it('uses the total partition count and is stable', () => {
    const partitioner = Partitioners.DefaultPartitioner();
    expect(run(partitioner, 5, args('t', meta(0, 1, 2), { key: 'a-little-bit-long-string' }))).toEqual([2, 2, 2, 2, 2]);
    expect(partitioner(args('t', meta(...Array.from({ length: 100 }, (_, i) => i)), { key: '21' }))).toBe(40);
  });

  it('an empty key is a key: it is hashed, not round-robined', () => {
    const partitioner = Partitioners.DefaultPartitioner();
    // toPositive(275646681) % 12 === 9, every time.
    const m = meta(...Array.from({ length: 12 }, (_, i) => i));
    expect(run(partitioner, 4, args('t', m, { key: '' }))).toEqual([9, 9, 9, 9]);
    expect(run(partitioner, 2, args('t', m, { key: Buffer.alloc(0) }))).toEqual([9, 9]);
  });

  it("agrees with KafkaJS's (Java-compatible) DefaultPartitioner on keyed records", () => {
    const ours = Partitioners.DefaultPartitioner();
    const theirs = KafkaJSPartitioners.DefaultPartitioner();
    const random = prng(7);
    for (let i = 0; i < 1_000; i++) {
      const n = 1 + Math.floor(random() * 64);
      const key = Buffer.from(randomBytes(random, Math.floor(random() * 40)));
      const m = meta(...Array.from({ length: n }, (_, j) => j));
      const a = { topic: 't', partitionMetadata: m.map((p) => ({ ...p, partitionErrorCode: 0, replicas: [0], isr: [0] })), message: { key, value: null } };
      expect(ours(a)).toBe(theirs(a));
    }
  });

  it('JavaCompatiblePartitioner and LegacyPartitioner hash exactly like DefaultPartitioner', () => {
    const def = Partitioners.DefaultPartitioner();
    const java = Partitioners.JavaCompatiblePartitioner();
    const legacy = Partitioners.LegacyPartitioner();
    const m = meta(...Array.from({ length: 7 }, (_, i) => i));
    for (let i = 0; i < 200; i++) {
      const a = args('t', m, { key: `key-${i}` });
      expect(java(a)).toBe(def(a));
      expect(legacy(a)).toBe(def(a));
    }
  });

  it("LegacyPartitioner does NOT reproduce KafkaJS's old non-Java hash", () => {
    const ours = Partitioners.LegacyPartitioner();
    const kafkajsLegacy = KafkaJSPartitioners.LegacyPartitioner();
    const m = meta(...Array.from({ length: 100 }, (_, i) => i));
    let differ = 0;
    for (let i = 0; i < 100; i++) {
      const key = `key-${i}`;
      const a = { topic: 't', partitionMetadata: m.map((p) => ({ ...p, partitionErrorCode: 0, replicas: [0], isr: [0] })), message: { key, value: null } };
      expect(ours(a)).toBe(partitionForKey(Buffer.from(key), 100));
      if (ours(a) !== kafkajsLegacy(a)) differ++;
    }
    expect(differ).toBeGreaterThan(0);
  });
});

describe('explicit partition', () => {
  it.each(ALL_FACTORIES)('%s: message.partition wins over keys, counters and stickiness', (_name, factory) => {
    const partitioner = factory();
    const m = meta(0, 1, 2);
    expect(partitioner(args('t', m, { partition: 2, key: 'foobar' }))).toBe(2);
    expect(partitioner(args('t', m, { partition: 0 }))).toBe(0);
    expect(partitioner(args('t', m, { partition: 1, key: null }))).toBe(1);
    // Even without metadata: the producer validates the partition, not the partitioner.
    expect(partitioner(args('t', [], { partition: 5 }))).toBe(5);
  });

  it.each(ALL_FACTORIES)('%s: throws InvalidArgumentError when it must choose and metadata is empty', (_name, factory) => {
    const partitioner = factory();
    expect(() => partitioner(args('t', []))).toThrow(InvalidArgumentError);
    expect(() => partitioner(args('t', [], { key: 'k' }))).toThrow(InvalidArgumentError);
  });
});

describe('round-robin for keyless records (DefaultPartitioner)', () => {
  it('cycles exactly 0,1,2,0,1,2 on a 3-partition topic', () => {
    const partitioner = Partitioners.DefaultPartitioner();
    expect(run(partitioner, 6, args('t', meta(0, 1, 2)))).toEqual([0, 1, 2, 0, 1, 2]);
    expect(run(partitioner, 6, args('t', meta(0, 1, 2), { key: undefined }))).toEqual([0, 1, 2, 0, 1, 2]);
  });

  it('keeps one counter per topic', () => {
    const partitioner = Partitioners.DefaultPartitioner();
    const m = meta(0, 1, 2);
    const seen = [
      partitioner(args('a', m)),
      partitioner(args('a', m)),
      partitioner(args('b', m)),
      partitioner(args('a', m)),
      partitioner(args('b', m)),
      partitioner(args('b', m)),
      partitioner(args('b', m)),
    ];
    expect(seen).toEqual([0, 1, 0, 2, 1, 2, 0]);
  });

  it('keyed records do not advance the counter', () => {
    const partitioner = Partitioners.DefaultPartitioner();
    const m = meta(0, 1, 2);
    expect(partitioner(args('t', m))).toBe(0);
    partitioner(args('t', m, { key: 'foobar' }));
    partitioner(args('t', m, { key: 'abc' }));
    expect(partitioner(args('t', m))).toBe(1);
  });

  it('each factory call has its own counters', () => {
    const first = Partitioners.DefaultPartitioner();
    expect(run(first, 2, args('t', meta(0, 1, 2)))).toEqual([0, 1]);
    expect(run(Partitioners.DefaultPartitioner(), 2, args('t', meta(0, 1, 2)))).toEqual([0, 1]);
  });

  it('indexes the partition ids sorted, whatever the metadata order', () => {
    const partitioner = Partitioners.DefaultPartitioner();
    expect(run(partitioner, 6, args('t', meta(2, 0, 1)))).toEqual([0, 1, 2, 0, 1, 2]);
    expect(run(Partitioners.DefaultPartitioner(), 4, args('t', meta(9, 5, 7)))).toEqual([5, 7, 9, 5]);
  });

  it('skips partitions without a leader, or uses all when none has one', () => {
    const partitioner = Partitioners.DefaultPartitioner();
    const m = [
      { partitionId: 0, leader: 0 },
      { partitionId: 1, leader: -1 },
      { partitionId: 2, leader: 0 },
    ];
    expect(run(partitioner, 4, args('t', m))).toEqual([0, 2, 0, 2]);
    const leaderless = [0, 1, 2].map((partitionId) => ({ partitionId, leader: -1 }));
    expect(run(Partitioners.DefaultPartitioner(), 4, args('u', leaderless))).toEqual([0, 1, 2, 0]);
  });
});

describe('RoundRobinPartitioner', () => {
  it('ignores keys entirely', () => {
    const partitioner = Partitioners.RoundRobinPartitioner();
    const m = meta(0, 1, 2);
    const seen = ['foobar', 'foobar', 'foobar', null, 'abc', 'foobar'].map((key) => partitioner(args('t', m, { key })));
    expect(seen).toEqual([0, 1, 2, 0, 1, 2]);
  });

  it('keeps one counter per topic', () => {
    const partitioner = Partitioners.RoundRobinPartitioner();
    const m = meta(0, 1);
    expect([
      partitioner(args('a', m, { key: 'k' })),
      partitioner(args('b', m, { key: 'k' })),
      partitioner(args('a', m, { key: 'k' })),
      partitioner(args('b', m, { key: 'k' })),
    ]).toEqual([0, 0, 1, 1]);
  });
});

describe('StickyPartitioner', () => {
  const m = meta(0, 1, 2, 3, 4);

  it('stays on one partition until batchSize bytes went there, then switches to a different one', () => {
    const partitioner = Partitioners.StickyPartitioner({ batchSize: 100 });
    const value = Buffer.alloc(10);
    const seen = run(partitioner, 60, args('t', m, { value }));
    // 10 records of 10 bytes fill 100 bytes; the 11th switches.
    for (let batch = 0; batch < 6; batch++) {
      const chunk = seen.slice(batch * 10, batch * 10 + 10);
      expect(new Set(chunk).size).toBe(1);
      if (batch > 0) expect(chunk[0]).not.toBe(seen[batch * 10 - 1]);
    }
    expect(seen.every((p) => p >= 0 && p <= 4)).toBe(true);
  });

  it('counts key and value bytes (strings as UTF-8) and defaults batchSize to 16384', () => {
    const partitioner = Partitioners.StickyPartitioner();
    const value = 'é'.repeat(512); // 1024 UTF-8 bytes
    const seen = run(partitioner, 33, args('t', m, { value }));
    expect(new Set(seen.slice(0, 16)).size).toBe(1);
    expect(seen[16]).not.toBe(seen[15]);
    expect(new Set(seen.slice(16, 32)).size).toBe(1);
    expect(seen[32]).not.toBe(seen[31]);
  });

  it('a record crossing the threshold still goes to the sticky partition', () => {
    const partitioner = Partitioners.StickyPartitioner({ batchSize: 100 });
    const first = partitioner(args('t', m, { value: Buffer.alloc(99) }));
    expect(partitioner(args('t', m, { value: Buffer.alloc(50) }))).toBe(first);
    expect(partitioner(args('t', m, { value: Buffer.alloc(1) }))).not.toBe(first);
  });

  it('keyed and explicit-partition records neither go to nor count towards the sticky partition', () => {
    const partitioner = Partitioners.StickyPartitioner({ batchSize: 20 });
    const sticky = partitioner(args('t', m, { value: Buffer.alloc(10) }));
    expect(partitioner(args('t', m, { key: 'foobar', value: Buffer.alloc(1000) }))).toBe(partitionForKey(Buffer.from('foobar'), 5));
    expect(partitioner(args('t', m, { partition: (sticky + 1) % 5, value: Buffer.alloc(1000) }))).toBe((sticky + 1) % 5);
    expect(partitioner(args('t', m, { value: Buffer.alloc(5) }))).toBe(sticky);
  });

  it('keeps stickiness per topic', () => {
    const partitioner = Partitioners.StickyPartitioner({ batchSize: 30, random: prng(3) });
    const a0 = partitioner(args('a', m, { value: Buffer.alloc(20) }));
    const b0 = partitioner(args('b', m, { value: Buffer.alloc(20) }));
    expect(partitioner(args('a', m, { value: Buffer.alloc(20) }))).toBe(a0); // a: 20 → 40 bytes
    expect(partitioner(args('b', m, { value: Buffer.alloc(5) }))).toBe(b0); // b: 25 bytes, under 30
    expect(partitioner(args('a', m, { value: Buffer.alloc(1) }))).not.toBe(a0);
    expect(partitioner(args('b', m, { value: Buffer.alloc(1) }))).toBe(b0);
  });

  it('chooses at random among the other partitions', () => {
    const partitioner = Partitioners.StickyPartitioner({ batchSize: 0, random: prng(11) });
    const seen = run(partitioner, 500, args('t', m));
    for (let i = 1; i < seen.length; i++) expect(seen[i]).not.toBe(seen[i - 1]);
    expect(new Set(seen)).toEqual(new Set([0, 1, 2, 3, 4]));
  });

  it('stays put when there is only one partition', () => {
    const partitioner = Partitioners.StickyPartitioner({ batchSize: 1 });
    expect(run(partitioner, 5, args('t', meta(3), { value: 'xx' }))).toEqual([3, 3, 3, 3, 3]);
  });

  it('re-chooses at once if the sticky partition loses its leader', () => {
    const partitioner = Partitioners.StickyPartitioner({ batchSize: 1_000_000 });
    const sticky = partitioner(args('t', m, { value: 'x' }));
    const degraded = m.map((p) => (p.partitionId === sticky ? { ...p, leader: -1 } : p));
    const next = partitioner(args('t', degraded, { value: 'x' }));
    expect(next).not.toBe(sticky);
    expect(partitioner(args('t', degraded, { value: 'x' }))).toBe(next);
  });

  it('rejects an invalid batchSize', () => {
    for (const batchSize of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => Partitioners.StickyPartitioner({ batchSize })).toThrow(InvalidConfigError);
    }
  });
});

describe('KafkaJS-compatible shapes', () => {
  it('a custom KafkaJS-style partitioner factory type-checks and runs', () => {
    const MyPartitioner: PartitionerFactory = () => {
      return ({ topic, partitionMetadata, message }) => {
        if (topic === 'pinned') return 0;
        const key = message.key;
        return key == null ? partitionMetadata.length - 1 : key.length % partitionMetadata.length;
      };
    };
    const partitioner = MyPartitioner();
    expect(partitioner(args('pinned', meta(0, 1)))).toBe(0);
    expect(partitioner(args('t', meta(0, 1, 2)))).toBe(2);
    expect(partitioner(args('t', meta(0, 1, 2), { key: 'abcd' }))).toBe(1);

    expectTypeOf(MyPartitioner).toEqualTypeOf<PartitionerFactory>();
    expectTypeOf<Partitioner>().parameter(0).toEqualTypeOf<PartitionerArgs>();
    expectTypeOf<Partitioner>().returns.toEqualTypeOf<number>();
  });

  it("Fjord's partitioners are assignable to KafkaJS's ICustomPartitioner", () => {
    const forKafkaJS: ICustomPartitioner[] = [
      Partitioners.DefaultPartitioner,
      Partitioners.RoundRobinPartitioner,
      Partitioners.StickyPartitioner,
      Partitioners.JavaCompatiblePartitioner,
      Partitioners.LegacyPartitioner,
    ];
    expect(forKafkaJS).toHaveLength(5);
    expectTypeOf(Partitioners.DefaultPartitioner).toMatchTypeOf<ICustomPartitioner>();
    expectTypeOf(Partitioners.StickyPartitioner).toMatchTypeOf<ICustomPartitioner>();
    expectTypeOf(Partitioners.StickyPartitioner).toMatchTypeOf<PartitionerFactory>();
  });

  it('exposes the KafkaJS names plus RoundRobin and Sticky', () => {
    expect(Object.keys(Partitioners).sort()).toEqual([
      'DefaultPartitioner',
      'JavaCompatiblePartitioner',
      'LegacyPartitioner',
      'RoundRobinPartitioner',
      'StickyPartitioner',
    ]);
    for (const name of Object.keys(KafkaJSPartitioners)) expect(Partitioners).toHaveProperty(name);
    expect(Object.isFrozen(Partitioners)).toBe(true);
  });
});
