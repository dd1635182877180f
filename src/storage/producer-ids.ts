// Producer ids for idempotent producers, handed out by the store from a
// counter kept in the data directory (native/store/src/producer_ids.rs): never
// the same id twice, across restarts and across the threads of a process.
import { fromNative } from '../errors.js';
import { native } from './native.js';

/** A new producer id for the data directory `dir`, at least `floor` (one past the largest id its logs hold). */
export function allocateProducerId(dir: string, floor: number): number {
  try {
    return native.allocateProducerId(dir, floor);
  } catch (error) {
    throw fromNative(error);
  }
}
