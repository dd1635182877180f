// The floor: each value as a 4-byte big-endian length and its bytes, appended
// with fs.writeSync to one file per partition and read back with fs.readSync in
// 1 MiB chunks. Durable runs fdatasync as `floorSync` says.
import { closeSync, fdatasyncSync, openSync } from 'node:fs';
import { join } from 'node:path';

import { frame, readFrames, writeAll } from '../support.js';
import type { BenchStore, FloorSync, OpenOptions, ReadBack } from './store.js';

const READ_CHUNK_BYTES = 1024 * 1024;

export class FloorStore implements BenchStore {
  readonly #paths: string[];
  readonly #fds: number[];
  readonly #counts: number[];
  readonly #dirty = new Set<number>();
  readonly #durable: boolean;
  readonly #sync: FloorSync;
  #largest = 0;
  /** The group commit waiting for the end of this turn, if any. */
  #pendingSync: Promise<void> | null = null;

  constructor(options: OpenOptions) {
    this.#paths = Array.from({ length: options.partitions }, (_, p) => join(options.dir, `frames-${p}`));
    this.#fds = this.#paths.map((path) => openSync(path, 'w+'));
    this.#counts = this.#paths.map(() => 0);
    this.#durable = options.acks === -1;
    this.#sync = options.floorSync ?? 'group';
  }

  send(partition: number, values: readonly Buffer[]): Promise<void> {
    const fd = this.#fds[partition]!;
    if (this.#durable && this.#sync === 'record') {
      for (const value of values) {
        writeAll(fd, frame([value]));
        fdatasyncSync(fd);
      }
    } else writeAll(fd, frame(values));
    for (const value of values) if (value.length > this.#largest) this.#largest = value.length;
    this.#counts[partition]! += values.length;
    if (!this.#durable || this.#sync !== 'group') return Promise.resolve();
    this.#dirty.add(partition);
    // Every send of this turn waits for one fdatasync of each file written.
    this.#pendingSync ??= new Promise<void>((resolve) =>
      setImmediate(() => {
        this.#pendingSync = null;
        this.#syncDirty();
        resolve();
      }),
    );
    return this.#pendingSync;
  }

  async drain(): Promise<void> {
    await this.#pendingSync;
    if (this.#durable && this.#sync === 'end') for (const fd of this.#fds) fdatasyncSync(fd);
  }

  async count(): Promise<number> {
    return this.#counts.reduce((a, b) => a + b, 0);
  }

  async readAll(): Promise<ReadBack> {
    const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES + 4 + this.#largest);
    let records = 0;
    let touched = 0;
    for (const fd of this.#fds) {
      const read = readFrames(fd, buffer, READ_CHUNK_BYTES);
      records += read.records;
      touched += read.touched;
    }
    return { records, touched };
  }

  async close(): Promise<void> {
    for (const fd of this.#fds) closeSync(fd);
  }

  #syncDirty(): void {
    for (const partition of this.#dirty) fdatasyncSync(this.#fds[partition]!);
    this.#dirty.clear();
  }
}
