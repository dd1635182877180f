// lmdb-js as a log: one named database per partition, keyed by a sequence
// number, written with its asynchronous batched `put` (puts of one turn commit
// as one transaction). Not durable runs open with noSync; durable runs wait
// for the commit to be flushed (lmdb-js's overlapping sync, its default).
import { open, type Database, type RootDatabase } from 'lmdb';

import type { BenchStore, OpenOptions, ReadBack } from './store.js';

export class LmdbStore implements BenchStore {
  readonly #root: RootDatabase<Buffer, number>;
  readonly #partitions: Database<Buffer, number>[];
  readonly #next: number[];
  readonly #acks: OpenOptions['acks'];
  #lastPut: Promise<boolean> = Promise.resolve(true);

  constructor(options: OpenOptions) {
    this.#acks = options.acks;
    this.#root = open<Buffer, number>({ path: options.dir, noSync: options.acks !== -1, maxDbs: options.partitions + 1 });
    this.#partitions = Array.from({ length: options.partitions }, (_, p) =>
      this.#root.openDB<Buffer, number>(`p${p}`, { encoding: 'binary', keyEncoding: 'uint32' }),
    );
    this.#next = this.#partitions.map(() => 0);
  }

  async send(partition: number, values: readonly Buffer[]): Promise<void> {
    const db = this.#partitions[partition]!;
    let seq = this.#next[partition]!;
    const previous = this.#lastPut;
    let last: Promise<boolean> = previous;
    for (const value of values) last = db.put(seq++, value);
    this.#next[partition] = seq;
    this.#lastPut = last;
    // acks 0 does not wait for its own puts, only for the send before it: with
    // nothing to wait for, the queue of copied values grows without bound.
    if (this.#acks === 0) {
      await previous;
      return;
    }
    await last;
    if (this.#acks === -1) await this.#root.flushed;
  }

  async drain(): Promise<void> {
    await this.#lastPut;
    if (this.#acks === -1) await this.#root.flushed;
  }

  async count(): Promise<number> {
    let records = 0;
    for (const db of this.#partitions) records += db.getCount();
    return records;
  }

  async readAll(): Promise<ReadBack> {
    let records = 0;
    let touched = 0;
    for (const db of this.#partitions) {
      for (const { value } of db.getRange({ start: 0 })) {
        touched += value[0]!;
        records++;
      }
    }
    return { records, touched };
  }

  async close(): Promise<void> {
    await this.#root.close();
  }
}
