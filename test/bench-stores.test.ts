// The sweep's stores (bench/sweep) are measuring instruments: each must keep
// every record it was sent and read every one back, or the bench compares
// nothing. Same sends to each, exact counts and touched bytes back.
import { describe, expect, it } from 'vitest';

import { openStore } from '../bench/sweep/open-store.js';
import { STORE_KINDS, type Acks } from '../bench/sweep/store.js';
import { tempDir } from './helpers.js';

/** Send n holds values whose first bytes are n*10 .. n*10+4. */
const valuesOf = (n: number): Buffer[] => Array.from({ length: 5 }, (_, i) => Buffer.from([n * 10 + i, 1, 2, 3]));

describe.each(STORE_KINDS)('bench store %s', (kind) => {
  it.each([0, 1, -1] as Acks[])('keeps and reads back every record sent at acks %s over 3 partitions', async (acks) => {
    const store = await openStore(kind, { dir: tempDir(), partitions: 3, acks, maxMessageBytes: 1_048_588 });
    try {
      const sends = await Promise.all(Array.from({ length: 12 }, (_, n) => store.send(n % 3, valuesOf(n))));
      expect(sends).toHaveLength(12);
      await store.drain();
      expect(await store.count()).toBe(60);
      // Sum of n*10+i over 12 sends of 5 values.
      expect(await store.readAll()).toMatchObject({ records: 60, touched: 5 * 10 * 66 + 12 * 10 });
    } finally {
      await store.close();
    }
  });
});
