// Partition directories the topic registry did not make are never removed
// nor rewritten: createTopics over a Kafka broker's directories fails naming
// them, a crash's leftovers are removed only when Fjord's marker proves them
// Fjord's, a Kafka broker's `*-delete` directories stay, createTopics is all
// or nothing on a disk that fills up midway, and `fjord verify` reports
// directories and files it cannot account for.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

import { Fjord, KafkaStorageError, TopicAlreadyExistsError, verifyDataDir } from '../src/index.js';
import { track } from './fjord-kit.js';
import { tempDir } from './helpers.js';

type Entry = { level: number; namespace: string; log: { message: string } };

function open(dir: string, entries: Entry[] = []): Fjord {
  return track(new Fjord({ dir, logCreator: () => (entry) => void entries.push(entry as unknown as Entry) }));
}

/** Every file under `dir` with the SHA-256 of its bytes (directories as `dir/`), sorted. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (at: string) => {
    for (const name of readdirSync(at)) {
      const path = join(at, name);
      if (statSync(path).isDirectory()) {
        out.push(`${relative(dir, path)}/`);
        walk(path);
      } else out.push(`${relative(dir, path)} ${createHash('sha256').update(readFileSync(path)).digest('hex')}`);
    }
  };
  walk(dir);
  return out.sort();
}

/** What a Kafka 4.4 broker leaves in a partition directory (contents of our own: only the names and bytes matter). */
function kafkaPartitionDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const name of [
    '00000000000000000000.log',
    '00000000000000000000.index',
    '00000000000000000000.timeindex',
    '00000000000000000000.snapshot',
    '00000000000000000003.snapshot',
    'leader-epoch-checkpoint',
    'partition.metadata',
  ]) {
    writeFileSync(join(dir, name), `Kafka's ${name}\n`);
  }
}

async function createTopic(fjord: Fjord, topic: string, numPartitions: number): Promise<boolean> {
  const admin = fjord.admin();
  await admin.connect();
  try {
    return await admin.createTopics({ topics: [{ topic, numPartitions }] });
  } finally {
    await admin.disconnect();
  }
}

describe('createTopics over directories Fjord did not write', () => {
  it('fails with TopicAlreadyExistsError naming the directory, and leaves every file of it byte for byte', async () => {
    const dir = tempDir();
    kafkaPartitionDir(join(dir, 'orders-1'));
    const before = tree(dir);
    const entries: Entry[] = [];
    const fjord = open(dir, entries);
    const error = await createTopic(fjord, 'orders', 3).catch((e: unknown) => e);
    const message = `cannot create topic orders: its partition directory ${join(dir, 'orders-1')} exists and holds files Fjord did not write (00000000000000000000.index, 00000000000000000000.log, 00000000000000000000.snapshot, 00000000000000000000.timeindex, 00000000000000000003.snapshot, … (7 entries)); Fjord leaves it as it is`;
    expect(error).toBeInstanceOf(TopicAlreadyExistsError);
    expect((error as Error).message).toBe(message);
    expect(entries.filter((e) => e.namespace === 'Topics').map((e) => e.log.message)).toEqual([message]);
    // Nothing was made either: not orders-0, not the metadata entry.
    expect((await fjord.topics()).list()).toEqual([]);
    await fjord.close();
    expect(tree(dir).filter((f) => !f.startsWith('.lock') && !f.startsWith('fjord-topics.msgpack'))).toEqual(before);
  });

  it('removes what a crash mid-create left (Fjord marked the directory first), and creates the topic', async () => {
    const dir = tempDir();
    let fjord = open(dir);
    await createTopic(fjord, 'jobs', 2);
    await fjord.close();
    // A crash after partition 1's directory was made, before the metadata listed topic `later`.
    mkdirSync(join(dir, 'later-0'));
    writeFileSync(join(dir, 'later-0', '.fjord-creating'), '');
    writeFileSync(join(dir, 'later-0', '00000000000000000000.log'), '');
    expect((await verifyDataDir(dir)).problems).toEqual([
      {
        kind: 'unowned-partition',
        file: 'later-0',
        position: 0,
        offset: null,
        message:
          'no topic owns this partition directory: a createTopics of later was interrupted (it holds .fjord-creating); the next createTopics of later removes it',
      },
    ]);
    const entries: Entry[] = [];
    fjord = open(dir, entries);
    expect(await createTopic(fjord, 'later', 1)).toBe(true);
    expect(entries.filter((e) => e.namespace === 'Topics').map((e) => e.log.message)).toEqual([
      `removing ${join(dir, 'later-0')}: a partition directory a crash left while topic later was being created`,
    ]);
    // Created: the marker is gone once the metadata lists the topic.
    expect(readdirSync(join(dir, 'later-0')).includes('.fjord-creating')).toBe(false);
    await fjord.close();
    const check = await verifyDataDir(dir);
    expect([check.ok, check.problems, check.partitions.map((p) => `${p.topic}-${p.partition}`)]).toEqual([true, [], ['jobs-0', 'jobs-1', 'later-0']]);
  });

  it("an empty directory is used as it is; a Kafka broker's *-delete directory stays, Fjord's own is removed at open", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'empty-0'));
    const kafkaDeleted = join(dir, 'gone-0.5e2cb1a1f53b4a3e9f2d0c6d4a7b8e91-delete');
    kafkaPartitionDir(kafkaDeleted);
    const kafkaBefore = tree(kafkaDeleted);
    let fjord = open(dir);
    expect(await createTopic(fjord, 'empty', 1)).toBe(true);
    await createTopic(fjord, 'doomed', 1);
    await fjord.close();
    // A crash in deleteTopics after the rename: Fjord's marker is in the renamed directory.
    mkdirSync(join(dir, 'doomed-0.0123456789abcdef0123456789abcdef-delete'));
    writeFileSync(join(dir, 'doomed-0.0123456789abcdef0123456789abcdef-delete', '.fjord-deleting'), '');
    fjord = open(dir);
    await fjord.topics();
    expect(readdirSync(dir).filter((n) => n.endsWith('-delete'))).toEqual(['gone-0.5e2cb1a1f53b4a3e9f2d0c6d4a7b8e91-delete']);
    expect(tree(kafkaDeleted)).toEqual(kafkaBefore);
    const admin = fjord.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: ['doomed'] });
    await admin.disconnect();
    expect(readdirSync(dir).filter((n) => n.startsWith('doomed'))).toEqual([]);
  });
});

describe('fjord verify and files it cannot account for', () => {
  it('reports partition directories no topic owns and stray files, and checks none of them', async () => {
    const dir = tempDir();
    const fjord = open(dir);
    await createTopic(fjord, 't', 1);
    await fjord.close();
    kafkaPartitionDir(join(dir, 'kafkas-0'));
    writeFileSync(join(dir, 'notes.txt'), 'x');
    writeFileSync(join(dir, 't-0', '+0000000000000000042.log'), 'x');
    const check = await verifyDataDir(dir);
    expect(check.ok).toBe(false);
    expect(check.problems).toEqual([
      {
        kind: 'unknown-file',
        file: 'notes.txt',
        position: 0,
        offset: null,
        message: 'a file that is neither a partition directory nor a file Fjord or Kafka keeps in a data directory: left as it is',
      },
      {
        kind: 'unowned-partition',
        file: 'kafkas-0',
        position: 0,
        offset: null,
        message: 'no topic of fjord-topics.msgpack owns this partition directory, and Fjord did not make it: left as it is',
      },
    ]);
    expect(check.partitions.map((p) => [`${p.topic}-${p.partition}`, p.problems.map((q) => [q.kind, q.file])])).toEqual([
      ['t-0', [['unknown-file', '+0000000000000000042.log']]],
    ]);
  });
});

/** Mounts a tmpfs of `bytes` at a new directory. Needs root (CAP_SYS_ADMIN), which CI has. */
function mountTmpfs(bytes: number): string {
  const mountPoint = tempDir('fjord-enospc-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', mountPoint]);
  return mountPoint;
}

describe('createTopics on a disk that fills up midway', () => {
  it('is all or nothing: the partitions made are removed, nothing else is touched, and a smaller topic fits afterwards', async () => {
    const mountPoint = mountTmpfs(1024 * 1024);
    try {
      const dir = join(mountPoint, 'data');
      mkdirSync(dir);
      const fjord = open(dir);
      await createTopic(fjord, 'kept', 1);
      kafkaPartitionDir(join(dir, 'foreign-0'));
      const before = tree(dir);
      // Each partition takes a few pages (its checkpoint, its directory): 1 MiB holds far fewer than 2000.
      const error = await createTopic(fjord, 'huge', 2000).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KafkaStorageError);
      expect(error).toMatchObject({ code: 'ERR_DISK_FULL', errnoName: 'ENOSPC' });
      expect(tree(dir)).toEqual(before);
      expect((await fjord.topics()).list().map((t) => t.name)).toEqual(['kept']);
      expect(await createTopic(fjord, 'small', 4)).toBe(true);
      await fjord.close();
      const check = await verifyDataDir(dir);
      expect(check.partitions.map((p) => `${p.topic}-${p.partition}:${p.ok}`)).toEqual([
        'kept-0:true',
        'small-0:true',
        'small-1:true',
        'small-2:true',
        'small-3:true',
      ]);
      expect(check.problems.map((p) => [p.kind, p.file])).toEqual([['unowned-partition', 'foreign-0']]);
    } finally {
      execFileSync('umount', ['-l', mountPoint]);
    }
  }, 60_000);
});
