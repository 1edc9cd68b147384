/**
 * fio's terse output, version 3: one line per job, fields separated by ';', in the order of fio's
 * HOWTO ("terse_version_3;fio_version;jobname;groupid;error;read_kb;…"): read and write status
 * (v3 has no trim block), CPU, I/O depths, latency buckets, then one block per disk.
 * Latencies are in microseconds, bandwidths in KiB/s.
 */
import { DEFAULT_PERCENTILES, LatencyHistogram } from './histogram';
import { BLKBENCH_VERSION, latencyDistribution } from './report-json';
import { DirectionResult, JobResult, statsView } from './results';

const PERCENTILE_FIELDS = 20;

export function terseReport(results: JobResult[], disks: DiskLine[] = []): string {
  return results.map((r) => terseLine(r, results, disks)).join('\n') + '\n';
}

/** One disk's utilization fields (disk_util). */
export interface DiskLine {
  name: string;
  readIos: number;
  writeIos: number;
  readMerges: number;
  writeMerges: number;
  readTicks: number;
  writeTicks: number;
  inQueue: number;
  utilPercent: number;
}

function terseLine(r: JobResult, all: JobResult[], disks: DiskLine[]): string {
  const f: string[] = ['3', BLKBENCH_VERSION, r.name, String(r.groupid), String(r.error)];
  for (const d of ['read', 'write'] as const) {
    const groupKib = all.reduce((a, x) => a + kib(x.dirs[d], x.runtimeNs), 0);
    f.push(...directionFields(r.dirs[d], r.runtimeNs, groupKib));
  }
  const pct = (ns: number) => (r.runtimeNs > 0 ? (100 * ns) / r.runtimeNs : 0);
  f.push(`${pct(r.cpu.usrNs).toFixed(6)}%`, `${pct(r.cpu.sysNs).toFixed(6)}%`, String(r.cpu.ctx), String(r.cpu.majf), String(r.cpu.minf));
  const levels = r.depth.level;
  const totalLevels = levels.reduce((a, b) => a + b, 0);
  for (const c of levels) f.push(`${(totalLevels > 0 ? (100 * c) / totalLevels : 0).toFixed(1)}%`);
  const dist = latencyDistribution(r);
  // fio's microsecond buckets fold the nanosecond ones into "<=2us".
  const usBuckets = Object.values(dist.us);
  const nsTotal = Object.values(dist.ns).reduce((a, b) => a + b, 0);
  usBuckets[0] += nsTotal;
  for (const v of usBuckets) f.push(`${v.toFixed(2)}%`);
  for (const v of Object.values(dist.ms)) f.push(`${v.toFixed(2)}%`);
  for (const d of disks) {
    f.push(d.name, String(d.readIos), String(d.writeIos), String(d.readMerges), String(d.writeMerges), String(d.readTicks),
      String(d.writeTicks), String(d.inQueue), `${d.utilPercent.toFixed(2)}%`);
  }
  return f.join(';');
}

function kib(d: DirectionResult, runtimeNs: number): number {
  return runtimeNs > 0 ? d.bytes / 1024 / (runtimeNs / 1e9) : 0;
}

function directionFields(d: DirectionResult, runtimeNs: number, groupKib: number): string[] {
  const active = d.ios > 0 && runtimeNs > 0;
  const secs = runtimeNs / 1e9;
  const us = (ns: number) => ns / 1000;
  const lat = statsView(d.lat);
  const slat = statsView(d.slat ?? { n: 0, mean: 0, m2: 0, min: 0, max: 0 });
  const clat = statsView(d.clat ?? d.lat);
  const f: string[] = [
    String(Math.floor(d.bytes / 1024)),
    String(active ? Math.floor(d.bytes / 1024 / secs) : 0),
    String(active ? Math.floor(d.ios / secs) : 0),
    String(active ? Math.round(runtimeNs / 1e6) : 0),
    String(Math.floor(us(slat.min))), String(Math.floor(us(slat.max))), us(slat.mean).toFixed(6), us(slat.stddev).toFixed(6),
    String(Math.floor(us(clat.min))), String(Math.floor(us(clat.max))), us(clat.mean).toFixed(6), us(clat.stddev).toFixed(6),
  ];
  const values = d.ios > 0 ? new LatencyHistogram(d.hist).percentiles(DEFAULT_PERCENTILES) : DEFAULT_PERCENTILES.map(() => 0);
  for (let i = 0; i < PERCENTILE_FIELDS; i++) {
    if (i < DEFAULT_PERCENTILES.length) f.push(`${DEFAULT_PERCENTILES[i].toFixed(6)}%=${Math.floor(us(values[i]))}`);
    else f.push('0%=0');
  }
  f.push(String(Math.floor(us(lat.min))), String(Math.floor(us(lat.max))), us(lat.mean).toFixed(6), us(lat.stddev).toFixed(6));
  const bw = statsView(d.bw);
  const bwKib = active ? d.bytes / 1024 / secs : 0;
  f.push(String(Math.floor(bw.min)), String(Math.floor(bw.max)), `${(groupKib > 0 ? (100 * bwKib) / groupKib : 0).toFixed(6)}%`,
    bw.mean.toFixed(6), bw.stddev.toFixed(6));
  return f;
}
