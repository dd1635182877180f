// Where a consumer is in each partition it reads: the next offset to fetch,
// what it processed and committed, seeks waiting for the next fetch, pauses,
// and the reset policy for a position that is unknown or fell out of the log.
// Group members (run) and manual assignment (poll) share it.
import { OffsetOutOfRangeError } from '../errors.js';
import type { LogSlice } from '../storage/log.js';
import type { Partition } from '../topics/partition.js';
import type { TopicRegistry } from '../topics/topic-registry.js';
import { type AutoOffsetReset, topicPartitionList } from './consumer-config.js';

/** A partition this consumer reads: where it is, and what it has processed. */
export interface Owned {
  topic: string;
  partition: Partition;
  /** Next offset to fetch. */
  position: number;
  /** Next offset to commit (last processed + 1); null while nothing was processed. */
  resolved: number | null;
  committed: number | null;
}

/** A position not known yet: the committed offset is being looked up. */
const UNRESOLVED = -1;
/** KafkaJS's special seek offsets: the log start and the log end at the next fetch. */
export const EARLIEST = -2;
export const LATEST = -1;

export const partitionKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export class Positions {
  readonly #owned = new Map<string, Owned>();
  readonly #paused = new Set<string>();
  readonly #pausedTopics = new Set<string>();
  /** Seeks not applied yet, by partition: applied at the next fetch of the partition while assigned (as KafkaJS). */
  readonly #seeks = new Map<string, number>();

  constructor(
    private readonly groupId: string,
    /** The policy for a topic's partitions without a usable position. */
    private readonly policy: (topic: string) => AutoOffsetReset,
  ) {}

  get size(): number {
    return this.#owned.size;
  }

  owned(): Owned[] {
    return [...this.#owned.values()];
  }

  get(topic: string, partition: number): Owned | undefined {
    return this.#owned.get(partitionKey(topic, partition));
  }

  /** The assignment held now, as `{ topic: [partitions] }`. */
  assignment(): Record<string, number[]> {
    const owned: Record<string, number[]> = {};
    for (const o of this.#owned.values()) (owned[o.topic] ??= []).push(o.partition.id);
    return owned;
  }

  /** The assignment and the positions in it are gone (the member left the group). */
  clear(): void {
    this.#owned.clear();
  }

  /**
   * Takes on a new assignment: kept partitions keep their position; new ones
   * start at the committed offset or the reset policy (resolved later when
   * `committedOffsets` does not have them).
   */
  assign(registry: TopicRegistry, assignment: Record<string, number[]>, committedOffsets: Map<string, number | null> | null): void {
    const next = new Map<string, Owned>();
    for (const [topic, partitions] of Object.entries(assignment)) {
      if (!registry.has(topic)) continue;
      for (const p of partitions) {
        const k = partitionKey(topic, p);
        const kept = this.#owned.get(k);
        if (kept !== undefined) {
          next.set(k, kept);
          continue;
        }
        const partition = registry.get(topic).partition(p);
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
  async resolve(committed: (topic: string, partition: number) => Promise<number | null>): Promise<void> {
    for (const owned of this.#owned.values()) {
      if (owned.position !== UNRESOLVED) continue;
      const offset = await committed(owned.topic, owned.partition.id);
      if (owned.position !== UNRESOLVED) continue;
      owned.committed = offset;
      owned.position = this.#startOffset(owned.topic, owned.partition, offset);
    }
  }

  #startOffset(topic: string, partition: Partition, committed: number | null): number {
    const log = partition.log;
    if (committed !== null && committed >= log.logStartOffset && committed <= log.logEndOffset) return committed;
    return this.#reset(
      topic,
      partition,
      committed === null
        ? `no committed offset for ${topic}-${partition.id} in group ${this.groupId}`
        : `committed offset ${committed} of ${topic}-${partition.id} is outside the log [${log.logStartOffset}, ${log.logEndOffset}]`,
    );
  }

  /** Where the reset policy puts a partition whose position is unknown or out of range (`why` says which); `none` throws. */
  #reset(topic: string, partition: Partition, why: string): number {
    const log = partition.log;
    const policy = this.policy(topic);
    if (policy === 'none') throw new OffsetOutOfRangeError(`${why} and autoOffsetReset is none`);
    return policy === 'earliest' ? log.logStartOffset : log.logEndOffset;
  }

  /** The log's bytes at the partition's position; null at the log end, or after applying the reset policy to a position out of range. */
  slice(owned: Owned, maxBytes: number): LogSlice | null {
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

  /** Records `at` (an offset, EARLIEST or LATEST) for the partition's next fetch. */
  seek(topic: string, partition: number, at: number): void {
    this.#seeks.set(partitionKey(topic, partition), at);
  }

  hasPendingSeek(owned: Owned): boolean {
    return this.#seeks.has(partitionKey(owned.topic, owned.partition.id));
  }

  clearSeeks(): void {
    this.#seeks.clear();
  }

  /** Applies a seek waiting for this partition, if any; true if there was one. */
  applySeek(owned: Owned): boolean {
    const k = partitionKey(owned.topic, owned.partition.id);
    const at = this.#seeks.get(k);
    if (at === undefined) return false;
    this.#seeks.delete(k);
    const log = owned.partition.log;
    const position = at === EARLIEST ? log.logStartOffset : at === LATEST ? log.logEndOffset : at;
    owned.position = position;
    owned.resolved = position;
    return true;
  }

  isPaused(owned: Owned): boolean {
    return this.#pausedTopics.has(owned.topic) || this.#paused.has(partitionKey(owned.topic, owned.partition.id));
  }

  pause(topicPartitions: { topic: string; partitions?: number[] }[]): void {
    for (const { topic, partitions } of topicPartitionList(topicPartitions, 'pause')) {
      if (partitions === undefined) this.#pausedTopics.add(topic);
      else for (const p of partitions) this.#paused.add(partitionKey(topic, p));
    }
  }

  resume(topicPartitions: { topic: string; partitions?: number[] }[]): void {
    for (const { topic, partitions } of topicPartitionList(topicPartitions, 'resume')) {
      if (partitions === undefined) {
        this.#pausedTopics.delete(topic);
        for (const k of [...this.#paused]) if (k.startsWith(`${topic}\u0000`)) this.#paused.delete(k);
      } else for (const p of partitions) this.#paused.delete(partitionKey(topic, p));
    }
  }

  paused(registry: TopicRegistry | null): { topic: string; partitions: number[] }[] {
    const byTopic = new Map<string, number[]>();
    for (const k of this.#paused) {
      const [topic, p] = k.split('\u0000') as [string, string];
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), Number(p)]);
    }
    for (const topic of this.#pausedTopics) byTopic.set(topic, registry?.has(topic) ? registry.get(topic).partitions.map((p) => p.id) : []);
    return [...byTopic.entries()].map(([topic, partitions]) => ({ topic, partitions: partitions.sort((a, b) => a - b) }));
  }

  /**
   * Waits for an append to a partition read and not paused, for `wake` to be
   * called (it is handed to `onWait`), or for `timeoutMs`.
   */
  async waitForAppend(timeoutMs: number, onWait?: (wake: () => void) => void): Promise<void> {
    const appends = this.owned()
      .filter((o) => !this.isPaused(o))
      .map((o) => o.partition.nextAppend());
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      ...appends,
      new Promise<void>((resolve) => {
        onWait?.(resolve);
        timer = setTimeout(resolve, Math.max(0, timeoutMs));
      }),
    ]);
    clearTimeout(timer);
  }
}

/** The check seek() makes before it records a seek: offsets are never negative but for EARLIEST and LATEST. */
export function checkSeekOffset(topic: string, partition: number, at: number): void {
  if (at < 0 && at !== EARLIEST && at !== LATEST) {
    throw new OffsetOutOfRangeError(`seek to offset ${at} of ${topic}-${partition}: offsets are never negative (-2 is the earliest, -1 the latest)`);
  }
}
