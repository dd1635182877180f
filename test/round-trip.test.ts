import { describe, expect, it } from 'vitest';

import { decodeBatches, encodeBatch, Log } from '../src/index.js';
import { tempDir } from './helpers.js';

describe('round trip', () => {
  it('carries 1,000,000 records through encode, append, read and decode unchanged', async () => {
    const total = 1_000_000;
    const perBatch = 1000;
    const t0 = 1_700_000_000_000;
    const key = (n: number) => (n % 7 === 0 ? null : `user-${n % 9973}`);
    const value = (n: number) => (n % 13 === 0 ? null : `event ${n} ${'.'.repeat(n % 50)}`);
    const log = await Log.open(tempDir(), { segmentBytes: 16 << 20 });
    for (let b = 0; b < total / perBatch; b++) {
      const records = [];
      for (let i = 0; i < perBatch; i++) {
        const n = b * perBatch + i;
        records.push({ key: key(n), value: value(n), timestamp: t0 + n, headers: n % 3 === 0 ? { n: String(n) } : undefined });
      }
      expect(log.append(encodeBatch(records)).baseOffset).toBe(b * perBatch);
    }
    expect(log.segments().length).toBeGreaterThan(1);

    let n = 0;
    let mismatches = 0;
    let offset = 0;
    for (let slice = log.readSlice(0); slice; slice = log.readSlice(offset)) {
      for (const r of decodeBatches(slice.bytes, { fromOffset: offset })) {
        const ok =
          r.offset === n &&
          r.timestamp === t0 + n &&
          (r.key === null ? null : r.key.toString()) === key(n) &&
          (r.value === null ? null : r.value.toString()) === value(n) &&
          (n % 3 === 0 ? r.headers.n?.toString() === String(n) : Object.keys(r.headers).length === 0);
        if (!ok) mismatches++;
        n++;
      }
      offset = slice.nextOffset;
    }
    expect(mismatches).toBe(0);
    expect(n).toBe(total);
    await log.close();
  }, 120_000);
});
