// batch.size with compression, as Kafka's producer counts it: estimated
// compressed bytes (CompressionRatioEstimator), so compressed batches hold
// more records as the estimate learns how much the codec shrinks the topic's
// records.
import { describe, expect, it } from 'vitest';
import { CompressionTypes } from '../src/index.js';
import { CompressionRatios } from '../src/producer/compression-ratios.js';
import { batchesOf, fjordFor } from './fjord-kit.js';

describe('CompressionRatios', () => {
  it("moves an estimate as Kafka's: 0.005 toward a better ratio, at once (0.05 at least) toward a worse one, per topic and codec", () => {
    const ratios = new CompressionRatios();
    expect(ratios.recordBytesFor('t', 4, 16384)).toBeCloseTo(16384 / 1.05, 9);
    ratios.update('t', 4, 1000, 300); // observed 0.3: 1 → 0.995
    expect(ratios.recordBytesFor('t', 4, 16384)).toBeCloseTo(16384 / (0.995 * 1.05), 9);
    ratios.update('t', 4, 1000, 1000); // observed 1.0, worse: max(0.995 + 0.05, 1.0)
    expect(ratios.recordBytesFor('t', 4, 16384)).toBeCloseTo(16384 / (1.045 * 1.05), 9);
    ratios.update('t', 4, 1000, 2000); // observed 2.0: at once
    expect(ratios.recordBytesFor('t', 4, 16384)).toBeCloseTo(16384 / (2 * 1.05), 9);
    ratios.update('t', 4, 1000, 1999.999); // better but within a step: down to the observed ratio at most
    expect(ratios.recordBytesFor('t', 4, 16384)).toBeCloseTo(16384 / (1.999999 * 1.05), 9);
    expect(ratios.recordBytesFor('t', 3, 16384)).toBeCloseTo(16384 / 1.05, 9);
    expect(ratios.recordBytesFor('u', 4, 16384)).toBeCloseTo(16384 / 1.05, 9);
  });
});

it('compressed batches grow past batch.size of uncompressed records as the estimate learns, and stay within max.message.bytes', async () => {
  const fjord = fjordFor();
  const admin = fjord.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'z', configEntries: [{ name: 'max.message.bytes', value: '65536' }] }] });
  const producer = fjord.producer();
  await producer.connect();
  const messages = Array.from({ length: 6000 }, (_, i) => ({
    value: `{"event":"click","user":"user-${i % 97}","page":"/products/${i % 13}"}`.padEnd(200, ' '),
  }));
  await producer.send({ topic: 'z', compression: CompressionTypes.ZSTD, messages });
  const batches = await batchesOf(fjord, 'z', 0);
  const counts = batches.map((b) => b.recordCount);
  expect(counts.reduce((a, b) => a + b, 0)).toBe(6000);
  // The first batch: batch.size (16384) of uncompressed records over the 1.05 margin; later ones hold more.
  expect(counts[0]).toBeLessThan(80);
  for (let k = 1; k < counts.length - 1; k++) expect(counts[k]).toBeGreaterThanOrEqual(counts[k - 1]!);
  expect(counts.at(-2)).toBeGreaterThan(1.5 * counts[0]!);
  for (const b of batches) expect(b.size).toBeLessThanOrEqual(65536);
  await producer.disconnect();
  await admin.disconnect();
});
