// A consumer's membership in its group, over Kafka's classic protocol:
// JoinGroup, the leader's assignment, SyncGroup, heartbeats, LeaveGroup, and
// cooperative-sticky's revoke-then-assign rounds. What it is given it hands
// to the positions; what it takes away waits in `revoked` to be committed.
import { IllegalGenerationError, RebalanceInProgressError, UnknownMemberIdError } from '../errors.js';
import { AssignerProtocol } from '../groups/assigner-protocol.js';
import type { PartitionAssigner } from '../groups/assigner-protocol.js';
import type { GroupClient } from '../groups/group-client.js';
import type { Logger } from '../logger.js';
import type { TopicRegistry } from '../topics/topic-registry.js';
import { CONSUMER_EVENTS, type ConsumerOptions, type EmitEvent } from './consumer-config.js';
import { type Owned, partitionKey, type Positions } from './positions.js';
import type { Subscription } from './subscription.js';

export const COOPERATIVE_PROTOCOL = 'cooperative-sticky';

/** Errors after which a member joins again (the group moved on, or forgot it). */
export function isRejoinError(error: unknown): boolean {
  return error instanceof RebalanceInProgressError || error instanceof IllegalGenerationError || error instanceof UnknownMemberIdError;
}

export interface MembershipParts {
  options: ConsumerOptions;
  clientId: string;
  assigners: ReturnType<PartitionAssigner>[];
  coordinator: GroupClient;
  registry: TopicRegistry;
  subscription: Subscription;
  positions: Positions;
  emit: EmitEvent;
  /** Wakes the fetch loop (a rejoin is due). */
  wakeUp: () => void;
  /** The consumer's `ConsumerGroup` logger: joins, leaves and heartbeat failures. */
  logger: Logger;
}

export class Membership {
  memberId = '';
  generationId = -1;
  /** A JoinGroup is due: the fetch loop starts one before it fetches again. */
  rejoin = true;
  /** A cooperative rejoin running while owned partitions go on being consumed. */
  backgroundJoin: Promise<boolean> | null = null;
  /** What ended a background join that failed for good; the fetch loop crashes with it. */
  backgroundError: unknown = null;
  /** Protocol of the last completed join. */
  protocol = '';
  /** Partitions a cooperative rebalance took away; committed before this member rejoins. */
  revoked: Owned[] = [];
  /** Resolves `run()` once the first join completed (KafkaJS's run resolves joined). */
  onJoined: (() => void) | null = null;
  /** A JoinGroup/SyncGroup of this member is in flight. */
  #joining = false;
  #awaitingJoinResponse = false;
  /** Generation of the SyncGroup that gave this member its partitions (cooperative-sticky reports it). */
  #ownedGeneration = -1;
  /** Partition counts of the subscribed topics when this member last joined. */
  #joinedLayout = '';
  #heartbeatTimer: NodeJS.Timeout | null = null;
  readonly #stopListening: () => void;

  constructor(private readonly parts: MembershipParts) {
    this.#stopListening = parts.coordinator.onChange((groupId, state) => {
      // While this member waits for its JoinGroup answer, the rebalance is the one it is joining.
      if (this.#awaitingJoinResponse) return;
      if (groupId === parts.options.groupId && this.memberId !== '' && state === 'PreparingRebalance') {
        this.rejoin = true;
        parts.wakeUp();
      }
    });
  }

  /** Stops listening to the coordinator (the consumer disconnected). */
  close(): void {
    this.#stopListening();
  }

  /** A rejoin is due and none is running: fetching stops so the loop can start it. */
  mustRejoin(): boolean {
    return this.rejoin && this.backgroundJoin === null;
  }

  /** A subscribed topic gained partitions since this member joined: the group must rebalance. */
  layoutChanged(): boolean {
    return this.memberId !== '' && this.parts.subscription.layout(this.parts.registry) !== this.#joinedLayout;
  }

  startHeartbeats(): void {
    this.stopHeartbeats();
    this.#heartbeatTimer = setInterval(() => this.#backgroundHeartbeat(), this.parts.options.heartbeatInterval);
    // Not unref'd: a running consumer keeps its process (or worker) alive, as a KafkaJS one does.
  }

  stopHeartbeats(): void {
    if (this.#heartbeatTimer !== null) clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = null;
  }

  /** A heartbeat of the timer: no caller to hand a failure to, so it is logged (the fetch loop meets the same failure on its next group call). */
  #backgroundHeartbeat(): void {
    this.heartbeat().catch((error: unknown) => {
      this.parts.logger.warn(`Heartbeat failed: ${error instanceof Error ? error.message : String(error)}`, {
        groupId: this.parts.options.groupId,
        memberId: this.memberId,
        error,
      });
    });
  }

  async heartbeat(): Promise<void> {
    // Heartbeats go on during a rebalance: they keep the session alive while a handler finishes.
    if (this.memberId === '') return;
    const { coordinator, options, emit } = this.parts;
    try {
      const generationId = this.generationId;
      const memberId = this.memberId;
      await coordinator.heartbeat({ groupId: options.groupId, generationId, memberId });
      emit(CONSUMER_EVENTS.HEARTBEAT, { groupId: options.groupId, memberId, groupGenerationId: generationId });
    } catch (error) {
      // While this member waits in JoinGroup, the rebalance in progress is the one it is joining: rejoining after it would start another.
      if (this.#joining && error instanceof RebalanceInProgressError) return;
      this.onGroupError(error);
    }
  }

  /** A group call failed: a rejoin error makes the member join again; anything else is thrown on. */
  onGroupError(error: unknown): void {
    if (error instanceof UnknownMemberIdError) this.forget();
    if (isRejoinError(error)) {
      this.rejoin = true;
      this.parts.wakeUp();
      return;
    }
    throw error;
  }

  /** The group no longer has this member: its assignment, and the positions in it, are gone. */
  forget(): void {
    this.memberId = '';
    this.generationId = -1;
    this.parts.positions.clear();
  }

  /** Leaves the group now (a handler outlived max.poll.interval.ms): the others take the partitions. */
  abandon(): void {
    if (this.memberId === '') return;
    this.parts.logger.warn(`A handler ran longer than maxPollInterval (${this.parts.options.maxPollInterval} ms): leaving the group`, {
      groupId: this.parts.options.groupId,
      memberId: this.memberId,
    });
    void this.parts.coordinator.leaveGroup({ groupId: this.parts.options.groupId, memberId: this.memberId }).catch(() => undefined); // already gone
    this.forget();
    this.rejoin = true;
  }

  /** Stops heartbeats and leaves the group (after the fetch loop ended). */
  async leave(): Promise<void> {
    this.stopHeartbeats();
    const memberId = this.memberId;
    this.forget();
    this.parts.positions.clearSeeks();
    if (memberId !== '') {
      const groupId = this.parts.options.groupId;
      // Already expired or removed: nothing to leave.
      await this.parts.coordinator.leaveGroup({ groupId, memberId }).catch(() => undefined);
      this.parts.logger.info('Consumer has left the group', { groupId, memberId });
    }
  }

  /** Starts the due rejoin: in the background for a cooperative member that keeps partitions, else awaited; false when it must be tried again. */
  async startRejoin(): Promise<boolean> {
    if (this.protocol === COOPERATIVE_PROTOCOL && this.parts.positions.size > 0) {
      // Cooperative: partitions that do not move keep being consumed during the rebalance.
      // Nobody awaits it but the fetch loop, later: a failure is kept for the loop, never left unhandled.
      this.backgroundJoin = this.#joinOnce()
        .catch((error: unknown) => {
          this.backgroundError = error;
          return false;
        })
        .finally(() => {
          this.backgroundJoin = null;
          this.parts.wakeUp();
        });
      return true;
    }
    return this.#joinOnce();
  }

  /** One join; false (after a short pause) when the group moved on meanwhile. */
  async #joinOnce(): Promise<boolean> {
    const joined = await this.#join().catch((error: unknown) => {
      if (!isRejoinError(error)) throw error;
      this.rejoin = true;
      if (error instanceof UnknownMemberIdError) this.forget();
      return false;
    });
    if (!joined) await new Promise((r) => setTimeout(r, 10)); // join again, without spinning
    return joined;
  }

  /** JoinGroup, the leader's assignment, SyncGroup; then positions for the assigned partitions. */
  async #join(): Promise<boolean> {
    this.#joining = true;
    try {
      return await this.#joinAndSync();
    } finally {
      this.#joining = false;
    }
  }

  async #joinAndSync(): Promise<boolean> {
    const { coordinator, registry, options, positions, subscription } = this.parts;
    // A duration: measured on the monotonic clock, not the (possibly fake) wall clock.
    const started = performance.now();
    this.rejoin = false;
    const topics = subscription.topics(registry);
    this.#joinedLayout = subscription.layout(registry);
    const ownedBefore = positions.assignment();
    const protocols = this.parts.assigners.map((a) => a.protocol({ topics, ownedPartitions: ownedBefore, generationId: this.#ownedGeneration }));
    this.#awaitingJoinResponse = true;
    let result: Awaited<ReturnType<GroupClient['joinGroup']>>;
    try {
      result = await coordinator.joinGroup({
        groupId: options.groupId,
        memberId: this.memberId,
        clientId: this.parts.clientId,
        sessionTimeoutMs: options.sessionTimeout,
        rebalanceTimeoutMs: options.rebalanceTimeout,
        protocolType: 'consumer',
        protocols,
      });
    } finally {
      this.#awaitingJoinResponse = false;
    }
    this.memberId = result.memberId;
    this.generationId = result.generationId;
    let assignments: { memberId: string; memberAssignment: Buffer }[] = [];
    if (result.leaderId === result.memberId) {
      const assigner = this.parts.assigners.find((a) => a.name === result.protocolName)!;
      const memberTopics = new Set<string>();
      for (const m of result.members) for (const t of AssignerProtocol.MemberMetadata.decode(m.memberMetadata)?.topics ?? []) memberTopics.add(t);
      assignments = await assigner.assign({
        members: result.members.map((m) => ({ memberId: m.memberId, memberMetadata: m.memberMetadata })),
        topics: [...memberTopics].filter((t) => registry.has(t)),
      });
    }
    const buffer = await coordinator.syncGroup({ groupId: options.groupId, generationId: result.generationId, memberId: result.memberId, assignments });
    if (this.rejoin) return false;
    const assignment = buffer.length > 0 ? (AssignerProtocol.MemberAssignment.decode(buffer)?.assignment ?? {}) : {};
    if (result.protocolName === COOPERATIVE_PROTOCOL) {
      for (const o of positions.owned()) if (!(assignment[o.topic] ?? []).includes(o.partition.id)) this.revoked.push(o);
    }
    positions.assign(registry, assignment, await this.#committedFor(assignment));
    this.protocol = result.protocolName;
    this.#ownedGeneration = result.generationId;
    // Cooperative protocol: a partition taken away was only revoked this round; rejoining
    // lets the next round give it to its new owner.
    const revoked = Object.entries(ownedBefore).some(([topic, ps]) => ps.some((p) => !(assignment[topic] ?? []).includes(p)));
    if (result.protocolName === COOPERATIVE_PROTOCOL && revoked) this.rejoin = true;
    const joined = {
      duration: Math.round(performance.now() - started),
      groupId: options.groupId,
      isLeader: result.leaderId === result.memberId,
      leaderId: result.leaderId,
      groupProtocol: result.protocolName,
      memberId: result.memberId,
      memberAssignment: assignment,
    };
    this.parts.emit(CONSUMER_EVENTS.GROUP_JOIN, joined);
    this.parts.logger.info('Consumer has joined the group', joined);
    this.onJoined?.();
    this.onJoined = null;
    return true;
  }

  /** The group's committed offset of a partition, null without one. */
  async committedOffset(topic: string, partition: number): Promise<number | null> {
    return (await this.parts.coordinator.committed(this.parts.options.groupId, topic, partition))?.offset ?? null;
  }

  /** The group's committed offsets of the partitions in `assignment` that this member does not hold yet. */
  async #committedFor(assignment: Record<string, number[]>): Promise<Map<string, number | null>> {
    const { coordinator, options, positions } = this.parts;
    const out = new Map<string, number | null>();
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const p of partitions) {
        if (positions.get(topic, p) !== undefined) continue;
        out.set(partitionKey(topic, p), (await coordinator.committed(options.groupId, topic, p))?.offset ?? null);
      }
    }
    return out;
  }
}
