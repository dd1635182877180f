// The end of a bench consumer's run: the handler calls finish() when it has
// seen what it waits for, fail() when it sees something wrong; a consumer
// crash fails it too. `ended` resolves either way; check() throws the failure.
import type { Consumer } from '../../src/index.js';

export class ConsumerRun {
  readonly ended: Promise<void>;
  #finish!: () => void;
  #failure: unknown = null;

  constructor(consumer: Consumer) {
    this.ended = new Promise<void>((resolve) => (this.#finish = resolve));
    consumer.on(consumer.events.CRASH, (event) => this.fail((event as { payload: { error: unknown } }).payload.error));
  }

  get failed(): boolean {
    return this.#failure !== null;
  }

  finish(): void {
    this.#finish();
  }

  /** Keeps the first failure. */
  fail(error: unknown): void {
    this.#failure ??= error;
    this.#finish();
  }

  check(): void {
    if (this.#failure !== null) throw this.#failure;
  }
}
