/**
 * fio's other offset patterns:
 * - rw=read:N / write:-N: sequential with N bytes added after each I/O, wrapping at either end of the
 *   region as fio 3.33 does (checked with its write_iolog: read:-8k at bs=4k over 64k reads 0, 56k,
 *   52k, … 4k). The job stops on its byte count, not at the end of a pass.
 * - random_distribution=zipf|pareto|normal: skewed block choices, repeats allowed; the popular
 *   blocks are scattered over the region by a fixed permutation, as fio hashes them.
 */
import { Distribution } from './option-values';
import { OffsetGenerator } from './offsets';
import { Prng } from './random';

export class SkipSequentialOffsets implements OffsetGenerator {
  private pos = 0;
  constructor(private readonly regionLen: number, private readonly add: number) {}

  next(len: number): number {
    if (len > this.regionLen) return -1;
    let off = this.pos;
    if (off < 0) off = Math.max(0, this.regionLen + this.add);
    if (off + len > this.regionLen) off = 0;
    this.pos = off + len + this.add;
    return off;
  }

  reset(): void {
    this.pos = 0;
  }
}

export class DistributionOffsets implements OffsetGenerator {
  private readonly blocks: number;
  private readonly multiplier: number;
  private readonly zipfExp: number;
  private readonly zipfScale: number;

  constructor(regionLen: number, private readonly unit: number, private readonly dist: Distribution, private readonly rng: Prng) {
    this.blocks = Math.floor(regionLen / unit);
    this.multiplier = coprimeMultiplier(this.blocks);
    // Continuous zipf on [1, blocks + 1): inverse CDF of x^-theta.
    this.zipfExp = 1 - dist.param;
    this.zipfScale = Math.pow(this.blocks + 1, this.zipfExp) - 1;
  }

  next(len: number): number {
    const span = Math.max(1, Math.ceil(len / this.unit));
    if (span > this.blocks) return -1;
    if (this.dist.kind === 'zoned') return this.zoned(span);
    const rank = Math.min(this.blocks - 1, Math.max(0, this.drawRank()));
    // Scatter: rank → block through a bijection of [0, blocks).
    let block = (rank * this.multiplier) % this.blocks;
    if (block + span > this.blocks) block = this.blocks - span;
    return block * this.unit;
  }

  /** fio's zoned: a zone by its share of accesses, then a uniform block inside it (not scattered). */
  private zoned(span: number): number {
    const zones = this.dist.zones!;
    let r = this.rng.nextFloat() * 100;
    let start = 0;
    for (let i = 0; i < zones.length; i++) {
      const [access, size] = zones[i];
      const blocks = Math.max(1, Math.floor((this.blocks * size) / 100));
      if (r < access || i === zones.length - 1) {
        let block = Math.min(this.blocks - 1, start + this.rng.nextBelow(blocks));
        if (block + span > this.blocks) block = this.blocks - span;
        return block * this.unit;
      }
      r -= access;
      start += blocks;
    }
    return 0;
  }

  private drawRank(): number {
    const u = this.rng.nextFloat();
    const n = this.blocks;
    switch (this.dist.kind) {
      case 'zipf':
        return Math.floor(Math.pow(this.zipfScale * u + 1, 1 / this.zipfExp)) - 1;
      case 'pareto':
        // rank = blocks × u^(1/power): smaller powers put more weight on the first ranks.
        return Math.floor(n * Math.pow(u, 1 / this.dist.param));
      case 'normal': {
        // Box–Muller around the middle, with the deviation in percent of the region.
        const v = Math.max(Number.MIN_VALUE, this.rng.nextFloat());
        const z = Math.sqrt(-2 * Math.log(v)) * Math.cos(2 * Math.PI * u);
        const r = Math.round(n / 2 + (z * this.dist.param * n) / 100);
        return ((r % n) + n) % n;
      }
      default:
        return Math.floor(u * n);
    }
  }

  reset(): void {}
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** A multiplier coprime with n near n × golden ratio, so rank × m mod n is a permutation. */
function coprimeMultiplier(n: number): number {
  if (n <= 2) return 1;
  let m = Math.floor(n * 0.6180339887) | 1;
  while (gcd(m, n) !== 1) m += 2;
  return m;
}
