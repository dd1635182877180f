// Disk an idle partition takes: creates a topic of 20 partitions (Kafka's
// default segment.bytes and segment.index.bytes) in a new data directory,
// and prints `du` of it while they are open and after close.
//
//   npm run build:ts && node scripts/idle-partition-disk.mjs [parent-dir]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { Fjord } from '../dist/src/index.js';

const dir = mkdtempSync(join(process.argv[2] ?? process.cwd(), 'fjord-du-'));
const kib = () => Number(execFileSync('du', ['-sk', dir]).toString().split('\t')[0]);
try {
  const fjord = new Fjord({ dir });
  const admin = fjord.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'idle', numPartitions: 20 }] });
  const open = kib();
  await admin.disconnect();
  await fjord.close();
  console.log(`20 open partitions: ${open} KiB (du -sk); after close: ${kib()} KiB`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
