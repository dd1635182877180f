// Partition assigners with KafkaJS's `PartitionAssigner` shape and Kafka's
// semantics: range (Kafka's RangeAssignor), round-robin (KafkaJS's
// RoundRobinAssigner, which is Kafka's RoundRobinAssignor when every member
// subscribes to the same topics) and cooperative-sticky (Kafka's
// CooperativeStickyAssignor). The group leader's consumer runs them:
//
//   const assigner = factory({ cluster, groupId, logger })
//   assigner.protocol({ topics })                 -> { name, metadata }
//   await assigner.assign({ members, topics })    -> [{ memberId, memberAssignment }]
//
// All three are deterministic (same members, metadata and partitions give the
// same bytes), give a partition to at most one member, give members only
// partitions of topics they subscribed to, and return an entry for every
// member (an empty assignment for idle ones).

import { Buffer } from 'node:buffer';

import { InvalidArgumentError, ProtocolDecodeError } from '../errors.js';
import {
  AssignerProtocol,
  ProtocolReader,
  ProtocolWriter,
  setOwn,
  type Assigner,
  type AssignerCluster,
  type AssignerConfig,
  type AssignerLogger,
  type AssignerSubscription,
  type Assignment,
  type GroupMember,
  type GroupMemberAssignment,
  type PartitionAssigner,
} from './assigner-protocol.js';

/** The generation of a member that has never been assigned anything (Kafka's DEFAULT_GENERATION). */
export const DEFAULT_GENERATION = -1;

// ---------------------------------------------------------------------------
// Shared helpers

/** Java `String.compareTo` order (UTF-16 code units), which is also JavaScript's default sort order. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

interface DecodedMember {
  memberId: string;
  /** Subscribed topics, restricted to those being assigned. */
  topics: Set<string>;
  userData: Buffer | null;
}

/** Decodes every member's metadata; returns them sorted by member id. */
function decodeMembers(members: readonly GroupMember[], assignable: ReadonlySet<string>): DecodedMember[] {
  if (!Array.isArray(members)) throw new InvalidArgumentError('assign: members must be an array');
  const seen = new Set<string>();
  const out: DecodedMember[] = [];
  for (const member of members) {
    if (member == null || typeof member.memberId !== 'string') throw new InvalidArgumentError('assign: every member needs a string memberId');
    if (seen.has(member.memberId)) throw new InvalidArgumentError(`assign: member ${JSON.stringify(member.memberId)} appears twice`);
    seen.add(member.memberId);
    if (!Buffer.isBuffer(member.memberMetadata)) {
      throw new InvalidArgumentError(`assign: member ${JSON.stringify(member.memberId)} has no memberMetadata buffer`);
    }
    let metadata: ReturnType<typeof AssignerProtocol.MemberMetadata.decode>;
    try {
      metadata = AssignerProtocol.MemberMetadata.decode(member.memberMetadata);
    } catch (error) {
      throw new ProtocolDecodeError(`member ${JSON.stringify(member.memberId)}: undecodable metadata: ${(error as Error).message}`);
    }
    if (metadata == null) throw new ProtocolDecodeError(`member ${JSON.stringify(member.memberId)}: empty metadata`);
    out.push({
      memberId: member.memberId,
      topics: new Set(metadata.topics.filter((t) => assignable.has(t))),
      userData: metadata.userData,
    });
  }
  return out.sort((a, b) => compareStrings(a.memberId, b.memberId));
}

/** Topics (deduplicated, sorted) with their partition ids (deduplicated, ascending). */
function partitionsByTopic(cluster: AssignerCluster, topics: readonly string[]): Map<string, number[]> {
  if (!Array.isArray(topics)) throw new InvalidArgumentError('assign: topics must be an array of topic names');
  const out = new Map<string, number[]>();
  for (const topic of [...new Set(topics)].sort(compareStrings)) {
    const metadata = cluster.findTopicPartitionMetadata(topic) ?? [];
    const ids = [...new Set(metadata.map((m) => m.partitionId))].sort((a, b) => a - b);
    out.set(topic, ids);
  }
  return out;
}

/** Encodes one assignment per member (topics sorted, partitions ascending, empty topics left out). */
function encodeAssignments(members: readonly DecodedMember[], byMember: ReadonlyMap<string, Map<string, number[]>>, version: number): GroupMemberAssignment[] {
  return members.map(({ memberId }) => {
    const assignment: Assignment = {};
    const topics = byMember.get(memberId);
    if (topics) {
      for (const topic of [...topics.keys()].sort(compareStrings)) {
        const partitions = topics.get(topic)!;
        if (partitions.length > 0)
          setOwn(
            assignment,
            topic,
            [...partitions].sort((a, b) => a - b),
          );
      }
    }
    return { memberId, memberAssignment: AssignerProtocol.MemberAssignment.encode({ version, assignment }) };
  });
}

function addPartition(byMember: Map<string, Map<string, number[]>>, memberId: string, topic: string, partition: number): void {
  let topics = byMember.get(memberId);
  if (!topics) byMember.set(memberId, (topics = new Map()));
  let partitions = topics.get(topic);
  if (!partitions) topics.set(topic, (partitions = []));
  partitions.push(partition);
}

function checkConfig(config: AssignerConfig, name: string): AssignerCluster {
  const cluster = config?.cluster;
  if (cluster == null || typeof cluster.findTopicPartitionMetadata !== 'function') {
    throw new InvalidArgumentError(`${name}: the factory needs { cluster } with findTopicPartitionMetadata(topic)`);
  }
  return cluster;
}

type Plan = Map<string, Map<string, number[]>>;

/**
 * An assigner of the eager protocol: subscription metadata without user data,
 * and an assignment computed by `plan` from the partitions of the subscribed
 * topics and the decoded members.
 */
function eagerAssigner(name: string, plan: (partitions: Map<string, number[]>, members: DecodedMember[]) => Plan): PartitionAssigner {
  const version = 0;
  return (config) => {
    const cluster = checkConfig(config, name);
    return {
      name,
      version,
      async assign({ members, topics }) {
        const partitions = partitionsByTopic(cluster, topics);
        const decoded = decodeMembers(members, new Set(partitions.keys()));
        return encodeAssignments(decoded, plan(partitions, decoded), version);
      },
      protocol({ topics }) {
        return { name, metadata: AssignerProtocol.MemberMetadata.encode({ version, topics }) };
      },
    };
  };
}

// ---------------------------------------------------------------------------
// Range

/**
 * Kafka's RangeAssignor: for each topic, the members subscribed to it sorted
 * by member id each get a contiguous range of its partitions; with `n`
 * partitions and `m` members, the first `n % m` members get one extra.
 */
const range = eagerAssigner('RangeAssigner', (partitions, members) => {
  const byMember: Plan = new Map();
  for (const [topic, ids] of partitions) {
    const consumers = members.filter((m) => m.topics.has(topic));
    if (consumers.length === 0) continue;
    const per = Math.floor(ids.length / consumers.length);
    const extra = ids.length % consumers.length;
    consumers.forEach((consumer, i) => {
      const start = per * i + Math.min(i, extra);
      const length = per + (i < extra ? 1 : 0);
      for (const id of ids.slice(start, start + length)) addPartition(byMember, consumer.memberId, topic, id);
    });
  }
  return byMember;
});

// ---------------------------------------------------------------------------
// Round robin

/**
 * KafkaJS's RoundRobinAssigner (Kafka's RoundRobinAssignor): every
 * topic-partition, sorted by topic then partition, dealt in turn to the
 * members sorted by member id; a member not subscribed to a partition's topic
 * is skipped for that partition (KafkaJS itself ignores subscriptions; with
 * equal subscriptions the results are identical).
 */
const roundRobin = eagerAssigner('RoundRobinAssigner', (partitions, members) => {
  const byMember: Plan = new Map();
  let next = 0;
  for (const [topic, ids] of partitions) {
    for (const id of ids) {
      for (let tried = 0; tried < members.length; tried++) {
        const candidate = members[(next + tried) % members.length]!;
        if (candidate.topics.has(topic)) {
          addPartition(byMember, candidate.memberId, topic, id);
          next = (next + tried + 1) % members.length;
          break;
        }
      }
    }
  }
  return byMember;
});

// ---------------------------------------------------------------------------
// Owned-partitions user data (cooperative-sticky)

/** What a cooperative-sticky member reports in its metadata's user data. */
export type OwnedPartitions = {
  /** `{ [topic]: partitions }` the member owns now. */
  owned: Assignment;
  /** The generation in which the member received them; `DEFAULT_GENERATION` (-1) if never assigned. */
  generation: number;
};

function isInt32(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= -0x80000000 && n <= 0x7fffffff;
}

/**
 * Encodes a member's owned partitions and their generation for the
 * cooperative-sticky assigner's user data. The layout is Kafka's
 * StickyAssignor user data v1 (big-endian):
 *
 *   int32 topic count, then per topic (sorted): int16 length + UTF-8 topic,
 *   int32 partition count, int32 partitions (ascending); then int32 generation
 *
 * Topics with no partitions are left out; duplicates are removed.
 */
export function ownedPartitionsUserData(owned: Record<string, number[]>, generation: number): Buffer {
  if (owned == null || typeof owned !== 'object') throw new InvalidArgumentError('ownedPartitionsUserData: owned must be { [topic]: partitions }');
  if (!isInt32(generation) || generation < DEFAULT_GENERATION) {
    throw new InvalidArgumentError(`ownedPartitionsUserData: generation must be an int32 >= -1, got ${String(generation)}`);
  }
  const topics = Object.keys(owned)
    .filter((t) => (owned[t]?.length ?? 0) > 0)
    .sort(compareStrings);
  const w = new ProtocolWriter().int32(topics.length);
  for (const topic of topics) {
    const partitions = owned[topic]!;
    for (const p of partitions) {
      if (!isInt32(p) || p < 0) throw new InvalidArgumentError(`ownedPartitionsUserData: bad partition ${String(p)} of topic ${JSON.stringify(topic)}`);
    }
    const sorted = [...new Set(partitions)].sort((a, b) => a - b);
    w.string(topic).int32(sorted.length);
    for (const p of sorted) w.int32(p);
  }
  return w.int32(generation).toBuffer();
}

/**
 * Decodes `ownedPartitionsUserData`. Empty or null user data means nothing
 * owned, generation -1; user data without the trailing generation (Kafka's
 * StickyAssignor v0 layout) decodes with generation -1. Throws
 * `ProtocolDecodeError` on malformed input.
 */
export function decodeOwnedPartitionsUserData(userData: Uint8Array | null | undefined): OwnedPartitions {
  const owned: Assignment = {};
  if (userData == null || userData.length === 0) return { owned, generation: DEFAULT_GENERATION };
  const r = new ProtocolReader(Buffer.from(userData.buffer, userData.byteOffset, userData.byteLength));
  for (const { topic, partitions } of r.array((d) => ({ topic: d.string(), partitions: d.array((e) => e.int32()) }))) {
    const merged = new Set([...(Object.hasOwn(owned, topic) ? owned[topic]! : []), ...partitions]);
    setOwn(
      owned,
      topic,
      [...merged].sort((a, b) => a - b),
    );
  }
  const generation = r.remaining >= 4 ? r.int32() : DEFAULT_GENERATION;
  return { owned, generation };
}

// ---------------------------------------------------------------------------
// Cooperative sticky

/**
 * Kafka's CooperativeStickyAssignor. Each member's metadata user data carries
 * the partitions it owns and the generation it got them in
 * (`ownedPartitionsUserData`; the consumer passes `ownedPartitions` and
 * `generationId` to `protocol`). The assignment:
 *
 * 1. keeps every member's valid owned partitions: the partition still exists,
 *    the member still subscribes to its topic, and the member is the only
 *    claimant of the highest generation among the members claiming it;
 * 2. gives each unowned partition (fewest eligible members first) to the
 *    eligible member with the fewest partitions (ties by member id);
 * 3. moves partitions from the largest member to the least loaded eligible
 *    member holding at least two fewer (freshly placed partitions first, then
 *    owned ones from the highest) until no such move exists: with equal
 *    subscriptions every member then holds within one of the others, no
 *    member both gives and receives, and only as many owned partitions move
 *    as balance requires;
 * 4. cooperative protocol: a partition that goes to a member that is not its
 *    valid owner while another member claims it is assigned to nobody this
 *    round. Its owner sees it missing from its assignment, revokes it and
 *    rejoins; the next round hands it to its new member.
 */
const cooperativeSticky: PartitionAssigner = (config) => {
  const cluster = checkConfig(config, 'cooperative-sticky');
  const logger: AssignerLogger | undefined = config.logger;
  const name = 'cooperative-sticky';
  const version = 0;
  return {
    name,
    version,
    async assign({ members, topics }) {
      const partitionIds = partitionsByTopic(cluster, topics);
      const decoded = decodeMembers(members, new Set(partitionIds.keys()));
      const byMember = new Map<string, Map<string, number[]>>();
      for (const [memberIndex, topic, partition] of cooperativeStickyAssignment(decoded, partitionIds, logger)) {
        addPartition(byMember, decoded[memberIndex]!.memberId, topic, partition);
      }
      return encodeAssignments(decoded, byMember, version);
    },
    protocol(subscription: AssignerSubscription) {
      const userData = ownedPartitionsUserData(subscription.ownedPartitions ?? {}, subscription.generationId ?? DEFAULT_GENERATION);
      return { name, metadata: AssignerProtocol.MemberMetadata.encode({ version, topics: subscription.topics, userData }) };
    },
  };
};

/** Returns `[memberIndex, topic, partition]` for every partition assigned this round. */
function cooperativeStickyAssignment(
  members: readonly DecodedMember[],
  partitionIds: ReadonlyMap<string, number[]>,
  logger: AssignerLogger | undefined,
): Array<[number, string, number]> {
  // Topic-partitions are numbered in (topic, partition) order.
  const tpTopic: string[] = [];
  const tpPartition: number[] = [];
  const index = new Map<string, Map<number, number>>();
  for (const [topic, ids] of partitionIds) {
    const byId = new Map<number, number>();
    for (const id of ids) {
      byId.set(id, tpTopic.length);
      tpTopic.push(topic);
      tpPartition.push(id);
    }
    index.set(topic, byId);
  }
  const count = tpTopic.length;
  const eligibleByTopic = new Map<string, number[]>();
  for (const topic of partitionIds.keys()) {
    eligibleByTopic.set(
      topic,
      members.flatMap((m, i) => (m.topics.has(topic) ? [i] : [])),
    );
  }

  // Claims from every member's user data.
  const claimants: number[][] = Array.from({ length: count }, () => []);
  const generations = members.map((member, i) => {
    let decoded: OwnedPartitions;
    try {
      decoded = decodeOwnedPartitionsUserData(member.userData);
    } catch (error) {
      logger?.warn('cooperative-sticky: ignoring undecodable user data', { memberId: member.memberId, error: (error as Error).message });
      return DEFAULT_GENERATION;
    }
    for (const topic of Object.keys(decoded.owned)) {
      const byId = index.get(topic);
      if (!byId) continue;
      for (const p of decoded.owned[topic]!) {
        const tp = byId.get(p);
        if (tp !== undefined) claimants[tp]!.push(i);
      }
    }
    return decoded.generation;
  });

  // The valid owner: the only claimant of the highest claimed generation.
  const validOwner = new Int32Array(count).fill(-1);
  for (let tp = 0; tp < count; tp++) {
    const claims = claimants[tp]!;
    if (claims.length === 0) continue;
    const top = Math.max(...claims.map((i) => generations[i]!));
    const winners = claims.filter((i) => generations[i] === top);
    if (winners.length === 1) validOwner[tp] = winners[0]!;
    else
      logger?.warn('cooperative-sticky: several members claim a partition in the same generation', {
        topic: tpTopic[tp],
        partition: tpPartition[tp],
        generation: top,
        memberIds: winners.map((i) => members[i]!.memberId),
      });
  }

  // 1. Keep valid owned partitions.
  const holder = new Int32Array(count).fill(-1);
  const held: Set<number>[] = members.map(() => new Set());
  const unassigned: number[] = [];
  for (let tp = 0; tp < count; tp++) {
    const owner = validOwner[tp]!;
    if (owner >= 0 && members[owner]!.topics.has(tpTopic[tp]!)) {
      holder[tp] = owner;
      held[owner]!.add(tp);
    } else if (eligibleByTopic.get(tpTopic[tp]!)!.length > 0) {
      unassigned.push(tp);
    }
  }

  const leastLoaded = (eligible: readonly number[], except: number): number => {
    let best = -1;
    for (const i of eligible) {
      if (i !== except && (best < 0 || held[i]!.size < held[best]!.size)) best = i; // members are in id order
    }
    return best;
  };
  const give = (tp: number, to: number): void => {
    const from = holder[tp]!;
    if (from >= 0) held[from]!.delete(tp);
    holder[tp] = to;
    held[to]!.add(tp);
  };

  // 2. Place unowned partitions, the most constrained first.
  const eligibleCount = (tp: number): number => eligibleByTopic.get(tpTopic[tp]!)!.length;
  unassigned.sort((a, b) => eligibleCount(a) - eligibleCount(b) || a - b);
  for (const tp of unassigned) give(tp, leastLoaded(eligibleByTopic.get(tpTopic[tp]!)!, -1));

  // 3. Balance: move partitions from the largest member that can give one to
  // an eligible member holding at least two fewer (the least loaded such
  // member), one donor at a time, a donor giving only while it is still a
  // largest member. Every move lowers the sum of squared member sizes, so this
  // ends; with equal subscriptions it always moves from a largest member to a
  // smallest one, so no member both gives and receives.
  const byLoad = (a: number, b: number): number => held[b]!.size - held[a]!.size || a - b;
  const isLargest = (m: number): boolean => held.every((h, i) => i === m || h.size <= held[m]!.size);
  for (;;) {
    let moved = false;
    for (const from of members.map((_, i) => i).sort(byLoad)) {
      if (held[from]!.size < 2) break;
      // Freshly placed partitions first, then owned ones from the end.
      const candidates = [...held[from]!].sort((a, b) => {
        const ownedA = validOwner[a] === from ? 1 : 0;
        const ownedB = validOwner[b] === from ? 1 : 0;
        return ownedA - ownedB || b - a;
      });
      const receiverByTopic = new Map<string, number>();
      for (const tp of candidates) {
        if (moved && !isLargest(from)) break;
        const topic = tpTopic[tp]!;
        let to = receiverByTopic.get(topic);
        if (to === undefined) receiverByTopic.set(topic, (to = leastLoaded(eligibleByTopic.get(topic)!, from)));
        if (to >= 0 && held[to]!.size + 1 < held[from]!.size) {
          give(tp, to);
          moved = true;
          receiverByTopic.clear();
        }
      }
      if (moved) break;
    }
    if (!moved) break;
  }

  // 4. Cooperative: withhold a partition from its new member while another member still owns it.
  const out: Array<[number, string, number]> = [];
  for (let tp = 0; tp < count; tp++) {
    const to = holder[tp]!;
    if (to < 0) continue;
    if (to !== validOwner[tp] && claimants[tp]!.some((i) => i !== to)) continue;
    out.push([to, tpTopic[tp]!, tpPartition[tp]!]);
  }
  return out;
}

/** Partition assigner factories with KafkaJS's `PartitionAssigner` shape. */
export const PartitionAssigners = { range, roundRobin, cooperativeSticky } satisfies Record<string, PartitionAssigner>;

export type { Assigner, PartitionAssigner };
