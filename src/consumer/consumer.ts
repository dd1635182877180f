// KafkaJS's consumer on the embedded store: subscribe and run with
// eachMessage / eachBatch inside a consumer group (or assign and poll without
// one). Keys and values handed to handlers view their fetch's own memory
// (docs/store.md#values-are-the-readers-own). This facade checks calls and wires the parts: subscription,
// positions, membership, committer, the fetch runner and manual assignment.
import { describeValue, kafkaJsFlag } from '../arguments.js';
import type { ClientContext } from '../client-context.js';
import { InvalidArgumentError, NotConnectedError, NumberOfRetriesExceededError } from '../errors.js';
import type { PartitionAssigner } from '../groups/assigner-protocol.js';
import type { GroupClient } from '../groups/group-client.js';
import { checkEventName, Instrumentation } from '../instrumentation.js';
import type { Logger } from '../logger.js';
import { toOffset } from '../storage/log.js';
import type { TopicRegistry } from '../topics/topic-registry.js';
import { Committer } from './committer.js';
import {
  CONSUMER_EVENTS,
  type ConsumerConfig,
  type ConsumerOptions,
  type ConsumerRunConfig,
  checkRunConfig,
  consumerOptions,
  type PolledRecord,
} from './consumer-config.js';
import { FetchRunner } from './fetch-runner.js';
import { ManualAssignment } from './manual-assignment.js';
import { Membership } from './membership.js';
import { checkSeekOffset, Positions } from './positions.js';
import { type Backoff, backoffOptions } from './retry.js';
import { Subscription } from './subscription.js';

export type { KafkaMessage } from './kafka-message.js';
export type { Batch, ConsumerConfig, ConsumerRunConfig, EachBatchPayload, EachMessagePayload, PolledRecord } from './consumer-config.js';

/** The parts that exist while the consumer is connected. */
interface Connection {
  registry: TopicRegistry;
  coordinator: GroupClient;
  membership: Membership;
  committer: Committer;
  runner: FetchRunner;
  stopWatchingPartitions: () => void;
  /** disconnect() began: calls from now on are NotConnectedError. */
  closing: boolean;
}

export class Consumer {
  readonly events = CONSUMER_EVENTS;
  readonly #instrumentation: Instrumentation;
  readonly #logger: Logger;
  readonly #context: ClientContext;
  readonly #options: ConsumerOptions;
  readonly #retry: Backoff;
  #connecting: Promise<void> | null = null;
  #disconnecting: Promise<void> | null = null;
  #stopping: Promise<void> | null = null;
  /** A restart after a crash, waiting its time (KafkaJS's restartTimeout). */
  #restartTimer: NodeJS.Timeout | null = null;
  /** Counts stops: a crash reported after a stop does not restart the consumer. */
  #stops = 0;
  readonly #assigners: ReturnType<PartitionAssigner>[];
  readonly #subscription = new Subscription();
  readonly #positions: Positions;
  #connection: Connection | null = null;
  /** Set once assign() was called: the consumer reads without a group. */
  #manual: ManualAssignment | null = null;
  readonly #emit = (type: string, payload: unknown) => this.#instrumentation.emit(type, payload);

  constructor(context: ClientContext, config: ConsumerConfig) {
    this.#context = context;
    this.#options = consumerOptions(config, context);
    this.#retry = backoffOptions(config.retry);
    this.#logger = context.logger().namespace('Consumer');
    this.#instrumentation = new Instrumentation(this.#logger);
    const { groupId, autoOffsetReset } = this.#options;
    // As KafkaJS: assigners get the cluster's metadata, the group id and a logger (cooperative-sticky warns through it).
    const logger = context.logger().namespace('Assigner');
    const cluster = { findTopicPartitionMetadata: (topic: string) => this.#partitionMetadata(topic) };
    this.#assigners = this.#options.partitionAssigners.map((factory) => factory({ cluster, groupId, logger }));
    this.#positions = new Positions(groupId, (topic) => autoOffsetReset ?? (this.#subscription.fromBeginning(topic) ? 'earliest' : 'latest'));
  }

  on(event: string, listener: (event: unknown) => unknown): () => void {
    checkEventName('consumer', this.events, event);
    return this.#instrumentation.on(event, listener);
  }

  /** This client's logger (KafkaJS's `consumer.logger()`). */
  logger(): Logger {
    return this.#logger;
  }

  async connect(): Promise<void> {
    // Connecting while a disconnect runs: connect again once it is done.
    if (this.#disconnecting !== null) await this.#disconnecting;
    if (this.#connection !== null) {
      this.#emit(CONSUMER_EVENTS.CONNECT, null);
      return;
    }
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = null;
    });
    return this.#connecting;
  }

  async #connect(): Promise<void> {
    const registry = await this.#context.topics();
    const coordinator = await this.#context.groupClient();
    const wakeUp = () => this.#connection?.runner.wakeUp();
    const membership = new Membership({
      options: this.#options,
      clientId: this.#context.clientId,
      assigners: this.#assigners,
      coordinator,
      registry,
      subscription: this.#subscription,
      positions: this.#positions,
      emit: this.#emit,
      wakeUp,
      logger: this.#context.logger().namespace('ConsumerGroup'),
    });
    const committer = new Committer(this.#options.groupId, coordinator, membership, this.#positions, this.#emit);
    const runner = new FetchRunner(
      this.#options,
      this.#positions,
      membership,
      committer,
      this.#emit,
      (topic, partition) => this.resume([{ topic, partitions: [partition] }]),
      this.#retry,
      this.#context.logger().namespace('Runner'),
    );
    // As a Kafka consumer does on a metadata refresh: a subscribed topic that gained partitions is rebalanced.
    const stopWatchingPartitions = registry.onPartitionsAdded(wakeUp);
    this.#connection = { registry, coordinator, membership, committer, runner, stopWatchingPartitions, closing: false };
    this.#context.attach(this, 'consumer');
    this.#emit(CONSUMER_EVENTS.CONNECT, null);
  }

  /**
   * Stops (waiting for the handler in flight and committing what it
   * processed), leaves the group, and ends polls in progress. Calls made
   * meanwhile are NotConnectedError; concurrent disconnects share the one.
   */
  async disconnect(): Promise<void> {
    if (this.#connecting !== null) await this.#connecting.catch(() => undefined);
    const connection = this.#connection;
    // As KafkaJS: disconnecting a disconnected consumer resolves and reports the event again.
    if (connection === null) {
      this.#emit(CONSUMER_EVENTS.DISCONNECT, null);
      return;
    }
    this.#disconnecting ??= this.#disconnect(connection).finally(() => {
      this.#disconnecting = null;
    });
    return this.#disconnecting;
  }

  async #disconnect(connection: Connection): Promise<void> {
    connection.closing = true;
    this.#manual?.stop();
    try {
      await this.stop();
    } finally {
      connection.membership.stopHeartbeats();
      connection.membership.close();
      connection.stopWatchingPartitions();
      this.#connection = null;
      this.#manual = null;
      this.#context.detach(this);
    }
    this.#emit(CONSUMER_EVENTS.DISCONNECT, null);
  }

  #connected(): Connection {
    if (this.#connection === null) throw new NotConnectedError('consumer is not connected: call consumer.connect() first');
    if (this.#connection.closing) throw new NotConnectedError('consumer is disconnecting');
    return this.#connection;
  }

  async subscribe(subscription: { topics?: (string | RegExp)[]; topic?: string | RegExp; fromBeginning?: boolean }): Promise<void> {
    const { registry, runner } = this.#connected();
    if (runner.running) throw new InvalidArgumentError('subscribe before run(): the consumer is already running');
    if (this.#manual !== null) throw new InvalidArgumentError('this consumer uses assign(); subscribe and assign do not mix');
    const topics = subscription?.topics ?? (subscription?.topic !== undefined ? [subscription.topic] : undefined);
    if (!Array.isArray(topics) || topics.length === 0) throw new InvalidArgumentError('subscribe needs topic or topics (strings or RegExps)');
    // As KafkaJS: by truthiness ('true' and 1 start from the beginning).
    const fromBeginning = kafkaJsFlag(subscription.fromBeginning, false);
    for (const topic of topics) {
      if (typeof topic === 'string') {
        if (!registry.has(topic)) {
          if (!this.#options.allowAutoTopicCreation) registry.get(topic);
          await registry.create(topic, this.#context.numPartitions, {});
        }
        this.#subscription.add(topic, fromBeginning);
      } else if (topic instanceof RegExp) {
        // As KafkaJS: a RegExp subscribes to the topics it matches now, not to topics created later.
        for (const { name } of registry.list()) {
          topic.lastIndex = 0;
          if (topic.test(name)) this.#subscription.add(name, fromBeginning);
        }
      } else {
        throw new InvalidArgumentError(`subscribe: ${JSON.stringify(topic)} is neither a topic name nor a RegExp`);
      }
    }
  }

  #partitionMetadata(topic: string): { partitionId: number; leader: number }[] {
    // Asked during a join, which may run while the consumer disconnects.
    const connection = this.#connection;
    if (connection === null) throw new NotConnectedError('consumer is not connected: call consumer.connect() first');
    return connection.registry.get(topic).partitions.map((p) => ({ partitionId: p.id, leader: 0 }));
  }

  async run(config: ConsumerRunConfig = {}): Promise<void> {
    if (config === null || typeof config !== 'object') throw new InvalidArgumentError(`run(config): config must be an object, got ${describeValue(config)}`);
    const { runner, membership } = this.#connected();
    if (runner.running) {
      // As KafkaJS: a second run() is a warning, not an error.
      this.#context.logger().namespace('Consumer').warn('consumer#run was called, but the consumer is already running', { groupId: this.#options.groupId });
      return;
    }
    const checked = checkRunConfig(config);
    if (this.#subscription.isEmpty) throw new InvalidArgumentError('subscribe to a topic before run()');
    this.#clearRestart();
    this.#logger.info('Starting', { groupId: this.#options.groupId });
    const stops = this.#stops;
    await runner.start(checked, (error) => {
      this.#crashed(error, membership, checked, stops).catch((failure: unknown) =>
        this.#logger.error(`Caught error when handling a crash: ${String(failure)}`, { groupId: this.#options.groupId }),
      );
    });
  }

  /**
   * As KafkaJS's onCrash: logs the crash, leaves the group (the others take
   * the partitions), reports CRASH, and restarts after the last retry's wait
   * when the handler ran out of retries and `retry.restartOnFailure` (if
   * given) agrees. Fjord's own errors (a damaged batch, a reset policy of
   * none, a closed directory) are final: no restart.
   */
  async #crashed(error: unknown, membership: Membership, config: ConsumerRunConfig, stops: number): Promise<void> {
    const groupId = this.#options.groupId;
    const e = error instanceof Error ? error : new Error(String(error));
    const exhausted = error instanceof NumberOfRetriesExceededError ? error : null;
    this.#logger.error(`Crash: ${e.name}: ${e.message}`, { groupId, retryCount: exhausted?.retryCount, stack: e.stack });
    await membership.leave();
    let restart = exhausted !== null;
    if (restart && this.#retry.restartOnFailure !== null) {
      try {
        restart = (await this.#retry.restartOnFailure(e)) === true;
      } catch (failure) {
        this.#logger.error('Caught error when invoking user-provided "restartOnFailure" callback. Defaulting to restarting.', {
          error: failure instanceof Error ? failure.message : String(failure),
          cause: e.message,
          groupId,
        });
        restart = true;
      }
    }
    this.#emit(CONSUMER_EVENTS.CRASH, { error, groupId, restart });
    // Stopped or disconnected meanwhile: nothing to restart.
    if (!restart || stops !== this.#stops || this.#connection === null || this.#connection.closing) return;
    const retryTime = exhausted?.retryTime || this.#retry.initialRetryTime;
    this.#logger.error(`Restarting the consumer in ${retryTime}ms`, { retryCount: exhausted?.retryCount, retryTime, groupId });
    this.#clearRestart();
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = null;
      this.run(config).catch((failure: unknown) =>
        this.#logger.error(`Caught error when restarting the consumer: ${failure instanceof Error ? failure.message : String(failure)}`, {
          groupId,
          stack: failure instanceof Error ? failure.stack : undefined,
        }),
      );
    }, retryTime);
  }

  #clearRestart(): void {
    if (this.#restartTimer !== null) clearTimeout(this.#restartTimer);
    this.#restartTimer = null;
  }

  /** Stops consuming: commits what was processed (autoCommit), leaves the group. Concurrent stops share the one. */
  async stop(): Promise<void> {
    this.#stops++;
    this.#clearRestart();
    this.#stopping ??= this.#stop().finally(() => {
      this.#stopping = null;
    });
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    const connection = this.#connection;
    if (connection === null || !connection.runner.running) return;
    await connection.runner.stop();
    await connection.membership.leave();
    this.#emit(CONSUMER_EVENTS.STOP, null);
    this.#logger.info('Stopped', { groupId: this.#options.groupId });
  }

  /** Commits offsets (the next offset to read, as in Kafka) for this member's generation. */
  async commitOffsets(offsets: { topic: string; partition: number; offset: string; metadata?: string | null }[]): Promise<void> {
    const { registry, committer } = this.#connected();
    if (!Array.isArray(offsets)) throw new InvalidArgumentError('commitOffsets takes an array of { topic, partition, offset }');
    const parsed = offsets.map((o, i) => {
      if (o === null || typeof o !== 'object')
        throw new InvalidArgumentError(`commitOffsets: offsets[${i}] must be { topic, partition, offset }, got ${describeValue(o)}`);
      // As Kafka: a commit for a partition that does not exist is UNKNOWN_TOPIC_OR_PARTITION.
      registry.get(o.topic).partition(o.partition);
      return { topic: o.topic, partition: o.partition, offset: toOffset(o.offset), metadata: o.metadata ?? null };
    });
    await committer.commitOffsets(parsed, this.#manual === null);
  }

  /**
   * Moves the next fetch of a partition. As in KafkaJS, the seek is applied
   * at the next fetch of the partition once the group assigns it (so it may
   * come right after a `run()` that was not awaited), and the batch being
   * processed for it turns stale.
   */
  seek(target: { topic: string; partition: number; offset: string }): void {
    const { registry, runner } = this.#connected();
    if (target === null || typeof target !== 'object') throw new InvalidArgumentError(`seek takes { topic, partition, offset }, got ${describeValue(target)}`);
    const { topic, partition, offset } = target;
    registry.get(topic).partition(partition);
    const at = toOffset(offset);
    checkSeekOffset(topic, partition, at);
    if (this.#manual !== null && this.#positions.get(topic, partition) === undefined) {
      throw new InvalidArgumentError(`seek: ${topic}-${partition} is not assigned to this consumer`);
    }
    if (this.#manual === null && !runner.running) throw new InvalidArgumentError('seek: the consumer is not running: call run() first');
    this.#positions.seek(topic, partition, at);
    runner.wakeUp();
  }

  pause(topicPartitions: { topic: string; partitions?: number[] }[]): void {
    this.#positions.pause(topicPartitions);
  }

  resume(topicPartitions: { topic: string; partitions?: number[] }[]): void {
    this.#positions.resume(topicPartitions);
    this.#connection?.runner.wakeUp();
  }

  paused(): { topic: string; partitions: number[] }[] {
    return this.#positions.paused(this.#connection?.registry ?? null);
  }

  async describeGroup(): Promise<{ errorCode: number; groupId: string; members: unknown[]; protocol: string; protocolType: string; state: string }> {
    const { coordinator } = this.#connected();
    const d = await coordinator.describeGroup(this.#options.groupId);
    return { errorCode: 0, groupId: d.groupId, members: d.members, protocol: d.protocol, protocolType: d.protocolType, state: d.state };
  }

  /** Manual assignment without a group (Java's assign()): positions start at the committed offset or the reset policy. */
  assign(assignments: { topic: string; partitions: number[] }[]): void {
    const { registry, coordinator, runner } = this.#connected();
    if (!this.#subscription.isEmpty || runner.running) throw new InvalidArgumentError('this consumer uses subscribe(); subscribe and assign do not mix');
    const manual =
      this.#manual ??
      new ManualAssignment(this.#options.groupId, this.#positions, coordinator, this.#options.maxBytesPerPartition, this.#options.readUncommitted);
    manual.assign(registry, assignments);
    this.#manual = manual;
  }

  /**
   * Java-client style pull: up to `maxRecords` records from the assigned
   * partitions, waiting up to `timeoutMs` for the first. Positions advance;
   * commit with `commitOffsets`.
   */
  async poll({ maxRecords = 500, timeoutMs = 0 }: { maxRecords?: number; timeoutMs?: number } = {}): Promise<PolledRecord[]> {
    this.#connected();
    if (this.#manual === null) throw new InvalidArgumentError('poll() is for consumers that assign() partitions; subscribed consumers use run()');
    return this.#manual.poll(maxRecords, timeoutMs);
  }
}
