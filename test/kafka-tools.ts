// Apache Kafka 4.4's own tools and broker, run from a test: everything comes
// from scripts/kafka/kafka.mjs (the one pom and cached classpath of the
// project). Needs Java 17+ and Maven; without them the test fails saying so.
export {
  compileJava,
  describeGroup,
  dumpLogSegments,
  dumpLogSegmentsOutput,
  kafkaClasspath,
  runTool,
  runToolOutput,
  startBroker,
} from '../scripts/kafka/kafka.mjs';
export type { Broker } from '../scripts/kafka/kafka.mjs';
import { runTool } from '../scripts/kafka/kafka.mjs';

/** Runs a Kafka tool; resolves with its stdout, rejects with its stderr on a non-zero exit. */
export function runKafkaTool(mainClass: string, args: string[]): Promise<string> {
  return runTool(mainClass, args);
}
