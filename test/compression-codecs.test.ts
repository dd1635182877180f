// KafkaJS's CompressionCodecs registry: Fjord's built-in codecs fill it, and
// a codec registered as KafkaJS code does replaces the built-in one for its
// type on the producer and on both consumer read paths (run and poll).
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CompressionCodecFactory,
  CompressionCodecs,
  CompressionTypes,
  decodeBatches,
  InvalidArgumentError,
  InvalidRecordError,
  type KafkaMessage,
} from '../src/index.js';
import { HEADER_SIZE } from '../src/record-batch/layout.js';
import { fjordFor, logOf, valuesOf } from './fjord-kit.js';

const saved = { ...CompressionCodecs };
afterEach(() => {
  for (const type of [1, 2, 3, 4]) CompressionCodecs[type] = saved[type]!;
});

/** A KafkaJS-style gzip codec (level 1, unlike the built-in's default 6) that records what it did. */
function countingGzip() {
  const produced: Buffer[] = [];
  let decompressed = 0;
  const factory: CompressionCodecFactory = () => ({
    async compress(encoder) {
      await sleep(5); // a real await: later sends must still land after this one
      const out = gzipSync(encoder.buffer, { level: 1 });
      produced.push(out);
      return out;
    },
    async decompress(buffer) {
      decompressed++;
      return gunzipSync(buffer);
    },
  });
  return { factory, produced, decompressions: () => decompressed };
}

describe('CompressionCodecs', () => {
  it('holds the built-in gzip, snappy, lz4 and zstd codecs, with KafkaJS codec shape', async () => {
    const records = Buffer.from('records '.repeat(100));
    for (const type of [CompressionTypes.GZIP, CompressionTypes.Snappy, CompressionTypes.LZ4, CompressionTypes.ZSTD]) {
      const codec = CompressionCodecs[type]!();
      const compressed = await codec.compress({ buffer: records });
      expect(compressed.length).toBeLessThan(records.length);
      expect(await codec.decompress(compressed)).toEqual(records);
    }
    expect(Object.keys(CompressionCodecs)).toEqual(['1', '2', '3', '4']);
  });

  it("a registered codec compresses the producer's batches of its type, in send order, and the consumer decompresses with it", async () => {
    const gzip = countingGzip();
    CompressionCodecs[CompressionTypes.GZIP] = gzip.factory;
    const fjord = fjordFor();
    const producer = fjord.producer();
    await producer.connect();
    // Not awaited one by one: the plain send issued while the first is compressing lands after it.
    const sends = [
      producer.send({ topic: 't', compression: CompressionTypes.GZIP, messages: [{ value: 'a0' }, { value: 'a1' }] }),
      producer.send({ topic: 't', messages: [{ value: 'b0' }] }),
      producer.send({ topic: 't', compression: CompressionTypes.GZIP, messages: [{ value: 'c0' }] }),
    ];
    const results = await Promise.all(sends);
    expect(results.map((r) => r[0]!.baseOffset)).toEqual(['0', '2', '3']);
    expect(await valuesOf(fjord, 't', 0)).toEqual(['a0', 'a1', 'b0', 'c0']);

    // The stored gzip batches hold exactly what the registered codec returned.
    const slice = (await logOf(fjord, 't', 0)).readSlice(0)!;
    const stored: Buffer[] = [];
    for (let pos = 0; pos < slice.bytes.length; ) {
      const size = 12 + slice.bytes.readInt32BE(pos + 8);
      if ((slice.bytes.readInt16BE(pos + 21) & 7) === CompressionTypes.GZIP) stored.push(Buffer.from(slice.bytes.subarray(pos + HEADER_SIZE, pos + size)));
      pos += size;
    }
    expect(stored).toEqual(gzip.produced);

    const consumer = fjord.consumer({ groupId: 'g', maxWaitTimeInMs: 20 });
    await consumer.connect();
    await consumer.subscribe({ topic: 't', fromBeginning: true });
    const seen: KafkaMessage[] = [];
    let done!: () => void;
    const all = new Promise<void>((resolve) => (done = resolve));
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(message);
        if (seen.length === 4) done();
      },
    });
    await all;
    await consumer.disconnect();
    expect(seen.map((m) => [m.offset, m.value!.toString()])).toEqual([
      ['0', 'a0'],
      ['1', 'a1'],
      ['2', 'b0'],
      ['3', 'c0'],
    ]);
    expect(gzip.decompressions()).toBe(2);

    const poller = fjord.consumer({ groupId: 'p' });
    await poller.connect();
    poller.assign([{ topic: 't', partitions: [0] }]);
    poller.seek({ topic: 't', partition: 0, offset: '0' });
    expect((await poller.poll()).map((r) => r.value!.toString())).toEqual(['a0', 'a1', 'b0', 'c0']);
    expect(gzip.decompressions()).toBe(4);
    await poller.disconnect();
  });

  it("a registered codec's failure rejects the send with its own error and writes nothing; output Kafka could not read is refused", async () => {
    const fjord = fjordFor();
    const producer = fjord.producer();
    await producer.connect();
    const failure = new Error('codec exploded');
    CompressionCodecs[CompressionTypes.Snappy] = () => ({
      compress: async () => {
        throw failure;
      },
      decompress: async (b: Buffer) => b,
    });
    await expect(producer.send({ topic: 't', compression: CompressionTypes.Snappy, messages: [{ value: 'x' }] })).rejects.toBe(failure);

    CompressionCodecs[CompressionTypes.LZ4] = () => ({ compress: async () => Buffer.from('not lz4'), decompress: async (b: Buffer) => b });
    const garbage = producer.send({ topic: 't', compression: CompressionTypes.LZ4, messages: [{ value: 'y' }] });
    await expect(garbage).rejects.toThrow(InvalidRecordError);
    await expect(garbage).rejects.toThrow('invalid record batch at byte 0 of the input: lz4 records do not decompress: WrongMagicNumber');

    CompressionCodecs[CompressionTypes.GZIP] = () => ({ compress: async () => 'text' as unknown as Buffer, decompress: async (b: Buffer) => b });
    await expect(producer.send({ topic: 't', compression: CompressionTypes.GZIP, messages: [{ value: 'w' }] })).rejects.toThrow(
      new InvalidArgumentError("the registered gzip codec's compress() gave no Buffer"),
    );

    CompressionCodecs[CompressionTypes.ZSTD] = (() => null) as unknown as CompressionCodecFactory;
    await expect(producer.send({ topic: 't', compression: CompressionTypes.ZSTD, messages: [{ value: 'z' }] })).rejects.toThrow(
      new InvalidArgumentError('CompressionCodecs[4] (zstd) returned no { compress, decompress } codec'),
    );

    // Nothing of the failed sends was written; a plain send still goes through.
    await producer.send({ topic: 't', messages: [{ value: 'ok' }] });
    expect(await valuesOf(fjord, 't', 0)).toEqual(['ok']);
    await producer.disconnect();
  });

  it("a registered codec's Uint8Array output is taken as a Buffer, both ways", async () => {
    const builtIn = CompressionCodecs[CompressionTypes.GZIP]!();
    CompressionCodecs[CompressionTypes.GZIP] = () => ({
      compress: async (encoder) => new Uint8Array(await builtIn.compress(encoder)) as Buffer,
      decompress: async (buffer) => new Uint8Array(await builtIn.decompress(buffer)) as Buffer,
    });
    const fjord = fjordFor();
    const producer = fjord.producer();
    await producer.connect();
    await producer.send({ topic: 't', compression: CompressionTypes.GZIP, messages: [{ value: 'u8' }] });
    const consumer = fjord.consumer({ groupId: 'p' });
    await consumer.connect();
    consumer.assign([{ topic: 't', partitions: [0] }]);
    consumer.seek({ topic: 't', partition: 0, offset: '0' });
    expect((await consumer.poll()).map((r) => r.value!.toString())).toEqual(['u8']);
    await consumer.disconnect();
    await producer.disconnect();
  });

  it('decodeBatches and encodeBatch stay with the built-in codecs', async () => {
    const gzip = countingGzip();
    CompressionCodecs[CompressionTypes.GZIP] = gzip.factory;
    const fjord = fjordFor();
    const producer = fjord.producer();
    await producer.connect();
    await producer.send({ topic: 't', compression: CompressionTypes.GZIP, messages: [{ value: 'v' }] });
    const slice = (await logOf(fjord, 't', 0)).readSlice(0)!;
    expect([...decodeBatches(slice.bytes)].map((r) => r.value!.toString())).toEqual(['v']);
    expect(gzip.decompressions()).toBe(0);
  });
});
