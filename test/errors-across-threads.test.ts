// Errors keep their class and fields when they cross between threads: a
// worker thread (a guest of the data directory) calls the host thread through
// the directory's BroadcastChannel, where structured clone would keep neither
// the class nor the custom properties; serializeError/deserializeError carry
// them through the class table of src/errors.ts.
//
// A child process (so this file's own Fjord state stays out of it) is the
// host: a Fjord whose group coordinator has one member, plus a second
// DirectoryService that answers reads of a damaged partition and native opens
// of a path under a regular file. Its worker thread calls both and reports each
// error as it sees it.
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { expect, it } from 'vitest';

import { batchInfos } from '../src/index.js';
import { FJORD, runScript } from './child-process.js';
import { flipByte, partitionDir, producedDataDir, segmentFiles, TOPIC } from './damaged-dir.js';
import { tempDir } from './helpers.js';

const SRC = `${pathToFileURL(resolve('src')).href}/`;

const WORKER = `
import { parentPort, workerData } from 'node:worker_threads';
await import(workerData.register);
const errors = await import(new URL('errors.ts', workerData.src).href);
const { DirectoryService } = await import(new URL('directory/directory-service.ts', workerData.src).href);
const { RemoteGroupClient } = await import(new URL('groups/remote-group-client.ts', workerData.src).href);

const { dir, memberId, generationId, badPath } = workerData;
const groups = new RemoteGroupClient(new DirectoryService(dir, () => undefined));
const storage = new DirectoryService(dir + '#storage', () => undefined);
// The error as this thread sees it: its own properties, and which class of this thread's errors.ts it is.
const seen = (error) => ({
  ...error,
  message: error.message,
  class: error.constructor.name,
  isThatClass: typeof errors[error.constructor.name] === 'function' && error instanceof errors[error.constructor.name],
  isFjordError: error instanceof errors.FjordError,
});
const outcome = (promise) => promise.then(() => ({ resolved: true }), seen);
parentPort.postMessage({
  illegalGeneration: await outcome(groups.heartbeat({ groupId: 'g', memberId, generationId: generationId + 1 })),
  unknownMember: await outcome(groups.heartbeat({ groupId: 'g', memberId: 'ghost', generationId })),
  corrupt: await outcome(storage.call('read', [5], 3000)),
  storage: await outcome(storage.call('open', [badPath], 3000)),
});
`;

const MAIN = `
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { Fjord, Log, logLevel } from ${JSON.stringify(FJORD)};
const { DirectoryService } = await import(new URL('directory/directory-service.ts', ${JSON.stringify(SRC)}).href);
const { fromNative } = await import(new URL('errors.ts', ${JSON.stringify(SRC)}).href);
const { native } = await import(new URL('storage/native.ts', ${JSON.stringify(SRC)}).href);

const [dir, workerFile, register, badPath] = process.argv.slice(2);
setTimeout(() => { console.log(JSON.stringify({ timedOut: true })); process.exit(0); }, 15000).unref();

const fjord = new Fjord({ dir, logLevel: logLevel.NOTHING });
const coordinator = await fjord.groups();
const joined = await coordinator.joinGroup({
  groupId: 'g', memberId: '', sessionTimeoutMs: 30000, rebalanceTimeoutMs: 30000,
  protocolType: 'consumer', protocols: [{ name: 'roundrobin', metadata: Buffer.alloc(0) }],
});

const log = await Log.open(join(dir, 't-0'));
const storage = new DirectoryService(dir + '#storage', () => undefined);
const open = (path) => native.openLog(path, {}, Date.now()).then(() => undefined, (error) => { throw fromNative(error); });
storage.serve(async (method, args) => (method === 'read' ? log.readSlice(args[0]) : open(args[0])));

const worker = new Worker(new URL(workerFile), {
  workerData: { dir, memberId: joined.memberId, generationId: joined.generationId, badPath, register, src: ${JSON.stringify(SRC)} },
});
const report = await new Promise((resolve, reject) => {
  worker.once('message', resolve);
  worker.once('error', reject);
});
await worker.terminate();
console.log(JSON.stringify({ generationId: joined.generationId, report }));
process.exit(0);
`;

it('a worker thread gets the host’s errors with their class, code and fields', async () => {
  const dir = realpathSync(await producedDataDir());
  const file = join(partitionDir(dir), segmentFiles(dir)[0]!);
  const bad = [...batchInfos(readFileSync(file))][5]!;
  flipByte(file, bad.position + bad.size - 3);
  writeFileSync(join(dir, 'not-a-directory'), '');
  const badPath = join(dir, 'not-a-directory', 't-0');

  const scripts = tempDir('fjord-thread-errors-');
  const workerFile = join(scripts, 'worker.mjs');
  writeFileSync(workerFile, WORKER);
  const { code, stdout, stderr } = await runScript(scripts, MAIN, [
    dir,
    pathToFileURL(workerFile).href,
    pathToFileURL(join(scripts, 'ts-register.mjs')).href,
    badPath,
  ]);
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  const { generationId, report } = JSON.parse(stdout.trim().split('\n').at(-1)!) as { generationId: number; report: Record<string, unknown> };

  expect(report.illegalGeneration).toEqual({
    name: 'IllegalGenerationError',
    class: 'IllegalGenerationError',
    isThatClass: true,
    isFjordError: true,
    code: 'ERR_ILLEGAL_GENERATION',
    type: 'ILLEGAL_GENERATION',
    kafkaErrorCode: 22,
    retriable: false,
    message: `heartbeat for generation ${generationId + 1}, group g is at ${generationId}`,
  });
  expect(report.unknownMember).toEqual({
    name: 'UnknownMemberIdError',
    class: 'UnknownMemberIdError',
    isThatClass: true,
    isFjordError: true,
    code: 'ERR_UNKNOWN_MEMBER_ID',
    type: 'UNKNOWN_MEMBER_ID',
    kafkaErrorCode: 25,
    retriable: false,
    message: 'member "ghost" is not in group g',
  });
  expect(report.corrupt).toEqual({
    name: 'CorruptRecordError',
    class: 'CorruptRecordError',
    isThatClass: true,
    isFjordError: true,
    code: 'ERR_CORRUPT_RECORD',
    type: 'CORRUPT_MESSAGE',
    kafkaErrorCode: 2,
    retriable: false,
    topic: TOPIC,
    partition: 0,
    offset: 5,
    file,
    position: bad.position,
    message: expect.stringMatching(
      new RegExp(`^topic t partition 0: corrupt record batch at offset 5 in ${file.replaceAll('.', '\\.')} at byte ${bad.position}: CRC-32C`),
    ),
  });
  expect(report.storage).toEqual({
    name: 'KafkaStorageError',
    class: 'KafkaStorageError',
    isThatClass: true,
    isFjordError: true,
    code: 'ERR_STORAGE',
    type: 'KAFKA_STORAGE_ERROR',
    kafkaErrorCode: 56,
    retriable: true,
    errno: 20,
    errnoName: 'ENOTDIR',
    op: 'create directory',
    path: badPath,
    message: `not a directory (ENOTDIR) creating directory ${badPath}`,
  });
}, 30_000);
