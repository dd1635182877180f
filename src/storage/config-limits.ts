// The segment store's one table of setting limits (native/store/src/config.rs),
// read through the addon: topic configs and log options are checked against
// the bounds and defaults the store itself enforces.
import type { ConfigLimit } from '../../native/binding.js';
import { native } from './native.js';

const limits = new Map(native.configLimits().map((limit) => [limit.name, limit]));

/** Bounds (inclusive) and default of a numeric setting the store checks, by Kafka config name. */
export function storeConfigLimit(name: string): ConfigLimit {
  const limit = limits.get(name);
  if (limit === undefined) throw new Error(`fjord: the native store has no limit for ${name}; known: ${[...limits.keys()].join(', ')}`);
  return limit;
}
