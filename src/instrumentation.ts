// KafkaJS-style instrumentation events: `{ id, type, timestamp, payload }`,
// listened to with `client.on(type, listener)`, which returns a remover.
import { EventEmitter } from 'node:events';

export interface InstrumentationEvent<T = unknown> {
  id: number;
  type: string;
  timestamp: number;
  payload: T;
}

export class Instrumentation {
  readonly #emitter = new EventEmitter();
  #nextId = 0;

  emit(type: string, payload: unknown): void {
    this.#emitter.emit(type, { id: this.#nextId++, type, timestamp: Date.now(), payload } satisfies InstrumentationEvent);
  }

  on(type: string, listener: (event: unknown) => void): () => void {
    this.#emitter.on(type, listener);
    return () => this.#emitter.off(type, listener);
  }
}
