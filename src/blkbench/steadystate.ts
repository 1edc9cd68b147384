/**
 * fio's steady-state detection (ss, ss_dur, ss_ramp): once a second, a job's IOPS and bandwidth over
 * that second go into a window of ss_dur samples; when the window is full and its criterion is below
 * the limit, the job is stopped. The criterion is the window's largest distance from its mean (iops,
 * bw) or its least-squares slope (iops_slope, bw_slope), absolute or in percent of the mean. With
 * group_reporting the group is judged as one (its jobs' rates added up) and stopped together.
 *
 * Like fio's helper thread, this runs beside the job loops, on the main thread, from the counters the
 * loops publish (both loops publish the same), so neither loop has anything to do per request.
 */
import type { JobSpec } from './options';
import { OptionError, badValue, parseSize } from './units';

export interface SteadyStateSpec {
  metric: 'iops' | 'bw';
  slope: boolean;
  /** The limit: IOPS, bytes/s (a slope's per second), or percent of the window's mean. */
  limit: number;
  percent: boolean;
}

/** fio's ss=iops|iops_slope|bw|bw_slope:LIMIT[%] (a bw limit without % is a size per second). */
export function parseSteadyState(text: string): SteadyStateSpec {
  const m = /^\s*(iops|iops_slope|bw|bw_slope)\s*:\s*(.+?)\s*$/i.exec(text);
  if (!m) throw badValue('steadystate', text, 'iops, iops_slope, bw or bw_slope, then :LIMIT or :LIMIT%');
  const kind = m[1].toLowerCase();
  const metric = kind.startsWith('iops') ? 'iops' : 'bw';
  const slope = kind.endsWith('_slope');
  const value = m[2];
  const percent = value.endsWith('%');
  let limit: number;
  if (percent || metric === 'iops') {
    limit = Number(percent ? value.slice(0, -1).trim() : value);
    if (value.trim() === '%' || !Number.isFinite(limit) || limit < 0) throw badValue('steadystate', text, 'a limit of 0 or more');
  } else {
    limit = parseSize('steadystate', value);
  }
  return { metric, slope, limit, percent };
}

/** fio's JSON "steadystate" object. */
export interface SteadyStateReport {
  ss: string;
  duration: number;
  attained: number;
  criterion: string;
  max_deviation: number;
  slope: number;
  data: { bw_mean: number; iops_mean: number; iops: number[]; bw: number[] };
}

/** The rolling window of one job, or of one group with group_reporting. */
export class SteadyStateWindow {
  private readonly iops: number[] = [];
  private readonly bw: number[] = [];
  private deviation = 0;
  private slopeValue = 0;
  private criterion = 0;
  attained = false;

  constructor(readonly spec: SteadyStateSpec, readonly seconds: number) {}

  /** Adds one second's IOPS and bytes/s; true when the full window meets the criterion. */
  add(iops: number, bw: number): boolean {
    this.iops.push(iops);
    this.bw.push(bw);
    if (this.iops.length > this.seconds) {
      this.iops.shift();
      this.bw.shift();
    }
    if (this.iops.length < this.seconds) return false;
    const y = this.spec.metric === 'iops' ? this.iops : this.bw;
    const n = y.length;
    const mean = y.reduce((a, v) => a + v, 0) / n;
    let value: number;
    if (this.spec.slope) {
      // Least squares over x = 0..n-1, one sample a second.
      const xMean = (n - 1) / 2;
      let sxy = 0;
      let sxx = 0;
      y.forEach((v, x) => {
        sxy += (x - xMean) * (v - mean);
        sxx += (x - xMean) ** 2;
      });
      this.slopeValue = sxx > 0 ? sxy / sxx : 0;
      value = this.slopeValue;
    } else {
      this.deviation = Math.max(...y.map((v) => Math.abs(v - mean)));
      value = this.deviation;
    }
    this.criterion = this.spec.percent ? (mean > 0 ? (100 * value) / mean : Infinity) : value;
    if (Math.abs(this.criterion) < this.spec.limit) this.attained = true;
    return this.attained;
  }

  report(): SteadyStateReport {
    const pad = (a: number[]) => [...a, ...new Array(this.seconds - a.length).fill(0)].map(Math.trunc);
    const iops = pad(this.iops);
    const bw = pad(this.bw);
    const mean = (a: number[]) => Math.trunc(a.reduce((s, v) => s + v, 0) / this.seconds);
    const pct = this.spec.percent ? '%' : '';
    return {
      ss: `${this.spec.metric}${this.spec.slope ? '_slope' : ''}:${this.spec.limit.toFixed(6)}${pct}`,
      duration: this.seconds,
      attained: this.attained ? 1 : 0,
      criterion: `${Number.isFinite(this.criterion) ? this.criterion.toFixed(6) : 'inf'}${pct}`,
      max_deviation: this.deviation,
      slope: this.slopeValue,
      data: { bw_mean: mean(bw), iops_mean: mean(iops), iops, bw },
    };
  }
}

/** A job clone the monitor watches: its spec and its slot in the shared progress array. */
export interface WatchedClone {
  spec: JobSpec;
  jobIndex: number;
}

/** Offsets in a progress slot (loop.ts PROGRESS_FIELDS): bytes r/w/t at 2..4, requests r/w/t at 5..7. */
const BYTES = 2;
const IOS = 5;
const TICK_MS = 1000;

/**
 * Watches clones that run together. tick() is called often (every progress interval); once a second
 * it samples each clone's counters, and stops the clones (stopClone) whose window is steady.
 */
export class SteadyStateMonitor {
  private readonly windows: Array<SteadyStateWindow | undefined>;
  private readonly prev: Array<{ bytes: number; ios: number }>;
  private readonly startedMs: number;
  private lastMs: number;

  private constructor(
    private readonly clones: WatchedClone[], private readonly progress: Float64Array,
    private readonly stopClone: (i: number) => void, nowMs: number,
  ) {
    // One window per job clone, or one shared by a reporting group's clones.
    const byGroup = new Map<number, SteadyStateWindow>();
    this.windows = clones.map(({ spec }) => {
      if (spec.ssDurNs < 1e9) return undefined; // fio counts whole seconds: less is off
      const make = () => new SteadyStateWindow(spec.steadystate, Math.floor(spec.ssDurNs / 1e9));
      if (!spec.groupReporting) return make();
      if (!byGroup.has(spec.groupid)) byGroup.set(spec.groupid, make());
      return byGroup.get(spec.groupid);
    });
    this.prev = clones.map(() => ({ bytes: 0, ios: 0 }));
    this.startedMs = this.lastMs = nowMs;
  }

  /** A monitor for the clones that ask for steady-state detection, or undefined when none does. */
  static watch(clones: WatchedClone[], progress: Float64Array, stopClone: (i: number) => void, nowMs: number): SteadyStateMonitor | undefined {
    return clones.some((c) => c.spec.ssDurNs >= 1e9) ? new SteadyStateMonitor(clones, progress, stopClone, nowMs) : undefined;
  }

  tick(nowMs: number): void {
    const elapsed = nowMs - this.lastMs;
    if (elapsed < TICK_MS) return;
    this.lastMs = nowMs;
    const sums = new Map<SteadyStateWindow, { iops: number; bw: number; any: boolean }>();
    this.clones.forEach((c, i) => {
      const w = this.windows[i];
      const slot = c.jobIndex * 8;
      let bytes = 0;
      let ios = 0;
      for (let d = 0; d < 3; d++) {
        bytes += this.progress[slot + BYTES + d];
        ios += this.progress[slot + IOS + d];
      }
      const prev = this.prev[i];
      // The counters restart from 0 when measuring starts (after ramp_time).
      const dBytes = bytes >= prev.bytes ? bytes - prev.bytes : bytes;
      const dIos = ios >= prev.ios ? ios - prev.ios : ios;
      this.prev[i] = { bytes, ios };
      if (!w || w.attained) return;
      // As fio: with ss_ramp, samples start one second after it; without, at once.
      if (c.spec.ssRampNs > 0 && nowMs - this.startedMs < c.spec.ssRampNs / 1e6 + 1000) return;
      const s = sums.get(w) ?? { iops: 0, bw: 0, any: false };
      s.iops += Math.trunc((1000 * dIos) / elapsed);
      s.bw += Math.trunc((1000 * dBytes) / elapsed);
      s.any = true;
      sums.set(w, s);
    });
    for (const [w, s] of sums) {
      if (!s.any || !w.add(s.iops, s.bw)) continue;
      this.windows.forEach((x, i) => x === w && this.stopClone(i));
    }
  }

  /** The clone's JSON "steadystate" object (its group's with group_reporting), or undefined. */
  reportFor(i: number): SteadyStateReport | undefined {
    return this.windows[i]?.report();
  }
}

/** fio's rule: jobs reported as one group judge steady state alike. */
export function checkSteadyStateGroups(specs: JobSpec[]): void {
  const seen = new Map<number, string>();
  for (const s of specs) {
    if (!s.groupReporting) continue;
    const key = JSON.stringify([s.ssDurNs >= 1e9 ? Math.floor(s.ssDurNs / 1e9) : 0, s.steadystate, s.ssRampNs]);
    const had = seen.get(s.groupid);
    if (had !== undefined && had !== key) {
      throw new OptionError(`job '${s.name}': steadystate options must be the same for every job of a reporting group (group_reporting)`);
    }
    seen.set(s.groupid, key);
  }
}
