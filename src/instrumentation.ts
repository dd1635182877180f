// KafkaJS-style instrumentation events: `{ id, type, timestamp, payload }`,
// listened to with `client.on(type, listener)`, which returns a remover. A
// listener that throws or returns a rejecting promise is logged, as KafkaJS
// logs it ("Failed to execute listener"), and never reaches the code that
// emitted the event nor the event loop.
import { EventEmitter } from 'node:events';

import type { Logger } from './logger.js';

export interface InstrumentationEvent<T = unknown> {
  id: number;
  type: string;
  timestamp: number;
  payload: T;
}

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
