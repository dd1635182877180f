// Consumer groups end to end: ownership of partitions through joins, leaves
// and a member that stops heartbeating; at-least-once with manual commits
// across rebalances; commit fencing; independent groups; offsets across a
// restart; the reset policy; long-poll; the pull API; bad input; and the
// cooperative-sticky assigner. Small heartbeat and session timeouts keep the
// group moves quick; nothing asserts how fast anything is, only lower bounds
// (an expulsion never comes before the session timeout) and generous upper
// bounds that prove a wake-up is not a timer (2 s against a 60 s wait).
import { describe, expect, it } from 'vitest';

import {
  AssignerProtocol,
  Fjord,
  IllegalGenerationError,
  InvalidArgumentError,
  NotConnectedError,
  OffsetOutOfRangeError,
  PartitionAssigners,
  RebalanceInProgressError,
  UnknownMemberIdError,
  type Consumer,
  type ConsumerConfig,
  type GroupCoordinator,
  type Producer,
} from '../src/index.js';
import { fjordFor, track } from './fjord-kit.js';
import { tempDir } from './helpers.js';

// biome-ignore lint/suspicious/noExplicitAny: each KafkaJS event has its own payload shape; tests read the fields they expect
type Event = { id: number; type: string; timestamp: number; payload: any };
type Assignment = Record<string, number[]>;

/** Heartbeats every 50 ms, expelled after 500 ms of silence. */
const FAST = { heartbeatInterval: 50, sessionTimeout: 500, rebalanceTimeout: 2_000 } satisfies Partial<ConsumerConfig>;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Waits (polling every 5 ms) until `condition` holds; fails naming `what` after `ms`. */
async function until(what: string, condition: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

async function createTopic(fjord: Fjord, topic: string, numPartitions: number): Promise<void> {
  const admin = fjord.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions }] });
  await admin.disconnect();
}

async function producerFor(fjord: Fjord): Promise<Producer> {
  const producer = fjord.producer();
  await producer.connect();
  return producer;
}

function decodeAssignment(buffer: Buffer): Assignment {
  return buffer.length === 0 ? {} : (AssignerProtocol.MemberAssignment.decode(buffer)?.assignment ?? {});
}

function recordEvents(consumer: Consumer): Event[] {
  const events: Event[] = [];
  for (const type of Object.values(consumer.events)) consumer.on(type, (event) => events.push(event as Event));
  return events;
}

const ofType = (events: Event[], type: string) => events.filter((e) => e.type === type);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * Watches SyncGroup calls of one group: the leader's plan per generation (as
 * the leader sent it), and the generation of each member's latest completed
 * sync. The wrapper hands back the coordinator's own promise, so timing is
 * unchanged; its bookkeeping runs before the consumer's continuation.
 */
function watchSyncs(coordinator: GroupCoordinator, groupId: string) {
  const plans = new Map<number, Map<string, Assignment>>();
  const lastSync = new Map<string, number>();
  const original = coordinator.syncGroup.bind(coordinator);
  coordinator.syncGroup = (request) => {
    if (request.groupId === groupId && (request.assignments?.length ?? 0) > 0) {
      plans.set(request.generationId, new Map(request.assignments!.map((a) => [a.memberId, decodeAssignment(a.memberAssignment)])));
    }
    const result = original(request);
    if (request.groupId === groupId)
      result.then(
        () => lastSync.set(request.memberId, request.generationId),
        () => undefined,
      );
    return result;
  };
  return { plans, lastSync };
}

/** What the coordinator says a member owns right now (nothing unless the group is Stable). */
function ownedNow(coordinator: GroupCoordinator, groupId: string, memberId: string): Assignment | null {
  const group = coordinator.describeGroup(groupId);
  const member = group.members.find((m) => m.memberId === memberId);
  if (group.state !== 'Stable' || member === undefined) return null;
  return decodeAssignment(member.memberAssignment);
}

describe('exactly one owner per partition', () => {
  it('holds through joins, leaves and a member whose heartbeats stop; partitions move on from the last committed offset', async () => {
    const fjord = fjordFor();
    const TOPIC = 'owners';
    const GROUP = 'owners-group';
    const P = 6;
    await createTopic(fjord, TOPIC, P);
    const coordinator = await fjord.groups();
    const { plans, lastSync } = watchSyncs(coordinator, GROUP);
    const producer = await producerFor(fjord);

    const violations: string[] = [];
    /** Which consumer is inside eachMessage for a partition right now. */
    const active = new Map<number, string>();
    /** Record value → names of the consumers that handled it. */
    const handledBy = new Map<string, string[]>();
    /** First offset each consumer handled on a partition after each of its joins. */
    const starts: { name: string; generationId: number; partition: number; offset: number }[] = [];
    let produced = 0;
    let zombie: { name: string; partition: number; offset: number; value: string } | null = null;

    interface Member {
      name: string;
      consumer: Consumer;
      joins: { memberId: string; generationId: number; assignment: Assignment; at: number }[];
    }

    async function start(name: string, extra: Partial<ConsumerConfig> = {}, hang?: Promise<void>): Promise<Member> {
      const consumer = fjord.consumer({ groupId: GROUP, ...FAST, ...extra });
      const member: Member = { name, consumer, joins: [] };
      /** Per partition: the offset the next message must have (the committed offset after a join, then +1). */
      const next = new Map<number, number>();
      const firstAfterJoin = new Set<number>();
      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        const { memberId, memberAssignment } = (e as Event).payload as { memberId: string; memberAssignment: Assignment };
        const generationId = lastSync.get(memberId)!;
        member.joins.push({ memberId, generationId, assignment: memberAssignment, at: Date.now() });
        const planned = plans.get(generationId)?.get(memberId);
        if (JSON.stringify(planned ?? null) !== JSON.stringify(memberAssignment)) {
          violations.push(`${name} joined generation ${generationId} with ${JSON.stringify(memberAssignment)}, the leader planned ${JSON.stringify(planned)}`);
        }
        next.clear();
        firstAfterJoin.clear();
        for (const p of memberAssignment[TOPIC] ?? []) {
          next.set(p, coordinator.committed(GROUP, TOPIC, p)?.offset ?? 0);
          firstAfterJoin.add(p);
        }
      });
      consumer.on(consumer.events.CRASH, (e) => violations.push(`${name} crashed: ${String((e as Event).payload.error)}`));
      await consumer.connect();
      await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ topic, partition, message }) => {
          const offset = Number(message.offset);
          const value = message.value!.toString();
          const join = member.joins.at(-1);
          const owned = join === undefined ? null : ownedNow(coordinator, GROUP, join.memberId);
          if (owned === null || !(owned[topic] ?? []).includes(partition)) {
            violations.push(`${name} handled ${partition}@${offset} while the coordinator gives it ${JSON.stringify(owned)}`);
          }
          if (next.has(partition) && next.get(partition) !== offset) {
            violations.push(
              `${name} handled ${partition}@${offset}, expected ${next.get(partition)} (the committed offset at its join, then consecutive offsets)`,
            );
          }
          next.set(partition, offset + 1);
          if (firstAfterJoin.delete(partition)) starts.push({ name, generationId: join?.generationId ?? -1, partition, offset });
          if (hang !== undefined && zombie === null) {
            // This member's process stops here: its handler never returns
            // (until the test lets it go) and its heartbeats are 60 s apart.
            zombie = { name, partition, offset, value };
            await hang;
            return;
          }
          const other = active.get(partition);
          if (other !== undefined) violations.push(`${name} handles ${partition}@${offset} while ${other} is still inside eachMessage for it`);
          active.set(partition, name);
          handledBy.set(value, [...(handledBy.get(value) ?? []), name]);
          await new Promise((r) => setImmediate(r));
          active.delete(partition);
        },
      });
      return member;
    }

    /** The latest joins of `members` are one generation, planned for exactly them, and the group is Stable. */
    const stableWith = (members: Member[]) =>
      until(`a stable generation of ${members.map((m) => m.name).join(', ')}`, () => {
        const gens = members.map((m) => m.joins.at(-1)?.generationId);
        const plan = gens[0] === undefined ? undefined : plans.get(gens[0]);
        return (
          gens.every((g) => g !== undefined && g === gens[0]) &&
          plan !== undefined &&
          plan.size === members.length &&
          members.every((m) => plan.has(m.joins.at(-1)!.memberId)) &&
          coordinator.describeGroup(GROUP).state === 'Stable'
        );
      });
    const planOf = (members: Member[]) => {
      const join = members[0]!.joins.at(-1)!;
      return new Map(members.map((m) => [m.name, plans.get(join.generationId)!.get(m.joins.at(-1)!.memberId)![TOPIC] ?? []]));
    };
    const produceRound = async () => {
      const messages = range(P * 5).map((i) => ({ partition: i % P, value: String(produced + i) }));
      produced += messages.length;
      await producer.send({ topic: TOPIC, acks: 1, messages });
    };
    const allHandled = () => until(`all ${produced} records handled`, () => range(produced).every((i) => handledBy.has(String(i))));

    // Three members split six partitions, two each.
    const [a, b, c] = [await start('A'), await start('B'), await start('C')] as [Member, Member, Member];
    await stableWith([a, b, c]);
    expect([...planOf([a, b, c]).values()].map((ps) => ps.length)).toEqual([2, 2, 2]);
    await produceRound();
    await allHandled();

    // Eight members on six partitions: two of them get nothing.
    const extras: Member[] = [];
    for (const name of ['E1', 'E2', 'E3', 'E4', 'E5']) extras.push(await start(name));
    await stableWith([a, b, c, ...extras]);
    const eight = planOf([a, b, c, ...extras]);
    expect([...eight.values()].map((ps) => ps.length).sort()).toEqual([0, 0, 1, 1, 1, 1, 1, 1]);
    for (const m of [a, b, c, ...extras]) expect(m.joins.at(-1)!.assignment).toEqual(eight.get(m.name)!.length === 0 ? {} : { [TOPIC]: eight.get(m.name) });
    await produceRound();
    await allHandled();
    for (const m of extras) await m.consumer.stop();
    await stableWith([a, b, c]);

    // B leaves: its partitions go to A and C, from the offsets B committed on its way out.
    const bPartitions = b.joins.at(-1)!.assignment[TOPIC]!;
    await produceRound();
    await allHandled();
    const bStops = starts.length;
    await b.consumer.stop();
    const committedByB = bPartitions.map((p) => coordinator.committed(GROUP, TOPIC, p)!.offset);
    expect(committedByB).toEqual(bPartitions.map((p) => fjord.openedTopics().get(TOPIC).partition(p).log.logEndOffset));
    await stableWith([a, c]);
    await produceRound();
    await allHandled();
    const afterB = bPartitions.map((p) => starts.slice(bStops).find((s) => s.partition === p)!);
    expect(afterB.map((s) => s.offset)).toEqual(committedByB);
    expect(afterB.every((s) => s.name === 'A' || s.name === 'C')).toBe(true);

    // D stops heartbeating: its heartbeat interval (60 s) is far beyond its
    // session timeout (500 ms), and its handler hangs on its first message,
    // so nothing it does keeps its session. The coordinator expels it after
    // the session timeout; A and C take its partitions from the committed offsets.
    let release!: () => void;
    const hang = new Promise<void>((r) => (release = r));
    const d = await start('D', { heartbeatInterval: 60_000 }, hang);
    await stableWith([a, c, d]);
    const dJoin = d.joins.at(-1)!;
    const dPartitions = dJoin.assignment[TOPIC]!;
    expect(dPartitions).toHaveLength(2);
    const dStarts = starts.length;
    await produceRound();
    await until('D to hang', () => zombie !== null);
    await until('D to be expelled', () => !coordinator.describeGroup(GROUP).members.some((m) => m.memberId === dJoin.memberId));
    expect(Date.now() - dJoin.at).toBeGreaterThanOrEqual(FAST.sessionTimeout - 20);
    await stableWith([a, c]);
    await allHandled();
    const z = zombie as unknown as { partition: number; offset: number; value: string };
    expect(dPartitions).toContain(z.partition);
    // Its hung record was never committed: the new owner handles it again.
    expect(handledBy.get(z.value)!.every((name) => name === 'A' || name === 'C')).toBe(true);
    const movedFromD = starts.slice(dStarts).filter((s) => s.name !== 'D' && dPartitions.includes(s.partition));
    expect(new Set(movedFromD.map((s) => s.partition))).toEqual(new Set(dPartitions));
    expect(movedFromD.find((s) => s.partition === z.partition)!.offset).toBeLessThanOrEqual(z.offset);

    // D's process resumes: it must not touch a partition before it has joined again.
    release();
    await until('D to join again with a new member id', () => d.joins.at(-1)!.memberId !== dJoin.memberId);
    await d.consumer.stop();
    await stableWith([a, c]);
    await produceRound();
    await allHandled();

    expect(violations).toEqual([]);
    for (const [generationId, plan] of plans) {
      if (![a, b, c, d, ...extras].some((m) => m.joins.some((j) => j.generationId === generationId))) continue;
      const owned = [...plan.values()].flatMap((assignment) => assignment[TOPIC] ?? []);
      expect(owned.sort(), `generation ${generationId}`).toEqual(range(P)); // every partition once: union is all, pairwise disjoint
    }
    // Only records in flight at a move were handled twice: none here, as every member committed on its way out (D's hung one aside).
    const twice = [...handledBy].filter(([, names]) => names.length > 1);
    expect(twice).toEqual([]);
  }, 20_000);

  it('a member expelled while its handler hangs, once it comes back, starts from the committed offsets, not from the positions it had', async () => {
    const fjord = fjordFor();
    await createTopic(fjord, 'solo', 1);
    const producer = await producerFor(fjord);
    await producer.send({ topic: 'solo', acks: 1, messages: range(10).map((i) => ({ value: `r${i}` })) });
    const coordinator = await fjord.groups();

    let release!: () => void;
    const hang = new Promise<void>((r) => (release = r));
    const zombie = fjord.consumer({ groupId: 'solo-group', ...FAST, heartbeatInterval: 60_000 });
    const zombieEvents = recordEvents(zombie);
    const byZombie: string[] = [];
    await zombie.connect();
    await zombie.subscribe({ topic: 'solo', fromBeginning: true });
    await zombie.run({
      eachMessage: async ({ message }) => {
        byZombie.push(message.offset);
        if (byZombie.length === 1) await hang;
      },
    });
    await until('the zombie to hang', () => byZombie.length === 1);
    const zombieId = ofType(zombieEvents, zombie.events.GROUP_JOIN)[0]!.payload.memberId as string;

    const live = fjord.consumer({ groupId: 'solo-group', ...FAST });
    const byLive: string[] = [];
    await live.connect();
    await live.subscribe({ topic: 'solo', fromBeginning: true });
    await live.run({ autoCommitThreshold: 1, eachMessage: async ({ message }) => void byLive.push(message.offset) });
    await until('the live member to handle everything', () => byLive.length === 10);
    expect(coordinator.describeGroup('solo-group').members.map((m) => m.memberId)).not.toContain(zombieId);
    await live.stop();
    expect(coordinator.committed('solo-group', 'solo', 0)?.offset).toBe(10);

    release();
    await until('the zombie to join again', () => ofType(zombieEvents, zombie.events.GROUP_JOIN).length === 2);
    await sleep(100);
    await zombie.stop();
    expect(byLive).toEqual(range(10).map(String));
    expect(byZombie).toEqual(['0']); // nothing of what the group committed meanwhile
  });

  it('a member waiting in a rebalance for a slow member does not start another rebalance once it completes', async () => {
    const fjord = fjordFor();
    await createTopic(fjord, 'slow', 2);
    const producer = await producerFor(fjord);
    await producer.send({ topic: 'slow', acks: 1, messages: range(20).map((i) => ({ partition: i % 2, value: `s${i}` })) });
    const config = { groupId: 'slow-group', heartbeatInterval: 50, sessionTimeout: 2_000, rebalanceTimeout: 5_000 };
    const generations = new Set<number>();
    const coordinator = await fjord.groups();
    const { lastSync } = watchSyncs(coordinator, 'slow-group');
    const consumers: Consumer[] = [];
    const start = async (handlerMs: number) => {
      const consumer = fjord.consumer(config);
      consumer.on(consumer.events.GROUP_JOIN, (e) => generations.add(lastSync.get((e as Event).payload.memberId)!));
      await consumer.connect();
      await consumer.subscribe({ topic: 'slow', fromBeginning: true });
      await consumer.run({ eachMessage: () => sleep(handlerMs) });
      consumers.push(consumer);
    };
    await start(30);
    await start(300);
    await until(
      'two members',
      () => coordinator.describeGroup('slow-group').members.length === 2 && coordinator.describeGroup('slow-group').state === 'Stable',
    );
    await sleep(200);
    const before = new Set(generations);
    await start(0); // the third member joins while one member is busy for 300 ms per record: the other waits for it in the rebalance
    await sleep(1_200);
    const after = [...generations].filter((g) => !before.has(g));
    expect(after).toHaveLength(1); // one rebalance for one join
  });
});

describe('at-least-once with manual commits', () => {
  it('loses no record across joins and leaves while producing; duplicates are only records processed but not committed at a rebalance', async () => {
    const fjord = fjordFor();
    const TOPIC = 'ledger';
    const GROUP = 'ledger-group';
    await createTopic(fjord, TOPIC, 4);
    const producer = await producerFor(fjord);
    const N = 600;
    const counts = new Map<string, number>();
    /** Processed, commit not (yet) succeeded. */
    const uncommitted = new Set<string>();
    /** Everything that was in `uncommitted` when some member began to rebalance or joined. */
    const uncommittedAtRebalance = new Set<string>();
    const snapshot = () => {
      for (const id of uncommitted) uncommittedAtRebalance.add(id);
    };
    let joins = 0;

    const start = async (): Promise<Consumer> => {
      const consumer = fjord.consumer({ groupId: GROUP, ...FAST });
      consumer.on(consumer.events.REBALANCING, snapshot);
      consumer.on(consumer.events.GROUP_JOIN, () => {
        joins++;
        snapshot();
      });
      await consumer.connect();
      await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ topic, partition, message }) => {
          const id = message.value!.toString();
          counts.set(id, (counts.get(id) ?? 0) + 1);
          uncommitted.add(id);
          await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
          uncommitted.delete(id);
        },
      });
      return consumer;
    };

    const members: Consumer[] = [await start()];
    const schedule = new Map<number, () => Promise<unknown>>([
      [60, async () => members.push(await start())],
      [150, async () => members.push(await start())],
      [240, () => members[0]!.stop()],
      [330, async () => members.push(await start())],
      [420, () => members[1]!.stop()],
      [500, () => members[2]!.stop()],
    ]);
    for (let i = 0; i < N; i++) {
      await producer.send({ topic: TOPIC, acks: 1, messages: [{ partition: i % 4, value: String(i) }] });
      await schedule.get(i)?.();
      if (i % 10 === 0) await sleep(1);
    }
    await until('every record to be processed', () => counts.size === N, 10_000);
    snapshot();
    for (const m of members) await m.stop();

    expect([...counts.keys()].map(Number).sort((x, y) => x - y)).toEqual(range(N));
    const duplicates = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
    expect(duplicates.filter((id) => !uncommittedAtRebalance.has(id))).toEqual([]);
    expect(joins).toBeGreaterThanOrEqual(6);
    const admin = fjord.admin();
    await admin.connect();
    expect((await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] }))[0]!.partitions.map((p) => [p.offset, p.lag])).toEqual([
      ['150', '0'],
      ['150', '0'],
      ['150', '0'],
      ['150', '0'],
    ]);
  }, 20_000);
});

describe('commit fencing', () => {
  it('rejects a commit from a stale generation (IllegalGenerationError) or an unknown member (UnknownMemberIdError), and the offset does not move', async () => {
    const fjord = fjordFor();
    await createTopic(fjord, 'fenced', 2);
    const coordinator = await fjord.groups();
    const a = fjord.consumer({ groupId: 'fenced-group', ...FAST });
    const events = recordEvents(a);
    await a.connect();
    await a.subscribe({ topic: 'fenced' });
    await a.run({ autoCommit: false, eachMessage: async () => undefined });
    await until('a heartbeat', () => ofType(events, a.events.HEARTBEAT).length > 0);
    const memberId = ofType(events, a.events.GROUP_JOIN)[0]!.payload.memberId as string;
    const old = ofType(events, a.events.HEARTBEAT).at(-1)!.payload.groupGenerationId as number;
    const commit = (generationId: number, member: string, offset: number) =>
      coordinator.commitOffsets({ groupId: 'fenced-group', generationId, memberId: member, offsets: [{ topic: 'fenced', partition: 0, offset }] });

    commit(old, memberId, 1);
    expect(coordinator.committed('fenced-group', 'fenced', 0)?.offset).toBe(1);

    const b = fjord.consumer({ groupId: 'fenced-group', ...FAST });
    await b.connect();
    await b.subscribe({ topic: 'fenced' });
    await b.run({ autoCommit: false, eachMessage: async () => undefined });
    await until(
      'a newer generation',
      () =>
        (ofType(events, a.events.HEARTBEAT).at(-1)!.payload.groupGenerationId as number) > old && coordinator.describeGroup('fenced-group').state === 'Stable',
    );
    const current = ofType(events, a.events.HEARTBEAT).at(-1)!.payload.groupGenerationId as number;

    expect(() => commit(old, memberId, 5)).toThrow(IllegalGenerationError);
    expect(coordinator.committed('fenced-group', 'fenced', 0)?.offset).toBe(1);
    expect(() => commit(current, 'fjord-not-a-member', 5)).toThrow(UnknownMemberIdError);
    expect(coordinator.committed('fenced-group', 'fenced', 0)?.offset).toBe(1);
    commit(current, memberId, 5);
    expect(coordinator.committed('fenced-group', 'fenced', 0)?.offset).toBe(5);
  });

  it('rejects a commit while the group completes a rebalance (RebalanceInProgressError), driving the coordinator through join and sync', async () => {
    const fjord = fjordFor();
    await createTopic(fjord, 'raw', 1);
    const coordinator = await fjord.groups();
    const groupId = 'raw-group';
    const join = (memberId: string) =>
      coordinator.joinGroup({
        groupId,
        memberId,
        sessionTimeoutMs: 10_000,
        rebalanceTimeoutMs: 10_000,
        protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
      });
    const commit = (generationId: number, memberId: string, offset: number) =>
      coordinator.commitOffsets({ groupId, generationId, memberId, offsets: [{ topic: 'raw', partition: 0, offset }] });
    const committed = () => coordinator.committed(groupId, 'raw', 0)?.offset;

    const first = await join('');
    expect(coordinator.describeGroup(groupId).state).toBe('CompletingRebalance');
    expect(() => commit(first.generationId, first.memberId, 1)).toThrow(RebalanceInProgressError);
    expect(committed()).toBeUndefined();
    await coordinator.syncGroup({
      groupId,
      generationId: first.generationId,
      memberId: first.memberId,
      assignments: [{ memberId: first.memberId, memberAssignment: Buffer.alloc(0) }],
    });
    expect(coordinator.describeGroup(groupId).state).toBe('Stable');
    commit(first.generationId, first.memberId, 1);
    expect(committed()).toBe(1);

    // A second member: the group prepares a rebalance (commits of the current generation still count),
    // then completes it once the first member rejoins.
    const secondJoin = join('');
    expect(coordinator.describeGroup(groupId).state).toBe('PreparingRebalance');
    commit(first.generationId, first.memberId, 2);
    expect(committed()).toBe(2);
    const [again, second] = await Promise.all([join(first.memberId), secondJoin]);
    expect(again.generationId).toBe(first.generationId + 1);
    expect(coordinator.describeGroup(groupId).state).toBe('CompletingRebalance');
    expect(() => commit(again.generationId, second.memberId, 3)).toThrow(RebalanceInProgressError);
    expect(() => commit(first.generationId, first.memberId, 3)).toThrow(IllegalGenerationError);
    // A commit without a generation (admin, or a consumer without a group protocol) is only for an empty group.
    expect(() => coordinator.commitOffsets({ groupId, offsets: [{ topic: 'raw', partition: 0, offset: 3 }] })).toThrow(UnknownMemberIdError);
    expect(committed()).toBe(2);

    const leader = again.leaderId === again.memberId ? again : second;
    const other = leader === again ? second : again;
    const syncs = [
      coordinator.syncGroup({ groupId, generationId: other.generationId, memberId: other.memberId }),
      coordinator.syncGroup({ groupId, generationId: leader.generationId, memberId: leader.memberId, assignments: [] }),
    ];
    await Promise.all(syncs);
    commit(second.generationId, second.memberId, 3);
    expect(committed()).toBe(3);

    coordinator.leaveGroup({ groupId, memberId: first.memberId });
    coordinator.leaveGroup({ groupId, memberId: second.memberId });
    expect(coordinator.describeGroup(groupId).state).toBe('Empty');
    coordinator.commitOffsets({ groupId, offsets: [{ topic: 'raw', partition: 0, offset: 4 }] });
    expect(committed()).toBe(4);
  });
});

describe('groups and committed offsets', () => {
  it('several groups read one topic independently, each from its own offsets', async () => {
    const fjord = fjordFor();
    await createTopic(fjord, 'shared', 3);
    const producer = await producerFor(fjord);
    await producer.send({ topic: 'shared', acks: 1, messages: range(30).map((i) => ({ partition: i % 3, value: `v${i}` })) });
    const admin = fjord.admin();
    await admin.connect();
    await admin.setOffsets({
      groupId: 'late',
      topic: 'shared',
      partitions: [
        { partition: 0, offset: '7' },
        { partition: 1, offset: '10' },
      ],
    });

    const seen = new Map<string, string[]>();
    const start = async (groupId: string) => {
      const consumer = fjord.consumer({ groupId, ...FAST });
      await consumer.connect();
      await consumer.subscribe({ topic: 'shared', fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ partition, message }) => void seen.set(groupId, [...(seen.get(groupId) ?? []), `${partition}@${message.offset}`]),
      });
      return consumer;
    };
    const all = [await start('everything'), await start('everything')];
    const late = await start('late');
    await until('both groups', () => seen.get('everything')?.length === 30 && seen.get('late')?.length === 13);
    await producer.send({ topic: 'shared', acks: 1, messages: range(3).map((p) => ({ partition: p, value: `new${p}` })) });
    await until('the new records in both groups', () => seen.get('everything')?.length === 33 && seen.get('late')?.length === 16);
    for (const c of [...all, late]) await c.stop();

    const every = range(3).flatMap((p) => range(11).map((o) => `${p}@${o}`));
    expect([...seen.get('everything')!].sort()).toEqual([...every].sort());
    expect([...seen.get('late')!].sort()).toEqual(['0@7', '0@8', '0@9', '0@10', '1@10', ...range(11).map((o) => `2@${o}`)].sort());
    for (const groupId of ['everything', 'late']) {
      expect((await admin.fetchOffsets({ groupId, topics: ['shared'] }))[0]!.partitions.map((p) => p.offset)).toEqual(['11', '11', '11']);
    }
  });

  it('committed offsets survive a restart: a new member of the group starts at them', async () => {
    const dir = tempDir();
    const first = track(new Fjord({ dir }));
    await createTopic(first, 'durable', 2);
    let producer = await producerFor(first);
    await producer.send({ topic: 'durable', messages: range(10).map((i) => ({ partition: i % 2, value: `old${i}` })) });
    const before = first.consumer({ groupId: 'durable-group', ...FAST });
    let count = 0;
    await before.connect();
    await before.subscribe({ topic: 'durable', fromBeginning: true });
    await before.run({ eachMessage: async () => void count++ });
    await until('ten records', () => count === 10);
    await first.close();

    const second = track(new Fjord({ dir }));
    const admin = second.admin();
    await admin.connect();
    expect((await admin.fetchOffsets({ groupId: 'durable-group', topics: ['durable'] }))[0]!.partitions.map((p) => p.offset)).toEqual(['5', '5']);
    producer = await producerFor(second);
    await producer.send({ topic: 'durable', messages: range(4).map((i) => ({ partition: i % 2, value: `new${i}` })) });
    const after = second.consumer({ groupId: 'durable-group', ...FAST });
    const seen: string[] = [];
    await after.connect();
    await after.subscribe({ topic: 'durable', fromBeginning: true });
    await after.run({ eachMessage: async ({ partition, message }) => void seen.push(`${partition}@${message.offset}=${message.value!.toString()}`) });
    await until('four records', () => seen.length === 4);
    await sleep(50);
    expect(seen.sort()).toEqual(['0@5=new0', '0@6=new2', '1@5=new1', '1@6=new3']);
  });
});

describe('where a member starts: fromBeginning and autoOffsetReset', () => {
  async function setup() {
    const fjord = fjordFor();
    await createTopic(fjord, 'reset', 1);
    const producer = await producerFor(fjord);
    await producer.send({ topic: 'reset', acks: 1, messages: range(10).map((i) => ({ value: `r${i}` })) });
    const admin = fjord.admin();
    await admin.connect();
    return { fjord, producer, admin };
  }

  async function firstOffset(
    fjord: Fjord,
    groupId: string,
    subscription: { fromBeginning?: boolean },
    config: Partial<ConsumerConfig> = {},
    produceAfterJoin?: Producer,
  ) {
    const consumer = fjord.consumer({ groupId, ...FAST, ...config });
    const events = recordEvents(consumer);
    const offsets: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: 'reset', ...subscription });
    await consumer.run({ eachMessage: async ({ message }) => void offsets.push(message.offset) });
    await until('GROUP_JOIN', () => ofType(events, consumer.events.GROUP_JOIN).length === 1);
    if (produceAfterJoin) await produceAfterJoin.send({ topic: 'reset', acks: 1, messages: [{ value: 'late' }] });
    await until(`a record for ${groupId}`, () => offsets.length > 0);
    await consumer.stop();
    return offsets[0];
  }

  it('without a committed offset: fromBeginning true starts at the log start, false at the log end', async () => {
    const { fjord, producer, admin } = await setup();
    expect(await firstOffset(fjord, 'from-start', { fromBeginning: true })).toBe('0');
    await admin.deleteRecords({ topic: 'reset', partitions: [{ partition: 0, offset: '4' }] });
    expect(await firstOffset(fjord, 'from-start-after-retention', { fromBeginning: true })).toBe('4');
    expect(await firstOffset(fjord, 'from-end', { fromBeginning: false }, {}, producer)).toBe('10');
    // A committed offset in the log wins over fromBeginning.
    await admin.setOffsets({ groupId: 'committed', topic: 'reset', partitions: [{ partition: 0, offset: '8' }] });
    expect(await firstOffset(fjord, 'committed', { fromBeginning: true })).toBe('8');
  });

  it('a committed offset below the log start after retention: autoOffsetReset earliest starts at the log start, latest at the end', async () => {
    const { fjord, producer, admin } = await setup();
    for (const groupId of ['old-earliest', 'old-latest']) await admin.setOffsets({ groupId, topic: 'reset', partitions: [{ partition: 0, offset: '2' }] });
    await admin.deleteRecords({ topic: 'reset', partitions: [{ partition: 0, offset: '5' }] });
    expect((await admin.fetchTopicOffsets('reset'))[0]).toEqual({ partition: 0, offset: '10', high: '10', low: '5' });
    expect(await firstOffset(fjord, 'old-earliest', { fromBeginning: false }, { autoOffsetReset: 'earliest' })).toBe('5');
    expect(await firstOffset(fjord, 'old-latest', { fromBeginning: true }, { autoOffsetReset: 'latest' }, producer)).toBe('10');
  });

  it("autoOffsetReset 'none': no usable committed offset is an OffsetOutOfRangeError reported by CRASH (restart false), and the member leaves the group", async () => {
    const { fjord, admin } = await setup();
    await admin.setOffsets({ groupId: 'none-below', topic: 'reset', partitions: [{ partition: 0, offset: '2' }] });
    await admin.deleteRecords({ topic: 'reset', partitions: [{ partition: 0, offset: '5' }] });
    const coordinator = await fjord.groups();
    for (const groupId of ['none-never-committed', 'none-below']) {
      const consumer = fjord.consumer({ groupId, ...FAST, autoOffsetReset: 'none' });
      const crashes: Event[] = [];
      consumer.on(consumer.events.CRASH, (e) => crashes.push(e as Event));
      let handled = 0;
      await consumer.connect();
      await consumer.subscribe({ topic: 'reset', fromBeginning: true });
      await consumer.run({ eachMessage: async () => void handled++ }).catch(() => undefined);
      await until(`CRASH of ${groupId}`, () => crashes.length === 1);
      expect(crashes[0]!.payload).toEqual({ error: expect.any(OffsetOutOfRangeError), groupId, restart: false });
      expect(handled).toBe(0);
      // A consumer that crashed for good is not left holding the partitions.
      await sleep(3 * FAST.heartbeatInterval);
      expect(coordinator.describeGroup(groupId).members).toEqual([]);
    }
  });
});

describe('long-poll', () => {
  it('a member idle at the end of its partition (maxWaitTimeInMs 60000) does not poll, and a new record wakes it at once', async () => {
    const fjord = fjordFor();
    await createTopic(fjord, 'quiet', 1);
    const consumer = fjord.consumer({ groupId: 'quiet-group', ...FAST, maxWaitTimeInMs: 60_000 });
    const events = recordEvents(consumer);
    const arrivals: number[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: 'quiet', fromBeginning: true });
    await consumer.run({ eachMessage: async () => void arrivals.push(Date.now()) });
    await until('a first fetch', () => ofType(events, consumer.events.FETCH).length > 0);
    const fetches = ofType(events, consumer.events.FETCH).length;
    await sleep(300);
    expect(ofType(events, consumer.events.FETCH).length).toBe(fetches); // waiting, not polling
    expect(ofType(events, consumer.events.HEARTBEAT).length).toBeGreaterThan(0);

    const producer = await producerFor(fjord);
    const sent = Date.now();
    await producer.send({ topic: 'quiet', acks: 1, messages: [{ value: 'wake up' }] });
    await until('the record', () => arrivals.length === 1, 2_000);
    expect(arrivals[0]! - sent).toBeLessThan(2_000);
  });
});

describe('the pull API: assign and poll', () => {
  it('returns records in order and advances; waits for an append up to timeoutMs; commits with generation -1', async () => {
    const fjord = fjordFor();
    await createTopic(fjord, 'pull', 2);
    const producer = await producerFor(fjord);
    await producer.send({
      topic: 'pull',
      acks: 1,
      messages: [
        { partition: 0, value: 'a0' },
        { partition: 0, value: 'a1' },
        { partition: 0, value: 'a2' },
        { partition: 1, value: 'b0' },
        { partition: 1, value: 'b1' },
      ],
    });
    const consumer = fjord.consumer({ groupId: 'pull-group', autoOffsetReset: 'earliest' });
    const events = recordEvents(consumer);
    await consumer.connect();
    consumer.assign([{ topic: 'pull', partitions: [0, 1] }]);
    const brief = (records: { topic: string; partition: number; offset: string; value: Buffer | null }[]) =>
      records.map((r) => `${r.topic}/${r.partition}@${r.offset}=${r.value!.toString()}`);

    expect(brief(await consumer.poll({ maxRecords: 2, timeoutMs: 0 }))).toEqual(['pull/0@0=a0', 'pull/0@1=a1']);
    expect(brief(await consumer.poll({ maxRecords: 10 }))).toEqual(['pull/0@2=a2', 'pull/1@0=b0', 'pull/1@1=b1']);
    expect(await consumer.poll({ maxRecords: 10, timeoutMs: 0 })).toEqual([]);

    const empty = Date.now();
    expect(await consumer.poll({ timeoutMs: 100 })).toEqual([]);
    expect(Date.now() - empty).toBeGreaterThanOrEqual(95);

    const waiting = consumer.poll({ maxRecords: 10, timeoutMs: 10_000 });
    const sent = Date.now();
    setTimeout(() => void producer.send({ topic: 'pull', acks: 1, messages: [{ partition: 1, value: 'b2' }] }), 20);
    expect(brief(await waiting)).toEqual(['pull/1@2=b2']);
    expect(Date.now() - sent).toBeLessThan(2_000);

    await consumer.commitOffsets([{ topic: 'pull', partition: 0, offset: '3' }]);
    const coordinator = await fjord.groups();
    expect(coordinator.committed('pull-group', 'pull', 0)?.offset).toBe(3);
    expect(ofType(events, consumer.events.COMMIT_OFFSETS).map((e) => e.payload)).toEqual([
      { groupId: 'pull-group', memberId: '', groupGenerationId: -1, topics: [{ topic: 'pull', partitions: [{ partition: 0, offset: '3' }] }] },
    ]);
    expect(coordinator.describeGroup('pull-group')).toMatchObject({ state: 'Empty', members: [] });

    // Another manual consumer of the group starts at the committed offset.
    await producer.send({ topic: 'pull', acks: 1, messages: [{ partition: 0, value: 'a3' }] });
    const next = fjord.consumer({ groupId: 'pull-group', autoOffsetReset: 'earliest' });
    await next.connect();
    next.assign([{ topic: 'pull', partitions: [0] }]);
    expect(brief(await next.poll({ timeoutMs: 1_000 }))).toEqual(['pull/0@3=a3']);
  });

  it('subscribe and assign do not mix; poll is for assigned consumers', async () => {
    const fjord = fjordFor();
    await createTopic(fjord, 'mix', 1);
    const assigned = fjord.consumer({ groupId: 'mix-a' });
    await assigned.connect();
    assigned.assign([{ topic: 'mix', partitions: [0] }]);
    await expect(assigned.subscribe({ topic: 'mix' })).rejects.toThrow(InvalidArgumentError);

    const subscribed = fjord.consumer({ groupId: 'mix-s' });
    await subscribed.connect();
    await subscribed.subscribe({ topic: 'mix' });
    expect(() => subscribed.assign([{ topic: 'mix', partitions: [0] }])).toThrow(InvalidArgumentError);
    await expect(subscribed.poll()).rejects.toThrow(InvalidArgumentError);
  });
});

describe('bad input', () => {
  it('is refused with typed errors', async () => {
    const fjord = fjordFor();
    await createTopic(fjord, 'input', 1);
    expect(() => fjord.consumer(undefined as unknown as ConsumerConfig)).toThrow(InvalidArgumentError);
    expect(() => fjord.consumer({} as ConsumerConfig)).toThrow(InvalidArgumentError);
    expect(() => fjord.consumer({ groupId: '' })).toThrow(InvalidArgumentError);
    expect(() => fjord.consumer({ groupId: 'g', sessionTimeout: -1 })).toThrow(InvalidArgumentError);
    expect(() => fjord.consumer({ groupId: 'g', autoOffsetReset: 'smallest' as 'earliest' })).toThrow(InvalidArgumentError);

    const consumer = fjord.consumer({ groupId: 'input-group', ...FAST });
    await expect(consumer.subscribe({ topic: 'input' })).rejects.toThrow(NotConnectedError);
    await consumer.connect();
    await expect(consumer.run({ eachMessage: async () => undefined })).rejects.toThrow(InvalidArgumentError); // before subscribe
    await expect(consumer.subscribe({})).rejects.toThrow(InvalidArgumentError);
    await expect(consumer.subscribe({ topics: [] })).rejects.toThrow(InvalidArgumentError);
    await expect(consumer.subscribe({ topics: [42 as unknown as string] })).rejects.toThrow(InvalidArgumentError);
    await consumer.subscribe({ topic: 'input' });
    await expect(consumer.run({})).rejects.toThrow(InvalidArgumentError);
    await expect(consumer.run()).rejects.toThrow(InvalidArgumentError);
    await consumer.run({ eachMessage: async () => undefined });
    await consumer.run({ eachMessage: async () => undefined }); // already running: as KafkaJS, a warning (test/kafkajs-options.test.ts)
    await expect(consumer.subscribe({ topic: 'input' })).rejects.toThrow(InvalidArgumentError); // subscribe after run
    expect(() => consumer.seek({ topic: 'input', partition: 0, offset: '-5' })).toThrow(OffsetOutOfRangeError);
    expect(() => consumer.seek({ topic: 'input', partition: 0, offset: 'soon' })).toThrow(InvalidArgumentError);
    await expect(consumer.commitOffsets({} as unknown as [])).rejects.toThrow(InvalidArgumentError);
  });
});

describe('cooperative-sticky', () => {
  it('a member joining takes only the partitions balance requires; the others keep the rest', async () => {
    const fjord = fjordFor();
    await createTopic(fjord, 'sticky', 6);
    const coordinator = await fjord.groups();
    const { lastSync } = watchSyncs(coordinator, 'sticky-group');
    const latest = new Map<string, { generationId: number; partitions: number[] }>();
    const start = async (name: string) => {
      const consumer = fjord.consumer({ groupId: 'sticky-group', ...FAST, partitionAssigners: [PartitionAssigners.cooperativeSticky] });
      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        const { memberId, memberAssignment } = (e as Event).payload as { memberId: string; memberAssignment: Assignment };
        latest.set(name, { generationId: lastSync.get(memberId)!, partitions: memberAssignment.sticky ?? [] });
      });
      await consumer.connect();
      await consumer.subscribe({ topic: 'sticky' });
      await consumer.run({ eachMessage: async () => undefined });
      return consumer;
    };
    /** Every named member's latest join is one generation whose assignments cover all six partitions. */
    const settled = (names: string[]) =>
      until(`${names.join(', ')} to share all partitions`, () => {
        const joins = names.map((n) => latest.get(n));
        return (
          joins.every((j) => j !== undefined && j.generationId === joins[0]!.generationId) &&
          joins.flatMap((j) => j!.partitions).length === 6 &&
          coordinator.describeGroup('sticky-group').state === 'Stable'
        );
      });

    await start('A');
    await start('B');
    await settled(['A', 'B']);
    const before = { A: latest.get('A')!.partitions, B: latest.get('B')!.partitions };
    expect([before.A.length, before.B.length]).toEqual([3, 3]);

    await start('C');
    await settled(['A', 'B', 'C']);
    const after = { A: latest.get('A')!.partitions, B: latest.get('B')!.partitions, C: latest.get('C')!.partitions };
    expect([after.A.length, after.B.length, after.C.length]).toEqual([2, 2, 2]);
    expect(after.A.every((p) => before.A.includes(p))).toBe(true);
    expect(after.B.every((p) => before.B.includes(p))).toBe(true);
    const moved = range(6).filter((p) => !(before.A.includes(p) ? after.A : after.B).includes(p));
    expect(moved.sort()).toEqual([...after.C].sort());
  });
});

describe('cooperative-sticky during a rebalance', () => {
  it('keeps consuming the partitions that do not move while the group rebalances', async () => {
    const fjord = fjordFor();
    await createTopic(fjord, 'flow', 6);
    const coordinator = await fjord.groups();
    const producer = await producerFor(fjord);
    const GROUP = 'flow-group';
    const assigned = new Map<string, number[]>();
    /** Per member: partitions handled while the group was not Stable. */
    const duringRebalance = new Map<string, number[]>();
    let slowB = false;
    const start = async (name: string, handle: () => Promise<void>) => {
      const consumer = fjord.consumer({ groupId: GROUP, ...FAST, partitionAssigners: [PartitionAssigners.cooperativeSticky] });
      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        const { memberAssignment } = (e as Event).payload as { memberAssignment: Assignment };
        assigned.set(name, memberAssignment.flow ?? []);
      });
      await consumer.connect();
      await consumer.subscribe({ topic: 'flow' });
      await consumer.run({
        eachMessage: async ({ partition }) => {
          if (coordinator.describeGroup(GROUP).state !== 'Stable') duringRebalance.set(name, [...(duringRebalance.get(name) ?? []), partition]);
          await handle();
        },
      });
      return consumer;
    };
    await start('A', async () => undefined);
    // B is slow only while the test wants it: it then holds up the rebalance by finishing its message first.
    await start('B', async () => {
      if (slowB) await new Promise((r) => setTimeout(r, 150));
    });
    await until(
      'A and B to share the partitions',
      () => (assigned.get('A')?.length ?? 0) + (assigned.get('B')?.length ?? 0) === 6 && coordinator.describeGroup(GROUP).state === 'Stable',
    );
    const before = { A: assigned.get('A')!, B: assigned.get('B')! };

    let producing = true;
    const feed = (async () => {
      for (let i = 0; producing; i++) {
        await producer.send({ topic: 'flow', acks: 1, messages: range(6).map((p) => ({ partition: p, value: `v${i}` })) });
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    slowB = true;
    await new Promise((r) => setTimeout(r, 50));
    duringRebalance.clear();
    await start('C', async () => undefined);
    await until(
      'A, B and C to share the partitions',
      () => ['A', 'B', 'C'].every((n) => (assigned.get(n)?.length ?? 0) === 2) && coordinator.describeGroup(GROUP).state === 'Stable',
    );
    producing = false;
    await feed;
    const keptByA = assigned.get('A')!.filter((p) => before.A.includes(p));
    expect(keptByA).toHaveLength(2);
    // A went on with partitions it kept while B held the rebalance up; eager members would have stopped.
    const handledByA = duringRebalance.get('A') ?? [];
    expect(handledByA.length).toBeGreaterThan(0);
    expect(handledByA.every((p) => before.A.includes(p))).toBe(true);
  });
});

describe('partitionsConsumedConcurrently', () => {
  it('handles up to that many partitions at once, each partition still in order', async () => {
    const fjord = fjordFor();
    await createTopic(fjord, 'parallel', 3);
    const producer = await producerFor(fjord);
    await producer.send({ topic: 'parallel', messages: range(30).map((i) => ({ partition: i % 3, value: String(i) })) });
    const consumer = fjord.consumer({ groupId: 'parallel-group', ...FAST });
    await consumer.connect();
    await consumer.subscribe({ topic: 'parallel', fromBeginning: true });
    let inFlight = 0;
    let most = 0;
    const seen = new Map<number, number[]>();
    let handled = 0;
    await consumer.run({
      partitionsConsumedConcurrently: 3,
      eachMessage: async ({ partition, message }) => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        seen.set(partition, [...(seen.get(partition) ?? []), Number(message.offset)]);
        inFlight--;
        handled++;
      },
    });
    await until('all 30 records', () => handled === 30);
    expect(most).toBe(3);
    for (const p of range(3)) expect(seen.get(p)).toEqual(range(10));
    await consumer.disconnect();
    const bad = fjord.consumer({ groupId: 'parallel-bad', ...FAST });
    await bad.connect();
    await bad.subscribe({ topic: 'parallel' });
    await expect(bad.run({ partitionsConsumedConcurrently: 0, eachMessage: async () => undefined })).rejects.toThrow(InvalidArgumentError);
  });
});
