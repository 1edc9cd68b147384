// Event-loop lag, the measure of "never blocks the loop" (not wall time).

/** Samples the event loop every millisecond; stop() gives the longest gap between samples, in ms. */
export class LoopLag {
  #last = performance.now();
  #max = 0;
  readonly #timer = setInterval(() => {
    const now = performance.now();
    this.#max = Math.max(this.#max, now - this.#last);
    this.#last = now;
  }, 1);

  /** Also counts the gap up to now: a blocked loop may have had no sample since. */
  stop(): number {
    clearInterval(this.#timer);
    return Math.max(this.#max, performance.now() - this.#last);
  }
}

// Measured 11-86 ms on a 2-core machine shared at load average 7-10 (timers
// and GC wait for the CPU); a call that blocks on a stalled device blocks
// for seconds (reply timeouts of 5 s, a quiesce of up to 5 s).
export const LAG_LIMIT_MS = 250;
