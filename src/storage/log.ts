// The partition log: a typed TypeScript face on the native segment store.
// Arguments are checked here, before they cross into Rust.
import { mkdirSync, realpathSync } from 'node:fs';
import { mkdir, realpath } from 'node:fs/promises';
import { basename, resolve } from 'node:path';

import { describeValue } from '../arguments.js';
import { CorruptRecordError, fromNative, InvalidArgumentError, InvalidConfigError, LogClosedError, OffsetOutOfRangeError } from '../errors.js';
import { BufferView } from './buffer-view.js';
import { storeConfigLimit } from './config-limits.js';
import { native } from './native.js';
import { checkBatchContents } from '../record-batch/append-checks.js';
import type { NativeLog } from '../../native/binding.js';

export interface LogOptions {
  /** Roll to a new segment past this many bytes (Kafka `segment.bytes`, default 1 GiB). */
  segmentBytes?: number;
  /** Roll a segment this old, in message time (Kafka `segment.ms`, default 7 days). */
  segmentMs?: number;
  /** Preallocated size of each index file (Kafka `segment.index.bytes`, default 10 MiB). */
  segmentIndexBytes?: number;
  /** Bytes between sparse index entries (Kafka `index.interval.bytes`, default 4096). */
  indexIntervalBytes?: number;
  /** Largest batch accepted (Kafka `max.message.bytes`, default 1048588). */
  maxMessageBytes?: number;
  /** `CreateTime` keeps producer timestamps; `LogAppendTime` stamps the append time. */
  messageTimestampType?: 'CreateTime' | 'LogAppendTime';
}

export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
  /**
   * Byte position of the first appended batch in its segment file; -1 when the
   * batches were an idempotent producer's retry of batches the log already
   * holds: nothing was written, and the offsets are those of the stored batch
   * (Kafka's DuplicateSequence handling).
   */
  position: number;
  /** The time stamped under LogAppendTime, else -1. */
  logAppendTime: number;
}

export interface GatheredAppendResult extends AppendResult {
  /** The log start offset right after the append (Kafka's produce response carries it). */
  logStartOffset: number;
}

export interface LogSlice {
  /**
   * Whole RecordBatch v2 batches: this read's own memory, exactly the bytes
   * read (a private copy-on-write mapping of the file from 64 KiB, a copy
   * below). Writing into it changes nothing any other reader sees.
   */
  bytes: Buffer;
  /** One past the last offset in `bytes`: where the next read starts. */
  nextOffset: number;
}

export interface SegmentInfo {
  baseOffset: number;
  /** One past the last offset the segment holds. */
  nextOffset: number;
  size: number;
  /** Largest batch timestamp in the segment; -1 when empty. */
  maxTimestamp: number;
}

export interface RecoveryReport {
  cleanShutdown: boolean;
  segmentsRecovered: number;
  /** Bytes cut after the last valid batch (up to the next hole of a sparse file). */
  bytesTruncated: number;
  /** Of `bytesTruncated`, those of a torn or corrupt batch; 0 when only zeros were cut. */
  tornBytesTruncated: number;
  segmentsDeleted: number;
  notes: string[];
}

export type Offset = number | bigint | string;

/** Bounds of the numeric option standing for Kafka config `name`, from the store's table. */
function limitsOf(name: string): [number, number] {
  const { min, max } = storeConfigLimit(name);
  return [min, max];
}

const optionLimits: Record<keyof LogOptions, [number, number] | null> = {
  segmentBytes: limitsOf('segment.bytes'),
  segmentMs: limitsOf('segment.ms'),
  segmentIndexBytes: limitsOf('segment.index.bytes'),
  indexIntervalBytes: limitsOf('index.interval.bytes'),
  maxMessageBytes: limitsOf('max.message.bytes'),
  messageTimestampType: null,
};

function checkOptions(options: unknown): LogOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') {
    throw new InvalidConfigError(`log options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  for (const [key, value] of Object.entries(options)) {
    if (!(key in optionLimits)) {
      throw new InvalidConfigError(`unknown log option '${key}'; known options: ${Object.keys(optionLimits).join(', ')}`);
    }
    if (value === undefined) continue;
    const limits = optionLimits[key as keyof LogOptions];
    if (limits === null) {
      if (value !== 'CreateTime' && value !== 'LogAppendTime') {
        throw new InvalidConfigError(`messageTimestampType must be 'CreateTime' or 'LogAppendTime', got ${describeValue(value)}`);
      }
    } else if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < limits[0] || value > limits[1]) {
      throw new InvalidConfigError(`${key} must be an integer in [${limits[0]}, ${limits[1]}], got ${describeValue(value)}`);
    }
  }
  return options as LogOptions;
}

/** Accepts offsets as numbers, bigints or decimal strings (KafkaJS's shape). */
export function toOffset(offset: Offset, what = 'offset'): number {
  let n: number;
  if (typeof offset === 'number') n = offset;
  else if (typeof offset === 'bigint') n = Number(offset);
  else if (typeof offset === 'string' && /^-?\d+$/.test(offset.trim())) n = Number(offset.trim());
  else throw new InvalidArgumentError(`${what} must be an integer (number, bigint or decimal string), got ${describeValue(offset)}`);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`${what} must be a safe integer, got ${describeValue(offset)}`);
  return n;
}

function call<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw fromNative(error);
  }
}

/** One native handle per directory per JavaScript environment, shared by the `Log`s opened on it. */
class OpenLog {
  refs = 1;
  constructor(
    readonly dir: string,
    readonly handle: NativeLog,
  ) {}
}

const openLogs = new Map<string, OpenLog | Promise<OpenLog>>();
const scratch = new Float64Array(5);
const EMPTY = Buffer.alloc(0);

/** The clock of an open or an append: `options.now`, else Date.now(). */
function clockOf(options: { now?: number } | undefined): number {
  const now = options?.now ?? Date.now();
  if (!Number.isSafeInteger(now)) throw new InvalidArgumentError(`now must be an integer timestamp, got ${describeValue(now)}`);
  return now;
}

/**
 * One partition directory in Apache Kafka's on-disk format. Opening a
 * directory this process already has open shares the same log; it closes
 * when every `Log` opened on it has closed. Another process gets
 * `LogDirectoryLockedError`.
 */
export class Log {
  #open: OpenLog | null;
  /**
   * This open read the directory (and ran any recovery), so `recoveryReport`
   * is news; false when the log was already open in this process.
   */
  readonly openedDirectory: boolean;

  private constructor(open: OpenLog, openedDirectory = false) {
    this.#open = open;
    this.openedDirectory = openedDirectory;
  }

  /**
   * Opens (creating if needed) a log directory; recovery runs off the main
   * thread. `opening.now` is the clock at open (segment.ms counts from it).
   */
  static async open(dir: string, options?: LogOptions, opening?: { now?: number }): Promise<Log> {
    const opts = checkOptions(options);
    if (typeof dir !== 'string' || dir === '') throw new InvalidArgumentError(`dir must be a non-empty string, got ${describeValue(dir)}`);
    await mkdir(dir, { recursive: true });
    const key = await realpath(dir);
    const existing = openLogs.get(key);
    if (existing !== undefined) {
      const open = await existing;
      open.refs++;
      return new Log(open);
    }
    const pending = native.openLog(key, opts, clockOf(opening)).then(
      (handle) => new OpenLog(key, handle),
      (error: unknown) => {
        openLogs.delete(key);
        throw fromNative(error);
      },
    );
    openLogs.set(key, pending);
    const open = await pending;
    openLogs.set(key, open);
    return new Log(open, open.handle.openedDirectory);
  }

  /** `open` on the calling thread. */
  static openSync(dir: string, options?: LogOptions, opening?: { now?: number }): Log {
    const opts = checkOptions(options);
    if (typeof dir !== 'string' || dir === '') throw new InvalidArgumentError(`dir must be a non-empty string, got ${describeValue(dir)}`);
    mkdirSync(dir, { recursive: true });
    const key = realpathSync(resolve(dir));
    const existing = openLogs.get(key);
    if (existing instanceof OpenLog) {
      existing.refs++;
      return new Log(existing);
    }
    if (existing !== undefined) throw new InvalidArgumentError(`log ${key} is being opened asynchronously; await Log.open instead`);
    const open = new OpenLog(
      key,
      call(() => native.NativeLog.openSync(key, opts, clockOf(opening))),
    );
    openLogs.set(key, open);
    return new Log(open, open.handle.openedDirectory);
  }

  get dir(): string {
    return this.#state().dir;
  }

  #state(): OpenLog {
    if (this.#open === null) throw new LogClosedError('this log handle is closed');
    return this.#open;
  }

  get #handle(): NativeLog {
    return this.#state().handle;
  }

  /**
   * Validates and appends one or more concatenated RecordBatch v2 batches,
   * assigning offsets. Nothing is written if any batch is invalid or too large.
   * `now` overrides the clock (LogAppendTime, segment.ms).
   */
  append(batches: Uint8Array, options?: { now?: number }): AppendResult {
    if (!(batches instanceof Uint8Array)) {
      throw new InvalidArgumentError(`batches must be a Buffer or Uint8Array of RecordBatch v2 bytes, got ${describeValue(batches)}`);
    }
    const now = clockOf(options);
    const handle = this.#handle;
    checkBatchContents(batches);
    call(() => handle.append(batches, now, scratch));
    return { baseOffset: scratch[0]!, lastOffset: scratch[1]!, position: scratch[2]!, logAppendTime: scratch[3]! };
  }

  /**
   * `append` for batches given in pieces: `framing` with `values[i]` spliced
   * in at byte `cuts[i]` of it, so large values need not be copied into one
   * buffer first. The store computes and stamps each batch's CRC-32C (the
   * framing's CRC fields are ignored) and validates the rest as `append`
   * does; the pieces go to the file in one vectored write.
   */
  appendGathered(framing: Uint8Array, values: readonly Uint8Array[], cuts: Uint32Array, options?: { now?: number }): GatheredAppendResult {
    if (!(framing instanceof Uint8Array)) throw new InvalidArgumentError(`framing must be a Buffer or Uint8Array, got ${describeValue(framing)}`);
    if (!Array.isArray(values)) throw new InvalidArgumentError(`values must be an array of Buffers, got ${describeValue(values)}`);
    for (let i = 0; i < values.length; i++) {
      if (!(values[i] instanceof Uint8Array)) throw new InvalidArgumentError(`values[${i}] must be a Buffer or Uint8Array, got ${describeValue(values[i])}`);
    }
    if (!(cuts instanceof Uint32Array) || cuts.length !== values.length) {
      throw new InvalidArgumentError(`cuts must be a Uint32Array of one position per value (${values.length}), got ${describeValue(cuts)}`);
    }
    const now = clockOf(options);
    const handle = this.#handle;
    call(() => handle.appendGathered(framing, values as Uint8Array[], cuts, now, scratch));
    return { baseOffset: scratch[0]!, lastOffset: scratch[1]!, position: scratch[2]!, logAppendTime: scratch[3]!, logStartOffset: scratch[4]! };
  }

  /**
   * Whole batches from the one holding `offset`, up to `maxBytes` but never
   * less than one batch, as a Buffer of this read's own (see `LogSlice.bytes`).
   * At the log end it returns an empty Buffer.
   */
  read(offset: Offset, maxBytes = 1048576): Buffer {
    return this.readSlice(offset, maxBytes)?.bytes ?? EMPTY;
  }

  /** `read`, plus the offset the next read starts at; `null` at the log end. */
  readSlice(offset: Offset, maxBytes = 1048576): LogSlice | null {
    const at = toOffset(offset);
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
      throw new InvalidArgumentError(`maxBytes must be a non-negative integer, got ${describeValue(maxBytes)}`);
    }
    if (at < 0) {
      throw new OffsetOutOfRangeError(`offset ${at} is out of range: offsets are never negative`);
    }
    const open = this.#state();
    let fetched: ArrayBuffer | null;
    try {
      fetched = open.handle.read(at, maxBytes, scratch);
    } catch (error) {
      throw inPartition(fromNative(error), open.dir);
    }
    if (fetched === null) return null;
    return { bytes: new BufferView(fetched, 0, fetched.byteLength), nextOffset: scratch[0]! };
  }

  /** The first offset whose record timestamp is >= `timestamp`; `null` if every record is older. */
  offsetForTimestamp(timestamp: number): number | null {
    if (!Number.isSafeInteger(timestamp)) throw new InvalidArgumentError(`timestamp must be an integer, got ${describeValue(timestamp)}`);
    const handle = this.#handle;
    const offset = call(() => handle.offsetForTimestamp(timestamp));
    return offset < 0 ? null : offset;
  }

  /** The largest producer id in the log's batches (read at open, kept up to date by appends), -1 for none. */
  get maxProducerId(): number {
    const handle = this.#handle;
    return call(() => handle.maxProducerId());
  }

  get logStartOffset(): number {
    const handle = this.#handle;
    return call(() => handle.logStartOffset());
  }

  get logEndOffset(): number {
    const handle = this.#handle;
    return call(() => handle.logEndOffset());
  }

  /** Bytes of data in all segments. */
  get size(): number {
    const handle = this.#handle;
    return call(() => handle.size());
  }

  segments(): SegmentInfo[] {
    const handle = this.#handle;
    return call(() => handle.segments());
  }

  get recoveryReport(): RecoveryReport {
    return this.#handle.recoveryReport();
  }

  get config(): Required<LogOptions> {
    const handle = this.#handle;
    return call(() => handle.config()) as Required<LogOptions>;
  }

  /** Changes settings of the open log; segment and index sizes apply from the next segment. */
  setConfig(options: LogOptions): void {
    const merged = { ...this.config, ...checkOptions(options) };
    const handle = this.#handle;
    call(() => handle.setConfig(merged));
  }

  /**
   * Drops every batch holding an offset >= `offset` (a batch is never split,
   * so the log may end below `offset`). Returns the new log end offset.
   */
  truncateTo(offset: Offset): number {
    const at = toOffset(offset);
    const handle = this.#handle;
    return call(() => handle.truncateTo(at));
  }

  /**
   * Deletes whole segments below `offset` (never the active one) and moves
   * the log start offset to `offset`. Returns how many segments went.
   */
  deleteSegmentsBefore(offset: Offset): number {
    const at = toOffset(offset);
    if (at < 0) throw new OffsetOutOfRangeError(`offset ${at} is out of range: offsets are never negative`);
    const handle = this.#handle;
    return call(() => handle.deleteSegmentsBefore(at));
  }

  /** Deletes the oldest segment unless it is the active one. */
  deleteOldestSegment(): boolean {
    const handle = this.#handle;
    return call(() => handle.deleteOldestSegment());
  }

  /** fsyncs data and indexes off the main thread. */
  async flush(): Promise<void> {
    await this.#handle.flush().catch((error: unknown) => {
      throw fromNative(error);
    });
  }

  flushSync(): void {
    const handle = this.#handle;
    call(() => handle.flushSync());
  }

  /** Closes this handle; the last one closes the log (flush, trim, clean-shutdown marker). */
  async close(): Promise<void> {
    const open = this.#release();
    if (open) {
      await open.handle.close().catch((error: unknown) => {
        throw fromNative(error);
      });
    }
  }

  closeSync(): void {
    const open = this.#release();
    if (open) call(() => open.handle.closeSync());
  }

  get closed(): boolean {
    return this.#open === null;
  }

  /** Returns the shared state if this was its last handle. */
  #release(): OpenLog | null {
    const open = this.#open;
    if (open === null) return null;
    this.#open = null;
    if (--open.refs > 0) return null;
    openLogs.delete(open.dir);
    return open;
  }

  /** Drops the log as a killed process would: no flush, no clean-shutdown marker. For crash tests. */
  simulateCrash(): void {
    const open = this.#open;
    if (open === null) return;
    this.#open = null;
    openLogs.delete(open.dir);
    open.handle.simulateCrash();
  }
}

/**
 * A stored batch that failed its check, named by topic and partition when
 * the directory is named as Kafka's are (`<topic>-<partition>`).
 */
function inPartition(error: Error, dir: string): Error {
  if (!(error instanceof CorruptRecordError) || error.file === undefined) return error;
  const name = /^(.+)-(\d+)$/.exec(basename(dir));
  if (name === null) return error;
  const [, topic, partition] = name as unknown as [string, string, string];
  const typed = new CorruptRecordError(`topic ${topic} partition ${partition}: ${error.message}`, {
    topic,
    partition: Number(partition),
    offset: error.offset,
    file: error.file,
    position: error.position,
  });
  typed.stack = `${typed.name}: ${typed.message}\n${error.stack?.split('\n').slice(1).join('\n') ?? ''}`;
  return typed;
}

/** Shared read-only segment mappings alive in this process (held by logs, or by reads' private mappings). */
export function liveReadMaps(): number {
  return native.liveReadMaps();
}
