/**
 * Where the next request goes, within a job's region [0, regionLen) (the caller adds the job's offset).
 *
 * - Sequential: one block after another.
 * - Random with a map (fio's default): every block once per pass, in random order; as fio, a request
 *   is trimmed to the free blocks from its offset on (`granted` says how much it got).
 * - Random without a map (norandommap): any aligned position, repeats allowed.
 *
 * next(len) returns -1 when the pass is complete; the caller then calls reset() to start another.
 */
import { Prng } from './random';
import { BlockSizeChoice } from './options';

export interface OffsetGenerator {
  next(len: number): number;
  reset(): void;
}

export class SequentialOffsets implements OffsetGenerator {
  private pos = 0;
  constructor(private readonly regionLen: number) {}

  next(len: number): number {
    if (this.pos + len > this.regionLen) return -1;
    const off = this.pos;
    this.pos += len;
    return off;
  }

  reset(): void {
    this.pos = 0;
  }

  /** The next request starts at pos (zonemode=zbd moves writes to a write pointer). */
  seek(pos: number): void {
    this.pos = pos;
  }
}

export class PureRandomOffsets implements OffsetGenerator {
  constructor(private readonly regionLen: number, private readonly align: number, private readonly rng: Prng) {}

  next(len: number): number {
    const positions = Math.floor((this.regionLen - len) / this.align) + 1;
    if (positions <= 0) return -1;
    return this.rng.nextBelow(positions) * this.align;
  }

  reset(): void {}
}

/**
 * A bitmap of blocks (of the job's smallest block size) already done in this pass. A random block is
 * drawn; if it is taken, the next free one after it is used. A second-level map of full words lets the
 * search skip 1024 blocks at a time late in a pass.
 */
export class RandomMapOffsets implements OffsetGenerator {
  readonly blocks: number;
  private readonly words: Uint32Array;
  private readonly fullWords: Uint32Array;
  private done = 0;
  /** The length the last next() gave: the one asked for, or less when it met a taken block or the region's end. */
  granted = 0;

  /** trim: shorten requests to the free blocks after their offset (fio's default); off for verify jobs, whose writes keep one size. */
  constructor(regionLen: number, private readonly unit: number, private readonly rng: Prng, private readonly trim = true) {
    this.blocks = Math.floor(regionLen / unit);
    this.words = new Uint32Array(Math.ceil(this.blocks / 32) || 1);
    this.fullWords = new Uint32Array(Math.ceil(this.words.length / 32));
    this.reset();
  }

  reset(): void {
    this.words.fill(0);
    this.fullWords.fill(0);
    this.done = 0;
    // Bits past the last block count as taken, so searches never return them.
    const tail = this.blocks % 32;
    if (tail !== 0) this.words[this.words.length - 1] = ~((1 << tail) - 1) >>> 0;
    if (this.blocks === 0) this.words[0] = 0xffffffff;
    for (let w = 0; w < this.words.length; w++) if (this.words[w] === 0xffffffff) this.markWordFull(w);
    const summaryTail = this.words.length % 32;
    if (summaryTail !== 0) this.fullWords[this.fullWords.length - 1] |= ~((1 << summaryTail) - 1) >>> 0;
  }

  next(len: number): number {
    if (this.done >= this.blocks) return -1;
    const span = Math.max(1, Math.ceil(len / this.unit));
    if (span > this.blocks) return -1;
    let block = this.findFree(this.rng.nextBelow(this.blocks));
    this.granted = len;
    if (!this.trim) {
      // A request larger than the map's unit must fit before the region's end.
      if (block + span > this.blocks) block = this.blocks - span;
      for (let b = block; b < block + span; b++) this.take(b);
      return block * this.unit;
    }
    // The free blocks from its (free) first block on, up to the first taken one or the region's end.
    const most = Math.min(span, this.blocks - block);
    let run = 0;
    while (run < most && !this.isTaken(block + run)) this.take(block + run++);
    if (run < span) this.granted = run * this.unit;
    return block * this.unit;
  }

  private isTaken(b: number): boolean {
    return (this.words[b >>> 5] & (1 << (b & 31))) !== 0;
  }

  private take(b: number): void {
    const w = b >>> 5;
    const bit = 1 << (b & 31);
    if ((this.words[w] & bit) !== 0) return;
    this.words[w] |= bit;
    this.done++;
    if (this.words[w] === 0xffffffff) this.markWordFull(w);
  }

  private markWordFull(w: number): void {
    this.fullWords[w >>> 5] |= 1 << (w & 31);
  }

  private findFree(from: number): number {
    const nWords = this.words.length;
    let w = from >>> 5;
    const here = ~this.words[w] & (0xffffffff << (from & 31));
    if (here !== 0) return (w << 5) + ctz(here);
    for (let step = 1; step <= nWords; step++) {
      w = w + 1 === nWords ? 0 : w + 1;
      if ((w & 31) === 0 && this.fullWords[w >>> 5] === 0xffffffff && w + 32 <= nWords) {
        w += 31; // skip this run of 32 full words (the loop adds the last one)
        step += 31;
        continue;
      }
      const free = ~this.words[w];
      if (free !== 0) return (w << 5) + ctz(free);
    }
    throw new Error('random map: no free block although the pass is not done');
  }
}

function ctz(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/**
 * bssplit weights (percentages, possibly fractional) as integer thresholds in units of 1/10000 %, the
 * same rounding as addon/bench/block_sizes.h: a draw below the total picks the first size whose
 * threshold it is under.
 */
export function bssplitThresholds(weights: readonly number[]): number[] {
  let sum = 0;
  return weights.map((w) => Math.floor((sum += w) * 10000 + 0.5));
}

/** Draws block sizes by bssplit weight; a single size costs nothing. */
export class BlockSizePicker {
  readonly sizes: number[];
  private readonly thresholds: number[];
  private readonly total: number;
  readonly fixed: number;

  constructor(choice: BlockSizeChoice, private readonly rng: Prng) {
    this.sizes = choice.sizes;
    this.fixed = choice.sizes.length === 1 ? choice.sizes[0] : 0;
    this.thresholds = bssplitThresholds(choice.weights);
    this.total = this.thresholds[this.thresholds.length - 1];
  }

  /** Index into sizes. */
  pick(): number {
    if (this.fixed !== 0) return 0;
    const r = this.rng.nextBelow(this.total);
    for (let i = 0; i < this.thresholds.length; i++) if (r < this.thresholds[i]) return i;
    return this.thresholds.length - 1;
  }
}
