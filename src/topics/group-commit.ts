// Group commit: callers that need durability share fsyncs. A caller that
// arrives while a flush runs cannot count on it (its append may have come
// after the flush collected its files), so it joins the next flush, which
// starts as soon as the running one ends and covers everyone who waited.
export class GroupCommit {
  #running: Promise<void> | null = null;
  #queued: Promise<void> | null = null;
  /** fsyncs completed; for tests and stats. */
  flushes = 0;

  constructor(private readonly flush: () => Promise<void>) {}

  /** Resolves once everything appended before this call is on disk. */
  sync(): Promise<void> {
    if (this.#running === null) return this.#start();
    this.#queued ??= this.#running
      .catch(() => undefined)
      .then(() => {
        this.#queued = null;
        return this.#start();
      });
    return this.#queued;
  }

  #start(): Promise<void> {
    const run: Promise<void> = this.flush().then(
      () => {
        this.flushes++;
        if (this.#running === run) this.#running = null;
      },
      (error: unknown) => {
        if (this.#running === run) this.#running = null;
        throw error;
      },
    );
    this.#running = run;
    return run;
  }
}
