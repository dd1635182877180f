// Topics of a data directory: their metadata (persisted with msgpackr) and
// the partition logs, one directory each, named `<topic>-<partition>` as in a
// Kafka broker's log directory.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';

import { Packr } from 'msgpackr';

import { describeValue } from '../arguments.js';
import { InvalidPartitionsError, InvalidTopicError, KafkaStorageError, TopicAlreadyExistsError, UnknownTopicOrPartitionError } from '../errors.js';
import type { Logger } from '../logger.js';
import { Log } from '../storage/log.js';
import { logRecovery } from '../storage/recovery-log.js';
import { type KafkaDirectoryScan, scanKafkaTopics } from './kafka-adoption.js';
import { Partition } from './partition.js';
import { logOptionsFor, type TopicConfigs } from './topic-config.js';
import { validateTopicName } from './topic-name.js';
import { TransactionState } from './transaction-state.js';

const METADATA_FILE = 'fjord-topics.msgpack';
/** Internal topics whose partition directories Fjord owns. */
const RESERVED_TOPICS = new Set(['__consumer_offsets']);
const METADATA_VERSION = 1;
/**
 * The config overrides an adopted Kafka topic starts with. Its Kafka configs
 * are in the broker's metadata log, not beside the partitions; until the user
 * sets them, retention deletes nothing the broker wrote (Fjord's default
 * retention.ms would delete week-old segments a compacted or long-retained
 * Kafka topic keeps).
 */
const ADOPTED_TOPIC_CONFIGS: TopicConfigs = { 'retention.ms': '-1' };
/** Kafka's KRaft metadata log: a broker's Metadata response never names it. */
const NEVER_LISTED = new Set(['__cluster_metadata']);
const MAX_PARTITIONS = 100_000;
/**
 * Written first in a partition directory Fjord creates, removed once the
 * topic is in the metadata: a directory holding it and no topic of the
 * metadata is what a crash mid-create left, Fjord's to remove. (The store's
 * verify knows the name: native/store/src/checkpoint.rs.)
 */
export const CREATING_MARKER = '.fjord-creating';
/** Written in a partition directory before a topic deletion renames it to `*-delete`: such a directory is Fjord's to remove. */
export const DELETING_MARKER = '.fjord-deleting';

interface TopicRecord {
  name: string;
  id: string;
  partitions: number;
  configs: TopicConfigs;
  createdAt: number;
  /** Set for a topic adopted from a Kafka broker's log directory (its partitions may hold transactions). */
  origin?: TopicOrigin;
}

/** Where a topic's partitions were first written: absent for Fjord's own, `kafka` for a topic adopted from a broker's log directory. */
export type TopicOrigin = 'kafka';

interface MetadataFile {
  version: number;
  topics: TopicRecord[];
}

const packr = new Packr({ useRecords: false });

async function readMetadata(dir: string): Promise<MetadataFile> {
  const path = join(dir, METADATA_FILE);
  if (!existsSync(path)) return { version: METADATA_VERSION, topics: [] };
  const metadata = packr.unpack(await readFile(path)) as MetadataFile;
  if (metadata.version !== METADATA_VERSION) {
    throw new Error(`${path}: metadata version ${metadata.version} is not supported (expected ${METADATA_VERSION})`);
  }
  return metadata;
}

/** The topics a data directory's metadata lists, read without opening it. */
export async function listedTopics(dir: string): Promise<{ name: string; partitions: number }[]> {
  return (await readMetadata(dir)).topics.map(({ name, partitions }) => ({ name, partitions }));
}

/** The metadata file of a data directory (Fjord's own; Kafka keeps topics in ZooKeeper or KRaft). */
export const TOPICS_METADATA_FILE = METADATA_FILE;

/** A file system error of the registry's own (a directory or marker it makes) as the store reports its own: KafkaStorageError. */
function storageError(error: unknown, doing: string, path: string): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  const errno = code === undefined ? undefined : osConstants.errno[code as keyof typeof osConstants.errno];
  if (errno === undefined) return error;
  const what = (error as Error).message.replace(/^\w+: /, '').replace(/, \w+ '.*'$/, '');
  const kind = code === 'ENOSPC' ? 'ERR_DISK_FULL' : code === 'EFBIG' ? 'ERR_FILE_TOO_LARGE' : 'ERR_STORAGE';
  return new KafkaStorageError(`${what} (${code}) ${doing} ${path}`, kind, { errno, errnoName: code, op: doing, path });
}

export class Topic {
  constructor(
    readonly name: string,
    readonly id: string,
    public configs: TopicConfigs,
    readonly partitions: Partition[],
    readonly createdAt: number,
    readonly origin?: TopicOrigin,
  ) {}

  get numPartitions(): number {
    return this.partitions.length;
  }

  partition(id: number): Partition {
    const partition = Number.isInteger(id) ? this.partitions[id] : undefined;
    if (partition === undefined) {
      throw new UnknownTopicOrPartitionError(
        `topic ${this.name} has no partition ${describeValue(id)} (it has ${this.partitions.length}: 0 to ${this.partitions.length - 1})`,
      );
    }
    return partition;
  }

  toRecord(): TopicRecord {
    const record: TopicRecord = { name: this.name, id: this.id, partitions: this.partitions.length, configs: this.configs, createdAt: this.createdAt };
    if (this.origin !== undefined) record.origin = this.origin;
    return record;
  }
}

export function validatePartitionCount(count: unknown, what = 'numPartitions'): number {
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_PARTITIONS) {
    throw new InvalidPartitionsError(`${what} must be an integer in [1, ${MAX_PARTITIONS}], got ${describeValue(count)}`);
  }
  return count;
}

export interface TopicRegistryOptions {
  /** Set in a thread that is not the directory's host: changes go to the host. */
  remote?: ((method: string, args: unknown[]) => Promise<unknown>) | null;
  /** Called after this registry wrote the metadata (the host tells the other threads). */
  onChanged?: (() => void) | null;
  /** Called after each append (to wake consumers in other threads). */
  onAppend?: ((topic: string, partition: number) => void) | null;
  /** Where what recovery repaired at open is reported. */
  logger?: Logger | null;
  /** Wall-clock milliseconds: topic creation times and the open time of logs (default Date.now). */
  clock?: () => number;
}

export class TopicRegistry {
  readonly #topics = new Map<string, Topic>();
  /** Metadata changes run one at a time. */
  #changes: Promise<unknown> = Promise.resolve();
  #remote: TopicRegistryOptions['remote'];
  readonly #onChanged: TopicRegistryOptions['onChanged'];
  readonly #onAppend: TopicRegistryOptions['onAppend'];
  readonly #logger: Logger | null;
  readonly #adoptionLogger: Logger | null;
  /** Where directories Fjord cannot account for are reported. */
  readonly #topicsLogger: Logger | null;
  readonly #clock: () => number;
  #kafkaInternal: string[] = [];
  /** Told when a topic gains partitions (here or, after a reload, in another thread). */
  readonly #growthListeners = new Set<() => void>();

  private constructor(
    readonly dir: string,
    options: TopicRegistryOptions,
  ) {
    this.#remote = options.remote ?? null;
    this.#onChanged = options.onChanged ?? null;
    this.#onAppend = options.onAppend ?? null;
    this.#logger = options.logger?.namespace('Recovery') ?? null;
    this.#adoptionLogger = options.logger?.namespace('KafkaAdoption') ?? null;
    this.#topicsLogger = options.logger?.namespace('Topics') ?? null;
    this.#clock = options.clock ?? Date.now;
  }

  /** This thread becomes the writer of the metadata (the host left). */
  takeOver(): void {
    this.#remote = null;
  }

  /** Reads the metadata and opens every partition log (recovering them as needed). */
  static async open(dir: string, options: TopicRegistryOptions = {}): Promise<TopicRegistry> {
    const registry = new TopicRegistry(dir, options);
    const metadata = await registry.#readMetadata();
    for (const record of metadata.topics) {
      const partitions = await Promise.all(
        Array.from({ length: record.partitions }, async (_, p) => registry.#openPartition(record.name, p, record.configs, record.origin)),
      );
      registry.#topics.set(record.name, new Topic(record.name, record.id, record.configs, partitions, record.createdAt, record.origin));
    }
    if (existsSync(dir)) {
      const scan = await scanKafkaTopics(dir, (name) => registry.#topics.has(name));
      registry.#kafkaInternal = scan.internal.filter((name) => !NEVER_LISTED.has(name));
      if (registry.#remote === null) await registry.#adoptKafkaTopics(scan);
    }
    await registry.#removeLeftovers();
    return registry;
  }

  /**
   * Adopts the topics of a Kafka broker's log directory that the metadata does
   * not list: opens their partitions and records them in Fjord's metadata file.
   * Kafka's files stay as they are; Kafka's internal topics and partition
   * directories that cannot be adopted are reported, never opened or removed.
   */
  async #adoptKafkaTopics(scan: KafkaDirectoryScan): Promise<void> {
    for (const { dir, reason } of scan.skipped) this.#adoptionLogger?.warn(`Kafka partition directory ${dir} left as it is: ${reason}`, { dir });
    if (scan.topics.length === 0) return;
    if (scan.internal.length > 0) {
      this.#adoptionLogger?.info(`Kafka internal topics left as they are: ${scan.internal.join(', ')}`, { topics: scan.internal });
    }
    const adopted: Topic[] = [];
    try {
      for (const { name, id, partitions: count } of scan.topics) {
        const configs: TopicConfigs = { ...ADOPTED_TOPIC_CONFIGS };
        const partitions: Partition[] = [];
        try {
          for (let p = 0; p < count; p++) partitions.push(await this.#openPartition(name, p, configs, 'kafka'));
        } catch (error) {
          await Promise.allSettled(partitions.map((partition) => partition.close()));
          throw error;
        }
        adopted.push(new Topic(name, id, configs, partitions, this.#clock(), 'kafka'));
      }
    } catch (error) {
      await Promise.allSettled(adopted.flatMap((topic) => topic.partitions.map((partition) => partition.close())));
      throw error;
    }
    for (const topic of adopted) this.#topics.set(topic.name, topic);
    await this.#writeMetadata();
    for (const topic of adopted) {
      this.#adoptionLogger?.info(`adopted Kafka topic ${topic.name} (${topic.numPartitions} partitions, id ${topic.id})`, {
        topic: topic.name,
        partitions: topic.numPartitions,
        topicId: topic.id,
      });
    }
  }

  /** Calls `listener` whenever a topic gains partitions; returns a function that removes it. */
  onPartitionsAdded(listener: () => void): () => void {
    this.#growthListeners.add(listener);
    return () => this.#growthListeners.delete(listener);
  }

  #partitionsAdded(): void {
    for (const listener of this.#growthListeners) listener();
  }

  has(name: string): boolean {
    return this.#topics.has(name);
  }

  /** The topic, or `UnknownTopicOrPartitionError`. */
  get(name: string): Topic {
    const topic = this.#topics.get(validateTopicName(name));
    if (topic === undefined) throw new UnknownTopicOrPartitionError(`unknown topic ${JSON.stringify(name)}`);
    return topic;
  }

  list(): Topic[] {
    return [...this.#topics.values()];
  }

  /**
   * Kafka's internal topics in an adopted log directory (`__consumer_offsets`,
   * `__transaction_state`, ...), named as a broker's Metadata lists them;
   * they are Kafka's, not Fjord topics.
   */
  kafkaInternalTopics(): string[] {
    return [...this.#kafkaInternal];
  }

  /** Creates a topic; false if it exists already. */
  create(name: string, partitions: number, configs: TopicConfigs): Promise<boolean> {
    validateTopicName(name);
    if (RESERVED_TOPICS.has(name)) throw new InvalidTopicError(`topic name ${name} is reserved: Fjord keeps committed offsets there`);
    validatePartitionCount(partitions);
    if (this.#remote) return this.#viaHost('create', [name, partitions, configs]) as Promise<boolean>;
    return this.#change(async () => {
      if (this.#topics.has(name)) return false;
      const created = await this.#createPartitions(name, 0, partitions, configs);
      const topic = new Topic(name, randomUUID(), configs, created.partitions, this.#clock());
      this.#topics.set(name, topic);
      try {
        await this.#writeMetadata();
      } catch (error) {
        this.#topics.delete(name);
        await created.undo();
        throw error;
      }
      await created.commit();
      return true;
    });
  }

  delete(name: string): Promise<void> {
    if (this.#remote) return this.#viaHost('delete', [name]) as Promise<void>;
    return this.#change(async () => {
      const topic = this.get(name);
      // Marked before the topic leaves the metadata: a directory a crash leaves
      // behind from here on (renamed or not) is provably Fjord's to remove.
      for (const partition of topic.partitions) await writeFile(join(this.#partitionDir(name, partition.id), DELETING_MARKER), '');
      this.#topics.delete(name);
      await this.#writeMetadata();
      await Promise.all(topic.partitions.map((partition) => partition.close()));
      // As Kafka does: rename, then remove. Mapped Buffers of the files stay readable.
      for (const partition of topic.partitions) {
        const from = this.#partitionDir(name, partition.id);
        // Named as Kafka's LocalLog.logDeleteDirName: the topic is cut so that the name fits in 255 bytes.
        const suffix = `-${partition.id}.${topic.id.replaceAll('-', '')}-delete`;
        const to = join(this.dir, `${name.slice(0, 255 - suffix.length)}${suffix}`);
        await rename(from, to);
        await rm(to, { recursive: true, force: true });
      }
    });
  }

  /** Grows a topic to `count` partitions; shrinking (or staying) is an error, as in Kafka. */
  addPartitions(name: string, count: number): Promise<void> {
    validatePartitionCount(count, 'count');
    if (this.#remote) return this.#viaHost('addPartitions', [name, count]) as Promise<void>;
    return this.#change(async () => {
      const topic = this.get(name);
      if (count <= topic.numPartitions) {
        throw new InvalidPartitionsError(`topic ${name} has ${topic.numPartitions} partitions; it can only grow, and ${count} is not more`);
      }
      const created = await this.#createPartitions(name, topic.numPartitions, count, topic.configs);
      const before = topic.numPartitions;
      topic.partitions.push(...created.partitions);
      try {
        await this.#writeMetadata();
      } catch (error) {
        topic.partitions.length = before;
        await created.undo();
        throw error;
      }
      await created.commit();
      this.#partitionsAdded();
    });
  }

  /** Replaces a topic's config overrides (Kafka's AlterConfigs: unnamed configs return to defaults). */
  setConfigs(name: string, configs: TopicConfigs): Promise<void> {
    if (this.#remote) return this.#viaHost('setConfigs', [name, configs]) as Promise<void>;
    return this.#change(async () => {
      const topic = this.get(name);
      const options = logOptionsFor(configs);
      for (const partition of topic.partitions) {
        partition.log.setConfig(options);
        partition.applyConfigs(configs);
      }
      topic.configs = configs;
      await this.#writeMetadata();
    });
  }

  async close(): Promise<void> {
    await this.#changes.catch(() => undefined);
    const partitions = this.list().flatMap((topic) => topic.partitions);
    this.#topics.clear();
    await Promise.all(partitions.map((partition) => partition.close()));
  }

  /** A change made by the host; resolves once this thread sees it too. */
  async #viaHost(method: string, args: unknown[]): Promise<unknown> {
    const result = await this.#remote!(`topics.${method}`, args);
    await this.reload();
    return result;
  }

  /** Re-reads the metadata another thread wrote: opens new topics and partitions, drops deleted ones. */
  reload(): Promise<void> {
    return this.#change(async () => {
      const metadata = await this.#readMetadata();
      const listed = new Set<string>();
      let grew = false;
      for (const record of metadata.topics) {
        listed.add(record.name);
        let topic = this.#topics.get(record.name);
        if (topic !== undefined && topic.id !== record.id) {
          this.#topics.delete(record.name);
          await Promise.allSettled(topic.partitions.map((p) => p.close()));
          topic = undefined;
        }
        if (topic === undefined) {
          const partitions = await Promise.all(
            Array.from({ length: record.partitions }, (_, p) => this.#openPartition(record.name, p, record.configs, record.origin)),
          );
          this.#topics.set(record.name, new Topic(record.name, record.id, record.configs, partitions, record.createdAt, record.origin));
          continue;
        }
        if (topic.partitions.length < record.partitions) grew = true;
        while (topic.partitions.length < record.partitions)
          topic.partitions.push(await this.#openPartition(record.name, topic.partitions.length, record.configs, record.origin));
        topic.configs = record.configs;
        for (const partition of topic.partitions) partition.applyConfigs(record.configs);
      }
      for (const [name, topic] of [...this.#topics]) {
        if (listed.has(name)) continue;
        this.#topics.delete(name);
        await Promise.allSettled(topic.partitions.map((p) => p.close()));
      }
      if (grew) this.#partitionsAdded();
    });
  }

  #change<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#changes.catch(() => undefined).then(fn);
    this.#changes = next;
    return next;
  }

  /**
   * Makes and opens partitions [from, to) of a topic, all or nothing: each
   * directory is checked first (one that holds files Fjord did not write is
   * never touched: TopicAlreadyExistsError names it), then made with the
   * creating marker written first. On a failure (a full disk, too many open
   * files) the partitions opened are closed and exactly the directories and
   * files this call made are removed. `commit` (once the metadata lists them)
   * removes the markers; `undo` removes what was made.
   */
  async #createPartitions(
    name: string,
    from: number,
    to: number,
    configs: TopicConfigs,
  ): Promise<{ partitions: Partition[]; commit: () => Promise<void>; undo: () => Promise<void> }> {
    const dirs = Array.from({ length: to - from }, (_, i) => this.#partitionDir(name, from + i));
    // Whether each directory was there (empty) before this call: then only what is inside it was made here.
    const existed: boolean[] = [];
    for (const dir of dirs) existed.push(await this.#claimDirectory(name, dir));
    const made: string[] = [];
    const partitions: Partition[] = [];
    const undo = async () => {
      await Promise.allSettled(partitions.map((partition) => partition.close()));
      for (const [i, dir] of made.entries()) {
        if (!existed[i]) await rm(dir, { recursive: true, force: true });
        else for (const entry of await readdir(dir)) await rm(join(dir, entry), { recursive: true, force: true });
      }
    };
    try {
      for (const [i, dir] of dirs.entries()) {
        if (!existed[i]) await mkdir(dir).catch((error: unknown) => Promise.reject(storageError(error, 'creating directory', dir)));
        made.push(dir);
        const marker = join(dir, CREATING_MARKER);
        await writeFile(marker, '', { flag: 'wx' }).catch((error: unknown) => Promise.reject(storageError(error, 'creating', marker)));
        partitions.push(await this.#openPartition(name, from + i, configs));
      }
    } catch (error) {
      await undo();
      throw error;
    }
    const commit = async () => {
      for (const dir of made) {
        await unlink(join(dir, CREATING_MARKER)).catch((error: unknown) => {
          // Harmless where the metadata lists the partition; the next create of a deleted topic's name checks again.
          this.#topicsLogger?.warn(`could not remove ${join(dir, CREATING_MARKER)}`, { error: (error as Error).message });
        });
      }
    };
    return { partitions, commit, undo };
  }

  /**
   * Makes `dir` ready to become a new partition's directory; true if it is
   * there already, empty. A directory a crash left mid-create or mid-delete
   * (it holds Fjord's creating or deleting marker) is removed; one holding anything else is not
   * Fjord's to touch: TopicAlreadyExistsError naming it.
   */
  async #claimDirectory(topic: string, dir: string): Promise<boolean> {
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
    if (entries.length === 0) return true;
    if (entries.includes(CREATING_MARKER) || entries.includes(DELETING_MARKER)) {
      const when = entries.includes(CREATING_MARKER) ? 'created' : 'deleted';
      this.#topicsLogger?.info(`removing ${dir}: a partition directory a crash left while topic ${topic} was being ${when}`);
      await rm(dir, { recursive: true, force: true });
      return false;
    }
    const shown = entries.sort().slice(0, 5).join(', ') + (entries.length > 5 ? `, … (${entries.length} entries)` : '');
    const message = `cannot create topic ${topic}: its partition directory ${dir} exists and holds files Fjord did not write (${shown}); Fjord leaves it as it is`;
    this.#topicsLogger?.error(message);
    throw new TopicAlreadyExistsError(message);
  }

  #partitionDir(topic: string, partition: number): string {
    return join(this.dir, `${topic}-${partition}`);
  }

  async #openPartition(topic: string, partition: number, configs: TopicConfigs, origin?: TopicOrigin): Promise<Partition> {
    const log = await Log.open(this.#partitionDir(topic, partition), logOptionsFor(configs), { now: this.#clock() });
    if (this.#logger !== null) logRecovery(this.#logger, `${topic}-${partition}`, log);
    const opened = new Partition(topic, partition, log, configs, this.#onAppend);
    // Only a Kafka broker writes transactions (Fjord's producers do not): their state is tracked for adopted partitions alone.
    if (origin === 'kafka') opened.transactions = new TransactionState(log);
    return opened;
  }

  #readMetadata(): Promise<MetadataFile> {
    return readMetadata(this.dir);
  }

  /** Written durably: temp file, fsync, rename, fsync the directory. */
  async #writeMetadata(): Promise<void> {
    const metadata: MetadataFile = { version: METADATA_VERSION, topics: this.list().map((t) => t.toRecord()) };
    const path = join(this.dir, METADATA_FILE);
    const tmp = `${path}.tmp`;
    // A failing disk reaches the caller as the store reports its own: KafkaStorageError.
    const step = <T>(promise: Promise<T>, doing: string, at: string): Promise<T> =>
      promise.catch((error: unknown) => Promise.reject(storageError(error, doing, at)));
    const file = await step(open(tmp, 'w'), 'creating', tmp);
    try {
      await step(file.writeFile(packr.pack(metadata)), 'writing', tmp);
      await step(file.sync(), 'syncing', tmp);
    } finally {
      await file.close();
    }
    await step(rename(tmp, path), 'renaming to', path);
    const dir = await step(open(this.dir, 'r'), 'opening', this.dir);
    try {
      await step(dir.sync(), 'syncing', this.dir);
    } finally {
      await dir.close();
    }
    this.#onChanged?.();
  }

  /**
   * Directories of deleted topics that a crash left behind: those Fjord
   * renamed (they hold its deleting marker) are removed; a Kafka broker's
   * `*-delete` directories are its own and stay.
   */
  async #removeLeftovers(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    if (this.#remote !== null) return; // the host's to do
    for (const entry of await readdir(this.dir)) {
      if (!entry.endsWith('-delete')) continue;
      const dir = join(this.dir, entry);
      if (existsSync(join(dir, DELETING_MARKER))) await rm(dir, { recursive: true, force: true });
      else this.#topicsLogger?.info(`leaving ${dir} as it is: a deleted partition directory Fjord did not delete`);
    }
  }
}
