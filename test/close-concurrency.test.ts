// Every public call of Fjord's clients, started concurrently with close() or
// the clients' disconnects, over many interleavings (close after 0, 1, ... N
// event-loop turns; the order of the calls shuffled by a seed). Run in a
// child process under `--unhandled-rejections=strict` with an
// `uncaughtException` trap: nothing of Fjord's may throw from a timer, an
// immediate, a listener or an unawaited promise; every call settles, and
// every failure a caller sees is a typed FjordError.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

import { NotConnectedError } from '../src/index.js';
import { FJORD, runScript } from './child-process.js';
import { fjordFor } from './fjord-kit.js';
import { tempDir } from './helpers.js';

const CHILD = `
import { join } from 'node:path';
import { Fjord, FjordError, PartitionAssigners } from '${FJORD}';

const [root, seedArg, scenariosArg, listenersArg] = process.argv.slice(2);
const crashes = [];
const untyped = [];
const hung = [];
let current = 'setup';
process.on('uncaughtException', (error) => {
  crashes.push({ scenario: current, error: String(error?.stack ?? error).split('\\n').slice(0, 6).join('\\n') });
});

// mulberry32: a small seeded generator, so that a failing interleaving can be run again.
function generator(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const turn = () => new Promise((resolve) => setImmediate(resolve));
const quiet = () => () => undefined;
const FAST = { heartbeatInterval: 2, sessionTimeout: 200, rebalanceTimeout: 400, maxWaitTimeInMs: 20 };

/** Listeners on every event: one that rejects and one that throws, as a user's listener may. */
function hostileListeners(client) {
  Object.values(client.events).forEach((type, i) => {
    client.on(type, i % 2 === 0 ? async () => { throw new Error('async listener failed on ' + type); } : () => { throw new Error('listener failed on ' + type); });
  });
}

async function scenario(index, turns, mode, random) {
  const fjord = new Fjord({ dir: join(root, 's' + index), retentionCheckIntervalMs: 1, logCreator: quiet, onBackgroundError: () => undefined });
  const setup = fjord.admin();
  await setup.connect();
  await setup.createTopics({
    topics: [
      { topic: 'a', numPartitions: 3, configEntries: [{ name: 'flush.ms', value: '1' }, { name: 'segment.bytes', value: '1024' }, { name: 'retention.ms', value: '1' }] },
      { topic: 'b', numPartitions: 2 },
    ],
  });
  const seedProducer = fjord.producer();
  await seedProducer.connect();
  for (const topic of ['a', 'b']) await seedProducer.send({ topic, messages: Array.from({ length: 30 }, (_, i) => ({ value: 'v' + i })) });

  const producer = fjord.producer({ lingerMs: 1 });
  const cooperative = [PartitionAssigners.cooperativeSticky];
  const eachMessageConsumer = fjord.consumer({ groupId: 'g', partitionAssigners: cooperative, maxPollInterval: 15, ...FAST });
  const eachBatchConsumer = fjord.consumer({ groupId: 'g', partitionAssigners: cooperative, ...FAST });
  const pullConsumer = fjord.consumer({ groupId: 'pull', ...FAST });
  const latecomer = fjord.consumer({ groupId: 'g', partitionAssigners: cooperative, ...FAST });
  const admin = fjord.admin();
  if (listenersArg === 'hostile') for (const client of [producer, eachMessageConsumer, eachBatchConsumer, pullConsumer, latecomer, admin]) hostileListeners(client);
  await Promise.all([producer.connect(), eachMessageConsumer.connect(), eachBatchConsumer.connect(), pullConsumer.connect(), admin.connect()]);
  await eachMessageConsumer.subscribe({ topics: ['a', 'b'], fromBeginning: true });
  await eachBatchConsumer.subscribe({ topics: ['a', 'b'], fromBeginning: true });
  const slow = () => new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 20)));
  const eachMessage = async ({ heartbeat, pause, message }) => {
    await slow();
    await heartbeat();
    if (message.offset === '7') pause()();
    if (message.offset === '13') throw new Error('poison ' + message.offset);
  };
  const eachBatch = async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary }) => {
    for (const message of batch.messages) {
      await slow();
      resolveOffset(message.offset);
      await heartbeat();
      await commitOffsetsIfNecessary();
    }
  };
  await eachMessageConsumer.run({ eachMessage, autoCommitThreshold: 2 });
  await eachBatchConsumer.run({ eachBatch, eachBatchAutoResolve: false });
  pullConsumer.assign([{ topic: 'a', partitions: [0, 1] }]);

  const calls = {
    'producer.send': () => producer.send({ topic: 'a', messages: [{ key: 'k', value: 'x' }] }),
    'producer.send acks 0': () => producer.send({ topic: 'a', acks: 0, messages: [{ value: 'y' }] }),
    'producer.send acks 1': () => producer.send({ topic: 'b', acks: 1, messages: [{ value: 'z' }] }),
    'producer.send new topic': () => producer.send({ topic: 'created-' + index, messages: [{ value: 'n' }] }),
    'producer.sendBatch': () => producer.sendBatch({ topicMessages: [{ topic: 'a', messages: [{ value: 'p' }] }, { topic: 'b', messages: [{ value: 'q' }] }] }),
    'producer.disconnect': () => producer.disconnect(),
    'producer.connect': () => producer.connect(),
    'consumer.subscribe': () => eachMessageConsumer.subscribe({ topic: 'b' }),
    'consumer.run': () => eachMessageConsumer.run({ eachMessage }),
    'consumer.stop': () => eachBatchConsumer.stop(),
    'consumer.commitOffsets': () => eachMessageConsumer.commitOffsets([{ topic: 'a', partition: 0, offset: '1' }]),
    'consumer.seek': () => eachMessageConsumer.seek({ topic: 'a', partition: 1, offset: '0' }),
    'consumer.pause': () => eachMessageConsumer.pause([{ topic: 'a', partitions: [2] }]),
    'consumer.resume': () => eachMessageConsumer.resume([{ topic: 'a' }]),
    'consumer.paused': () => eachMessageConsumer.paused(),
    'consumer.describeGroup': () => eachBatchConsumer.describeGroup(),
    'consumer.disconnect': () => eachBatchConsumer.disconnect(),
    'consumer.connect, subscribe, run': async () => {
      await latecomer.connect();
      await latecomer.subscribe({ topic: 'a', fromBeginning: true });
      await latecomer.run({ eachMessage });
    },
    'consumer.assign': () => pullConsumer.assign([{ topic: 'a', partitions: [0, 1, 2] }]),
    'consumer.poll': () => pullConsumer.poll({ maxRecords: 5, timeoutMs: 30 }),
    'consumer.poll waiting': () => pullConsumer.poll({ maxRecords: 500, timeoutMs: 100 }),
    'consumer.commitOffsets assigned': () => pullConsumer.commitOffsets([{ topic: 'a', partition: 0, offset: '2' }]),
    'admin.listTopics': () => admin.listTopics(),
    'admin.createTopics': () => admin.createTopics({ topics: [{ topic: 'made-' + index, numPartitions: 2 }] }),
    'admin.deleteTopics': () => admin.deleteTopics({ topics: ['b'] }),
    'admin.createPartitions': () => admin.createPartitions({ topicPartitions: [{ topic: 'a', count: 4 }] }),
    'admin.fetchTopicMetadata': () => admin.fetchTopicMetadata({ topics: ['a'] }),
    'admin.fetchTopicOffsets': () => admin.fetchTopicOffsets('a'),
    'admin.fetchTopicOffsetsByTimestamp': () => admin.fetchTopicOffsetsByTimestamp('a', 0),
    'admin.describeCluster': () => admin.describeCluster(),
    'admin.describeConfigs': () => admin.describeConfigs({ resources: [{ type: 2, name: 'a' }] }),
    'admin.alterConfigs': () => admin.alterConfigs({ resources: [{ type: 2, name: 'a', configEntries: [{ name: 'flush.ms', value: '2' }] }] }),
    'admin.deleteTopicRecords': () => admin.deleteTopicRecords({ topic: 'a', partitions: [{ partition: 0, offset: '3' }] }),
    'admin.listGroups': () => admin.listGroups(),
    'admin.describeGroups': () => admin.describeGroups(['g', 'pull']),
    'admin.deleteGroups': () => admin.deleteGroups(['pull']),
    'admin.fetchOffsets': () => admin.fetchOffsets({ groupId: 'g', topics: ['a'] }),
    'admin.resetOffsets': () => admin.resetOffsets({ groupId: 'pull', topic: 'a', earliest: true }),
    'admin.setOffsets': () => admin.setOffsets({ groupId: 'idle', topic: 'a', partitions: [{ partition: 0, offset: '1' }] }),
    'admin.disconnect': () => admin.disconnect(),
    'fjord.topics': () => fjord.topics(),
    'fjord.runRetention': () => fjord.runRetention(),
    'fjord.groups joinGroup': async () => (await fjord.groups()).joinGroup({ groupId: 'raw', memberId: '', sessionTimeoutMs: 50, rebalanceTimeoutMs: 50, protocols: [{ name: 'x', metadata: Buffer.alloc(0) }] }),
    'fjord.groupClient heartbeat': async () => (await fjord.groupClient()).heartbeat({ groupId: 'g', generationId: 1, memberId: 'nobody' }),
    'fjord.close (a second one)': () => fjord.close(),
  };
  const pending = new Map();
  const attempt = (wave, name) => {
    const label = wave + ' ' + name;
    let promise;
    try {
      promise = Promise.resolve(calls[name]());
    } catch (error) {
      promise = Promise.reject(error);
    }
    pending.set(label, promise);
    return promise.then(
      () => pending.delete(label),
      (error) => {
        pending.delete(label);
        if (!(error instanceof FjordError)) untyped.push({ scenario: current, call: label, error: String(error?.stack ?? error).split('\\n').slice(0, 4).join('\\n') });
      },
    );
  };
  const shuffled = () => Object.keys(calls).sort(() => random() - 0.5);
  const settled = [];
  // Closing Fjord itself: the clients' own stops and disconnects wait for the later waves, so that close() meets running consumers and handlers in flight.
  const early = (name) => mode === 'disconnect' || !/disconnect|\\.stop/.test(name);
  for (const name of shuffled().filter(early)) settled.push(attempt('before', name));
  for (let i = 0; i < turns; i++) await turn();
  const closing = (async () => {
    if (mode === 'disconnect') {
      await Promise.allSettled([producer, eachMessageConsumer, eachBatchConsumer, pullConsumer, latecomer, admin].map((c) => c.disconnect()));
    }
    await fjord.close();
  })();
  for (const name of shuffled()) settled.push(attempt('during', name));
  settled.push(closing.then(() => Promise.all(shuffled().map((name) => attempt('after', name)))));
  let timer;
  const deadline = new Promise((resolve) => (timer = setTimeout(resolve, 10_000)));
  await Promise.race([Promise.all(settled), deadline]);
  clearTimeout(timer);
  for (const label of pending.keys()) hung.push({ scenario: current, call: label });
}

const seed = Number(seedArg);
const random = generator(seed);
const scenarios = Number(scenariosArg);
const TURNS = [0, 1, 2, 3, 5, 8, 13, 40, 100];
for (let i = 0; i < scenarios; i++) {
  const turns = i < TURNS.length * 2 ? TURNS[i >> 1] : Math.floor(random() * 200);
  const mode = i % 2 === 0 ? 'close' : 'disconnect';
  current = 'seed ' + seed + ', scenario ' + i + ': ' + mode + ' after ' + turns + ' turns';
  await scenario(i, turns, mode, random).catch((error) => untyped.push({ scenario: current, call: 'setup', error: String(error?.stack ?? error).split('\\n').slice(0, 4).join('\\n') }));
}
current = 'after every scenario';
await new Promise((resolve) => setTimeout(resolve, 50));
const leftover = process.getActiveResourcesInfo().filter((r) => !['PipeWrap', 'TTYWrap', 'FSReqCallback'].includes(r));
console.log(JSON.stringify({ crashes, untyped, hung, leftover }));
process.exit(0);
`;

// Threads on one directory: the host thread's Fjord and a worker's (a guest
// reaching the coordinator over the BroadcastChannel) each run a consumer of
// one group, a producer and admin calls; one of them closes while calls are in
// flight (the other takes over as host when the host leaves), then the other.
const THREAD = `
import { parentPort, workerData, isMainThread } from 'node:worker_threads';
if (!isMainThread) await import(workerData.register);
const { Fjord, FjordError } = await import(isMainThread ? ${JSON.stringify(FJORD)} : workerData.fjord);

/** One side: its clients, calls kept going until close, and what failed. */
export async function side(dir, name) {
  const report = { untyped: [], hung: [] };
  const fjord = new Fjord({ dir, logCreator: () => () => undefined });
  const fast = { heartbeatInterval: 5, sessionTimeout: 300, rebalanceTimeout: 600, maxWaitTimeInMs: 20 };
  const consumer = fjord.consumer({ groupId: 'threads', ...fast });
  const producer = fjord.producer();
  const admin = fjord.admin();
  await Promise.all([consumer.connect(), producer.connect(), admin.connect()]);
  await consumer.subscribe({ topic: 'shared', fromBeginning: true });
  await consumer.run({ eachMessage: async ({ heartbeat }) => heartbeat() });
  const calls = [
    () => producer.send({ topic: 'shared', messages: [{ value: name }] }),
    () => admin.listGroups(),
    () => admin.describeGroups(['threads']),
    () => admin.fetchOffsets({ groupId: 'threads', topics: ['shared'] }),
    // Topic changes from both threads, so that one is in flight when its host closes.
    ...Array.from({ length: 6 }, () => () => admin.createTopics({ topics: [{ topic: name + '-' + Math.floor(Math.random() * 1e9) }] })),
    () => admin.setOffsets({ groupId: 'idle-' + name, topic: 'shared', partitions: [{ partition: 0, offset: '0' }] }),
    () => consumer.describeGroup(),
    () => consumer.commitOffsets([{ topic: 'shared', partition: 1, offset: '1' }]),
  ];
  const pending = new Set();
  let closing = false;
  // Rounds of every call at once, each round once the one before settled.
  const loop = async () => {
    while (!closing) {
      const round = calls.map((call) => {
        let promise;
        try { promise = Promise.resolve(call()); } catch (error) { promise = Promise.reject(error); }
        const entry = promise.then(() => undefined, (error) => {
          if (!(error instanceof FjordError)) report.untyped.push(name + ': ' + String(error?.stack ?? error).split('\\n').slice(0, 3).join(' | '));
        });
        pending.add(entry);
        return entry.then(() => pending.delete(entry));
      });
      await Promise.all(round);
    }
  };
  const looping = loop();
  return {
    report,
    async close() {
      const closed = fjord.close();
      closing = true;
      await looping;
      let timer;
      await Promise.race([Promise.all([closed, ...pending]), new Promise((resolve) => (timer = setTimeout(resolve, 10_000)))]);
      clearTimeout(timer);
      if (pending.size > 0) report.hung.push(name + ': ' + pending.size + ' calls');
      return report;
    },
  };
}

if (!isMainThread) {
  const crashes = [];
  process.on('uncaughtException', (error) => crashes.push('worker: ' + String(error?.stack ?? error).split('\\n').slice(0, 5).join(' | ')));
  const guest = await side(workerData.dir, 'worker');
  parentPort.postMessage({ type: 'ready' });
  parentPort.on('message', async () => {
    const report = await guest.close();
    parentPort.postMessage({ type: 'closed', report, crashes });
  });
}
`;

const THREADS_MAIN = `
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { Fjord } from ${JSON.stringify(FJORD)};

const [root, threadFile, register] = process.argv.slice(2);
const { side } = await import(threadFile);
const crashes = [];
const untyped = [];
const hung = [];
process.on('uncaughtException', (error) => crashes.push('main: ' + String(error?.stack ?? error).split('\\n').slice(0, 5).join(' | ')));
const turn = () => new Promise((resolve) => setImmediate(resolve));
let stage = 'start';
setTimeout(() => {
  console.log(JSON.stringify({ crashes, untyped, hung: [...hung, 'timed out: ' + stage] }));
  process.exit(0);
}, 150_000).unref();
let index = 0;
for (const first of ['host', 'guest']) {
  for (const turns of [0, 3, 30]) {
    const dir = join(root, 'd' + index++);
    const at = (what) => (stage = first + ' first, ' + turns + ' turns: ' + what);
    at('setup');
    const setup = new Fjord({ dir, logCreator: () => () => undefined });
    const admin = setup.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'shared', numPartitions: 4 }] });
    const host = await side(dir, 'host');
    const worker = new Worker(new URL(threadFile), { workerData: { dir, register, fjord: ${JSON.stringify(FJORD)} } });
    const messages = [];
    worker.on('message', (m) => messages.push(m));
    worker.on('error', (error) => crashes.push('worker died: ' + String(error?.stack ?? error).split('\\n').slice(0, 5).join(' | ')));
    const until = async (type) => {
      for (let t = 0; t < 15_000 && !messages.some((m) => m.type === type) && !crashes.length; t += 5) await new Promise((r) => setTimeout(r, 5));
      return messages.find((m) => m.type === type);
    };
    at('waiting for the worker');
    await until('ready');
    for (let i = 0; i < turns; i++) await turn();
    at('closing');
    const reports = [];
    if (first === 'host') {
      reports.push(await host.close());
      at('host closed');
      await setup.close();
      at('setup closed');
      worker.postMessage('close');
      const closed = await until('closed');
      if (closed) { reports.push(closed.report); crashes.push(...closed.crashes); } else hung.push(first + ' ' + turns + ': worker never closed');
    } else {
      worker.postMessage('close');
      const closed = await until('closed');
      if (closed) { reports.push(closed.report); crashes.push(...closed.crashes); } else hung.push(first + ' ' + turns + ': worker never closed');
      reports.push(await host.close());
      await setup.close();
    }
    for (const r of reports) { untyped.push(...r.untyped); hung.push(...r.hung); }
    await worker.terminate();
  }
}
console.log(JSON.stringify({ crashes, untyped, hung }));
process.exit(0);
`;

describe('close and disconnect while every public call is in flight', () => {
  it('threads on one directory: the host closes while a guest thread calls (and the other way round): no crash in either thread, every call settles, every error is typed', {
    timeout: 180_000,
  }, async () => {
    const dir = tempDir();
    const threadFile = join(dir, 'thread.mjs');
    writeFileSync(threadFile, THREAD);
    const register = pathToFileURL(join(dir, 'ts-register.mjs')).href;
    const { code, stdout, stderr } = await runScript(dir, THREADS_MAIN, [dir, pathToFileURL(threadFile).href, register], {
      nodeArgs: ['--unhandled-rejections=strict'],
    });
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual({ crashes: [], untyped: [], hung: [] });
  });

  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: nothing crashes the process, every call settles, every error is typed`, { timeout: 180_000 }, async () => {
      const dir = tempDir();
      const { code, stdout, stderr } = await runScript(dir, CHILD, [dir, String(seed), '22', 'hostile'], { nodeArgs: ['--unhandled-rejections=strict'] });
      expect(code, stderr).toBe(0);
      expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual({ crashes: [], untyped: [], hung: [], leftover: [] });
    });
  }
});

describe('what disconnect and close wait for, and what they refuse meanwhile', () => {
  const FAST = { heartbeatInterval: 20, sessionTimeout: 500, rebalanceTimeout: 1_000 };

  async function until(what: string, condition: () => boolean): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  it('consumer.disconnect() waits for the eachMessage in flight and commits it; calls made meanwhile are NotConnectedError; a second disconnect shares it', async () => {
    const fjord = fjordFor();
    const producer = fjord.producer();
    await producer.connect();
    await producer.send({ topic: 'jobs', messages: [{ value: 'a' }, { value: 'b' }] });
    const consumer = fjord.consumer({ groupId: 'workers', ...FAST });
    await consumer.connect();
    await consumer.subscribe({ topic: 'jobs', fromBeginning: true });
    let release!: () => void;
    const inFlight = new Promise<void>((resolve) => (release = resolve));
    const handled: string[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (message.offset === '1') await inFlight;
        handled.push(message.offset);
      },
    });
    await until('the second message in flight', () => handled.length === 1);
    const first = consumer.disconnect();
    const second = consumer.disconnect();
    const refused = await Promise.allSettled([
      consumer.subscribe({ topic: 'jobs' }),
      consumer.run({ eachMessage: async () => undefined }),
      consumer.commitOffsets([{ topic: 'jobs', partition: 0, offset: '0' }]),
      consumer.describeGroup(),
      (async () => consumer.seek({ topic: 'jobs', partition: 0, offset: '0' }))(),
    ]);
    expect(refused.map((r) => (r.status === 'rejected' ? (r.reason as Error).constructor : r.status))).toEqual(Array(5).fill(NotConnectedError));
    let disconnected = false;
    void first.then(() => (disconnected = true));
    await consumer.describeGroup().catch(() => undefined);
    // The handler is still held: the disconnect has not resolved.
    expect(disconnected).toBe(false);
    release();
    await Promise.all([first, second]);
    expect(handled).toEqual(['0', '1']);
    const admin = fjord.admin();
    await admin.connect();
    expect(await admin.fetchOffsets({ groupId: 'workers', topics: ['jobs'] })).toEqual([
      { topic: 'jobs', partitions: [{ partition: 0, offset: '2', metadata: null, lag: '0' }] },
    ]);
    await producer.disconnect();
  });

  it('a poll() waiting for records returns what it has when its consumer disconnects', async () => {
    const fjord = fjordFor();
    const admin = fjord.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'quiet' }] });
    const consumer = fjord.consumer({ groupId: 'pull' });
    await consumer.connect();
    consumer.assign([{ topic: 'quiet', partitions: [0] }]);
    // A minute: only the disconnect can end it within the test's timeout.
    const polled = consumer.poll({ timeoutMs: 60_000 });
    // Turns enough for the poll to resolve its position and start waiting.
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    await consumer.disconnect();
    expect(await polled).toEqual([]);
  });

  it('fjord.close(): concurrent closes share one; connects, group and retention calls from its start are NotConnectedError', async () => {
    const fjord = fjordFor();
    const admin = fjord.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 't' }] });
    const consumer = fjord.consumer({ groupId: 'late' });
    const closing = fjord.close();
    expect(fjord.close()).toBe(closing);
    const refused = await Promise.allSettled([consumer.connect(), fjord.producer().connect(), admin.listGroups(), fjord.runRetention(), fjord.groups()]);
    expect(refused.map((r) => (r.status === 'rejected' ? (r.reason as Error).constructor : r.status))).toEqual(Array(5).fill(NotConnectedError));
    await closing;
    await expect(admin.listTopics()).rejects.toThrow(NotConnectedError);
  });
});
