// A data directory as one JavaScript environment (thread) holds it: its topic
// registry, and either the group coordinator (the host thread) or a way to
// the host's (a guest thread). Fjord instances of one environment share it.
import { NotConnectedError, UnknownMemberIdError, fromNative } from '../errors.js';
import { GROUP_METHODS, LocalGroupClient, type GroupClient } from '../groups/group-client.js';
import { GroupCoordinator } from '../groups/group-coordinator.js';
import { OffsetStore, OFFSETS_TOPIC } from '../groups/offset-store.js';
import type { Logger } from '../logger.js';
import { logRecovery } from '../storage/recovery-log.js';
import { RemoteGroupClient } from '../groups/remote-group-client.js';
import { native } from '../storage/native.js';
import { TopicRegistry } from '../topics/topic-registry.js';
import type { DirectoryLock } from '../../native/binding.js';
import { DirectoryService, type ServiceEvent } from './directory-service.js';

export interface SharedDirectoryOptions {
  clock: () => number;
  initialRebalanceDelayMs: number;
  /** Where recovery of the directory's logs is reported (the first Fjord's logger). */
  logger: Logger;
}

const TOPIC_METHODS = new Set(['create', 'delete', 'addPartitions', 'setConfigs']);

export class SharedDirectory {
  refs = 0;
  #host: boolean;
  /** The host claim of this thread (0: none). */
  #hostToken = 0;
  readonly registry: Promise<TopicRegistry>;
  readonly #service: DirectoryService;
  readonly #lock: DirectoryLock;
  #coordinator: Promise<GroupCoordinator> | null = null;
  /** Set once the coordinator is open, so local group calls start synchronously. */
  #local: LocalGroupClient | null = null;
  readonly #remote: RemoteGroupClient;
  /** Routes group calls to this thread's coordinator or the host's. */
  readonly groups: GroupClient;
  /** close() began: requests from other threads are refused until one of them takes over. */
  #closing = false;

  constructor(
    readonly dir: string,
    private readonly options: SharedDirectoryOptions,
  ) {
    try {
      this.#lock = native.DirectoryLock.acquire(dir);
    } catch (error) {
      throw fromNative(error);
    }
    this.#hostToken = native.claimHost(dir);
    this.#host = this.#hostToken > 0;
    const logger = options.logger.namespace('Directory');
    this.#service = new DirectoryService(
      dir,
      (event) => this.#onEvent(event),
      () => this.#takeOver(),
      (error, context) => logger.error(`Caught error when ${context}: ${error instanceof Error ? error.message : String(error)}`, { error }),
    );
    this.#remote = new RemoteGroupClient(this.#service);
    if (this.#host) this.#service.serve((method, args) => this.#serve(method, args));
    this.registry = TopicRegistry.open(dir, {
      remote: this.#host ? null : (method, args) => this.#service.call(method, args),
      onChanged: () => this.#service.emit({ type: 'metadata' }),
      logger: options.logger,
      clock: options.clock,
      // Every append passes here: build the event only when another thread listens.
      onAppend: (topic, partition) => {
        if (this.#service.hasPeers) this.#service.emit({ type: 'append', topic, partition });
      },
    });
    this.groups = this.#router();
  }

  get isHost(): boolean {
    return this.#host;
  }

  /** The coordinator, in the host thread only. */
  coordinator(): Promise<GroupCoordinator> {
    if (!this.#host) {
      return Promise.reject(new NotConnectedError(`the group coordinator of ${this.dir} lives in another thread of this process`));
    }
    this.#coordinator ??= OffsetStore.open(this.dir).then((offsets) => {
      for (const p of offsets.partitions) logRecovery(this.options.logger.namespace('Recovery'), `${OFFSETS_TOPIC}-${p.index}`, p.log);
      const { skippedRecords } = offsets.stats;
      if (skippedRecords > 0) {
        this.options.logger.warn(
          `${OFFSETS_TOPIC}: skipped ${skippedRecords} record(s) of types or versions Fjord does not read (KIP-848, share or streams groups)`,
          {
            skippedRecords,
          },
        );
      }
      const coordinator = new GroupCoordinator(offsets, {
        clock: this.options.clock,
        initialRebalanceDelayMs: this.options.initialRebalanceDelayMs,
        logger: this.options.logger.namespace('GroupCoordinator'),
      });
      coordinator.listeners.add((groupId) => this.#service.emit({ type: 'group', groupId, state: coordinator.describeGroup(groupId).state }));
      this.#local = new LocalGroupClient(coordinator);
      return coordinator;
    });
    return this.#coordinator;
  }

  #router(): GroupClient {
    const local = async () => {
      await this.coordinator();
      return this.#local!;
    };
    const route =
      (method: (typeof GROUP_METHODS)[number]) =>
      (...args: unknown[]): Promise<unknown> => {
        const call = (target: GroupClient) => (target[method] as (...a: unknown[]) => Promise<unknown>)(...args);
        if (!this.#host) return call(this.#remote);
        // With the coordinator open the call starts at once, as a direct call would.
        return this.#local !== null ? call(this.#local) : local().then(call);
      };
    const client = Object.fromEntries(GROUP_METHODS.map((m) => [m, route(m)])) as unknown as GroupClient;
    client.onChange = (listener) => {
      const removeRemote = this.#remote.onChange(listener);
      let removeLocal: (() => void) | null = null;
      let removed = false;
      if (this.#host) {
        // A coordinator that cannot open fails the group calls that need it; here there is nothing to listen to.
        local().then(
          (l) => {
            if (!removed) removeLocal = l.onChange(listener);
          },
          () => undefined,
        );
      }
      return () => {
        removed = true;
        removeRemote();
        removeLocal?.();
      };
    };
    return client;
  }

  /** A request from a guest thread. */
  async #serve(method: string, args: unknown[]): Promise<unknown> {
    const [scope, name] = method.split('.') as [string, string];
    if (this.#closing) {
      // Group members join again: the thread that takes over when this one is done hosts the new coordinator.
      if (scope === 'groups') throw new UnknownMemberIdError(`the group coordinator of ${this.dir} is closing in its thread: join again`);
      throw new NotConnectedError(`the thread hosting ${this.dir} is closing`);
    }
    if (scope === 'topics' && TOPIC_METHODS.has(name)) {
      const registry = (await this.registry) as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
      return registry[name]!(...args);
    }
    if (scope === 'groups' && (GROUP_METHODS as readonly string[]).includes(name)) {
      const client = new LocalGroupClient(await this.coordinator()) as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
      return client[name]!(...args);
    }
    throw new NotConnectedError(`unknown directory request ${method}`);
  }

  #onEvent(event: ServiceEvent): void {
    switch (event.type) {
      case 'metadata':
        if (!this.#host) void this.registry.then((r) => r.reload()).catch(() => undefined);
        return;
      case 'group':
        this.#remote.groupChanged(event.groupId, event.state);
        return;
      case 'append':
        // A registry that failed to open was reported to the Fjord that opened it.
        this.registry.then(
          (r) => {
            if (r.has(event.topic)) r.get(event.topic).partitions[event.partition]?.notifyAppend();
          },
          () => undefined,
        );
        return;
      case 'host-closed':
        this.#takeOver();
        return;
    }
  }

  /** The host thread left: the first guest to claim the role hosts from now on. */
  #takeOver(): void {
    if (this.#host) return;
    this.#hostToken = native.claimHost(this.dir);
    if (this.#hostToken === 0) return;
    this.#host = true;
    this.#service.serve((method, args) => this.#serve(method, args));
    this.registry
      .then((r) => {
        r.takeOver();
        return r.reload();
      })
      .catch((error: unknown) =>
        this.options.logger
          .namespace('Directory')
          .error(`Caught error when taking over the topics of ${this.dir}: ${error instanceof Error ? error.message : String(error)}`, { error }),
      );
    // Members of the old coordinator are unknown to the new one: they join again.
    this.#service.failPending(new UnknownMemberIdError('the group coordinator moved to another thread: join again'));
  }

  async close(): Promise<void> {
    this.#closing = true;
    try {
      // Topic changes in flight (this thread's or a guest's) finish and write
      // the metadata before another thread may take over as host and write it.
      const registry = await this.registry.catch(() => null);
      await registry?.close();
      const coordinator = await this.#coordinator?.catch(() => null);
      if (coordinator) {
        coordinator.close();
        await coordinator.offsets.close();
      }
      if (this.#host) native.releaseHost(this.dir, this.#hostToken);
      this.#service.close();
    } finally {
      this.#lock.release();
    }
  }
}
