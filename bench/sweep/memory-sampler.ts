// Peak resident memory of this process, all of it and anonymous only. The
// anonymous part (heap, buffers, native allocations) is what the memory
// target bounds; file pages of the mapped segments count in RSS but belong to
// the page cache, which the kernel reclaims.
import { readFileSync } from 'node:fs';

function anonRssKiB(): number {
  const match = /^RssAnon:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return match === null ? NaN : Number(match[1]);
}

export class MemorySampler {
  #peakAnonKiB = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(intervalMs = 20) {
    this.sample();
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
  }

  /** Also called between steps, as a synchronous store can keep the timer from running. */
  sample(): void {
    const anon = anonRssKiB();
    if (anon > this.#peakAnonKiB) this.#peakAnonKiB = anon;
  }

  stop(): { peakRssMiB: number; peakAnonRssMiB: number } {
    this.sample();
    clearInterval(this.#timer);
    return { peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024), peakAnonRssMiB: Math.round(this.#peakAnonKiB / 1024) };
  }
}
