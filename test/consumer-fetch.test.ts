// The fetch runner's FETCH event reports how long the pass took, handlers included.
import { setTimeout as sleep } from 'node:timers/promises';

import { expect, it } from 'vitest';

import { fjordFor } from './fjord-kit.js';

it('FETCH reports the duration of the fetch-and-dispatch pass, handler time included', async () => {
  const fjord = fjordFor();
  const producer = fjord.producer();
  await producer.connect();
  await producer.send({ topic: 'slow', messages: [{ value: 'a' }] });
  const consumer = fjord.consumer({ groupId: 'g', maxWaitTimeInMs: 50 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'slow', fromBeginning: true });
  const fetches: { numberOfBatches: number; duration: number }[] = [];
  consumer.on(consumer.events.FETCH, (event) => fetches.push((event as { payload: { numberOfBatches: number; duration: number } }).payload));
  let handled!: () => void;
  const done = new Promise<void>((resolve) => (handled = resolve));
  await consumer.run({
    eachMessage: async () => {
      await sleep(80);
      handled();
    },
  });
  await done;
  await consumer.stop();
  const working = fetches.find((f) => f.numberOfBatches === 1)!;
  expect(Number.isInteger(working.duration)).toBe(true);
  expect(working.duration).toBeGreaterThanOrEqual(75);
});
