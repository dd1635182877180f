// Kafka 4.4's DumpLogSegments (kafka-tools, scripts/kafka) over every
// `.log`, `.index` and `.timeindex` of a Fjord data directory that exercises
// everything Fjord writes (test/fjord-data-for-kafka.ts). What DumpLogSegments
// reports, from its source: index entries whose offset is not the last offset
// of the batch at their position ("Mismatches in :"), time index entries whose
// timestamp is not their batch's largest ("Found timestamp mismatch in :"),
// going backwards ("Found out of order timestamp in :") or naming an offset
// that is no batch's last ("The following indexed offsets are not found in
// the log."), records whose offsets do not follow each other ("Non-consecutive
// offsets in " — every segment not based at 0 gets one line "-1 is followed by
// <base>", as Kafka's own do), bytes after the last whole batch ("Found N
// invalid bytes at the end of"), and --index-sanity-check throws (a non-zero
// exit) on an index Kafka would rebuild at startup. It stops listing an
// index at the first zero entry, so an index not trimmed to its entries shows
// as fewer entries listed than the file holds.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FjordData, type WrittenRecord, writeFjordData } from './fjord-data-for-kafka.js';
import { dumpLogSegmentsOutput, kafkaClasspath } from './kafka-tools.js';

const JAVA_TIMEOUT = 180_000;
let data: FjordData;

/** Every file of `suffix` Fjord wrote, partition by partition, in offset order. */
function files(suffix: string): string[] {
  return readdirSync(data.dir)
    .filter((d) => statSync(join(data.dir, d)).isDirectory())
    .sort()
    .flatMap((d) =>
      readdirSync(join(data.dir, d))
        .filter((f) => f.endsWith(suffix))
        .sort()
        .map((f) => join(data.dir, d, f)),
    );
}

/** DumpLogSegments's output split by the file it was dumping ("Dumping <file>"). */
function byFile(stdout: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] = [];
  for (const line of stdout.split('\n')) {
    const dumping = /^Dumping (.*)$/.exec(line);
    if (dumping !== null) out.set(dumping[1]!, (current = []));
    else if (line !== '') current.push(line);
  }
  return out;
}

const RECORD =
  /^\| offset: (\d+) (CreateTime|LogAppendTime): (-?\d+) keySize: (-?\d+) valueSize: (-?\d+) sequence: (-?\d+) headerKeys: \[([^\]]*)\](?: key: (.*?))?(?: payload: (.*))?$/;

/** A long value as its length and hash, so that a difference prints readably. */
const shown = (v: string | null) =>
  v === null || v.length < 1000 ? v : `${v.length} chars sha256 ${createHash('sha256').update(v).digest('hex').slice(0, 16)}`;

describe("Kafka 4.4's DumpLogSegments accepts every file Fjord writes", () => {
  beforeAll(async () => {
    kafkaClasspath(); // fails here, saying what is missing, without Java and Maven
    // Shared by the tests below (helpers.ts's tempDir goes after each test).
    data = await writeFjordData(mkdtempSync(join(tmpdir(), 'fjord-for-kafka-')));
  }, JAVA_TIMEOUT);
  afterAll(() => {
    if (data !== undefined) rmSync(data.dir, { recursive: true, force: true });
  });

  it(
    '--deep-iteration --print-data-log lists exactly the records Fjord wrote, with no error',
    async () => {
      // The offsets partitions' records are dumped with Kafka's decoder (their binary keys would print as garbage here).
      const logs = files('.log').filter((f) => !f.includes('/__consumer_offsets-'));
      const { stdout, stderr } = await dumpLogSegmentsOutput(logs, ['--deep-iteration', '--print-data-log']);
      // The only stderr: one "-1 is followed by <base>" per segment based past 0 (DumpLogSegments counts from -1 in every file).
      const nonConsecutive = stderr
        .trim()
        .split(/\n(?=Non-consecutive offsets in )/)
        .filter((block) => block !== '');
      for (const block of nonConsecutive) {
        const [head, ...pairs] = block.split('\n');
        const file = /^Non-consecutive offsets in (.*)$/.exec(head!)?.[1];
        expect(file, `unexpected DumpLogSegments stderr: ${block}`).toBeDefined();
        expect(pairs).toEqual([`  -1 is followed by ${Number(basename(file!, '.log'))}`]);
      }
      expect(nonConsecutive.length).toBe(logs.filter((f) => Number(basename(f, '.log')) > 0).length);

      const dumped = byFile(stdout);
      expect([...dumped.keys()]).toEqual(logs);
      const partitions = new Map<string, WrittenRecord[]>();
      for (const [file, lines] of dumped) {
        const partition = basename(join(file, '..'));
        expect(lines[0]).toBe(`Log starting offset: ${Number(basename(file, '.log'))}`);
        expect(lines.filter((l) => /invalid bytes/.test(l))).toEqual([]);
        for (const line of lines.slice(1)) {
          if (line.startsWith('baseOffset:')) {
            expect(line).toMatch(/ magic: 2 compresscodec: \w+ crc: \d+ isvalid: true$/);
            continue;
          }
          const m = RECORD.exec(line);
          expect(m, line.slice(0, 300)).not.toBeNull();
          const list = partitions.get(partition) ?? [];
          partitions.set(partition, list);
          list.push({
            offset: Number(m![1]),
            timestampType: m![2] as WrittenRecord['timestampType'],
            timestamp: Number(m![3]),
            key: m![4] === '-1' ? null : (m![8] ?? ''),
            value: m![5] === '-1' ? null : (m![9] ?? ''),
            headers: m![7] === '' ? [] : m![7]!.split(',').map((k) => [k, null]),
          });
        }
      }
      for (const [partition, written] of data.records) {
        const listed = partitions.get(partition) ?? [];
        expect(listed.length, partition).toBe(written.length);
        expect(
          listed.map((r) => [r.offset, r.timestampType, r.key, shown(r.value), r.headers.map(([k]) => k)]),
          partition,
        ).toEqual(written.map((r) => [r.offset, r.timestampType, r.key, shown(r.value), r.headers.map(([k]) => k)]));
        listed.forEach((r, i) => {
          const t = written[i]!.timestamp;
          const at = r.timestamp as number;
          if (typeof t === 'number') expect(at, `${partition} offset ${r.offset}`).toBe(t);
          else expect(at >= t.from && at <= t.to, `${partition} offset ${r.offset}: ${at} in [${t.from}, ${t.to}]`).toBe(true);
        });
      }
      expect([...partitions.keys()].sort()).toEqual([...data.records.keys()].sort());
    },
    JAVA_TIMEOUT,
  );

  it(
    "--deep-iteration --offsets-decoder reads the offsets partitions: the group's commits, the deleted group's tombstones",
    async () => {
      const logs = files('.log').filter((f) => f.includes('/__consumer_offsets-'));
      const { stdout, stderr } = await dumpLogSegmentsOutput(logs, ['--deep-iteration', '--offsets-decoder']);
      expect(stderr.split('\n').filter((l) => l !== '' && !/^Non-consecutive offsets in |^ {2}-1 is followed by \d+$/.test(l))).toEqual([]);
      const state = new Map<string, number | null>();
      for (const line of stdout.split('\n')) {
        expect(line).not.toMatch(/invalid bytes|Error at offset|Unknown record type/);
        const m = /\bkey: (\{.*\}) payload: (.*)$/.exec(line);
        if (m === null) continue;
        const k = JSON.parse(m[1]!) as { type: string; data: { group: string; topic?: string; partition?: number } };
        const v = m[2] === '<DELETE>' ? null : (JSON.parse(m[2]!) as { data: { offset: number } }).data.offset;
        state.set(k.type === '1' ? `${k.data.group} ${k.data.topic} ${k.data.partition}` : `${k.data.group} (group metadata)`, v);
      }
      const live = [...state].filter(([, v]) => v !== null).sort(([a], [b]) => (a < b ? -1 : 1));
      expect(live).toEqual(data.groups.billing!.map(([t, p, o]) => [`billing ${t} ${p}`, o]));
      expect([...state].filter(([, v]) => v === null).sort()).toEqual([
        [`${data.deletedGroup} (group metadata)`, null],
        [`${data.deletedGroup} t-lz4 0`, null],
      ]);
    },
    JAVA_TIMEOUT,
  );

  it(
    '--index-sanity-check passes every .index and .timeindex (the check that decides whether Kafka rebuilds an index at startup)',
    async () => {
      const indexes = [...files('.index'), ...files('.timeindex')];
      const { stdout, stderr } = await dumpLogSegmentsOutput(indexes, ['--index-sanity-check']);
      expect(stderr).toBe('');
      const dumped = byFile(stdout);
      expect([...dumped.keys()]).toEqual(indexes);
      for (const [file, lines] of dumped) {
        const size = statSync(file).size;
        // An index with no entries is reported empty before any check (Kafka's OffsetIndex); the time index always gets the check.
        if (file.endsWith('.index') && size === 0) expect(lines).toEqual([`${file} is empty.`]);
        else expect(lines).toEqual([`${file} passed sanity check.`]);
      }
    },
    JAVA_TIMEOUT,
  );

  it(
    '--verify-index-only finds no mismatch in any index, and every index is trimmed to its entries',
    async () => {
      const indexes = [...files('.index'), ...files('.timeindex')];
      const verified = await dumpLogSegmentsOutput(indexes, ['--verify-index-only']);
      expect(verified.stderr).toBe('');
      // Listed without --verify-index-only: every entry of the file (the listing stops at a zero entry) is listed.
      const { stdout, stderr } = await dumpLogSegmentsOutput(indexes, []);
      expect(stderr).toBe('');
      let entries = 0;
      for (const [file, lines] of byFile(stdout)) {
        const size = statSync(file).size;
        if (file.endsWith('.index')) {
          const listed = lines.filter((l) => /^offset: \d+ position: \d+$/.test(l));
          expect(size === 0 ? [`${file} is empty.`] : listed.length, file).toEqual(size === 0 ? lines : size / 8);
          entries += listed.length;
        } else {
          const listed = lines.filter((l) => /^timestamp: -?\d+ offset: \d+$/.test(l));
          expect(listed.length, file).toBe(size / 12);
        }
      }
      expect(entries).toBeGreaterThan(50);
    },
    JAVA_TIMEOUT,
  );
});
