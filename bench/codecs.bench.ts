// Produce and consume throughput per codec (none, gzip, snappy, lz4, zstd)
// on 1 KiB records, and the compression ratio on disk.
//
// The records: JSON events of 1 KiB (an id, a timestamp, a user and a few
// fields drawn at random from small vocabularies, then text padding drawn
// from a few hundred words), the kind of payload Kafka topics carry; random
// bytes would not compress and would say nothing about the codecs. Each pass
// produces them all into a fresh one-partition topic with `sendBatch` calls
// of 1,000 messages (acks 1: the codec's cost, not fsync's), timed until the
// last send resolves; then a consumer of a fresh group reads them all
// (eachBatch), timed from `run()` to the last offset. Ratio: the log's bytes
// (its segments' sizes, batch headers included) over the records' key and
// value bytes. Throughput is the median pass.
//
//   npx tsc -p tsconfig.json && node --expose-gc dist/bench/codecs.bench.js [--quick] [--records N] [--passes N]
import { parseArgs } from 'node:util';

import { CompressionTypes, Fjord, type Message } from '../src/index.js';
import { banner, gc, makeWorkDir, MiB, msSince, noteMissingGc, now, onProjectFilesystem, throughput, usageFor, whole, writeResults } from './support.js';

const { values: args } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, records: { type: 'string' }, passes: { type: 'string' } },
});
const usage = usageFor('codecs bench');
function count(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0) usage(`--${flag} must be a positive integer, got ${JSON.stringify(text)}`);
  return n;
}
const quick = args.quick;
const RECORDS = count(args.records, 'records', quick ? 20_000 : 100_000);
const PASSES = count(args.passes, 'passes', quick ? 1 : 3);
const VALUE_BYTES = 1024;
const SEND_BATCH = 1000;
const CODECS = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

/** A deterministic pseudo-random source, so every run measures the same records. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeRecords(n: number): Message[] {
  const next = random(42);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const words = Array.from({ length: 300 }, (_, i) => `w${(i * 7919) % 10007}${'abcdefgh'.slice(0, 1 + (i % 8))}`);
  const events = ['page_view', 'click', 'add_to_cart', 'checkout', 'login', 'logout', 'search'];
  const countries = ['FR', 'DE', 'US', 'JP', 'BR', 'IN', 'NO', 'ES'];
  const messages: Message[] = [];
  for (let i = 0; i < n; i++) {
    const head = JSON.stringify({
      id: `evt-${(1_000_000 + i).toString(36)}-${Math.floor(next() * 1e9).toString(36)}`,
      ts: 1_700_000_000_000 + i * 17 + Math.floor(next() * 10),
      user: `user-${Math.floor(next() * 50_000)}`,
      type: pick(events),
      country: pick(countries),
      amount: Math.round(next() * 100_000) / 100,
      session: Math.floor(next() * 1e12).toString(16),
    });
    let text = '';
    while (head.length + text.length < VALUE_BYTES - 12) text += `${pick(words)} `;
    const value = `${head.slice(0, -1)},"text":"${text}`.slice(0, VALUE_BYTES - 2);
    messages.push({ key: `user-${i % 1000}`, value: `${value}"}` });
  }
  return messages;
}

async function pass(dir: string, messages: Message[], codec: number): Promise<{ produceMs: number; consumeMs: number; segmentBytes: number }> {
  const fjord = new Fjord({ dir });
  try {
    const producer = fjord.producer();
    await producer.connect();
    let start = now();
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < messages.length; i += SEND_BATCH) {
      sends.push(producer.send({ topic: 'bench', acks: 1, compression: codec, messages: messages.slice(i, i + SEND_BATCH) }));
    }
    await Promise.all(sends);
    const produceMs = msSince(start);
    await producer.disconnect();
    const log = (await fjord.topics()).get('bench').partition(0).log;
    const segmentBytes = log.segments().reduce((sum, segment) => sum + segment.size, 0);

    const consumer = fjord.consumer({ groupId: `g-${dir}` });
    await consumer.connect();
    await consumer.subscribe({ topic: 'bench', fromBeginning: true });
    let done!: () => void;
    const all = new Promise<void>((resolve) => (done = resolve));
    let touched = 0;
    start = now();
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) touched += m.value![0]!;
        if (Number(batch.lastOffset()) === messages.length - 1) done();
      },
    });
    await all;
    const consumeMs = msSince(start);
    await consumer.disconnect();
    if (touched === 0) throw new Error('no value read');
    return { produceMs, consumeMs, segmentBytes };
  } finally {
    await fjord.close();
  }
}

const startedAt = new Date();
const work = makeWorkDir('fjord-codecs-bench-');
const sameFilesystem = onProjectFilesystem(work.path);
console.error(banner('codecs', quick, work.path, sameFilesystem));
noteMissingGc('pass');
const messages = makeRecords(RECORDS);
const payloadBytes = messages.reduce((sum, m) => sum + Buffer.byteLength(m.key as string) + Buffer.byteLength(m.value as string), 0);
const volume = { records: RECORDS, payloadBytes };
console.error(`${whole(RECORDS)} records of ${VALUE_BYTES} B values, ${(payloadBytes / MiB).toFixed(1)} MiB of keys and values, ${PASSES} pass(es) per codec`);

const rows: Record<string, unknown>[] = [];
console.log('| codec | produce MB/s | produce records/s | consume MB/s | consume records/s | on disk / payload |');
console.log('|---|---|---|---|---|---|');
for (const [name, codec] of Object.entries(CODECS)) {
  const passes: { ms: number; consumeMs: number; segmentBytes: number }[] = [];
  for (let p = 0; p < PASSES; p++) {
    gc?.();
    const result = await pass(work.freshPath(name), messages, codec);
    passes.push({ ms: result.produceMs, consumeMs: result.consumeMs, segmentBytes: result.segmentBytes });
  }
  const produce = throughput(volume, passes);
  const consume = throughput(
    volume,
    passes.map((p) => ({ ms: p.consumeMs })),
  );
  const ratio = passes[0]!.segmentBytes / payloadBytes;
  rows.push({
    codec: name,
    produce: { ...produce, median: undefined },
    consume: { ...consume, median: undefined },
    segmentBytes: passes[0]!.segmentBytes,
    ratio,
  });
  console.log(
    `| ${name} | ${produce.mbPerSec.toFixed(0)} | ${whole(produce.recordsPerSec)} | ${consume.mbPerSec.toFixed(0)} | ${whole(consume.recordsPerSec)} | ${ratio.toFixed(3)} |`,
  );
}
const path = writeResults('codecs', startedAt, quick, sameFilesystem, { records: RECORDS, valueBytes: VALUE_BYTES, payloadBytes, passes: PASSES, rows });
console.error(`results: ${path}`);
