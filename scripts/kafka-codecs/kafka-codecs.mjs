// Runs KafkaCodecs.java (beside this file) against Apache Kafka 4.4 from
// Maven Central (scripts/kafka/kafka.mjs), the program compiled once per
// process with javac.
//
//   node scripts/kafka-codecs/kafka-codecs.mjs write test/fixtures/kafka-codecs
//   node scripts/kafka-codecs/kafka-codecs.mjs read lz4 0 <file>...
//   node scripts/kafka-codecs/kafka-codecs.mjs dump <segment.log>   (DumpLogSegments --deep-iteration)
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileJava, dumpLogSegments, runTool } from '../kafka/kafka.mjs';

export { dumpLogSegments };

const here = dirname(fileURLToPath(import.meta.url));
let classes;

function compiled() {
  if (classes === undefined) classes = compileJava(join(here, 'KafkaCodecs.java'));
  return classes;
}

/** KafkaCodecs.java with `args`; resolves with its stdout, rejects with its stderr on a non-zero exit. */
export function kafkaCodecs(args) {
  return runTool('KafkaCodecs', args, { extraClasspath: compiled() });
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
