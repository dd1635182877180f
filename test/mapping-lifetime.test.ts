// Finalizer behaviour, in a file of its own so no other test's mappings are
// being collected while these count them. A read of 64 KiB or more is a
// private mapping of the file (`liveFetchMaps`), which holds its segment's
// shared mapping (`liveReadMaps`) and keeps the file from being shortened
// under it.
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { expect, it } from 'vitest';

import { encodeBatch, liveReadMaps, Log } from '../src/index.js';
import { native } from '../src/storage/native.js';
import { eventually, tempDir } from './helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Appends `count` one-record batches of 9000-byte values, each filled with its offset. */
function fill(log: Log, count: number): void {
  for (let i = 0; i < count; i++) log.append(encodeBatch([{ value: Buffer.alloc(9000, log.logEndOffset & 0xff) }]));
}

it('keeps a deleted or truncated segment readable through a held read, and unmaps it once the Buffer is collected', async () => {
  const log = await Log.open(tempDir(), { segmentBytes: 1 << 20 });
  fill(log, 250);
  expect(log.segments().length).toBe(3);
  expect([liveReadMaps(), native.liveFetchMaps()]).toEqual([0, 0]);
  let held: Buffer | null = log.read(0, 1 << 20);
  const heldCopy = Buffer.from(held);
  const activeBase = log.segments()[2]!.baseOffset;
  let tail: Buffer | null = log.read(activeBase, 1 << 20);
  const tailCopy = Buffer.from(tail);
  expect([liveReadMaps(), native.liveFetchMaps()]).toEqual([2, 2]);
  const weak = [new WeakRef(held.buffer), new WeakRef(tail.buffer)];

  expect(log.deleteOldestSegment()).toBe(true);
  expect(log.truncateTo(activeBase + 2)).toBe(activeBase + 2); // cuts the active segment well inside the tail read
  log.append(encodeBatch([{ value: Buffer.alloc(20_000, 0xee) }]));
  gc();
  expect(held.equals(heldCopy)).toBe(true);
  expect(tail.equals(tailCopy)).toBe(true);
  // Still the reader's own memory: writable, and the log unchanged by the writes.
  held.fill(1);
  tail.reverse();
  expect(held.equals(Buffer.alloc(heldCopy.length, 1))).toBe(true);
  const reread = log.read(activeBase, 1);
  expect(reread.equals(tailCopy.subarray(0, reread.length))).toBe(true);

  held = null;
  tail = null;
  const released = await eventually(() => weak.every((w) => w.deref() === undefined) && native.liveFetchMaps() === 0, gc);
  expect(released).toBe(true);
  await log.close();
  const closed = await eventually(() => liveReadMaps() === 0, gc);
  expect(closed).toBe(true);
}, 20_000);

it('maps at most fetchMapsLimit() reads at once, copying the rest, and unmaps them once collected', async () => {
  const log = await Log.open(tempDir());
  fill(log, 30);
  const limit = native.fetchMapsLimit();
  const expected = Buffer.from(log.read(0, 1 << 20));
  // A synchronous loop: no finalizer can run before it ends.
  const reads: Buffer[] = [];
  for (let i = 0; i < limit + 100; i++) reads.push(log.read(0, 1 << 20));
  expect(native.liveFetchMaps()).toBe(limit);
  expect(reads.every((read) => read.equals(expected))).toBe(true);
  reads.length = 0;
  const released = await eventually(() => native.liveFetchMaps() === 0, gc);
  expect(released).toBe(true);
  await log.close();
}, 60_000);
