// Plumbing shared by the benches (store, producer, consume): the 4-byte
// length-prefixed frame format of the baselines, scratch paths in a work
// directory, timing and quantiles, number formats for the tables, argument
// errors, and the machine part of the JSON results file.
import { randomFillSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const KiB = 1024;
export const MiB = 1024 * KiB;

// ---------------------------------------------------------------- files

/** The baselines' format: each value as a 4-byte big-endian length and its bytes. */
export function frame(values: readonly Buffer[]): Buffer {
  let size = 0;
  for (const value of values) size += 4 + value.length;
  const chunk = Buffer.allocUnsafe(size);
  let pos = 0;
  for (const value of values) {
    chunk.writeUInt32BE(value.length, pos);
    chunk.set(value, pos + 4);
    pos += 4 + value.length;
  }
  return chunk;
}

/** `groups` arrays of `perGroup` values of `valueBytes` random bytes each: views, in order, of one random buffer. */
export function randomValueGroups(groups: number, perGroup: number, valueBytes: number): Buffer[][] {
  const random = randomFillSync(Buffer.allocUnsafe(groups * perGroup * valueBytes));
  const result: Buffer[][] = [];
  for (let g = 0; g < groups; g++) {
    const values: Buffer[] = [];
    for (let v = 0; v < perGroup; v++) {
      const start = (g * perGroup + v) * valueBytes;
      values.push(random.subarray(start, start + valueBytes));
    }
    result.push(values);
  }
  return result;
}

/**
 * The floors' read: the frame file `fd` in `chunkBytes` reads into `buffer`
 * (room for a chunk and the largest frame), every frame parsed and the first
 * byte of its value touched.
 */
export function readFrames(fd: number, buffer: Buffer, chunkBytes: number): { records: number; touched: number; reads: number } {
  let records = 0;
  let touched = 0;
  let reads = 0;
  let position = 0;
  let filled = 0;
  for (;;) {
    const read = readSync(fd, buffer, filled, chunkBytes, position);
    if (read === 0) break;
    reads++;
    position += read;
    filled += read;
    let at = 0;
    while (filled - at >= 4) {
      const length = buffer.readUInt32BE(at);
      if (filled - at - 4 < length) break;
      touched += buffer[at + 4]!;
      at += 4 + length;
      records++;
    }
    // Carry a partial frame to the front.
    buffer.copyWithin(0, at, filled);
    filled -= at;
  }
  return { records, touched, reads };
}

export function writeAll(fd: number, bytes: Buffer): void {
  let written = 0;
  while (written < bytes.length) written += writeSync(fd, bytes, written);
}

export interface WorkDir {
  /** A fresh directory under the OS temp dir, named `prefix` and a random suffix. */
  readonly path: string;
  /** A path in it not handed out before: `name-<serial>`. */
  freshPath(name: string): string;
}

export function makeWorkDir(prefix: string): WorkDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  let serial = 0;
  return { path, freshPath: (name) => join(path, `${name}-${serial++}`) };
}

/** Whether `dir` is on the filesystem of the current directory, where a real data dir would be. */
export function onProjectFilesystem(dir: string): boolean {
  return statSync(dir).dev === statSync(process.cwd()).dev;
}

// ---------------------------------------------------------------- run

export const gc = (globalThis as { gc?: () => void }).gc;

/** Without --expose-gc, says so: every `unit` (pass, cell) is meant to start from a collected heap. */
export function noteMissingGc(unit: string): void {
  if (gc === undefined) console.error(`note: run with --expose-gc so every ${unit} starts from a collected heap`);
}

/** A reporter of bad arguments for bench `name`: prints `<name>: <message>` and exits 2. */
export function usageFor(name: string): (message: string) => never {
  return (message) => {
    console.error(`${name}: ${message}`);
    process.exit(2);
  };
}

/**
 * The first line on stderr: the bench, its mode, the machine and where its
 * data goes; with `sameFilesystem` false, a note that this is not where a data dir would be.
 */
export function banner(bench: string, quick: boolean, workDir: string, sameFilesystem = true): string {
  return (
    `fjord ${bench} bench (${quick ? 'quick' : 'full'}): node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, data in ${workDir}` +
    (sameFilesystem ? '' : ` (note: not the filesystem of ${process.cwd()}, where a data dir would be)`)
  );
}

export const now = process.hrtime.bigint;
export const msSince = (start: bigint): number => Number(now() - start) / 1e6;

// ---------------------------------------------------------------- measurements

/** The `q` quantile of ascending `sorted` (the smallest value with at least q of them at or below it); NaN when empty. */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export interface Throughput {
  /** Of the median pass (by time). */
  seconds: number;
  recordsPerSec: number;
  mbPerSec: number;
  /** MB/s of every timed pass, in run order: the spread. */
  passMbPerSec: number[];
}

/** Throughput of the median of hand-timed passes that each moved `volume`; the median pass too, for what else it measured. */
export function throughput<P extends { ms: number }>(volume: { records: number; payloadBytes: number }, passes: readonly P[]): Throughput & { median: P } {
  const median = [...passes].sort((a, b) => a.ms - b.ms)[Math.floor(passes.length / 2)]!;
  const seconds = median.ms / 1000;
  return {
    seconds,
    recordsPerSec: volume.records / seconds,
    mbPerSec: volume.payloadBytes / 1e6 / seconds,
    passMbPerSec: passes.map((pass) => Math.round(volume.payloadBytes / 1e3 / pass.ms)),
    median,
  };
}

// ---------------------------------------------------------------- report

export function whole(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function latency(ms: number): string {
  return ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
}

/**
 * Writes bench/results/<bench>-<startedAt>.json (via a .tmp and a rename) and
 * returns its path. The report is the run's time, mode and machine; with
 * `sameFilesystem` given, also the work dir, whether it is on the project's
 * filesystem and the peak RSS so far; then `fields`, in their order.
 */
export function writeResults(bench: string, startedAt: Date, quick: boolean, sameFilesystem: boolean | null, fields: Record<string, unknown>): string {
  const resultsDir = fileURLToPath(new URL('../../bench/results/', import.meta.url));
  mkdirSync(resultsDir, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const path = join(resultsDir, `${bench}-${stamp}.json`);
  const report = {
    startedAt: startedAt.toISOString(),
    quick,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    ...(sameFilesystem === null
      ? {}
      : {
          workDir: tmpdir(),
          workDirOnProjectFilesystem: sameFilesystem,
          maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
        }),
    ...fields,
  };
  writeFileSync(`${path}.tmp`, `${JSON.stringify(report, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
  return path;
}
