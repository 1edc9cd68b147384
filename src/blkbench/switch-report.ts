/**
 * What a switching job reports (blkbench_switch_to): how many switches, how long each held requests
 * back, and how each backend did while it served the job. Both loops give the same raw record
 * (JobLoopSwitches); this turns it into the summary the reports print.
 */
import type { JobLoopSwitches } from '../lib/bench';

/** One backend's share of the job: its stretches, time, and what completed there (measured phase). */
export interface PathSummary {
  path: string;
  stretches: number;
  timeNs: number;
  ios: number;
  bytes: number;
  iops: number;
  /** Mean of fio's lat over the requests completed there (0 without any). */
  latMeanNs: number;
}

export interface SwitchSummary {
  count: number;
  pauseMedianNs: number;
  pauseMaxNs: number;
  pauseMeanNs: number;
  /** Per switch: when (ns after the job's start) and how long the pause was. */
  switches: Array<{ atNs: number; pauseNs: number; to: string }>;
  paths: PathSummary[];
}

/** paths[i] names queue i (0: the job's own target). */
export function summarizeSwitches(raw: JobLoopSwitches, paths: string[]): SwitchSummary {
  const pauses = raw.switches.map((s) => s.pauseNs).sort((a, b) => a - b);
  const mid = pauses.length >> 1;
  const median = pauses.length === 0 ? 0 : pauses.length % 2 ? pauses[mid] : (pauses[mid - 1] + pauses[mid]) / 2;
  const per = paths.map((path) => ({ path, stretches: 0, timeNs: 0, ios: 0, bytes: 0, iops: 0, latMeanNs: 0, latSum: 0 }));
  for (const g of raw.segments) {
    const p = per[g.path];
    p.stretches++;
    p.timeNs += g.endNs - g.startNs;
    p.ios += g.ios;
    p.bytes += g.bytes;
    p.latSum += g.latSumNs;
  }
  return {
    count: raw.switches.length,
    pauseMedianNs: median,
    pauseMaxNs: pauses.length ? pauses[pauses.length - 1] : 0,
    pauseMeanNs: pauses.length ? pauses.reduce((a, b) => a + b, 0) / pauses.length : 0,
    switches: raw.switches.map((s) => ({ atNs: s.atNs, pauseNs: s.pauseNs, to: paths[s.to] })),
    paths: per.map(({ latSum, ...p }) => ({ ...p, iops: p.timeNs > 0 ? p.ios / (p.timeNs / 1e9) : 0, latMeanNs: p.ios > 0 ? latSum / p.ios : 0 })),
  };
}

/** The job's backends as DRIVER:PATH, its own first. */
export function switchPaths(spec: { driver: string; path?: string; switchTo?: { driver: string; path: string } }): string[] {
  return [`${spec.driver}:${spec.path ?? ''}`, `${spec.switchTo!.driver}:${spec.switchTo!.path}`];
}

/** The normal report's lines. */
export function switchLines(s: SwitchSummary): string[] {
  const ms = (ns: number) => (ns / 1e6).toFixed(2);
  const lines = [`  switches     : ${s.count}, pause median ${ms(s.pauseMedianNs)} ms, worst ${ms(s.pauseMaxNs)} ms`];
  for (const p of s.paths) {
    const iops = p.iops >= 1000 ? `${(p.iops / 1000).toFixed(1)}k` : p.iops.toFixed(0);
    lines.push(`    ${p.path}: ${p.stretches} stretches, ${(p.timeNs / 1e9).toFixed(2)} s, IOPS=${iops}, lat avg=${(p.latMeanNs / 1e3).toFixed(2)} usec`);
  }
  return lines;
}

/** The JSON report's blkbench_switches object. */
export function switchJson(s: SwitchSummary): Record<string, unknown> {
  const us = (ns: number) => Math.round(ns / 10) / 100;
  return {
    count: s.count,
    pause_median_us: us(s.pauseMedianNs),
    pause_max_us: us(s.pauseMaxNs),
    pause_mean_us: us(s.pauseMeanNs),
    paths: s.paths.map((p) => ({
      path: p.path, stretches: p.stretches, time_ms: Math.round(p.timeNs / 1e6), ios: p.ios, io_bytes: p.bytes,
      iops: Math.round(p.iops * 100) / 100, lat_mean_us: us(p.latMeanNs),
    })),
    switches: s.switches.map((w) => ({ at_ms: Math.round(w.atNs / 1e4) / 100, pause_us: us(w.pauseNs), to: w.to })),
  };
}
