// Damaged partition files through the public API: what open repairs and
// logs, what a read refuses (CorruptRecordError), and what consumers do.
import { appendFileSync, existsSync, readFileSync, realpathSync, rmSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';

import { batchInfos, CorruptRecordError, decodeBatches, Fjord, logLevel, stderrLogCreator, type BatchInfo, type LogEntry } from '../src/index.js';
import { batchesIn, COUNT, flipByte, partitionDir, producedDataDir as produced, segmentFiles, TOPIC } from './damaged-dir.js';
import { logOf, track, valuesOf } from './fjord-kit.js';

/** Bytes from `from` up to the last non-zero byte of the file: what recovery counts as torn. */
function tornBytes(path: string, from: number): number {
  const bytes = readFileSync(path).subarray(from);
  let last = bytes.length - 1;
  while (last >= 0 && bytes[last] === 0) last--;
  return last + 1;
}

/** As a killed process leaves it: no clean-shutdown marker, so open recovers the last segment. */
function markCrashed(dir: string): void {
  rmSync(join(partitionDir(dir), '.clean-shutdown'));
}

function reopen(dir: string): { fjord: Fjord; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const fjord = track(new Fjord({ dir, logCreator: () => (entry) => void entries.push(entry) }));
  return { fjord, entries };
}

const values = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `m-${from + i}`);
const lines = (entries: LogEntry[]) => entries.map((e) => `${e.label} [${e.namespace}] ${e.log.message}`);

describe('recovery of a damaged tail, logged', () => {
  it('cuts a batch torn mid-way and warns naming the partition, the bytes cut and the segments deleted', async () => {
    const dir = await produced();
    const files = segmentFiles(dir);
    const lastFile = files.at(-1)!;
    const path = join(partitionDir(dir), lastFile);
    const batches = batchesIn(dir, lastFile);
    const last = batches.at(-1)!;
    truncateSync(path, last.position + last.size - 10);
    markCrashed(dir);
    const torn = tornBytes(path, last.position);
    const { fjord, entries } = reopen(dir);
    expect(await valuesOf(fjord, TOPIC, 0)).toEqual(values(COUNT - 1));
    const note = `segment ${lastFile}: cut ${last.size - 10} bytes after the last valid batch at byte ${last.position} (${batches.length - 1} valid batches), ${torn} of them a torn or corrupt batch`;
    expect(lines(entries)).toEqual([
      `WARN [Recovery] t-0: recovery cut ${last.size - 10} bytes (${torn} of a torn or corrupt batch) and deleted 0 segment(s): ${note}`,
    ]);
    expect(entries[0]!.log).toMatchObject({ partition: 't-0', bytesTruncated: last.size - 10, tornBytesTruncated: torn, segmentsDeleted: 0, notes: [note] });
    expect((await logOf(fjord, TOPIC, 0)).logEndOffset).toBe(COUNT - 1);
  });

  it('cuts zeros after the last batch with an info line, keeping every record', async () => {
    const dir = await produced();
    const lastFile = segmentFiles(dir).at(-1)!;
    const batches = batchesIn(dir, lastFile);
    const end = batches.at(-1)!.position + batches.at(-1)!.size;
    appendFileSync(join(partitionDir(dir), lastFile), Buffer.alloc(8192));
    markCrashed(dir);
    const { fjord, entries } = reopen(dir);
    expect(await valuesOf(fjord, TOPIC, 0)).toEqual(values(COUNT));
    expect(lines(entries)).toEqual([
      `INFO [Recovery] t-0: recovery: segment ${lastFile}: cut 8192 bytes after the last valid batch at byte ${end} (${batches.length} valid batches), all zeros`,
    ]);
  });

  it('cuts a last batch whose bytes were flipped', async () => {
    const dir = await produced();
    const lastFile = segmentFiles(dir).at(-1)!;
    const path = join(partitionDir(dir), lastFile);
    const batches = batchesIn(dir, lastFile);
    const last = batches.at(-1)!;
    flipByte(path, last.position + last.size - 3);
    markCrashed(dir);
    const torn = tornBytes(path, last.position);
    const { fjord, entries } = reopen(dir);
    expect(await valuesOf(fjord, TOPIC, 0)).toEqual(values(COUNT - 1));
    expect(entries.map((e) => [e.label, e.log.bytesTruncated, e.log.tornBytesTruncated])).toEqual([['WARN', last.size, torn]]);
  });

  it('rebuilds a missing index and a time index cut mid-entry on a clean open, with an info line each', async () => {
    const dir = await produced();
    const [first, second] = segmentFiles(dir);
    rmSync(join(partitionDir(dir), first!.replace('.log', '.index')));
    const time = join(partitionDir(dir), second!.replace('.log', '.timeindex'));
    truncateSync(time, readFileSync(time).length - 5);
    const { fjord, entries } = reopen(dir);
    expect(await valuesOf(fjord, TOPIC, 0)).toEqual(values(COUNT));
    expect(lines(entries)).toEqual([
      `INFO [Recovery] t-0: recovery: segment ${first}: indexes missing or inconsistent, rebuilt from the log; segment ${second}: indexes missing or inconsistent, rebuilt from the log`,
    ]);
    expect(existsSync(join(partitionDir(dir), first!.replace('.log', '.index')))).toBe(true);
  });

  it('logs nothing on a clean open, and by default writes a warning line on stderr', async () => {
    const dir = await produced();
    const { fjord, entries } = reopen(dir);
    await fjord.topics();
    expect(entries).toEqual([]);
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      stderrLogCreator(logLevel.INFO)({
        namespace: 'Recovery',
        level: logLevel.WARN,
        label: 'WARN',
        log: { message: 't-0: recovery cut 5 bytes', timestamp: '' },
      });
      expect(write.mock.calls).toEqual([['fjord WARN [Recovery] t-0: recovery cut 5 bytes\n']]);
    } finally {
      write.mockRestore();
    }
    expect(() => new Fjord({ dir, logLevel: 3 as never })).toThrow(/logLevel must be one of/);
  });
});

/** A closed data dir whose first (sealed) segment has a flipped byte in batch 5 (offset 5). */
async function corruptMidSegment(): Promise<{ dir: string; file: string; bad: BatchInfo }> {
  const dir = await produced();
  const file = join(partitionDir(dir), segmentFiles(dir)[0]!);
  const bad = [...batchInfos(readFileSync(file))][5]!;
  flipByte(file, bad.position + bad.size - 3);
  return { dir, file: realpathSync(file), bad };
}

function expectCorruptAt(error: unknown, file: string, bad: BatchInfo): void {
  expect(error).toBeInstanceOf(CorruptRecordError);
  const e = error as CorruptRecordError;
  expect([e.topic, e.partition, e.offset, e.file, e.position, e.retriable, e.type]).toEqual([TOPIC, 0, 5, file, bad.position, false, 'CORRUPT_MESSAGE']);
  expect(e.message).toMatch(
    new RegExp(
      `^topic t partition 0: corrupt record batch at offset 5 in ${file.replaceAll('.', '\\.')} at byte ${bad.position}: CRC-32C is 0x[0-9a-f]{8}, the batch says 0x[0-9a-f]{8}$`,
    ),
  );
}

describe('a corrupt byte in the middle of a sealed segment', () => {
  it('is refused on read with CorruptRecordError; the batches before and after it stay readable', async () => {
    const { dir, file, bad } = await corruptMidSegment();
    const { fjord, entries } = reopen(dir);
    const log = await logOf(fjord, TOPIC, 0);
    expect(entries).toEqual([]);
    const before = log.readSlice(0)!;
    expect([...decodeBatches(before.bytes)].map((r) => r.value!.toString())).toEqual(values(5));
    expect(before.nextOffset).toBe(5);
    let thrown: unknown;
    try {
      log.readSlice(5);
    } catch (error) {
      thrown = error;
    }
    expectCorruptAt(thrown, file, bad);
    expect(() => log.readSlice(5)).toThrow(CorruptRecordError);
    const after = log.readSlice(6)!;
    expect([...decodeBatches(after.bytes)][0]!.value!.toString()).toBe('m-6');
  });

  it('pull consumer: poll returns the records before it, then rejects on every poll until a seek past it', async () => {
    const { dir, file, bad } = await corruptMidSegment();
    const { fjord } = reopen(dir);
    const consumer = fjord.consumer({ groupId: 'pull', autoOffsetReset: 'earliest' });
    await consumer.connect();
    consumer.assign([{ topic: TOPIC, partitions: [0] }]);
    expect((await consumer.poll({ maxRecords: 100 })).map((r) => r.value!.toString())).toEqual(values(5));
    const first = await consumer.poll().catch((error: unknown) => error);
    expectCorruptAt(first, file, bad);
    await expect(consumer.poll()).rejects.toThrow(CorruptRecordError);
    consumer.seek({ topic: TOPIC, partition: 0, offset: '6' });
    const rest: string[] = [];
    for (let records = await consumer.poll(); records.length > 0; records = await consumer.poll()) rest.push(...records.map((r) => r.value!.toString()));
    expect(rest).toEqual(values(COUNT - 6, 6));
    await consumer.disconnect();
  });

  it('run(): the consumer crashes with the error (restart false) after the records before it, and a seek past it on the next run goes on', async () => {
    const { dir, file, bad } = await corruptMidSegment();
    const { fjord } = reopen(dir);
    const consumer = fjord.consumer({ groupId: 'runner', heartbeatInterval: 50, sessionTimeout: 500, rebalanceTimeout: 2_000 });
    const crashes: { error: unknown; restart: boolean }[] = [];
    consumer.on(consumer.events.CRASH, (e) => crashes.push((e as { payload: { error: unknown; restart: boolean } }).payload));
    const seen: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    const eachMessage = async ({ message }: { message: { value: Buffer | null } }) => void seen.push(message.value!.toString());
    await consumer.run({ eachMessage });
    const deadline = Date.now() + 5000;
    while (crashes.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(crashes.map((c) => c.restart)).toEqual([false]);
    expectCorruptAt(crashes[0]!.error, file, bad);
    expect(seen).toEqual(values(5));
    await new Promise((r) => setTimeout(r, 100));
    expect(crashes.length).toBe(1);
    const again = consumer.run({ eachMessage });
    consumer.seek({ topic: TOPIC, partition: 0, offset: '6' });
    await again;
    while (seen.length < COUNT - 1 && Date.now() < deadline + 5000) await new Promise((r) => setTimeout(r, 5));
    expect(seen).toEqual([...values(5), ...values(COUNT - 6, 6)]);
    expect(crashes.length).toBe(1);
    await consumer.disconnect();
  });
});
