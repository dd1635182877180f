// The records of one send bound for one partition, validated and measured
// once, when sent: their fields as sent (a message changed later does not
// change what is written), their byte lengths for the batch writer, and an
// upper bound of each record's bytes in a batch for batch.size.
import { describeValue } from '../arguments.js';
import { InvalidArgumentError } from '../errors.js';
import { flattenHeaders, type HeaderValue } from '../record-batch/headers.js';
import { RECORD_PREFIX_MAX } from '../record-batch/layout.js';
import { recordTimestamp } from '../record-batch/timestamp.js';
import { VARINT_MAX_BYTES } from '../record-batch/varint.js';
import type { PendingSend } from './pending-send.js';
import type { Message } from './producer-types.js';

type Data = HeaderValue;

/** A record's headers, flattened when sent, one entry per header written (an array value gives several). */
export interface HeaderFields {
  names: string[];
  values: Data[];
  /** Name and value bytes per header: lengths[2h], lengths[2h + 1] (-1 for a null value). */
  lengths: number[];
}

// An upper bound of a record's bytes besides its key, value and headers:
// length, attributes, timestamp delta and offset delta, and the key and
// value lengths.
const RECORD_OVERHEAD = RECORD_PREFIX_MAX + 2 * VARINT_MAX_BYTES;
// Module-local: V8 folds it into the per-record code, not an imported binding (layout.ts).
const VARINT_MAX = VARINT_MAX_BYTES;

export class RecordRun {
  /** Keys per record; null while every key is null. */
  keys: Data[] | null = null;
  readonly values: Data[];
  /** Key and value bytes per record, -1 for null: lengths[2i], lengths[2i + 1]. */
  readonly lengths: Float64Array;
  /** Upper bound of each record's bytes in a batch. */
  readonly bounds: Float64Array;
  /** Per record, once a record of the run has its own timestamp; the others have `timestamp`. */
  timestamps: number[] | null = null;
  /** Per record, once a record of the run has headers. */
  headers: (HeaderFields | null)[] | null = null;
  /** Records in the run. */
  count = 0;
  /** Sum of `bounds`: the bytes the run takes of the producer's bufferMemory. */
  bytes = 0;
  /** Records whose send has been told their outcome (appended or failed). */
  settled = 0;

  constructor(
    readonly send: PendingSend,
    /** The time of the send: the timestamp of records without one. */
    readonly timestamp: number,
    /** The codec of the batches the run's records go into (a batch's attribute bits; 0 for none): the send's, or its topic's compression.type. */
    public codec: number,
    readonly capacity: number,
  ) {
    this.values = new Array<Data>(capacity);
    this.lengths = new Float64Array(2 * capacity);
    this.bounds = new Float64Array(capacity);
  }

  timestampOf(i: number): number {
    return this.timestamps === null ? this.timestamp : this.timestamps[i]!;
  }

  keyOf(i: number): Data {
    return this.keys === null ? null : this.keys[i]!;
  }

  /**
   * Validates `messages` (of `topic`, for errors) and measures them into a
   * new run; throws InvalidArgumentError at the first bad one.
   */
  static measure(messages: readonly Message[], topic: string, send: PendingSend, now: number, codec: number): RecordRun {
    const run = new RecordRun(send, now, codec, messages.length);
    for (let i = 0; i < messages.length; i++) run.#add(messages[i]!, topic, i);
    return run;
  }

  #add(message: Message, topic: string, index: number): void {
    if (message === null || typeof message !== 'object') throw new InvalidArgumentError(`${where(topic, index)} must be an object with a value`);
    const partition = message.partition;
    if (partition !== undefined && partition !== null && !Number.isInteger(partition)) {
      throw new InvalidArgumentError(`${where(topic, index)}.partition must be an integer partition number, got ${describeValue(partition)}`);
    }
    const i = this.count++;
    const value = message.value;
    const valueLength = Buffer.isBuffer(value) ? value.length : dataLength(value, topic, index, 'value');
    const key = message.key;
    let keyLength = -1;
    if (key !== null && key !== undefined) {
      keyLength = Buffer.isBuffer(key) ? key.length : dataLength(key, topic, index, 'key');
      this.keys ??= new Array<Data>(this.capacity).fill(null);
      this.keys[i] = key;
    }
    let bound = RECORD_OVERHEAD + Math.max(keyLength, 0) + Math.max(valueLength, 0);
    const timestamp = message.timestamp;
    if (timestamp !== undefined && timestamp !== null) {
      this.timestamps ??= new Array<number>(this.capacity).fill(this.timestamp);
      this.timestamps[i] = timestampOf(timestamp, this.timestamp, topic, index);
    }
    if (message.headers !== undefined) {
      const headers = headerFields(message.headers, topic, index);
      for (let h = 0; h < headers.names.length; h++) bound += 2 * VARINT_MAX + headers.lengths[2 * h]! + Math.max(headers.lengths[2 * h + 1]!, 0);
      bound += VARINT_MAX;
      this.headers ??= new Array<HeaderFields | null>(this.capacity).fill(null);
      this.headers[i] = headers;
    }
    this.values[i] = value;
    this.lengths[2 * i] = keyLength;
    this.lengths[2 * i + 1] = valueLength;
    this.bounds[i] = bound;
    this.bytes += bound;
  }

  /** Splits the run into consecutive runs of at most `maxBytes` each (every record's bound is at most that). */
  split(maxBytes: number): RecordRun[] {
    if (this.bytes <= maxBytes) return [this];
    const pieces: RecordRun[] = [];
    let indexes: number[] = [];
    let bytes = 0;
    for (let i = 0; i < this.count; i++) {
      if (indexes.length > 0 && bytes + this.bounds[i]! > maxBytes) {
        pieces.push(this.pick(indexes));
        indexes = [];
        bytes = 0;
      }
      indexes.push(i);
      bytes += this.bounds[i]!;
    }
    pieces.push(this.pick(indexes));
    return pieces;
  }

  /** A run of this run's records at `indexes`, in that order. */
  pick(indexes: readonly number[]): RecordRun {
    const run = new RecordRun(this.send, this.timestamp, this.codec, indexes.length);
    if (this.keys !== null) run.keys = new Array<Data>(indexes.length);
    if (this.timestamps !== null) run.timestamps = new Array<number>(indexes.length);
    if (this.headers !== null) run.headers = new Array<HeaderFields | null>(indexes.length);
    for (let k = 0; k < indexes.length; k++) {
      const i = indexes[k]!;
      if (run.keys !== null) run.keys[k] = this.keys![i]!;
      run.values[k] = this.values[i]!;
      run.lengths[2 * k] = this.lengths[2 * i]!;
      run.lengths[2 * k + 1] = this.lengths[2 * i + 1]!;
      run.bounds[k] = this.bounds[i]!;
      run.bytes += this.bounds[i]!;
      if (run.timestamps !== null) run.timestamps[k] = this.timestamps![i]!;
      if (run.headers !== null) run.headers[k] = this.headers![i]!;
    }
    run.count = indexes.length;
    return run;
  }
}

function where(topic: string, index: number): string {
  return `${topic} messages[${index}]`;
}

function dataLength(data: unknown, topic: string, index: number, field: 'key' | 'value'): number {
  if (data === null) return -1;
  if (typeof data === 'string') return Buffer.byteLength(data, 'utf8');
  if (data === undefined && field === 'value') throw new InvalidArgumentError(`${where(topic, index)}.value is missing (use null for a tombstone)`);
  throw new InvalidArgumentError(`${where(topic, index)}.${field} must be a Buffer, a string or null, got ${describeData(data)}`);
}

function describeData(data: unknown): string {
  return typeof data === 'object' ? Object.prototype.toString.call(data) : typeof data;
}

/** A message's own timestamp, by the rule encodeBatch applies (record-batch/timestamp.ts). */
function timestampOf(timestamp: unknown, now: number, topic: string, index: number): number {
  const ms = recordTimestamp(timestamp, now);
  if (!Number.isNaN(ms)) return ms;
  throw new InvalidArgumentError(
    `${where(topic, index)}.timestamp must be an integer number of ms since the epoch (or a decimal string of one), got ${typeof timestamp === 'string' ? JSON.stringify(timestamp) : String(timestamp)}`,
  );
}

/** Flattens a message's headers: an undefined value (or array element) writes nothing, null a null value. */
function headerFields(headers: unknown, topic: string, index: number): HeaderFields {
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) {
    throw new InvalidArgumentError(`${where(topic, index)}.headers must be an object`);
  }
  const fields: HeaderFields = { names: [], values: [], lengths: [] };
  const { names, values } = fields;
  flattenHeaders(headers, names, values);
  // Checked and measured in place; an undefined array element is dropped (encodeBatch refuses one).
  let kept = 0;
  let name = '';
  let nameLength = 0;
  for (let h = 0; h < names.length; h++) {
    const one: unknown = values[h];
    if (one === undefined) continue;
    if (names[h] !== name) {
      name = names[h]!;
      nameLength = Buffer.byteLength(name, 'utf8');
    }
    let length: number;
    if (Buffer.isBuffer(one)) length = one.length;
    else if (typeof one === 'string') length = Buffer.byteLength(one, 'utf8');
    else if (one === null) length = -1;
    else throw new InvalidArgumentError(`${where(topic, index)}.headers[${JSON.stringify(name)}] must be a Buffer, a string or null, got ${describeData(one)}`);
    if (kept !== h) {
      names[kept] = name;
      values[kept] = one;
    }
    kept++;
    fields.lengths.push(nameLength, length);
  }
  if (kept !== names.length) {
    names.length = kept;
    values.length = kept;
  }
  return fields;
}
