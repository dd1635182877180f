// `verifyDataDir`: checks every partition log of a data directory byte by
// byte (in the native store: framing, magic, CRC-32C, contiguous offsets,
// index and time index entries) without opening it for writing or changing
// anything. It holds the data directory's lock shared and read-only for the
// duration, so it fails (LogDirectoryLockedError) while a Fjord has the
// directory open and no Fjord can open it meanwhile: files being appended to
// would show torn tails that are only appends in flight.
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import { describeValue } from '../arguments.js';
import { fromNative, InvalidArgumentError } from '../errors.js';
import { native } from '../storage/native.js';
import { CREATING_MARKER, listedTopics, TOPICS_METADATA_FILE } from '../topics/topic-registry.js';

export interface VerifyProblem {
  /**
   * `torn-batch`, `zero-tail`, `corrupt-batch`, `offset-mismatch`,
   * `missing-index`, `short-index`, `bad-index-entry`, `orphan-index`,
   * `unknown-file`; at the directory level `missing-partition`,
   * `bad-metadata`, `unowned-partition` (a partition directory no topic of
   * the metadata owns: not checked, never removed) and `unknown-file`.
   */
  kind: string;
  /** File name inside the partition directory (or the data directory). */
  file: string;
  /** Byte position in that file. */
  position: number;
  /** The offset concerned, when there is one. */
  offset: number | null;
  message: string;
}

export interface PartitionVerification {
  topic: string;
  partition: number;
  dir: string;
  ok: boolean;
  /** Closed cleanly: open will not need to recover it. */
  cleanShutdown: boolean;
  segments: number;
  batches: number;
  /** Base offset of the first segment, and one past the last offset found. */
  firstOffset: number;
  endOffset: number;
  problems: VerifyProblem[];
}

export interface DataDirVerification {
  dir: string;
  /** No problem anywhere. */
  ok: boolean;
  partitions: PartitionVerification[];
  /** Problems of the directory itself (metadata, missing partition directories). */
  problems: VerifyProblem[];
}

const PARTITION_DIR = /^(.+)-(\d+)$/;
/** Fjord's internal topics: their partition directories are not in the topic metadata. */
const INTERNAL_TOPICS = new Set(['__consumer_offsets']);
/**
 * Files of a data directory besides the partition directories: Fjord's (the
 * lock, the topic metadata and its temporary) and a Kafka broker's (its
 * checkpoints and properties).
 */
const KNOWN_ROOT_FILES = new Set([
  '.lock',
  TOPICS_METADATA_FILE,
  `${TOPICS_METADATA_FILE}.tmp`,
  // Fjord's producer id allocation (native/store/src/producer_ids.rs).
  'producer-id-counter',
  'producer-id-counter.tmp',
  'meta.properties',
  'bootstrap.checkpoint',
  '.kafka_cleanshutdown',
  'recovery-point-offset-checkpoint',
  'log-start-offset-checkpoint',
  'replication-offset-checkpoint',
  'cleaner-offset-checkpoint',
]);

/** Checks every partition of a Fjord data directory; changes nothing. */
export async function verifyDataDir(dir: string): Promise<DataDirVerification> {
  if (typeof dir !== 'string' || dir === '') throw new InvalidArgumentError(`dir must be a non-empty path, got ${describeValue(dir)}`);
  const root = resolve(dir);
  const info = await stat(root).catch(() => null);
  if (info === null || !info.isDirectory()) throw new InvalidArgumentError(`${root} is not a directory`);
  const entries = await readdir(root, { withFileTypes: true });
  const partitionDirs = entries
    .filter((e) => e.isDirectory() && PARTITION_DIR.test(e.name) && !e.name.endsWith('-delete'))
    .map((e) => e.name)
    .sort();
  const hasMetadata = entries.some((e) => e.name === TOPICS_METADATA_FILE);
  if (!hasMetadata && partitionDirs.length === 0) {
    throw new InvalidArgumentError(`${root} is not a Fjord data directory: no ${TOPICS_METADATA_FILE} and no <topic>-<partition> directories`);
  }
  let lock: InstanceType<typeof native.ReadOnlyLock> | undefined;
  try {
    lock = native.ReadOnlyLock.acquire(root);
  } catch (error) {
    throw fromNative(error);
  }
  try {
    const problems: VerifyProblem[] = [];
    for (const entry of entries) {
      const partitionDir = entry.isDirectory() && PARTITION_DIR.test(entry.name);
      if (partitionDir || KNOWN_ROOT_FILES.has(entry.name) || entry.name.endsWith('.tmp')) continue;
      const what = entry.isDirectory() ? 'directory' : 'file';
      problems.push({
        kind: 'unknown-file',
        file: entry.name,
        position: 0,
        offset: null,
        message: `a ${what} that is neither a partition directory nor a file Fjord or Kafka keeps in a data directory: left as it is`,
      });
    }
    /** Partition directories the metadata accounts for; null when it cannot be read. */
    let owned: Set<string> | null = new Set();
    if (hasMetadata) {
      try {
        for (const { name, partitions } of await listedTopics(root)) {
          for (let p = 0; p < partitions; p++) {
            owned.add(`${name}-${p}`);
            if (!partitionDirs.includes(`${name}-${p}`)) {
              problems.push({
                kind: 'missing-partition',
                file: `${name}-${p}`,
                position: 0,
                offset: null,
                message: `topic ${name} has ${partitions} partitions but no directory for partition ${p}`,
              });
            }
          }
        }
      } catch (error) {
        owned = null;
        problems.push({
          kind: 'bad-metadata',
          file: TOPICS_METADATA_FILE,
          position: 0,
          offset: null,
          message: `cannot read the topic metadata: ${(error as Error).message}`,
        });
      }
    }
    const partitions: PartitionVerification[] = [];
    for (const name of partitionDirs) {
      const [, topic, partition] = PARTITION_DIR.exec(name) as unknown as [string, string, string];
      if (owned !== null && !owned.has(name) && !INTERNAL_TOPICS.has(topic)) {
        // Not Fjord's to read as a log it owns, nor to remove: reported.
        const marked = existsSync(join(root, name, CREATING_MARKER));
        problems.push({
          kind: 'unowned-partition',
          file: name,
          position: 0,
          offset: null,
          message: marked
            ? `no topic owns this partition directory: a createTopics of ${topic} was interrupted (it holds ${CREATING_MARKER}); the next createTopics of ${topic} removes it`
            : `no topic of ${TOPICS_METADATA_FILE} owns this partition directory, and Fjord did not make it: left as it is`,
        });
        continue;
      }
      const check = await native.verifyLog(join(root, name)).catch((error: unknown) => {
        throw fromNative(error);
      });
      const found = check.problems.map((p) => ({ kind: p.kind, file: p.file, position: p.position, offset: p.offset ?? null, message: p.message }));
      partitions.push({
        topic,
        partition: Number(partition),
        dir: check.dir,
        ok: found.length === 0,
        cleanShutdown: check.cleanShutdown,
        segments: check.segments,
        batches: check.batches,
        firstOffset: check.firstOffset,
        endOffset: check.endOffset,
        problems: found,
      });
    }
    return { dir: root, ok: problems.length === 0 && partitions.every((p) => p.ok), partitions, problems };
  } finally {
    lock.release();
  }
}

const plural = (n: number, word: string, words = `${word}s`) => `${n} ${n === 1 ? word : words}`;

function problemLine(p: VerifyProblem): string {
  const offset = p.offset === null ? '' : ` offset ${p.offset}`;
  return `    ${p.kind} ${p.file} byte ${p.position}${offset}: ${p.message}`;
}

/** A readable report: a line per partition, a line per problem, a summary. */
export function formatVerification(result: DataDirVerification): string {
  const lines = [`fjord verify ${result.dir}`];
  for (const p of result.problems) lines.push(problemLine(p).slice(2));
  for (const p of result.partitions) {
    const offsets = p.endOffset > p.firstOffset ? `offsets [${p.firstOffset}, ${p.endOffset})` : `empty at offset ${p.endOffset}`;
    const state = p.ok ? 'ok' : plural(p.problems.length, 'problem');
    const shutdown = p.cleanShutdown ? '' : ', not closed cleanly';
    lines.push(`  ${p.topic}-${p.partition}: ${state} (${plural(p.segments, 'segment')}, ${plural(p.batches, 'batch', 'batches')}, ${offsets}${shutdown})`);
    for (const problem of p.problems) lines.push(problemLine(problem));
  }
  const total = result.problems.length + result.partitions.reduce((n, p) => n + p.problems.length, 0);
  lines.push(`${plural(result.partitions.length, 'partition')} checked: ${total === 0 ? 'no problems' : plural(total, 'problem')}`);
  return `${lines.join('\n')}\n`;
}
