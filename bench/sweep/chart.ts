// The sweep's chart: throughput against record size, one line per store, as
// SVG rendered by Vega-Lite (no browser, no canvas): produce at acks 1 and at
// acks all with 64 senders, and consume, each on one partition. Vega and
// Vega-Lite are devDependencies: imported when a chart is drawn, and an
// installed fjord-bench without them skips the chart.
import type * as VegaLite from 'vega-lite';

import type { ConsumeResult, ProduceResult } from './jobs.js';

interface Point {
  panel: string;
  store: string;
  valueBytes: number;
  mbPerSec: number;
}

/** Whether vega and vega-lite can be imported here (they are devDependencies). */
export async function chartAvailable(): Promise<boolean> {
  try {
    await Promise.all([import('vega'), import('vega-lite')]);
    return true;
  } catch {
    return false;
  }
}

export async function renderChart(produce: readonly ProduceResult[], consume: readonly ConsumeResult[], subtitle: string): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const points: Point[] = [];
  const panels = ['produce, acks 1, 64 senders', 'produce, acks all, 64 senders', 'consume (eachBatch / read back)'];
  for (const row of produce) {
    if (row.senders !== 64 || row.partitions !== 1) continue;
    if (row.acks === 1) points.push({ panel: panels[0]!, store: row.store, valueBytes: row.valueBytes, mbPerSec: row.mbPerSec });
    if (row.acks === -1) {
      const store = row.store === 'floor' ? `floor, fdatasync ${row.floorSync === 'end' ? 'at the end' : 'per turn'}` : row.store;
      points.push({ panel: panels[1]!, store, valueBytes: row.valueBytes, mbPerSec: row.mbPerSec });
    }
  }
  for (const row of consume) if (row.partitions === 1) points.push({ panel: panels[2]!, store: row.store, valueBytes: row.valueBytes, mbPerSec: row.mbPerSec });

  const spec: VegaLite.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Fjord vs what a Node user would embed: MB/s of record values by record size', subtitle },
    data: { values: points },
    facet: { column: { field: 'panel', type: 'nominal', sort: panels, title: null } },
    spec: {
      width: 300,
      height: 260,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'valueBytes', type: 'quantitative', scale: { type: 'log' }, title: 'record value bytes' },
        y: { field: 'mbPerSec', type: 'quantitative', scale: { type: 'log' }, title: 'MB/s' },
        color: { field: 'store', type: 'nominal', title: 'store', legend: { labelLimit: 400 } },
      },
    },
    resolve: { scale: { y: 'shared' } },
    background: 'white',
  };
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}
