// How consumers and the admin reach the group coordinator: directly when it
// lives in this JavaScript environment, or through the directory service when
// another thread of the process hosts it. Every call is asynchronous either way.
import type { JoinGroupResult } from './classic-group.js';
import type { GroupCoordinator, GroupDescription, JoinGroupRequest } from './group-coordinator.js';
import type { CommittedOffset, GroupOffset, OffsetCommit } from './offset-store.js';

export interface GroupClient {
  joinGroup(request: JoinGroupRequest): Promise<JoinGroupResult>;
  syncGroup(request: {
    groupId: string;
    generationId: number;
    memberId: string;
    assignments?: { memberId: string; memberAssignment: Buffer }[];
  }): Promise<Buffer>;
  heartbeat(request: { groupId: string; generationId: number; memberId: string }): Promise<void>;
  leaveGroup(request: { groupId: string; memberId: string }): Promise<void>;
  commitOffsets(request: { groupId: string; generationId?: number; memberId?: string; offsets: OffsetCommit[] }): Promise<void>;
  committed(groupId: string, topic: string, partition: number): Promise<CommittedOffset | undefined>;
  groupOffsets(groupId: string): Promise<GroupOffset[]>;
  describeGroup(groupId: string): Promise<GroupDescription>;
  listGroups(): Promise<{ groupId: string; protocolType: string }[]>;
  deleteGroups(groupIds: string[]): Promise<{ groupId: string; errorCode: number }[]>;
  /** Calls `listener(groupId, state)` after every group state change; returns a remover. */
  onChange(listener: (groupId: string, state: string) => void): () => void;
}

/** The methods the directory service forwards, by name. */
export const GROUP_METHODS = [
  'joinGroup',
  'syncGroup',
  'heartbeat',
  'leaveGroup',
  'commitOffsets',
  'committed',
  'groupOffsets',
  'describeGroup',
  'listGroups',
  'deleteGroups',
] as const;

/** The coordinator of this environment, behind the asynchronous interface. */
export class LocalGroupClient implements GroupClient {
  constructor(readonly coordinator: GroupCoordinator) {}

  async joinGroup(request: JoinGroupRequest): Promise<JoinGroupResult> {
    return this.coordinator.joinGroup(request);
  }
  async syncGroup(request: Parameters<GroupClient['syncGroup']>[0]): Promise<Buffer> {
    return this.coordinator.syncGroup(request);
  }
  async heartbeat(request: Parameters<GroupClient['heartbeat']>[0]): Promise<void> {
    this.coordinator.heartbeat(request);
  }
  async leaveGroup(request: Parameters<GroupClient['leaveGroup']>[0]): Promise<void> {
    this.coordinator.leaveGroup(request);
  }
  async commitOffsets(request: Parameters<GroupClient['commitOffsets']>[0]): Promise<void> {
    this.coordinator.commitOffsets(request);
  }
  async committed(groupId: string, topic: string, partition: number): Promise<CommittedOffset | undefined> {
    return this.coordinator.committed(groupId, topic, partition);
  }
  async groupOffsets(groupId: string): Promise<GroupOffset[]> {
    return [...this.coordinator.offsets.offsets(groupId).values()];
  }
  async describeGroup(groupId: string): Promise<GroupDescription> {
    return this.coordinator.describeGroup(groupId);
  }
  async listGroups(): Promise<{ groupId: string; protocolType: string }[]> {
    return this.coordinator.listGroups();
  }
  async deleteGroups(groupIds: string[]): Promise<{ groupId: string; errorCode: number }[]> {
    return this.coordinator.deleteGroups(groupIds);
  }
  onChange(listener: (groupId: string, state: string) => void): () => void {
    const wrapped = (groupId: string) => listener(groupId, this.coordinator.describeGroup(groupId).state);
    this.coordinator.listeners.add(wrapped);
    return () => this.coordinator.listeners.delete(wrapped);
  }
}
