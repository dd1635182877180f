// Finalizer behaviour, in a file of its own so no other test's mappings are
// being collected while these count them.
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { expect, it } from 'vitest';

import { encodeBatch, liveReadMaps, Log } from '../src/index.js';
import { eventually, tempDir } from './helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function fill(log: Log, batches: number): void {
  for (let i = 0; i < batches; i++) log.append(encodeBatch([{ value: `value-${i}`.repeat(20) }, { value: 'x' }]));
}

it('keeps a deleted segment mapped while a Buffer views it, and unmaps it once the Buffer is collected', async () => {
  const log = await Log.open(tempDir(), { segmentBytes: 4096 });
  fill(log, 40);
  expect(log.segments().length).toBeGreaterThan(2);
  expect(liveReadMaps()).toBe(0);
  let held: Buffer | null = log.read(0);
  const copy = Buffer.from(held);
  expect(liveReadMaps()).toBe(1);
  const weak = new WeakRef(held.buffer);

  expect(log.deleteOldestSegment()).toBe(true);
  log.read(log.logStartOffset); // maps the next segment and drops the log's cache entry for the deleted one
  expect(liveReadMaps()).toBe(2);
  gc();
  expect(held.equals(copy)).toBe(true);

  held = null;
  const released = await eventually(() => weak.deref() === undefined && liveReadMaps() === 1, gc);
  expect(released).toBe(true);
  await log.close();
  const closed = await eventually(() => liveReadMaps() === 0, gc);
  expect(closed).toBe(true);
}, 20_000);
