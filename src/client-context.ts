// What a client of a data directory needs from it: the producer, consumer and
// admin take this, not the Fjord class, so that clients and the entry point do
// not import each other, and so that another front (the Kafka protocol server
// to come) can hand clients the same directory.
import type { GroupClient } from './groups/group-client.js';
import type { Logger } from './logger.js';
import type { TopicRegistry } from './topics/topic-registry.js';

/** A client that Fjord's close() disconnects while it is connected. */
export interface ConnectedClient {
  disconnect(): Promise<void>;
}

/** The order close() disconnects clients in: consumers stop before producers write what they queued. */
export type ClientKind = 'consumer' | 'producer';

export interface ClientContext {
  /** The data directory (absolute). */
  readonly dir: string;
  readonly clientId: string;
  /** Kafka's `auto.create.topics.enable` default for clients that do not set it. */
  readonly allowAutoTopicCreation: boolean;
  /** Partitions of an auto-created topic (Kafka's `num.partitions`). */
  readonly numPartitions: number;
  /** Wall-clock milliseconds since the epoch: record, commit and creation timestamps come from here. */
  readonly clock: () => number;
  /** The root logger; clients take namespaces of it. */
  logger(): Logger;
  /** The topic registry; opens the data directory on first use. */
  topics(): Promise<TopicRegistry>;
  /** The registry once open; throws `NotConnectedError` before that or after close. */
  openedTopics(): TopicRegistry;
  /** Group calls, to this thread's coordinator or to the host thread's. */
  groupClient(): Promise<GroupClient>;
  /** A client connected: close() disconnects it unless it disconnects first. */
  attach(client: ConnectedClient, kind: ClientKind): void;
  /** A client disconnected: close() leaves it alone. */
  detach(client: ConnectedClient): void;
}
