/**
 * `blkbench compare`: one job, several targets, one table. Each target's jobs are merged (as with
 * group_reporting) into one row of numbers; ratios are to the first target.
 */
import { CompareTarget, RawJob } from './args';
import { DEFAULT_PERCENTILES, LatencyHistogram } from './histogram';
import { DIRECTIONS, JobSpec, resolveJob, setRawOption } from './options';
import { JobResult, mergeResults, statsView } from './results';
import { humanNumber } from './units';

export interface CompareRow {
  label: string;
  driver: string;
  path: string;
  iops: number;
  bwBytes: number;
  latMeanNs: number;
  /** [percentile, ns] for the default percentile list, all directions merged. */
  percentiles: Array<[number, number]>;
  /** CPU time per request in ns (usr + sys). */
  cpuPerIoNs: number;
  error: string | null;
}

/** The job as it runs on one target: the target's driver and path, then the target's own options. */
export function specsForTarget(jobs: RawJob[], target: CompareTarget): JobSpec[] {
  return jobs.map((job) => {
    const options = new Map(job.options);
    setRawOption(options, 'ioengine', target.driver);
    setRawOption(options, 'filename', target.path);
    for (const [k, v] of target.options) setRawOption(options, k, v);
    return resolveJob(jobs.length > 1 ? `${target.label}.${job.name}` : target.label, options);
  });
}

export function compareRow(target: CompareTarget, results: JobResult[]): CompareRow {
  const r = mergeResults(results);
  const secs = r.runtimeNs / 1e9;
  let ios = 0;
  let bytes = 0;
  const hist = new LatencyHistogram();
  let latSum = 0;
  for (const d of DIRECTIONS) {
    const dir = r.dirs[d];
    ios += dir.ios;
    bytes += dir.bytes;
    hist.merge(new LatencyHistogram(dir.hist));
    latSum += statsView(dir.lat).mean * dir.ios;
  }
  const values = hist.percentiles(DEFAULT_PERCENTILES);
  return {
    label: target.label,
    driver: target.driver,
    path: target.path,
    iops: secs > 0 ? ios / secs : 0,
    bwBytes: secs > 0 ? bytes / secs : 0,
    latMeanNs: ios > 0 ? latSum / ios : 0,
    percentiles: DEFAULT_PERCENTILES.map((p, i) => [p, values[i]]),
    // CPU is summed over the target's jobs; requests too.
    cpuPerIoNs: ios > 0 ? (results.reduce((a, j) => a + j.cpu.usrNs + j.cpu.sysNs, 0)) / ios : 0,
    error: r.error !== 0 ? r.errorMessage ?? `error ${r.error}` : null,
  };
}

function pct(row: CompareRow, p: number): number {
  return row.percentiles.find(([q]) => q === p)?.[1] ?? 0;
}

/** The side-by-side table: one column per target, "value (ratio×)" against the first. */
export function compareTable(rows: CompareRow[]): string {
  const first = rows[0];
  const us = (ns: number) => (ns / 1000).toFixed(ns < 10_000 ? 2 : 1);
  const metrics: Array<[string, (r: CompareRow) => number, (v: number) => string]> = [
    ['IOPS', (r) => r.iops, (v) => humanNumber(v, 1000)],
    ['bandwidth', (r) => r.bwBytes, (v) => humanNumber(v, 1024, 'B/s')],
    ['clat mean (us)', (r) => r.latMeanNs, us],
    ['clat p50 (us)', (r) => pct(r, 50), us],
    ['clat p99 (us)', (r) => pct(r, 99), us],
    ['clat p99.9 (us)', (r) => pct(r, 99.9), us],
    ['CPU per IO (us)', (r) => r.cpuPerIoNs, us],
  ];
  const header = ['', ...rows.map((r) => r.label)];
  const body = metrics.map(([name, get, fmt]) => [
    name,
    ...rows.map((r, i) => {
      const v = get(r);
      if (i === 0) return fmt(v);
      const base = get(first);
      return `${fmt(v)} (${base > 0 ? (v / base).toFixed(2) : '-'}x)`;
    }),
  ]);
  const table = [header, ...body, ['target', ...rows.map((r) => `${r.driver}:${r.path}`)]];
  const widths = header.map((_, c) => Math.max(...table.map((row) => row[c].length)));
  const lines = table.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('   '));
  for (const r of rows) if (r.error) lines.push(`${r.label}: error: ${r.error}`);
  return lines.join('\n') + '\n';
}
