// Model-based test of the partition log: random sequences of appends, reads,
// truncations, segment deletions, time retention under a fake clock, clean
// restarts and crash-like reopens, with segments small enough to roll often.
// After every step the log must agree with a plain in-memory model: the
// batches appended (offsets, keys, values, timestamps, headers), the log
// start offset and the log end offset.
import fc from 'fast-check';
import * as require_fs from 'node:fs';
import { describe, expect, it } from 'vitest';

import { OffsetOutOfRangeError, RecordListTooLargeError } from '../src/errors.js';
import { decodeBatches } from '../src/record-batch/decode.js';
import { encodeBatch, type RecordInput } from '../src/record-batch/encode.js';
import { Log, type LogOptions } from '../src/storage/log.js';
import { retentionCut } from '../src/topics/retention.js';
import { tempDir } from './helpers.js';

const T0 = 1_700_000_000_000;

interface ModelRecord {
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: Record<string, string | null>;
}

interface ModelBatch {
  base: number;
  last: number;
  maxTimestamp: number;
  records: ModelRecord[];
}

/** What the log should hold: every batch still in it, and where it starts and ends. */
interface Model {
  batches: ModelBatch[];
  logStart: number;
  logEnd: number;
}

interface RecordSpec {
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: [string, Uint8Array | null][];
  timestampDelta: number;
}

type Op =
  | { kind: 'append'; batches: RecordSpec[][]; clockStep: number }
  | { kind: 'read'; at: OffsetSpec; maxBytes: number }
  | { kind: 'truncate'; at: OffsetSpec }
  | { kind: 'deleteBefore'; at: OffsetSpec }
  | { kind: 'deleteOldest' }
  | { kind: 'retention'; retentionMs: number; clockStep: number }
  | { kind: 'restart' }
  | { kind: 'crash' };

const hex = (b: Uint8Array | null): string | null => (b === null ? null : Buffer.from(b).toString('hex'));

const recordSpec: fc.Arbitrary<RecordSpec> = fc.record({
  key: fc.option(fc.uint8Array({ maxLength: 12 }), { freq: 3 }),
  value: fc.option(fc.uint8Array({ maxLength: 60 }), { freq: 5 }),
  headers: fc.uniqueArray(fc.tuple(fc.oneof(fc.string({ maxLength: 6 }), fc.constant('__proto__')), fc.option(fc.uint8Array({ maxLength: 8 }))), {
    maxLength: 3,
    selector: ([name]) => name,
  }),
  timestampDelta: fc.integer({ min: 0, max: 5000 }),
});

/** An offset chosen relative to the log when the step runs: anywhere in it (and a little past), or near its start or end. */
type OffsetSpec = { from: 'anywhere'; permille: number } | { from: 'start' | 'end'; delta: number };

const offset: fc.Arbitrary<OffsetSpec> = fc.oneof(
  fc.record({ from: fc.constant('anywhere' as const), permille: fc.integer({ min: 0, max: 1000 }) }),
  fc.record({ from: fc.constantFrom('start' as const, 'end' as const), delta: fc.integer({ min: -3, max: 3 }) }),
);

function resolve(spec: OffsetSpec, model: Model): number {
  if (spec.from === 'anywhere') return Math.floor(((model.logEnd + 2) * spec.permille) / 1000);
  return Math.max(0, (spec.from === 'start' ? model.logStart : model.logEnd) + spec.delta);
}

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      batches: fc.array(fc.array(recordSpec, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 3 }),
      clockStep: fc.integer({ min: 0, max: 400 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('read' as const), at: offset, maxBytes: fc.integer({ min: 0, max: 1500 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: offset }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('deleteBefore' as const), at: offset }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'deleteOldest' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('retention' as const),
      retentionMs: fc.integer({ min: 0, max: 6000 }),
      clockStep: fc.integer({ min: 0, max: 3000 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'crash' as const }) },
);

const options: fc.Arbitrary<LogOptions> = fc.record({
  segmentBytes: fc.integer({ min: 400, max: 2500 }),
  segmentMs: fc.integer({ min: 500, max: 20_000 }),
  segmentIndexBytes: fc.integer({ min: 24, max: 200 }),
  indexIntervalBytes: fc.integer({ min: 0, max: 600 }),
  messageTimestampType: fc.constantFrom('CreateTime' as const, 'LogAppendTime' as const),
});

/** The records of the whole log from its start, read batch by batch as a consumer does. */
function readFromStart(log: Log): ModelRecord[] {
  const out: ModelRecord[] = [];
  let at = log.logStartOffset;
  for (;;) {
    const slice = log.readSlice(at, 700);
    if (slice === null) break;
    const records = decoded(slice.bytes, at);
    expect(records.length).toBeGreaterThan(0);
    expect(slice.nextOffset).toBe(records.at(-1)!.offset + 1);
    out.push(...records);
    at = slice.nextOffset;
  }
  expect(at).toBe(log.logEndOffset);
  return out;
}

function decoded(bytes: Buffer, fromOffset: number): ModelRecord[] {
  return [...decodeBatches(bytes, { verifyCrc: true, fromOffset })].map((r) => ({
    offset: r.offset,
    timestamp: r.timestamp,
    key: hex(r.key),
    value: hex(r.value),
    headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, hex(v as Buffer | null)])),
  }));
}

function modelRecords(model: Model, from: number, to = Infinity): ModelRecord[] {
  return model.batches.flatMap((b) => b.records).filter((r) => r.offset >= from && r.offset < to);
}

/** The log and the model agree on offsets, records and the segment summaries. */
function checkAgainst(log: Log, model: Model): void {
  expect(log.logStartOffset).toBe(model.logStart);
  expect(log.logEndOffset).toBe(model.logEnd);
  expect(readFromStart(log)).toEqual(modelRecords(model, model.logStart));
  const segments = log.segments();
  expect(segments.at(-1)!.nextOffset).toBe(model.logEnd);
  expect(segments[0]!.baseOffset).toBeLessThanOrEqual(model.logStart);
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    if (i + 1 < segments.length) expect(s.nextOffset).toBeLessThanOrEqual(segments[i + 1]!.baseOffset);
    const held = model.batches.filter((b) => b.base >= s.baseOffset && b.last < s.nextOffset);
    expect(s.size > 0).toBe(held.length > 0);
    expect(s.maxTimestamp).toBe(held.length === 0 ? -1 : Math.max(...held.map((b) => b.maxTimestamp)));
  }
}

function expectOutOfRange(fn: () => unknown): void {
  expect(fn).toThrow(OffsetOutOfRangeError);
}

class Run {
  log: Log;
  readonly model: Model = { batches: [], logStart: 0, logEnd: 0 };
  clock = T0;

  constructor(
    readonly dir: string,
    readonly opts: LogOptions,
  ) {
    this.log = Log.openSync(dir, opts);
  }

  apply(step: Op): void {
    const { log, model } = this;
    switch (step.kind) {
      case 'append': {
        this.clock += step.clockStep;
        const appendTime = this.opts.messageTimestampType === 'LogAppendTime';
        const encoded = step.batches.map((specs) =>
          encodeBatch(
            specs.map(
              (s): RecordInput => ({
                key: s.key === null ? null : Buffer.from(s.key),
                value: s.value === null ? null : Buffer.from(s.value),
                headers: Object.fromEntries(s.headers.map(([k, v]) => [k, v === null ? null : Buffer.from(v)])),
                timestamp: T0 + s.timestampDelta,
              }),
            ),
          ),
        );
        const bytes = Buffer.concat(encoded);
        if (bytes.length > this.opts.segmentBytes!) {
          expect(() => log.append(bytes, { now: this.clock })).toThrow(RecordListTooLargeError);
          return;
        }
        const result = log.append(bytes, { now: this.clock });
        expect(result.baseOffset).toBe(model.logEnd);
        expect(result.logAppendTime).toBe(appendTime ? this.clock : -1);
        for (const specs of step.batches) {
          const base = model.logEnd;
          const records = specs.map((s, i) => ({
            offset: base + i,
            timestamp: appendTime ? this.clock : T0 + s.timestampDelta,
            key: hex(s.key),
            value: hex(s.value),
            headers: Object.fromEntries(s.headers.map(([k, v]) => [k, hex(v)])),
          }));
          model.batches.push({ base, last: base + specs.length - 1, maxTimestamp: Math.max(...records.map((r) => r.timestamp)), records });
          model.logEnd += specs.length;
        }
        expect(result.lastOffset).toBe(model.logEnd - 1);
        return;
      }
      case 'read': {
        const at = resolve(step.at, model);
        if (at < model.logStart || at > model.logEnd) {
          expectOutOfRange(() => log.read(at, step.maxBytes));
          return;
        }
        const slice = log.readSlice(at, step.maxBytes);
        if (at === model.logEnd) {
          expect(slice).toBeNull();
          return;
        }
        expect(slice).not.toBeNull();
        const first = model.batches.find((b) => b.last >= at)!;
        // At least the batch holding the offset, more only within maxBytes.
        expect(slice!.bytes.readBigInt64BE(0)).toBe(BigInt(first.base));
        expect(slice!.nextOffset).toBeGreaterThan(first.last);
        expect(slice!.bytes.length === 0 || slice!.bytes.length <= step.maxBytes || slice!.nextOffset === first.last + 1).toBe(true);
        expect(decoded(slice!.bytes, at)).toEqual(modelRecords(model, at, slice!.nextOffset));
        return;
      }
      case 'truncate': {
        const at = resolve(step.at, model);
        if (at < model.logStart) {
          expectOutOfRange(() => log.truncateTo(at));
          return;
        }
        const newEnd = log.truncateTo(at);
        if (at < model.logEnd) {
          const cut = model.batches.findIndex((b) => b.last >= at);
          model.logEnd = model.batches[cut]!.base;
          model.batches.splice(cut);
          // A cut below the log start (a batch straddling it) moves the start down with the end.
          model.logStart = Math.min(model.logStart, model.logEnd);
        }
        expect(newEnd).toBe(model.logEnd);
        return;
      }
      case 'deleteBefore': {
        const at = resolve(step.at, model);
        if (at > model.logEnd) {
          expectOutOfRange(() => log.deleteSegmentsBefore(at));
          return;
        }
        const bases = log.segments().map((s) => s.baseOffset);
        const doomed = bases.slice(1).filter((next) => next <= at).length;
        expect(log.deleteSegmentsBefore(at)).toBe(doomed);
        model.logStart = Math.max(model.logStart, at);
        return;
      }
      case 'deleteOldest': {
        const segments = log.segments();
        expect(log.deleteOldestSegment()).toBe(segments.length > 1);
        if (segments.length > 1) model.logStart = Math.max(model.logStart, segments[1]!.baseOffset);
        return;
      }
      case 'retention': {
        // As the retention cleaner does it, under a fake clock.
        this.clock += step.clockStep;
        const segments = log.segments();
        const cut = retentionCut(segments, { 'retention.ms': String(step.retentionMs) }, this.clock);
        const expired = (s: { maxTimestamp: number }) => this.clock - s.maxTimestamp > step.retentionMs;
        if (cut === null) {
          expect(segments.length === 1 || !expired(segments[0]!)).toBe(true);
          return;
        }
        const target = Math.max(cut, log.logStartOffset);
        const kept = segments.findIndex((s) => s.baseOffset === cut);
        expect(segments.slice(0, kept).every(expired)).toBe(true);
        expect(kept === segments.length - 1 || !expired(segments[kept]!)).toBe(true);
        expect(log.deleteSegmentsBefore(target)).toBe(kept);
        model.logStart = Math.max(model.logStart, target);
        expect(log.segments()[0]!.baseOffset).toBe(cut);
        return;
      }
      case 'restart': {
        log.closeSync();
        this.log = Log.openSync(this.dir, this.opts);
        expect(this.log.recoveryReport.cleanShutdown).toBe(true);
        return;
      }
      case 'crash': {
        log.simulateCrash();
        this.log = Log.openSync(this.dir, this.opts);
        expect(this.log.recoveryReport.cleanShutdown).toBe(false);
        // The process died, the machine did not: every append is in the page
        // cache and survives (the model does not change).
        expect(this.log.recoveryReport.segmentsRecovered).toBeGreaterThan(0);
        return;
      }
    }
  }
}

describe('the log against an in-memory model', () => {
  it('agrees on records, log start and log end after every step of random append/read/truncate/retention/restart/crash sequences', () => {
    fc.assert(
      fc.property(options, fc.array(op, { minLength: 1, maxLength: 40, size: 'max' }), (opts, ops) => {
        require_fs.writeFileSync('/tmp/model-last.json', JSON.stringify({ opts, ops }));
        const run = new Run(tempDir('fjord-model-'), opts);
        try {
          for (const step of ops) {
            run.apply(step);
            checkAgainst(run.log, run.model);
          }
        } finally {
          if (!run.log.closed) run.log.closeSync();
        }
      }),
      { numRuns: Number(process.env.FJORD_MODEL_RUNS ?? 200) },
    );
  }, 600_000);
});
