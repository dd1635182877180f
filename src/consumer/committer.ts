// What a group member has processed and not committed yet, and when it
// commits, as KafkaJS's runner and OffsetManager do: under autoCommit after
// every batch and when a handler fails, between messages when
// autoCommitInterval / autoCommitThreshold say so (and, for the interval,
// on an idle pass too), before a rejoin, for partitions a cooperative
// rebalance revoked, and on request.
import type { GroupClient } from '../groups/group-client.js';
import { byTopic, CONSUMER_EVENTS, type ConsumerRunConfig, type EmitEvent, type TopicOffsets } from './consumer-config.js';
import type { Membership } from './membership.js';
import type { Owned, Positions } from './positions.js';

export class Committer {
  /** Monotonic time of the last commit attempt, or of the assignment (KafkaJS's `lastCommit`: autoCommitInterval counts from either). */
  #lastCommitAt = performance.now();
  /** The generation #lastCommitAt was last reset for: a new assignment restarts the interval, as KafkaJS's new OffsetManager does. */
  #generation = -1;
  /** A batch's commit was put off (a cooperative rejoin was running): the next idle pass makes it. */
  #deferred = false;

  constructor(
    private readonly groupId: string,
    private readonly coordinator: GroupClient,
    private readonly membership: Membership,
    private readonly positions: Positions,
    private readonly emit: EmitEvent,
  ) {}

  /** The handler is done with `offset`: the next commit of the partition is past it. */
  resolveOffset(owned: Owned, offset: number): void {
    const next = offset + 1;
    if (owned.resolved === null || next > owned.resolved) owned.resolved = next;
  }

  uncommittedOffsets(): { topics: TopicOffsets[] } {
    return { topics: byTopic(this.#pending()) };
  }

  /** Processed offsets not committed yet, as commit entries. */
  #pending(): { topic: string; partition: number; offset: number; owned: Owned }[] {
    return this.positions
      .owned()
      .filter((o) => o.resolved !== null && o.resolved !== o.committed)
      .map((o) => ({ topic: o.topic, partition: o.partition.id, offset: o.resolved!, owned: o }));
  }

  /**
   * What autoCommitThreshold is compared with, counted as KafkaJS's
   * `countResolvedOffsets`: resolved minus committed over the partitions
   * with a resolved offset, a partition never committed counting its whole
   * resolved offset.
   */
  #resolvedCount(): number {
    let count = 0;
    for (const o of this.positions.owned()) if (o.resolved !== null) count += o.resolved - (o.committed !== null && o.committed >= 0 ? o.committed : 0);
    return count;
  }

  /** A new generation is a new assignment: the interval restarts from it. */
  noteAssignment(): void {
    if (this.membership.generationId === this.#generation) return;
    this.#generation = this.membership.generationId;
    this.#lastCommitAt = performance.now();
  }

  #intervalDue(config: ConsumerRunConfig): boolean {
    const interval = config.autoCommitInterval ?? null;
    return interval !== null && performance.now() >= this.#lastCommitAt + interval;
  }

  /**
   * KafkaJS's `commitOffsetsIfNecessary` under autoCommit: commits when
   * autoCommitInterval (default none) has passed since the last commit or
   * autoCommitThreshold (default none) offsets were resolved. Called after
   * each message, from eachBatch, and on an idle pass of the loop.
   */
  async maybeAutoCommit(config: ConsumerRunConfig): Promise<void> {
    if (config.autoCommit === false) return;
    this.noteAssignment();
    const threshold = config.autoCommitThreshold ?? null;
    if (this.#intervalDue(config) || (threshold !== null && this.#resolvedCount() >= threshold)) await this.autoCommit(config);
  }

  /** An idle pass of the loop: a batch commit put off, or an autoCommitInterval commit that fell due. */
  async idleAutoCommit(config: ConsumerRunConfig): Promise<void> {
    if (config.autoCommit === false) return;
    if (this.#deferred) await this.autoCommit(config);
    else await this.maybeAutoCommit(config);
  }

  /**
   * KafkaJS's `autoCommitOffsets`: under autoCommit (the default), every
   * resolved offset is committed after each batch and when a handler fails,
   * whatever autoCommitInterval and autoCommitThreshold say.
   */
  async autoCommit(config: ConsumerRunConfig): Promise<void> {
    if (config.autoCommit === false) return;
    // Not while a cooperative rejoin runs: a commit then may meet the group completing its rebalance; the idle pass after it commits.
    this.#deferred = this.membership.backgroundJoin !== null;
    if (!this.#deferred) await this.commitResolved().catch((error: unknown) => this.membership.onGroupError(error));
  }

  /**
   * How long an idle consumer may wait before it commits offsets resolved
   * and not committed (a batch commit put off, or an autoCommitInterval
   * commit): Infinity when there is none to make.
   */
  untilIntervalCommit(config: ConsumerRunConfig): number {
    const interval = config.autoCommitInterval ?? null;
    if (config.autoCommit === false || this.membership.backgroundJoin !== null || this.#pending().length === 0) return Infinity;
    if (this.#deferred) return 0;
    return interval === null ? Infinity : Math.max(0, this.#lastCommitAt + interval - performance.now());
  }

  /** eachBatch's `commitOffsetsIfNecessary(offsets?)`: the given offsets (KafkaJS's `{ topics }` shape) now, else as autoCommit says. */
  async commitIfNecessary(config: ConsumerRunConfig, offsets?: { topics?: TopicOffsets[] }): Promise<void> {
    if (offsets === undefined || offsets === null) return this.maybeAutoCommit(config);
    const list = (offsets.topics ?? []).flatMap(({ topic, partitions }) =>
      partitions.map(({ partition, offset }) => ({ topic, partition, offset: Number(offset), metadata: null })),
    );
    if (list.length > 0) await this.commitOffsets(list, true);
  }

  /** Commits every processed offset of this member's partitions for its generation. */
  async commitResolved(): Promise<void> {
    const pending = this.#pending();
    this.#lastCommitAt = performance.now();
    const { memberId, generationId } = this.membership;
    if (pending.length === 0 || memberId === '') return;
    const offsets = pending.map(({ topic, partition, offset }) => ({ topic, partition, offset }));
    await this.coordinator.commitOffsets({ groupId: this.groupId, generationId, memberId, offsets });
    for (const { owned, offset } of pending) owned.committed = offset;
    this.emit(CONSUMER_EVENTS.COMMIT_OFFSETS, { groupId: this.groupId, memberId, groupGenerationId: generationId, topics: byTopic(offsets) });
  }

  /**
   * The caller's own commit (consumer.commitOffsets): for this member's
   * generation, or with no generation for a consumer without a group (assign).
   */
  async commitOffsets(offsets: { topic: string; partition: number; offset: number; metadata: string | null }[], grouped: boolean): Promise<void> {
    const { memberId, generationId } = this.membership;
    await this.coordinator.commitOffsets({
      groupId: this.groupId,
      generationId: grouped ? generationId : -1,
      memberId: grouped ? memberId : '',
      offsets,
    });
    for (const o of offsets) {
      const owned = this.positions.get(o.topic, o.partition);
      if (owned !== undefined) owned.committed = o.offset;
    }
    this.emit(CONSUMER_EVENTS.COMMIT_OFFSETS, { groupId: this.groupId, memberId, groupGenerationId: generationId, topics: byTopic(offsets) });
  }

  /** Commits the progress of partitions a cooperative rebalance took away, before the rejoin that gives them to another member. */
  async commitRevoked(): Promise<void> {
    const revoked = this.membership.revoked.filter((o) => o.resolved !== null && o.resolved !== o.committed);
    this.membership.revoked = [];
    const { memberId, generationId } = this.membership;
    if (revoked.length === 0 || memberId === '') return;
    try {
      const offsets = revoked.map((o) => ({ topic: o.topic, partition: o.partition.id, offset: o.resolved! }));
      await this.coordinator.commitOffsets({ groupId: this.groupId, generationId, memberId, offsets });
    } catch {
      // Fenced meanwhile: the new owner starts from the last commit (at-least-once).
    }
  }
}
