/**
 * What a job loop measures, per direction (read, write, trim as 0, 1, 2): request latencies into a
 * histogram and running stats, bytes and requests, per-interval bandwidth/IOPS samples, and fio's
 * depth and batch-size tables. add() runs once per completed request, so it allocates nothing.
 */
import { LatencyHistogram } from './histogram';
import { DIRECTIONS } from './options';
import { DepthCounts, JobResult, batchBucket, depthBucket } from './results';
import { RunningStats } from './stats';

export class Measurements {
  private readonly lat = [new RunningStats(), new RunningStats(), new RunningStats()];
  private readonly slat = [new RunningStats(), new RunningStats(), new RunningStats()];
  private readonly clat = [new RunningStats(), new RunningStats(), new RunningStats()];
  private readonly hist = [new LatencyHistogram(), new LatencyHistogram(), new LatencyHistogram()];
  /** lat's and slat's histograms (fio's lat_percentiles and slat_percentiles), as the native loop keeps them. */
  private readonly totalHist = [new LatencyHistogram(), new LatencyHistogram(), new LatencyHistogram()];
  private readonly slatHist = [new LatencyHistogram(), new LatencyHistogram(), new LatencyHistogram()];
  readonly ios = new Float64Array(3);
  readonly bytes = new Float64Array(3);
  private readonly bwSamples = [new RunningStats(), new RunningStats(), new RunningStats()];
  private readonly iopsSamples = [new RunningStats(), new RunningStats(), new RunningStats()];
  private readonly sampleBytes = new Float64Array(3);
  private readonly sampleIos = new Float64Array(3);
  private readonly depth: DepthCounts = { level: new Array(7).fill(0), submit: new Array(7).fill(0), complete: new Array(7).fill(0) };

  /** Which latencies are measured (fio's disable_slat, disable_clat, disable_lat turn them off). */
  constructor(private readonly measure: { slat: boolean; clat: boolean; lat: boolean } = { slat: true, clat: true, lat: true }) {}

  /**
   * One completed request with its submission latency (prepared → submitted) and completion latency
   * (submitted → completed) in ns, as fio's slat and clat; lat is their sum, the histogram is clat's.
   */
  add(dir: number, slatNs: number, clatNs: number, len: number): void {
    if (this.measure.slat) {
      this.slat[dir].add(slatNs);
      this.slatHist[dir].add(slatNs);
    }
    if (this.measure.clat) {
      this.clat[dir].add(clatNs);
      this.hist[dir].add(clatNs);
    }
    if (this.measure.lat) {
      this.lat[dir].add(slatNs + clatNs);
      this.totalHist[dir].add(slatNs + clatNs);
    }
    this.ios[dir]++;
    this.bytes[dir] += len;
    this.sampleIos[dir]++;
    this.sampleBytes[dir] += len;
  }

  /** A doIo call submitted `count` requests with `inFlight` outstanding afterwards. */
  submitted(count: number, inFlight: number): void {
    this.depth.submit[batchBucket(count)]++;
    this.depth.level[depthBucket(inFlight)] += count;
  }

  /** A doIo call reaped `count` completions. */
  reaped(count: number): void {
    this.depth.complete[batchBucket(count)]++;
  }

  /** Closes a bandwidth/IOPS sampling interval of `secs` seconds. */
  sample(secs: number): void {
    for (let d = 0; d < 3; d++) {
      if (this.ios[d] === 0) continue;
      this.bwSamples[d].add(this.sampleBytes[d] / 1024 / secs);
      this.iopsSamples[d].add(this.sampleIos[d] / secs);
      this.sampleBytes[d] = 0;
      this.sampleIos[d] = 0;
    }
  }

  /** Forgets everything (at the end of ramp time). */
  /** Requests, bytes and the sum of lat (ns) measured so far, over every direction (a switching job's stretches). */
  totals(): [number, number, number] {
    let ios = 0, bytes = 0, latSum = 0;
    for (let d = 0; d < 3; d++) {
      const l = this.lat[d].snapshot();
      ios += this.ios[d];
      bytes += this.bytes[d];
      latSum += l.n * l.mean;
    }
    return [ios, bytes, latSum];
  }

  reset(): void {
    for (let d = 0; d < 3; d++) {
      this.lat[d].reset();
      this.slat[d].reset();
      this.clat[d].reset();
      this.hist[d].reset();
      this.totalHist[d].reset();
      this.slatHist[d].reset();
      this.bwSamples[d].reset();
      this.iopsSamples[d].reset();
    }
    this.ios.fill(0);
    this.bytes.fill(0);
    this.sampleBytes.fill(0);
    this.sampleIos.fill(0);
    for (const k of ['level', 'submit', 'complete'] as const) this.depth[k].fill(0);
  }

  directions(): JobResult['dirs'] {
    const dirs = {} as JobResult['dirs'];
    DIRECTIONS.forEach((d, i) => {
      dirs[d] = {
        ios: this.ios[i],
        bytes: this.bytes[i],
        lat: this.lat[i].snapshot(),
        slat: this.slat[i].snapshot(),
        clat: this.clat[i].snapshot(),
        hist: this.hist[i].counts,
        totalHist: this.totalHist[i].counts,
        slatHist: this.slatHist[i].counts,
        bw: this.bwSamples[i].snapshot(),
        iops: this.iopsSamples[i].snapshot(),
      };
    });
    return dirs;
  }

  depthCounts(): DepthCounts {
    return this.depth;
  }
}
