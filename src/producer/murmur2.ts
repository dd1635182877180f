// Kafka-exact key hashing: a port of Apache Kafka's Java client
// `org.apache.kafka.common.utils.Utils.murmur2` / `toPositive`, so a keyed
// record lands on the same partition Apache Kafka's producer would pick.
//
// All arithmetic is 32-bit: `Math.imul` for the multiplications (Java's int
// `*=` wraps the same way), `>>>` for Java's unsigned right shift, and `| 0`
// to bring every intermediate back to a signed int32.

import { InvalidArgumentError } from '../errors.js';

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

/**
 * MurmurHash2 of `key`, bit-for-bit as Apache Kafka's Java `Utils.murmur2`:
 * seed 0x9747b28c, m 0x5bd1e995, r 24, h = seed ^ length; 4-byte blocks read
 * little-endian; the 3/2/1 tail bytes fall through to `h *= m`; final mixes
 * `h ^= h >>> 13; h *= m; h ^= h >>> 15`.
 *
 * Returns the signed 32-bit result, the same value Java returns (e.g.
 * `murmur2(Buffer.from('21')) === -973932308`). Allocates nothing.
 */
export function murmur2(key: Uint8Array): number {
  const length = key.length;
  let h = (SEED ^ length) | 0;
  const length4 = length >>> 2;

  for (let i = 0; i < length4; i++) {
    const i4 = i << 2;
    let k = key[i4]! | (key[i4 + 1]! << 8) | (key[i4 + 2]! << 16) | (key[i4 + 3]! << 24) | 0;
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }

  // Tail: Java's switch falls through from case 3 to case 1; each branch below is one of its cases.
  const tail = length & ~3;
  const rest = length & 3;
  if (rest === 3) h ^= key[tail + 2]! << 16;
  if (rest >= 2) h ^= key[tail + 1]! << 8;
  if (rest >= 1) {
    h ^= key[tail]!;
    h = Math.imul(h, M);
  }

  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * Kafka's `Utils.toPositive`: clears the sign bit (`n & 0x7fffffff`). This is
 * a mask, not `Math.abs`: `toPositive(-1) === 0x7fffffff`,
 * `toPositive(-2147483648) === 0`.
 */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}

/**
 * The partition Apache Kafka's producer picks for a non-null key:
 * `toPositive(murmur2(key)) % numPartitions`. `numPartitions` is the topic's
 * total partition count (Kafka does not restrict keyed records to partitions
 * that currently have a leader). Allocates nothing.
 *
 * @throws InvalidArgumentError if `numPartitions` is not a positive integer.
 */
export function partitionForKey(key: Uint8Array, numPartitions: number): number {
  if (!Number.isInteger(numPartitions) || numPartitions <= 0 || numPartitions > 0x7fffffff) {
    throw new InvalidArgumentError(`numPartitions must be a positive integer, got ${String(numPartitions)}`);
  }
  return toPositive(murmur2(key)) % numPartitions;
}
