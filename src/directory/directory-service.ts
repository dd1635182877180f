// Threads of one process that open the same data directory: one of them (the
// host) owns the topic metadata and the group coordinator; the others (guests)
// reach them through a BroadcastChannel named after the directory. Events go
// to every thread: metadata changed, group state changed, records appended
// (so a consumer in one thread wakes on a producer's append in another).
import { randomUUID } from 'node:crypto';
import { BroadcastChannel } from 'node:worker_threads';

import { deserializeError, NotConnectedError, serializeError, UnknownMemberIdError, type SerializedError } from '../errors.js';

export type ServiceEvent =
  | { type: 'metadata' }
  | { type: 'group'; groupId: string; state: string }
  | { type: 'append'; topic: string; partition: number }
  | { type: 'host-closed' };

type Message =
  | { kind: 'request'; id: number; from: string; method: string; args: unknown[] }
  | { kind: 'response'; id: number; to: string; value?: unknown; error?: SerializedError }
  | { kind: 'event'; from: string; event: ServiceEvent }
  | { kind: 'hello'; from: string; reply: boolean };

/** Buffers cross threads as plain Uint8Arrays; make them Buffers again, deeply. */
export function revive(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (Array.isArray(value)) return value.map(revive);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = revive(v);
    return out;
  }
  return value;
}

export class DirectoryService {
  readonly #channel: BroadcastChannel;
  readonly #id = randomUUID();
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  #nextId = 0;
  #handler: ((method: string, args: unknown[]) => Promise<unknown>) | null = null;
  /** Another thread is on this directory: events are worth sending. */
  hasPeers = false;
  #closed = false;

  constructor(
    readonly dir: string,
    private readonly onEvent: (event: ServiceEvent) => void,
    /** Called when the host did not answer in time (its thread may be gone). */
    private readonly onHostSilent: () => void = () => undefined,
    /** Where a failure with no caller to take it goes (an event handler that threw, a message that could not be posted). */
    private readonly onError: (error: unknown, context: string) => void = () => undefined,
  ) {
    this.#channel = new BroadcastChannel(`fjord:${dir}`);
    this.#channel.unref();
    this.#channel.onmessage = (message) => {
      try {
        this.#receive((message as { data: Message }).data);
      } catch (error) {
        this.onError(error, `handling a message on ${dir}`);
      }
    };
    this.#post({ kind: 'hello', from: this.#id, reply: false });
  }

  get isHost(): boolean {
    return this.#handler !== null;
  }

  /** Becomes the host: requests from other threads are answered by `handler`. */
  serve(handler: (method: string, args: unknown[]) => Promise<unknown>): void {
    this.#handler = handler;
  }

  /**
   * Calls the host. With `timeoutMs`, a call left unanswered is rejected with
   * `UnknownMemberIdError` (the coordinator that knew the member is gone) and
   * `onHostSilent` runs: a host thread torn down without closing says nothing.
   */
  call(method: string, args: unknown[], timeoutMs?: number): Promise<unknown> {
    if (this.#closed) return Promise.reject(new NotConnectedError(`data directory ${this.dir} is closed in this thread`));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = () => {
        clearTimeout(timer);
        this.#pending.delete(id);
        if (this.#pending.size === 0) this.#channel.unref();
      };
      this.#pending.set(id, {
        resolve: (value) => {
          settle();
          resolve(value);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.#pending.get(id)?.reject(new UnknownMemberIdError(`the thread hosting ${this.dir} did not answer ${method} within ${timeoutMs} ms: join again`));
          try {
            this.onHostSilent();
          } catch (error) {
            this.onError(error, `taking over ${this.dir} from a silent host`);
          }
        }, timeoutMs);
      }
      // A call waiting for its answer keeps the thread alive.
      if (this.#pending.size === 1) this.#channel.ref();
      try {
        this.#channel.postMessage({ kind: 'request', id, from: this.#id, method, args } satisfies Message);
      } catch (error) {
        // Arguments that cannot cross threads: the caller gets the error.
        this.#pending.get(id)?.reject(error as Error);
      }
    });
  }

  emit(event: ServiceEvent): void {
    if (this.hasPeers && !this.#closed) this.#post({ kind: 'event', from: this.#id, event });
  }

  /** Rejects calls in flight (their host is gone); the caller may then take over. */
  failPending(reason: Error): void {
    for (const { reject } of [...this.#pending.values()]) reject(reason);
  }

  close(): void {
    if (this.#closed) return;
    if (this.isHost) this.emit({ type: 'host-closed' });
    this.#closed = true;
    this.failPending(new NotConnectedError(`data directory ${this.dir} closed in this thread`));
    this.#channel.close();
  }

  /** Posts unless closed; a failure (a value that cannot be cloned) goes to `onError`. */
  #post(message: Message): void {
    if (this.#closed) return;
    try {
      this.#channel.postMessage(message);
    } catch (error) {
      this.onError(error, `posting a ${message.kind} on ${this.dir}`);
    }
  }

  /** Answers a request; an answer that cannot cross threads is answered with its error. */
  #respond(id: number, to: string, answer: { value: unknown } | { error: unknown }): void {
    if (this.#closed) return;
    try {
      if ('value' in answer) this.#channel.postMessage({ kind: 'response', id, to, value: answer.value } satisfies Message);
      else this.#channel.postMessage({ kind: 'response', id, to, error: serializeError(answer.error) } satisfies Message);
    } catch (error) {
      this.#post({ kind: 'response', id, to, error: serializeError(error) });
    }
  }

  #receive(message: Message): void {
    if (this.#closed) return;
    switch (message.kind) {
      case 'hello':
        if (message.from !== this.#id) {
          this.hasPeers = true;
          if (!message.reply) this.#post({ kind: 'hello', from: this.#id, reply: true }); // let the newcomer know we are here
        }
        return;
      case 'request': {
        this.hasPeers = true;
        const handler = this.#handler;
        if (handler === null) return;
        handler(message.method, revive(message.args) as unknown[]).then(
          (value) => this.#respond(message.id, message.from, { value }),
          (error: unknown) => this.#respond(message.id, message.from, { error }),
        );
        return;
      }
      case 'response': {
        if (message.to !== this.#id) return;
        const pending = this.#pending.get(message.id);
        if (pending === undefined) return;
        if (message.error !== undefined) pending.reject(deserializeError(message.error));
        else pending.resolve(revive(message.value));
        return;
      }
      case 'event':
        this.hasPeers = true;
        this.onEvent(message.event);
        return;
    }
  }
}
