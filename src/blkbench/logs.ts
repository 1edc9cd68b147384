/**
 * fio's per-job log files, in fio's formats so that fio's tools (fiologparser, fio_generate_plots,
 * fiologparser_hist) read them:
 * - write_lat_log=P: P_slat.N.log, P_clat.N.log, P_lat.N.log (ns); write_bw_log=P: P_bw.N.log (KiB/s);
 *   write_iops_log=P: P_iops.N.log. Lines "msec, value, ddir, bs, offset": one per request, or with
 *   log_avg_msec one per direction and window, the window's mean, with bs and offset 0.
 * - write_hist_log=P with log_hist_msec: P_clat_hist.N.log, "msec, ddir, bs, count…" with the counts
 *   of fio's 1856 latency buckets for that window.
 * N is the job's number from 1. Lines are kept in memory and written when the job ends; only jobs
 * that ask for logs pay for them.
 */
import * as fs from 'node:fs';
import { LatencyHistogram, PLAT_BUCKETS } from './histogram';
import { JobSpec } from './options';

type Kind = 'slat' | 'clat' | 'lat' | 'bw' | 'iops';

export class JobLogs {
  private readonly lines = new Map<Kind, string[]>();
  private readonly avgMs: number;
  private windowStart = 0;
  /** Per direction sums over the current window: slat, clat, lat (ns), bytes, count. */
  private readonly sums = [new Float64Array(5), new Float64Array(5), new Float64Array(5)];
  private readonly histMs: number;
  private histStart = 0;
  private readonly hist: LatencyHistogram[] | undefined;
  private readonly histLens = [0, 0, 0];
  private readonly histLines: string[] = [];

  private constructor(private readonly spec: JobSpec, private readonly jobNumber: number) {
    if (spec.writeLatLog !== undefined) for (const k of ['slat', 'clat', 'lat'] as const) this.lines.set(k, []);
    if (spec.writeBwLog !== undefined) this.lines.set('bw', []);
    if (spec.writeIopsLog !== undefined) this.lines.set('iops', []);
    this.avgMs = spec.logAvgMsec;
    this.histMs = spec.logHistMsec;
    if (spec.writeHistLog !== undefined) this.hist = [new LatencyHistogram(), new LatencyHistogram(), new LatencyHistogram()];
  }

  /** Logs for a job, or undefined when it asked for none. */
  static forJob(spec: JobSpec, jobIndex: number): JobLogs | undefined {
    const any = spec.writeLatLog ?? spec.writeBwLog ?? spec.writeIopsLog ?? spec.writeHistLog;
    return any === undefined ? undefined : new JobLogs(spec, jobIndex + 1);
  }

  /** One completed request, `ms` after the job's measured start. */
  add(ms: number, dir: number, slatNs: number, clatNs: number, len: number, offset: number): void {
    if (this.hist) this.addHist(ms, dir, clatNs, len);
    if (this.lines.size === 0) return;
    if (this.avgMs === 0) {
      const t = Math.floor(ms);
      const tail = `, ${dir}, ${len}, ${offset}`;
      this.lines.get('slat')?.push(`${t}, ${slatNs}${tail}`);
      this.lines.get('clat')?.push(`${t}, ${clatNs}${tail}`);
      this.lines.get('lat')?.push(`${t}, ${slatNs + clatNs}${tail}`);
      this.lines.get('bw')?.push(`${t}, ${clatNs > 0 ? Math.round((len * 1e6) / clatNs / 1024) : 0}${tail}`);
      this.lines.get('iops')?.push(`${t}, 1${tail}`);
      return;
    }
    if (ms - this.windowStart >= this.avgMs) this.closeWindow(ms);
    const s = this.sums[dir];
    s[0] += slatNs;
    s[1] += clatNs;
    s[2] += slatNs + clatNs;
    s[3] += len;
    s[4]++;
  }

  private closeWindow(ms: number): void {
    const end = this.windowStart + this.avgMs * Math.max(1, Math.floor((ms - this.windowStart) / this.avgMs));
    const t = Math.floor(this.windowStart + this.avgMs);
    const secs = (end - this.windowStart) / 1000;
    for (let d = 0; d < 3; d++) {
      const s = this.sums[d];
      if (s[4] === 0) continue;
      const tail = `, ${d}, 0, 0`;
      this.lines.get('slat')?.push(`${t}, ${Math.round(s[0] / s[4])}${tail}`);
      this.lines.get('clat')?.push(`${t}, ${Math.round(s[1] / s[4])}${tail}`);
      this.lines.get('lat')?.push(`${t}, ${Math.round(s[2] / s[4])}${tail}`);
      this.lines.get('bw')?.push(`${t}, ${Math.round(s[3] / 1024 / secs)}${tail}`);
      this.lines.get('iops')?.push(`${t}, ${Math.round(s[4] / secs)}${tail}`);
      s.fill(0);
    }
    this.windowStart = end;
  }

  private addHist(ms: number, dir: number, clatNs: number, len: number): void {
    const every = this.histMs > 0 ? this.histMs : 1000;
    if (ms - this.histStart >= every) this.closeHistWindow(ms, every);
    this.hist![dir].add(clatNs);
    this.histLens[dir] = len;
  }

  private closeHistWindow(ms: number, every: number): void {
    const t = Math.floor(this.histStart + every);
    for (let d = 0; d < 3; d++) {
      const h = this.hist![d];
      let n = 0;
      for (let i = 0; i < PLAT_BUCKETS; i++) n += h.counts[i];
      if (n === 0) continue;
      this.histLines.push(`${t}, ${d}, ${this.histLens[d]}, ${Array.from(h.counts).join(', ')}`);
      h.reset();
    }
    this.histStart += every * Math.max(1, Math.floor((ms - this.histStart) / every));
  }

  /** Writes the log files (at the end of the job, `ms` after its measured start). */
  write(ms: number): void {
    if (this.avgMs > 0 && this.lines.size > 0) this.closeWindow(Math.max(ms, this.windowStart + this.avgMs));
    if (this.hist) {
      const every = this.histMs > 0 ? this.histMs : 1000;
      this.closeHistWindow(Math.max(ms, this.histStart + every), every);
    }
    const prefixes: Record<Kind, string | undefined> = {
      slat: this.spec.writeLatLog, clat: this.spec.writeLatLog, lat: this.spec.writeLatLog,
      bw: this.spec.writeBwLog, iops: this.spec.writeIopsLog,
    };
    for (const [kind, lines] of this.lines) writeLines(`${prefixes[kind]}_${kind}.${this.jobNumber}.log`, lines);
    if (this.hist) writeLines(`${this.spec.writeHistLog}_clat_hist.${this.jobNumber}.log`, this.histLines);
  }
}

function writeLines(file: string, lines: string[]): void {
  fs.writeFileSync(file, lines.length > 0 ? lines.join('\n') + '\n' : '');
}
