// Apache Kafka 4.4 from Maven Central, for every script and test that runs
// Kafka's own code: the classpath (resolved by Maven from pom.xml beside this
// file, jars cached in ~/.m2, the classpath itself cached per user and pom in
// the temp dir), its tools, and a single-node KRaft broker. Needs Java 17+ and
// Maven.
//
//   node scripts/kafka/kafka.mjs classpath     prints the classpath (make-fixture.sh uses it)
import { createHash } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const POM = join(here, 'pom.xml');
let classpath;

/** Where the resolved classpath is kept: one file per machine user and pom content (a changed pom resolves again). */
function classpathFile() {
  const pom = createHash('sha256').update(readFileSync(POM)).digest('hex').slice(0, 12);
  return join(tmpdir(), `fjord-kafka-classpath-${process.getuid?.() ?? 0}-${pom}.txt`);
}

/** The jars of Kafka 4.4 (broker, clients, tools) joined with ':', resolved by Maven once. */
export function kafkaClasspath() {
  if (classpath !== undefined) return classpath;
  for (const tool of ['java', 'mvn']) {
    try {
      execFileSync(tool, ['-version'], { stdio: 'ignore' });
    } catch {
      throw new Error(`Kafka's checks need ${tool} on the PATH (Java 17+ and Maven: apt-get install openjdk-17-jdk-headless maven)`);
    }
  }
  const file = classpathFile();
  if (existsSync(file)) {
    const cached = readFileSync(file, 'utf8').trim();
    if (cached.split(':').every((jar) => existsSync(jar))) return (classpath = cached);
  }
  execFileSync('mvn', ['-q', '-B', '-Dstyle.color=never', '-f', POM, 'dependency:build-classpath', `-Dmdep.outputFile=${file}`], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  classpath = readFileSync(file, 'utf8').trim();
  return classpath;
}

/**
 * Runs `java -cp <Kafka's jars> mainClass args`; resolves with { stdout,
 * stderr } (Kafka's tools report some problems on stderr and still exit 0),
 * rejects with both on a non-zero exit.
 * Options: input (stdin), extraClasspath (prepended), heap (default 256m).
 */
export function runToolOutput(mainClass, args, { input, extraClasspath, heap = '256m' } = {}) {
  const cp = extraClasspath === undefined ? kafkaClasspath() : `${extraClasspath}:${kafkaClasspath()}`;
  return new Promise((resolve, reject) => {
    const child = spawn('java', [`-Xmx${heap}`, '-cp', cp, mainClass, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve({ stdout, stderr }) : reject(new Error(`${mainClass} ${args.join(' ')} exited ${code}:\n${stderr}\n${stdout.slice(-20000)}`)),
    );
    child.stdin.end(input ?? '');
  });
}

/** runToolOutput's stdout. */
export async function runTool(mainClass, args, options) {
  return (await runToolOutput(mainClass, args, options)).stdout;
}

/** Compiles a Java source against Kafka's jars into a fresh temp dir; returns that dir (a classpath entry). */
export function compileJava(source) {
  const dir = join(tmpdir(), `fjord-kafka-classes-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  execFileSync('javac', ['-d', dir, '-cp', kafkaClasspath(), source], { stdio: 'inherit' });
  return dir;
}

/** DumpLogSegments (kafka-tools) with `options` over `files`; resolves with its stdout. */
export async function dumpLogSegments(files, options = ['--deep-iteration', '--print-data-log']) {
  return (await dumpLogSegmentsOutput(files, options)).stdout;
}

/**
 * DumpLogSegments with `options` over `files`: { stdout, stderr }. It prints
 * index mismatches, time index errors and non-consecutive offsets on stderr
 * and exits 0; a failed --index-sanity-check throws (a non-zero exit).
 */
export function dumpLogSegmentsOutput(files, options) {
  return runToolOutput('org.apache.kafka.tools.DumpLogSegments', [...options, '--files', files.join(',')], { heap: '1g' });
}

function portOpen(port) {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/**
 * Starts a single-node KRaft broker (node 1, 1 GiB heap) on `logDir`
 * (formatted first if new; its server.properties is written beside it,
 * `<logDir>.properties`), Kafka's default 50 offsets partitions. Resolves once
 * it accepts connections: { bootstrap, clusterId, output(), stop() } where
 * output() is what it logged (warnings, errors, and the log layer's INFO
 * lines: each partition's load) and stop() is a clean shutdown (SIGTERM).
 */
export async function startBroker(logDir, { port = 19092, controllerPort = 19093, clusterId, properties = [] } = {}) {
  mkdirSync(logDir, { recursive: true });
  const config = `${logDir}.properties`;
  writeFileSync(
    config,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
      `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      `log.dirs=${logDir}`,
      'offsets.topic.replication.factor=1',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'group.initial.rebalance.delay.ms=0',
      ...properties,
      '',
    ].join('\n'),
  );
  // Warnings and errors, and what the log layer says as it loads each partition (recovery, rebuilt indexes), on stdout.
  const log4j = `${logDir}.log4j2.properties`;
  writeFileSync(
    log4j,
    [
      'appender.out.type = Console',
      'appender.out.name = out',
      'appender.out.layout.type = PatternLayout',
      'appender.out.layout.pattern = %p %c - %m%n',
      'rootLogger.level = warn',
      'rootLogger.appenderRef.out.ref = out',
      'logger.storage.name = org.apache.kafka.storage.internals.log',
      'logger.storage.level = info',
      '',
    ].join('\n'),
  );
  const id = clusterId ?? (await runTool('kafka.tools.StorageTool', ['random-uuid'])).trim();
  await runTool('kafka.tools.StorageTool', ['format', '--ignore-formatted', '-t', id, '-c', config]);
  const broker = spawn('java', ['-Xmx1g', `-Dlog4j2.configurationFile=${log4j}`, '-cp', kafkaClasspath(), 'kafka.Kafka', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  broker.stdout.on('data', (d) => (output += d));
  broker.stderr.on('data', (d) => (output += d));
  const exited = new Promise((resolve) => broker.on('exit', resolve));
  for (let i = 0; !(await portOpen(port)); i++) {
    if (broker.exitCode !== null || i > 600) throw new Error(`the broker did not start:\n${output.slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    bootstrap: `127.0.0.1:${port}`,
    clusterId: id,
    output: () => output,
    async stop() {
      if (broker.exitCode === null) broker.kill('SIGTERM');
      await exited;
    },
  };
}

/** `kafka-consumer-groups.sh --describe --group G`: rows { topic, partition, currentOffset, logEndOffset }. */
export async function describeGroup(bootstrap, group) {
  const out = await runTool('org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', ['--bootstrap-server', bootstrap, '--describe', '--group', group]);
  const rows = [];
  for (const line of out.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols[0] !== group || cols.length < 6) continue;
    rows.push({ topic: cols[1], partition: Number(cols[2]), currentOffset: cols[3] === '-' ? null : Number(cols[3]), logEndOffset: Number(cols[4]) });
  }
  return rows.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'classpath') process.stdout.write(`${kafkaClasspath()}\n`);
