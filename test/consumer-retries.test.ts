// What a failing handler, a group's life and a failing listener leave in the
// log, as KafkaJS logs them: a poison message is logged with its topic,
// partition, offset and stack, retried after KafkaJS's backoff (the computed
// waits are logged and asserted exactly, Math.random fixed), and once no retry
// is left the consumer crashes and restarts per `restartOnFailure`.
import { afterEach, describe, expect, it, vi } from 'vitest';

import { type Consumer, type EachMessagePayload, type Fjord, type LogEntry, logLevel, NumberOfRetriesExceededError } from '../src/index.js';
import { backoffOptions, Retrier, RETRY_DEFAULTS, randomized } from '../src/consumer/retry.js';
import { InvalidArgumentError, NotConnectedError } from '../src/errors.js';
import { fjordFor } from './fjord-kit.js';

const FAST = { heartbeatInterval: 50, sessionTimeout: 500, rebalanceTimeout: 2_000 };

async function until(what: string, condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A Fjord whose log entries (DEBUG and up) are kept in `entries`. */
function recorded(): { fjord: Fjord; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const fjord = fjordFor({ logLevel: logLevel.DEBUG, logCreator: () => (entry) => entries.push(entry) });
  return { fjord, entries };
}

/** Entries as `[label, namespace, message]`, optionally only those whose message matches. */
const lines = (entries: LogEntry[], match?: RegExp) =>
  entries.filter((e) => match === undefined || match.test(e.log.message)).map((e) => [e.label, e.namespace, e.log.message]);

async function topicWith(fjord: Fjord, topic: string, values: string[]): Promise<void> {
  const producer = fjord.producer();
  await producer.connect();
  await producer.send({ topic, messages: values.map((value) => ({ value })) });
  await producer.disconnect();
}

interface Crash {
  error: unknown;
  groupId: string;
  restart: boolean;
}

function crashesOf(consumer: Consumer): Crash[] {
  const crashes: Crash[] = [];
  consumer.on(consumer.events.CRASH, (e) => void crashes.push((e as { payload: Crash }).payload));
  return crashes;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the retry backoff (KafkaJS src/retry)', () => {
  it('waits initialRetryTime, then each wait times the multiplier, randomized by ±factor and rounded up, capped at maxRetryTime', () => {
    const middle = new Retrier(backoffOptions(undefined), () => 0.5);
    const waits: (number | null)[] = [];
    for (let i = 0; i < 6; i++) waits.push(middle.failed());
    expect(waits).toEqual([300, 600, 1200, 2400, 4800, null]);
    expect([middle.retryCount, middle.retryTime]).toEqual([5, 9600]);

    // random() = 0: the low end, 20% under, at every step.
    const low = new Retrier(backoffOptions({ retries: 3 }), () => 0);
    expect([low.failed(), low.failed(), low.failed(), low.failed()]).toEqual([240, 384, 616, null]);
    expect([randomized(0.2, 300, () => 0), randomized(0.2, 300, () => 0.999999)]).toEqual([240, 360]);

    const capped = new Retrier(backoffOptions({ initialRetryTime: 20_000, retries: 3 }), () => 0.5);
    expect([capped.failed(), capped.failed(), capped.failed()]).toEqual([20_000, 30_000, 30_000]);
    expect(RETRY_DEFAULTS).toEqual({ maxRetryTime: 30_000, initialRetryTime: 300, factor: 0.2, multiplier: 2, retries: 5 });
  });

  it('checks the retry options a consumer is given', () => {
    expect(() => backoffOptions({ retries: -1 })).toThrow(InvalidArgumentError);
    expect(() => backoffOptions({ retries: 1.5 })).toThrow('retry.retries must be a non-negative integer, got 1.5');
    expect(() => backoffOptions({ initialRetryTime: 'soon' })).toThrow(InvalidArgumentError);
    expect(() => backoffOptions({ restartOnFailure: true })).toThrow('retry.restartOnFailure must be a function, got true');
    expect(() => backoffOptions(5)).toThrow(InvalidArgumentError);
    expect(() => fjordFor().consumer({ groupId: 'g', retry: { factor: -1 } })).toThrow('retry.factor must be a non-negative number, got -1');
  });
});

describe('a poison message (eachMessage throws)', () => {
  it('is logged at ERROR with topic, partition, offset and stack, retried after each backoff wait, then the consumer crashes and restarts after the last wait', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const { fjord, entries } = recorded();
    await topicWith(fjord, 'orders', ['m0', 'poison', 'm2']);
    const consumer = fjord.consumer({ groupId: 'poisoned', ...FAST, retry: { initialRetryTime: 10, retries: 3 } });
    const crashes = crashesOf(consumer);
    const failure = new Error('cannot parse poison');
    const attempts: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: 'orders', fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }: EachMessagePayload) => {
        attempts.push(message.offset);
        // Fails on its first four deliveries (the first try and three retries), then goes through after the restart.
        if (message.value!.toString() === 'poison' && attempts.filter((o) => o === '1').length <= 4) throw failure;
      },
    });
    await until('m2 after the restart', () => attempts.at(-1) === '2');
    expect(attempts).toEqual(['0', '1', '1', '1', '1', '1', '2']);

    const handlerErrors = entries.filter((e) => e.log.message === 'Error when calling eachMessage');
    expect(handlerErrors).toHaveLength(4);
    for (const e of handlerErrors) {
      expect(e).toMatchObject({ namespace: 'Runner', label: 'ERROR', level: logLevel.ERROR });
      expect(e.log).toEqual({
        message: 'Error when calling eachMessage',
        topic: 'orders',
        partition: 0,
        offset: '1',
        stack: failure.stack,
        error: failure,
        timestamp: expect.any(String),
      });
    }
    // The computed waits: initialRetryTime, then doubled (Math.random() = 0.5 puts each at its nominal value).
    const retries = entries.filter((e) => e.log.message === 'Error while consuming, trying again...');
    expect(retries.map((e) => [e.label, e.namespace, e.log.retryCount, e.log.retryTime, e.log.error])).toEqual([
      ['DEBUG', 'Runner', 0, 10, 'cannot parse poison'],
      ['DEBUG', 'Runner', 1, 20, 'cannot parse poison'],
      ['DEBUG', 'Runner', 2, 40, 'cannot parse poison'],
    ]);

    expect(crashes).toHaveLength(1);
    const crash = crashes[0]!;
    expect(crash.groupId).toBe('poisoned');
    expect(crash.restart).toBe(true);
    expect(crash.error).toBeInstanceOf(NumberOfRetriesExceededError);
    expect(crash.error).toMatchObject({
      retryCount: 3,
      retryTime: 80,
      cause: failure,
      retriable: true,
      message: 'eachMessage failed 4 times: cannot parse poison',
    });
    const crashEntry = entries.find((e) => e.log.message.startsWith('Crash: '))!;
    expect(crashEntry).toMatchObject({ label: 'ERROR', namespace: 'Consumer' });
    expect(crashEntry.log).toEqual({
      message: 'Crash: NumberOfRetriesExceededError: eachMessage failed 4 times: cannot parse poison',
      groupId: 'poisoned',
      retryCount: 3,
      stack: (crash.error as Error).stack,
      timestamp: expect.any(String),
    });
    const restarting = entries.find((e) => e.log.message.startsWith('Restarting'))!;
    expect(restarting).toMatchObject({ label: 'ERROR', namespace: 'Consumer' });
    expect(restarting.log).toEqual({
      message: 'Restarting the consumer in 80ms',
      retryCount: 3,
      retryTime: 80,
      groupId: 'poisoned',
      timestamp: expect.any(String),
    });
    // Started twice (run, then the restart), joined twice, left once in between (the crash).
    expect(lines(entries, /^(Starting|Consumer has joined the group|Consumer has left the group|Crash|Restarting)/)).toEqual([
      ['INFO', 'Consumer', 'Starting'],
      ['INFO', 'ConsumerGroup', 'Consumer has joined the group'],
      ['ERROR', 'Consumer', 'Crash: NumberOfRetriesExceededError: eachMessage failed 4 times: cannot parse poison'],
      ['INFO', 'ConsumerGroup', 'Consumer has left the group'],
      ['ERROR', 'Consumer', 'Restarting the consumer in 80ms'],
      ['INFO', 'Consumer', 'Starting'],
      ['INFO', 'ConsumerGroup', 'Consumer has joined the group'],
    ]);
    await consumer.disconnect();
  });

  it('restartOnFailure resolving false: CRASH with restart false, and the consumer stays stopped', async () => {
    const { fjord, entries } = recorded();
    await topicWith(fjord, 'orders', ['poison']);
    const asked: unknown[] = [];
    const consumer = fjord.consumer({
      groupId: 'no-restart',
      ...FAST,
      retry: {
        initialRetryTime: 5,
        retries: 1,
        restartOnFailure: async (error: Error) => {
          asked.push(error);
          return false;
        },
      },
    });
    const crashes = crashesOf(consumer);
    let attempts = 0;
    await consumer.connect();
    await consumer.subscribe({ topic: 'orders', fromBeginning: true });
    await consumer.run({
      eachMessage: async () => {
        attempts++;
        throw new Error('always');
      },
    });
    await until('the crash', () => crashes.length === 1);
    expect(crashes[0]!.restart).toBe(false);
    expect(asked).toEqual([crashes[0]!.error]);
    expect(attempts).toBe(2);
    expect(lines(entries, /^Restarting/)).toEqual([]);
    expect((await consumer.describeGroup()).members).toEqual([]);
    await consumer.disconnect();
  });

  it('restartOnFailure that throws: logged, and the consumer restarts (KafkaJS defaults to restarting)', async () => {
    const { fjord, entries } = recorded();
    await topicWith(fjord, 'orders', ['poison']);
    let attempts = 0;
    const consumer = fjord.consumer({
      groupId: 'restart-anyway',
      ...FAST,
      retry: {
        initialRetryTime: 5,
        retries: 0,
        restartOnFailure: async () => {
          throw new Error('callback broke');
        },
      },
    });
    const crashes = crashesOf(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic: 'orders', fromBeginning: true });
    await consumer.run({
      eachMessage: async () => {
        if (++attempts === 1) throw new Error('once');
      },
    });
    await until('the delivery after the restart', () => attempts === 2);
    expect(crashes.map((c) => c.restart)).toEqual([true]);
    const callbackError = entries.find((e) => e.log.message.startsWith('Caught error when invoking'))!;
    expect(callbackError.label).toBe('ERROR');
    expect(callbackError.log).toEqual({
      message: 'Caught error when invoking user-provided "restartOnFailure" callback. Defaulting to restarting.',
      error: 'callback broke',
      cause: 'eachMessage failed 1 times: once',
      groupId: 'restart-anyway',
      timestamp: expect.any(String),
    });
    await consumer.disconnect();
  });

  it('a TypeError is not retried (KafkaJS): the consumer crashes at once with it, restart false', async () => {
    const { fjord, entries } = recorded();
    await topicWith(fjord, 'orders', ['a']);
    const consumer = fjord.consumer({ groupId: 'typo', ...FAST });
    const crashes = crashesOf(consumer);
    let attempts = 0;
    await consumer.connect();
    await consumer.subscribe({ topic: 'orders', fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        attempts++;
        (message as unknown as { nothing: { here: number } }).nothing.here;
      },
    });
    await until('the crash', () => crashes.length === 1);
    expect(crashes[0]).toEqual({ error: expect.any(TypeError), groupId: 'typo', restart: false });
    expect(attempts).toBe(1);
    expect(lines(entries, /^(Error when|Crash|Restarting|Error while)/)).toEqual([
      ['ERROR', 'Runner', 'Error when calling eachMessage'],
      ['ERROR', 'Consumer', `Crash: TypeError: ${(crashes[0]!.error as Error).message}`],
    ]);
    await consumer.disconnect();
  });

  it('eachBatch that throws is logged with the batch’s first offset, and retried from the last resolved offset', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const { fjord, entries } = recorded();
    await topicWith(fjord, 'orders', ['a', 'b', 'c']);
    const consumer = fjord.consumer({ groupId: 'batches', ...FAST, retry: { initialRetryTime: 5 } });
    const firstOffsets: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: 'orders', fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch, resolveOffset }) => {
        firstOffsets.push(batch.firstOffset()!);
        resolveOffset(batch.messages[0]!.offset);
        if (firstOffsets.length === 1) throw new Error('batch failed');
      },
    });
    await until('the second batch', () => firstOffsets.length === 2);
    expect(firstOffsets).toEqual(['0', '1']);
    const logged = entries.filter((e) => e.log.message === 'Error when calling eachBatch');
    expect(logged.map((e) => [e.label, e.namespace, e.log.topic, e.log.partition, e.log.offset])).toEqual([['ERROR', 'Runner', 'orders', 0, '0']]);
    expect(lines(entries, /trying again/).length).toBe(1);
    await consumer.disconnect();
  });
});

describe('group life at INFO', () => {
  it('joins, the rebalance a second member starts, leaves and stops are logged with KafkaJS’s wording', async () => {
    const { fjord, entries } = recorded();
    await topicWith(fjord, 'orders', ['a']);
    const first = fjord.consumer({ groupId: 'team', ...FAST });
    await first.connect();
    await first.subscribe({ topic: 'orders' });
    await first.run({ eachMessage: async () => undefined });
    const joined = entries.find((e) => e.log.message === 'Consumer has joined the group')!;
    expect(joined).toMatchObject({ label: 'INFO', namespace: 'ConsumerGroup' });
    expect(joined.log).toEqual({
      message: 'Consumer has joined the group',
      groupId: 'team',
      memberId: expect.stringMatching(/^fjord-/),
      leaderId: joined.log.memberId,
      isLeader: true,
      memberAssignment: { orders: [0] },
      groupProtocol: 'RoundRobinAssigner',
      duration: expect.any(Number),
      timestamp: expect.any(String),
    });
    const second = fjord.consumer({ groupId: 'team', ...FAST });
    await second.connect();
    await second.subscribe({ topic: 'orders' });
    await second.run({ eachMessage: async () => undefined });
    await until('the first member rejoined', () => entries.filter((e) => e.log.message === 'Consumer has joined the group').length === 3);
    const rebalancing = entries.find((e) => e.log.message === 'The group is rebalancing, re-joining')!;
    expect(rebalancing).toMatchObject({ label: 'INFO', namespace: 'Runner', log: { groupId: 'team', memberId: joined.log.memberId } });
    await first.disconnect();
    const left = entries.filter((e) => /^(Consumer has left the group|Stopped)$/.test(e.log.message));
    expect(left.map((e) => [e.label, e.namespace, e.log.message, e.log.groupId, e.log.memberId])).toEqual([
      ['INFO', 'ConsumerGroup', 'Consumer has left the group', 'team', joined.log.memberId],
      ['INFO', 'Consumer', 'Stopped', 'team', undefined],
    ]);
    await second.disconnect();
  });
});

describe('background failures', () => {
  it('a heartbeat of the timer that fails with a non-rejoin error is logged at WARN, not thrown into the event loop', async () => {
    const { fjord, entries } = recorded();
    await topicWith(fjord, 'orders', ['a']);
    const consumer = fjord.consumer({ groupId: 'beating', heartbeatInterval: 5, sessionTimeout: 500, rebalanceTimeout: 1_000 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'orders' });
    await consumer.run({ eachMessage: async () => undefined });
    const coordinator = await fjord.groups();
    vi.spyOn(coordinator, 'heartbeat').mockImplementation(() => {
      throw new NotConnectedError('coordinator unreachable');
    });
    await until('a failed heartbeat logged', () => entries.some((e) => e.log.message.startsWith('Heartbeat failed')));
    const failed = entries.find((e) => e.log.message.startsWith('Heartbeat failed'))!;
    expect(failed).toMatchObject({ label: 'WARN', namespace: 'ConsumerGroup' });
    expect(failed.log).toEqual({
      message: 'Heartbeat failed: coordinator unreachable',
      groupId: 'beating',
      memberId: expect.stringMatching(/^fjord-/),
      error: expect.any(NotConnectedError),
      timestamp: expect.any(String),
    });
    vi.restoreAllMocks();
    await consumer.disconnect();
  });
});

describe('logger() and failing listeners', () => {
  it('producer, consumer and admin have logger(), writing through the Fjord’s logCreator under their namespace', () => {
    const { fjord, entries } = recorded();
    fjord.producer().logger().info('from the producer', { n: 1 });
    fjord.consumer({ groupId: 'g' }).logger().warn('from the consumer');
    fjord.admin().logger().error('from the admin');
    fjord.admin().logger().namespace('Custom').debug('nested');
    expect(entries.map((e) => [e.label, e.namespace, e.log.message])).toEqual([
      ['INFO', 'Producer', 'from the producer'],
      ['WARN', 'Consumer', 'from the consumer'],
      ['ERROR', 'Admin', 'from the admin'],
      ['DEBUG', 'Custom', 'nested'],
    ]);
    expect(entries[0]!.log.n).toBe(1);
  });

  it('a listener that throws or rejects is logged ("Failed to execute listener"), the call that emitted goes on, other listeners still get the event', async () => {
    const { fjord, entries } = recorded();
    const producer = fjord.producer();
    const consumer = fjord.consumer({ groupId: 'g' });
    const admin = fjord.admin();
    const thrown = new Error('sync listener broke');
    const rejected = new Error('async listener broke');
    const heard: string[] = [];
    producer.on(producer.events.CONNECT, () => {
      throw thrown;
    });
    consumer.on(consumer.events.CONNECT, async () => {
      throw rejected;
    });
    admin.on(admin.events.CONNECT, () => Promise.reject(rejected));
    for (const client of [producer, consumer, admin]) client.on(client.events.CONNECT, (e) => void heard.push((e as { type: string }).type));
    await producer.connect();
    await consumer.connect();
    await admin.connect();
    await until('the rejections logged', () => entries.filter((e) => e.log.message.startsWith('Failed to execute listener')).length === 3);
    expect(heard).toEqual(['producer.connect', 'consumer.connect', 'admin.connect']);
    const failures = entries.filter((e) => e.log.message.startsWith('Failed to execute listener'));
    expect(failures.map((e) => [e.label, e.namespace, e.log.message, e.log.eventName, e.log.stack])).toEqual([
      ['ERROR', 'Producer', 'Failed to execute listener: sync listener broke', 'producer.connect', thrown.stack],
      ['ERROR', 'Consumer', 'Failed to execute listener: async listener broke', 'consumer.connect', rejected.stack],
      ['ERROR', 'Admin', 'Failed to execute listener: async listener broke', 'admin.connect', rejected.stack],
    ]);
    await consumer.disconnect();
    await producer.disconnect();
  });

  it('a logCreator that throws never fails the code that logs', async () => {
    const fjord = fjordFor({
      logLevel: logLevel.DEBUG,
      logCreator: () => () => {
        throw new Error('log sink down');
      },
    });
    await topicWith(fjord, 'orders', ['a']);
    const consumer = fjord.consumer({ groupId: 'g', ...FAST });
    const seen: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: 'orders', fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
    await until('the record', () => seen.length === 1);
    await consumer.disconnect();
  });
});
