/**
 * The human report, laid out like fio's "normal" output so that people who read fio read it at once.
 */
import { switchLines } from './switch-report';
import { DEFAULT_PERCENTILES, LatencyHistogram } from './histogram';
import { DIRECTIONS, Direction, JobSpec } from './options';
import { BATCH_KEYS, DEPTH_KEYS, DirectionResult, JobResult, statsView } from './results';
import { BLKBENCH_VERSION, ctime, latencyDistribution } from './report-json';
import { humanNumber } from './units';
import type { SteadyStateReport } from './steadystate';
import type { StatsSnapshot } from './stats';

/** "job1: (g=0): rw=randread, bs=(R) 4096B-4096B, …, ioengine=io_uring, iodepth=32" */
export function jobHeaderLine(spec: JobSpec): string {
  const range = (d: Direction) => {
    const s = spec.bs[d].sizes;
    return `${Math.min(...s)}B-${Math.max(...s)}B`;
  };
  const extras = [`ioengine=${spec.driver}`, `iodepth=${spec.iodepth}`];
  if (spec.driver === 'io_uring') extras.push(`direct=${spec.direct ? 1 : 0}`, `invalidate=${spec.invalidate ? 1 : 0}`);
  return `${spec.name}: (g=${spec.groupid}): rw=${spec.rw}, bs=(R) ${range('read')}, (W) ${range('write')}, (T) ${range('trim')}, ${extras.join(', ')}`;
}

/** What fio prints before the jobs start. */
export function startBanner(specs: JobSpec[]): string {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const s of specs) {
    if (seen.has(s.name)) continue;
    seen.add(s.name);
    lines.push(jobHeaderLine(s));
    if (s.numjobs > 1) lines.push(`...`);
  }
  const threads = specs.reduce((a, s) => a + s.numjobs, 0);
  lines.push(BLKBENCH_VERSION, `Starting ${threads} thread${threads === 1 ? '' : 's'}`);
  return lines.join('\n') + '\n';
}

export function normalReport(results: JobResult[], all: JobResult[], now = new Date()): string {
  const out: string[] = [];
  // One block per reporting group (stonewall, new_group), in group order, as fio prints them.
  for (const g of [...new Set(results.map((r) => r.groupid))]) {
    const members = results.filter((r) => r.groupid === g);
    const groupKib = { read: 0, write: 0, trim: 0 };
    for (const r of members) for (const d of DIRECTIONS) groupKib[d] += kibPerSec(r.dirs[d], r.runtimeNs);
    // As fio, a job that issued nothing (one an exit_what=all job kept from starting) gets no block.
    for (const r of members) if (r.error !== 0 || DIRECTIONS.some((d) => r.dirs[d].ios > 0)) out.push(jobBlock(r, now, groupKib));
  }
  for (const g of [...new Set(all.map((r) => r.groupid))]) out.push(groupBlock(all.filter((r) => r.groupid === g), g));
  return out.join('\n');
}

function kibPerSec(d: DirectionResult, runtimeNs: number): number {
  return runtimeNs > 0 ? d.bytes / 1024 / (runtimeNs / 1e9) : 0;
}

function jobBlock(r: JobResult, now: Date, groupKib: Record<Direction, number>): string {
  const lines: string[] = [];
  const err = r.error === 0 ? 'err= 0' : `err=${String(r.error).padStart(2)} (${r.errorMessage ?? 'error'})`;
  lines.push(`${r.name}: (groupid=${r.groupid}, jobs=${r.jobs}): ${err}: pid=${process.pid}: ${ctime(now)}`);
  for (const d of DIRECTIONS) if (r.dirs[d].ios > 0) lines.push(...directionBlock(d, r.dirs[d], r.runtimeNs, groupKib[d], r.spec));
  lines.push(...latencyTableLines(r));
  const usr = r.runtimeNs > 0 ? (100 * r.cpu.usrNs) / r.runtimeNs : 0;
  const sys = r.runtimeNs > 0 ? (100 * r.cpu.sysNs) / r.runtimeNs : 0;
  if (r.loop) lines.push(`  loop         : ${r.loop}${r.loopNote ? ` (${r.loopNote})` : ''}`);
  lines.push(`  cpu          : usr=${usr.toFixed(2)}%, sys=${sys.toFixed(2)}%, ctx=${r.cpu.ctx}, majf=${r.cpu.majf}, minf=${r.cpu.minf}`);
  if (r.steadystate) lines.push(steadyStateLine(r.steadystate));
  lines.push(`  IO depths    : ${depthRow(DEPTH_KEYS, r.depth.level)}`);
  lines.push(`     submit    : ${depthRow(BATCH_KEYS, r.depth.submit)}`);
  lines.push(`     complete  : ${depthRow(BATCH_KEYS, r.depth.complete)}`);
  const ios = DIRECTIONS.map((d) => r.dirs[d].ios);
  lines.push(`     issued rwts: total=${ios.join(',')},0 short=0,0,0,0 dropped=0,0,0,0`);
  lines.push(`     latency   : target=0, window=0, percentile=100.00%, depth=${r.spec.iodepth}`);
  if (r.switching) lines.push(...switchLines(r.switching));
  if (r.verifiedBlocks > 0) {
    lines.push(`     verify    : ${r.verifiedBlocks} blocks checked (${r.spec.verify}), ${r.error === 84 ? 'FAILED' : 'all good'}`);
  }
  if (r.spec.zonemode === 'zbd') lines.push(`     zbd       : ${r.zoneResets ?? 0} zone resets`);
  return lines.join('\n') + '\n';
}

/** fio's steadystate line: attained, the window's means and the criterion it judged. */
function steadyStateLine(s: SteadyStateReport): string {
  const [kind, limit] = s.ss.split(':');
  const metric = kind.startsWith('iops') ? 'iops' : 'bw';
  const pct = limit.endsWith('%') ? '%' : '';
  const value = Number.parseFloat(s.criterion);
  const bw = s.data.bw_mean;
  return `  steadystate  : attained=${s.attained ? 'yes' : 'no'}, bw=${humanNumber(bw, 1024, 'B/s')} (${humanNumber(bw, 1000, 'B/s')}), ` +
    `iops=${humanNumber(s.data.iops_mean, 1000)}, ${metric}${kind.endsWith('_slope') ? ' slope' : ' mean dev'}=${Number.isFinite(value) ? value.toFixed(3) : s.criterion}${pct}`;
}

function directionBlock(name: Direction, d: DirectionResult, runtimeNs: number, groupKib: number, spec: JobResult['spec']): string[] {
  const secs = runtimeNs / 1e9;
  const bytesPerSec = secs > 0 ? d.bytes / secs : 0;
  const iops = secs > 0 ? d.ios / secs : 0;
  const lines = [
    `  ${name}: IOPS=${humanNumber(iops, 1000)}, BW=${humanNumber(bytesPerSec, 1024, 'B/s')} (${humanNumber(bytesPerSec, 1000, 'B/s')})` +
      `(${humanNumber(d.bytes, 1024, 'B')}/${Math.round(runtimeNs / 1e6)}msec)`,
  ];
  // As fio: a latency not measured (disable_*lat, gtod_reduce) has no line, percentiles only where asked for.
  const measures: Array<[string, StatsSnapshot | undefined, Float64Array | undefined, boolean]> = [
    ['slat', d.slat, d.slatHist, spec.slatPercentiles],
    ['clat', d.clat ?? d.lat, d.hist, spec.clatPercentiles],
    [' lat', d.lat, d.totalHist, spec.latPercentiles],
  ];
  for (const [label, stats] of measures) {
    const v = stats && statsView(stats);
    if (v && v.n > 0) lines.push(`    ${label} ${statsLine(v.min, v.max, v.mean, v.stddev)}`);
  }
  for (const [label, stats, hist, shown] of measures) {
    if (shown && hist && stats && stats.n > 0) lines.push(...percentileLines(new LatencyHistogram(hist), DEFAULT_PERCENTILES, label.trim()));
  }
  const bw = statsView(d.bw);
  if (bw.n > 0) {
    let unit = 0;
    const units = ['KiB/s', 'MiB/s', 'GiB/s', 'TiB/s'];
    let scale = 1;
    while (bw.mean / scale >= 10000 && unit < units.length - 1) { scale *= 1024; unit++; }
    const f = (v: number) => String(Math.floor(v / scale)).padStart(5);
    const per = groupKib > 0 ? (100 * kibPerSec(d, runtimeNs)) / groupKib : 0; // this job's share of its group
    lines.push(`   bw (${units[unit].padStart(7)}): min=${f(bw.min)}, max=${f(bw.max)}, per=${per.toFixed(2)}%, avg=${(bw.mean / scale).toFixed(2)}, stdev=${(bw.stddev / scale).toFixed(2)}, samples=${bw.n}`);
  }
  const io = statsView(d.iops);
  if (io.n > 0) {
    lines.push(`   iops        : min=${String(Math.floor(io.min)).padStart(5)}, max=${String(Math.floor(io.max)).padStart(5)}, avg=${io.mean.toFixed(2)}, stdev=${io.stddev.toFixed(2)}, samples=${io.n}`);
  }
  return lines;
}

/** "(nsec): min=281, max=3646.8k, avg=69725.54, stdev=75828.84", scaled to µs or ms when all values allow it. */
export function statsLine(min: number, max: number, mean: number, dev: number): string {
  let unit = 'nsec';
  for (const next of ['usec', 'msec']) {
    if (min > 1000 && max > 1000 && mean > 1000 && dev > 1000) {
      min /= 1000; max /= 1000; mean /= 1000; dev /= 1000;
      unit = next;
    } else break;
  }
  const n = (v: number) => humanNumber(Math.floor(v), 1000, '', 6);
  return `(${unit}): min=${n(min)}, max=${n(max)}, avg=${mean.toFixed(2)}, stdev=${dev.toFixed(2)}`;
}

/** The percentile block, four per row, in ns scaled to µs or ms when the values are large. */
export function percentileLines(h: LatencyHistogram, list = DEFAULT_PERCENTILES, label = 'clat'): string[] {
  if (h.total === 0) return [];
  const values = h.percentiles(list);
  const minv = Math.min(...values);
  const maxv = Math.max(...values);
  let unit = 'nsec';
  let div = 1;
  if (minv > 2_000_000 && maxv > 99_999_999) { unit = 'msec'; div = 1e6; } else if (minv > 2000 && maxv > 99_999) { unit = 'usec'; div = 1e3; }
  const entries = list.map((p, i) => `${p.toFixed(2).padStart(5)}th=[${String(Math.ceil(values[i] / div)).padStart(5)}]`);
  const lines = [`    ${label} percentiles (${unit}):`];
  for (let i = 0; i < entries.length; i += 4) {
    const more = i + 4 < entries.length;
    lines.push(`     | ${entries.slice(i, i + 4).join(', ')}${more ? ',' : ''}`);
  }
  return lines;
}

function latencyTableLines(r: JobResult): string[] {
  const dist = latencyDistribution(r);
  const lines: string[] = [];
  const emit = (label: string, table: Record<string, number>) => {
    const items = Object.entries(table).filter(([, v]) => v > 0).map(([k, v]) => `${k}=${v < 0.01 ? '0.01' : v.toFixed(2)}%`);
    for (let i = 0; i < items.length; i += 5) lines.push(`  lat (${label})   : ${items.slice(i, i + 5).join(', ')}`);
  };
  emit('nsec', dist.ns);
  emit('usec', dist.us);
  emit('msec', dist.ms);
  return lines;
}

function depthRow(keys: string[], counts: number[]): string {
  const total = counts.reduce((a, b) => a + b, 0);
  return keys
    .map((k, i) => {
      const p = total > 0 ? (100 * counts[i]) / total : 0;
      return `${k}=${p > 0 && p < 0.1 ? '0.1' : p.toFixed(1)}%`;
    })
    .join(', ');
}

/** "Run status group 0 (all jobs):" with one line per direction that did I/O. */
function groupBlock(all: JobResult[], groupid = 0): string {
  const lines = [`Run status group ${groupid} (all jobs):`];
  const labels: Record<Direction, string> = { read: '   READ', write: '  WRITE', trim: '   TRIM' };
  for (const d of DIRECTIONS) {
    const jobs = all.filter((r) => r.dirs[d].ios > 0);
    if (jobs.length === 0) continue;
    const bytes = jobs.reduce((a, r) => a + r.dirs[d].bytes, 0);
    const maxRun = Math.max(...jobs.map((r) => r.runtimeNs));
    const minRun = Math.min(...jobs.map((r) => r.runtimeNs));
    const rates = jobs.map((r) => (r.runtimeNs > 0 ? r.dirs[d].bytes / (r.runtimeNs / 1e9) : 0));
    const total = maxRun > 0 ? bytes / (maxRun / 1e9) : 0;
    const b2 = (v: number) => humanNumber(v, 1024, 'B/s');
    const b10 = (v: number) => humanNumber(v, 1000, 'B/s');
    lines.push(
      `${labels[d]}: bw=${b2(total)} (${b10(total)}), ${b2(Math.min(...rates))}-${b2(Math.max(...rates))} ` +
        `(${b10(Math.min(...rates))}-${b10(Math.max(...rates))}), io=${humanNumber(bytes, 1024, 'B')} (${humanNumber(bytes, 1000, 'B')}), ` +
        `run=${Math.round(minRun / 1e6)}-${Math.round(maxRun / 1e6)}msec`,
    );
  }
  return lines.join('\n') + '\n';
}
