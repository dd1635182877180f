// Runs KafkaCodecs.java (beside this file) against Apache Kafka 4.4 from
// Maven Central: the classpath resolved by Maven from pom.xml (cached in
// ~/.m2), the program compiled once per process with javac.
//
//   node scripts/kafka-codecs/kafka-codecs.mjs write test/fixtures/kafka-codecs
//   node scripts/kafka-codecs/kafka-codecs.mjs read lz4 0 <file>...
//   node scripts/kafka-codecs/kafka-codecs.mjs dump <segment.log>   (DumpLogSegments --deep-iteration)
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
let classpath;
let classes;

/** The jars of Kafka 4.4 (clients, broker, tools), resolved once per process. */
export function kafkaClasspath() {
  if (classpath !== undefined) return classpath;
  const out = join(mkdtempSync(join(tmpdir(), 'kafka-codecs-cp-')), 'classpath.txt');
  execFileSync('mvn', ['-q', '-f', join(here, 'pom.xml'), 'dependency:build-classpath', `-Dmdep.outputFile=${out}`], { stdio: 'inherit' });
  classpath = readFileSync(out, 'utf8').trim();
  return classpath;
}

function compiled() {
  if (classes !== undefined) return classes;
  const dir = mkdtempSync(join(tmpdir(), 'kafka-codecs-classes-'));
  execFileSync('javac', ['-d', dir, '-cp', kafkaClasspath(), join(here, 'KafkaCodecs.java')], { stdio: 'inherit' });
  classes = dir;
  return classes;
}

function java(mainClass, args, extraClasspath) {
  const cp = extraClasspath === undefined ? kafkaClasspath() : `${extraClasspath}:${kafkaClasspath()}`;
  return new Promise((resolve, reject) => {
    const child = spawn('java', ['-Xmx256m', '-cp', cp, mainClass, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${mainClass} ${args.join(' ')} exited ${code}:\n${stderr}\n${stdout}`))));
  });
}

/** KafkaCodecs.java with `args`; resolves with its stdout, rejects with its stderr on a non-zero exit. */
export function kafkaCodecs(args) {
  return java('KafkaCodecs', args, compiled());
}

/** DumpLogSegments --deep-iteration --print-data-log over `files`; resolves with its stdout. */
export function dumpLogSegments(files) {
  return java('org.apache.kafka.tools.DumpLogSegments', ['--deep-iteration', '--print-data-log', '--files', files.join(',')]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [command, ...rest] = process.argv.slice(2);
  const run = command === 'dump' ? dumpLogSegments(rest) : kafkaCodecs([command, ...rest]);
  run.then(
    (out) => process.stdout.write(out),
    (error) => {
      process.stderr.write(`${error.message}\n`);
      process.exitCode = 1;
    },
  );
}
