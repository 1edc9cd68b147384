import * as assert from 'node:assert/strict';
import { LatencyHistogram, PLAT_BUCKETS, bucketIndex, bucketValue } from '../../../src/blkbench/histogram';
import { RunningStats } from '../../../src/blkbench/stats';

function histogramOf(values: number[]): LatencyHistogram {
  const h = new LatencyHistogram();
  for (const v of values) h.add(v);
  return h;
}

function near(actual: number, expected: number, relative: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= relative * expected, `${what}: ${actual} is not within ${relative * 100}% of ${expected}`);
}

describe('blkbench latency histogram (fio log-linear buckets)', () => {
  it('has 29 groups of 64 buckets: 1856 in all', () => {
    assert.equal(PLAT_BUCKETS, 1856);
  });

  it('keeps values below 128 ns exact', () => {
    for (let v = 0; v < 128; v++) {
      assert.equal(bucketIndex(v), v);
      assert.equal(bucketValue(v), v);
    }
  });

  it('puts 128 ns in bucket 128, whose midpoint is 129', () => {
    assert.equal(bucketIndex(128), 128);
    assert.equal(bucketIndex(129), 128);
    assert.equal(bucketIndex(130), 129);
    assert.equal(bucketValue(128), 129);
  });

  it('maps 1000 ns to bucket 317 with midpoint 1004', () => {
    assert.equal(bucketIndex(1000), 317);
    assert.equal(bucketValue(317), 1004);
  });

  it('stays within 1/128 of the value across the whole range', () => {
    for (let v = 128; v < 2 ** 34; v = Math.floor(v * 1.013) + 1) {
      const mid = bucketValue(bucketIndex(v));
      assert.ok(Math.abs(mid - v) / v <= 1 / 128, `value ${v} → midpoint ${mid}`);
    }
  });

  it('never decreases as the value grows', () => {
    let last = 0;
    for (let v = 0; v < 2 ** 33; v = Math.floor(v * 1.001) + 1) {
      const i = bucketIndex(v);
      assert.ok(i >= last, `index went from ${last} to ${i} at ${v}`);
      last = i;
    }
  });

  it('puts values beyond the last group into the last bucket', () => {
    assert.equal(bucketIndex(2 ** 40), PLAT_BUCKETS - 1);
  });

  describe('percentiles (midpoint of the first bucket reaching p% of samples)', () => {
    it('are exact for small integers: 1..100 once each', () => {
      const h = histogramOf(Array.from({ length: 100 }, (_, i) => i + 1));
      assert.deepEqual(h.percentiles([1, 50, 90, 99, 99.99]), [1, 50, 90, 99, 100]);
    });

    it('give the bucket midpoint for a constant latency', () => {
      const h = histogramOf(new Array(1000).fill(1000));
      assert.deepEqual(h.percentiles([1, 50, 99.99]), [1004, 1004, 1004]);
    });

    it('match a uniform distribution within fio\'s bucket error', () => {
      const values = Array.from({ length: 100000 }, (_, i) => 10 * (i + 1)); // 10 ns .. 1 ms
      const h = histogramOf(values);
      const [p10, p50, p90, p99] = h.percentiles([10, 50, 90, 99]);
      near(p10, 100000, 0.008, 'p10');
      near(p50, 500000, 0.008, 'p50');
      near(p90, 900000, 0.008, 'p90');
      near(p99, 990000, 0.008, 'p99');
    });

    it('match an exponential distribution\'s quantiles (−μ·ln(1−p))', () => {
      const mean = 50000;
      const n = 200000;
      const values = Array.from({ length: n }, (_, i) => Math.round(-mean * Math.log(1 - (i + 0.5) / n)));
      const h = histogramOf(values);
      const ps = [50, 90, 99, 99.9];
      const got = h.percentiles(ps);
      ps.forEach((p, i) => near(got[i], -mean * Math.log(1 - p / 100), 0.01, `p${p}`));
    });

    it('are returned in the order asked, whatever that order is', () => {
      const h = histogramOf(Array.from({ length: 100 }, (_, i) => i + 1));
      assert.deepEqual(h.percentiles([99, 1, 50]), [99, 1, 50]);
    });

    it('are zeros for an empty histogram', () => {
      assert.deepEqual(new LatencyHistogram().percentiles([50, 99]), [0, 0]);
    });
  });

  it('merges by adding buckets, so merged percentiles equal those of all samples together', () => {
    const a = Array.from({ length: 5000 }, (_, i) => 1000 + i * 3);
    const b = Array.from({ length: 3000 }, (_, i) => 40000 + i * 7);
    const merged = histogramOf(a);
    merged.merge(histogramOf(b));
    const together = histogramOf([...a, ...b]);
    assert.equal(merged.total, 8000);
    assert.deepEqual(merged.percentiles(), together.percentiles());
  });

  it('lists non-empty buckets as json+ bins keyed by midpoint', () => {
    const h = histogramOf([5, 5, 1000, 1001]);
    assert.deepEqual(h.bins(), [[5, 2], [1004, 2]]);
  });
});

describe('blkbench running stats', () => {
  const values = Array.from({ length: 1001 }, (_, i) => 1000 + ((i * 7919) % 1000) * 3.5);

  function direct(xs: number[]) {
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
    return { mean, sd, min: Math.min(...xs), max: Math.max(...xs) };
  }

  it('computes mean, sample stddev (n−1), min and max in one pass', () => {
    const s = new RunningStats();
    for (const v of values) s.add(v);
    const d = direct(values);
    near(s.mean, d.mean, 1e-12, 'mean');
    near(s.stddev, d.sd, 1e-9, 'stddev');
    assert.equal(s.min, d.min);
    assert.equal(s.max, d.max);
  });

  it('merges two halves into the stats of the whole', () => {
    const a = new RunningStats();
    const b = new RunningStats();
    values.slice(0, 300).forEach((v) => a.add(v));
    values.slice(300).forEach((v) => b.add(v));
    a.merge(b);
    const d = direct(values);
    assert.equal(a.n, values.length);
    near(a.mean, d.mean, 1e-12, 'mean');
    near(a.stddev, d.sd, 1e-9, 'stddev');
    assert.equal(a.min, d.min);
    assert.equal(a.max, d.max);
  });

  it('reports stddev 0 for fewer than two samples', () => {
    const s = new RunningStats();
    assert.equal(s.stddev, 0);
    s.add(5);
    assert.equal(s.stddev, 0);
  });
});
