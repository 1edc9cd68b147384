/**
 * fio's JSON schema (as written by fio 3.33) for everything blkbench measures, so that tools reading
 * fio's JSON read blkbench's. json+ adds clat_ns.bins: bucket midpoint → count.
 *
 * The native job loop takes fio's clock points: slat (preparation → submission returned), clat (→ reap),
 * lat (their sum, with percentiles as fio's lat_percentiles=1). The JS loop times each request from its
 * submission to its completion only: that is clat, slat is empty (N=0) and lat equals clat.
 */
import { switchJson } from './switch-report';
import { DEFAULT_PERCENTILES, LatencyHistogram, bucketValue, PLAT_BUCKETS } from './histogram';
import { DIRECTIONS } from './options';
import { BATCH_KEYS, DEPTH_KEYS, DirectionResult, JobResult, emptyStats, statsView } from './results';
import type { StatsSnapshot } from './stats';

export const BLKBENCH_VERSION = 'blkbench-0.1.0';

const LAT_NS_KEYS = [2, 4, 10, 20, 50, 100, 250, 500, 750, 1000];
const LAT_MS_KEYS = [2, 4, 10, 20, 50, 100, 250, 500, 750, 1000, 2000];

export interface JsonOptions {
  plus: boolean;
  /** When the report was made (for timestamp fields). */
  now?: Date;
}

export function fioJsonReport(results: JobResult[], opts: JsonOptions): Record<string, unknown> {
  const now = opts.now ?? new Date();
  const groupBw = groupTotals(results);
  return {
    'fio version': BLKBENCH_VERSION,
    timestamp: Math.floor(now.getTime() / 1000),
    timestamp_ms: now.getTime(),
    time: ctime(now),
    jobs: results.map((r) => jobJson(r, opts.plus, groupBw)),
    disk_util: [],
  };
}

function groupTotals(results: JobResult[]): Record<string, number> {
  const t: Record<string, number> = { read: 0, write: 0, trim: 0 };
  for (const r of results) for (const d of DIRECTIONS) t[d] += kibPerSec(r.dirs[d], r.runtimeNs);
  return t;
}

function kibPerSec(d: DirectionResult, runtimeNs: number): number {
  return runtimeNs > 0 ? d.bytes / 1024 / (runtimeNs / 1e9) : 0;
}

function jobJson(r: JobResult, plus: boolean, groupBw: Record<string, number>): Record<string, unknown> {
  const runtimeMs = Math.round(r.runtimeNs / 1e6);
  const job: Record<string, unknown> = {
    jobname: r.name,
    groupid: r.groupid,
    error: r.error,
    eta: 0,
    elapsed: Math.round(r.elapsedNs / 1e9),
    'job options': r.spec.echo,
  };
  for (const d of DIRECTIONS) job[d] = directionJson(r.dirs[d], r.runtimeNs, plus, groupBw[d], r.spec);
  job.sync = { total_ios: 0, lat_ns: { min: 0, max: 0, mean: 0, stddev: 0, N: 0 } };
  job.job_runtime = runtimeMs;
  job.usr_cpu = r.runtimeNs > 0 ? (100 * r.cpu.usrNs) / r.runtimeNs : 0;
  job.sys_cpu = r.runtimeNs > 0 ? (100 * r.cpu.sysNs) / r.runtimeNs : 0;
  job.ctx = r.cpu.ctx;
  job.majf = r.cpu.majf;
  job.minf = r.cpu.minf;
  job.iodepth_level = percentMap(DEPTH_KEYS, r.depth.level);
  job.iodepth_submit = percentMap(BATCH_KEYS, r.depth.submit);
  job.iodepth_complete = percentMap(BATCH_KEYS, r.depth.complete);
  const dist = latencyDistribution(r);
  job.latency_ns = dist.ns;
  job.latency_us = dist.us;
  job.latency_ms = dist.ms;
  job.latency_depth = r.spec.iodepth;
  job.latency_target = 0;
  job.latency_percentile = 100.0;
  job.latency_window = 0;
  if (r.steadystate) job.steadystate = r.steadystate;
  if (r.loop) job.blkbench_loop = r.loop;
  if (r.loopNote) job.blkbench_loop_note = r.loopNote;
  if (r.verifiedBlocks > 0) job.verified_blocks = r.verifiedBlocks;
  if (r.switching) job.blkbench_switches = switchJson(r.switching);
  if (r.errorMessage) job.error_message = r.errorMessage;
  return job;
}

/** One direction of a job; `spec`'s *_percentiles options say which latencies get percentiles, as in fio. */
function directionJson(d: DirectionResult, runtimeNs: number, plus: boolean, groupKib: number, spec: JobResult['spec']): Record<string, unknown> {
  const secs = runtimeNs / 1e9;
  const active = d.ios > 0 && runtimeNs > 0;
  const clat = latencyJson(d.clat ?? d.lat, spec.clatPercentiles ? d.hist : undefined);
  if (plus && clat.percentile) {
    const bins: Record<string, number> = {};
    for (const [v, c] of new LatencyHistogram(d.hist).bins()) bins[String(v)] = c;
    clat.bins = bins;
  }
  const bw = statsView(d.bw);
  const iops = statsView(d.iops);
  const bwKib = active ? d.bytes / 1024 / secs : 0;
  return {
    io_bytes: d.bytes,
    io_kbytes: Math.floor(d.bytes / 1024),
    bw_bytes: active ? Math.round(d.bytes / secs) : 0,
    bw: Math.floor(bwKib),
    iops: active ? d.ios / secs : 0,
    runtime: active ? Math.round(runtimeNs / 1e6) : 0,
    total_ios: d.ios,
    short_ios: 0,
    drop_ios: d.drops ?? 0,
    slat_ns: latencyJson(d.slat ?? emptyStats(), spec.slatPercentiles ? d.slatHist : undefined),
    clat_ns: clat,
    lat_ns: latencyJson(d.lat, spec.latPercentiles ? d.totalHist : undefined),
    bw_min: Math.floor(bw.min),
    bw_max: Math.floor(bw.max),
    bw_agg: groupKib > 0 ? (100 * bwKib) / groupKib : 0,
    bw_mean: bw.mean,
    bw_dev: bw.stddev,
    bw_samples: bw.n,
    iops_min: Math.floor(iops.min),
    iops_max: Math.floor(iops.max),
    iops_mean: iops.mean,
    iops_stddev: iops.stddev,
    iops_samples: iops.n,
  };
}

/** A latency's stats, with fio's percentiles from its histogram when asked for and measured. */
function latencyJson(s: StatsSnapshot, hist: Float64Array | undefined): Record<string, unknown> {
  const v = statsView(s);
  const out: Record<string, unknown> = { min: v.min, max: v.max, mean: v.mean, stddev: v.stddev, N: v.n };
  if (hist && v.n > 0) {
    const values = new LatencyHistogram(hist).percentiles(DEFAULT_PERCENTILES);
    const pct: Record<string, number> = {};
    DEFAULT_PERCENTILES.forEach((p, i) => (pct[p.toFixed(6)] = values[i]));
    out.percentile = pct;
  }
  return out;
}

function percentMap(keys: string[], counts: number[]): Record<string, number> {
  const total = counts.reduce((a, b) => a + b, 0);
  const out: Record<string, number> = {};
  keys.forEach((k, i) => (out[k] = total > 0 ? (100 * counts[i]) / total : 0));
  return out;
}

export interface LatencyDistribution {
  ns: Record<string, number>;
  us: Record<string, number>;
  ms: Record<string, number>;
}

/**
 * fio's coarse latency table (percent of requests), from the histogram: a request of v ns falls under
 * the first key above it, in ns below 1 µs, in µs below 1 ms, then in ms up to ">=2000".
 */
export function latencyDistribution(r: JobResult): LatencyDistribution {
  const ns = new Array<number>(LAT_NS_KEYS.length).fill(0);
  const us = new Array<number>(LAT_NS_KEYS.length).fill(0);
  const ms = new Array<number>(LAT_MS_KEYS.length + 1).fill(0);
  let total = 0;
  for (const d of DIRECTIONS) {
    const counts = r.dirs[d].hist; // fio tabulates completion latency (nothing with disable_clat)
    for (let i = 0; i < PLAT_BUCKETS; i++) {
      const c = counts[i];
      if (c === 0) continue;
      total += c;
      const v = bucketValue(i);
      if (v < 1000) ns[firstAbove(LAT_NS_KEYS, v)] += c;
      else if (v < 1e6) us[firstAbove(LAT_NS_KEYS, v / 1000)] += c;
      else {
        const k = firstAbove(LAT_MS_KEYS, v / 1e6);
        ms[k < 0 ? LAT_MS_KEYS.length : k] += c;
      }
    }
  }
  const pct = (keys: Array<number | string>, counts: number[]) => {
    const o: Record<string, number> = {};
    keys.forEach((k, i) => (o[String(k)] = total > 0 ? (100 * counts[i]) / total : 0));
    return o;
  };
  return { ns: pct(LAT_NS_KEYS, ns), us: pct(LAT_NS_KEYS, us), ms: pct([...LAT_MS_KEYS, '>=2000'], ms) };
}

/** Index of the first key above v, or -1 when v is past them all. */
function firstAbove(keys: number[], v: number): number {
  for (let i = 0; i < keys.length; i++) if (v < keys[i]) return i;
  return -1;
}

/** C's ctime() layout, as in fio's "time" field: "Sat Nov 21 12:12:43 2026". */
export function ctime(d: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getDay()]} ${months[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${d.getFullYear()}`;
}

