// A partition's transactions as its log records them (Kafka's transactional
// batches and control markers, KIP-98): for each producer, the offset ranges of
// its aborted transactions (what Kafka's `.txnindex` holds: first offset to the
// ABORT marker), and the first offset of each transaction still open (no marker
// yet), the lowest of which is the last stable offset. A read_committed fetch
// returns nothing at or past the last stable offset and no batch of an aborted
// transaction. The batch headers are walked lazily, as far as the reads need:
// past the offsets read and on to the marker of every transaction begun before
// them, so a consumer pays for the walk as it goes; only partitions adopted from
// a Kafka broker have one.
import { batchInfos, type CommittedView, controlRecordType } from '../record-batch/decode.js';
import * as layout from '../record-batch/layout.js';
import type { Log } from '../storage/log.js';

const { ATTRIBUTE_CONTROL, ATTRIBUTE_TRANSACTIONAL, PRODUCER_ID } = layout;

/** Kafka's ControlRecordType: the key's type field of a transaction marker. */
const ABORT = 0;
const COMMIT = 1;
/** Bytes read per step of the walk. */
const WALK_BYTES = 1 << 20;

interface AbortedRange {
  first: number;
  /** The ABORT marker's offset. */
  last: number;
}

export class TransactionState implements CommittedView {
  /** Where the walk resumes. */
  #walkedTo: number;
  readonly #open = new Map<bigint, number>();
  readonly #aborted = new Map<bigint, AbortedRange[]>();

  constructor(private readonly log: Log) {
    this.#walkedTo = log.logStartOffset;
  }

  /** The first offset of the oldest open transaction, else the log end (walks the whole log). */
  get lastStableOffset(): number {
    return this.#stableBelow(Infinity);
  }

  /**
   * What a read of offsets below `end` needs, fixed: its last stable offset may
   * lie below `end` (a transaction open there), never past the walk.
   */
  view(end: number): CommittedView {
    return { lastStableOffset: this.#stableBelow(end), isAborted: (producerId, offset) => this.isAborted(producerId, offset) };
  }

  /** Walks as far as offsets below `end` need; the lowest offset that is not known to be stable. */
  #stableBelow(end: number): number {
    this.#walk(end);
    let stable = Math.min(this.#walkedTo, this.log.logEndOffset);
    for (const first of this.#open.values()) if (first < stable) stable = first;
    return stable;
  }

  isAborted(producerId: bigint, offset: number): boolean {
    const ranges = this.#aborted.get(producerId);
    if (ranges === undefined) return false;
    // Ranges of one producer never overlap and come in offset order: binary search.
    let lo = 0;
    let hi = ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const range = ranges[mid]!;
      if (offset < range.first) hi = mid - 1;
      else if (offset > range.last) lo = mid + 1;
      else return true;
    }
    return false;
  }

  /** Aborted transactions so far, as Kafka's `.txnindex` lists them (producer id, first offset, ABORT marker offset). */
  abortedTransactions(): { producerId: bigint; firstOffset: number; lastOffset: number }[] {
    this.#walk(Infinity);
    const out = [...this.#aborted].flatMap(([producerId, ranges]) => ranges.map((r) => ({ producerId, firstOffset: r.first, lastOffset: r.last })));
    return out.sort((a, b) => a.lastOffset - b.lastOffset);
  }

  /** True while a transaction begun below `end` has no marker yet. */
  #openBelow(end: number): boolean {
    for (const first of this.#open.values()) if (first < end) return true;
    return false;
  }

  /** Walks batch headers until past `end` with every transaction begun below it ended, or to the log end. */
  #walk(end: number): void {
    // Retention may have moved the log start past the walk: what it removed is gone for readers too.
    if (this.#walkedTo < this.log.logStartOffset) this.#walkedTo = this.log.logStartOffset;
    while (this.#walkedTo < this.log.logEndOffset && (this.#walkedTo < end || this.#openBelow(end))) {
      const slice = this.log.readSlice(this.#walkedTo, WALK_BYTES);
      if (slice === null) return;
      for (const info of batchInfos(slice.bytes)) {
        if (info.lastOffset < this.#walkedTo || (info.attributes & ATTRIBUTE_TRANSACTIONAL) === 0) continue;
        const producerId = slice.bytes.readBigInt64BE(info.position + PRODUCER_ID);
        if ((info.attributes & ATTRIBUTE_CONTROL) === 0) {
          if (!this.#open.has(producerId)) this.#open.set(producerId, info.baseOffset);
          continue;
        }
        const type = controlRecordType(slice.bytes, info);
        if (type !== ABORT && type !== COMMIT) continue; // other control records (KIP-848 and later) end no transaction
        const first = this.#open.get(producerId);
        this.#open.delete(producerId);
        if (type === ABORT) {
          let ranges = this.#aborted.get(producerId);
          if (ranges === undefined) this.#aborted.set(producerId, (ranges = []));
          // An ABORT without data batches in this log (they were below its start) covers nothing readable.
          ranges.push({ first: first ?? info.baseOffset, last: info.baseOffset });
        }
      }
      this.#walkedTo = slice.nextOffset;
    }
  }
}
