// One consumer group under Kafka's classic group protocol: members, the
// generation, and the state machine Empty → PreparingRebalance →
// CompletingRebalance → Stable (→ Dead). The coordinator drives it.
import { randomUUID } from 'node:crypto';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export interface GroupProtocol {
  name: string;
  metadata: Buffer;
}

export interface JoinGroupResult {
  generationId: number;
  protocolName: string;
  leaderId: string;
  memberId: string;
  /** The members and their metadata for the chosen protocol; only the leader gets them. */
  members: { memberId: string; groupInstanceId: string | null; memberMetadata: Buffer }[];
}

export interface Member {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocols: GroupProtocol[];
  assignment: Buffer;
  /** A pending JoinGroup waiting for the rebalance to complete. */
  awaitingJoin: { resolve: (result: JoinGroupResult) => void; reject: (error: Error) => void } | null;
  /** A pending SyncGroup waiting for the leader's assignment. */
  awaitingSync: { resolve: (assignment: Buffer) => void; reject: (error: Error) => void } | null;
  sessionTimer: NodeJS.Timeout | null;
}

export class ClassicGroup {
  state: GroupState = 'Empty';
  generationId = 0;
  protocolType = 'consumer';
  protocolName: string | null = null;
  leaderId: string | null = null;
  readonly members = new Map<string, Member>();
  /** Fires when a rebalance has waited long enough for members to rejoin. */
  rebalanceTimer: NodeJS.Timeout | null = null;

  constructor(readonly groupId: string) {}

  newMemberId(clientId: string): string {
    return `${clientId}-${randomUUID()}`;
  }

  /** The protocol every member supports, chosen by the members' preference votes (as Kafka does). */
  selectProtocol(): string | null {
    const members = [...this.members.values()];
    if (members.length === 0) return null;
    const candidates = members[0]!.protocols.map((p) => p.name).filter((name) => members.every((m) => m.protocols.some((p) => p.name === name)));
    if (candidates.length === 0) return null;
    const votes = new Map<string, number>(candidates.map((name) => [name, 0]));
    for (const m of members) {
      const preferred = m.protocols.find((p) => votes.has(p.name))!;
      votes.set(preferred.name, votes.get(preferred.name)! + 1);
    }
    return [...votes.entries()].sort((a, b) => b[1] - a[1] || candidates.indexOf(a[0]) - candidates.indexOf(b[0]))[0]![0];
  }

  allJoined(): boolean {
    return [...this.members.values()].every((m) => m.awaitingJoin !== null);
  }

  maxRebalanceTimeoutMs(): number {
    return Math.max(0, ...[...this.members.values()].map((m) => m.rebalanceTimeoutMs));
  }
}
