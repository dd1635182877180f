// KafkaJS-style instrumentation events: `{ id, type, timestamp, payload }`,
// listened to with `client.on(type, listener)`, which returns a remover. A
// listener that throws or returns a rejecting promise is logged, as KafkaJS
// logs it ("Failed to execute listener"), and never reaches the code that
// emitted the event nor the event loop.
import { EventEmitter } from 'node:events';

import { InvalidArgumentError } from './errors.js';
import type { Logger } from './logger.js';

export interface InstrumentationEvent<T = unknown> {
  id: number;
  type: string;
  timestamp: number;
  payload: T;
}

/**
 * KafkaJS's check of `client.on(name)`: a name that is not one of the
 * client's events is refused with KafkaJS's message (its
 * KafkaJSNonRetriableError; Fjord's InvalidArgumentError).
 */
export function checkEventName(client: 'consumer' | 'producer' | 'admin', events: Record<string, string>, name: unknown): void {
  if (typeof name === 'string' && Object.values(events).includes(name)) return;
  throw new InvalidArgumentError(
    `Event name should be one of ${Object.keys(events)
      .map((key) => `${client}.events.${key}`)
      .join(', ')}`,
  );
}

/** KafkaJS's network events: accepted by `on()` as KafkaJS accepts them, never emitted (Fjord has no network). */
export const networkEvents = <C extends string>(client: C) =>
  ({
    REQUEST: `${client}.network.request`,
    REQUEST_TIMEOUT: `${client}.network.request_timeout`,
    REQUEST_QUEUE_SIZE: `${client}.network.request_queue_size`,
  }) as const;

export class Instrumentation {
  readonly #emitter = new EventEmitter();
  #nextId = 0;

  /** `logger` gets the listeners' failures (the client's logger, e.g. namespace `Consumer`). */
  constructor(private readonly logger: Logger) {}

  emit(type: string, payload: unknown): void {
    this.#emitter.emit(type, { id: this.#nextId++, type, timestamp: Date.now(), payload } satisfies InstrumentationEvent);
  }

  on(type: string, listener: (event: unknown) => unknown): () => void {
    const guarded = (event: unknown) => {
      try {
        const result = listener(event);
        if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') {
          Promise.resolve(result).catch((error: unknown) => this.#failed(type, error));
        }
      } catch (error) {
        this.#failed(type, error);
      }
    };
    this.#emitter.on(type, guarded);
    return () => this.#emitter.off(type, guarded);
  }

  #failed(eventName: string, error: unknown): void {
    const e = error instanceof Error ? error : new Error(String(error));
    this.logger.error(`Failed to execute listener: ${e.message}`, { eventName, stack: e.stack });
  }
}
