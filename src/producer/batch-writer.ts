// Encodes queued records as RecordBatch v2 batches, back to back, into one
// pooled buffer: the framing of a gather append (Log.appendGathered). Buffer
// values of GATHER_MIN_BYTES or more are not copied in: they are passed
// beside the framing with the position they go at, and the store writes
// them from where they are, so a large value is copied once, into the page
// cache. The store also stamps each batch's CRC and its base offset.
import { headerSize, recordBodySize, writeBatchHeader, writeBytes } from '../record-batch/encode.js';
import * as layout from '../record-batch/layout.js';
import { putVarint, sizeOfVarint, VARINT_MAX_BYTES, writeVarint, writeVarlong } from '../record-batch/varint.js';
import type { RecordRun } from './record-run.js';

// Module constants, not imported bindings: V8 folds these into optimized code (layout.ts).
const { HEADER_SIZE, NO_PRODUCER, RECORD_PREFIX_MAX } = layout;

/**
 * Values this large are spliced in by the store rather than copied here: a
 * copy costs more than passing one more Buffer across N-API from about here.
 */
export const GATHER_MIN_BYTES = 2048;

/** Room to reserve for a record besides its body size (a generous bound of its length varint). */
const RECORD_FRAMING_MAX = RECORD_PREFIX_MAX + 2 * VARINT_MAX_BYTES;

export class BatchWriter {
  #buf: Buffer;
  #pos = 0;
  /** Values left out of the framing, in order, and the framing position each goes at. */
  readonly values: Buffer[] = [];
  #cuts = new Uint32Array(256);
  /** Bytes of values left out, in all batches written and in the open batch. */
  #valueBytes = 0;
  /** Records in the finished batches. */
  records = 0;

  // The open batch.
  #start = -1;
  #count = 0;
  #baseTimestamp = 0;
  #maxTimestamp = -1;
  #batchValueBytes = 0;

  constructor(initialBytes = 1 << 20) {
    this.#buf = Buffer.allocUnsafeSlow(initialBytes);
  }

  /** Bytes of the batches written so far, values left out included. */
  get bytes(): number {
    return this.#pos + this.#valueBytes;
  }

  get isEmpty(): boolean {
    return this.#pos === 0;
  }

  /** The framing of the finished batches (a view of the pool, valid until `reset`). */
  get framing(): Buffer {
    return this.#buf.subarray(0, this.#pos);
  }

  /** Where each of `values` goes in the framing. */
  get cuts(): Uint32Array {
    return this.#cuts.subarray(0, this.values.length);
  }

  reset(): void {
    this.#pos = 0;
    this.values.length = 0;
    this.#valueBytes = 0;
    this.records = 0;
    this.#start = -1;
  }

  beginBatch(): void {
    this.#ensure(HEADER_SIZE);
    this.#start = this.#pos;
    this.#pos += HEADER_SIZE;
    this.#count = 0;
    this.#maxTimestamp = -1;
    this.#batchValueBytes = 0;
  }

  /** Adds record `i` of `run` to the open batch. */
  addRecord(run: RecordRun, i: number): void {
    const timestamp = run.timestampOf(i);
    if (this.#count === 0) this.#baseTimestamp = timestamp;
    if (timestamp > this.#maxTimestamp) this.#maxTimestamp = timestamp;
    const delta = timestamp - this.#baseTimestamp;
    const offsetDelta = this.#count++;
    const keyLength = run.lengths[2 * i]!;
    const valueLength = run.lengths[2 * i + 1]!;
    const value = run.values[i]!;
    const headers = run.headers === null ? null : run.headers[i]!;
    let headersSize = 1;
    if (headers !== null) {
      headersSize = sizeOfVarint(headers.names.length);
      for (let h = 0, n = headers.names.length; h < n; h++) headersSize += headerSize(headers.lengths[2 * h]!, headers.lengths[2 * h + 1]!);
    }
    const gather = valueLength >= GATHER_MIN_BYTES && typeof value !== 'string';
    const bodySize = recordBodySize(delta, offsetDelta, keyLength, valueLength, headersSize);
    this.#ensure(RECORD_FRAMING_MAX + bodySize - (gather ? valueLength : 0));

    const buf = this.#buf;
    let pos = putVarint(buf, bodySize, this.#pos);
    buf[pos++] = 0; // record attributes, unused
    if (delta === 0) buf[pos++] = 0;
    else pos = writeVarlong(buf, delta, pos);
    pos = putVarint(buf, offsetDelta, pos);
    pos = writeBytes(buf, pos, run.keyOf(i), keyLength);
    if (gather) {
      pos = putVarint(buf, valueLength, pos);
      this.#cut(value as Buffer, pos);
      this.#batchValueBytes += valueLength;
    } else pos = writeBytes(buf, pos, value, valueLength);
    if (headers === null) buf[pos++] = 0;
    else {
      pos = writeVarint(buf, headers.names.length, pos);
      for (let h = 0, n = headers.names.length; h < n; h++) {
        pos = writeBytes(buf, pos, headers.names[h]!, headers.lengths[2 * h]!);
        pos = writeBytes(buf, pos, headers.values[h]!, headers.lengths[2 * h + 1]!);
      }
    }
    this.#pos = pos;
  }

  /**
   * Closes the open batch: its header, all but the CRC and base offset the
   * store stamps. An idempotent producer gives its id, epoch and the batch's
   * first sequence number; otherwise the batch has no producer (-1).
   */
  endBatch(producerId = NO_PRODUCER, producerEpoch = NO_PRODUCER, baseSequence = NO_PRODUCER): void {
    const buf = this.#buf;
    const start = this.#start;
    const size = this.#pos - start + this.#batchValueBytes;
    // Base offset 0, leader epoch 0, attributes 0 (no compression, CreateTime).
    writeBatchHeader(buf, start, size, 0, 0, 0, this.#count, this.#baseTimestamp, this.#maxTimestamp, producerId, producerEpoch, baseSequence);
    this.#valueBytes += this.#batchValueBytes;
    this.records += this.#count;
    this.#start = -1;
  }

  /** Copies in a whole encoded batch of `records` records (a compressed one). */
  addEncoded(batch: Buffer, records: number): void {
    this.#ensure(batch.length);
    this.#buf.set(batch, this.#pos);
    this.#pos += batch.length;
    this.records += records;
  }

  #cut(value: Buffer, at: number): void {
    const n = this.values.length;
    if (n === this.#cuts.length) {
      const bigger = new Uint32Array(2 * n);
      bigger.set(this.#cuts);
      this.#cuts = bigger;
    }
    this.#cuts[n] = at;
    this.values.push(value);
  }

  #ensure(bytes: number): void {
    const needed = this.#pos + bytes;
    if (needed <= this.#buf.length) return;
    const bigger = Buffer.allocUnsafeSlow(Math.max(needed, 2 * this.#buf.length));
    this.#buf.copy(bigger, 0, 0, this.#pos);
    this.#buf = bigger;
  }
}
