// Time- and size-based retention: whole sealed segments go, oldest first,
// never the active one (as in Kafka).
import type { SegmentInfo } from '../storage/log.js';
import { numericConfig, type TopicConfigs } from './topic-config.js';
import type { TopicRegistry } from './topic-registry.js';

export interface RetentionResult {
  topic: string;
  partition: number;
  segmentsDeleted: number;
  logStartOffset: number;
}

/**
 * Base offset of the first segment to keep, or null when nothing expires.
 * By time: a sealed segment whose largest timestamp is older than
 * `retention.ms`. By size: the oldest sealed segments while what remains
 * stays at or above `retention.bytes`. Only a prefix of the log is deleted.
 */
export function retentionCut(segments: readonly SegmentInfo[], configs: TopicConfigs, now: number): number | null {
  const sealed = segments.length - 1;
  let cut = 0;
  const retentionMs = numericConfig(configs, 'retention.ms');
  if (retentionMs >= 0 && retentionMs !== Infinity) {
    while (cut < sealed && now - segments[cut]!.maxTimestamp > retentionMs) cut++;
  }
  const retentionBytes = numericConfig(configs, 'retention.bytes');
  if (retentionBytes >= 0 && retentionBytes !== Infinity) {
    let remaining = segments.slice(cut).reduce((sum, s) => sum + s.size, 0);
    while (cut < sealed && remaining - segments[cut]!.size >= retentionBytes) {
      remaining -= segments[cut]!.size;
      cut++;
    }
  }
  return cut > 0 ? segments[cut]!.baseOffset : null;
}

/** Runs retention over every topic now, then every `intervalMs` once started. */
export class RetentionCleaner {
  #timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly registry: TopicRegistry,
    private readonly clock: () => number,
    private readonly onError: (error: Error, context: string) => void,
  ) {}

  start(intervalMs: number): void {
    this.stop();
    this.#timer = setInterval(() => this.runOnce(), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  runOnce(): RetentionResult[] {
    const now = this.clock();
    const results: RetentionResult[] = [];
    for (const topic of this.registry.list()) {
      for (const partition of topic.partitions) {
        const log = partition.log;
        if (log.closed) continue;
        try {
          const cut = retentionCut(log.segments(), topic.configs, now);
          if (cut === null) continue;
          // Moves the start only up to the first kept segment: records past it stay readable.
          const segmentsDeleted = log.deleteSegmentsBefore(Math.max(cut, log.logStartOffset));
          results.push({ topic: topic.name, partition: partition.id, segmentsDeleted, logStartOffset: log.logStartOffset });
        } catch (error) {
          // One partition's failure (say, an I/O error) must not stop the others or crash the process.
          this.onError(error as Error, `retention of ${topic.name}-${partition.id}`);
        }
      }
    }
    return results;
  }
}
