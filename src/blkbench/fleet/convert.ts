/**
 * blkbench's job results in fio's wire statistics and back: a blkbench server sends each reported
 * job as fio's thread_stat (so a fio client prints it as it prints a fio server's), and a blkbench
 * client turns every server's thread_stat into a job result (so its reports, and the "All clients"
 * merge, are the ones blkbench prints for local jobs).
 *
 * Units on the wire: latencies in ns, runtimes and CPU times in ms, bandwidth samples in KiB/s,
 * group bandwidths in bytes/s.
 */
import { DEFAULT_PERCENTILES, PLAT_BUCKETS, bucketValue } from '../histogram';
import { IoStat } from './layout';
import { DDIRS, GroupRunStats, LAT_CLAT, LAT_SLAT, LAT_TOTAL, PLAT_NR, ThreadStat } from './pdu';
import { DIRECTIONS, JobSpec } from '../options';
import { DirectionResult, JobResult, emptyDirection } from '../results';
import { StatsSnapshot } from '../stats';
import { DiskLine } from '../report-terse';
import { DiskUtilPdu } from './pdu';

const LAT_NS_EDGES = [2, 4, 10, 20, 50, 100, 250, 500, 750, 1000];
const LAT_MS_EDGES = [2, 4, 10, 20, 50, 100, 250, 500, 750, 1000, 2000];

function toIoStat(s: StatsSnapshot | undefined): IoStat {
  if (!s || s.n === 0) return { max: 0, min: Infinity, samples: 0, mean: 0, s: 0 };
  return { max: s.max, min: s.min, samples: s.n, mean: s.mean, s: s.m2 };
}

function fromIoStat(s: IoStat): StatsSnapshot {
  if (s.samples === 0) return { n: 0, mean: 0, m2: 0, min: Infinity, max: -Infinity };
  return { n: s.samples, mean: s.mean, m2: s.s, min: s.min, max: s.max };
}

/** fio's coarse latency counters (io_u_lat_n/u/m), counted from a histogram. */
function latencyCounters(hists: Float64Array[]): { n: number[]; u: number[]; m: number[] } {
  const n = new Array<number>(10).fill(0);
  const u = new Array<number>(10).fill(0);
  const m = new Array<number>(12).fill(0);
  const slot = (edges: number[], v: number) => {
    for (let i = 0; i < edges.length; i++) if (v < edges[i]) return i;
    return edges.length;
  };
  for (const h of hists) {
    for (let i = 0; i < PLAT_BUCKETS; i++) {
      const c = h[i];
      if (c === 0) continue;
      const v = bucketValue(i);
      if (v < 1000) n[slot(LAT_NS_EDGES, v)] += c;
      else if (v < 1e6) u[slot(LAT_NS_EDGES, v / 1000)] += c;
      else m[slot(LAT_MS_EDGES, v / 1e6)] += c;
    }
  }
  return { n, u, m };
}

/** One reported blkbench job as fio's thread_stat. */
export function resultToThreadStat(r: JobResult, threadNumber: number, pid: number): Partial<ThreadStat> {
  const dirs = DIRECTIONS.map((d) => r.dirs[d]);
  const plat = new Float64Array(3 * DDIRS * PLAT_NR);
  dirs.forEach((d, i) => {
    plat.set(d.hist.subarray(0, PLAT_NR), (LAT_CLAT * DDIRS + i) * PLAT_NR);
    if (d.totalHist) plat.set(d.totalHist.subarray(0, PLAT_NR), (LAT_TOTAL * DDIRS + i) * PLAT_NR);
    if (d.slatHist) plat.set(d.slatHist.subarray(0, PLAT_NR), (LAT_SLAT * DDIRS + i) * PLAT_NR);
  });
  const lat = latencyCounters(dirs.map((d) => d.hist)); // fio counts completion latency
  const runtimeMs = Math.round(r.runtimeNs / 1e6);
  const ios = dirs.map((d) => d.ios);
  const total = ios.reduce((a, b) => a + b, 0);
  return {
    name: r.name,
    verror: r.errorMessage ?? '',
    error: r.error,
    threadNumber,
    groupid: r.groupid,
    pid,
    description: '',
    members: r.jobs,
    clatStat: dirs.map((d) => toIoStat(d.clat ?? d.lat)),
    slatStat: dirs.map((d) => toIoStat(d.slat)),
    latStat: dirs.map((d) => toIoStat(d.lat)),
    bwStat: dirs.map((d) => toIoStat(d.bw)),
    iopsStat: dirs.map((d) => toIoStat(d.iops)),
    syncStat: toIoStat(undefined),
    usrTime: Math.round(r.cpu.usrNs / 1e6),
    sysTime: Math.round(r.cpu.sysNs / 1e6),
    ctx: r.cpu.ctx,
    minf: r.cpu.minf,
    majf: r.cpu.majf,
    clatPercentiles: r.spec.clatPercentiles ? 1 : 0,
    latPercentiles: r.spec.latPercentiles && dirs.some((d) => d.totalHist) ? 1 : 0,
    slatPercentiles: r.spec.slatPercentiles && dirs.some((d) => d.slatHist) ? 1 : 0,
    percentilePrecision: 2,
    percentileList: Float64Array.from(DEFAULT_PERCENTILES),
    ioUMap: Float64Array.from(r.depth.level),
    ioUSubmit: Float64Array.from(r.depth.submit),
    ioUComplete: Float64Array.from(r.depth.complete),
    ioULatN: Float64Array.from(lat.n),
    ioULatU: Float64Array.from(lat.u),
    ioULatM: Float64Array.from(lat.m),
    ioUPlat: plat,
    totalIoU: Float64Array.from([...ios, 0]),
    totalSubmit: total,
    totalComplete: total,
    ioBytes: Float64Array.from(dirs.map((d) => d.bytes)),
    runtime: Float64Array.from(dirs.map((d) => (d.ios > 0 ? runtimeMs : 0))),
    totalRunTime: runtimeMs,
    firstError: r.error,
    totalErrCount: r.ignoredErrors ?? 0,
    kbBase: 1024,
    unitBase: 4, // what fio 3.33 sends for its default unit (bytes)
    latencyDepth: r.spec.iodepth,
    latencyPercentile: 100,
    sigFigs: 4,
  };
}

/** fio's group_run_stats for one reporting group (runtimes in ms, bandwidths in bytes/s). */
export function groupStats(members: JobResult[], groupid: number): Partial<GroupRunStats> {
  const maxRun = [0, 0, 0];
  const minRun = [Infinity, Infinity, Infinity];
  const maxBw = [0, 0, 0];
  const minBw = [Infinity, Infinity, Infinity];
  const iobytes = [0, 0, 0];
  DIRECTIONS.forEach((d, i) => {
    for (const r of members) {
      const dir = r.dirs[d];
      if (dir.ios === 0) continue;
      const ms = Math.round(r.runtimeNs / 1e6);
      maxRun[i] = Math.max(maxRun[i], ms);
      minRun[i] = Math.min(minRun[i], ms);
      const bw = ms > 0 ? Math.round((dir.bytes * 1000) / ms) : 0; // per ms, as fio's group line
      maxBw[i] = Math.max(maxBw[i], bw);
      minBw[i] = Math.min(minBw[i], bw);
      iobytes[i] += dir.bytes;
    }
  });
  const agg = iobytes.map((b, i) => (maxRun[i] > 0 ? Math.round((b * 1000) / maxRun[i]) : 0));
  return {
    maxRun: Float64Array.from(maxRun),
    minRun: Float64Array.from(minRun),
    maxBw: Float64Array.from(maxBw),
    minBw: Float64Array.from(minBw),
    iobytes: Float64Array.from(iobytes),
    agg: Float64Array.from(agg),
    kbBase: 1024,
    unitBase: 4,
    sigFigs: 4,
    groupid,
  };
}

/** The options a report shows of a job it did not parse (a remote one). */
function remoteSpec(ts: ThreadStat, options: Record<string, string>): JobSpec {
  return {
    name: ts.name, iodepth: ts.latencyDepth, echo: options, groupReporting: false, verify: 'none',
    clatPercentiles: ts.clatPercentiles !== 0, latPercentiles: ts.latPercentiles !== 0, slatPercentiles: ts.slatPercentiles !== 0,
  } as unknown as JobSpec;
}

/** A server's thread_stat as a blkbench job result, so blkbench's reports and merges apply. */
export function threadStatToResult(ts: ThreadStat, options: Record<string, string> = {}): JobResult {
  const runtimeMs = Math.max(...Array.from(ts.runtime), 0);
  const dirs = {} as JobResult['dirs'];
  DIRECTIONS.forEach((d, i) => {
    const dir: DirectionResult = emptyDirection();
    dir.ios = ts.totalIoU[i];
    dir.bytes = ts.ioBytes[i];
    dir.lat = fromIoStat(ts.latStat[i]);
    dir.clat = fromIoStat(ts.clatStat[i]);
    if (ts.slatStat[i].samples > 0) dir.slat = fromIoStat(ts.slatStat[i]);
    dir.hist = Float64Array.from(ts.ioUPlat.subarray((LAT_CLAT * DDIRS + i) * PLAT_NR, (LAT_CLAT * DDIRS + i + 1) * PLAT_NR));
    if (ts.latPercentiles) {
      dir.totalHist = Float64Array.from(ts.ioUPlat.subarray((LAT_TOTAL * DDIRS + i) * PLAT_NR, (LAT_TOTAL * DDIRS + i + 1) * PLAT_NR));
    }
    if (ts.slatPercentiles) {
      dir.slatHist = Float64Array.from(ts.ioUPlat.subarray((LAT_SLAT * DDIRS + i) * PLAT_NR, (LAT_SLAT * DDIRS + i + 1) * PLAT_NR));
    }
    dir.bw = fromIoStat(ts.bwStat[i]);
    dir.iops = fromIoStat(ts.iopsStat[i]);
    dirs[d] = dir;
  });
  return {
    name: ts.name,
    jobs: Math.max(1, ts.members),
    groupid: ts.groupid,
    spec: remoteSpec(ts, options),
    runtimeNs: runtimeMs * 1e6,
    elapsedNs: runtimeMs * 1e6,
    dirs,
    cpu: { usrNs: ts.usrTime * 1e6, sysNs: ts.sysTime * 1e6, ctx: ts.ctx, majf: ts.majf, minf: ts.minf },
    depth: { level: Array.from(ts.ioUMap), submit: Array.from(ts.ioUSubmit), complete: Array.from(ts.ioUComplete) },
    error: ts.error,
    errorMessage: ts.error !== 0 ? ts.verror || null : null,
    verifiedBlocks: 0,
  };
}

/** A disk's counters over the run, as fio's disk util payload. */
export function diskLineToPdu(l: DiskLine, elapsedMs: number): DiskUtilPdu {
  return {
    name: l.name,
    ios: [l.readIos, l.writeIos],
    merges: [l.readMerges, l.writeMerges],
    sectors: [0, 0],
    ticks: [l.readTicks, l.writeTicks],
    ioTicks: Math.round((l.utilPercent * elapsedMs) / 100),
    timeInQueue: l.inQueue,
    msec: elapsedMs,
  };
}

export function pduToDiskLine(d: DiskUtilPdu): DiskLine {
  return {
    name: d.name,
    readIos: d.ios[0], readMerges: d.merges[0], readTicks: d.ticks[0],
    writeIos: d.ios[1], writeMerges: d.merges[1], writeTicks: d.ticks[1],
    inQueue: d.timeInQueue,
    utilPercent: d.msec > 0 ? Math.min(100, (100 * d.ioTicks) / d.msec) : 0,
  };
}
