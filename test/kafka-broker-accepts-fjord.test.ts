// The way back, run against a real Kafka 4.4 KRaft broker (scripts/kafka),
// following docs/operations.md "Moving committed offsets from Fjord to Kafka"
// step by step on a Fjord directory that exercises everything Fjord writes
// (test/fjord-data-for-kafka.ts):
//   1. Fjord stopped; `fjord groups export-offsets` writes each group's CSV.
//   2. The broker creates the topics with the same partition counts (and the
//      configs that matter to a reader: timestamp type, max message size),
//      stops cleanly; each partition's segment files (.log, .index,
//      .timeindex) replace the broker's empty ones; the broker starts.
//   3. `kafka-consumer-groups --reset-offsets --from-file --execute` applies
//      the CSV; `--describe` shows the offsets Fjord committed.
// Kafka's Java consumer (the console consumer, read_committed) reads every
// record back with its offset, timestamp, key, headers and value; KafkaJS
// appends through the broker after Fjord's records.
import { copyFileSync, mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { runCommand } from '../src/command.js';
import { type FjordData, type WrittenRecord, writeFjordData } from './fjord-data-for-kafka.js';
import { type Broker, describeGroup, kafkaClasspath, runTool, startBroker } from './kafka-tools.js';

const TIMEOUT = 300_000;
const work = mkdtempSync(join(tmpdir(), 'fjord-to-kafka-'));
let broker: Broker | undefined;

afterAll(async () => {
  await broker?.stop();
  rmSync(work, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** One line of the console consumer with every print.* on: CreateTime:T\tPartition:P\tOffset:O\tHEADERS\tKEY\tVALUE. */
interface Consumed {
  partition: number;
  offset: number;
  timestampType: string;
  timestamp: number;
  headers: string;
  key: string;
  value: string;
}

/** Kafka's console consumer (read_committed) over one topic from the beginning, `count` records. */
async function consume(bootstrap: string, topic: string, count: number): Promise<Consumed[]> {
  const out = await runTool('org.apache.kafka.tools.consumer.ConsoleConsumer', [
    '--bootstrap-server',
    bootstrap,
    '--topic',
    topic,
    '--from-beginning',
    '--isolation-level',
    'read_committed',
    '--max-messages',
    String(count),
    '--timeout-ms',
    '30000',
    ...['print.timestamp', 'print.partition', 'print.offset', 'print.headers', 'print.key', 'print.value'].flatMap((p) => [
      '--formatter-property',
      `${p}=true`,
    ]),
    '--command-property',
    'max.partition.fetch.bytes=4194304',
  ]);
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => {
      const m = /^(CreateTime|LogAppendTime):(-?\d+)\tPartition:(\d+)\tOffset:(\d+)\t([^\t]*)\t([^\t]*)\t(.*)$/.exec(line);
      if (m === null) throw new Error(`unexpected console consumer line: ${line.slice(0, 300)}`);
      return { timestampType: m[1]!, timestamp: Number(m[2]), partition: Number(m[3]), offset: Number(m[4]), headers: m[5]!, key: m[6]!, value: m[7]! };
    });
}

/** How the console consumer prints a written record (null as "null", no headers as NO_HEADERS). */
function printed(r: WrittenRecord, partition: number) {
  return {
    partition,
    offset: r.offset,
    timestampType: r.timestampType,
    headers: r.headers.length === 0 ? 'NO_HEADERS' : r.headers.map(([k, v]) => `${k}:${v ?? 'null'}`).join(','),
    key: r.key ?? 'null',
    value: r.value === null ? 'null' : r.value.length > 1000 ? `${r.value.length} chars of ${r.value[0]}` : r.value,
  };
}

describe('A Kafka 4.4 broker serves a Fjord directory moved in by the documented procedure', () => {
  it(
    "reads every record back with Kafka's consumer, appends after them, and describes the group's committed offsets",
    async () => {
      kafkaClasspath(); // fails here, saying what is missing, without Java and Maven
      const started = Date.now();
      const data: FjordData = await writeFjordData(join(work, 'fjord'));

      // 1. Export each group's committed offsets (the CLI's code, in process).
      let csv = '';
      const code = await runCommand(
        ['groups', 'export-offsets', '--dir', data.dir, '--group', 'billing'],
        { write: (s: string) => (csv += s) },
        process.stderr,
      );
      expect(code).toBe(0);
      expect(csv).toBe(`${data.groups.billing!.map((row) => row.join(',')).join('\n')}\n`);
      const csvFile = join(work, 'billing.csv');
      writeFileSync(csvFile, csv);

      // 2. Topics with the same partition counts, broker stopped, segments copied in, broker started.
      const logDir = join(work, 'kafka-logs');
      const ports = { port: await freePort(), controllerPort: await freePort() };
      broker = await startBroker(logDir, ports);
      const { clusterId } = broker;
      for (const [topic, spec] of Object.entries(data.topics)) {
        const configs = Object.entries(spec.configs).filter(([name]) => name === 'message.timestamp.type' || name === 'max.message.bytes');
        await runTool('org.apache.kafka.tools.TopicCommand', [
          '--bootstrap-server',
          broker.bootstrap,
          '--create',
          '--topic',
          topic,
          '--partitions',
          String(spec.partitions),
          ...configs.flatMap(([name, value]) => ['--config', `${name}=${value}`]),
        ]);
      }
      await broker.stop();
      broker = undefined;
      // Only the topics' partitions: the group's offsets go by the CSV (step 3).
      for (const partition of data.records.keys()) {
        const target = join(logDir, partition);
        for (const f of readdirSync(target)) if (/\.(log|index|timeindex)$/.test(f)) unlinkSync(join(target, f));
        for (const f of readdirSync(join(data.dir, partition)))
          if (/\.(log|index|timeindex)$/.test(f)) copyFileSync(join(data.dir, partition, f), join(target, f));
      }
      broker = await startBroker(logDir, { ...ports, clusterId });
      const restarted = Date.now();
      // The broker loads each partition from Fjord's files as they are (its clean shutdown file skips recovery),
      // its log start and end where Fjord left them, and logs no warning or error about them. (At a clean start it
      // does not check a sealed segment's index: a corrupted .index copied in loads silently. Indexes are judged by
      // DumpLogSegments in test/kafka-accepts-fjord.test.ts, and used here by every fetch.)
      const loaded = new Map<string, [number, number]>();
      for (const m of broker.output().matchAll(/Completed load of Log\(dir=.*\/([^/,]+), .*logStartOffset=(\d+), logEndOffset=(\d+)\)/g)) {
        loaded.set(m[1]!, [Number(m[2]), Number(m[3])]);
      }
      expect(broker.output()).toContain('since clean shutdown file was found');
      for (const [partition, list] of data.records) expect(loaded.get(partition), partition).toEqual([data.logStart.get(partition), list.at(-1)!.offset + 1]);
      expect(
        broker
          .output()
          .split('\n')
          .filter((l) => /^(WARN|ERROR)/.test(l) && /\bt-[a-z]+-\d/.test(l)),
      ).toEqual([]);

      // Every record, as Kafka's consumer reads it.
      for (const [topic, spec] of Object.entries(data.topics)) {
        const partitions = Array.from({ length: spec.partitions }, (_, p) => data.records.get(`${topic}-${p}`)!);
        const total = partitions.reduce((n, list) => n + list.length, 0);
        const consumed = await consume(broker.bootstrap, topic, total);
        const expected = partitions.flatMap((list, p) => list.map((r) => printed(r, p)));
        const sorted = consumed.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
        expect(
          sorted.map((c) => ({ ...c, timestamp: undefined, value: c.value.length > 1000 ? `${c.value.length} chars of ${c.value[0]}` : c.value })),
          topic,
        ).toEqual(expected.map((e) => ({ ...e, timestamp: undefined })));
        const writtenTimes = partitions.flatMap((list) => list.map((r) => r.timestamp));
        sorted.forEach((c, i) => {
          const t = writtenTimes[i]!;
          if (typeof t === 'number') expect(c.timestamp, `${topic} ${c.partition}/${c.offset}`).toBe(t);
          else expect(c.timestamp >= t.from && c.timestamp <= t.to, `${topic} ${c.partition}/${c.offset}`).toBe(true);
        });
      }

      // Appends through the broker land right after Fjord's records.
      const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
      const producer = kafka.producer();
      await producer.connect();
      const appended = [];
      for (const partition of ['t-none-1', 't-zstd-0', 't-retained-0', 't-truncated-0', 't-big-0']) {
        const [, topic, p] = /^(.*)-(\d+)$/.exec(partition)!;
        const [result] = await producer.send({ topic: topic!, messages: [{ partition: Number(p), key: 'from-kafka', value: `after ${partition}` }] });
        appended.push([partition, Number(result!.baseOffset)]);
      }
      await producer.disconnect();
      expect(appended).toEqual(appended.map(([partition]) => [partition, data.records.get(partition as string)!.at(-1)!.offset + 1]));
      const afterZstd = (await consume(broker.bootstrap, 't-zstd', 601)).filter((c) => c.partition === 0 && c.offset === 300);
      expect(afterZstd.map((c) => [c.key, c.value])).toEqual([['from-kafka', 'after t-zstd-0']]);

      // 3. The CSV applied; --describe shows Fjord's committed offsets.
      await runTool('org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', [
        '--bootstrap-server',
        broker.bootstrap,
        '--reset-offsets',
        '--group',
        'billing',
        '--from-file',
        csvFile,
        '--execute',
      ]);
      const described = (await describeGroup(broker.bootstrap, 'billing')).map((r) => [r.topic, r.partition, r.currentOffset]);
      expect(described).toEqual(data.groups.billing);
      await broker.stop();
      broker = undefined;
      console.log(`broker check: ${((Date.now() - started) / 1000).toFixed(1)} s in all, ${((Date.now() - restarted) / 1000).toFixed(1)} s after the restart`);
    },
    TIMEOUT,
  );
});
