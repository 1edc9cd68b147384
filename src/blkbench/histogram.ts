/**
 * fio's log-linear latency histogram, so percentiles and json+ bins match fio's.
 *
 * Values below 128 ns have a bucket each. Above that, each power of two is split into 64 buckets
 * (PLAT_BITS = 6), so a bucket is at most 1/128 of its value wide; 29 groups reach about 17 s.
 * A percentile is the midpoint of the first bucket where the running count reaches p% of all samples.
 */
export const PLAT_BITS = 6;
export const PLAT_VAL = 1 << PLAT_BITS;
export const PLAT_GROUPS = 29;
export const PLAT_BUCKETS = PLAT_GROUPS * PLAT_VAL; // 1856

/** fio's default percentile list. */
export const DEFAULT_PERCENTILES = [1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 99.5, 99.9, 99.95, 99.99];

const TWO_32 = 2 ** 32;

/** Bucket index of a latency in ns. Called once per request: integer shifts only, no Math.pow. */
export function bucketIndex(ns: number): number {
  if (ns < PLAT_VAL * 2) return ns < 0 ? 0 : Math.floor(ns);
  if (ns < TWO_32) {
    const msb = 31 - Math.clz32(ns);
    const errorBits = msb - PLAT_BITS;
    return (errorBits + 1) * PLAT_VAL + ((ns >>> errorBits) & (PLAT_VAL - 1));
  }
  const msb = 63 - Math.clz32(Math.floor(ns / TWO_32));
  const errorBits = msb - PLAT_BITS;
  const index = (errorBits + 1) * PLAT_VAL + (Math.floor(ns / 2 ** errorBits) & (PLAT_VAL - 1));
  return index < PLAT_BUCKETS ? index : PLAT_BUCKETS - 1;
}

/** The value a bucket stands for: its midpoint (exact below 128 ns). */
export function bucketValue(index: number): number {
  if (index < PLAT_VAL * 2) return index;
  const errorBits = Math.floor(index / PLAT_VAL) - 1;
  const base = 2 ** (errorBits + PLAT_BITS);
  const k = index % PLAT_VAL;
  return Math.floor(base + (k + 0.5) * 2 ** errorBits);
}

export class LatencyHistogram {
  /** Float64 so counts stay exact far beyond 2^32 and the array can be handed between threads. */
  readonly counts: Float64Array;
  total = 0;

  constructor(counts?: Float64Array) {
    this.counts = counts ?? new Float64Array(PLAT_BUCKETS);
    if (counts) for (let i = 0; i < counts.length; i++) this.total += counts[i];
  }

  add(ns: number): void {
    this.counts[bucketIndex(ns)]++;
    this.total++;
  }

  /** Adds another histogram's counts (group reporting merges buckets, not percentiles). */
  merge(other: LatencyHistogram): void {
    for (let i = 0; i < PLAT_BUCKETS; i++) this.counts[i] += other.counts[i];
    this.total += other.total;
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
  }

  /** Percentiles in ns, in the order given; 0 for an empty histogram. */
  percentiles(list: readonly number[] = DEFAULT_PERCENTILES): number[] {
    const out = new Array<number>(list.length).fill(0);
    if (this.total === 0) return out;
    const order = list.map((p, i) => [p, i] as const).sort((a, b) => a[0] - b[0]);
    let j = 0;
    let running = 0;
    for (let i = 0; i < PLAT_BUCKETS && j < order.length; i++) {
      running += this.counts[i];
      while (j < order.length && running >= (order[j][0] / 100) * this.total) {
        out[order[j][1]] = bucketValue(i);
        j++;
      }
    }
    return out;
  }

  /** Non-empty buckets as [midpoint ns, count], for json+ "bins". */
  bins(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = 0; i < PLAT_BUCKETS; i++) if (this.counts[i] > 0) out.push([bucketValue(i), this.counts[i]]);
    return out;
  }
}
