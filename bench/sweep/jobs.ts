// The messages between the sweep's parent (fjord-bench) and the child process
// that runs one job: a store at one record size, the step past the limit, the
// latency run or the memory run. A child per job keeps each store's heap and
// peak RSS its own.
import type { Acks, FloorSync, StoreKind } from './store.js';

export interface CellSpec {
  acks: Acks;
  senders: number;
  partitions: number;
  /** Durable floor variants only. */
  floorSync?: FloorSync;
  /** Read the cell's records back afterwards (the consume measurement). */
  consume: boolean;
}

export interface Timing {
  /** Seconds of timed sending per produce cell, after `warmupSeconds` untimed. */
  produceSeconds: number;
  warmupSeconds: number;
}

export interface StoreJob extends Timing {
  kind: 'store';
  store: StoreKind;
  valueBytes: number;
  maxMessageBytes: number;
  workDir: string;
  cells: CellSpec[];
}

export interface RejectJob {
  kind: 'reject';
  /** One byte past the largest value that fits max.message.bytes. */
  valueBytes: number;
  maxMessageBytes: number;
  workDir: string;
}

export interface LatencyJob {
  kind: 'latency';
  rate: number;
  seconds: number;
  valueBytes: number;
  workDir: string;
}

export interface MemoryJob {
  kind: 'memory';
  totalBytes: number;
  valueBytes: number;
  partitions: number;
  workDir: string;
}

export type Job = StoreJob | RejectJob | LatencyJob | MemoryJob;

export interface Quantiles {
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

export interface ProduceResult {
  store: StoreKind;
  valueBytes: number;
  acks: Acks;
  senders: number;
  partitions: number;
  floorSync?: FloorSync;
  messagesPerSend: number;
  sends: number;
  records: number;
  seconds: number;
  recordsPerSec: number;
  /** Record value bytes (10^6) per second. */
  mbPerSec: number;
  /** Per send, from the call to its resolution, ms. */
  latencyMs: Quantiles;
}

export interface ConsumeResult {
  store: StoreKind;
  valueBytes: number;
  partitions: number;
  records: number;
  seconds: number;
  recordsPerSec: number;
  mbPerSec: number;
}

export interface StoreJobResult {
  kind: 'store';
  produce: ProduceResult[];
  consume: ConsumeResult[];
  /** Of the child over the whole job, MiB: all resident memory, and anonymous memory only (no page cache or mapped files). */
  peakRssMiB: number;
  peakAnonRssMiB: number;
}

export interface RejectResult {
  kind: 'reject';
  valueBytes: number;
  maxMessageBytes: number;
  attempted: number;
  /** Records whose send failed with RecordTooLargeError. */
  rejected: number;
  errorName: string;
  errorMessage: string;
  /** Records in the topic and bytes in its logs afterwards. */
  recordsWritten: number;
  bytesWritten: number;
  /** The largest value that fits, sent once after the rejections: its offset. */
  largestFitOffset: number;
}

export interface LatencyResult {
  kind: 'latency';
  rate: number;
  achievedRate: number;
  valueBytes: number;
  records: number;
  /** produce call → eachMessage, ms. */
  endToEndMs: Quantiles;
  /** produce call → send resolved (acks 1), ms. */
  sendMs: Quantiles;
}

export interface MemoryResult {
  kind: 'memory';
  totalBytes: number;
  valueBytes: number;
  partitions: number;
  records: number;
  seconds: number;
  peakRssMiB: number;
  peakAnonRssMiB: number;
}

export type JobResult = StoreJobResult | RejectResult | LatencyResult | MemoryResult;

/** Child → parent. */
export type ChildMessage = { type: 'cell' } | { type: 'result'; result: JobResult } | { type: 'error'; message: string; stack?: string };
