// The idempotent producer (issue 11 #6): `idempotent: true` gets a producer id
// at connect and numbers its batches per partition in the RecordBatch v2
// header as Kafka's producer does; the store keeps each producer's last
// batches (Kafka's ProducerStateManager) so that a batch appended again is
// acknowledged with its first offsets and stored once, and refuses gaps and
// fenced epochs with Kafka's errors, also after a clean close and a crash.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { InvalidArgumentError, InvalidProducerEpochError, Log, OutOfOrderSequenceNumberError, encodeBatch } from '../src/index.js';
import { FJORD, spawnScript } from './child-process.js';
import { fjordFor, track } from './fjord-kit.js';
import { Fjord } from '../src/fjord.js';
import { captureError, tempDir } from './helpers.js';
import { runKafkaTool } from './kafka-tools.js';
import { readSegments } from './segment-reader.js';

/** Producer id, epoch and base sequence from a batch header's bytes (offsets 43, 51, 53 of RecordBatch v2). */
function producerFields(batch: Buffer): [number, number, number] {
  return [Number(batch.readBigInt64BE(43)), batch.readInt16BE(51), batch.readInt32BE(53)];
}

/** One idempotent batch of `count` records, values `s<sequence>`, `s<sequence+1>`... */
function idempotentBatch(producerId: number, producerEpoch: number, baseSequence: number, count = 1): Buffer {
  const records = Array.from({ length: count }, (_, i) => ({ value: `s${baseSequence + i}` }));
  return encodeBatch(records, { producerId, producerEpoch, baseSequence, now: 1 });
}

function valuesIn(log: Log): string[] {
  const values: string[] = [];
  let offset = log.logStartOffset;
  for (let slice = log.readSlice(offset); slice !== null; slice = log.readSlice(offset)) {
    for (let at = 0; at < slice.bytes.length; ) {
      const size = slice.bytes.readInt32BE(at + 8) + 12;
      values.push(`${slice.bytes.readBigInt64BE(at)}:${producerFields(slice.bytes.subarray(at, at + size)).join('/')}`);
      at += size;
    }
    offset = slice.nextOffset;
  }
  return values;
}

describe('an idempotent producer', () => {
  it('is idempotent, gets a producer id at connect and writes its id, epoch 0 and per-partition sequences in every batch header', async () => {
    const fjord = fjordFor({ logLevel: 0 });
    const admin = fjord.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 2 }] });
    const plain = fjord.producer();
    const producer = fjord.producer({ idempotent: true });
    expect([plain.isIdempotent(), producer.isIdempotent()]).toEqual([false, true]);
    await producer.connect();
    await producer.send({
      topic: 'orders',
      messages: [
        { value: 'a', partition: 0 },
        { value: 'b', partition: 0 },
        { value: 'c', partition: 1 },
      ],
    });
    await producer.send({ topic: 'orders', messages: [{ value: 'd', partition: 0 }] });
    await producer.send({
      topic: 'orders',
      compression: 1,
      messages: [
        { value: 'e', partition: 1 },
        { value: 'f', partition: 1 },
      ],
    });
    await producer.send({ topic: 'orders', messages: [{ value: 'g', partition: 1 }] });
    await producer.disconnect();
    await fjord.close();
    // Read back with the test's own reader of the segment files, not Fjord's.
    const headers = (partition: number) =>
      readSegments(join(fjord.dir, `orders-${partition}`), { open: false }).flatMap((s) => s.batches.map((b) => [b.baseOffset, ...producerFields(b.bytes)]));
    expect(headers(0)).toEqual([
      [0, 0, 0, 0],
      [2, 0, 0, 2],
    ]);
    expect(headers(1)).toEqual([
      [0, 0, 0, 0],
      [1, 0, 0, 1],
      [3, 0, 0, 3],
    ]);
  });

  it("is shown by Kafka's DumpLogSegments with its producerId, epoch and sequences", async () => {
    const fjord = fjordFor({ logLevel: 0 });
    const producer = fjord.producer({ idempotent: true });
    await producer.connect();
    await producer.send({ topic: 'dumped', messages: [{ value: 'a' }, { value: 'b' }] });
    const stamp = 1_700_000_000_123;
    await producer.send({ topic: 'dumped', messages: [{ value: 'c', timestamp: String(stamp) }] });
    await producer.disconnect();
    await fjord.close();
    const out = await runKafkaTool('org.apache.kafka.tools.DumpLogSegments', ['--files', join(fjord.dir, 'dumped-0', '00000000000000000000.log')]);
    const batches = out.split('\n').filter((line) => line.startsWith('baseOffset:'));
    const fields = batches.map((line) =>
      /lastOffset: (\d+) count: (\d+).* producerId: (-?\d+) producerEpoch: (-?\d+) .*isTransactional: (\w+)/.exec(line)!.slice(1),
    );
    expect(fields).toEqual([
      ['1', '2', '0', '0', 'false'],
      ['2', '1', '0', '0', 'false'],
    ]);
    const sequences = batches.map((line) => /baseSequence: (-?\d+) lastSequence: (-?\d+)/.exec(line)!.slice(1));
    expect(sequences).toEqual([
      ['0', '1'],
      ['2', '2'],
    ]);
    // The producer snapshot written at close, as Kafka's own code reads it.
    const snapshot = await runKafkaTool('org.apache.kafka.tools.DumpLogSegments', ['--files', join(fjord.dir, 'dumped-0', '00000000000000000003.snapshot')]);
    expect(snapshot.split('\n').filter((line) => line.startsWith('producerId:'))).toEqual([
      'producerId: 0 producerEpoch: 0 coordinatorEpoch: -1 currentTxnFirstOffset: OptionalLong.empty ' +
        `lastTimestamp: ${stamp} firstSequence: 2 lastSequence: 2 lastOffset: 2 offsetDelta: 0 timestamp: ${stamp}`,
    ]);
  });

  it('gets a new producer id at every connect, never one given before, across restarts and above the ids in the logs', async () => {
    const dir = tempDir();
    const ids: number[] = [];
    for (let round = 0; round < 2; round++) {
      const fjord = track(new Fjord({ dir, logLevel: 0 }));
      const producer = fjord.producer({ idempotent: true });
      for (let connect = 0; connect < 2; connect++) {
        await producer.connect();
        await producer.send({ topic: 'ids', messages: [{ value: `r${round}c${connect}` }] });
        await producer.disconnect();
      }
      await fjord.close();
      const log = await Log.open(join(dir, 'ids-0'));
      ids.push(
        ...valuesIn(log)
          .slice(-2)
          .map((v) => Number(v.split(':')[1]!.split('/')[0])),
      );
      await log.close();
    }
    expect(ids).toEqual([0, 1, 2, 3]);
    // A log holding producer id 5000 (as an adopted Kafka partition may): new ids start above it.
    const log = await Log.open(join(dir, 'ids-0'));
    log.append(idempotentBatch(5000, 0, 0));
    await log.close();
    const fjord = track(new Fjord({ dir, logLevel: 0 }));
    const producer = fjord.producer({ idempotent: true });
    await producer.connect();
    await producer.send({ topic: 'ids', messages: [{ value: 'after' }] });
    await producer.disconnect();
    await fjord.close();
    const reopened = await Log.open(join(dir, 'ids-0'));
    expect(valuesIn(reopened).at(-1)).toBe('5:5001/0/0');
    await reopened.close();
  });

  it("follows KafkaJS's rules: acks must be -1, and retry.retries at least 1", async () => {
    const fjord = fjordFor({ logLevel: 0 });
    expect(() => fjord.producer({ idempotent: true, retry: { retries: 0 } })).toThrow(
      new InvalidArgumentError('Idempotent producer must allow retries to protect against transient errors'),
    );
    // As KafkaJS reads it: by truthiness.
    expect(fjord.producer({ idempotent: 'yes' as unknown as boolean }).isIdempotent()).toBe(true);
    expect(fjord.producer({ idempotent: 0 as unknown as boolean }).isIdempotent()).toBe(false);
    const producer = fjord.producer({ idempotent: true });
    await producer.connect();
    for (const acks of [0, 1]) {
      await expect(producer.send({ topic: 'acks', acks, messages: [{ value: 'x' }] })).rejects.toThrow(
        new InvalidArgumentError("Not requiring ack for all messages invalidates the idempotent producer's EoS guarantees"),
      );
    }
    await producer.disconnect();
  });
});

describe("the store's producer state", () => {
  it('acknowledges a batch appended again with its first offsets and stores it once, also after a reopen', async () => {
    const dir = tempDir();
    const log = await Log.open(dir);
    log.append(encodeBatch([{ value: 'plain' }], { now: 1 }));
    const first = log.append(idempotentBatch(42, 0, 0, 3));
    const again = log.append(idempotentBatch(42, 0, 0, 3));
    expect([first.baseOffset, first.lastOffset, first.position > 0]).toEqual([1, 3, true]);
    expect(again).toEqual({ baseOffset: 1, lastOffset: 3, position: -1, logAppendTime: -1 });
    expect(log.logEndOffset).toBe(4);
    await log.close();
    const reopened = await Log.open(dir);
    expect(reopened.append(idempotentBatch(42, 0, 0, 3))).toEqual({ baseOffset: 1, lastOffset: 3, position: -1, logAppendTime: -1 });
    expect(reopened.append(idempotentBatch(42, 0, 3)).baseOffset).toBe(4);
    expect(valuesIn(reopened)).toEqual(['0:-1/-1/-1', '1:42/0/0', '4:42/0/3']);
    await reopened.close();
  });

  it('refuses a gap with OutOfOrderSequenceNumberError and an older epoch with InvalidProducerEpochError, writing nothing', async () => {
    const log = await Log.open(tempDir());
    log.append(idempotentBatch(7, 2, 0, 2));
    const gap = captureError(() => log.append(idempotentBatch(7, 2, 5)));
    expect(gap).toBeInstanceOf(OutOfOrderSequenceNumberError);
    expect({ ...(gap as OutOfOrderSequenceNumberError), message: (gap as Error).message }).toMatchObject({
      code: 'ERR_OUT_OF_ORDER_SEQUENCE_NUMBER',
      type: 'OUT_OF_ORDER_SEQUENCE_NUMBER',
      kafkaErrorCode: 45,
      producerId: 7,
      producerEpoch: 2,
      sequence: 5,
      message: 'out of order sequence number for producer 7 (epoch 2): found 5, expected 2',
    });
    const fenced = captureError(() => log.append(idempotentBatch(7, 1, 2)));
    expect(fenced).toBeInstanceOf(InvalidProducerEpochError);
    expect({ ...(fenced as InvalidProducerEpochError) }).toMatchObject({ kafkaErrorCode: 47, producerId: 7, producerEpoch: 1, currentEpoch: 2 });
    expect(log.logEndOffset).toBe(2);
    await log.close();
  });

  it('writes its state at clean close as a Kafka producer snapshot and deletes only the snapshot it wrote before', async () => {
    const dir = tempDir();
    const log = await Log.open(dir);
    log.append(idempotentBatch(3, 0, 0, 4));
    await log.close();
    const again = await Log.open(dir);
    again.append(idempotentBatch(3, 0, 4));
    await again.close();
    expect(readdirSync(dir).filter((f) => f.endsWith('.snapshot'))).toEqual(['00000000000000000005.snapshot']);
  });

  it('is rebuilt after a crash (SIGKILL) from the snapshot of the last clean close and the batches after it', async () => {
    const dir = tempDir();
    const child = `
import { Log, encodeBatch } from ${JSON.stringify(FJORD)};
const [dir] = process.argv.slice(2);
const batch = (seq) => encodeBatch([{ value: 's' + seq }], { producerId: 9, producerEpoch: 0, baseSequence: seq, now: 1 });
let log = await Log.open(dir);
for (let seq = 0; seq < 10; seq++) log.append(batch(seq));
await log.close();
log = await Log.open(dir);
for (let seq = 10; seq < 20; seq++) log.append(batch(seq));
process.stdout.write('appended\\n');
setInterval(() => {}, 1000);
`;
    const proc = spawnScript(tempDir(), child, [dir]);
    let stderr = '';
    proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    await new Promise<void>((resolve) => proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => chunk.includes('appended') && resolve()));
    proc.kill('SIGKILL');
    const signal = await new Promise((resolve) => proc.once('close', (_code, s) => resolve(s)));
    expect({ signal, stderr }).toEqual({ signal: 'SIGKILL', stderr: '' });
    const log = await Log.open(dir);
    expect(log.recoveryReport.cleanShutdown).toBe(false);
    const seq = (s: number) => encodeBatch([{ value: `s${s}` }], { producerId: 9, producerEpoch: 0, baseSequence: s, now: 1 });
    // The last five batches are known duplicates; the one before them is too old; 20 is next.
    expect(log.append(seq(19))).toMatchObject({ baseOffset: 19, position: -1 });
    expect(log.append(seq(15))).toMatchObject({ baseOffset: 15, position: -1 });
    expect(captureError(() => log.append(seq(14)))).toBeInstanceOf(OutOfOrderSequenceNumberError);
    expect(captureError(() => log.append(seq(21)))).toBeInstanceOf(OutOfOrderSequenceNumberError);
    expect(log.append(seq(20)).baseOffset).toBe(20);
    await log.close();
  });
});
