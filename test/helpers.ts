import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

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
