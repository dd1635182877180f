// A small closed data dir to damage, and the tools to damage and inspect it,
// shared by the corruption and verify tests.
import { closeSync, openSync, readdirSync, readFileSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';

import { batchInfos, Fjord, logLevel, type BatchInfo } from '../src/index.js';
import { tempDir } from './helpers.js';

export const TOPIC = 't';
export const COUNT = 60;

/**
 * A closed data dir: topic `t` with `partitions` partitions of 2048-byte
 * segments, `m-0`..`m-59` in partition 0, one batch each. Each record has its
 * own timestamp, so every batch adds a time index entry whatever the clock does.
 */
export async function producedDataDir(partitions = 1): Promise<string> {
  const dir = tempDir();
  const fjord = new Fjord({ dir, logLevel: logLevel.NOTHING });
  const admin = fjord.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      {
        topic: TOPIC,
        numPartitions: partitions,
        configEntries: [
          { name: 'segment.bytes', value: '2048' },
          { name: 'index.interval.bytes', value: '256' },
        ],
      },
    ],
  });
  const producer = fjord.producer();
  await producer.connect();
  const start = Date.now();
  for (let i = 0; i < COUNT; i++) await producer.send({ topic: TOPIC, messages: [{ value: `m-${i}`, partition: 0, timestamp: String(start + i) }] });
  await fjord.close();
  return dir;
}

export const partitionDir = (dir: string): string => join(dir, `${TOPIC}-0`);

/** Partition 0's segment files, oldest first. */
export function segmentFiles(dir: string): string[] {
  return readdirSync(partitionDir(dir))
    .filter((n) => n.endsWith('.log'))
    .sort();
}

export function batchesIn(dir: string, file: string): BatchInfo[] {
  return [...batchInfos(readFileSync(join(partitionDir(dir), file)))];
}

export function flipByte(path: string, at: number): void {
  const fd = openSync(path, 'r+');
  const byte = Buffer.alloc(1);
  readSync(fd, byte, 0, 1, at);
  byte[0] = byte[0]! ^ 0x20;
  writeSync(fd, byte, 0, 1, at);
  closeSync(fd);
}
