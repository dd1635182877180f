// A group's committed offsets in the CSV that Kafka's
// `kafka-consumer-groups.sh --reset-offsets --from-file <file> --execute`
// reads: one `topic,partition,offset` line per partition, no header. The way
// a group moves from Fjord to a Kafka broker (docs/operations.md).

export interface CsvOffset {
  topic: string;
  partition: number;
  offset: number;
}

/** The lines, sorted by topic then partition, each ending in a newline; "" for a group without offsets. */
export function formatOffsetsCsv(offsets: readonly CsvOffset[]): string {
  const sorted = [...offsets].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
  return sorted.map(({ topic, partition, offset }) => `${topic},${partition},${offset}\n`).join('');
}
