// KafkaJS's `retry` options and its backoff: the first wait is
// `initialRetryTime` randomized by ±`factor`; each next wait is the previous
// one randomized the same way, times `multiplier`, capped at `maxRetryTime`;
// after `retries` retries the attempt fails for good. The consumer's run loop
// retries a failing eachMessage / eachBatch this way (KafkaJS's runner does).
import { describeValue } from '../arguments.js';
import { InvalidArgumentError } from '../errors.js';

export interface RetryOptions {
  maxRetryTime?: number;
  initialRetryTime?: number;
  /** Randomization factor: a wait is within ±factor of its nominal time. */
  factor?: number;
  /** Growth of the wait from one retry to the next. */
  multiplier?: number;
  retries?: number;
  /** Asked after a crash whose error could be retried: resolve false to leave the consumer stopped (KafkaJS's consumer option). */
  restartOnFailure?: (error: Error) => Promise<boolean>;
}

export interface Backoff {
  maxRetryTime: number;
  initialRetryTime: number;
  factor: number;
  multiplier: number;
  retries: number;
  restartOnFailure: ((error: Error) => Promise<boolean>) | null;
}

/** KafkaJS's defaults (src/retry/defaults.js). */
export const RETRY_DEFAULTS = { maxRetryTime: 30_000, initialRetryTime: 300, factor: 0.2, multiplier: 2, retries: 5 } as const;

function nonNegative(value: unknown, name: string, fallback: number, integer: boolean): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    throw new InvalidArgumentError(`retry.${name} must be a non-negative ${integer ? 'integer' : 'number'}, got ${describeValue(value)}`);
  }
  return value;
}

/** Checks a consumer's `retry` option, KafkaJS's defaults filled in. */
export function backoffOptions(retry: unknown): Backoff {
  if (retry === undefined || retry === null) return { ...RETRY_DEFAULTS, restartOnFailure: null };
  if (typeof retry !== 'object') throw new InvalidArgumentError(`retry must be an object of KafkaJS retry options, got ${describeValue(retry)}`);
  const r = retry as RetryOptions;
  if (r.restartOnFailure !== undefined && typeof r.restartOnFailure !== 'function') {
    throw new InvalidArgumentError(`retry.restartOnFailure must be a function, got ${describeValue(r.restartOnFailure)}`);
  }
  return {
    maxRetryTime: nonNegative(r.maxRetryTime, 'maxRetryTime', RETRY_DEFAULTS.maxRetryTime, false),
    initialRetryTime: nonNegative(r.initialRetryTime, 'initialRetryTime', RETRY_DEFAULTS.initialRetryTime, false),
    factor: nonNegative(r.factor, 'factor', RETRY_DEFAULTS.factor, false),
    multiplier: nonNegative(r.multiplier, 'multiplier', RETRY_DEFAULTS.multiplier, false),
    retries: nonNegative(r.retries, 'retries', RETRY_DEFAULTS.retries, true),
    restartOnFailure: r.restartOnFailure ?? null,
  };
}

/** `retryTime` randomized within ±`factor`, rounded up (KafkaJS's randomFromRetryTime). */
export function randomized(factor: number, retryTime: number, random: () => number = Math.random): number {
  const delta = factor * retryTime;
  return Math.ceil(random() * 2 * delta + retryTime - delta);
}

/**
 * The retries of one run of attempts: `retryCount` retries made so far and
 * `retryTime`, the wait before the next one. `failed()` says how long to wait
 * before the next attempt, or null once `retries` retries were made.
 */
export class Retrier {
  retryCount = 0;
  retryTime: number;

  constructor(
    private readonly options: Backoff,
    private readonly random: () => number = Math.random,
  ) {
    this.retryTime = randomized(options.factor, options.initialRetryTime, random);
  }

  /** An attempt failed: the wait before the next one, or null when no retry is left (`retryCount` and `retryTime` then describe the last). */
  failed(): number | null {
    if (this.retryCount >= this.options.retries) return null;
    const wait = this.retryTime;
    this.retryCount++;
    this.retryTime = Math.min(randomized(this.options.factor, wait, this.random) * this.options.multiplier, this.options.maxRetryTime);
    return wait;
  }
}
