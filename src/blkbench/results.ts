/**
 * What one job measured, in a plain form that crosses worker threads (structured clone), and how
 * jobs are merged for group reporting (sums, merged histograms and merged running stats).
 */
import type { SteadyStateReport } from './steadystate';
import { DIRECTIONS, Direction, JobSpec } from './options';
import { LatencyHistogram, PLAT_BUCKETS } from './histogram';
import { RunningStats, StatsSnapshot } from './stats';
import type { SwitchSummary } from './switch-report';

export interface DirectionResult {
  ios: number;
  bytes: number;
  /** Total latency (fio's lat: prepared → completed) in ns; clat alone where slat was not measured. */
  lat: StatsSnapshot;
  /** Submission (prepared → submitted) and completion (submitted → completed) latency, when measured apart. */
  slat?: StatsSnapshot;
  clat?: StatsSnapshot;
  /** Completion latency histogram (fio's clat percentiles). */
  hist: Float64Array;
  /** Total and submission latency histograms (fio's lat_percentiles and slat_percentiles). */
  totalHist?: Float64Array;
  slatHist?: Float64Array;
  /** Bandwidth samples in KiB/s and IOPS samples, one per sampling interval. */
  bw: StatsSnapshot;
  iops: StatsSnapshot;
  /** Requests the peer sent that never arrived (ioengine=net over UDP: fio's drop_ios). */
  drops?: number;
}

export interface CpuUsage {
  usrNs: number;
  sysNs: number;
  ctx: number;
  majf: number;
  minf: number;
}

/** fio's depth histograms: 7 buckets each (see DEPTH_KEYS / BATCH_KEYS). */
export interface DepthCounts {
  level: number[];
  submit: number[];
  complete: number[];
}

export interface JobResult {
  name: string;
  /** How many jobs were merged into this one (group reporting). */
  jobs: number;
  groupid: number;
  spec: JobSpec;
  runtimeNs: number;
  elapsedNs: number;
  dirs: Record<Direction, DirectionResult>;
  cpu: CpuUsage;
  depth: DepthCounts;
  /** 0, or a positive errno as fio reports it. */
  error: number;
  errorMessage: string | null;
  verifiedBlocks: number;
  /** Which job loop ran, and why not the native one when it was asked for. */
  loop?: 'native' | 'js';
  loopNote?: string;
  /** Request errors counted and passed over (continue_on_error). */
  ignoredErrors?: number;
  /** zonemode=zbd: zones reset during the run (fio's nr_zone_resets). */
  zoneResets?: number;
  /** blkbench_switch_to: the switches and each backend's share. */
  switching?: SwitchSummary;
  /** ss: fio's steady-state object (its group's with group_reporting). */
  steadystate?: SteadyStateReport;
}

export const DEPTH_KEYS = ['1', '2', '4', '8', '16', '32', '>=64'];
export const BATCH_KEYS = ['0', '4', '8', '16', '32', '64', '>=64'];

export function depthBucket(depth: number): number {
  if (depth >= 64) return 6;
  if (depth <= 1) return 0;
  return 31 - Math.clz32(depth); // 2-3 → 1, 4-7 → 2, …, 32-63 → 5
}

export function batchBucket(n: number): number {
  if (n <= 0) return 0;
  if (n > 64) return 6;
  return Math.max(1, 32 - Math.clz32(n - 1) - 1); // 1-4 → 1, 5-8 → 2, 9-16 → 3, 17-32 → 4, 33-64 → 5
}

export function emptyStats(): StatsSnapshot {
  return new RunningStats().snapshot();
}

export function emptyDirection(): DirectionResult {
  return { ios: 0, bytes: 0, lat: emptyStats(), hist: new Float64Array(PLAT_BUCKETS), bw: emptyStats(), iops: emptyStats() };
}

/** Merges jobs of one group into one result named after the first, as fio's group_reporting does. */
export function mergeResults(results: JobResult[]): JobResult {
  const first = results[0];
  const merged: JobResult = {
    ...first,
    jobs: 0,
    runtimeNs: 0,
    elapsedNs: 0,
    dirs: { read: emptyDirection(), write: emptyDirection(), trim: emptyDirection() },
    cpu: { usrNs: 0, sysNs: 0, ctx: 0, majf: 0, minf: 0 },
    depth: { level: new Array(7).fill(0), submit: new Array(7).fill(0), complete: new Array(7).fill(0) },
    error: 0,
    errorMessage: null,
    verifiedBlocks: 0,
    // A switching job's switches are its own: a group of several jobs has none to show.
    switching: results.length === 1 ? first.switching : undefined,
  };
  let cpuRuntime = 0;
  for (const r of results) {
    merged.jobs += r.jobs;
    merged.runtimeNs = Math.max(merged.runtimeNs, r.runtimeNs);
    merged.elapsedNs = Math.max(merged.elapsedNs, r.elapsedNs);
    cpuRuntime += r.runtimeNs;
    for (const d of DIRECTIONS) mergeDirection(merged.dirs[d], r.dirs[d]);
    for (const k of ['usrNs', 'sysNs', 'ctx', 'majf', 'minf'] as const) merged.cpu[k] += r.cpu[k];
    for (let i = 0; i < 7; i++) {
      merged.depth.level[i] += r.depth.level[i];
      merged.depth.submit[i] += r.depth.submit[i];
      merged.depth.complete[i] += r.depth.complete[i];
    }
    if (merged.error === 0 && r.error !== 0) {
      merged.error = r.error;
      merged.errorMessage = r.errorMessage;
    }
    merged.verifiedBlocks += r.verifiedBlocks;
  }
  // CPU percentages are per job runtime; scale the sums so usr/sys stay "average per job".
  const scale = cpuRuntime > 0 ? merged.runtimeNs / cpuRuntime : 1;
  merged.cpu.usrNs *= scale;
  merged.cpu.sysNs *= scale;
  return merged;
}

function mergeDirection(into: DirectionResult, from: DirectionResult): void {
  into.ios += from.ios;
  if (from.drops) into.drops = (into.drops ?? 0) + from.drops;
  into.bytes += from.bytes;
  const lat = RunningStats.from(into.lat);
  lat.merge(from.lat);
  into.lat = lat.snapshot();
  for (const k of ['slat', 'clat'] as const) {
    const f = from[k];
    if (!f) continue;
    const s = into[k] ? RunningStats.from(into[k]!) : new RunningStats();
    s.merge(f);
    into[k] = s.snapshot();
  }
  const h = new LatencyHistogram(into.hist);
  h.merge(new LatencyHistogram(from.hist));
  for (const k of ['totalHist', 'slatHist'] as const) {
    const f = from[k];
    if (!f) continue;
    const t = new LatencyHistogram(into[k] ?? new Float64Array(PLAT_BUCKETS));
    t.merge(new LatencyHistogram(f));
    into[k] = t.counts;
  }
  // Group bandwidth samples: fio sums per-interval samples across jobs; without aligned intervals,
  // the sum of the jobs' means is the honest aggregate, with the spread of the first job's samples.
  into.bw = sumSampleStats(into.bw, from.bw);
  into.iops = sumSampleStats(into.iops, from.iops);
}

function sumSampleStats(a: StatsSnapshot, b: StatsSnapshot): StatsSnapshot {
  if (a.n === 0) return { ...b };
  if (b.n === 0) return { ...a };
  return {
    n: Math.min(a.n, b.n),
    mean: a.mean + b.mean,
    m2: a.m2 + b.m2,
    min: a.min + b.min,
    max: a.max + b.max,
  };
}

/** Stats view of a snapshot with fio's conventions (empty → zeros). */
export function statsView(s: StatsSnapshot): { min: number; max: number; mean: number; stddev: number; n: number } {
  if (s.n === 0) return { min: 0, max: 0, mean: 0, stddev: 0, n: 0 };
  return { min: s.min, max: s.max, mean: s.mean, stddev: s.n > 1 ? Math.sqrt(s.m2 / (s.n - 1)) : 0, n: s.n };
}
