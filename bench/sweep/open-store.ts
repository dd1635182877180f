import { FjordStore } from './fjord-store.js';
import { FloorStore } from './floor-store.js';
import { LmdbStore } from './lmdb-store.js';
import { SqliteStore } from './sqlite-store.js';
import type { BenchStore, OpenOptions, StoreKind } from './store.js';

/** Opens a fresh store of `kind` for one cell. */
export async function openStore(kind: StoreKind, options: OpenOptions): Promise<BenchStore> {
  switch (kind) {
    case 'fjord':
      return FjordStore.open(options);
    case 'lmdb':
      return new LmdbStore(options);
    case 'sqlite':
      return new SqliteStore(options);
    case 'floor':
      return new FloorStore(options);
  }
}
