// The message a producer takes, shared by the producer and the record runs
// it measures (in a file of its own so that neither imports the other).
/** A record to send, as KafkaJS's producer takes it. */
export interface Message {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  partition?: number;
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
  timestamp?: string | number;
}
