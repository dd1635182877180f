// Kafka's producer estimate of how much a codec shrinks a topic's records
// (its CompressionRatioEstimator): batch.size counts estimated compressed
// bytes, so a compressed batch holds more records than an uncompressed one.
// Each estimate starts at 1 (no shrinking); each batch written moves it toward
// the ratio observed: at once when the batch shrank less (by at least 0.05),
// by 0.005 when it shrank more.

const IMPROVING_STEP = 0.005;
const DETERIORATE_STEP = 0.05;
/** Kafka's MemoryRecordsBuilder margin on the estimate. */
const ESTIMATION_FACTOR = 1.05;

export class CompressionRatios {
  /** Per topic, the estimate by codec number. */
  readonly #estimates = new Map<string, Float64Array>();

  #of(topic: string): Float64Array {
    let estimates = this.#estimates.get(topic);
    if (estimates === undefined) this.#estimates.set(topic, (estimates = new Float64Array(5).fill(1)));
    return estimates;
  }

  /** How many bytes of records a batch of `codec` for `topic` may hold to come out near `batchSize` bytes. */
  recordBytesFor(topic: string, codec: number, batchSize: number): number {
    return batchSize / (this.#of(topic)[codec]! * ESTIMATION_FACTOR);
  }

  /** Moves the estimate with a batch whose `recordBytes` of records compressed to `compressedBytes`. */
  update(topic: string, codec: number, recordBytes: number, compressedBytes: number): void {
    if (recordBytes <= 0) return;
    const observed = compressedBytes / recordBytes;
    const estimates = this.#of(topic);
    const current = estimates[codec]!;
    if (observed > current) estimates[codec] = Math.max(current + DETERIORATE_STEP, observed);
    else if (observed < current) estimates[codec] = Math.max(current - IMPROVING_STEP, observed);
  }
}
