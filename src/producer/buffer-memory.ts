// Kafka's `buffer.memory` for the producer: a bound on the bytes of records
// that sends have handed over and that are not appended yet. A send that
// does not fit waits in line, first come first served as in Kafka's
// BufferPool (so a large send is not passed over forever by small ones, and
// records of later sends never overtake it), up to `maxBlockMs`, Kafka's
// `max.block.ms`; then its records still waiting fail with TimeoutError.
import { TimeoutError } from '../errors.js';

/** Bytes a send waits for, and what to do once they are taken. */
export interface Piece {
  readonly bytes: number;
  /** Runs synchronously inside `release()` (or `wait()`) once the bytes are taken. */
  readonly admit: () => void;
}

/** One send's pieces in line, with their common deadline. */
class Waiter {
  next = 0;
  timer: NodeJS.Timeout | null = null;
  constructor(
    readonly pieces: readonly Piece[],
    readonly done: () => void,
    readonly expired: (error: TimeoutError, pieces: readonly Piece[]) => void,
  ) {}
}

export class BufferMemory {
  #used = 0;
  /** Sends waiting, oldest first; `#head` is the first still waiting. */
  #line: Waiter[] = [];
  #head = 0;

  constructor(
    /** `bufferMemory`: the bound, in bytes. */
    readonly total: number,
    /** `maxBlockMs`: how long a send may wait for room. */
    readonly maxBlockMs: number,
  ) {}

  /** Bytes taken and not released. */
  get used(): number {
    return this.#used;
  }

  /** Whether a send waits for room. */
  get isExhausted(): boolean {
    return this.#head < this.#line.length;
  }

  /** Takes `bytes` if they fit and no send waits before: the fast path of a send. */
  tryTake(bytes: number): boolean {
    if (this.#head < this.#line.length || this.#used + bytes > this.total) return false;
    this.#used += bytes;
    return true;
  }

  /**
   * Queues `pieces` (each at most `total` bytes) behind the sends already
   * waiting: each piece's `admit` runs once its bytes are taken, then `done`.
   * Pieces still waiting after `maxBlockMs` leave the line and go to
   * `expired`, then `done` runs.
   */
  wait<P extends Piece>(pieces: readonly P[], done: () => void, expired: (error: TimeoutError, pieces: readonly P[]) => void): void {
    const waiter = new Waiter(pieces, done, expired as (error: TimeoutError, pieces: readonly Piece[]) => void);
    this.#line.push(waiter);
    this.#pump();
    if (waiter.next === pieces.length) return;
    if (this.maxBlockMs === 0) this.#expire(waiter);
    else waiter.timer = setTimeout(() => this.#expire(waiter), this.maxBlockMs);
  }

  /** Gives back bytes of appended (or failed) records and lets waiting sends in. */
  release(bytes: number): void {
    this.#used -= bytes;
    this.#pump();
  }

  #pump(): void {
    while (this.#head < this.#line.length) {
      const waiter = this.#line[this.#head]!;
      while (waiter.next < waiter.pieces.length) {
        const piece = waiter.pieces[waiter.next]!;
        if (this.#used + piece.bytes > this.total) return;
        this.#used += piece.bytes;
        waiter.next++;
        piece.admit();
      }
      this.#leave(waiter);
      waiter.done();
    }
  }

  #expire(waiter: Waiter): void {
    const left = waiter.pieces.slice(waiter.next);
    const bytes = left.reduce((sum, piece) => sum + piece.bytes, 0);
    const error = new TimeoutError(
      `Failed to allocate ${bytes} bytes within the configured max blocking time ${this.maxBlockMs} ms (maxBlockMs). ` +
        `Total memory: ${this.total} bytes (bufferMemory). Available memory: ${this.total - this.#used} bytes`,
    );
    waiter.next = waiter.pieces.length;
    this.#leave(waiter);
    waiter.expired(error, left);
    waiter.done();
    // The send that left may have held back smaller ones behind it.
    this.#pump();
  }

  #leave(waiter: Waiter): void {
    if (waiter.timer !== null) clearTimeout(waiter.timer);
    waiter.timer = null;
    const at = this.#line.indexOf(waiter, this.#head);
    if (at === this.#head) this.#head++;
    else this.#line.splice(at, 1);
    if (this.#head === this.#line.length) {
      this.#line = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#line.length) {
      this.#line = this.#line.slice(this.#head);
      this.#head = 0;
    }
  }
}
