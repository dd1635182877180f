// A topic's compression.type, as Kafka's broker applies it: `producer` (the
// default) keeps the codec each send asked for; any other value is the codec
// of every batch written to the topic, whatever the send asked for.
import { expect, it } from 'vitest';
import { ConfigResourceTypes, CompressionTypes } from '../src/index.js';
import { batchesOf, fjordFor, valuesOf } from './fjord-kit.js';

it('compression.type decides the codec of the batches written, producer keeps the send codec, and a change applies to later sends', async () => {
  const fjord = fjordFor();
  const admin = fjord.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic: 'zstd-topic', configEntries: [{ name: 'compression.type', value: 'zstd' }] },
      { topic: 'plain-topic', configEntries: [{ name: 'compression.type', value: 'uncompressed' }] },
      { topic: 'producer-topic' },
    ],
  });
  const producer = fjord.producer();
  await producer.connect();
  for (const compression of [CompressionTypes.None, CompressionTypes.GZIP, CompressionTypes.LZ4]) {
    for (const topic of ['zstd-topic', 'plain-topic', 'producer-topic']) {
      await producer.send({ topic, compression, messages: [{ value: `${topic} ${compression}` }] });
    }
  }
  const codecs = async (topic: string) => (await batchesOf(fjord, topic, 0)).map((b) => b.attributes & 7);
  expect(await codecs('zstd-topic')).toEqual([4, 4, 4]);
  expect(await codecs('plain-topic')).toEqual([0, 0, 0]);
  expect(await codecs('producer-topic')).toEqual([0, 1, 3]);
  expect(await valuesOf(fjord, 'zstd-topic', 0)).toEqual(['zstd-topic 0', 'zstd-topic 1', 'zstd-topic 3']);

  await admin.alterConfigs({
    validateOnly: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: 'producer-topic', configEntries: [{ name: 'compression.type', value: 'snappy' }] }],
  });
  await producer.send({ topic: 'producer-topic', messages: [{ value: 'later' }] });
  expect(await codecs('producer-topic')).toEqual([0, 1, 3, 2]);
  expect(await valuesOf(fjord, 'producer-topic', 0)).toEqual(['producer-topic 0', 'producer-topic 1', 'producer-topic 3', 'later']);
  await producer.disconnect();
  await admin.disconnect();
});
