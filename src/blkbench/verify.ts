/**
 * Data verification: each written block carries a header (magic, length, its own offset, checksum
 * kind) and a checksum over the header and a pseudo-random payload. Reading it back checks all of
 * them, so a corrupted or misplaced block is reported with its offset.
 *
 * Layout (little-endian): 0 magic u32 | 4 length u32 | 8 offset u64 | 16 seed u32 | 20 kind u32 |
 * 24 checksum (16 bytes; crc32c uses the first 4) | 40 payload.
 *
 * fio's verify_interval cuts a block into chunks of that many bytes, each with a header of its own
 * (its own length and offset). verify_pattern is the payload instead of random words, repeated from
 * the block's start as fio fills a buffer (so verify=pattern blocks are fio's byte for byte). verify=meta is fio's header-only check: its checksum covers the header alone,
 * and with a pattern the payload is compared with it; verify=pattern has no header at all: every
 * byte of the chunk is the pattern's. addon/bench/verify.cc writes and checks the same bytes.
 */
import { createHash } from 'node:crypto';
import { VerifyKind } from './options';

export const VERIFY_MAGIC = 0x5642_4b42; // "BKBV"
export const VERIFY_HEADER_LEN = 40;
const KIND_CODE: Record<Exclude<VerifyKind, 'none'>, number> = { crc32c: 1, md5: 2, meta: 3, pattern: 4 };

/** How blocks are cut and filled beyond their kind (fio's verify_interval and verify_pattern). */
export interface VerifyLayout {
  /** Bytes per chunk with a header of its own; 0 (or at least the block): one per block. */
  interval?: number;
  /** The payload, repeated from the block's start (headers over it); none: pseudo-random words. */
  pattern?: Uint8Array;
}

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1; // Castagnoli, reflected
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32C of `data`, continuing from `crc` (pass the previous result to checksum in pieces). */
export function crc32c(data: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = CRC32C_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

export interface VerifyFailure {
  offset: number;
  message: string;
}

function checksum(kind: Exclude<VerifyKind, 'none'>, block: Uint8Array): Uint8Array {
  const head = block.subarray(0, 24);
  const payload = kind === 'meta' ? block.subarray(0, 0) : block.subarray(VERIFY_HEADER_LEN); // meta: the header alone
  if (kind === 'md5') return createHash('md5').update(head).update(payload).digest();
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, crc32c(payload, crc32c(head)), true);
  return out;
}

/** Word n of a block's payload (addon/bench/verify.cc computes the same): a 32-bit finalizer of base + n × golden. */
function payloadWord(base: number, n: number): number {
  let h = (base + Math.imul(n, 0x9e3779b9)) | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

function chunkLength(len: number, layout: VerifyLayout): number {
  return layout.interval && layout.interval < len ? layout.interval : len;
}

/** Byte p of a chunk `at` bytes into its block is pattern[(at + p) % length]. */
function fillPattern(chunk: Uint8Array, at: number, from: number, pattern: Uint8Array): void {
  for (let p = from; p < chunk.length; p++) chunk[p] = pattern[(at + p) % pattern.length];
}

/** Fills a block that is about to be written at `offset`, chunk by chunk. */
export function fillBlock(block: Uint8Array, offset: number, kind: Exclude<VerifyKind, 'none'>, seed: number, layout: VerifyLayout = {}): void {
  const chunk = chunkLength(block.length, layout);
  for (let at = 0; at + chunk <= block.length; at += chunk) fillChunk(block.subarray(at, at + chunk), at, offset + at, kind, seed, layout.pattern);
}

function fillChunk(block: Uint8Array, at: number, offset: number, kind: Exclude<VerifyKind, 'none'>, seed: number, pattern: Uint8Array | undefined): void {
  if (kind === 'pattern') {
    fillPattern(block, at, 0, pattern!);
    return;
  }
  if (pattern) {
    fillPattern(block, at, VERIFY_HEADER_LEN, pattern);
  } else {
    // Payload: word i is a hash of (base + i × golden ratio), base from the seed and offset, so every block
    // differs; the words do not depend on each other, so the native loop fills them in SIMD lanes.
    const base = (seed ^ Math.imul(offset / 512 >>> 0, 0x9e3779b1) ^ Math.floor(offset / 2 ** 41)) | 1;
    for (let i = VERIFY_HEADER_LEN, n = 0; i < block.length; i += 4, n++) {
      const x = payloadWord(base, n);
      block[i] = x; block[i + 1] = x >>> 8; block[i + 2] = x >>> 16; block[i + 3] = x >>> 24;
    }
  }
  const v = new DataView(block.buffer, block.byteOffset, VERIFY_HEADER_LEN);
  v.setUint32(0, VERIFY_MAGIC, true);
  v.setUint32(4, block.length, true);
  v.setBigUint64(8, BigInt(offset), true);
  v.setUint32(16, seed >>> 0, true);
  v.setUint32(20, KIND_CODE[kind], true);
  block.fill(0, 24, VERIFY_HEADER_LEN);
  block.set(checksum(kind, block), 24);
}

/** Checks a block read from `offset`, chunk by chunk; null when it is good, else its first bad chunk. */
export function checkBlock(block: Uint8Array, offset: number, kind: Exclude<VerifyKind, 'none'>, layout: VerifyLayout = {}): VerifyFailure | null {
  const chunk = chunkLength(block.length, layout);
  for (let at = 0; at + chunk <= block.length; at += chunk) {
    const failure = checkChunk(block.subarray(at, at + chunk), at, offset + at, kind, layout.pattern);
    if (failure) return failure;
  }
  return null;
}

function checkChunk(block: Uint8Array, at: number, offset: number, kind: Exclude<VerifyKind, 'none'>, pattern: Uint8Array | undefined): VerifyFailure | null {
  const fail = (what: string): VerifyFailure => ({ offset, message: `verify: bad block at offset ${offset} (length ${block.length}): ${what}` });
  const checkPattern = (from: number): VerifyFailure | null => {
    for (let p = from; p < block.length; p++) {
      const want = pattern![(at + p) % pattern!.length];
      if (block[p] !== want) return fail(`pattern mismatch at byte ${p}: 0x${byteHex(block[p])}, expected 0x${byteHex(want)}`);
    }
    return null;
  };
  if (kind === 'pattern') return checkPattern(0);
  if (block.length < VERIFY_HEADER_LEN) return fail('shorter than the verify header');
  const v = new DataView(block.buffer, block.byteOffset, VERIFY_HEADER_LEN);
  const magic = v.getUint32(0, true);
  if (magic !== VERIFY_MAGIC) return fail(`no verify header (magic 0x${hex(magic)}, expected 0x${hex(VERIFY_MAGIC)})`);
  const len = v.getUint32(4, true);
  if (len !== block.length) return fail(`header says length ${len}`);
  const stored = v.getBigUint64(8, true);
  if (stored !== BigInt(offset)) return fail(`header says offset ${stored}: the block was written elsewhere`);
  const code = v.getUint32(20, true);
  if (code !== KIND_CODE[kind]) return fail(`written with verify kind ${code}, checking as ${kind}`);
  // A copy whatever the view's class (Buffer#slice would share the memory zeroed next).
  const want = Uint8Array.prototype.slice.call(block, 24, 24 + (kind === 'md5' ? 16 : 4));
  block.fill(0, 24, VERIFY_HEADER_LEN);
  const got = checksum(kind, block);
  block.set(want, 24);
  if (!equalBytes(want, got)) {
    return fail(`${kind} mismatch: stored ${hexBytes(want, kind)}, computed ${hexBytes(got, kind)}`);
  }
  return pattern ? checkPattern(VERIFY_HEADER_LEN) : null;
}

function byteHex(b: number): string {
  return b.toString(16).padStart(2, '0');
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function hex(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}

function hexBytes(b: Uint8Array, kind: string): string {
  if (kind !== 'md5') return `0x${hex(new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true))}`;
  return Buffer.from(b).toString('hex');
}
