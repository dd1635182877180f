// `verifyDataDir` and `fjord verify`: a clean directory is reported clean;
// each kind of damage is named by file, byte and offset; exit codes 0/1/2.
import { appendFileSync, readdirSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

import { Fjord, logLevel, verifyDataDir } from '../src/index.js';
import { runCommand } from '../src/command.js';
import { runScript } from './child-process.js';
import { batchesIn, COUNT, flipByte, partitionDir, producedDataDir, segmentFiles } from './damaged-dir.js';
import { tempDir } from './helpers.js';
import { track } from './fjord-kit.js';

const produced = () => producedDataDir(2);
const p0 = partitionDir;
const segments = segmentFiles;
const batchesOf = batchesIn;

function output() {
  let text = '';
  return {
    write: (chunk: string) => void (text += chunk),
    get text() {
      return text;
    },
  };
}

/** The problems of partition 0 as [kind, file, position, offset]. */
async function problemsOf(dir: string): Promise<[string, string, number, number | null][]> {
  const result = await verifyDataDir(dir);
  expect(result.partitions.find((p) => p.partition === 1)!.ok).toBe(true);
  return result.partitions.find((p) => p.partition === 0)!.problems.map((p) => [p.kind, p.file, p.position, p.offset]);
}

describe('verifyDataDir', () => {
  it('reports a freshly produced directory clean, and changes nothing', async () => {
    const dir = await produced();
    const before = readdirSync(p0(dir)).map((n) => [n, readFileSync(join(p0(dir), n)).toString('hex')]);
    const result = await verifyDataDir(dir);
    expect(result.ok).toBe(true);
    expect(result.problems).toEqual([]);
    expect(result.partitions.map((p) => [p.topic, p.partition, p.ok, p.cleanShutdown, p.segments, p.batches, p.firstOffset, p.endOffset])).toEqual([
      ['t', 0, true, true, segments(dir).length, COUNT, 0, COUNT],
      ['t', 1, true, true, 1, 0, 0, 0],
    ]);
    expect(readdirSync(p0(dir)).map((n) => [n, readFileSync(join(p0(dir), n)).toString('hex')])).toEqual(before);
  });

  it('names each kind of damage by file, byte position and offset', async () => {
    // A corrupt byte in the middle of a sealed segment.
    let dir = await produced();
    const [first, second] = segments(dir);
    const bad = batchesOf(dir, first!)[5]!;
    flipByte(join(p0(dir), first!), bad.position + bad.size - 3);
    expect(await problemsOf(dir)).toEqual([['corrupt-batch', first, bad.position, 5]]);

    // A tail cut mid-batch (the sealed time index's last entry then names a batch that is gone).
    dir = await produced();
    let last = segments(dir).at(-1)!;
    let batch = batchesOf(dir, last).at(-1)!;
    truncateSync(join(p0(dir), last), batch.position + batch.size - 10);
    expect(await problemsOf(dir)).toEqual([
      ['torn-batch', last, batch.position, COUNT - 1],
      ['bad-index-entry', last.replace('.log', '.timeindex'), statSync(join(p0(dir), last.replace('.log', '.timeindex'))).size - 12, COUNT - 1],
    ]);

    // Zeros after the last batch.
    dir = await produced();
    last = segments(dir).at(-1)!;
    const end = statSync(join(p0(dir), last)).size;
    appendFileSync(join(p0(dir), last), Buffer.alloc(8192));
    expect(await problemsOf(dir)).toEqual([['zero-tail', last, end, COUNT]]);

    // Flipped bytes in the last batch.
    dir = await produced();
    batch = batchesOf(dir, last).at(-1)!;
    flipByte(join(p0(dir), last), batch.position + batch.size - 3);
    expect(await problemsOf(dir)).toEqual([['corrupt-batch', last, batch.position, COUNT - 1]]);

    // A missing index and a short time index.
    dir = await produced();
    rmSync(join(p0(dir), first!.replace('.log', '.index')));
    const time = join(p0(dir), second!.replace('.log', '.timeindex'));
    const size = statSync(time).size;
    truncateSync(time, size - 5);
    expect(await problemsOf(dir)).toEqual([
      ['missing-index', first!.replace('.log', '.index'), 0, 0],
      ['short-index', second!.replace('.log', '.timeindex'), size - 12, null],
    ]);
  });

  it('reports a partition directory the metadata lists but that is missing', async () => {
    const dir = await produced();
    rmSync(join(dir, 't-1'), { recursive: true });
    const result = await verifyDataDir(dir);
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([
      { kind: 'missing-partition', file: 't-1', position: 0, offset: null, message: 'topic t has 2 partitions but no directory for partition 1' },
    ]);
  });

  it('refuses a directory a Fjord has open, and one that is not a data directory', async () => {
    const dir = await produced();
    const fjord = track(new Fjord({ dir, logLevel: logLevel.NOTHING }));
    await fjord.topics();
    await expect(verifyDataDir(dir)).rejects.toThrow(new RegExp(`^log directory ${dir.replaceAll('.', '\\.')} is locked by pid ${process.pid}`));
    await fjord.close();
    expect((await verifyDataDir(dir)).ok).toBe(true);
    await expect(verifyDataDir(tempDir())).rejects.toThrow(/is not a Fjord data directory: no fjord-topics\.msgpack and no <topic>-<partition> directories$/);
  });
});

describe('fjord verify', () => {
  it('prints a readable report and exits 0 on a clean directory, 1 with problems', async () => {
    const dir = await produced();
    const out = output();
    expect(await runCommand(['verify', dir], out, output())).toBe(0);
    const n = segments(dir).length;
    expect(out.text).toBe(
      [
        `fjord verify ${resolve(dir)}`,
        `  t-0: ok (${n} segments, ${COUNT} batches, offsets [0, ${COUNT}))`,
        '  t-1: ok (1 segment, 0 batches, empty at offset 0)',
        '2 partitions checked: no problems',
        '',
      ].join('\n'),
    );
    const first = segments(dir)[0]!;
    const bad = batchesOf(dir, first)[5]!;
    flipByte(join(p0(dir), first), bad.position + bad.size - 3);
    const damaged = output();
    expect(await runCommand(['verify', dir], damaged, output())).toBe(1);
    expect(damaged.text.split('\n').slice(1, 3)).toEqual([
      `  t-0: 1 problem (${n} segments, ${COUNT} batches, offsets [0, ${COUNT}))`,
      expect.stringMatching(new RegExp(`^    corrupt-batch ${first} byte ${bad.position} offset 5: CRC-32C is 0x[0-9a-f]{8}, the batch says 0x[0-9a-f]{8}$`)),
    ]);
    expect(damaged.text.endsWith('2 partitions checked: 1 problem\n')).toBe(true);
    const json = output();
    expect(await runCommand(['verify', '--json', dir], json, output())).toBe(1);
    expect(JSON.parse(json.text).partitions[0].problems[0]).toMatchObject({ kind: 'corrupt-batch', file: first, position: bad.position, offset: 5 });
  });

  it('exits 2 on usage errors and directories it cannot verify', async () => {
    const cases: [string[], string][] = [
      [[], 'usage: fjord verify <data-dir> [--json]\n       fjord groups export-offsets --dir <data-dir> --group <group-id>\n'],
      [['verify'], 'usage: fjord verify <data-dir> [--json]\n       fjord groups export-offsets --dir <data-dir> --group <group-id>\n'],
      [
        ['frob'],
        'fjord: unknown command "frob"\nusage: fjord verify <data-dir> [--json]\n       fjord groups export-offsets --dir <data-dir> --group <group-id>\n',
      ],
      [
        ['verify', '--fast', 'x'],
        'fjord verify: unknown option --fast\nusage: fjord verify <data-dir> [--json]\n       fjord groups export-offsets --dir <data-dir> --group <group-id>\n',
      ],
      [['verify', '/nonexistent/fjord'], 'fjord verify: /nonexistent/fjord is not a directory\n'],
    ];
    for (const [args, message] of cases) {
      const err = output();
      expect(await runCommand(args, output(), err)).toBe(2);
      expect(err.text).toBe(message);
    }
  });

  it('runs as the fjord executable with its exit code', async () => {
    const dir = await produced();
    const script = `import ${JSON.stringify(pathToFileURL(resolve('src/cli.ts')).href)};\n`;
    const clean = await runScript(tempDir(), script, ['verify', dir]);
    expect([clean.code, clean.stdout.endsWith('2 partitions checked: no problems\n'), clean.stderr]).toEqual([0, true, '']);
    const usage = await runScript(tempDir(), script, []);
    expect([usage.code, usage.stderr]).toEqual([
      2,
      'usage: fjord verify <data-dir> [--json]\n       fjord groups export-offsets --dir <data-dir> --group <group-id>\n',
    ]);
  });
});
