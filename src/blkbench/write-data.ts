/**
 * What write requests carry, as fio's buffer options say: random data by default (fio's
 * scramble_buffers keeps buffers from being identical), zeroes with zero_buffers, a share of each
 * buffer_compress_chunk made of zeroes for buffer_compress_percentage, new data per write with
 * refill_buffers, and dedupe_percentage of writes repeating the buffer's previous contents.
 */
import type { WriteDataOptions } from './loop-spec';
import { Prng } from './random';

export class WriteData {
  /** Whether writes need new contents per request (refill or dedupe); else buffers are filled once. */
  readonly perRequest: boolean;
  private readonly zero: boolean;
  private readonly dedupePercentage: number;
  private readonly compressPercentage: number;
  private readonly compressChunk: number;
  private readonly rng: Prng;
  /** Word views of the slot buffers, made once: filling per request allocates nothing. */
  private readonly words = new WeakMap<Uint8Array, Uint32Array>();

  constructor(options: WriteDataOptions, rng: Prng) {
    this.zero = options.zero === true;
    this.dedupePercentage = options.dedupePercentage ?? 0;
    this.compressPercentage = options.compressPercentage ?? 0;
    this.compressChunk = options.compressChunk ?? 512;
    this.rng = rng;
    this.perRequest = !this.zero && (options.refill === true || this.dedupePercentage > 0);
  }

  /** Fills a write buffer (once per slot, or before each write when perRequest). */
  fill(view: Uint8Array): void {
    if (this.zero) {
      view.fill(0);
      return;
    }
    if (this.dedupePercentage > 0 && this.rng.nextBelow(100) < this.dedupePercentage) return; // repeat
    if ((view.byteOffset & 3) !== 0) {
      for (let i = 0; i < view.length; i++) view[i] = this.rng.nextU32() & 0xff; // odd block sizes: bytes
      this.compress(view);
      return;
    }
    let words = this.words.get(view);
    if (words === undefined) {
      words = new Uint32Array(view.buffer, view.byteOffset, view.byteLength >>> 2);
      this.words.set(view, words);
    }
    for (let i = 0; i < words.length; i++) words[i] = this.rng.nextU32();
    for (let i = words.length * 4; i < view.length; i++) view[i] = this.rng.nextU32() & 0xff;
    this.compress(view);
  }

  /** buffer_compress_percentage: the tail of each chunk made of zeroes. */
  private compress(view: Uint8Array): void {
    const pct = this.compressPercentage;
    if (pct > 0) {
      const chunk = Math.max(1, this.compressChunk);
      const zeroes = Math.floor((chunk * pct) / 100);
      for (let at = 0; at < view.length; at += chunk) view.fill(0, at + Math.max(0, Math.min(chunk, view.length - at) - zeroes), Math.min(at + chunk, view.length));
    }
  }
}
