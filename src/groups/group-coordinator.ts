// The group coordinator: Kafka's classic group protocol (join, sync,
// heartbeat, leave, generations, member ids, session and rebalance timeouts;
// the leader member computes the assignment) and commit fencing. Requests and
// results keep the protocol's shapes so a Kafka-protocol front can serve them.
import { describeValue } from '../arguments.js';
import {
  GroupIdNotFoundError,
  IllegalGenerationError,
  InconsistentGroupProtocolError,
  InvalidArgumentError,
  NonEmptyGroupError,
  RebalanceInProgressError,
  UnknownMemberIdError,
} from '../errors.js';
import { ClassicGroup, type GroupProtocol, type GroupState, type JoinGroupResult, type Member } from './classic-group.js';
import type { Logger } from '../logger.js';
import type { CommittedOffset, OffsetCommit, OffsetStore } from './offset-store.js';

export interface JoinGroupRequest {
  groupId: string;
  /** Empty on the first join: the coordinator assigns one. */
  memberId: string;
  groupInstanceId?: string | null;
  clientId?: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType?: string;
  protocols: GroupProtocol[];
}

export interface GroupDescription {
  groupId: string;
  state: GroupState;
  protocolType: string;
  protocol: string;
  errorCode: number;
  members: { memberId: string; clientId: string; clientHost: string; memberMetadata: Buffer; memberAssignment: Buffer }[];
}

export interface CoordinatorOptions {
  clock: () => number;
  /** Kafka's `group.initial.rebalance.delay.ms`: how long a new group waits for more members (Fjord default 0). */
  initialRebalanceDelayMs: number;
  /** Where a state listener's failure is reported. */
  logger?: Logger;
}

function checkGroupId(groupId: unknown): string {
  if (typeof groupId !== 'string' || groupId.length === 0) throw new InvalidArgumentError(`groupId must be a non-empty string, got ${describeValue(groupId)}`);
  return groupId;
}

export class GroupCoordinator {
  readonly #groups = new Map<string, ClassicGroup>();
  /** Groups whose initial-delay timer is running. */
  readonly #delaying = new Set<ClassicGroup>();
  /** Called after every state change (consumers use them to notice rebalances without polling). */
  readonly listeners = new Set<(groupId: string) => void>();

  constructor(
    readonly offsets: OffsetStore,
    private readonly options: CoordinatorOptions,
  ) {}

  #group(groupId: string): ClassicGroup | undefined {
    const group = this.#groups.get(checkGroupId(groupId));
    return group?.state === 'Dead' ? undefined : group;
  }

  #member(groupId: string, memberId: string): { group: ClassicGroup; member: Member } {
    const group = this.#group(groupId);
    const member = group?.members.get(memberId);
    if (group === undefined || member === undefined) throw new UnknownMemberIdError(`member ${JSON.stringify(memberId)} is not in group ${groupId}`);
    return { group, member };
  }

  joinGroup(request: JoinGroupRequest): Promise<JoinGroupResult> {
    const groupId = checkGroupId(request.groupId);
    if (!Array.isArray(request.protocols) || request.protocols.length === 0)
      throw new InvalidArgumentError('joinGroup: protocols must name at least one assigner');
    let group = this.#group(groupId);
    if (group === undefined) {
      group = new ClassicGroup(groupId);
      this.#groups.set(groupId, group);
    }
    const protocolType = request.protocolType ?? 'consumer';
    if (group.members.size > 0 && group.protocolType !== protocolType) {
      throw new InconsistentGroupProtocolError(`group ${groupId} uses protocol type ${group.protocolType}, not ${protocolType}`);
    }
    if (group.members.size > 0 && !request.protocols.some((p) => [...group.members.values()].every((m) => m.protocols.some((q) => q.name === p.name)))) {
      throw new InconsistentGroupProtocolError(`group ${groupId}: none of ${request.protocols.map((p) => p.name).join(', ')} is supported by every member`);
    }
    group.protocolType = protocolType;
    let member: Member | undefined;
    if (request.memberId === '' || request.memberId === undefined) {
      member = {
        memberId: group.newMemberId(request.clientId ?? 'fjord'),
        groupInstanceId: request.groupInstanceId ?? null,
        clientId: request.clientId ?? 'fjord',
        sessionTimeoutMs: request.sessionTimeoutMs,
        rebalanceTimeoutMs: request.rebalanceTimeoutMs,
        protocols: request.protocols,
        assignment: Buffer.alloc(0),
        awaitingJoin: null,
        awaitingSync: null,
        sessionTimer: null,
      };
      group.members.set(member.memberId, member);
    } else {
      member = group.members.get(request.memberId);
      if (member === undefined)
        throw new UnknownMemberIdError(`member ${JSON.stringify(request.memberId)} is not in group ${groupId}: join again without a member id`);
      member.protocols = request.protocols;
      member.sessionTimeoutMs = request.sessionTimeoutMs;
      member.rebalanceTimeoutMs = request.rebalanceTimeoutMs;
    }
    const joined = member;
    const result = new Promise<JoinGroupResult>((resolve, reject) => {
      joined.awaitingJoin?.reject(new RebalanceInProgressError(`member ${joined.memberId} joined again`));
      joined.awaitingJoin = { resolve, reject };
    });
    this.#touchSession(group, joined);
    if (group.state !== 'PreparingRebalance') this.#prepareRebalance(group);
    this.#maybeCompleteJoin(group);
    return result;
  }

  syncGroup(request: {
    groupId: string;
    generationId: number;
    memberId: string;
    assignments?: { memberId: string; memberAssignment: Buffer }[];
  }): Promise<Buffer> {
    const { group, member } = this.#member(request.groupId, request.memberId);
    if (request.generationId !== group.generationId) {
      throw new IllegalGenerationError(`sync for generation ${request.generationId}, group ${group.groupId} is at ${group.generationId}`);
    }
    this.#touchSession(group, member);
    if (group.state === 'PreparingRebalance') throw new RebalanceInProgressError(`group ${group.groupId} is rebalancing: join again`);
    if (group.state === 'Stable') return Promise.resolve(member.assignment);
    const result = new Promise<Buffer>((resolve, reject) => (member.awaitingSync = { resolve, reject }));
    if (member.memberId === group.leaderId) {
      const byMember = new Map((request.assignments ?? []).map((a) => [a.memberId, a.memberAssignment]));
      for (const m of group.members.values()) m.assignment = byMember.get(m.memberId) ?? Buffer.alloc(0);
      group.state = 'Stable';
      for (const m of group.members.values()) {
        m.awaitingSync?.resolve(m.assignment);
        m.awaitingSync = null;
      }
      this.#changed(group);
    }
    return result;
  }

  /** Keeps a member alive; `RebalanceInProgressError` tells it to rejoin. */
  heartbeat(request: { groupId: string; generationId: number; memberId: string }): void {
    const { group, member } = this.#member(request.groupId, request.memberId);
    this.#touchSession(group, member);
    if (request.generationId !== group.generationId) {
      throw new IllegalGenerationError(`heartbeat for generation ${request.generationId}, group ${group.groupId} is at ${group.generationId}`);
    }
    if (group.state === 'PreparingRebalance') throw new RebalanceInProgressError(`group ${group.groupId} is rebalancing: join again`);
  }

  leaveGroup(request: { groupId: string; memberId: string }): void {
    const { group, member } = this.#member(request.groupId, request.memberId);
    this.#remove(group, member, new UnknownMemberIdError(`member ${member.memberId} left group ${group.groupId}`));
  }

  /**
   * Stores offsets. A group member must send its generation: a stale one is
   * `IllegalGenerationError`, an unknown member `UnknownMemberIdError`, and a
   * commit while the group waits for its assignment `RebalanceInProgressError`.
   * Generation -1 without a member commits for an empty group (admin, or a
   * consumer without a group protocol); for a group with members it is
   * `UnknownMemberIdError`, as in Kafka.
   */
  commitOffsets(request: { groupId: string; generationId?: number; memberId?: string; offsets: OffsetCommit[] }): void {
    const groupId = checkGroupId(request.groupId);
    const generationId = request.generationId ?? -1;
    const group = this.#group(groupId);
    if (generationId < 0 && (request.memberId ?? '') === '') {
      if (group !== undefined && group.members.size > 0) {
        // Kafka: "when the group is non-empty, only members can commit offsets" (UNKNOWN_MEMBER_ID).
        throw new UnknownMemberIdError(`group ${groupId} has members (generation ${group.generationId}): commit as one of them`);
      }
    } else {
      if (group === undefined) throw new IllegalGenerationError(`group ${groupId} has no generation ${generationId}`);
      const member = group.members.get(request.memberId ?? '');
      if (member === undefined) throw new UnknownMemberIdError(`member ${JSON.stringify(request.memberId)} is not in group ${groupId}`);
      if (generationId !== group.generationId) {
        throw new IllegalGenerationError(`commit from generation ${generationId}; group ${groupId} is at generation ${group.generationId}`);
      }
      if (group.state === 'CompletingRebalance') throw new RebalanceInProgressError(`group ${groupId} is completing a rebalance: commit after it`);
    }
    this.offsets.commit(groupId, request.offsets, this.options.clock());
  }

  committed(groupId: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.offsets.fetch(checkGroupId(groupId), topic, partition);
  }

  describeGroup(groupId: string): GroupDescription {
    const group = this.#group(groupId);
    if (group === undefined) {
      const known = this.offsets.groups().includes(checkGroupId(groupId));
      return { groupId, state: known ? 'Empty' : 'Dead', protocolType: known ? 'consumer' : '', protocol: '', errorCode: 0, members: [] };
    }
    return {
      groupId,
      state: group.state,
      protocolType: group.protocolType,
      protocol: group.protocolName ?? '',
      errorCode: 0,
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        clientId: m.clientId,
        clientHost: 'localhost',
        memberMetadata: m.protocols.find((p) => p.name === group.protocolName)?.metadata ?? Buffer.alloc(0),
        memberAssignment: m.assignment,
      })),
    };
  }

  listGroups(): { groupId: string; protocolType: string }[] {
    const ids = new Set([...this.#groups.values()].filter((g) => g.state !== 'Dead').map((g) => g.groupId));
    for (const id of this.offsets.groups()) ids.add(id);
    return [...ids].sort().map((groupId) => ({ groupId, protocolType: 'consumer' }));
  }

  /** Deletes groups without members, with their committed offsets. */
  deleteGroups(groupIds: string[]): { groupId: string; errorCode: number }[] {
    for (const id of groupIds) {
      const group = this.#group(id);
      if (group !== undefined && group.members.size > 0) throw new NonEmptyGroupError(`group ${id} has ${group.members.size} members`);
      if (group === undefined && !this.offsets.groups().includes(id)) throw new GroupIdNotFoundError(`group ${id} does not exist`);
    }
    return groupIds.map((groupId) => {
      const group = this.#group(groupId);
      if (group !== undefined) group.state = 'Dead';
      this.#groups.delete(groupId);
      this.offsets.deleteGroup(groupId, this.options.clock());
      return { groupId, errorCode: 0 };
    });
  }

  close(): void {
    for (const group of this.#groups.values()) {
      if (group.rebalanceTimer !== null) clearTimeout(group.rebalanceTimer);
      for (const m of group.members.values()) {
        if (m.sessionTimer !== null) clearTimeout(m.sessionTimer);
        m.awaitingJoin?.reject(new UnknownMemberIdError('the coordinator closed'));
        m.awaitingSync?.reject(new UnknownMemberIdError('the coordinator closed'));
      }
      group.state = 'Dead';
    }
    this.#groups.clear();
  }

  /** Tells the listeners; one that throws neither stops the others nor reaches the coordinator's timers. */
  #changed(group: ClassicGroup): void {
    for (const listener of this.listeners) {
      try {
        listener(group.groupId);
      } catch (error) {
        // The group's state change stands.
        this.options.logger?.error(`Caught error in a listener of group ${group.groupId}: ${error instanceof Error ? error.message : String(error)}`, {
          error,
        });
      }
    }
  }

  #prepareRebalance(group: ClassicGroup): void {
    for (const m of group.members.values()) {
      m.awaitingSync?.reject(new RebalanceInProgressError(`group ${group.groupId} is rebalancing: join again`));
      m.awaitingSync = null;
    }
    const wasEmpty = group.state === 'Empty';
    group.state = 'PreparingRebalance';
    if (group.rebalanceTimer !== null) clearTimeout(group.rebalanceTimer);
    if (wasEmpty && this.options.initialRebalanceDelayMs > 0) {
      this.#delaying.add(group);
      group.rebalanceTimer = setTimeout(() => {
        this.#delaying.delete(group);
        group.rebalanceTimer = null;
        this.#maybeCompleteJoin(group);
      }, this.options.initialRebalanceDelayMs);
    } else {
      // Members that do not rejoin within the rebalance timeout are dropped.
      group.rebalanceTimer = setTimeout(() => this.#completeJoin(group, true), group.maxRebalanceTimeoutMs());
    }
    group.rebalanceTimer.unref();
    this.#changed(group);
  }

  #maybeCompleteJoin(group: ClassicGroup): void {
    if (group.state === 'PreparingRebalance' && !this.#delaying.has(group) && group.allJoined()) this.#completeJoin(group, false);
  }

  #completeJoin(group: ClassicGroup, deadline: boolean): void {
    if (group.state !== 'PreparingRebalance') return;
    if (group.rebalanceTimer !== null) clearTimeout(group.rebalanceTimer);
    group.rebalanceTimer = null;
    if (deadline) {
      for (const m of [...group.members.values()]) {
        if (m.awaitingJoin === null) this.#drop(group, m, new RebalanceInProgressError(`member ${m.memberId} did not rejoin within the rebalance timeout`));
      }
    }
    if (group.members.size === 0) {
      group.state = 'Empty';
      group.generationId++;
      group.leaderId = null;
      this.#changed(group);
      return;
    }
    const protocol = group.selectProtocol();
    if (protocol === null) {
      for (const m of [...group.members.values()])
        this.#drop(group, m, new InconsistentGroupProtocolError(`group ${group.groupId}: no assigner protocol common to all members`));
      group.state = 'Empty';
      this.#changed(group);
      return;
    }
    group.generationId++;
    group.protocolName = protocol;
    if (group.leaderId === null || !group.members.has(group.leaderId)) group.leaderId = group.members.keys().next().value!;
    group.state = 'CompletingRebalance';
    const members = [...group.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      memberMetadata: m.protocols.find((p) => p.name === protocol)!.metadata,
    }));
    for (const m of group.members.values()) {
      const waiter = m.awaitingJoin;
      m.awaitingJoin = null;
      this.#touchSession(group, m);
      waiter?.resolve({
        generationId: group.generationId,
        protocolName: protocol,
        leaderId: group.leaderId,
        memberId: m.memberId,
        members: m.memberId === group.leaderId ? members : [],
      });
    }
    this.#changed(group);
  }

  #touchSession(group: ClassicGroup, member: Member): void {
    if (member.sessionTimer !== null) clearTimeout(member.sessionTimer);
    member.sessionTimer = setTimeout(() => {
      member.sessionTimer = null;
      // A member waiting in JoinGroup is kept until the rebalance completes.
      if (member.awaitingJoin !== null) return this.#touchSession(group, member);
      if (group.members.get(member.memberId) === member) {
        this.#remove(
          group,
          member,
          new UnknownMemberIdError(`member ${member.memberId} of group ${group.groupId} missed its session timeout (${member.sessionTimeoutMs} ms)`),
        );
      }
    }, member.sessionTimeoutMs);
    member.sessionTimer.unref();
  }

  /** Takes a member out of the group, without starting a rebalance. */
  #drop(group: ClassicGroup, member: Member, reason: Error): void {
    if (member.sessionTimer !== null) clearTimeout(member.sessionTimer);
    member.sessionTimer = null;
    member.awaitingJoin?.reject(reason);
    member.awaitingSync?.reject(reason);
    member.awaitingJoin = null;
    member.awaitingSync = null;
    group.members.delete(member.memberId);
    if (group.leaderId === member.memberId) group.leaderId = null;
  }

  /** A member leaves (or expires): the others rebalance, or the group is empty. */
  #remove(group: ClassicGroup, member: Member, reason: Error): void {
    this.#drop(group, member, reason);
    if (group.members.size === 0) {
      if (group.rebalanceTimer !== null) clearTimeout(group.rebalanceTimer);
      group.rebalanceTimer = null;
      this.#delaying.delete(group);
      group.state = 'Empty';
      group.generationId++;
      this.#changed(group);
      return;
    }
    if (group.state !== 'PreparingRebalance') this.#prepareRebalance(group);
    this.#maybeCompleteJoin(group);
  }
}
