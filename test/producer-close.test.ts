// Closing while sending (issue 11 #1, producer side): send loops run while
// Fjord.close() or producer.disconnect() is called. Every send must settle,
// resolved with records that really are in the log afterwards or rejected
// with a typed error, and no timer, immediate or promise of the producer may
// throw or reject unhandled. The loops run in a child process under
// `--unhandled-rejections=strict` with an `uncaughtException` trap, so a
// stray throw ends the child with exit code 3 and its stack on stdout.
import { describe, expect, it } from 'vitest';

import { FJORD, spawnScript } from './child-process.js';
import { tempDir } from './helpers.js';

const SCRIPT = `
import { decodeBatches, Fjord, FjordError, logLevel } from ${JSON.stringify(FJORD)};

const [dir, acksArg, compressionArg, how] = process.argv.slice(2);
const acks = Number(acksArg);
const compression = Number(compressionArg);
process.on('uncaughtException', (error) => {
  process.stdout.write(JSON.stringify({ uncaught: String(error?.stack ?? error) }) + '\\n');
  process.exit(3);
});

const fjord = new Fjord({ dir, logLevel: logLevel.NOTHING });
const admin = fjord.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic: 't', numPartitions: 2 }] });
await admin.disconnect();
const producer = fjord.producer();
await producer.connect();

const resolved = [];
const rejected = [];
async function loop(id) {
  for (let i = 0; ; i++) {
    // Two records a send: round-robin puts one in each partition.
    const values = [id + ':' + i + ':a', id + ':' + i + ':b'];
    try {
      const metadata = await producer.send({ topic: 't', acks, compression, messages: values.map((value) => ({ value })) });
      resolved.push({ values, metadata });
    } catch (error) {
      rejected.push({ name: error?.name, code: error?.code, typed: error instanceof FjordError });
      return;
    }
  }
}
const loops = Array.from({ length: 8 }, (_, id) => loop(id));
await new Promise((resolve) => {
  const check = () => (resolved.length >= 200 ? resolve() : setImmediate(check));
  check();
});
if (how === 'disconnect') await producer.disconnect();
await fjord.close();
await Promise.all(loops);

// Reopened: what each resolved send reported must be in the log.
const again = new Fjord({ dir, logLevel: logLevel.NOTHING });
const partitions = (await again.topics()).get('t').partitions;
const logs = partitions.map((p) => {
  const values = [];
  let offset = p.log.logStartOffset;
  for (;;) {
    const slice = p.log.readSlice(offset);
    if (slice === null) break;
    for (const record of decodeBatches(slice.bytes, { fromOffset: offset })) values[record.offset] = record.value.toString();
    offset = slice.nextOffset;
  }
  return values;
});
await again.close();
const inLog = new Set(logs.flat());
let misplaced = 0;
let missing = 0;
for (const { values, metadata } of resolved) {
  for (const value of values) if (!inLog.has(value)) missing++;
  for (const { partition, baseOffset } of metadata) {
    if (baseOffset !== '-1' && !values.includes(logs[partition][Number(baseOffset)])) misplaced++;
  }
}
process.stdout.write(JSON.stringify({
  resolved: resolved.length,
  rejected,
  missing,
  misplaced,
  logged: logs.flat().length,
  distinct: inLog.size,
}) + '\\n');
`;

interface Outcome {
  uncaught?: string;
  resolved: number;
  rejected: { name: string; code: string; typed: boolean }[];
  missing: number;
  misplaced: number;
  logged: number;
  distinct: number;
}

async function closeWhileSending(
  acks: number,
  compression: number,
  how: 'close' | 'disconnect',
): Promise<{ code: number | null; outcome: Outcome; stderr: string }> {
  const dir = tempDir();
  // The child's node runs with --unhandled-rejections=strict: an unhandled rejection becomes an uncaught exception.
  const child = spawnScript(dir, SCRIPT, [`${dir}/data`, String(acks), String(compression), how], {
    prefix: ['sh', '-c', 'exec "$0" --unhandled-rejections=strict "$@"'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  const lines = stdout.trim().split('\n');
  return { code, outcome: JSON.parse(lines.at(-1) || '{}') as Outcome, stderr };
}

describe('closing while send loops run', () => {
  it.each([
    [-1, 0, 'close'],
    [1, 0, 'close'],
    [0, 0, 'close'],
    [-1, 1, 'close'],
    [0, 1, 'close'],
    [1, 0, 'disconnect'],
    [0, 0, 'disconnect'],
  ] as const)('acks %i, compression %i, %s: exit 0, every send settled, every resolved record in the log', async (acks, compression, how) => {
    const { code, outcome, stderr } = await closeWhileSending(acks, compression, how);
    expect(outcome.uncaught, stderr).toBeUndefined();
    expect(code, stderr).toBe(0);
    expect(outcome.resolved).toBeGreaterThanOrEqual(200);
    // Each of the 8 loops ends at its first rejection: a send after disconnect, typed.
    expect(outcome.rejected).toEqual(Array.from({ length: 8 }, () => ({ name: 'NotConnectedError', code: 'ERR_NOT_CONNECTED', typed: true })));
    expect(outcome.missing).toBe(0);
    expect(outcome.misplaced).toBe(0);
    expect(outcome.distinct).toBe(outcome.logged);
    // Nothing but resolved sends is written: a refused send wrote nothing.
    expect(outcome.logged).toBe(2 * outcome.resolved);
  });
});
