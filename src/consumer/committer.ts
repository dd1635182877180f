// What a group member has processed and not committed yet, and when it
// commits: at KafkaJS's autoCommitInterval / autoCommitThreshold, before a
// rejoin, for partitions a cooperative rebalance revoked, and on request.
import type { GroupClient } from '../groups/group-client.js';
import { byTopic, CONSUMER_EVENTS, type ConsumerRunConfig, type EmitEvent, type TopicOffsets } from './consumer-config.js';
import type { Membership } from './membership.js';
import type { Owned, Positions } from './positions.js';

export class Committer {
  /** Records processed since the last commit (autoCommitThreshold counts them). */
  #uncommitted = 0;
  /** Monotonic time of the last commit attempt (autoCommitInterval is a duration). */
  #lastCommitAt = Number.NEGATIVE_INFINITY;

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
    if (owned.resolved === null || next > owned.resolved) {
      this.#uncommitted += next - (owned.resolved ?? owned.position);
      owned.resolved = next;
    }
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

  /** Commits when autoCommitInterval has passed or autoCommitThreshold records were processed. */
  async maybeAutoCommit(config: ConsumerRunConfig): Promise<void> {
    if (config.autoCommit === false) return;
    const interval = config.autoCommitInterval ?? 5_000;
    const threshold = config.autoCommitThreshold ?? null;
    const due = (interval !== null && performance.now() - this.#lastCommitAt >= interval) || (threshold !== null && this.#uncommitted >= threshold);
    // Not while a cooperative rejoin runs: a commit then may meet the group completing its rebalance.
    if (due && this.membership.backgroundJoin === null) await this.commitResolved().catch((error: unknown) => this.membership.onGroupError(error));
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
    this.#uncommitted = 0;
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
