/**
 * The live progress line on a terminal: phase, percent done, current bandwidth and IOPS, eta.
 * Drawn in place with a carriage return; only when the report goes to a terminal in the human format.
 */
import { PHASE, PHASE_NAMES, PROGRESS_FIELDS } from './loop';
import { JobSpec } from './options';
import { formatEta, humanNumber } from './units';

export function progressWanted(stream: { isTTY?: boolean }, formats: readonly string[]): boolean {
  return stream.isTTY === true && !formats.some((f) => f.startsWith('json'));
}

const DRAW_INTERVAL_MS = 500;

export class ProgressLine {
  private readonly started = Date.now();
  private lastDraw = 0;
  private lastBytes = [0, 0, 0];
  private lastIos = [0, 0, 0];
  private drawn = false;

  /** clones[i] is the spec of the job whose progress is in slot i. */
  constructor(private readonly clones: JobSpec[], private readonly stream: { write(s: string): unknown }) {}

  update(progress: Float64Array): void {
    const now = Date.now();
    if (now - this.lastDraw < DRAW_INTERVAL_MS) return;
    const secs = this.lastDraw === 0 ? (now - this.started) / 1000 : (now - this.lastDraw) / 1000;
    this.lastDraw = now;
    this.stream.write(`\r${this.line(progress, secs, now)}\x1b[K`);
    this.drawn = true;
  }

  /** Builds the line; rates are over the last `secs` seconds. */
  line(progress: Float64Array, secs: number, now = Date.now()): string {
    const bytes = [0, 0, 0];
    const ios = [0, 0, 0];
    const states = new Map<string, number>();
    let minFraction = 1;
    let running = 0;
    let phase = Infinity;
    this.clones.forEach((spec, i) => {
      const base = i * PROGRESS_FIELDS;
      const p = progress[base];
      for (let d = 0; d < 3; d++) {
        bytes[d] += progress[base + 2 + d];
        ios[d] += progress[base + 5 + d];
      }
      if (p !== PHASE.done) running++;
      if (p !== 0 && p < phase) phase = p;
      minFraction = Math.min(minFraction, progress[base + 1]);
      const c = stateChar(spec, p);
      states.set(c, (states.get(c) ?? 0) + 1);
    });
    // Rates from the deltas since the last draw (the counters reset when ramp time ends).
    // A counter that went down was reset at the end of ramp time: count from zero again.
    const rate = (now: number[], last: number[], d: number) =>
      (now[d] >= last[d] ? now[d] - last[d] : now[d]) / Math.max(secs, 1e-3);
    const bw = [0, 1, 2].map((d) => rate(bytes, this.lastBytes, d));
    const iops = [0, 1, 2].map((d) => rate(ios, this.lastIos, d));
    this.lastBytes = bytes;
    this.lastIos = ios;
    const letters = ['r', 'w', 't'];
    const active = [0, 1, 2].filter((d) => this.clones.some((s) => dirsOf(s).includes(d)));
    const bwText = active.map((d) => `${letters[d]}=${humanNumber(bw[d], 1024, 'B/s')}`).join(',');
    const iopsText = active.map((d) => `${letters[d]}=${humanNumber(iops[d], 1000)}`).join(',');
    const elapsed = (now - this.started) / 1000;
    const eta = minFraction > 0 ? (elapsed * (1 - minFraction)) / minFraction : 0;
    const stateText = [...states].map(([c, n]) => `${c}(${n})`).join(',');
    // The earliest phase any job is in; "setup" until every job has started.
    const phaseName = this.clones.some((_, i) => progress[i * PROGRESS_FIELDS] === 0) ? 'setup' : PHASE_NAMES[phase === Infinity ? PHASE.done : phase];
    return `Jobs: ${running} (f=${running}): [${stateText}][${phaseName}][${(minFraction * 100).toFixed(1)}%][${bwText}][${iopsText} IOPS][eta ${formatEta(eta)}]`;
  }

  /** Removes the line before the report is printed. */
  clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}

function dirsOf(spec: JobSpec): number[] {
  if (spec.rw === 'randrw' || spec.rw === 'readwrite') return [0, 1];
  if (spec.rw.includes('trim')) return [2];
  return spec.rw.includes('write') ? [1] : [0];
}

function stateChar(spec: JobSpec, phase: number): string {
  switch (phase) {
    case PHASE.ramp: return '/';
    case PHASE.verify: return 'V';
    case PHASE.done: return '_';
    case 0: return 'P'; // not started yet
  }
  const random = spec.rw.startsWith('rand');
  const dirs = dirsOf(spec);
  const c = dirs.length > 1 ? 'm' : ['r', 'w', 't'][dirs[0]];
  return random ? c : c.toUpperCase();
}
