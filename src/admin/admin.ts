// KafkaJS's admin client, on the embedded store: same method names, argument
// objects and result shapes; offsets as decimal strings.
import { describeValue } from '../arguments.js';
import { InvalidArgumentError, InvalidPartitionsError, NotConnectedError, OffsetOutOfRangeError } from '../errors.js';
import type { ClientContext } from '../client-context.js';
import { checkEventName, Instrumentation, networkEvents } from '../instrumentation.js';
import type { Logger } from '../logger.js';
import { toOffset } from '../storage/log.js';
import { configDefault, topicConfigNames, validateTopicConfigs, type TopicConfigs } from '../topics/topic-config.js';
import type { GroupDescription } from '../groups/group-coordinator.js';
import { validatePartitionCount, type Topic, type TopicRegistry } from '../topics/topic-registry.js';
import { validateTopicName } from '../topics/topic-name.js';

export interface AdminConfig {
  /** Accepted for KafkaJS compatibility; nothing to retry against a local store. */
  retry?: unknown;
}

/** KafkaJS's `ConfigResourceTypes`. */
export const ConfigResourceTypes = { UNKNOWN: 0, TOPIC: 2, BROKER: 4, BROKER_LOGGER: 8 } as const;
/** KafkaJS's `ConfigSource`. */
export const ConfigSource = { UNKNOWN: 0, TOPIC_CONFIG: 1, DEFAULT_CONFIG: 5 } as const;

export interface ITopicConfig {
  topic: string;
  numPartitions?: number;
  /** Single node: any value is accepted and recorded as 1. */
  replicationFactor?: number;
  replicaAssignment?: unknown[];
  configEntries?: { name: string; value: string }[];
}

export interface PartitionMetadata {
  partitionErrorCode: number;
  partitionId: number;
  leader: number;
  replicas: number[];
  isr: number[];
  offlineReplicas: number[];
}

export interface ResourceConfigQuery {
  type: number;
  name: string;
  configNames?: string[];
}

export interface ConfigEntry {
  configName: string;
  configValue: string;
  isDefault: boolean;
  configSource: number;
  isSensitive: boolean;
  readOnly: boolean;
  configSynonyms: { configName: string; configValue: string; configSource: number }[];
}

export interface SeekEntry {
  partition: number;
  offset: string;
}

const NODE_ID = 0;

export class Admin {
  readonly events = { CONNECT: 'admin.connect', DISCONNECT: 'admin.disconnect', ...networkEvents('admin') } as const;
  readonly #instrumentation: Instrumentation;
  readonly #logger: Logger;
  #connected = false;

  readonly #context: ClientContext;

  constructor(context: ClientContext, _config?: AdminConfig) {
    this.#context = context;
    this.#logger = context.logger().namespace('Admin');
    this.#instrumentation = new Instrumentation(this.#logger);
  }

  /** This client's logger (KafkaJS's `admin.logger()`). */
  logger(): Logger {
    return this.#logger;
  }

  async connect(): Promise<void> {
    await this.#context.topics();
    this.#connected = true;
    this.#instrumentation.emit(this.events.CONNECT, null);
  }

  async disconnect(): Promise<void> {
    // As KafkaJS: a second disconnect resolves and reports the event again.
    this.#connected = false;
    this.#instrumentation.emit(this.events.DISCONNECT, null);
  }

  /** KafkaJS instrumentation events; returns a function that removes the listener. */
  on(event: string, listener: (event: unknown) => unknown): () => void {
    checkEventName('admin', this.events, event);
    return this.#instrumentation.on(event, listener);
  }

  #topics(): TopicRegistry {
    if (!this.#connected) throw new NotConnectedError('admin is not connected: call admin.connect() first');
    return this.#context.openedTopics();
  }

  /** Topic names; in a Kafka broker's adopted log directory, Kafka's internal topics too (as a broker lists them to KafkaJS). */
  async listTopics(): Promise<string[]> {
    const registry = this.#topics();
    return [...registry.list().map((t) => t.name), ...registry.kafkaInternalTopics()];
  }

  /** Creates topics; resolves false when any of them existed already (as KafkaJS does). */
  async createTopics(options: { topics: ITopicConfig[]; validateOnly?: boolean; waitForLeaders?: boolean; timeout?: number }): Promise<boolean> {
    const registry = this.#topics();
    if (!Array.isArray(options?.topics)) throw new InvalidArgumentError('createTopics: options.topics must be an array');
    const planned = options.topics.map((t) => {
      const name = validateTopicName(t?.topic);
      const partitions = t.numPartitions === undefined || t.numPartitions === -1 ? this.#context.numPartitions : validatePartitionCount(t.numPartitions);
      const configs = validateTopicConfigs(t.configEntries ?? []);
      return { name, partitions, configs };
    });
    const names = new Set<string>();
    for (const { name } of planned) {
      if (names.has(name)) throw new InvalidArgumentError(`createTopics: topic ${name} is listed twice`);
      names.add(name);
    }
    if (options.validateOnly) return planned.every(({ name }) => !registry.has(name));
    let allCreated = true;
    for (const { name, partitions, configs } of planned) {
      if (!(await registry.create(name, partitions, configs))) allCreated = false;
    }
    return allCreated;
  }

  async deleteTopics(options: { topics: string[]; timeout?: number }): Promise<void> {
    const registry = this.#topics();
    if (!Array.isArray(options?.topics)) throw new InvalidArgumentError('deleteTopics: options.topics must be an array');
    for (const name of options.topics) registry.get(name);
    for (const name of options.topics) await registry.delete(name);
  }

  /** Grows topics; a count that is not larger than the current one is `InvalidPartitionsError`, as in Kafka. */
  async createPartitions(options: { topicPartitions: { topic: string; count: number }[]; validateOnly?: boolean; timeout?: number }): Promise<boolean> {
    const registry = this.#topics();
    if (!Array.isArray(options?.topicPartitions)) throw new InvalidArgumentError('createPartitions: options.topicPartitions must be an array');
    // Every entry is checked before any topic grows.
    for (const entry of options.topicPartitions) {
      if (entry === null || typeof entry !== 'object')
        throw new InvalidArgumentError(`createPartitions: each entry must be { topic, count }, got ${describeValue(entry)}`);
      const topic = registry.get(entry.topic);
      validatePartitionCount(entry.count, `count for topic ${topic.name}`);
      if (entry.count <= topic.numPartitions) {
        throw new InvalidPartitionsError(`topic ${topic.name} has ${topic.numPartitions} partitions; it can only grow, and ${entry.count} is not more`);
      }
    }
    if (options.validateOnly) return true;
    for (const { topic, count } of options.topicPartitions) await registry.addPartitions(topic, count);
    return true;
  }

  async fetchTopicMetadata(options?: { topics?: string[] }): Promise<{ topics: { name: string; partitions: PartitionMetadata[] }[] }> {
    const registry = this.#topics();
    const topics = options?.topics?.length ? options.topics.map((name) => registry.get(name)) : registry.list();
    return {
      topics: topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((p) => ({
          partitionErrorCode: 0,
          partitionId: p.id,
          leader: NODE_ID,
          replicas: [NODE_ID],
          isr: [NODE_ID],
          offlineReplicas: [],
        })),
      })),
    };
  }

  /** Per partition: `offset` and `high` are the log end offset, `low` the log start offset. */
  async fetchTopicOffsets(topic: string): Promise<(SeekEntry & { high: string; low: string })[]> {
    return this.#topics()
      .get(topic)
      .partitions.map((p) => {
        const high = String(p.log.logEndOffset);
        return { partition: p.id, offset: high, high, low: String(p.log.logStartOffset) };
      });
  }

  /**
   * Per partition, the first offset whose timestamp is >= `timestamp`; the log
   * end offset when every record is older (where a consumer would start).
   * Without a timestamp, the log end offset.
   */
  async fetchTopicOffsetsByTimestamp(topic: string, timestamp?: number): Promise<SeekEntry[]> {
    if (timestamp !== undefined && !Number.isSafeInteger(timestamp)) {
      throw new InvalidArgumentError(`fetchTopicOffsetsByTimestamp: timestamp must be an integer, got ${describeValue(timestamp)}`);
    }
    return this.#topics()
      .get(topic)
      .partitions.map((p) => {
        const found = timestamp === undefined ? null : p.log.offsetForTimestamp(timestamp);
        return { partition: p.id, offset: String(found ?? p.log.logEndOffset) };
      });
  }

  async describeCluster(): Promise<{ brokers: { nodeId: number; host: string; port: number }[]; controller: number; clusterId: string }> {
    this.#topics();
    return { brokers: [{ nodeId: NODE_ID, host: 'localhost', port: 0 }], controller: NODE_ID, clusterId: `fjord:${this.#context.dir}` };
  }

  async describeConfigs(options: { resources: ResourceConfigQuery[]; includeSynonyms?: boolean }): Promise<{
    resources: { configEntries: ConfigEntry[]; errorCode: number; errorMessage: string | null; resourceName: string; resourceType: number }[];
    throttleTime: number;
  }> {
    const registry = this.#topics();
    if (!Array.isArray(options?.resources)) throw new InvalidArgumentError('describeConfigs: options.resources must be an array');
    return {
      resources: options.resources.map((resource) => {
        const topic = this.#topicResource(registry, resource);
        const names = resource.configNames?.length ? resource.configNames : topicConfigNames;
        return {
          configEntries: names.map((name) => describeEntry(topic.configs, name, options.includeSynonyms === true)),
          errorCode: 0,
          errorMessage: null,
          resourceName: topic.name,
          resourceType: ConfigResourceTypes.TOPIC,
        };
      }),
      throttleTime: 0,
    };
  }

  /**
   * Kafka's AlterConfigs, as KafkaJS sends it: the entries given replace the
   * topic's overrides; configs not named return to their defaults.
   */
  async alterConfigs(options: {
    validateOnly?: boolean;
    resources: { type: number; name: string; configEntries: { name: string; value: string }[] }[];
  }): Promise<{
    resources: { errorCode: number; errorMessage: string | null; resourceName: string; resourceType: number }[];
    throttleTime: number;
  }> {
    const registry = this.#topics();
    if (!Array.isArray(options?.resources)) throw new InvalidArgumentError('alterConfigs: options.resources must be an array');
    const planned = options.resources.map((resource) => ({
      topic: this.#topicResource(registry, resource),
      configs: validateTopicConfigs(resource.configEntries ?? []),
    }));
    if (!options.validateOnly) {
      for (const { topic, configs } of planned) await registry.setConfigs(topic.name, configs);
    }
    return {
      resources: planned.map(({ topic }) => ({ errorCode: 0, errorMessage: null, resourceName: topic.name, resourceType: ConfigResourceTypes.TOPIC })),
      throttleTime: 0,
    };
  }

  /**
   * Moves each partition's log start offset to `offset` (`-1`: the log end),
   * deleting whole segments below it. KafkaJS calls this `deleteTopicRecords`.
   */
  async deleteTopicRecords(options: { topic: string; partitions: SeekEntry[] }): Promise<void> {
    const topic = this.#topics().get(options?.topic);
    if (!Array.isArray(options.partitions)) throw new InvalidArgumentError('deleteTopicRecords: options.partitions must be an array');
    const cuts = options.partitions.map((entry) => {
      const { partition, offset } = seekEntry(entry, 'deleteTopicRecords');
      const p = topic.partition(partition);
      const requested = toOffset(offset);
      const end = p.log.logEndOffset;
      const at = requested === -1 ? end : requested;
      // Checked for every partition before any is cut.
      if (at < 0 || at > end) {
        throw new OffsetOutOfRangeError(
          `deleteTopicRecords: offset ${requested} of ${topic.name}-${p.id} is out of range: it must be -1 (the log end) or in [0, ${end}]`,
        );
      }
      return { p, at };
    });
    for (const { p, at } of cuts) p.log.deleteSegmentsBefore(at);
  }

  /** The same as `deleteTopicRecords`. */
  deleteRecords(options: { topic: string; partitions: SeekEntry[] }): Promise<void> {
    return this.deleteTopicRecords(options);
  }

  async listGroups(): Promise<{ groups: { groupId: string; protocolType: string }[] }> {
    this.#topics();
    return { groups: await (await this.#context.groupClient()).listGroups() };
  }

  async describeGroups(groupIds: string[]): Promise<{ groups: (GroupDescription & { errorCode: number })[] }> {
    this.#topics();
    if (!Array.isArray(groupIds)) throw new InvalidArgumentError('describeGroups takes an array of group ids');
    const groups = await this.#context.groupClient();
    return { groups: await Promise.all(groupIds.map((id) => groups.describeGroup(id))) };
  }

  /** Deletes groups that have no members, with their committed offsets. */
  async deleteGroups(groupIds: string[]): Promise<{ groupId: string; errorCode: number }[]> {
    this.#topics();
    if (!Array.isArray(groupIds)) throw new InvalidArgumentError('deleteGroups takes an array of group ids');
    return (await this.#context.groupClient()).deleteGroups(groupIds);
  }

  /**
   * Committed offsets of a group per partition (`-1`: none; with `resolveOffsets`,
   * as KafkaJS, none becomes the log end, committed so), with `lag`: log
   * end offset minus the committed offset (from the log start when none).
   */
  async fetchOffsets(options: {
    groupId: string;
    topics?: string[];
    resolveOffsets?: boolean;
  }): Promise<{ topic: string; partitions: { partition: number; offset: string; metadata: string | null; lag: string }[] }[]> {
    const registry = this.#topics();
    const groupId = options?.groupId;
    if (typeof groupId !== 'string' || groupId === '')
      throw new InvalidArgumentError(`fetchOffsets: groupId must be a non-empty string, got ${describeValue(groupId)}`);
    const groups = await this.#context.groupClient();
    let offsets = await groups.groupOffsets(groupId);
    const topics = options.topics ?? [...new Set(offsets.map((o) => o.topic))];
    if (options.resolveOffsets) {
      // As KafkaJS: a partition without a committed offset (-1, "latest") is set to the log end, and committed so.
      for (const name of topics) {
        const topic = registry.get(name);
        const partitions = topic.partitions
          .filter((p) => !offsets.some((o) => o.topic === name && o.partition === p.id))
          .map((p) => ({ partition: p.id, offset: String(p.log.logEndOffset) }));
        if (partitions.length > 0) await this.setOffsets({ groupId, topic: name, partitions });
      }
      offsets = await groups.groupOffsets(groupId);
    }
    return topics.map((name) => {
      const topic = registry.get(name);
      return {
        topic: name,
        partitions: topic.partitions.map((p) => {
          const committed = offsets.find((o) => o.topic === name && o.partition === p.id);
          const end = p.log.logEndOffset;
          return {
            partition: p.id,
            offset: String(committed?.offset ?? -1),
            metadata: committed?.metadata ?? null,
            lag: String(Math.max(0, end - Math.max(committed?.offset ?? p.log.logStartOffset, p.log.logStartOffset))),
          };
        }),
      };
    });
  }

  /** Sets a group's offsets for a topic to each partition's start (`earliest`) or end. The group must have no members. */
  async resetOffsets(options: { groupId: string; topic: string; earliest?: boolean }): Promise<void> {
    const topic = this.#topics().get(options?.topic);
    await this.setOffsets({
      groupId: options.groupId,
      topic: topic.name,
      partitions: topic.partitions.map((p) => ({ partition: p.id, offset: String(options.earliest ? p.log.logStartOffset : p.log.logEndOffset) })),
    });
  }

  /** Sets committed offsets of a group that has no members (Kafka's rule for admin commits). */
  async setOffsets(options: { groupId: string; topic: string; partitions: SeekEntry[] }): Promise<void> {
    const topic = this.#topics().get(options?.topic);
    if (!Array.isArray(options.partitions))
      throw new InvalidArgumentError(`setOffsets: partitions must be an array of { partition, offset }, got ${describeValue(options.partitions)}`);
    const groups = await this.#context.groupClient();
    const offsets = options.partitions.map((entry) => {
      const { partition, offset } = seekEntry(entry, 'setOffsets');
      topic.partition(partition);
      return { topic: topic.name, partition, offset: toOffset(offset) };
    });
    await groups.commitOffsets({ groupId: options.groupId, generationId: -1, memberId: '', offsets });
  }

  #topicResource(registry: TopicRegistry, resource: ResourceConfigQuery): Topic {
    if (resource?.type !== ConfigResourceTypes.TOPIC) {
      throw new InvalidArgumentError(
        `only topic resources (type ${ConfigResourceTypes.TOPIC}) have configs in Fjord, got type ${JSON.stringify(resource?.type)}`,
      );
    }
    return registry.get(resource.name);
  }
}

function seekEntry(entry: unknown, call: string): SeekEntry {
  if (entry === null || typeof entry !== 'object')
    throw new InvalidArgumentError(`${call}: each partition entry must be { partition, offset }, got ${describeValue(entry)}`);
  return entry as SeekEntry;
}

function describeEntry(configs: TopicConfigs, name: string, includeSynonyms: boolean): ConfigEntry {
  const override = configs[name];
  const value = override ?? configDefault(name);
  const source = override === undefined ? ConfigSource.DEFAULT_CONFIG : ConfigSource.TOPIC_CONFIG;
  return {
    configName: name,
    configValue: value,
    isDefault: override === undefined,
    configSource: source,
    isSensitive: false,
    readOnly: false,
    configSynonyms: includeSynonyms ? [{ configName: name, configValue: value, configSource: source }] : [],
  };
}
