// KafkaJS's consumer on the embedded store: subscribe and run with
// eachMessage / eachBatch inside a consumer group (or assign and poll without
// one). Keys and values handed to handlers are zero-copy views of the mapped
// segment files.
import {
  IllegalGenerationError,
  InvalidArgumentError,
  NotConnectedError,
  OffsetOutOfRangeError,
  RebalanceInProgressError,
  UnknownMemberIdError,
} from '../errors.js';
import { booleanOption, describeValue, integerOption } from '../arguments.js';
import type { Fjord } from '../fjord.js';
import { Instrumentation } from '../instrumentation.js';
import { AssignerProtocol } from '../groups/assigner-protocol.js';
import type { PartitionAssigner } from '../groups/assigner-protocol.js';
import { PartitionAssigners } from '../groups/assigners.js';
import type { GroupClient } from '../groups/group-client.js';
import { decodeBatches, type DecodedRecord } from '../record-batch/decode.js';
import { decodeMessages, type KafkaMessage } from './kafka-message.js';
import { toOffset, type LogSlice } from '../storage/log.js';
import type { Partition } from '../topics/partition.js';
import type { TopicRegistry } from '../topics/topic-registry.js';
import { validateTopicName } from '../topics/topic-name.js';

export type { KafkaMessage } from './kafka-message.js';

export interface ConsumerConfig {
  groupId: string;
  /** Kafka's `session.timeout.ms` (KafkaJS default 30000). */
  sessionTimeout?: number;
  /** How long the group waits for members to rejoin (KafkaJS default 60000). */
  rebalanceTimeout?: number;
  heartbeatInterval?: number;
  maxBytesPerPartition?: number;
  maxBytes?: number;
  minBytes?: number;
  maxWaitTimeInMs?: number;
  /** Accepted for KafkaJS compatibility: Fjord has no transactions, everything is committed. */
  readUncommitted?: boolean;
  partitionAssigners?: PartitionAssigner[];
  allowAutoTopicCreation?: boolean;
  /** Kafka's `max.poll.interval.ms`: a handler busy longer than this makes the member leave (default 300000). */
  maxPollInterval?: number;
  /** Where to start without a committed offset, or when it fell out of the log: default from `fromBeginning`. */
  autoOffsetReset?: 'earliest' | 'latest' | 'none';
  retry?: unknown;
  metadataMaxAge?: number;
  maxInFlightRequests?: number;
  rackId?: string;
}

export interface Batch {
  topic: string;
  partition: number;
  highWatermark: string;
  messages: KafkaMessage[];
  isEmpty(): boolean;
  firstOffset(): string | null;
  lastOffset(): string;
  offsetLag(): string;
  offsetLagLow(): string;
}

export interface EachMessagePayload {
  topic: string;
  partition: number;
  message: KafkaMessage;
  heartbeat(): Promise<void>;
  pause(): () => void;
}

export interface EachBatchPayload {
  batch: Batch;
  resolveOffset(offset: string): void;
  heartbeat(): Promise<void>;
  pause(): () => void;
  commitOffsetsIfNecessary(offsets?: unknown): Promise<void>;
  uncommittedOffsets(): { topics: { topic: string; partitions: { partition: number; offset: string }[] }[] };
  isRunning(): boolean;
  isStale(): boolean;
}

export interface ConsumerRunConfig {
  eachMessage?: (payload: EachMessagePayload) => Promise<void>;
  eachBatch?: (payload: EachBatchPayload) => Promise<void>;
  autoCommit?: boolean;
  autoCommitInterval?: number | null;
  autoCommitThreshold?: number | null;
  eachBatchAutoResolve?: boolean;
  partitionsConsumedConcurrently?: number;
}

export interface PolledRecord extends DecodedRecord {
  topic: string;
  partition: number;
}

const EVENTS = {
  HEARTBEAT: 'consumer.heartbeat',
  COMMIT_OFFSETS: 'consumer.commit_offsets',
  GROUP_JOIN: 'consumer.group_join',
  FETCH_START: 'consumer.fetch_start',
  FETCH: 'consumer.fetch',
  START_BATCH_PROCESS: 'consumer.start_batch_process',
  END_BATCH_PROCESS: 'consumer.end_batch_process',
  CONNECT: 'consumer.connect',
  DISCONNECT: 'consumer.disconnect',
  STOP: 'consumer.stop',
  CRASH: 'consumer.crash',
  REBALANCING: 'consumer.rebalancing',
  RECEIVED_UNSUBSCRIBED_TOPICS: 'consumer.received_unsubscribed_topics',
} as const;

const COOPERATIVE_PROTOCOL = 'cooperative-sticky';
/** A position not known yet: the committed offset is being looked up. */
const UNRESOLVED = -1;
/** KafkaJS's special seek offsets: the log start and the log end at the next fetch. */
const EARLIEST = -2;
const LATEST = -1;

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/** Checks a KafkaJS `[{ topic, partitions? }]` list (assign, pause, resume). */
function topicPartitionList(list: unknown, call: string): { topic: string; partitions?: number[] }[] {
  if (!Array.isArray(list)) throw new InvalidArgumentError(`${call} takes an array of { topic, partitions }, got ${describeValue(list)}`);
  for (const [i, entry] of (list as unknown[]).entries()) {
    if (entry === null || typeof entry !== 'object')
      throw new InvalidArgumentError(`${call}: entry ${i} must be { topic, partitions }, got ${describeValue(entry)}`);
    const { topic, partitions } = entry as { topic: string; partitions: unknown };
    validateTopicName(topic);
    if (partitions !== undefined && (!Array.isArray(partitions) || partitions.some((p) => !Number.isInteger(p)))) {
      throw new InvalidArgumentError(`${call}: partitions of ${topic} must be an array of partition numbers, got ${describeValue(partitions)}`);
    }
  }
  return list as { topic: string; partitions?: number[] }[];
}

function checkRunConfig(config: ConsumerRunConfig): void {
  const { eachMessage, eachBatch } = config;
  if (eachMessage === undefined && eachBatch === undefined) throw new InvalidArgumentError('run needs an eachMessage or an eachBatch handler');
  if (eachMessage !== undefined && typeof eachMessage !== 'function')
    throw new InvalidArgumentError(`eachMessage must be a function, got ${describeValue(eachMessage)}`);
  if (eachBatch !== undefined && typeof eachBatch !== 'function')
    throw new InvalidArgumentError(`eachBatch must be a function, got ${describeValue(eachBatch)}`);
  booleanOption(config.autoCommit, 'autoCommit', true);
  booleanOption(config.eachBatchAutoResolve, 'eachBatchAutoResolve', true);
  if (config.autoCommitInterval !== null) integerOption(config.autoCommitInterval, 'autoCommitInterval', 0, 0);
  if (config.autoCommitThreshold !== null) integerOption(config.autoCommitThreshold, 'autoCommitThreshold', 1, 1);
  integerOption(config.partitionsConsumedConcurrently, 'partitionsConsumedConcurrently', 1, 1);
}

/** A partition this consumer reads: where it is, and what it has processed. */
interface Owned {
  topic: string;
  partition: Partition;
  /** Next offset to fetch. */
  position: number;
  /** Next offset to commit (last processed + 1); null while nothing was processed. */
  resolved: number | null;
  committed: number | null;
}

export class Consumer {
  readonly events = EVENTS;
  readonly #instrumentation = new Instrumentation();
  readonly #groupId: string;
  readonly #sessionTimeout: number;
  readonly #rebalanceTimeout: number;
  readonly #heartbeatInterval: number;
  readonly #maxBytesPerPartition: number;
  readonly #maxBytes: number;
  readonly #maxWaitTimeInMs: number;
  readonly #maxPollInterval: number;
  readonly #assigners: ReturnType<PartitionAssigner>[];
  readonly #allowAutoTopicCreation: boolean;
  readonly #autoOffsetReset: 'earliest' | 'latest' | 'none' | undefined;

  #connected = false;
  #coordinator: GroupClient | null = null;
  #stopListening: (() => void) | null = null;
  #stopWatchingPartitions: (() => void) | null = null;
  /** Partition counts of the subscribed topics when this member last joined, e.g. `orders:3`. */
  #joinedLayout = '';
  #registry: TopicRegistry | null = null;
  readonly #subscriptions: { match: string | RegExp; fromBeginning: boolean }[] = [];
  #manual = false;
  #running = false;
  #loop: Promise<void> | null = null;
  #memberId = '';
  #generationId = -1;
  readonly #owned = new Map<string, Owned>();
  readonly #paused = new Set<string>();
  readonly #pausedTopics = new Set<string>();
  #rejoin = true;
  /** A JoinGroup/SyncGroup of this member is in flight. */
  #joining = false;
  #awaitingJoinResponse = false;
  /** Protocol of the last completed join. */
  #protocol = '';
  /** A cooperative rejoin running while owned partitions go on being consumed. */
  #backgroundJoin: Promise<boolean> | null = null;
  /** Partitions a cooperative rebalance took away; committed before this member rejoins. */
  #revoked: Owned[] = [];
  /** Generation of the SyncGroup that gave this member its partitions (cooperative-sticky reports it). */
  #ownedGeneration = -1;
  /** Resolves `run()` once the first join completed (KafkaJS's run resolves joined). */
  #onJoined: (() => void) | null = null;
  /** Seeks not applied yet, by partition: applied at the next fetch of the partition while assigned (as KafkaJS). */
  readonly #seeks = new Map<string, number>();
  #wake: (() => void) | null = null;
  #heartbeatTimer: NodeJS.Timeout | null = null;
  #lastCommitAt = 0;
  #uncommitted = 0;
  readonly #onGroupChange = (groupId: string, state: string) => {
    // While this member waits for its JoinGroup answer, the rebalance is the one it is joining.
    if (this.#awaitingJoinResponse) return;
    if (groupId === this.#groupId && this.#memberId !== '' && state === 'PreparingRebalance') {
      this.#rejoin = true;
      this.#wakeUp();
    }
  };

  constructor(
    private readonly fjord: Fjord,
    config: ConsumerConfig,
  ) {
    if (config === null || typeof config !== 'object') throw new InvalidArgumentError('consumer config must be an object with a groupId');
    if (typeof config.groupId !== 'string' || config.groupId === '')
      throw new InvalidArgumentError(`groupId must be a non-empty string, got ${describeValue(config.groupId)}`);
    this.#groupId = config.groupId;
    this.#sessionTimeout = integerOption(config.sessionTimeout, 'sessionTimeout', 30_000, 0);
    this.#rebalanceTimeout = integerOption(config.rebalanceTimeout, 'rebalanceTimeout', 60_000, 0);
    this.#heartbeatInterval = integerOption(config.heartbeatInterval, 'heartbeatInterval', 3_000, 0);
    this.#maxBytesPerPartition = integerOption(config.maxBytesPerPartition, 'maxBytesPerPartition', 1_048_576, 0);
    this.#maxBytes = integerOption(config.maxBytes, 'maxBytes', 10_485_760, 0);
    this.#maxWaitTimeInMs = integerOption(config.maxWaitTimeInMs, 'maxWaitTimeInMs', 5_000, 0);
    this.#maxPollInterval = integerOption(config.maxPollInterval, 'maxPollInterval', 300_000, 0);
    integerOption(config.minBytes, 'minBytes', 1, 0);
    const assigners = config.partitionAssigners ?? [PartitionAssigners.roundRobin];
    if (!Array.isArray(assigners) || assigners.length === 0 || assigners.some((a) => typeof a !== 'function')) {
      throw new InvalidArgumentError('partitionAssigners must be a non-empty array of assigner factories');
    }
    this.#assigners = assigners.map((factory) => factory({ cluster: { findTopicPartitionMetadata: (topic: string) => this.#partitionMetadata(topic) } }));
    this.#allowAutoTopicCreation = booleanOption(config.allowAutoTopicCreation, 'allowAutoTopicCreation', fjord.allowAutoTopicCreation);
    if (config.autoOffsetReset !== undefined && !['earliest', 'latest', 'none'].includes(config.autoOffsetReset)) {
      throw new InvalidArgumentError(`autoOffsetReset must be earliest, latest or none, got ${describeValue(config.autoOffsetReset)}`);
    }
    this.#autoOffsetReset = config.autoOffsetReset;
  }

  on(event: string, listener: (event: unknown) => void): () => void {
    return this.#instrumentation.on(event, listener);
  }

  #emit(type: string, payload: unknown): void {
    this.#instrumentation.emit(type, payload);
  }

  async connect(): Promise<void> {
    this.#registry = await this.fjord.topics();
    this.#coordinator = await this.fjord.groupClient();
    this.#stopListening = this.#coordinator.onChange(this.#onGroupChange);
    // As a Kafka consumer does on a metadata refresh: a subscribed topic that gained partitions is rebalanced.
    this.#stopWatchingPartitions = this.#registry.onPartitionsAdded(() => this.#wakeUp());
    this.#connected = true;
    this.#emit(EVENTS.CONNECT, null);
  }

  async disconnect(): Promise<void> {
    // As KafkaJS: disconnecting a disconnected consumer resolves and reports the event again.
    if (!this.#connected) {
      this.#emit(EVENTS.DISCONNECT, null);
      return;
    }
    await this.stop();
    this.#stopListening?.();
    this.#stopListening = null;
    this.#stopWatchingPartitions?.();
    this.#stopWatchingPartitions = null;
    this.#connected = false;
    this.#emit(EVENTS.DISCONNECT, null);
  }

  #check(): { registry: TopicRegistry; coordinator: GroupClient } {
    if (!this.#connected || this.#registry === null || this.#coordinator === null) {
      throw new NotConnectedError('consumer is not connected: call consumer.connect() first');
    }
    return { registry: this.#registry, coordinator: this.#coordinator };
  }

  async subscribe(subscription: { topics?: (string | RegExp)[]; topic?: string | RegExp; fromBeginning?: boolean }): Promise<void> {
    const { registry } = this.#check();
    if (this.#running) throw new InvalidArgumentError('subscribe before run(): the consumer is already running');
    if (this.#manual) throw new InvalidArgumentError('this consumer uses assign(); subscribe and assign do not mix');
    const topics = subscription?.topics ?? (subscription?.topic !== undefined ? [subscription.topic] : undefined);
    if (!Array.isArray(topics) || topics.length === 0) throw new InvalidArgumentError('subscribe needs topic or topics (strings or RegExps)');
    for (const topic of topics) {
      if (typeof topic === 'string') {
        if (!registry.has(topic)) {
          if (!this.#allowAutoTopicCreation) registry.get(topic);
          await registry.create(topic, this.fjord.numPartitions, {});
        }
      } else if (topic instanceof RegExp) {
        // As KafkaJS: a RegExp subscribes to the topics it matches now, not to topics created later.
        for (const { name } of registry.list()) {
          topic.lastIndex = 0;
          if (topic.test(name)) this.#subscriptions.push({ match: name, fromBeginning: subscription.fromBeginning === true });
        }
        continue;
      } else {
        throw new InvalidArgumentError(`subscribe: ${JSON.stringify(topic)} is neither a topic name nor a RegExp`);
      }
      this.#subscriptions.push({ match: topic, fromBeginning: subscription.fromBeginning === true });
    }
  }

  #subscribedTopics(): string[] {
    const names = this.#registry!.list().map((t) => t.name);
    return names.filter((name) => this.#subscriptions.some((s) => (typeof s.match === 'string' ? s.match === name : s.match.test(name)))).sort();
  }

  #layout(topics: string[]): string {
    return topics.map((t) => `${t}:${this.#registry!.get(t).numPartitions}`).join(',');
  }

  #fromBeginning(topic: string): boolean {
    return this.#subscriptions.some((s) => s.fromBeginning && (typeof s.match === 'string' ? s.match === topic : s.match.test(topic)));
  }

  #partitionMetadata(topic: string): { partitionId: number; leader: number }[] {
    return this.#registry!.get(topic).partitions.map((p) => ({ partitionId: p.id, leader: 0 }));
  }

  async run(config: ConsumerRunConfig = {}): Promise<void> {
    if (config === null || typeof config !== 'object') throw new InvalidArgumentError(`run(config): config must be an object, got ${describeValue(config)}`);
    this.#check();
    if (this.#running) throw new InvalidArgumentError('the consumer is already running');
    checkRunConfig(config);
    if (this.#subscriptions.length === 0) throw new InvalidArgumentError('subscribe to a topic before run()');
    this.#running = true;
    this.#rejoin = true;
    this.#heartbeatTimer = setInterval(() => void this.#heartbeat(), this.#heartbeatInterval);
    // Not unref'd: a running consumer keeps its process (or worker) alive, as a KafkaJS one does.
    const joined = new Promise<void>((resolve) => (this.#onJoined = resolve));
    this.#loop = this.#runLoop(config).catch((error: unknown) => {
      // As KafkaJS: a consumer that cannot go on leaves its group (the others take its partitions), then reports the crash.
      this.#running = false;
      void this.#leave();
      this.#emit(EVENTS.CRASH, { error, groupId: this.#groupId, restart: false });
    });
    await Promise.race([joined, this.#loop]);
  }

  /** Stops consuming: commits what was processed (autoCommit), leaves the group. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#wakeUp();
    await this.#loop;
    this.#loop = null;
    await this.#leave();
    this.#emit(EVENTS.STOP, null);
  }

  /** Stops heartbeats and leaves the group (after the loop ended). */
  async #leave(): Promise<void> {
    if (this.#heartbeatTimer !== null) clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = null;
    const memberId = this.#memberId;
    this.#forgetMembership();
    this.#seeks.clear();
    if (memberId !== '') {
      // Already expired or removed: nothing to leave.
      await this.#coordinator!.leaveGroup({ groupId: this.#groupId, memberId }).catch(() => undefined);
    }
  }

  /** The group no longer has this member: its assignment, and the positions in it, are gone. */
  #forgetMembership(): void {
    this.#memberId = '';
    this.#generationId = -1;
    this.#owned.clear();
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  async #heartbeat(): Promise<void> {
    // Heartbeats go on during a rebalance: they keep the session alive while a handler finishes.
    if (this.#memberId === '') return;
    try {
      const generationId = this.#generationId;
      const memberId = this.#memberId;
      await this.#coordinator!.heartbeat({ groupId: this.#groupId, generationId, memberId });
      this.#emit(EVENTS.HEARTBEAT, { groupId: this.#groupId, memberId, groupGenerationId: generationId });
    } catch (error) {
      // While this member waits in JoinGroup, the rebalance in progress is the one it is joining: rejoining after it would start another.
      if (this.#joining && error instanceof RebalanceInProgressError) return;
      this.#onGroupError(error);
    }
  }

  #onGroupError(error: unknown): void {
    if (error instanceof UnknownMemberIdError) this.#forgetMembership();
    if (error instanceof RebalanceInProgressError || error instanceof IllegalGenerationError || error instanceof UnknownMemberIdError) {
      this.#rejoin = true;
      this.#wakeUp();
      return;
    }
    throw error;
  }

  async #runLoop(config: ConsumerRunConfig): Promise<void> {
    const autoCommit = config.autoCommit ?? true;
    while (this.#running) {
      if (!this.#rejoin && this.#memberId !== '' && this.#layout(this.#subscribedTopics()) !== this.#joinedLayout) this.#rejoin = true;
      if (this.#rejoin && this.#backgroundJoin === null) {
        // Revoked partitions' progress is committed once their processing has ended,
        // before the rejoin that lets another member take them.
        await this.#commitRevoked();
        if (autoCommit) await this.#commitResolved().catch(() => undefined);
        this.#emit(EVENTS.REBALANCING, { groupId: this.#groupId, memberId: this.#memberId });
        if (this.#protocol === COOPERATIVE_PROTOCOL && this.#owned.size > 0) {
          // Cooperative: partitions that do not move keep being consumed during the rebalance.
          this.#backgroundJoin = this.#joinOnce().finally(() => {
            this.#backgroundJoin = null;
            this.#wakeUp();
          });
        } else if (!(await this.#joinOnce())) {
          continue;
        }
      }
      const worked = await this.#fetchAndProcess(config, autoCommit);
      if (!worked && this.#running && !this.#mustRejoin()) await this.#waitForData();
    }
    await this.#backgroundJoin?.catch(() => undefined);
    await this.#commitRevoked();
    if (autoCommit) await this.#commitResolved().catch(() => undefined);
  }

  /** A rejoin is due and none is running: fetching stops so the loop can start it. */
  #mustRejoin(): boolean {
    return this.#rejoin && this.#backgroundJoin === null;
  }

  /** One join; false (after a short pause) when the group moved on meanwhile. */
  async #joinOnce(): Promise<boolean> {
    const joined = await this.#join().catch((error: unknown) => {
      if (!(error instanceof RebalanceInProgressError || error instanceof UnknownMemberIdError || error instanceof IllegalGenerationError)) throw error;
      this.#rejoin = true;
      if (error instanceof UnknownMemberIdError) this.#forgetMembership();
      return false;
    });
    if (!joined) await new Promise((r) => setTimeout(r, 10)); // join again, without spinning
    return joined;
  }

  async #commitRevoked(): Promise<void> {
    const revoked = this.#revoked.filter((o) => o.resolved !== null && o.resolved !== o.committed);
    this.#revoked = [];
    if (revoked.length === 0 || this.#memberId === '') return;
    try {
      const offsets = revoked.map((o) => ({ topic: o.topic, partition: o.partition.id, offset: o.resolved! }));
      await this.#coordinator!.commitOffsets({ groupId: this.#groupId, generationId: this.#generationId, memberId: this.#memberId, offsets });
    } catch {
      // Fenced meanwhile: the new owner starts from the last commit (at-least-once).
    }
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
    const coordinator = this.#coordinator!;
    const started = Date.now();
    this.#rejoin = false;
    const topics = this.#subscribedTopics();
    this.#joinedLayout = this.#layout(topics);
    const ownedBefore = this.#ownedAssignment();
    const protocols = this.#assigners.map((a) => a.protocol({ topics, ownedPartitions: ownedBefore, generationId: this.#ownedGeneration }));
    this.#awaitingJoinResponse = true;
    let result;
    try {
      result = await coordinator.joinGroup({
        groupId: this.#groupId,
        memberId: this.#memberId,
        clientId: this.fjord.clientId,
        sessionTimeoutMs: this.#sessionTimeout,
        rebalanceTimeoutMs: this.#rebalanceTimeout,
        protocolType: 'consumer',
        protocols,
      });
    } finally {
      this.#awaitingJoinResponse = false;
    }
    this.#memberId = result.memberId;
    this.#generationId = result.generationId;
    let assignments: { memberId: string; memberAssignment: Buffer }[] = [];
    if (result.leaderId === result.memberId) {
      const assigner = this.#assigners.find((a) => a.name === result.protocolName)!;
      const memberTopics = new Set<string>();
      for (const m of result.members) for (const t of AssignerProtocol.MemberMetadata.decode(m.memberMetadata)?.topics ?? []) memberTopics.add(t);
      assignments = await assigner.assign({
        members: result.members.map((m) => ({ memberId: m.memberId, memberMetadata: m.memberMetadata })),
        topics: [...memberTopics].filter((t) => this.#registry!.has(t)),
      });
    }
    const buffer = await coordinator.syncGroup({ groupId: this.#groupId, generationId: result.generationId, memberId: result.memberId, assignments });
    if (this.#rejoin) return false;
    const assignment = buffer.length > 0 ? (AssignerProtocol.MemberAssignment.decode(buffer)?.assignment ?? {}) : {};
    if (result.protocolName === COOPERATIVE_PROTOCOL) {
      for (const o of this.#owned.values()) if (!(assignment[o.topic] ?? []).includes(o.partition.id)) this.#revoked.push(o);
    }
    this.#assign(assignment, await this.#committedFor(assignment));
    this.#protocol = result.protocolName;
    this.#ownedGeneration = result.generationId;
    // Cooperative protocol: a partition taken away was only revoked this round; rejoining
    // lets the next round give it to its new owner.
    const revoked = Object.entries(ownedBefore).some(([topic, ps]) => ps.some((p) => !(assignment[topic] ?? []).includes(p)));
    if (result.protocolName === COOPERATIVE_PROTOCOL && revoked) this.#rejoin = true;
    this.#emit(EVENTS.GROUP_JOIN, {
      duration: Date.now() - started,
      groupId: this.#groupId,
      isLeader: result.leaderId === result.memberId,
      leaderId: result.leaderId,
      groupProtocol: result.protocolName,
      memberId: result.memberId,
      memberAssignment: assignment,
    });
    this.#onJoined?.();
    this.#onJoined = null;
    return true;
  }

  #ownedAssignment(): Record<string, number[]> {
    const owned: Record<string, number[]> = {};
    for (const o of this.#owned.values()) (owned[o.topic] ??= []).push(o.partition.id);
    return owned;
  }

  /** The group's committed offsets of the partitions in `assignment` that this member does not hold yet. */
  async #committedFor(assignment: Record<string, number[]>): Promise<Map<string, number | null>> {
    const out = new Map<string, number | null>();
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const p of partitions) {
        if (this.#owned.has(key(topic, p))) continue;
        out.set(key(topic, p), (await this.#coordinator!.committed(this.#groupId, topic, p))?.offset ?? null);
      }
    }
    return out;
  }

  /**
   * Takes on a new assignment: kept partitions keep their position; new ones
   * start at the committed offset or the reset policy (resolved later when
   * `committed` does not have them).
   */
  #assign(assignment: Record<string, number[]>, committedOffsets: Map<string, number | null> | null): void {
    const next = new Map<string, Owned>();
    for (const [topic, partitions] of Object.entries(assignment)) {
      if (!this.#registry!.has(topic)) continue;
      for (const p of partitions) {
        const k = key(topic, p);
        const kept = this.#owned.get(k);
        if (kept !== undefined) {
          next.set(k, kept);
          continue;
        }
        const partition = this.#registry!.get(topic).partition(p);
        if (committedOffsets === null || !committedOffsets.has(k)) {
          next.set(k, { topic, partition, position: UNRESOLVED, resolved: null, committed: null });
          continue;
        }
        const committed = committedOffsets.get(k)!;
        next.set(k, { topic, partition, position: this.#startOffset(topic, partition, committed), resolved: null, committed });
      }
    }
    this.#owned.clear();
    for (const [k, v] of next) this.#owned.set(k, v);
  }

  /** Start positions of partitions assigned before their committed offsets were known. */
  async #resolvePositions(): Promise<void> {
    for (const owned of this.#owned.values()) {
      if (owned.position !== UNRESOLVED) continue;
      const committed = (await this.#coordinator!.committed(this.#groupId, owned.topic, owned.partition.id))?.offset ?? null;
      if (owned.position !== UNRESOLVED) continue;
      owned.committed = committed;
      owned.position = this.#startOffset(owned.topic, owned.partition, committed);
    }
  }

  #startOffset(topic: string, partition: Partition, committed: number | null): number {
    const log = partition.log;
    if (committed !== null && committed >= log.logStartOffset && committed <= log.logEndOffset) return committed;
    return this.#reset(
      topic,
      partition,
      committed === null
        ? `no committed offset for ${topic}-${partition.id} in group ${this.#groupId}`
        : `committed offset ${committed} of ${topic}-${partition.id} is outside the log [${log.logStartOffset}, ${log.logEndOffset}]`,
    );
  }

  /** Where the reset policy puts a partition whose position is unknown or out of range (`why` says which); `none` throws. */
  #reset(topic: string, partition: Partition, why: string): number {
    const log = partition.log;
    const policy = this.#autoOffsetReset ?? (this.#fromBeginning(topic) ? 'earliest' : 'latest');
    if (policy === 'none') throw new OffsetOutOfRangeError(`${why} and autoOffsetReset is none`);
    return policy === 'earliest' ? log.logStartOffset : log.logEndOffset;
  }

  /** One pass over the owned partitions; true if any records were handed out. */
  async #fetchAndProcess(config: ConsumerRunConfig, autoCommit: boolean): Promise<boolean> {
    await this.#resolvePositions();
    this.#emit(EVENTS.FETCH_START, {});
    const owned = [...this.#owned.values()];
    let budget = this.#maxBytes;
    let worked = false;
    let fetched = 0;
    let next = 0;
    // Up to partitionsConsumedConcurrently partitions are handled at once; each
    // partition's batches stay in order (one worker holds a partition at a time).
    const worker = async () => {
      while (next < owned.length) {
        const o = owned[next++]!;
        if (!this.#running || this.#mustRejoin() || budget <= 0) return;
        if (this.#paused.has(key(o.topic, o.partition.id)) || this.#pausedTopics.has(o.topic)) continue;
        this.#applySeek(o);
        const records = this.#read(o, Math.min(this.#maxBytesPerPartition, budget));
        if (records === null) continue;
        budget -= records.bytes;
        fetched++;
        if (records.messages.length === 0) continue;
        worked = true;
        await this.#process(o, records.messages, records.highWatermark, config);
        if (autoCommit) await this.#maybeAutoCommit(config);
      }
    };
    const concurrency = Math.max(1, Math.min(owned.length, config.partitionsConsumedConcurrently ?? 1));
    await Promise.all(Array.from({ length: concurrency }, worker));
    this.#emit(EVENTS.FETCH, { numberOfBatches: fetched, duration: 0 });
    return worked;
  }

  /** The log's bytes at the partition's position; null at the log end, or after applying the reset policy to a position out of range. */
  #slice(owned: Owned, maxBytes: number): LogSlice | null {
    try {
      return owned.partition.log.readSlice(owned.position, maxBytes);
    } catch (error) {
      if (!(error instanceof OffsetOutOfRangeError)) throw error;
      // Retention moved the log start past us, the log was truncated, or a seek went past the end: apply the reset policy.
      const log = owned.partition.log;
      owned.position = this.#reset(
        owned.topic,
        owned.partition,
        `offset ${owned.position} of ${owned.topic}-${owned.partition.id} is outside the log [${log.logStartOffset}, ${log.logEndOffset}]`,
      );
      return null;
    }
  }

  #read(owned: Owned, maxBytes: number): { messages: KafkaMessage[]; bytes: number; highWatermark: number } | null {
    const slice = this.#slice(owned, maxBytes);
    if (slice === null) return null;
    const messages = decodeMessages(slice.bytes, owned.position);
    if (messages.length === 0) owned.position = slice.nextOffset;
    return { messages, bytes: slice.bytes.length, highWatermark: owned.partition.log.logEndOffset };
  }

  async #process(owned: Owned, messages: KafkaMessage[], highWatermark: number, config: ConsumerRunConfig): Promise<void> {
    const topic = owned.topic;
    const partitionId = owned.partition.id;
    const resolveOffset = (offset: string) => {
      const next = toOffset(offset) + 1;
      if (owned.resolved === null || next > owned.resolved) {
        this.#uncommitted += next - (owned.resolved ?? owned.position);
        owned.resolved = next;
      }
    };
    let pausedHere = false;
    const pause = () => {
      this.#paused.add(key(topic, partitionId));
      pausedHere = true;
      return () => this.resume([{ topic, partitions: [partitionId] }]);
    };
    const heartbeat = async () => this.#heartbeat();
    // Stale once the partition is no longer this member's (a kept partition keeps its Owned object across a cooperative rebalance).
    const stale = () => !this.#running || this.#mustRejoin() || this.#owned.get(key(topic, partitionId)) !== owned || this.#seeks.has(key(topic, partitionId));
    const first = Number(messages[0]!.offset);
    const last = Number(messages[messages.length - 1]!.offset);
    const batchPayload = {
      topic,
      partition: partitionId,
      highWatermark: String(highWatermark),
      offsetLag: String(Math.max(0, highWatermark - 1 - last)),
      offsetLagLow: String(Math.max(0, highWatermark - 1 - first)),
      batchSize: messages.length,
      firstOffset: String(first),
      lastOffset: String(last),
    };
    this.#emit(EVENTS.START_BATCH_PROCESS, batchPayload);
    const started = Date.now();
    const watchdog = setTimeout(() => {
      // A handler past max.poll.interval.ms: leave the group so the others take the partitions.
      if (this.#memberId !== '') {
        void this.#coordinator!.leaveGroup({ groupId: this.#groupId, memberId: this.#memberId }).catch(() => undefined); // already gone
        this.#forgetMembership();
        this.#rejoin = true;
      }
    }, this.#maxPollInterval);
    watchdog.unref();
    try {
      if (config.eachBatch !== undefined) {
        const batch: Batch = {
          topic,
          partition: partitionId,
          highWatermark: String(highWatermark),
          messages,
          isEmpty: () => messages.length === 0,
          firstOffset: () => messages[0]?.offset ?? null,
          lastOffset: () => messages[messages.length - 1]?.offset ?? String(highWatermark - 1),
          offsetLag: () => String(Math.max(0, highWatermark - 1 - Number(messages[messages.length - 1]!.offset))),
          offsetLagLow: () => String(Math.max(0, highWatermark - 1 - Number(messages[0]!.offset))),
        };
        await config.eachBatch({
          batch,
          resolveOffset,
          heartbeat,
          pause,
          commitOffsetsIfNecessary: async () => this.#maybeAutoCommit(config),
          uncommittedOffsets: () => this.#uncommittedOffsets(),
          isRunning: () => this.#running,
          isStale: stale,
        });
        if (config.eachBatchAutoResolve ?? true) resolveOffset(messages[messages.length - 1]!.offset);
      } else {
        for (const message of messages) {
          if (stale() || pausedHere) break;
          await config.eachMessage!({ topic, partition: partitionId, message, heartbeat, pause });
          resolveOffset(message.offset);
        }
      }
    } catch (error) {
      this.#emit(EVENTS.CRASH, { error, groupId: this.#groupId, restart: true });
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      clearTimeout(watchdog);
      // Unprocessed records are fetched again from here.
      owned.position = owned.resolved ?? owned.position;
    }
    this.#emit(EVENTS.END_BATCH_PROCESS, { ...batchPayload, duration: Date.now() - started });
  }

  async #maybeAutoCommit(config: ConsumerRunConfig): Promise<void> {
    if (config.autoCommit === false) return;
    const interval = config.autoCommitInterval ?? 5_000;
    const threshold = config.autoCommitThreshold ?? null;
    const due = (interval !== null && Date.now() - this.#lastCommitAt >= interval) || (threshold !== null && this.#uncommitted >= threshold);
    // Not while a cooperative rejoin runs: a commit then may meet the group completing its rebalance.
    if (due && this.#backgroundJoin === null) await this.#commitResolved().catch((error: unknown) => this.#onGroupError(error));
  }

  #uncommittedOffsets(): { topics: { topic: string; partitions: { partition: number; offset: string }[] }[] } {
    return { topics: this.#group(this.#pendingCommits()) };
  }

  /** Processed offsets not committed yet, as commit entries. */
  #pendingCommits(): { topic: string; partition: number; offset: number; owned: Owned }[] {
    return [...this.#owned.values()]
      .filter((o) => o.resolved !== null && o.resolved !== o.committed)
      .map((o) => ({ topic: o.topic, partition: o.partition.id, offset: o.resolved!, owned: o }));
  }

  async #commitResolved(): Promise<void> {
    const pending = this.#pendingCommits();
    this.#lastCommitAt = Date.now();
    if (pending.length === 0 || this.#memberId === '') return;
    const offsets = pending.map(({ topic, partition, offset }) => ({ topic, partition, offset }));
    await this.#coordinator!.commitOffsets({ groupId: this.#groupId, generationId: this.#generationId, memberId: this.#memberId, offsets });
    for (const { owned, offset } of pending) owned.committed = offset;
    this.#uncommitted = 0;
    this.#emit(EVENTS.COMMIT_OFFSETS, {
      groupId: this.#groupId,
      memberId: this.#memberId,
      groupGenerationId: this.#generationId,
      topics: this.#group(offsets),
    });
  }

  #group(offsets: { topic: string; partition: number; offset: number }[]) {
    const byTopic = new Map<string, { partition: number; offset: string }[]>();
    for (const o of offsets) {
      const list = byTopic.get(o.topic) ?? [];
      list.push({ partition: o.partition, offset: String(o.offset) });
      byTopic.set(o.topic, list);
    }
    return [...byTopic.entries()].map(([topic, partitions]) => ({ topic, partitions }));
  }

  /** Waits for an append to an owned partition, a rebalance, stop, or `maxWaitTimeInMs`. */
  async #waitForData(): Promise<void> {
    const waits: Promise<void>[] = [...this.#owned.values()]
      .filter((o) => !this.#paused.has(key(o.topic, o.partition.id)) && !this.#pausedTopics.has(o.topic))
      .map((o) => o.partition.nextAppend());
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      ...waits,
      new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, this.#maxWaitTimeInMs);
      }),
    ]);
    clearTimeout(timer);
    this.#wake = null;
  }

  /** Commits offsets (the next offset to read, as in Kafka) for this member's generation. */
  async commitOffsets(offsets: { topic: string; partition: number; offset: string; metadata?: string | null }[]): Promise<void> {
    const { coordinator, registry } = this.#check();
    if (!Array.isArray(offsets)) throw new InvalidArgumentError('commitOffsets takes an array of { topic, partition, offset }');
    const parsed = offsets.map((o, i) => {
      if (o === null || typeof o !== 'object')
        throw new InvalidArgumentError(`commitOffsets: offsets[${i}] must be { topic, partition, offset }, got ${describeValue(o)}`);
      // As Kafka: a commit for a partition that does not exist is UNKNOWN_TOPIC_OR_PARTITION.
      registry.get(o.topic).partition(o.partition);
      return { topic: o.topic, partition: o.partition, offset: toOffset(o.offset), metadata: o.metadata ?? null };
    });
    await coordinator.commitOffsets({
      groupId: this.#groupId,
      generationId: this.#manual ? -1 : this.#generationId,
      memberId: this.#manual ? '' : this.#memberId,
      offsets: parsed,
    });
    for (const o of parsed) {
      const owned = this.#owned.get(key(o.topic, o.partition));
      if (owned !== undefined) owned.committed = o.offset;
    }
    this.#emit(EVENTS.COMMIT_OFFSETS, { groupId: this.#groupId, memberId: this.#memberId, groupGenerationId: this.#generationId, topics: this.#group(parsed) });
  }

  /**
   * Moves the next fetch of a partition. As in KafkaJS, the seek is applied
   * at the next fetch of the partition once the group assigns it (so it may
   * come right after a `run()` that was not awaited), and the batch being
   * processed for it turns stale.
   */
  seek(target: { topic: string; partition: number; offset: string }): void {
    const { registry } = this.#check();
    if (target === null || typeof target !== 'object') throw new InvalidArgumentError(`seek takes { topic, partition, offset }, got ${describeValue(target)}`);
    const { topic, partition, offset } = target;
    registry.get(topic).partition(partition);
    const at = toOffset(offset);
    if (at < 0 && at !== EARLIEST && at !== LATEST) {
      throw new OffsetOutOfRangeError(`seek to offset ${at} of ${topic}-${partition}: offsets are never negative (-2 is the earliest, -1 the latest)`);
    }
    const k = key(topic, partition);
    if (this.#manual ? !this.#owned.has(k) : !this.#running) {
      throw new InvalidArgumentError(
        this.#manual ? `seek: ${topic}-${partition} is not assigned to this consumer` : 'seek: the consumer is not running: call run() first',
      );
    }
    this.#seeks.set(k, at);
    this.#wakeUp();
  }

  #applySeek(owned: Owned): void {
    const k = key(owned.topic, owned.partition.id);
    const at = this.#seeks.get(k);
    if (at === undefined) return;
    this.#seeks.delete(k);
    const log = owned.partition.log;
    const position = at === EARLIEST ? log.logStartOffset : at === LATEST ? log.logEndOffset : at;
    owned.position = position;
    owned.resolved = position;
  }

  pause(topicPartitions: { topic: string; partitions?: number[] }[]): void {
    for (const { topic, partitions } of topicPartitionList(topicPartitions, 'pause')) {
      if (partitions === undefined) this.#pausedTopics.add(topic);
      else for (const p of partitions) this.#paused.add(key(topic, p));
    }
  }

  resume(topicPartitions: { topic: string; partitions?: number[] }[]): void {
    for (const { topic, partitions } of topicPartitionList(topicPartitions, 'resume')) {
      if (partitions === undefined) {
        this.#pausedTopics.delete(topic);
        for (const k of [...this.#paused]) if (k.startsWith(`${topic}\u0000`)) this.#paused.delete(k);
      } else for (const p of partitions) this.#paused.delete(key(topic, p));
    }
    this.#wakeUp();
  }

  paused(): { topic: string; partitions: number[] }[] {
    const byTopic = new Map<string, number[]>();
    for (const k of this.#paused) {
      const [topic, p] = k.split('\u0000') as [string, string];
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), Number(p)]);
    }
    for (const topic of this.#pausedTopics) byTopic.set(topic, this.#registry?.has(topic) ? this.#registry.get(topic).partitions.map((p) => p.id) : []);
    return [...byTopic.entries()].map(([topic, partitions]) => ({ topic, partitions: partitions.sort((a, b) => a - b) }));
  }

  async describeGroup(): Promise<{ errorCode: number; groupId: string; members: unknown[]; protocol: string; protocolType: string; state: string }> {
    const { coordinator } = this.#check();
    const d = await coordinator.describeGroup(this.#groupId);
    return { errorCode: 0, groupId: d.groupId, members: d.members, protocol: d.protocol, protocolType: d.protocolType, state: d.state };
  }

  /** Manual assignment without a group (Java's assign()): positions start at the committed offset or the reset policy. */
  assign(assignments: { topic: string; partitions: number[] }[]): void {
    const { registry } = this.#check();
    if (this.#subscriptions.length > 0 || this.#running) throw new InvalidArgumentError('this consumer uses subscribe(); subscribe and assign do not mix');
    const next: Record<string, number[]> = {};
    for (const { topic, partitions } of topicPartitionList(assignments, 'assign')) {
      const t = registry.get(topic);
      if (partitions === undefined) throw new InvalidArgumentError(`assign: partitions of ${topic} must be an array of partition numbers`);
      for (const p of partitions) t.partition(p);
      next[topic] = partitions;
    }
    this.#manual = true;
    this.#assign(next, null);
  }

  /**
   * Java-client style pull: up to `maxRecords` records from the assigned
   * partitions, waiting up to `timeoutMs` for the first. Positions advance;
   * commit with `commitOffsets`.
   */
  async poll({ maxRecords = 500, timeoutMs = 0 }: { maxRecords?: number; timeoutMs?: number } = {}): Promise<PolledRecord[]> {
    this.#check();
    if (!this.#manual) throw new InvalidArgumentError('poll() is for consumers that assign() partitions; subscribed consumers use run()');
    await this.#resolvePositions();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const out: PolledRecord[] = [];
      for (const owned of this.#owned.values()) {
        if (out.length >= maxRecords) break;
        if (this.#paused.has(key(owned.topic, owned.partition.id)) || this.#pausedTopics.has(owned.topic)) continue;
        this.#applySeek(owned);
        let decoded = 0;
        try {
          const slice = this.#slice(owned, this.#maxBytesPerPartition);
          if (slice === null) continue;
          for (const r of decodeBatches(slice.bytes, { fromOffset: owned.position })) {
            if (out.length >= maxRecords) break;
            out.push({ ...r, topic: owned.topic, partition: owned.partition.id });
            owned.position = r.offset + 1;
            decoded++;
          }
          if (decoded === 0) owned.position = slice.nextOffset;
        } catch (error) {
          // As the Java client: records already collected come first; the position
          // stays at the failing batch, so the next poll raises the error again.
          if (out.length > 0) return out;
          throw error;
        }
      }
      if (out.length > 0 || Date.now() >= deadline) return out;
      const waits = [...this.#owned.values()].map((o) => o.partition.nextAppend());
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([...waits, new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, deadline - Date.now()))))]);
      clearTimeout(timer);
    }
  }
}
