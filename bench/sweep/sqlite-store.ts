// better-sqlite3 as a log: WAL, one table per partition with an integer
// primary key, one transaction per send. Not durable runs set
// synchronous=OFF; durable runs synchronous=FULL (the WAL is synced at every
// commit). Its API is synchronous, so concurrent senders take turns.
import { join } from 'node:path';

import Database from 'better-sqlite3';

import type { BenchStore, OpenOptions, ReadBack } from './store.js';

export class SqliteStore implements BenchStore {
  readonly #db: Database.Database;
  readonly #inserts: Database.Statement[];
  readonly #reads: Database.Statement[];
  readonly #insertAll: (insert: Database.Statement, values: readonly Buffer[]) => void;

  constructor(options: OpenOptions) {
    this.#db = new Database(join(options.dir, 'log.sqlite'));
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma(`synchronous = ${options.acks === -1 ? 'FULL' : 'OFF'}`);
    const tables = Array.from({ length: options.partitions }, (_, p) => `p${p}`);
    for (const table of tables) this.#db.exec(`CREATE TABLE ${table} (seq INTEGER PRIMARY KEY, value BLOB NOT NULL)`);
    this.#inserts = tables.map((table) => this.#db.prepare(`INSERT INTO ${table} (value) VALUES (?)`));
    this.#reads = tables.map((table) => this.#db.prepare(`SELECT value FROM ${table} ORDER BY seq`).pluck());
    this.#insertAll = this.#db.transaction((insert: Database.Statement, values: readonly Buffer[]) => {
      for (const value of values) insert.run(value);
    });
  }

  async send(partition: number, values: readonly Buffer[]): Promise<void> {
    this.#insertAll(this.#inserts[partition]!, values);
  }

  async drain(): Promise<void> {}

  async count(): Promise<number> {
    let records = 0;
    for (let p = 0; p < this.#inserts.length; p++) records += this.#db.prepare(`SELECT count(*) FROM p${p}`).pluck().get() as number;
    return records;
  }

  async readAll(): Promise<ReadBack> {
    let records = 0;
    let touched = 0;
    for (const read of this.#reads) {
      for (const value of read.iterate() as IterableIterator<Buffer>) {
        touched += value[0]!;
        records++;
      }
    }
    return { records, touched };
  }

  async close(): Promise<void> {
    this.#db.close();
  }
}
