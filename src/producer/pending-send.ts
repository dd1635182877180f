// One send() call in flight: how many of its records wait for an append, the
// first offset it got in each partition, and the records refused up front.
import type { RecordTooLargeError } from '../errors.js';
import type { Partition } from '../topics/partition.js';

export class PendingSend {
  /** Records queued and not yet appended (or failed). */
  outstanding = 0;
  /** First offset of this send's records per touched partition, in first-touch order. */
  readonly firsts = new Map<Partition, { baseOffset: number; logAppendTime: number; logStartOffset: number }>();
  readonly rejected: RecordTooLargeError[] = [];
  error: unknown = null;
  readonly done: Promise<void>;
  resolve!: () => void;

  constructor() {
    this.done = new Promise<void>((resolve) => (this.resolve = resolve));
  }

  /** `count` of its records were appended to `partition`, from `offset` on. */
  recordsWritten(partition: Partition, offset: number, count: number, logAppendTime: number, logStartOffset: number): void {
    if (!this.firsts.has(partition)) this.firsts.set(partition, { baseOffset: offset, logAppendTime, logStartOffset });
    this.outstanding -= count;
    if (this.outstanding === 0) this.resolve();
  }

  recordsFailed(error: unknown, count: number): void {
    this.error ??= error;
    this.outstanding -= count;
    if (this.outstanding === 0) this.resolve();
  }
}
