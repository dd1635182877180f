// The peers (lmdb, better-sqlite3) are devDependencies: their modules are
// imported only when a cell of theirs runs, so an installed fjord-bench
// (without them) loads and runs the Fjord and floor rows.
import { FjordStore } from './fjord-store.js';
import { FloorStore } from './floor-store.js';
import type { BenchStore, OpenOptions, StoreKind } from './store.js';

/** The package each peer store needs; Fjord and the floor need none beyond Fjord's own. */
export const PEER_PACKAGES: Partial<Record<StoreKind, string>> = { lmdb: 'lmdb', sqlite: 'better-sqlite3' };

/** Whether `kind` can run here: its peer package, if it has one, can be imported. */
export async function storeAvailable(kind: StoreKind): Promise<boolean> {
  const peer = PEER_PACKAGES[kind];
  if (peer === undefined) return true;
  try {
    await import(peer);
    return true;
  } catch {
    return false;
  }
}

/** Opens a fresh store of `kind` for one cell. */
export async function openStore(kind: StoreKind, options: OpenOptions): Promise<BenchStore> {
  switch (kind) {
    case 'fjord':
      return FjordStore.open(options);
    case 'lmdb':
      return new (await import('./lmdb-store.js')).LmdbStore(options);
    case 'sqlite':
      return new (await import('./sqlite-store.js')).SqliteStore(options);
    case 'floor':
      return new FloorStore(options);
  }
}
