/**
 * A small deterministic PRNG (xoshiro128**, 32-bit arithmetic so it stays fast in JS), seeded through
 * splitmix64 so that nearby seeds (job 0, job 1, …) give unrelated streams. With randrepeat=1 the
 * same job file gives the same offsets on every run.
 */
import { randomBytes } from 'node:crypto';

const MASK64 = (1n << 64n) - 1n;

function splitmix64(state: bigint): [bigint, bigint] {
  const next = (state + 0x9e3779b97f4a7c15n) & MASK64;
  let z = next;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return [next, z ^ (z >> 31n)];
}

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** One stream per (seed, job index, purpose): offsets, block sizes and read/write mix draw separately. */
  constructor(seed: bigint, ...stream: number[]) {
    let s = seed & MASK64;
    for (const x of stream) s = splitmix64((s ^ BigInt(x)) & MASK64)[1];
    const words: number[] = [];
    for (let i = 0; i < 2; i++) {
      let out: bigint;
      [s, out] = splitmix64(s);
      words.push(Number(out & 0xffffffffn), Number(out >> 32n));
    }
    [this.a, this.b, this.c, this.d] = words.map((w) => w | 0);
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  static randomSeed(): bigint {
    return randomBytes(8).readBigUInt64LE(0);
  }

  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  nextFloat(): number {
    return ((this.nextU32() >>> 5) * 67108864 + (this.nextU32() >>> 6)) / 9007199254740992;
  }

  /**
   * Uniform integer in [0, n) for n up to 2^53: the high half of a random word times n, in integers
   * (as addon/bench/prng.h: 32 random bits for n up to 2^32, 64 above, the first draw the high word),
   * so both job loops draw the same offsets on any region.
   */
  nextBelow(n: number): number {
    if (n <= 0x100000000) {
      // floor(r × n / 2^32) without losing bits: n split into 16-bit halves keeps every product below 2^53.
      const r = this.nextU32();
      const hi = r * Math.floor(n / 0x10000);
      const lo = r * (n % 0x10000);
      return Math.floor((hi + Math.floor(lo / 0x10000)) / 0x10000);
    }
    const r = (BigInt(this.nextU32()) << 32n) | BigInt(this.nextU32());
    return Number((r * BigInt(n)) >> 64n);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
