// Reads a partition directory's segment files (.log, .index, .timeindex) with
// code that is not Fjord's, and lists every way they break the format's
// invariants: batches back to back with valid CRC-32C (KafkaJS's), index
// entries on batch boundaries, offsets and positions increasing.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const kafkaCrc32C = require('kafkajs/src/protocol/recordBatch/crc32C') as (buffer: Buffer) => number;

const BATCH_HEADER = 61;
const LOG_OVERHEAD = 12;

export interface BatchOnDisk {
  position: number;
  size: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  /** The whole batch, header included. */
  bytes: Buffer;
}

export interface SegmentOnDisk {
  base: number;
  file: string;
  batches: BatchOnDisk[];
  /** Where the last whole batch ends. */
  dataEnd: number;
  fileLength: number;
  /** (absolute offset, position) per `.index` entry. */
  index: { offset: number; position: number }[];
  /** (timestamp, absolute offset) per `.timeindex` entry. */
  timeIndex: { timestamp: number; offset: number }[];
  problems: string[];
}

const isZero = (bytes: Buffer) => bytes.every((b) => b === 0);

/** Parses fixed-size entries; an all-zero entry starts the preallocated tail, which must be zeros throughout. */
function entries(bytes: Buffer, size: number, what: string, problems: string[]): Buffer[] {
  if (bytes.length % size !== 0) problems.push(`${what} is ${bytes.length} bytes, not a multiple of ${size}`);
  const out: Buffer[] = [];
  for (let at = 0; at + size <= bytes.length; at += size) {
    const entry = bytes.subarray(at, at + size);
    if (isZero(entry)) {
      if (!isZero(bytes.subarray(at))) problems.push(`${what} has entries after a zero entry at byte ${at}`);
      break;
    }
    out.push(entry);
  }
  return out;
}

/**
 * Reads one segment. `active`: the file may go on past its data with zeros
 * (the preallocated sparse tail of an open log's active segment).
 */
export function readSegment(dir: string, file: string, active: boolean): SegmentOnDisk {
  const base = Number(file.slice(0, 20));
  const problems: string[] = [];
  const bytes = readFileSync(join(dir, file));
  const batches: BatchOnDisk[] = [];
  let pos = 0;
  while (pos + BATCH_HEADER <= bytes.length) {
    const length = bytes.readInt32BE(pos + 8);
    if (length === 0 && active && isZero(bytes.subarray(pos))) break;
    const size = length + LOG_OVERHEAD;
    if (length < BATCH_HEADER - LOG_OVERHEAD || pos + size > bytes.length) {
      problems.push(`${file}: no whole batch at byte ${pos} (length field ${length})`);
      break;
    }
    const batch = bytes.subarray(pos, pos + size);
    const baseOffset = Number(batch.readBigInt64BE(0));
    const lastOffset = baseOffset + batch.readInt32BE(23);
    if (batch.readInt8(16) !== 2) problems.push(`${file}: batch at byte ${pos} has magic ${batch.readInt8(16)}`);
    if (kafkaCrc32C(batch.subarray(21)) !== batch.readUInt32BE(17)) problems.push(`${file}: batch at byte ${pos} fails its CRC-32C`);
    const previous = batches.at(-1);
    if (baseOffset < (previous ? previous.lastOffset + 1 : base)) {
      problems.push(`${file}: batch at byte ${pos} starts at offset ${baseOffset}, expected at least ${previous ? previous.lastOffset + 1 : base}`);
    }
    batches.push({ position: pos, size, baseOffset, lastOffset, maxTimestamp: Number(batch.readBigInt64BE(35)), bytes: batch });
    pos += size;
  }
  const dataEnd = pos;
  if (dataEnd !== bytes.length && !(active && isZero(bytes.subarray(dataEnd)))) {
    problems.push(`${file}: ${bytes.length - dataEnd} bytes after the last whole batch (at byte ${dataEnd})${active ? ' are not zeros' : ''}`);
  }

  const byPosition = new Map(batches.map((b) => [b.position, b]));
  const byLastOffset = new Map(batches.map((b) => [b.lastOffset, b]));
  const indexFile = file.replace(/\.log$/, '.index');
  const index = entries(readFileSync(join(dir, indexFile)), 8, indexFile, problems).map((e) => ({
    offset: base + e.readInt32BE(0),
    position: e.readInt32BE(4),
  }));
  index.forEach(({ offset, position }, i) => {
    const batch = byPosition.get(position);
    if (batch === undefined) problems.push(`${indexFile}: entry ${i} points at byte ${position}, not a batch start`);
    else if (batch.lastOffset !== offset)
      problems.push(`${indexFile}: entry ${i} says offset ${offset}, the batch at byte ${position} ends at ${batch.lastOffset}`);
    if (i > 0 && (offset <= index[i - 1]!.offset || position <= index[i - 1]!.position))
      problems.push(
        `${indexFile}: entry ${i} (offset ${offset}, byte ${position}) does not increase from entry ${i - 1} (offset ${index[i - 1]!.offset}, byte ${index[i - 1]!.position})`,
      );
  });
  const timeIndexFile = file.replace(/\.log$/, '.timeindex');
  const timeIndex = entries(readFileSync(join(dir, timeIndexFile)), 12, timeIndexFile, problems).map((e) => ({
    timestamp: Number(e.readBigInt64BE(0)),
    offset: base + e.readInt32BE(8),
  }));
  timeIndex.forEach(({ timestamp, offset }, i) => {
    const batch = byLastOffset.get(offset);
    if (batch === undefined) problems.push(`${timeIndexFile}: entry ${i} points at offset ${offset}, not the last offset of a batch`);
    else if (batch.maxTimestamp !== timestamp)
      problems.push(`${timeIndexFile}: entry ${i} says ${timestamp}, its batch's max timestamp is ${batch.maxTimestamp}`);
    if (i > 0 && (timestamp <= timeIndex[i - 1]!.timestamp || offset < timeIndex[i - 1]!.offset))
      problems.push(
        `${timeIndexFile}: entry ${i} (${timestamp} at offset ${offset}) does not increase from entry ${i - 1} (${timeIndex[i - 1]!.timestamp} at offset ${timeIndex[i - 1]!.offset})`,
      );
  });
  return { base, file, batches, dataEnd, fileLength: bytes.length, index, timeIndex, problems };
}

/**
 * Every segment of a partition directory, oldest first. `open`: the log is
 * open, so its last (active) segment may have a preallocated zero tail.
 * Problems across segments (offsets going back between them) are added to
 * the later segment's list.
 */
export function readSegments(dir: string, { open }: { open: boolean }): SegmentOnDisk[] {
  const files = readdirSync(dir)
    .filter((f) => /^\d{20}\.log$/.test(f))
    .sort();
  const segments = files.map((file, i) => readSegment(dir, file, open && i === files.length - 1));
  for (let i = 1; i < segments.length; i++) {
    const previousEnd = segments[i - 1]!.batches.at(-1)?.lastOffset;
    if (previousEnd !== undefined && segments[i]!.base <= previousEnd) {
      segments[i]!.problems.push(`${segments[i]!.file} starts at offset ${segments[i]!.base}, before the end of the previous segment (${previousEnd})`);
    }
  }
  return segments;
}
