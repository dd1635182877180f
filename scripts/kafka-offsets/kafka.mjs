// Apache Kafka 4.4 from Maven Central, run from Node: the classpath (resolved
// by Maven from pom.xml beside this file, cached in ~/.m2), the Java tools, and
// a single-node KRaft broker on a log directory.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
let classpath;

/** The classpath, cached per machine user (the tests' test/kafka-tools.ts shares the file). */
const CLASSPATH_FILE = join(tmpdir(), `fjord-kafka-4.4-classpath-${process.getuid?.() ?? 0}.txt`);

/** The jars of Kafka 4.4 (broker, clients, tools), resolved by Maven once. */
export function kafkaClasspath() {
  if (classpath !== undefined) return classpath;
  if (existsSync(CLASSPATH_FILE)) {
    const cached = readFileSync(CLASSPATH_FILE, 'utf8').trim();
    if (cached.split(':').every((jar) => existsSync(jar))) return (classpath = cached);
  }
  execFileSync('mvn', ['-q', '-f', join(here, 'pom.xml'), 'dependency:build-classpath', `-Dmdep.outputFile=${CLASSPATH_FILE}`], { stdio: 'inherit' });
  classpath = readFileSync(CLASSPATH_FILE, 'utf8').trim();
  return classpath;
}

/** Runs a Kafka tool's main class; resolves with its stdout (throws with stderr on a non-zero exit). */
export function runTool(mainClass, args, { input } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn('java', ['-Xmx256m', '-cp', kafkaClasspath(), mainClass, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${mainClass} ${args.join(' ')} exited ${code}:\n${stderr}\n${stdout}`))));
    child.stdin.end(input ?? '');
  });
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
 * Starts a single-node KRaft broker (node 1) on `logDir` (formatted first if
 * new; its server.properties is written beside it, `<logDir>.properties`),
 * Kafka's default 50 offsets partitions. Resolves once it accepts
 * connections: { bootstrap, stop() } where stop() is a clean shutdown.
 */
export async function startBroker(logDir, { port = 19092, controllerPort = 19093, clusterId } = {}) {
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
      '',
    ].join('\n'),
  );
  const id = clusterId ?? (await runTool('kafka.tools.StorageTool', ['random-uuid'])).trim();
  await runTool('kafka.tools.StorageTool', ['format', '--ignore-formatted', '-t', id, '-c', config]);
  const broker = spawn('java', ['-Xmx512m', '-cp', kafkaClasspath(), 'kafka.Kafka', config], { stdio: ['ignore', 'pipe', 'pipe'] });
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
    async stop() {
      broker.kill('SIGTERM');
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
