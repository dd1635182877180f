// A consumer without a group (Java's assign() and poll()): the caller names
// the partitions, positions start at the group's committed offsets or the
// reset policy, and poll() pulls records from the same positions run() uses.
import { InvalidArgumentError } from '../errors.js';
import type { GroupClient } from '../groups/group-client.js';
import { decompressRegistered, hasRegisteredCodecs } from '../record-batch/compression-codecs.js';
import { decodeMessages } from './kafka-message.js';
import type { TopicRegistry } from '../topics/topic-registry.js';
import { type PolledRecord, topicPartitionList } from './consumer-config.js';
import type { Positions } from './positions.js';

export class ManualAssignment {
  /** Ends the waits of polls in progress (the consumer is disconnecting). */
  readonly #wakes = new Set<() => void>();
  #stopped = false;

  constructor(
    private readonly groupId: string,
    private readonly positions: Positions,
    private readonly coordinator: GroupClient,
    private readonly maxBytesPerPartition: number,
    /** false: read_committed. */
    private readonly readUncommitted: boolean,
  ) {}

  /** Replaces the assignment; positions are resolved at the next poll. */
  assign(registry: TopicRegistry, assignments: { topic: string; partitions: number[] }[]): void {
    const next: Record<string, number[]> = {};
    for (const { topic, partitions } of topicPartitionList(assignments, 'assign')) {
      const t = registry.get(topic);
      if (partitions === undefined) throw new InvalidArgumentError(`assign: partitions of ${topic} must be an array of partition numbers`);
      for (const p of partitions) t.partition(p);
      next[topic] = partitions;
    }
    this.positions.assign(registry, next, null);
  }

  /** The consumer disconnects: a poll waiting for records returns what it has now. */
  stop(): void {
    this.#stopped = true;
    for (const wake of this.#wakes) wake();
  }

  /**
   * Up to `maxRecords` records from the assigned partitions, waiting up to
   * `timeoutMs` for the first. Positions advance; commit with `commitOffsets`.
   */
  async poll(maxRecords: number, timeoutMs: number): Promise<PolledRecord[]> {
    await this.positions.resolve(async (topic, partition) => (await this.coordinator.committed(this.groupId, topic, partition))?.offset ?? null);
    // A deadline for a real timer: measured on the monotonic clock.
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const out: PolledRecord[] = [];
      for (const owned of this.positions.owned()) {
        if (out.length >= maxRecords) break;
        if (this.positions.isPaused(owned)) continue;
        this.positions.applySeek(owned);
        let decoded = 0;
        try {
          const slice = this.positions.slice(owned, this.maxBytesPerPartition);
          if (slice === null) continue;
          // read_committed: nothing at or past the last stable offset, no aborted transaction's records.
          const committed = this.readUncommitted ? null : (owned.partition.transactions?.view(slice.nextOffset) ?? null);
          if (committed !== null && owned.position >= committed.lastStableOffset) continue;
          const decompressed = hasRegisteredCodecs() ? await decompressRegistered(slice.bytes, owned.position) : undefined;
          for (const message of decodeMessages(slice.bytes, owned.position, decompressed, committed)) {
            if (out.length >= maxRecords) break;
            out.push(Object.assign(message, { topic: owned.topic, partition: owned.partition.id }));
            owned.position = Number(message.offset) + 1;
            decoded++;
          }
          if (decoded === 0) owned.position = Math.min(slice.nextOffset, committed?.lastStableOffset ?? Infinity);
        } catch (error) {
          // As the Java client: records already collected come first; the position
          // stays at the failing batch, so the next poll raises the error again.
          if (out.length > 0) return out;
          throw error;
        }
      }
      const left = deadline - performance.now();
      if (out.length > 0 || left <= 0 || this.#stopped) return out;
      let wake: (() => void) | undefined;
      await this.positions.waitForAppend(left, (w) => {
        wake = w;
        this.#wakes.add(w);
      });
      if (wake !== undefined) this.#wakes.delete(wake);
      if (this.#stopped) return out;
    }
  }
}
