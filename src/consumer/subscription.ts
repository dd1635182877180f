// The topics a group member asked for. A RegExp is expanded to the topics it
// matches when subscribe() is called (as KafkaJS does), so only names are kept.
import type { TopicRegistry } from '../topics/topic-registry.js';

export class Subscription {
  readonly #topics = new Map<string, { fromBeginning: boolean }>();

  get isEmpty(): boolean {
    return this.#topics.size === 0;
  }

  add(topic: string, fromBeginning: boolean): void {
    // A topic named twice starts from the beginning if either subscription says so.
    const known = this.#topics.get(topic);
    this.#topics.set(topic, { fromBeginning: fromBeginning || (known?.fromBeginning ?? false) });
  }

  /** Subscribed topics that exist, sorted. */
  topics(registry: TopicRegistry): string[] {
    return registry
      .list()
      .map((t) => t.name)
      .filter((name) => this.#topics.has(name))
      .sort();
  }

  fromBeginning(topic: string): boolean {
    return this.#topics.get(topic)?.fromBeginning ?? false;
  }

  /** Partition counts of the subscribed topics, e.g. `orders:3,audit:1`: a change means a rebalance. */
  layout(registry: TopicRegistry): string {
    return this.topics(registry)
      .map((t) => `${t}:${registry.get(t).numPartitions}`)
      .join(',');
  }
}
