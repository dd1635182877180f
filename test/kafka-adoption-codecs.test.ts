// The snappy, lz4 and zstd topics of the Kafka 4.4 fixture read back as Kafka's
// consumer read them, under both isolation levels.
import { describe, expect, it } from 'vitest';

import { Fjord } from '../src/index.js';
import { track } from './fjord-kit.js';
import { changedKafkaFiles, copyOfKafkaLogDir, kafkaRead, pollAll } from './kafka-fixture.js';

const CODEC_TOPICS = ['k-lz4', 'k-snappy', 'k-zstd'];

describe('the compressed topics of a Kafka broker log directory', () => {
  for (const isolation of ['read_committed', 'read_uncommitted'] as const) {
    it(`reads snappy, lz4 and zstd batches as Kafka ${isolation} did`, async () => {
      const dir = copyOfKafkaLogDir();
      const fjord = track(await Fjord.open({ dir }));
      const read = await pollAll(fjord, CODEC_TOPICS, isolation === 'read_uncommitted');
      const expected = kafkaRead(isolation, CODEC_TOPICS);
      expect(expected.length).toBe(360);
      expect(read).toEqual(expected);
      await fjord.close();
      expect(changedKafkaFiles(dir)).toEqual([]);
    });
  }
});
