// Group commit: callers that need durability share fsyncs. A flush covers
// every append made before it started. A caller joins the running flush when
// no append came after that flush started (so its own append did not either);
// otherwise it joins the next flush, which starts as soon as the running one
// ends and covers everyone who waited.
export class GroupCommit {
  #running: { promise: Promise<void>; covers: number } | null = null;
  #queued: Promise<void> | null = null;
  /** Appends noted so far; a flush covers those noted before it started. */
  #appends = 0;
  /** fsyncs completed; for tests and stats. */
  flushes = 0;

  constructor(private readonly flush: () => Promise<void>) {}

  /** Notes an append (Partition calls it for each): a later sync must wait for a flush that starts after it. */
  appended(): void {
    this.#appends++;
  }

  /** Resolves once everything appended before this call is on disk. */
  sync(): Promise<void> {
    const running = this.#running;
    if (running === null) return this.#start();
    if (running.covers === this.#appends) return running.promise;
    this.#queued ??= running.promise
      .catch(() => undefined)
      .then(() => {
        this.#queued = null;
        return this.#start();
      });
    return this.#queued;
  }

  #start(): Promise<void> {
    const covers = this.#appends;
    const promise: Promise<void> = this.flush().then(
      () => {
        this.flushes++;
        if (this.#running?.promise === promise) this.#running = null;
      },
      (error: unknown) => {
        if (this.#running?.promise === promise) this.#running = null;
        throw error;
      },
    );
    this.#running = { promise, covers };
    return promise;
  }
}
