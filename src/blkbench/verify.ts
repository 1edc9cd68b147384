/**
 * Data verification: each written block carries a header (magic, length, its own offset, checksum
 * kind) and a checksum over the header and a pseudo-random payload. Reading it back checks all of
 * them, so a corrupted or misplaced block is reported with its offset.
 *
 * Layout (little-endian): 0 magic u32 | 4 length u32 | 8 offset u64 | 16 seed u32 | 20 kind u32 |
 * 24 checksum (16 bytes; crc32c uses the first 4) | 40 payload.
 */
import { createHash } from 'node:crypto';
import { VerifyKind } from './options';

export const VERIFY_MAGIC = 0x5642_4b42; // "BKBV"
export const VERIFY_HEADER_LEN = 40;
const KIND_CODE: Record<Exclude<VerifyKind, 'none'>, number> = { crc32c: 1, md5: 2 };

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
  const payload = block.subarray(VERIFY_HEADER_LEN);
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

/** Fills a block that is about to be written at `offset`. */
export function fillBlock(block: Uint8Array, offset: number, kind: Exclude<VerifyKind, 'none'>, seed: number): void {
  // Payload: word i is a hash of (base + i × golden ratio), base from the seed and offset, so every block
  // differs; the words do not depend on each other, so the native loop fills them in SIMD lanes.
  const base = (seed ^ Math.imul(offset / 512 >>> 0, 0x9e3779b1) ^ Math.floor(offset / 2 ** 41)) | 1;
  for (let i = VERIFY_HEADER_LEN, n = 0; i < block.length; i += 4, n++) {
    const x = payloadWord(base, n);
    block[i] = x; block[i + 1] = x >>> 8; block[i + 2] = x >>> 16; block[i + 3] = x >>> 24;
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

/** Checks a block read from `offset`; null when it is good. */
export function checkBlock(block: Uint8Array, offset: number, kind: Exclude<VerifyKind, 'none'>): VerifyFailure | null {
  const v = new DataView(block.buffer, block.byteOffset, VERIFY_HEADER_LEN);
  const fail = (what: string): VerifyFailure => ({ offset, message: `verify: bad block at offset ${offset} (length ${block.length}): ${what}` });
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
  return null;
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
  if (kind === 'crc32c') return `0x${hex(new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true))}`;
  return Buffer.from(b).toString('hex');
}
