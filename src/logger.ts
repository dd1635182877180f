// KafkaJS-style logging: `logLevel` and `logCreator` in the Fjord config, as
// in `new Kafka({ logLevel, logCreator })`. A log creator gets the level and
// returns a function that receives `{ namespace, level, label, log }`.

export const logLevel = { NOTHING: 0, ERROR: 1, WARN: 2, INFO: 4, DEBUG: 5 } as const;
export type LogLevel = (typeof logLevel)[keyof typeof logLevel];

export interface LogEntry {
  namespace: string;
  level: LogLevel;
  label: 'ERROR' | 'WARN' | 'INFO' | 'DEBUG';
  log: { message: string; timestamp: string; [extra: string]: unknown };
}

export type LogCreator = (level: LogLevel) => (entry: LogEntry) => void;

export interface Logger {
  error(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  debug(message: string, extra?: Record<string, unknown>): void;
  namespace(namespace: string): Logger;
}

/** The default: one line per entry on stderr, `fjord WARN [namespace] message`. */
export const stderrLogCreator: LogCreator = () => (entry) => {
  process.stderr.write(`fjord ${entry.label} [${entry.namespace}] ${entry.log.message}\n`);
};

const LABELS = [
  ['ERROR', logLevel.ERROR],
  ['WARN', logLevel.WARN],
  ['INFO', logLevel.INFO],
  ['DEBUG', logLevel.DEBUG],
] as const;

export function createLogger(level: LogLevel, creator: LogCreator, namespace = 'Fjord'): Logger {
  const write = creator(level);
  const at =
    (label: LogEntry['label'], entryLevel: LogLevel) =>
    (message: string, extra: Record<string, unknown> = {}) => {
      if (entryLevel > level) return;
      try {
        write({ namespace, level: entryLevel, label, log: { ...extra, message, timestamp: new Date().toISOString() } });
      } catch {
        // A log creator that throws has nowhere to report to; logging never fails the code that logs.
      }
    };
  const [error, warn, info, debug] = LABELS.map(([label, l]) => at(label, l)) as [Logger['error'], Logger['warn'], Logger['info'], Logger['debug']];
  return { error, warn, info, debug, namespace: (child) => createLogger(level, creator, child) };
}
