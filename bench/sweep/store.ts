// What the sweep drives: a store a Node user could embed, opened for one cell.
// Every store gets the same sends (a partition and its values), the same
// durability for the same acks level, and is read back the same way.

export type Acks = 0 | 1 | -1;

/** The stores of the sweep; `floor` is length-prefixed frames with fs.writeSync / fs.readSync. */
export const STORE_KINDS = ['fjord', 'lmdb', 'sqlite', 'floor'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

/**
 * How a durable (acks all) floor syncs: `group` once per event-loop turn for
 * every send waiting (the best group commit), `end` once when the cell ends
 * (durability at no per-send cost), `record` once per record.
 */
export type FloorSync = 'group' | 'end' | 'record';

export interface OpenOptions {
  dir: string;
  partitions: number;
  acks: Acks;
  /** The topic's max.message.bytes; Fjord's producer and fetch sizes follow it. */
  maxMessageBytes: number;
  floorSync?: FloorSync;
}

export interface ReadBack {
  records: number;
  /** Sum of every value's first byte: the read touched each record. */
  touched: number;
  /** Seconds the reading took, where the store times it itself (Fjord leaves out joining the group); else the caller times the call. */
  seconds?: number;
}

export interface BenchStore {
  /** One send: `values` to `partition` as one request; resolves when its acks level is met. */
  send(partition: number, values: readonly Buffer[]): Promise<void>;
  /** Resolves when every send so far is written as its acks level promises (acks 0: written at all). */
  drain(): Promise<void>;
  /** Records in the store now. */
  count(): Promise<number>;
  /** Reads every record back, partition by partition in order, touching each value. */
  readAll(): Promise<ReadBack>;
  close(): Promise<void>;
}

export const acksLabel = (acks: Acks): string => (acks === -1 ? 'all' : String(acks));
