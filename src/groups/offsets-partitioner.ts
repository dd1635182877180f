// Which partition of `__consumer_offsets` holds a group: Kafka's rule
// (GroupCoordinatorService.partitionFor), so a group sits where a Kafka
// broker with the same number of offsets partitions looks for it.

/** Kafka's default `offsets.topic.num.partitions`. */
export const DEFAULT_OFFSETS_PARTITIONS = 50;

/** Java's `String.hashCode`: 31·h + c over the UTF-16 code units, wrapping at 32 bits. */
export function javaStringHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/** `Utils.abs(groupId.hashCode()) % partitions`; Kafka's `Utils.abs` maps Integer.MIN_VALUE to 0. */
export function offsetsPartitionFor(groupId: string, partitions: number): number {
  const h = javaStringHashCode(groupId);
  return (h === -0x80000000 ? 0 : Math.abs(h)) % partitions;
}
