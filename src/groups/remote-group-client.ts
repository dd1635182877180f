// The group coordinator of another thread, reached through the directory service.
import type { DirectoryService } from '../directory/directory-service.js';
import type { JoinGroupResult } from './classic-group.js';
import type { GroupClient } from './group-client.js';
import type { GroupDescription, JoinGroupRequest } from './group-coordinator.js';
import type { CommittedOffset, GroupOffset } from './offset-store.js';

/** How long a guest waits for the host to answer a call that needs no waiting. */
export const HOST_ANSWER_TIMEOUT_MS = 3_000;

export class RemoteGroupClient implements GroupClient {
  readonly #listeners = new Set<(groupId: string, state: string) => void>();

  constructor(private readonly service: DirectoryService) {}

  /** Called by the service for each group event from the host. */
  groupChanged(groupId: string, state: string): void {
    for (const listener of this.#listeners) listener(groupId, state);
  }

  #call<T>(method: string, ...args: unknown[]): Promise<T> {
    // Join and sync wait for the whole group; the rest answer at once, so silence means the host is gone.
    const timeout = method === 'joinGroup' || method === 'syncGroup' ? undefined : HOST_ANSWER_TIMEOUT_MS;
    return this.service.call(`groups.${method}`, args, timeout) as Promise<T>;
  }

  joinGroup(request: JoinGroupRequest): Promise<JoinGroupResult> {
    return this.#call('joinGroup', request);
  }
  syncGroup(request: Parameters<GroupClient['syncGroup']>[0]): Promise<Buffer> {
    return this.#call('syncGroup', request);
  }
  heartbeat(request: Parameters<GroupClient['heartbeat']>[0]): Promise<void> {
    return this.#call('heartbeat', request);
  }
  leaveGroup(request: Parameters<GroupClient['leaveGroup']>[0]): Promise<void> {
    return this.#call('leaveGroup', request);
  }
  commitOffsets(request: Parameters<GroupClient['commitOffsets']>[0]): Promise<void> {
    return this.#call('commitOffsets', request);
  }
  committed(groupId: string, topic: string, partition: number): Promise<CommittedOffset | undefined> {
    return this.#call('committed', groupId, topic, partition);
  }
  groupOffsets(groupId: string): Promise<GroupOffset[]> {
    return this.#call('groupOffsets', groupId);
  }
  describeGroup(groupId: string): Promise<GroupDescription> {
    return this.#call('describeGroup', groupId);
  }
  listGroups(): Promise<{ groupId: string; protocolType: string }[]> {
    return this.#call('listGroups');
  }
  deleteGroups(groupIds: string[]): Promise<{ groupId: string; errorCode: number }[]> {
    return this.#call('deleteGroups', groupIds);
  }
  onChange(listener: (groupId: string, state: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
