// Apache Kafka 4.4's own tools, run from a test: the jars resolved by Maven
// from scripts/kafka-offsets/pom.xml (Maven Central, cached in ~/.m2), then
// `java -cp <jars> <main class> <args>`. Needs Java 17+ and Maven.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** Resolved once per machine user and reused: Maven's resolution takes a second or more. */
const CLASSPATH_FILE = join(tmpdir(), `fjord-kafka-4.4-classpath-${process.getuid?.() ?? 0}.txt`);

function classpath(): string {
  if (existsSync(CLASSPATH_FILE)) {
    const cached = readFileSync(CLASSPATH_FILE, 'utf8').trim();
    if (cached.split(':').every((jar) => existsSync(jar))) return cached;
  }
  execFileSync('mvn', ['-q', '-f', resolve('scripts/kafka-offsets/pom.xml'), 'dependency:build-classpath', `-Dmdep.outputFile=${CLASSPATH_FILE}`], {
    stdio: 'ignore',
  });
  return readFileSync(CLASSPATH_FILE, 'utf8').trim();
}

/** Runs a Kafka tool; resolves with its stdout, rejects with its stderr on a non-zero exit. */
export function runKafkaTool(mainClass: string, args: string[]): Promise<string> {
  const cp = classpath();
  return new Promise((resolvePromise, reject) => {
    execFile('java', ['-Xmx256m', '-cp', cp, mainClass, ...args], { maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`${mainClass} failed: ${error.message}\n${stderr}`));
      else resolvePromise(stdout);
    });
  });
}
