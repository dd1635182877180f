import { Buffer } from 'node:buffer';
import { createRequire } from 'node:module';

import { describe, expect, expectTypeOf, it } from 'vitest';

import { ProtocolDecodeError } from '../src/errors.js';
import {
  AssignerProtocol,
  type Assigner,
  type AssignerCluster,
  type Assignment,
  type GroupMember,
  type PartitionAssigner,
} from '../src/groups/assigner-protocol.js';
import { DEFAULT_GENERATION, PartitionAssigners, decodeOwnedPartitionsUserData, ownedPartitionsUserData } from '../src/groups/assigners.js';

const require = createRequire(import.meta.url);
const kafkajs = require('kafkajs') as typeof import('kafkajs');

// ---------------------------------------------------------------------------
// Helpers

/** Seeded PRNG (mulberry32): the property loops are reproducible. */
function prng(seed: number): { int(max: number): number; pick<T>(xs: readonly T[]): T; chance(p: number): boolean } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    int: (max) => Math.floor(next() * max),
    pick: (xs) => xs[Math.floor(next() * xs.length)]!,
    chance: (p) => next() < p,
  };
}

function clusterOf(partitions: Record<string, number>): AssignerCluster {
  return {
    findTopicPartitionMetadata: (topic) => Array.from({ length: partitions[topic] ?? 0 }, (_, partitionId) => ({ partitionId })),
  };
}

/** Runs `assign` and decodes the result to `{ memberId: { topic: partitions } }`, idle members as `{}`. */
async function assignDecoded(assigner: Assigner, members: GroupMember[], topics: string[]): Promise<Record<string, Assignment>> {
  const result = await assigner.assign({ members, topics });
  const out: Record<string, Assignment> = {};
  for (const m of members) out[m.memberId] = {};
  for (const { memberId, memberAssignment } of result) {
    expect(out[memberId], `unknown member ${memberId} in the result`).toBeDefined();
    const decoded = AssignerProtocol.MemberAssignment.decode(memberAssignment);
    const assignment: Assignment = {};
    for (const [topic, ps] of Object.entries(decoded?.assignment ?? {})) if (ps.length > 0) assignment[topic] = [...ps].sort((a, b) => a - b);
    out[memberId] = assignment;
  }
  return out;
}

function membersFor(assigner: Assigner, subscriptions: Record<string, string[]>): GroupMember[] {
  return Object.entries(subscriptions).map(([memberId, topics]) => ({ memberId, memberMetadata: assigner.protocol({ topics }).metadata }));
}

const tpKey = (topic: string, partition: number): string => `${topic}/${partition}`;

function owners(result: Record<string, Assignment>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [memberId, assignment] of Object.entries(result)) {
    for (const [topic, ps] of Object.entries(assignment)) {
      for (const p of ps) out.set(tpKey(topic, p), [...(out.get(tpKey(topic, p)) ?? []), memberId]);
    }
  }
  return out;
}

function size(assignment: Assignment | undefined): number {
  return Object.values(assignment ?? {}).reduce((n, ps) => n + ps.length, 0);
}

/** Invariants every assigner keeps: at most one owner per partition, only existing partitions of subscribed topics. */
function checkBasic(result: Record<string, Assignment>, partitions: Record<string, number>, subscriptions: Record<string, string[]>): void {
  for (const [tp, who] of owners(result)) expect(who, `${tp} has several owners`).toHaveLength(1);
  for (const [memberId, assignment] of Object.entries(result)) {
    for (const [topic, ps] of Object.entries(assignment)) {
      expect(subscriptions[memberId], `${memberId} got unsubscribed topic ${topic}`).toContain(topic);
      for (const p of ps) expect(p >= 0 && p < (partitions[topic] ?? 0), `${topic}/${p} does not exist`).toBe(true);
    }
  }
}

/** Every partition of a topic someone subscribes to is assigned exactly once. */
function checkComplete(result: Record<string, Assignment>, partitions: Record<string, number>, subscriptions: Record<string, string[]>): void {
  const assigned = owners(result);
  const subscribed = new Set(Object.values(subscriptions).flat());
  for (const [topic, n] of Object.entries(partitions)) {
    for (let p = 0; p < n; p++) {
      expect(assigned.get(tpKey(topic, p))?.length ?? 0, `${topic}/${p}`).toBe(subscribed.has(topic) ? 1 : 0);
    }
  }
}

function randomCase(rand: ReturnType<typeof prng>, equalSubscriptions: boolean) {
  const topicCount = 1 + rand.int(4);
  const partitions: Record<string, number> = {};
  for (let t = 0; t < topicCount; t++) partitions[`topic-${String.fromCharCode(97 + t)}`] = 1 + rand.int(8);
  const topics = Object.keys(partitions);
  const memberCount = 1 + rand.int(8);
  const subscriptions: Record<string, string[]> = {};
  for (let m = 0; m < memberCount; m++) {
    const memberId = `member-${rand.int(1000).toString(36)}-${m}`;
    subscriptions[memberId] = equalSubscriptions ? topics : topics.filter(() => rand.chance(0.6));
  }
  return { partitions, topics, subscriptions };
}

// ---------------------------------------------------------------------------
// AssignerProtocol

describe('AssignerProtocol', () => {
  const K = kafkajs.AssignerProtocol;

  it('encodes member metadata as Kafka ConsumerProtocolSubscription v0', () => {
    const bytes = AssignerProtocol.MemberMetadata.encode({ version: 0, topics: ['a', 'bc'], userData: Buffer.from([9]) });
    expect(bytes.toString('hex')).toBe(['0000', '00000002', '0001', '61', '0002', '6263', '00000001', '09'].join(''));
    expect(AssignerProtocol.MemberMetadata.encode({ version: 1, topics: [] }).toString('hex')).toBe('0001' + '00000000' + '00000000');
    expect(AssignerProtocol.MemberMetadata.encode({ version: 0, topics: [], userData: null }).toString('hex')).toBe('0000' + '00000000' + 'ffffffff');
  });

  it('encodes member assignments as Kafka ConsumerProtocolAssignment v0', () => {
    const bytes = AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: { t: [0, 2] } });
    expect(bytes.toString('hex')).toBe(['0000', '00000001', '0001', '74', '00000002', '00000000', '00000002', '00000000'].join(''));
  });

  it('is byte-for-byte KafkaJS for random metadata and assignments, and decodes what KafkaJS encodes', () => {
    const rand = prng(42);
    const names = ['orders', 'payments', 'tópico-ü', '日本語', 'a.b_c-d', '', '__proto__'];
    for (let i = 0; i < 500; i++) {
      const topics = Array.from({ length: rand.int(5) }, () => rand.pick(names));
      const userData = rand.chance(0.2) ? undefined : Buffer.from(Array.from({ length: rand.int(40) }, () => rand.int(256)));
      const version = rand.int(4);
      const metadata = { version, topics, userData } as { version: number; topics: string[]; userData: Buffer };
      const ours = AssignerProtocol.MemberMetadata.encode(metadata);
      const theirs = K.MemberMetadata.encode(metadata);
      expect(ours.equals(theirs)).toBe(true);
      expect(AssignerProtocol.MemberMetadata.decode(theirs)).toEqual(K.MemberMetadata.decode(theirs));

      const assignment: Assignment = {};
      for (const topic of topics) {
        const ps = Array.from({ length: rand.int(6) }, () => rand.int(1 << 20));
        Object.defineProperty(assignment, topic, { value: ps, enumerable: true, writable: true, configurable: true });
      }
      const a = { version, assignment, userData } as { version: number; assignment: Assignment; userData: Buffer };
      const oursA = AssignerProtocol.MemberAssignment.encode(a);
      const theirsA = K.MemberAssignment.encode(a);
      expect(oursA.equals(theirsA)).toBe(true);
      const decoded = AssignerProtocol.MemberAssignment.decode(theirsA)!;
      const expected = K.MemberAssignment.decode(theirsA)!;
      expect(decoded.version).toBe(expected.version);
      expect(decoded.userData.equals(expected.userData)).toBe(true);
      // ('__proto__' is a legal topic name, which KafkaJS's decoder mishandles; ours keeps it.)
      expect(Object.keys(decoded.assignment)).toEqual(Object.keys(assignment));
      for (const topic of Object.keys(assignment)) expect(decoded.assignment[topic]).toEqual(assignment[topic]);
    }
  });

  it('decodes null user data as null, an empty assignment as null, and ignores trailing bytes', () => {
    const withNull = AssignerProtocol.MemberMetadata.encode({ version: 0, topics: ['t'], userData: null });
    expect(AssignerProtocol.MemberMetadata.decode(withNull)!.userData).toBeNull();
    expect(K.MemberMetadata.decode(withNull)!.userData).toBeNull();
    expect(AssignerProtocol.MemberAssignment.decode(Buffer.alloc(0))).toBeNull();
    expect(K.MemberAssignment.decode(Buffer.alloc(0))).toBeNull();
    // Kafka's subscription v1 appends owned partitions after the user data.
    const v1 = Buffer.concat([AssignerProtocol.MemberMetadata.encode({ version: 1, topics: ['t'] }), Buffer.from('0000000100017400000001000000', 'hex')]);
    expect(AssignerProtocol.MemberMetadata.decode(v1)).toEqual({ version: 1, topics: ['t'], userData: Buffer.alloc(0) });
  });

  it('rejects truncated input with ProtocolDecodeError', () => {
    const bytes = AssignerProtocol.MemberMetadata.encode({ version: 0, topics: ['orders'], userData: Buffer.from('xyz') });
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(() => AssignerProtocol.MemberMetadata.decode(bytes.subarray(0, cut))).toThrow(ProtocolDecodeError);
    }
    expect(() => AssignerProtocol.MemberAssignment.decode(Buffer.from('00007fffffff', 'hex'))).toThrow(ProtocolDecodeError);
  });
});

// ---------------------------------------------------------------------------
// Range

describe('PartitionAssigners.range', () => {
  it("matches the example of Kafka's RangeAssignor docs", async () => {
    const assigner = PartitionAssigners.range({ cluster: clusterOf({ t0: 3, t1: 3 }) });
    expect(assigner.name).toBe('RangeAssigner');
    const members = membersFor(assigner, { C1: ['t0', 't1'], C0: ['t0', 't1'] });
    expect(await assignDecoded(assigner, members, ['t0', 't1'])).toEqual({
      C0: { t0: [0, 1], t1: [0, 1] },
      C1: { t0: [2], t1: [2] },
    });
  });

  it('gives the first n % m members one extra, per topic, among the members subscribed to it', async () => {
    const assigner = PartitionAssigners.range({ cluster: clusterOf({ a: 7, b: 2 }) });
    const members = membersFor(assigner, { m1: ['a', 'b'], m2: ['a'], m3: ['a', 'b'] });
    expect(await assignDecoded(assigner, members, ['a', 'b'])).toEqual({
      m1: { a: [0, 1, 2], b: [0] },
      m2: { a: [3, 4] },
      m3: { a: [5, 6], b: [1] },
    });
  });

  it('leaves members beyond the partition count idle, with an empty assignment', async () => {
    const assigner = PartitionAssigners.range({ cluster: clusterOf({ t: 2 }) });
    const members = membersFor(assigner, { d: ['t'], c: ['t'], b: ['t'], a: ['t'] });
    const result = await assigner.assign({ members, topics: ['t'] });
    expect(result.map((r) => r.memberId)).toEqual(['a', 'b', 'c', 'd']);
    expect(await assignDecoded(assigner, members, ['t'])).toEqual({ a: { t: [0] }, b: { t: [1] }, c: {}, d: {} });
    expect(AssignerProtocol.MemberAssignment.decode(result[3]!.memberAssignment)).toEqual({ version: 0, assignment: {}, userData: Buffer.alloc(0) });
  });

  it('assigns every partition exactly once for random cases', async () => {
    const rand = prng(7);
    for (let i = 0; i < 300; i++) {
      const { partitions, topics, subscriptions } = randomCase(rand, i % 2 === 0);
      const assigner = PartitionAssigners.range({ cluster: clusterOf(partitions) });
      const result = await assignDecoded(assigner, membersFor(assigner, subscriptions), topics);
      checkBasic(result, partitions, subscriptions);
      checkComplete(result, partitions, subscriptions);
      // Per topic, the counts of its subscribers differ by at most one.
      for (const topic of topics) {
        const counts = Object.keys(subscriptions)
          .filter((m) => subscriptions[m]!.includes(topic))
          .map((m) => result[m]![topic]?.length ?? 0);
        if (counts.length > 0) expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
      }
    }
  });
});

// ---------------------------------------------------------------------------
// Round robin

describe('PartitionAssigners.roundRobin', () => {
  it("deals sorted partitions to sorted members (Kafka's RoundRobinAssignor docs, equal subscriptions)", async () => {
    const assigner = PartitionAssigners.roundRobin({ cluster: clusterOf({ t0: 3, t1: 3 }) });
    expect(assigner.name).toBe('RoundRobinAssigner');
    const members = membersFor(assigner, { C1: ['t0', 't1'], C0: ['t0', 't1'] });
    expect(await assignDecoded(assigner, members, ['t1', 't0'])).toEqual({
      C0: { t0: [0, 2], t1: [1] },
      C1: { t0: [1], t1: [0, 2] },
    });
  });

  it("skips members not subscribed to a partition's topic (Kafka's RoundRobinAssignor docs, unequal subscriptions)", async () => {
    const assigner = PartitionAssigners.roundRobin({ cluster: clusterOf({ t0: 1, t1: 2, t2: 3 }) });
    const members = membersFor(assigner, { C0: ['t0'], C1: ['t0', 't1'], C2: ['t0', 't1', 't2'] });
    expect(await assignDecoded(assigner, members, ['t0', 't1', 't2'])).toEqual({
      C0: { t0: [0] },
      C1: { t1: [0] },
      C2: { t1: [1], t2: [0, 1, 2] },
    });
  });

  it('leaves members beyond the partition count idle', async () => {
    const assigner = PartitionAssigners.roundRobin({ cluster: clusterOf({ t: 3 }) });
    const members = membersFor(assigner, { m0: ['t'], m1: ['t'], m2: ['t'], m3: ['t'], m4: ['t'] });
    expect(await assignDecoded(assigner, members, ['t'])).toEqual({ m0: { t: [0] }, m1: { t: [1] }, m2: { t: [2] }, m3: {}, m4: {} });
  });

  it("agrees with KafkaJS's own roundRobin assigner for random cases", async () => {
    const rand = prng(1234);
    for (let i = 0; i < 300; i++) {
      const { partitions, topics, subscriptions } = randomCase(rand, true);
      const cluster = clusterOf(partitions);
      const ours = PartitionAssigners.roundRobin({ cluster });
      const theirs = kafkajs.PartitionAssigners.roundRobin({ cluster } as unknown as Parameters<typeof kafkajs.PartitionAssigners.roundRobin>[0]);
      const members = membersFor(ours, subscriptions);
      // KafkaJS's metadata is the same bytes.
      for (const m of members) expect(m.memberMetadata.equals(theirs.protocol({ topics: subscriptions[m.memberId]! }).metadata)).toBe(true);
      const expected = await assignDecoded(theirs, members, topics);
      const actual = await assignDecoded(ours, members, topics);
      expect(actual).toEqual(expected);
      checkBasic(actual, partitions, subscriptions);
      checkComplete(actual, partitions, subscriptions);
    }
  });

  it('assigns every partition exactly once with unequal subscriptions', async () => {
    const rand = prng(99);
    for (let i = 0; i < 300; i++) {
      const { partitions, topics, subscriptions } = randomCase(rand, false);
      const assigner = PartitionAssigners.roundRobin({ cluster: clusterOf(partitions) });
      const result = await assignDecoded(assigner, membersFor(assigner, subscriptions), topics);
      checkBasic(result, partitions, subscriptions);
      checkComplete(result, partitions, subscriptions);
    }
  });
});

// ---------------------------------------------------------------------------
// Cooperative sticky

/** A group of cooperative-sticky members that rejoin round after round, like consumers do. */
class Group {
  readonly state = new Map<string, { topics: string[]; owned: Assignment; generation: number }>();
  generation = 0;
  readonly history: Record<string, Assignment>[] = [];
  readonly assigner: Assigner;

  constructor(readonly partitions: Record<string, number>) {
    this.assigner = PartitionAssigners.cooperativeSticky({ cluster: clusterOf(partitions) });
  }

  join(memberId: string, topics: string[]): void {
    this.state.set(memberId, { topics, owned: {}, generation: DEFAULT_GENERATION });
  }

  leave(memberId: string): void {
    this.state.delete(memberId);
  }

  subscriptions(): Record<string, string[]> {
    return Object.fromEntries([...this.state].map(([id, s]) => [id, s.topics]));
  }

  owned(): Record<string, Assignment> {
    return Object.fromEntries([...this.state].map(([id, s]) => [id, s.owned]));
  }

  /** One rebalance: every member joins with what it owns; returns the assignment (members adopt it). */
  async round(): Promise<Record<string, Assignment>> {
    const members = [...this.state].map(([memberId, s]) => ({
      memberId,
      memberMetadata: this.assigner.protocol({ topics: s.topics, ownedPartitions: s.owned, generationId: s.generation }).metadata,
    }));
    const topics = [...new Set([...this.state.values()].flatMap((s) => s.topics))];
    const result = await assignDecoded(this.assigner, members, topics);
    const subscriptions = this.subscriptions();
    checkBasic(result, this.partitions, subscriptions);
    // Cooperative: a member never receives a partition another member owned going into this round.
    const before = owners(this.owned());
    for (const [memberId, assignment] of Object.entries(result)) {
      for (const [topic, ps] of Object.entries(assignment)) {
        for (const p of ps) {
          const previous = before.get(tpKey(topic, p)) ?? [];
          expect(
            previous.filter((o) => o !== memberId),
            `${memberId} got ${topic}/${p} still owned by ${previous.join()}`,
          ).toEqual([]);
        }
      }
    }
    this.generation++;
    for (const [memberId, s] of this.state) {
      s.owned = result[memberId]!;
      s.generation = this.generation;
    }
    this.history.push(result);
    return result;
  }

  /** Rebalances until an assignment revokes and withholds nothing (what the consumers converge to); returns the rounds taken. */
  async converge(maxRounds = 4): Promise<number> {
    for (let rounds = 1; rounds <= maxRounds; rounds++) {
      await this.round();
      if (JSON.stringify(await this.peek()) === JSON.stringify(this.owned())) return rounds;
    }
    throw new Error(`no convergence within ${maxRounds} rounds: ${JSON.stringify(this.history.slice(-3))}`);
  }

  /** The assignment the next round would produce, without adopting it. */
  async peek(): Promise<Record<string, Assignment>> {
    const members = [...this.state].map(([memberId, s]) => ({
      memberId,
      memberMetadata: this.assigner.protocol({ topics: s.topics, ownedPartitions: s.owned, generationId: s.generation }).metadata,
    }));
    return assignDecoded(this.assigner, members, [...new Set([...this.state.values()].flatMap((s) => s.topics))]);
  }

  allSubscribedEverything(): boolean {
    const topics = Object.keys(this.partitions);
    return [...this.state.values()].every((s) => topics.every((t) => s.topics.includes(t)));
  }
}

function checkBalanced(result: Record<string, Assignment>): void {
  const sizes = Object.values(result).map(size);
  expect(Math.max(...sizes) - Math.min(...sizes), JSON.stringify(result)).toBeLessThanOrEqual(1);
}

/** Kafka's balance criterion with unequal subscriptions: no partition could go to an eligible member holding two fewer. */
function checkKafkaBalanced(result: Record<string, Assignment>, subscriptions: Record<string, string[]>): void {
  for (const [holder, assignment] of Object.entries(result)) {
    for (const topic of Object.keys(assignment)) {
      for (const other of Object.keys(result)) {
        if (other !== holder && subscriptions[other]!.includes(topic)) {
          expect(size(result[other]) + 1 < size(assignment), `${topic} could move from ${holder} to ${other}: ${JSON.stringify(result)}`).toBe(false);
        }
      }
    }
  }
}

describe('ownedPartitionsUserData', () => {
  it("is Kafka's StickyAssignor user data v1: topic partitions, then the generation", () => {
    const bytes = ownedPartitionsUserData({ t: [2, 0, 2], empty: [] }, 5);
    expect(bytes.toString('hex')).toBe(['00000001', '0001', '74', '00000002', '00000000', '00000002', '00000005'].join(''));
    expect(decodeOwnedPartitionsUserData(bytes)).toEqual({ owned: { t: [0, 2] }, generation: 5 });
  });

  it('decodes empty, null and generation-less (v0) user data', () => {
    expect(decodeOwnedPartitionsUserData(Buffer.alloc(0))).toEqual({ owned: {}, generation: -1 });
    expect(decodeOwnedPartitionsUserData(null)).toEqual({ owned: {}, generation: -1 });
    const v0 = Buffer.from(['00000001', '0001', '74', '00000001', '00000003'].join(''), 'hex');
    expect(decodeOwnedPartitionsUserData(v0)).toEqual({ owned: { t: [3] }, generation: -1 });
    expect(() => decodeOwnedPartitionsUserData(Buffer.from('000000020001', 'hex'))).toThrow(ProtocolDecodeError);
  });

  it('round-trips random owned partitions', () => {
    const rand = prng(5);
    for (let i = 0; i < 200; i++) {
      const owned: Assignment = {};
      for (let t = rand.int(5); t > 0; t--)
        owned[`t${rand.int(10)}`] = [...new Set(Array.from({ length: 1 + rand.int(5) }, () => rand.int(100)))].sort((a, b) => a - b);
      const generation = rand.int(1000) - 1;
      expect(decodeOwnedPartitionsUserData(ownedPartitionsUserData(owned, generation))).toEqual({ owned, generation });
    }
  });

  it('travels in the metadata that cooperativeSticky.protocol builds, readable by KafkaJS', () => {
    const assigner = PartitionAssigners.cooperativeSticky({ cluster: clusterOf({ t: 4 }) });
    expect(assigner.name).toBe('cooperative-sticky');
    const { name, metadata } = assigner.protocol({ topics: ['t'], ownedPartitions: { t: [1, 3] }, generationId: 7 });
    expect(name).toBe('cooperative-sticky');
    const decoded = kafkajs.AssignerProtocol.MemberMetadata.decode(metadata)!;
    expect(decoded.topics).toEqual(['t']);
    expect(decodeOwnedPartitionsUserData(decoded.userData)).toEqual({ owned: { t: [1, 3] }, generation: 7 });
    // KafkaJS's consumer calls protocol({ topics }) only.
    const bare = AssignerProtocol.MemberMetadata.decode(assigner.protocol({ topics: ['t'] }).metadata)!;
    expect(decodeOwnedPartitionsUserData(bare.userData)).toEqual({ owned: {}, generation: -1 });
  });
});

describe('PartitionAssigners.cooperativeSticky', () => {
  it("matches the StickyAssignor example of Kafka's docs: initial assignment, then a member leaves", async () => {
    const partitions = { t0: 2, t1: 2, t2: 2, t3: 2 };
    const group = new Group(partitions);
    for (const id of ['C0', 'C1', 'C2']) group.join(id, Object.keys(partitions));
    expect(await group.round()).toEqual({
      C0: { t0: [0], t1: [1], t3: [0] },
      C1: { t0: [1], t2: [0], t3: [1] },
      C2: { t1: [0], t2: [1] },
    });
    group.leave('C1');
    // Nobody else owns C1's partitions: they move at once, and nothing else moves.
    expect(await group.round()).toEqual({
      C0: { t0: [0], t1: [1], t2: [0], t3: [0] },
      C2: { t0: [1], t1: [0], t2: [1], t3: [1] },
    });
  });

  it('revokes a moving partition in one round and assigns it in the next', async () => {
    const group = new Group({ t: 6 });
    group.join('C0', ['t']);
    group.join('C1', ['t']);
    expect(await group.round()).toEqual({ C0: { t: [0, 2, 4] }, C1: { t: [1, 3, 5] } });
    group.join('C2', ['t']);
    // Round 1: t/4 and t/5 are revoked from C0 and C1 and given to nobody.
    expect(await group.round()).toEqual({ C0: { t: [0, 2] }, C1: { t: [1, 3] }, C2: {} });
    // Round 2: C2 gets them; C0 and C1 keep theirs.
    expect(await group.round()).toEqual({ C0: { t: [0, 2] }, C1: { t: [1, 3] }, C2: { t: [4, 5] } });
    expect(await group.round()).toEqual({ C0: { t: [0, 2] }, C1: { t: [1, 3] }, C2: { t: [4, 5] } });
  });

  it('leaves members beyond the partition count idle', async () => {
    const group = new Group({ t: 2 });
    for (const id of ['a', 'b', 'c']) group.join(id, ['t']);
    expect(await group.round()).toEqual({ a: { t: [0] }, b: { t: [1] }, c: {} });
  });

  it('resolves conflicting claims by generation, and withholds a partition claimed twice in one generation', async () => {
    const cluster = clusterOf({ t: 2 });
    const assigner = PartitionAssigners.cooperativeSticky({ cluster });
    const meta = (owned: Assignment, generationId: number) => assigner.protocol({ topics: ['t'], ownedPartitions: owned, generationId }).metadata;
    // A stale member (generation 3) still claims t/0, which B got in generation 4: B keeps it.
    let result = await assignDecoded(
      assigner,
      [
        { memberId: 'A', memberMetadata: meta({ t: [0, 1] }, 3) },
        { memberId: 'B', memberMetadata: meta({ t: [0] }, 4) },
      ],
      ['t'],
    );
    expect(result).toEqual({ A: { t: [1] }, B: { t: [0] } });
    // Two claims in the same generation: nobody gets t/0 until both have let go.
    result = await assignDecoded(
      assigner,
      [
        { memberId: 'A', memberMetadata: meta({ t: [0] }, 4) },
        { memberId: 'B', memberMetadata: meta({ t: [0] }, 4) },
      ],
      ['t'],
    );
    expect(owners(result).has('t/0')).toBe(false);
  });

  it('ignores owned partitions that no longer exist or whose topic the member dropped', async () => {
    const assigner = PartitionAssigners.cooperativeSticky({ cluster: clusterOf({ a: 2, b: 2 }) });
    const members = [
      {
        memberId: 'm1',
        memberMetadata: assigner.protocol({ topics: ['a'], ownedPartitions: { a: [0, 1, 7], b: [0, 1], gone: [0] }, generationId: 2 }).metadata,
      },
      { memberId: 'm2', memberMetadata: assigner.protocol({ topics: ['a', 'b'], generationId: 2 }).metadata },
    ];
    // m2 takes b, but only once m1 (which still claims it) has revoked it; a stays with m1.
    expect(await assignDecoded(assigner, members, ['a', 'b'])).toEqual({ m1: { a: [0, 1] }, m2: {} });
  });

  it('is deterministic whatever the member order', async () => {
    const rand = prng(31);
    for (let i = 0; i < 50; i++) {
      const { partitions, topics, subscriptions } = randomCase(rand, i % 2 === 0);
      const assigner = PartitionAssigners.cooperativeSticky({ cluster: clusterOf(partitions) });
      const members = membersFor(assigner, subscriptions);
      const a = await assigner.assign({ members, topics });
      const b = await assigner.assign({ members: [...members].reverse(), topics: [...topics].reverse() });
      expect(b).toEqual(a);
    }
  });

  it('converges to a complete assignment balanced within one, and moves only what balance needs when a member joins', async () => {
    const rand = prng(2024);
    for (let i = 0; i < 200; i++) {
      const { partitions, subscriptions } = randomCase(rand, true);
      const group = new Group(partitions);
      for (const [id, topics] of Object.entries(subscriptions)) group.join(id, topics);
      // From scratch nothing is owned, so the first round is final.
      expect(await group.converge()).toBe(1);
      let stable = group.owned();
      checkComplete(stable, partitions, group.subscriptions());
      checkBalanced(stable);

      // One member joins a stable group.
      const total = Object.values(partitions).reduce((a, b) => a + b, 0);
      const before = owners(stable);
      const joiner = `joiner-${i}`;
      group.join(joiner, Object.keys(partitions));
      const memberCount = group.state.size;
      const first = await group.round();
      // Round 1: existing members only lose partitions; the joiner gets only unowned ones (none here).
      for (const [id, assignment] of Object.entries(first)) {
        for (const [topic, ps] of Object.entries(assignment)) for (const p of ps) expect(before.get(tpKey(topic, p))).toEqual(id === joiner ? undefined : [id]);
      }
      const revoked = [...before.keys()].filter((tp) => !owners(first).has(tp));
      const second = await group.round();
      // Round 2: exactly the revoked partitions go to the joiner, which ends with floor(total / members).
      expect(
        Object.entries(second[joiner]!)
          .flatMap(([t, ps]) => ps.map((p) => tpKey(t, p)))
          .sort(),
      ).toEqual(revoked.sort());
      expect(revoked.length).toBe(Math.floor(total / memberCount));
      for (const [tp, who] of owners(second)) if (who[0] !== joiner) expect(before.get(tp)).toEqual(who);
      expect(await group.converge()).toBe(1);
      stable = group.owned();
      checkComplete(stable, partitions, group.subscriptions());
      checkBalanced(stable);

      // A member leaves: its partitions go to the others at once, nothing else moves.
      if (group.state.size > 1) {
        const leaver = rand.pick([...group.state.keys()]);
        const kept = owners(stable);
        group.leave(leaver);
        const after = await group.round();
        for (const [tp, who] of owners(after)) if (kept.get(tp)![0] !== leaver) expect(kept.get(tp)).toEqual(who);
        checkComplete(after, partitions, group.subscriptions());
        checkBalanced(after);
      }
    }
  });

  it('converges with unequal subscriptions and churn, never handing over a partition that is still owned', async () => {
    const rand = prng(77);
    for (let i = 0; i < 150; i++) {
      const { partitions, subscriptions } = randomCase(rand, false);
      const group = new Group(partitions);
      for (const [id, topics] of Object.entries(subscriptions)) group.join(id, topics);
      for (let step = 0; step < 6; step++) {
        await group.converge(6);
        const stable = group.owned();
        checkComplete(stable, partitions, group.subscriptions());
        checkKafkaBalanced(stable, group.subscriptions());
        if (group.allSubscribedEverything()) checkBalanced(stable);
        // Churn: someone joins (random subscription), leaves, or changes subscription.
        const roll = rand.int(3);
        const ids = [...group.state.keys()];
        const topics = Object.keys(partitions);
        if (roll === 0 || ids.length <= 1)
          group.join(
            `new-${i}-${step}`,
            topics.filter(() => rand.chance(0.7)),
          );
        else if (roll === 1) group.leave(rand.pick(ids));
        else {
          const id = rand.pick(ids);
          group.state.get(id)!.topics = topics.filter(() => rand.chance(0.7));
        }
      }
    }
  });
});

describe('types', () => {
  it('accepts assigners written against KafkaJS types, and ours are KafkaJS PartitionAssigners', () => {
    const fromKafkaJS: PartitionAssigner = kafkajs.PartitionAssigners.roundRobin;
    expectTypeOf(PartitionAssigners.range).toExtend<PartitionAssigner>();
    expectTypeOf(PartitionAssigners.cooperativeSticky({ cluster: clusterOf({}) })).toExtend<import('kafkajs').Assigner>();
    expect(typeof fromKafkaJS).toBe('function');
  });
});
