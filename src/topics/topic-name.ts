import { describeValue } from '../arguments.js';
import { InvalidTopicError } from '../errors.js';

const LEGAL = /^[a-zA-Z0-9._-]+$/;
export const MAX_TOPIC_NAME_LENGTH = 249;

/** Kafka's rules for a topic name; throws `InvalidTopicError` saying which one broke. */
export function validateTopicName(name: unknown): string {
  if (typeof name !== 'string') throw new InvalidTopicError(`topic name must be a string, got ${describeValue(name)}`);
  if (name.length === 0) throw new InvalidTopicError('topic name is empty');
  if (name === '.' || name === '..') throw new InvalidTopicError(`topic name cannot be "${name}"`);
  if (name.length > MAX_TOPIC_NAME_LENGTH) {
    throw new InvalidTopicError(`topic name is ${name.length} characters, more than ${MAX_TOPIC_NAME_LENGTH}: ${name.slice(0, 40)}...`);
  }
  if (!LEGAL.test(name)) {
    throw new InvalidTopicError(`topic name ${JSON.stringify(name)} has characters other than ASCII letters, digits, '.', '_' and '-'`);
  }
  return name;
}
