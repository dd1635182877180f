import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

import { native } from '../src/storage/native.js';

const made: string[] = [];

/** A fresh directory, removed after the test. */
export function tempDir(prefix = 'fjord-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const tick = () => new Promise((r) => setTimeout(r, 10));

/**
 * Runs `fn` until it returns true or `ms` pass, forcing GC in between. GC runs
 * in a later job than `fn`: a WeakRef deref keeps its target alive until the
 * job ends.
 */
export async function eventually(fn: () => boolean, gc: () => void, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    await tick();
    gc();
    await tick();
    if (fn()) return true;
  }
  return fn();
}

/** Rewrites a batch's attributes (header bytes [21, 23)) and restores a valid CRC, as a producer of such a batch would. */
export function withAttributes(batch: Buffer, attributes: number): Buffer {
  const copy = Buffer.from(batch);
  copy.writeInt16BE(attributes, 21);
  copy.writeUInt32BE(native.crc32c(copy.subarray(21)), 17);
  return copy;
}

/** What `fn` throws; fails when it returns. */
export function captureError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}
