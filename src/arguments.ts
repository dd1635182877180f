// Checks of user-supplied arguments shared by the clients and the store layer.
import { InvalidArgumentError } from './errors.js';

/** A short description of a bad value for an error message. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return String(value);
  return Object.prototype.toString.call(value);
}

/** An optional integer option of at least `min`; `fallback` when absent. */
export function integerOption(value: unknown, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    const wanted = min === 0 ? 'a non-negative integer' : `an integer >= ${min}`;
    throw new InvalidArgumentError(`${name} must be ${wanted}, got ${describeValue(value)}`);
  }
  return value;
}

/** An optional boolean option; `fallback` when absent. */
export function booleanOption(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new InvalidArgumentError(`${name} must be true or false, got ${describeValue(value)}`);
  return value;
}

/**
 * A KafkaJS boolean option, read as KafkaJS reads it: by truthiness (`'true'`
 * and `1` are true, `0`, `''` and `null` false); `fallback` when absent.
 */
export function kafkaJsFlag(value: unknown, fallback: boolean): boolean {
  return value === undefined ? fallback : Boolean(value);
}

/** An optional function option; `fallback` when absent. */
export function functionOption<F extends (...args: never[]) => unknown>(value: unknown, name: string, fallback: F): F {
  if (value === undefined) return fallback;
  if (typeof value !== 'function') throw new InvalidArgumentError(`${name} must be a function, got ${describeValue(value)}`);
  return value as F;
}
