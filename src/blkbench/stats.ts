/**
 * Running mean and standard deviation (Welford), with min and max, mergeable across jobs
 * (Chan et al.'s pairwise update), so group reporting does not need the samples.
 */
export interface StatsSnapshot {
  n: number;
  mean: number;
  /** Sum of squared differences from the mean. */
  m2: number;
  min: number;
  max: number;
}

export class RunningStats implements StatsSnapshot {
  n = 0;
  mean = 0;
  m2 = 0;
  min = Infinity;
  max = -Infinity;

  static from(s: StatsSnapshot): RunningStats {
    const r = new RunningStats();
    r.n = s.n; r.mean = s.mean; r.m2 = s.m2; r.min = s.min; r.max = s.max;
    return r;
  }

  add(x: number): void {
    const n = ++this.n;
    const d = x - this.mean;
    this.mean += d / n;
    this.m2 += d * (x - this.mean);
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
  }

  merge(o: StatsSnapshot): void {
    if (o.n === 0) return;
    if (this.n === 0) {
      this.n = o.n; this.mean = o.mean; this.m2 = o.m2; this.min = o.min; this.max = o.max;
      return;
    }
    const n = this.n + o.n;
    const d = o.mean - this.mean;
    this.mean += (d * o.n) / n;
    this.m2 += o.m2 + (d * d * this.n * o.n) / n;
    this.n = n;
    this.min = Math.min(this.min, o.min);
    this.max = Math.max(this.max, o.max);
  }

  reset(): void {
    this.n = 0; this.mean = 0; this.m2 = 0; this.min = Infinity; this.max = -Infinity;
  }

  /** Sample standard deviation (n − 1), as fio reports it. */
  get stddev(): number {
    return this.n > 1 ? Math.sqrt(this.m2 / (this.n - 1)) : 0;
  }

  snapshot(): StatsSnapshot {
    return { n: this.n, mean: this.mean, m2: this.m2, min: this.min, max: this.max };
  }
}
