// Topic configs: Kafka's names, defaults and value rules. Values arrive as
// strings (KafkaJS's `configEntries`) and are kept as strings, as Kafka does.
import { describeValue } from '../arguments.js';
import { InvalidConfigError } from '../errors.js';
import { storeConfigLimit } from '../storage/config-limits.js';
import type { LogOptions } from '../storage/log.js';

const LONG_MAX = '9223372036854775807';

interface ConfigDef {
  default: string;
  /** Checks a value; returns a message when it is bad. */
  check: (value: string) => string | undefined;
  /** Accepted and reported, but Fjord does nothing with it (single node, no replication). */
  inert?: boolean;
}

function integer(min: number, max = Number.MAX_SAFE_INTEGER, allowLongMax = false) {
  return (value: string): string | undefined => {
    if (allowLongMax && value === LONG_MAX) return undefined;
    if (!/^-?\d+$/.test(value)) return `must be an integer, got ${JSON.stringify(value)}`;
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min || n > max) return `must be in [${min}, ${max}], got ${value}`;
    return undefined;
  };
}

function oneOf(...values: string[]) {
  return (value: string): string | undefined => (values.includes(value) ? undefined : `must be one of ${values.join(', ')}, got ${JSON.stringify(value)}`);
}

const anything = (): undefined => undefined;
const INT_MAX = 2 ** 31 - 1;

/** A config the segment store checks: bounds and default from its table (native/store/src/config.rs). */
function storeChecked(name: string, allowLongMax = false): ConfigDef {
  const { min, max, default: value } = storeConfigLimit(name);
  return { default: String(value), check: integer(min, max, allowLongMax) };
}

const definitions: Record<string, ConfigDef> = {
  'cleanup.policy': {
    default: 'delete',
    check: (v) =>
      v === 'delete'
        ? undefined
        : ['compact', 'compact,delete', 'delete,compact'].includes(v)
          ? `${v} is not supported yet: Fjord deletes by retention only (cleanup.policy=delete)`
          : `must be delete (compact is not supported yet), got ${JSON.stringify(v)}`,
  },
  'retention.ms': { default: '604800000', check: integer(-1, Number.MAX_SAFE_INTEGER, true) },
  'retention.bytes': { default: '-1', check: integer(-1, Number.MAX_SAFE_INTEGER, true) },
  'segment.bytes': storeChecked('segment.bytes'),
  'segment.ms': storeChecked('segment.ms', true),
  'segment.index.bytes': storeChecked('segment.index.bytes'),
  'index.interval.bytes': storeChecked('index.interval.bytes'),
  'max.message.bytes': storeChecked('max.message.bytes'),
  'message.timestamp.type': { default: 'CreateTime', check: oneOf('CreateTime', 'LogAppendTime') },
  'flush.messages': { default: LONG_MAX, check: integer(1, Number.MAX_SAFE_INTEGER, true) },
  'flush.ms': { default: LONG_MAX, check: integer(0, Number.MAX_SAFE_INTEGER, true) },
  // Kafka topic configs Fjord accepts so that existing admin code runs, but does not act on.
  'compression.type': { default: 'producer', check: oneOf('producer', 'uncompressed', 'gzip', 'snappy', 'lz4', 'zstd') },
  'min.insync.replicas': { default: '1', check: integer(1, INT_MAX), inert: true },
  'unclean.leader.election.enable': { default: 'false', check: oneOf('true', 'false'), inert: true },
  'delete.retention.ms': { default: '86400000', check: integer(0, Number.MAX_SAFE_INTEGER, true), inert: true },
  'file.delete.delay.ms': { default: '60000', check: integer(0, Number.MAX_SAFE_INTEGER, true), inert: true },
  'min.compaction.lag.ms': { default: '0', check: integer(0, Number.MAX_SAFE_INTEGER, true), inert: true },
  'max.compaction.lag.ms': { default: LONG_MAX, check: integer(1, Number.MAX_SAFE_INTEGER, true), inert: true },
  'min.cleanable.dirty.ratio': {
    default: '0.5',
    check: (v) => (/^(0(\.\d+)?|1(\.0+)?)$/.test(v) ? undefined : `must be a number in [0, 1], got ${JSON.stringify(v)}`),
    inert: true,
  },
  preallocate: { default: 'false', check: oneOf('true', 'false'), inert: true },
  'segment.jitter.ms': { default: '0', check: integer(0, Number.MAX_SAFE_INTEGER, true), inert: true },
  'message.timestamp.difference.max.ms': { default: LONG_MAX, check: integer(0, Number.MAX_SAFE_INTEGER, true), inert: true },
  'message.downconversion.enable': { default: 'true', check: oneOf('true', 'false'), inert: true },
  'leader.replication.throttled.replicas': { default: '', check: anything, inert: true },
  'follower.replication.throttled.replicas': { default: '', check: anything, inert: true },
};

export type TopicConfigs = Record<string, string>;

export const topicConfigNames = Object.keys(definitions);

/** Checks overrides (name → string value) and returns them normalised. */
export function validateTopicConfigs(entries: unknown): TopicConfigs {
  if (!Array.isArray(entries)) throw new InvalidConfigError(`configEntries must be an array of { name, value }, got ${describeValue(entries)}`);
  const out: TopicConfigs = {};
  for (const entry of entries as unknown[]) {
    if (entry === null || typeof entry !== 'object') throw new InvalidConfigError(`a config entry must be { name, value }, got ${describeValue(entry)}`);
    const { name, value } = entry as { name: unknown; value: unknown };
    if (typeof name !== 'string' || !(name in definitions)) {
      throw new InvalidConfigError(`unknown topic config ${describeValue(name)}; known: ${topicConfigNames.join(', ')}`);
    }
    const text = typeof value === 'number' || typeof value === 'bigint' ? String(value) : value;
    if (typeof text !== 'string') throw new InvalidConfigError(`topic config ${name} must be a string, got ${describeValue(value)}`);
    const problem = definitions[name]!.check(text.trim());
    if (problem !== undefined) throw new InvalidConfigError(`topic config ${name} ${problem}`);
    out[name] = text.trim();
  }
  return out;
}

export function configDefault(name: string): string {
  const def = definitions[name];
  if (def === undefined) throw new InvalidConfigError(`unknown topic config ${JSON.stringify(name)}`);
  return def.default;
}

/** The effective value of a config: the override, else Kafka's default. */
export function configValue(overrides: TopicConfigs, name: string): string {
  return overrides[name] ?? configDefault(name);
}

/** A numeric config; Long.MAX_VALUE (Kafka's "never") reads as Infinity. */
export function numericConfig(overrides: TopicConfigs, name: string): number {
  const value = configValue(overrides, name);
  return value === LONG_MAX ? Infinity : Number(value);
}

/**
 * The codec a topic's `compression.type` imposes on what is written to it,
 * as a CompressionTypes number, or -1 for `producer` (the default): keep the
 * producer's. As Kafka's broker, which recompresses to the topic's codec.
 */
export function topicCompression(overrides: TopicConfigs): number {
  const value = configValue(overrides, 'compression.type');
  if (value === 'producer') return -1;
  return value === 'uncompressed' ? 0 : ['none', 'gzip', 'snappy', 'lz4', 'zstd'].indexOf(value);
}

/** What the segment store of each partition needs from the topic's configs. */
export function logOptionsFor(overrides: TopicConfigs): LogOptions {
  return {
    segmentBytes: numericConfig(overrides, 'segment.bytes'),
    segmentMs: Math.min(numericConfig(overrides, 'segment.ms'), Number.MAX_SAFE_INTEGER),
    segmentIndexBytes: numericConfig(overrides, 'segment.index.bytes'),
    indexIntervalBytes: numericConfig(overrides, 'index.interval.bytes'),
    maxMessageBytes: numericConfig(overrides, 'max.message.bytes'),
    messageTimestampType: configValue(overrides, 'message.timestamp.type') as 'CreateTime' | 'LogAppendTime',
  };
}

export function isInertConfig(name: string): boolean {
  return definitions[name]?.inert === true;
}
