// Kafka's producer sequence numbers: per partition, the first record's number
// in each batch's header, counting records, wrapping from 2^31-1 to 0 (as
// Kafka's DefaultRecordBatch.incrementSequence; the store checks them the same way).
const INT32_MAX = 0x7fffffff;

/** The sequence number `count` records after `sequence`. */
export function nextSequence(sequence: number, count: number): number {
  return sequence > INT32_MAX - count ? count - (INT32_MAX - sequence) - 1 : sequence + count;
}
