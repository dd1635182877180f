// The producer's bufferMemory and maxBlockMs (Kafka's buffer.memory and
// max.block.ms), and sends that let the event loop turn (issue 11 #2): a loop
// of awaited acks 0 sends lets timers run and its records reach the log as it
// goes; the records queued never take more than bufferMemory (seen in the
// batches: a flush writes everything queued, so no batch holds more records
// than fit); a send that waits past maxBlockMs fails with TimeoutError; and
// what was queued is given back, in bufferMemory and in the heap, once
// appended.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';

import { RecordTooLargeError, TimeoutError, type Fjord } from '../src/index.js';
import { RECORD_PREFIX_MAX } from '../src/record-batch/layout.js';
import { VARINT_MAX_BYTES } from '../src/record-batch/varint.js';
import { batchesOf, fjordFor, logOf, valuesOf } from './fjord-kit.js';
import { eventually } from './helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** What one keyless record of a 100-byte value without headers takes of bufferMemory (RecordRun's bound). */
const VALUE = 'v'.repeat(100);
const RECORD_BYTES = RECORD_PREFIX_MAX + 2 * VARINT_MAX_BYTES + VALUE.length;

async function withTopic(fjord: Fjord, topic: string): Promise<void> {
  const admin = fjord.admin();
  await admin.connect();
  expect(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] })).toBe(true);
  await admin.disconnect();
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
/** Blocks the event loop, as a long synchronous task of the application would. */
function blockFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('acks 0 sends let the event loop turn', () => {
  it('a loop of awaited acks 0 sends lets a 5 ms interval fire, and each resolved send has its record in the log', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'loop');
    const log = await logOf(fjord, 'loop', 0);
    const producer = fjord.producer();
    await producer.connect();
    let fires = 0;
    const interval = setInterval(() => fires++, 5);
    let sends = 0;
    let behind = 0;
    // Bounded so that a producer that starves timers ends the loop too (with fires still 0).
    while (fires < 3 && sends < 200_000) {
      await producer.send({ topic: 'loop', acks: 0, messages: [{ value: `r${sends}` }] });
      sends++;
      // The flush due in the send's turn ran before it resolved.
      if (log.logEndOffset !== sends) behind++;
    }
    clearInterval(interval);
    expect(fires).toBe(3);
    expect(behind).toBe(0);
    expect(sends).toBeLessThan(200_000);
    await producer.disconnect();
    expect(log.logEndOffset).toBe(sends);
  });
});

describe('bufferMemory', () => {
  it('bounds the records queued: 35 concurrent sends under a long linger are written 10 at a time, in order, when 10 fit', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'bounded');
    const producer = fjord.producer({ lingerMs: 60_000, bufferMemory: 10 * RECORD_BYTES });
    await producer.connect();
    const sends = range(35).map((i) => producer.send({ topic: 'bounded', acks: 1, messages: [{ value: `${i}`.padStart(100, '0') }] }));
    // The 11th send waits, and a send waiting for memory has what is queued written without waiting out lingerMs.
    const offsets = (await Promise.all(sends)).map((result) => Number(result[0]!.baseOffset));
    expect(offsets).toEqual(range(35));
    expect((await batchesOf(fjord, 'bounded', 0)).map((b) => b.recordCount)).toEqual([10, 10, 10, 5]);
    expect(await valuesOf(fjord, 'bounded', 0)).toEqual(range(35).map((i) => `${i}`.padStart(100, '0')));
    await producer.disconnect();
  });

  it('one byte less: 9 records fit, so no batch holds more than 9', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'bounded');
    const producer = fjord.producer({ lingerMs: 60_000, bufferMemory: 10 * RECORD_BYTES - 1 });
    await producer.connect();
    await Promise.all(range(35).map(() => producer.send({ topic: 'bounded', acks: 1, messages: [{ value: VALUE }] })));
    expect((await batchesOf(fjord, 'bounded', 0)).map((b) => b.recordCount)).toEqual([9, 9, 9, 8]);
    await producer.disconnect();
  });

  it('a send larger than bufferMemory goes in pieces that fit, and resolves once all are written', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'pieces');
    const producer = fjord.producer({ bufferMemory: 10 * RECORD_BYTES });
    await producer.connect();
    const result = await producer.send({ topic: 'pieces', acks: 1, messages: range(25).map(() => ({ value: VALUE })) });
    expect(result.map((r) => r.baseOffset)).toEqual(['0']);
    expect((await batchesOf(fjord, 'pieces', 0)).map((b) => b.recordCount)).toEqual([10, 10, 5]);
    await producer.disconnect();
  });

  it('a record larger than bufferMemory is refused with RecordTooLargeError naming it; the rest of the send is written', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'huge');
    const producer = fjord.producer({ bufferMemory: 10 * RECORD_BYTES });
    await producer.connect();
    const send = producer.send({ topic: 'huge', acks: 1, messages: [{ value: 'small' }, { value: 'x'.repeat(10 * RECORD_BYTES) }] });
    await expect(send).rejects.toThrow(RecordTooLargeError);
    await expect(send).rejects.toThrow(`more than the producer's bufferMemory (${10 * RECORD_BYTES} bytes)`);
    expect(await valuesOf(fjord, 'huge', 0)).toEqual(['small']);
    await producer.disconnect();
  });

  it('maxBlockMs 0: a send that does not fit fails at once with TimeoutError; the queued ones are written; their memory is given back', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'full');
    const producer = fjord.producer({ bufferMemory: 2 * RECORD_BYTES, maxBlockMs: 0 });
    await producer.connect();
    const first = producer.send({ topic: 'full', acks: 1, messages: [{ value: VALUE }] });
    const second = producer.send({ topic: 'full', acks: 1, messages: [{ value: VALUE }] });
    const third = producer.send({ topic: 'full', acks: 1, messages: [{ value: 'third' }] });
    const error = await third.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ code: 'ERR_TIMEOUT', type: 'REQUEST_TIMED_OUT', kafkaErrorCode: 7, retriable: true });
    expect((error as Error).message).toContain('within the configured max blocking time 0 ms (maxBlockMs)');
    expect([(await first)[0]!.baseOffset, (await second)[0]!.baseOffset]).toEqual(['0', '1']);
    // Both records appended: all of bufferMemory is free again, so a send that needs all of it goes in without waiting.
    expect((await producer.send({ topic: 'full', acks: 1, messages: [{ value: VALUE }, { value: VALUE }] }))[0]!.baseOffset).toBe('2');
    expect(await valuesOf(fjord, 'full', 0)).toEqual([VALUE, VALUE, VALUE, VALUE]);
    await producer.disconnect();
  });

  it('a send that waits longer than maxBlockMs (the event loop blocked) fails with TimeoutError, and its record is not written', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'blocked');
    const producer = fjord.producer({ bufferMemory: 2 * RECORD_BYTES, maxBlockMs: 20 });
    await producer.connect();
    // From inside an immediate: the flush these sends schedule runs on the
    // next turn's check phase, after that turn's timers.
    await nextTurn();
    const queued = range(2).map(() => producer.send({ topic: 'blocked', acks: 0, messages: [{ value: VALUE }] }));
    const waiting = producer.send({ topic: 'blocked', acks: 0, messages: [{ value: 'late' }] });
    blockFor(40);
    await expect(waiting).rejects.toThrow(TimeoutError);
    await expect(waiting).rejects.toThrow('Failed to allocate');
    await Promise.all(queued);
    await producer.disconnect();
    expect(await valuesOf(fjord, 'blocked', 0)).toEqual([VALUE, VALUE]);
  });

  it('acks 0 sends waiting for memory resolve once queued; disconnect writes them all', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'waiting');
    const producer = fjord.producer({ lingerMs: 60_000, bufferMemory: 4 * RECORD_BYTES });
    await producer.connect();
    const results = await Promise.all(range(10).map(() => producer.send({ topic: 'waiting', acks: 0, messages: [{ value: VALUE }] })));
    expect(results.map((r) => r[0]!.baseOffset)).toEqual(range(10).map(() => '-1'));
    await producer.disconnect();
    expect((await batchesOf(fjord, 'waiting', 0)).map((b) => b.recordCount)).toEqual([4, 4, 2]);
  });

  it('keeps no reference to a value once its record is appended, whether its send waited for memory or not', async () => {
    const fjord = fjordFor();
    await withTopic(fjord, 'released');
    // Values large enough to be spliced in by the store rather than copied into the batch; 10 fit.
    const producer = fjord.producer({ bufferMemory: 10 * (RECORD_BYTES - VALUE.length + 4096) });
    await producer.connect();
    const weak: WeakRef<ArrayBuffer>[] = [];
    // In a function of its own: an async frame may keep its last local value alive.
    const send = (i: number) => {
      const value = Buffer.allocUnsafeSlow(4096).fill(i);
      weak.push(new WeakRef(value.buffer as ArrayBuffer));
      return producer.send({ topic: 'released', acks: i % 2 === 0 ? 0 : 1, messages: [{ value }] });
    };
    await Promise.all(range(50).map(send));
    for (let i = 50; i < 60; i++) await send(i);
    expect((await logOf(fjord, 'released', 0)).logEndOffset).toBe(60);
    expect(await eventually(() => weak.every((w) => w.deref() === undefined), gc, 2000)).toBe(true);
    await producer.disconnect();
  });
});
