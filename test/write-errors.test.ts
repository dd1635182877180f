// Write errors: a send that the disk refuses is rejected with a
// KafkaStorageError naming the errno and the file, leaves no partial batch in
// the log (its end, its reads and its files are as before), and the partition
// takes writes again once there is room. Two real causes: the file size limit
// (EFBIG, RLIMIT_FSIZE set on a child process with prlimit) and a full file
// system (ENOSPC, a small tmpfs, which needs root to mount).
import { execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, realpathSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';

import { Fjord, KafkaStorageError } from '../src/index.js';
import { FJORD, spawnScript } from './child-process.js';
import { recordsOf, track, valuesOf } from './fjord-kit.js';
import { tempDir } from './helpers.js';
import { readSegments } from './segment-reader.js';

const TOPIC = 't';
const FIRST_SEGMENT = '00000000000000000000.log';
const TOPIC_CONFIG = [
  { name: 'segment.bytes', value: String(1 << 20) },
  { name: 'segment.index.bytes', value: '65536' },
];

/** What a refused send was rejected with, as the tests compare it. */
function describeError(error: unknown) {
  const e = error as KafkaStorageError;
  return {
    name: e.name,
    code: e.code,
    type: e.type,
    retriable: e.retriable,
    message: e.message,
    errno: e.errno,
    errnoName: e.errnoName,
    op: e.op,
    path: e.path,
    isStorageError: e instanceof KafkaStorageError,
  };
}

// Reads commands from stdin, one a line, and answers each with a JSON line:
// `send TAG N` sends N one-record batches (acks=-1) with values TAG-i-...,
// each its own send, and answers with the offset or error of each, the log
// end, its size in bytes and every value in the partition.
const CHILD = `
import { createInterface } from 'node:readline';
import { decodeBatches, Fjord, KafkaStorageError } from ${JSON.stringify(FJORD)};
const [dir] = process.argv.slice(2);
const fjord = await Fjord.open({ dir });
const admin = fjord.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic: ${JSON.stringify(TOPIC)}, numPartitions: 1, configEntries: ${JSON.stringify(TOPIC_CONFIG)} }] });
const producer = fjord.producer();
await producer.connect();
const log = (await fjord.topics()).get(${JSON.stringify(TOPIC)}).partition(0).log;
function state() {
  const values = [];
  for (let offset = log.logStartOffset; ; ) {
    const slice = log.readSlice(offset);
    if (slice === null) break;
    for (const r of decodeBatches(slice.bytes, { fromOffset: offset })) values.push(r.value.toString().split('-').slice(0, 2).join('-'));
    offset = slice.nextOffset;
  }
  return { end: log.logEndOffset, size: log.size, values };
}
const reply = (answer) => process.stdout.write(JSON.stringify(answer) + '\\n');
reply(state());
for await (const line of createInterface({ input: process.stdin })) {
  const [command, tag, n] = line.split(' ');
  if (command !== 'send') throw new Error('unknown command ' + line);
  const results = [];
  for (let i = 0; i < Number(n); i++) {
    try {
      // Values of one length, so that every batch has the same size.
      const [meta] = await producer.send({ topic: ${JSON.stringify(TOPIC)}, acks: -1, messages: [{ value: tag + '-' + i + '-' + 'v'.repeat(1000 - String(i).length) }] });
      results.push({ offset: Number(meta.baseOffset) });
    } catch (e) {
      const { name, code, type, retriable, message, errno, errnoName, op, path } = e;
      results.push({ error: { name, code, type, retriable, message, errno, errnoName, op, path, isStorageError: e instanceof KafkaStorageError } });
    }
  }
  reply({ results, ...state() });
}
`;

interface State {
  end: number;
  size: number;
  values: string[];
}

interface Sent extends State {
  results: ({ offset: number } | { error: ReturnType<typeof describeError> })[];
}

/** A child that answers each line written to it with one JSON line. */
function conversation(child: ChildProcess) {
  const answers = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return {
    async next<T>(): Promise<T> {
      const { value, done } = await answers.next();
      if (done) throw new Error(`the child ended: ${stderr}`);
      return JSON.parse(value as string) as T;
    },
    async ask<T>(line: string): Promise<T> {
      child.stdin!.write(`${line}\n`);
      return this.next<T>();
    },
  };
}

function prlimitFileSize(pid: number, soft: number | 'unlimited'): void {
  // Only the soft limit is lowered (the hard one stays unlimited), so it can be lifted again by any user.
  execFileSync('prlimit', ['--pid', String(pid), `--fsize=${soft}:unlimited`]);
}

const values = (tag: string, n: number, from = 0) => Array.from({ length: n }, (_, i) => `${tag}-${from + i}`);

describe('a write over the file size limit (EFBIG)', () => {
  it('rejects the send with KafkaStorageError, keeps the log as it was, and takes writes again once the limit is lifted', async () => {
    const scratch = tempDir('fjord-efbig-');
    const dir = join(realpathSync(scratch), 'data');
    // SIGXFSZ ignored (as the shell passes it on through exec): the write fails with EFBIG instead of killing the process.
    const child = spawnScript(scratch, CHILD, [dir], { prefix: ['sh', '-c', 'trap "" XFSZ; exec "$@"', 'sh'], stdin: true });
    const closed = new Promise<NodeJS.Signals | null>((resolve) => child.once('close', (_, signal) => resolve(signal)));
    try {
      const talk = conversation(child);
      expect(await talk.next<State>()).toEqual({ end: 0, size: 0, values: [] });
      const filled = await talk.ask<Sent>('send a 20');
      expect(filled.results).toEqual(values('a', 20).map((_, offset) => ({ offset })));
      const batchBytes = filled.size / 20; // every batch has the same size
      expect(Number.isInteger(batchBytes)).toBe(true);

      const refused = {
        name: 'KafkaStorageError',
        code: 'ERR_FILE_TOO_LARGE',
        type: 'KAFKA_STORAGE_ERROR',
        retriable: true,
        message: `file too large (EFBIG) appending to ${dir}/${TOPIC}-0/${FIRST_SEGMENT}`,
        errno: 27,
        errnoName: 'EFBIG',
        op: 'append',
        path: `${dir}/${TOPIC}-0/${FIRST_SEGMENT}`,
        isStorageError: true,
      };
      // The limit falls in the middle of the second batch: one more fits, the next is cut short by the limit.
      prlimitFileSize(child.pid!, filled.size + batchBytes + Math.floor(batchBytes / 2));
      const limited = await talk.ask<Sent>('send b 4');
      expect(limited.results).toEqual([{ offset: 20 }, { error: refused }, { error: refused }, { error: refused }]);
      expect(limited).toMatchObject({ end: 21, size: filled.size + batchBytes, values: [...values('a', 20), 'b-0'] });

      prlimitFileSize(child.pid!, 'unlimited');
      const lifted = await talk.ask<Sent>('send c 3');
      expect(lifted.results).toEqual([{ offset: 21 }, { offset: 22 }, { offset: 23 }]);
      expect(lifted).toMatchObject({ end: 24, values: [...values('a', 20), 'b-0', ...values('c', 3)] });

      // Refused again, then killed before the limit is lifted: a reopen finds the same log.
      prlimitFileSize(child.pid!, lifted.size + Math.floor(batchBytes / 2));
      const again = await talk.ask<Sent>('send d 2');
      expect(again.results).toEqual([{ error: refused }, { error: refused }]);
      expect(again).toMatchObject({ end: 24, size: lifted.size });
      child.kill('SIGKILL');
      expect(await closed).toBe('SIGKILL');
    } finally {
      child.kill('SIGKILL');
      await closed;
    }

    const fjord = track(new Fjord({ dir }));
    const partition = (await fjord.topics()).get(TOPIC).partition(0);
    expect(partition.log.recoveryReport.cleanShutdown).toBe(false);
    expect(partition.log.logEndOffset).toBe(24);
    expect((await recordsOf(fjord, TOPIC, 0)).map((r) => r.value!.toString().split('-').slice(0, 2).join('-'))).toEqual([
      ...values('a', 20),
      'b-0',
      ...values('c', 3),
    ]);
    const files = readSegments(partition.log.dir, { open: true });
    expect(files.flatMap((s) => s.problems)).toEqual([]);
    expect(files.map((s) => s.batches.length)).toEqual([24]);
    const producer = fjord.producer();
    await producer.connect();
    expect((await producer.send({ topic: TOPIC, messages: [{ value: 'e-0' }] }))[0]!.baseOffset).toBe('24');
  }, 60_000);
});

/** Mounts a tmpfs of `bytes` at a new directory; the test unmounts it. Needs root (CAP_SYS_ADMIN). */
function mountTmpfs(bytes: number): string {
  const mountPoint = tempDir('fjord-enospc-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', mountPoint]);
  return mountPoint;
}

/** Detaches the tmpfs at once; it is freed when the last mapping of its files goes (Buffers read from the log hold some until GC). */
function unmount(mountPoint: string): void {
  execFileSync('umount', ['-l', mountPoint]);
}

const canMount = (() => {
  if (process.getuid?.() !== 0) return false;
  try {
    unmount(mountTmpfs(64 * 1024));
    return true;
  } catch {
    return false;
  }
})();

/** Fills the file system that holds `dir` with a ballast file until a write fails with ENOSPC. */
function fill(dir: string): string {
  const ballast = join(dir, 'ballast');
  const fd = openSync(ballast, 'w');
  const chunk = Buffer.alloc(4096);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
  } finally {
    closeSync(fd);
  }
  return ballast;
}

describe('a write to a full file system (ENOSPC)', () => {
  // A tmpfs can only be mounted by root; CI runs as root.
  it.skipIf(!canMount)(
    'rejects the send with KafkaStorageError, keeps the log as it was, and takes writes again once there is room',
    async () => {
      const mountPoint = mountTmpfs(2 * 1024 * 1024);
      const opened: Fjord[] = [];
      try {
        const dir = join(mountPoint, 'data');
        mkdirSync(dir);
        const fjord = new Fjord({ dir });
        opened.push(fjord);
        const admin = fjord.admin();
        await admin.connect();
        await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1, configEntries: TOPIC_CONFIG }] });
        const producer = fjord.producer();
        await producer.connect();
        // Each record is more than a page: on a full tmpfs every append needs a page it cannot get.
        const send = (value: string) => producer.send({ topic: TOPIC, acks: -1, messages: [{ value: `${value}-${'v'.repeat(5000)}` }] });
        for (const value of values('a', 10)) await send(value);
        const partition = (await fjord.topics()).get(TOPIC).partition(0);
        const log = partition.log;
        const size = log.size;

        const ballast = fill(mountPoint);
        const refused = {
          name: 'KafkaStorageError',
          code: 'ERR_DISK_FULL',
          type: 'KAFKA_STORAGE_ERROR',
          retriable: true,
          message: `no space left on device (ENOSPC) appending to ${log.dir}/${FIRST_SEGMENT}`,
          errno: 28,
          errnoName: 'ENOSPC',
          op: 'append',
          path: `${log.dir}/${FIRST_SEGMENT}`,
          isStorageError: true,
        };
        for (const value of values('b', 3)) await expect(send(value).catch(describeError)).resolves.toEqual(refused);
        expect({ end: log.logEndOffset, size: log.size }).toEqual({ end: 10, size });
        const tags = async () => (await valuesOf(fjord, TOPIC, 0)).map((v) => v!.split('-').slice(0, 2).join('-'));
        expect(await tags()).toEqual(values('a', 10));
        // Nothing of the refused batches is in the file: after the data, only zeros.
        const files = readSegments(log.dir, { open: true });
        expect(files.flatMap((s) => s.problems)).toEqual([]);
        expect(files.map((s) => s.batches.length)).toEqual([10]);

        rmSync(ballast);
        expect((await send('c-0'))[0]!.baseOffset).toBe('10');
        expect((await send('c-1'))[0]!.baseOffset).toBe('11');

        // Full again, and the process "dies" before there is room: a reopen recovers the same log.
        const again = fill(mountPoint);
        await expect(send('d-0').catch(describeError)).resolves.toEqual(refused);
        log.simulateCrash();
        rmSync(again);
        await fjord.close();
        const reopened = new Fjord({ dir });
        opened.push(reopened);
        const log2 = (await reopened.topics()).get(TOPIC).partition(0).log;
        expect(log2.recoveryReport.cleanShutdown).toBe(false);
        expect(log2.logEndOffset).toBe(12);
        expect((await valuesOf(reopened, TOPIC, 0)).map((v) => v!.split('-').slice(0, 2).join('-'))).toEqual([...values('a', 10), 'c-0', 'c-1']);
        expect(readSegments(log2.dir, { open: true }).flatMap((s) => s.problems)).toEqual([]);
        const producer2 = reopened.producer();
        await producer2.connect();
        expect((await producer2.send({ topic: TOPIC, messages: [{ value: 'e-0' }] }))[0]!.baseOffset).toBe('12');
        await reopened.close();
      } finally {
        await Promise.allSettled(opened.map((f) => f.close()));
        unmount(mountPoint);
      }
    },
    30_000,
  );
});
