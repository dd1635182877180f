import { quantile } from '../support.js';
import type { Quantiles } from './jobs.js';

export function quantiles(values: ArrayLike<number>): Quantiles {
  const sorted = Float64Array.from(values).sort();
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), p999: quantile(sorted, 0.999), max: sorted[sorted.length - 1] ?? NaN };
}
