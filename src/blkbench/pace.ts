/**
 * Pacing of a job's requests, as fio's rate, rate_iops and thinktime options do: before a request in
 * a direction is issued, the loop asks how long to wait. Rates are per direction: the n-th request may
 * start once its bytes (or its count) fit under rate × elapsed time. Think time pauses the job after
 * every thinktime_blocks requests; the first thinktime_spin of it is busy-waited, as in fio.
 */
import type { JobLoopSpec } from '../lib/bench';

/** The pacing fields of a job (JobLoopSpec's; blkbench's JobSpec has them too). */
export type PaceOptions = Pick<JobLoopSpec, 'rate' | 'rateIops' | 'thinktimeNs' | 'thinktimeSpinNs' | 'thinktimeBlocks'>;

export class Pacer {
  readonly active: boolean;
  private readonly bytesPerMs: number[];
  private readonly iosPerMs: number[];
  private readonly bytes = [0, 0, 0];
  private readonly ios = [0, 0, 0];
  private start = 0;
  private readonly thinkMs: number;
  private readonly spinMs: number;
  private readonly thinkBlocks: number;
  private sinceThink = 0;
  private thinkUntil = 0;
  private spinUntil = 0;

  constructor(spec: PaceOptions) {
    const perMs = (r: PaceOptions['rate']) => [r?.read ?? 0, r?.write ?? 0, r?.trim ?? 0].map((x) => x / 1000);
    this.bytesPerMs = perMs(spec.rate);
    this.iosPerMs = perMs(spec.rateIops);
    this.thinkMs = (spec.thinktimeNs ?? 0) / 1e6;
    this.spinMs = (spec.thinktimeSpinNs ?? 0) / 1e6;
    this.thinkBlocks = spec.thinktimeBlocks ?? 1;
    this.active = this.thinkMs > 0 || this.bytesPerMs.some((r) => r > 0) || this.iosPerMs.some((r) => r > 0);
  }

  /** Restarts the schedule (at the start of the measured phase). */
  begin(now: number): void {
    this.start = now;
    this.bytes.fill(0);
    this.ios.fill(0);
  }

  /** Milliseconds to wait before a request of `len` bytes in direction `dir` may be issued (0: now). */
  delay(dir: number, now: number): number {
    let until = this.thinkUntil;
    const b = this.bytesPerMs[dir];
    if (b > 0) until = Math.max(until, this.start + this.bytes[dir] / b);
    const i = this.iosPerMs[dir];
    if (i > 0) until = Math.max(until, this.start + this.ios[dir] / i);
    return until > now ? until - now : 0;
  }

  /** Whether the wait up to now should be a busy spin (thinktime_spin). */
  spinning(now: number): boolean {
    return now < this.spinUntil;
  }

  issued(dir: number, len: number, now: number): void {
    this.bytes[dir] += len;
    this.ios[dir]++;
    if (this.thinkMs > 0 && ++this.sinceThink >= this.thinkBlocks) {
      this.sinceThink = 0;
      this.thinkUntil = now + this.thinkMs;
      this.spinUntil = now + this.spinMs;
    }
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Sleeps this thread (the job's loop thread) for ms milliseconds, or spins when asked to. With the
 * shared stop word, the sleep ends early when it is set and notified (a signal, exitall).
 */
export function pause(ms: number, spin: boolean, stop?: Int32Array): void {
  if (ms <= 0) return;
  if (spin) {
    const end = performance.now() + ms;
    while (performance.now() < end) { /* busy, as fio's thinktime_spin */ }
    return;
  }
  if (stop) Atomics.wait(stop, 0, 0, ms);
  else Atomics.wait(sleeper, 0, 0, ms);
}
