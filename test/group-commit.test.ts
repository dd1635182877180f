import { describe, expect, it } from 'vitest';

import { GroupCommit } from '../src/topics/group-commit.js';

/** A GroupCommit whose flushes end when the test says so; `started` counts them. */
function controlled() {
  const ends: (() => void)[] = [];
  const commit = new GroupCommit(() => new Promise<void>((resolve) => ends.push(resolve)));
  return { commit, ends, started: () => ends.length };
}

describe('group commit', () => {
  it('a sync with no append since the running flush started joins that flush', async () => {
    const { commit, ends, started } = controlled();
    commit.appended();
    const first = commit.sync();
    const second = commit.sync();
    expect(started()).toBe(1);
    ends[0]!();
    await Promise.all([first, second]);
    expect(commit.flushes).toBe(1);
    expect(started()).toBe(1);
  });

  it('a sync after an append made during a running flush waits for the next flush, shared by every such caller', async () => {
    const { commit, ends, started } = controlled();
    commit.appended();
    const first = commit.sync();
    commit.appended();
    let secondDone = false;
    const second = commit.sync().then(() => (secondDone = true));
    const third = commit.sync();
    ends[0]!();
    await first;
    await Promise.resolve();
    expect(secondDone).toBe(false);
    await new Promise((resolve) => setImmediate(resolve));
    expect(started()).toBe(2);
    ends[1]!();
    await Promise.all([second, third]);
    expect(commit.flushes).toBe(2);
  });

  it('a failed flush rejects the callers it covered; the next sync starts a new flush', async () => {
    let fail = true;
    const commit = new GroupCommit(() => (fail ? Promise.reject(new Error('fsync failed')) : Promise.resolve()));
    commit.appended();
    await expect(Promise.all([commit.sync(), commit.sync()])).rejects.toThrow('fsync failed');
    fail = false;
    await commit.sync();
    expect(commit.flushes).toBe(1);
  });
});
