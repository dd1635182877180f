#!/usr/bin/env node
// Prints the tables of one benchmark results file as Markdown, so the figures
// in docs/benchmarks.md are copied from a file, never typed from memory.
//
//   node scripts/bench-tables.mjs bench/results/<date>.json                   # an `npm run bench` sweep
//   node scripts/bench-tables.mjs bench/results/<date>.json --partitions 1    # produce rows of 1 partition only
//   node scripts/bench-tables.mjs bench/results/micro-<date>.json             # an `npm run bench:micro` run
//
// The sweep's tables come from the bench's own formatting (bench/sweep/report.ts,
// compiled to dist/ by `npm install` or `npm run build:ts`).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { partitions: { type: 'string' } } });
if (positionals.length !== 1) {
  console.error('usage: node scripts/bench-tables.mjs <bench/results/file.json> [--partitions N]');
  process.exit(2);
}
const file = positionals[0];
const results = JSON.parse(readFileSync(file, 'utf8'));
const whole = (n) => Math.round(n).toLocaleString('en-US');

if (Array.isArray(results.produce)) {
  const { consumeTable, produceTable, sizeLabel, targetsTable } = await import('../dist/bench/sweep/report.js');
  const partitions = values.partitions === undefined ? undefined : Number(values.partitions);
  const produce = results.produce.filter((r) => r.store !== 'fjord' || partitions === undefined || r.partitions === partitions);
  console.log(
    `${file}: \`npm run bench\`${results.quick ? ' --quick' : ''}, started ${results.startedAt}, ${whole(results.elapsedSeconds)} s; ${results.machine}\n`,
  );
  console.log(`Produce${partitions === undefined ? '' : ` (${partitions} partition${partitions === 1 ? '' : 's'})`}:\n`);
  console.log(produceTable(produce));
  console.log('\nConsume:\n');
  console.log(consumeTable(results.consume));
  const stores = [...new Set(results.peakRss.map((r) => r.store))];
  const sizes = [...new Set(results.peakRss.map((r) => r.valueBytes))];
  console.log('\nPeak RSS per store and size (MiB, all / anonymous):\n');
  console.log(`| size | ${stores.join(' | ')} |\n|---|${stores.map(() => '---:').join('|')}|`);
  for (const size of sizes) {
    const cells = stores.map((store) => {
      const r = results.peakRss.find((p) => p.store === store && p.valueBytes === size);
      return r === undefined ? '–' : `${r.peakRssMiB} / ${r.peakAnonRssMiB}`;
    });
    console.log(`| ${sizeLabel(size)} | ${cells.join(' | ')} |`);
  }
  console.log('\nTargets, as the run checked them:\n');
  console.log(targetsTable(results.targets));
} else if (Array.isArray(results.results) && results.results.every((r) => typeof r.group === 'string')) {
  console.log(
    `${file}: \`npm run bench:micro\`${results.quick ? ' --quick' : ''}, started ${results.startedAt}; ${results.cpu} × ${results.cores}, node ${results.node}\n`,
  );
  console.log(`| what | ns/op | ops/s | MB/s | ± |\n|---|---:|---:|---:|---:|`);
  for (const r of results.results) {
    const mb = r.mbPerSec > 0 ? whole(r.mbPerSec) : '–';
    console.log(`| ${r.name} | ${whole(r.nsPerOp)} | ${whole(r.opsPerSec)} | ${mb} | ${r.rmePercent.toFixed(1)}% |`);
  }
  console.log(`\nMB/s: ${results.settings.mbPerSec}.`);
} else {
  console.error(`${file}: not a results file of \`npm run bench\` or \`npm run bench:micro\``);
  process.exit(2);
}
