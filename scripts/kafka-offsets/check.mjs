// Committed offsets between Apache Kafka 4.4 and Fjord, both directions, with
// a real broker (Kafka's jars from Maven Central; Java 17+ and Maven needed):
//
//   Kafka → Fjord: a broker (Kafka's default 50 offsets partitions) gets two
//     topics, the Java console consumer commits offsets for three groups, the
//     broker stops; Fjord opens a copy of its log directory and must report
//     exactly the offsets `kafka-consumer-groups.sh --describe` showed.
//   Fjord → Kafka: Fjord commits offsets for a group on two topics;
//     `fjord groups export-offsets` writes the CSV; a fresh broker gets the
//     same topics and records (produced with KafkaJS), and
//     `kafka-consumer-groups.sh --reset-offsets --from-file --execute` applies
//     the CSV; `--describe` must show exactly Fjord's offsets. Then a second
//     group's records move as they are: Fjord's segment of its
//     `__consumer_offsets` partition is copied into the stopped broker's
//     (empty) partition of the same number, and after a restart `--describe`
//     must show that group's offsets as Fjord committed them.
//
// A third group commits with the KIP-848 consumer protocol
// (group.protocol=consumer): its ConsumerGroup* records are of types Fjord does
// not read (skipped, as Kafka's loader skips unknown types); its OffsetCommit
// records are read like any other.
//
// Run: npm run build:ts && node scripts/kafka-offsets/check.mjs [--save-fixture <dir>]
// Prints what it compared; exits non-zero on any difference. --save-fixture
// copies the broker's 50 offsets partitions, as the broker left them, and a
// manifest.json of the offsets --describe showed
// (test/fixtures/kafka-4.4-offsets is made this way).
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { Fjord } from '../../dist/src/index.js';
import { offsetsPartitionFor } from '../../dist/src/groups/offsets-partitioner.js';
import { describeGroup, runTool, startBroker } from '../kafka/kafka.mjs';

const root = resolve(import.meta.dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'kafka-offsets-'));
const TOPICS = { orders: 3, events: 2 };
const GROUPS = ['billing', 'kafka-group', 'kip848'];
const saveFixture = process.argv.indexOf('--save-fixture') > 0 ? resolve(process.argv[process.argv.indexOf('--save-fixture') + 1]) : null;
let failed = false;
/** Brokers still running: stopped however the script ends. */
const brokers = new Set();
async function broker(logDir, options) {
  const started = await startBroker(logDir, options);
  brokers.add(started);
  return {
    ...started,
    async stop() {
      brokers.delete(started);
      await started.stop();
    },
  };
}

function compare(what, actual, expected) {
  const same = JSON.stringify(actual) === JSON.stringify(expected);
  console.log(`${same ? 'same' : 'DIFFERENT'}: ${what}`);
  if (!same) {
    failed = true;
    console.log(`  expected ${JSON.stringify(expected)}\n  actual   ${JSON.stringify(actual)}`);
  }
}

async function createTopics(bootstrap) {
  for (const [topic, partitions] of Object.entries(TOPICS)) {
    await runTool('org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', bootstrap, '--create', '--topic', topic, '--partitions', String(partitions)]);
  }
}

/** 100 records in every partition, with KafkaJS (explicit partitions). */
async function produceKafka(bootstrap) {
  const kafka = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  for (const [topic, partitions] of Object.entries(TOPICS)) {
    for (let p = 0; p < partitions; p++) {
      await producer.send({ topic, messages: Array.from({ length: 100 }, (_, i) => ({ partition: p, value: `${topic}-${p}-${i}` })) });
    }
  }
  await producer.disconnect();
}

try {
  // ---- Kafka → Fjord
  {
    const logDir = join(work, 'kafka-logs');
    const kafka = await broker(logDir);
    console.log(`Kafka → Fjord: broker ${kafka.bootstrap} on ${logDir}`);
    await createTopics(kafka.bootstrap);
    await produceKafka(kafka.bootstrap);
    // The Java consumer (console consumer: auto-commit, commits on close) in two groups.
    for (const [group, include, max, protocol] of [
      ['kafka-group', 'orders|events', 230, 'classic'],
      ['billing', 'events', 70, 'classic'],
      ['kip848', 'orders', 150, 'consumer'],
    ]) {
      await runTool('org.apache.kafka.tools.consumer.ConsoleConsumer', [
        '--bootstrap-server',
        kafka.bootstrap,
        '--include',
        include,
        '--group',
        group,
        '--from-beginning',
        '--max-messages',
        String(max),
        '--consumer-property',
        'max.poll.records=10',
        '--consumer-property',
        `group.protocol=${protocol}`,
      ]);
    }
    const expected = {};
    for (const group of GROUPS) {
      expected[group] = (await describeGroup(kafka.bootstrap, group))
        .filter((r) => r.currentOffset !== null)
        .map((r) => [r.topic, r.partition, r.currentOffset]);
      console.log(`  kafka-consumer-groups --describe ${group}: ${JSON.stringify(expected[group])}`);
    }
    await kafka.stop();
    if (saveFixture !== null) {
      mkdirSync(saveFixture, { recursive: true });
      // Every partition: the number of them is the topic's partition count, which places the groups.
      for (let p = 0; p < 50; p++) cpSync(join(logDir, `__consumer_offsets-${p}`), join(saveFixture, `__consumer_offsets-${p}`), { recursive: true });
      const partitions = GROUPS.map((g) => offsetsPartitionFor(g, 50));
      const manifest = { made: 'node scripts/kafka-offsets/check.mjs --save-fixture <dir>', kafka: '4.4.0', offsetsPartitions: 50, groups: expected };
      writeFileSync(join(saveFixture, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
      console.log(`  saved __consumer_offsets-{0..49} (the groups' in ${partitions.join(', ')}) and manifest.json in ${saveFixture}`);
    }

    const copy = join(work, 'adopted');
    cpSync(logDir, copy, { recursive: true });
    const fjord = new Fjord({ dir: copy });
    const groups = await fjord.groupClient();
    compare(
      'Fjord listGroups',
      (await groups.listGroups()).map((g) => g.groupId),
      GROUPS,
    );
    for (const group of GROUPS) {
      const offsets = (await groups.groupOffsets(group))
        .map((o) => [o.topic, o.partition, o.offset])
        .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
      compare(`Fjord's committed offsets of ${group}`, offsets, expected[group]);
    }
    await fjord.close();
  }

  // ---- Fjord → Kafka
  {
    const dir = join(work, 'fjord');
    const fjord = new Fjord({ dir });
    const admin = fjord.admin();
    await admin.connect();
    await admin.createTopics({ topics: Object.entries(TOPICS).map(([topic, numPartitions]) => ({ topic, numPartitions })) });
    const producer = fjord.producer();
    await producer.connect();
    for (const [topic, partitions] of Object.entries(TOPICS)) {
      for (let p = 0; p < partitions; p++) {
        await producer.send({ topic, messages: Array.from({ length: 100 }, (_, i) => ({ partition: p, value: `${topic}-${p}-${i}` })) });
      }
    }
    const committed = { orders: [17, 42, 100], events: [5, 0] };
    // A second group whose committed offsets move as Fjord's __consumer_offsets segment itself.
    const inSegment = { orders: [3, 4, 5], events: [6, 7] };
    for (const [group, offsetsOf] of [
      ['fjord-group', committed],
      ['fjord-files', inSegment],
    ]) {
      for (const [topic, offsets] of Object.entries(offsetsOf)) {
        await admin.setOffsets({ groupId: group, topic, partitions: offsets.map((offset, partition) => ({ partition, offset: String(offset) })) });
      }
    }
    await producer.disconnect();
    await admin.disconnect();
    await fjord.close();

    const csv = execFileSync('node', [join(root, 'dist/src/cli.js'), 'groups', 'export-offsets', '--dir', dir, '--group', 'fjord-group'], { encoding: 'utf8' });
    const csvFile = join(work, 'fjord-group.csv');
    writeFileSync(csvFile, csv);
    console.log(`Fjord → Kafka: fjord groups export-offsets wrote:\n${csv.replace(/^/gm, '  ')}`);

    const kafka = await broker(join(work, 'kafka-logs-2'), { port: 19192, controllerPort: 19193 });
    await createTopics(kafka.bootstrap);
    await produceKafka(kafka.bootstrap);
    const reset = await runTool('org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', [
      '--bootstrap-server',
      kafka.bootstrap,
      '--reset-offsets',
      '--group',
      'fjord-group',
      '--from-file',
      csvFile,
      '--execute',
    ]);
    console.log(`  kafka-consumer-groups --reset-offsets --from-file --execute:\n${reset.trimEnd().replace(/^/gm, '  ')}`);
    const described = (await describeGroup(kafka.bootstrap, 'fjord-group')).map((r) => [r.topic, r.partition, r.currentOffset]);
    const expected = Object.entries(committed)
      .flatMap(([topic, offsets]) => offsets.map((offset, partition) => [topic, partition, offset]))
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
    compare('kafka-consumer-groups --describe fjord-group after the CSV', described, expected);
    await kafka.stop();

    // Fjord's segment of fjord-files's offsets partition, copied into the stopped broker's (empty) one.
    const partition = `__consumer_offsets-${offsetsPartitionFor('fjord-files', 50)}`;
    const segment = '00000000000000000000.log';
    const kafkaSegment = join(work, 'kafka-logs-2', partition, segment);
    if (statSync(kafkaSegment).size !== 0) throw new Error(`${kafkaSegment} is not empty: pick another group`);
    cpSync(join(dir, partition, segment), kafkaSegment);
    rmSync(join(work, 'kafka-logs-2', '.kafka_cleanshutdown')); // Kafka recovers every segment at start, the copied one too
    const restarted = await broker(join(work, 'kafka-logs-2'), { port: 19192, controllerPort: 19193, clusterId: kafka.clusterId });
    console.log(`  Fjord's ${partition}/${segment} copied into the stopped broker's ${partition}, broker restarted`);
    const fromSegment = (await describeGroup(restarted.bootstrap, 'fjord-files')).map((r) => [r.topic, r.partition, r.currentOffset]);
    const expectedFromSegment = Object.entries(inSegment)
      .flatMap(([topic, offsets]) => offsets.map((offset, p) => [topic, p, offset]))
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
    compare("kafka-consumer-groups --describe fjord-files after Kafka loaded Fjord's segment", fromSegment, expectedFromSegment);
    await restarted.stop();
  }
} finally {
  for (const running of brokers) await running.stop();
}
if (!failed) rmSync(work, { recursive: true, force: true });
console.log(failed ? `FAILED (files kept in ${work})` : 'OK: offsets moved both ways');
process.exitCode = failed ? 1 : 0;
