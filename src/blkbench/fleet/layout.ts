/**
 * Packed little-endian C structures described as field lists, so each of fio's wire structures is
 * written down once and both encoded and decoded from that one description. Offsets follow from
 * the order (the structures are packed); an explicit 'pad' field stands for the few holes.
 *
 * Kinds: u8/u16/u32/u64 integers, 'fp' fio's 16-byte float slot (an IEEE-754 double in the first 8
 * bytes), 'str' a NUL-padded char array of `count` bytes, 'iostat' fio's 56-byte running statistic
 * (max, min, samples, mean, sum of squared differences), 'pad' `count` unused bytes.
 * u64 values travel as JS numbers: exact up to 2^53, beyond what any counter here reaches.
 */
export type FieldKind = 'u8' | 'u16' | 'u32' | 'u64' | 'fp' | 'str' | 'iostat' | 'pad';
export type FieldSpec = readonly [name: string, kind: FieldKind, count?: number];

export interface IoStat {
  max: number;
  min: number;
  samples: number;
  mean: number;
  /** Sum of squared differences from the mean (Welford's M2, fio's S). */
  s: number;
}

const SIZE: Record<Exclude<FieldKind, 'str' | 'pad'>, number> = { u8: 1, u16: 2, u32: 4, u64: 8, fp: 16, iostat: 56 };

interface Field {
  name: string;
  kind: FieldKind;
  count: number;
  offset: number;
  /** Whether the field is an array (count given for a numeric kind). */
  array: boolean;
}

export type Decoded = Record<string, unknown>;

export class Layout {
  readonly fields: Field[] = [];
  readonly size: number;
  private readonly byName = new Map<string, Field>();

  constructor(spec: readonly FieldSpec[], alignTo = 1) {
    let at = 0;
    for (const [name, kind, count] of spec) {
      const n = count ?? 1;
      const f: Field = { name, kind, count: n, offset: at, array: count !== undefined && kind !== 'str' && kind !== 'pad' };
      this.fields.push(f);
      this.byName.set(name, f);
      at += kind === 'str' || kind === 'pad' ? n : SIZE[kind] * n;
    }
    this.size = Math.ceil(at / alignTo) * alignTo;
  }

  offsetOf(name: string): number {
    const f = this.byName.get(name);
    if (!f) throw new Error(`no field ${name}`);
    return f.offset;
  }

  /** Writes the fields present in `value` (absent ones stay zero) into a zeroed buffer of `size` bytes. */
  encode(value: Decoded, into: Buffer = Buffer.alloc(this.size), base = 0): Buffer {
    for (const f of this.fields) {
      const v = value[f.name];
      if (v === undefined || f.kind === 'pad') continue;
      if (f.kind === 'str') {
        const bytes = Buffer.from(String(v), 'utf8').subarray(0, f.count - 1); // always NUL-terminated
        into.set(bytes, base + f.offset);
        continue;
      }
      const values = f.array ? (v as ArrayLike<unknown>) : [v];
      const n = Math.min(f.count, values.length);
      for (let i = 0; i < n; i++) writeOne(into, base + f.offset + i * SIZE[f.kind as keyof typeof SIZE], f.kind, values[i]);
    }
    return into;
  }

  /** Reads every field; `buf` must hold `size` bytes from `base`. */
  decode(buf: Buffer, base = 0): Decoded {
    if (buf.length < base + this.size) throw new RangeError(`structure needs ${this.size} bytes, got ${buf.length - base}`);
    const out: Decoded = {};
    for (const f of this.fields) {
      if (f.kind === 'pad') continue;
      if (f.kind === 'str') {
        const raw = buf.subarray(base + f.offset, base + f.offset + f.count);
        const end = raw.indexOf(0);
        out[f.name] = raw.subarray(0, end < 0 ? raw.length : end).toString('utf8');
        continue;
      }
      const step = SIZE[f.kind as keyof typeof SIZE];
      if (!f.array) {
        out[f.name] = readOne(buf, base + f.offset, f.kind);
        continue;
      }
      const arr = f.kind === 'iostat' ? new Array<IoStat>(f.count) : new Float64Array(f.count);
      for (let i = 0; i < f.count; i++) (arr as unknown[])[i] = readOne(buf, base + f.offset + i * step, f.kind);
      out[f.name] = arr;
    }
    return out;
  }
}

/** fio marks an empty statistic's minimum with all ones; Infinity (an empty RunningStats min) maps there. */
const U64_MAX = (1n << 64n) - 1n;

function u64(v: number): bigint {
  if (v === Infinity || v >= 2 ** 64) return U64_MAX;
  if (!Number.isFinite(v) || v <= 0) return 0n;
  return BigInt(Math.min(Math.round(v), Number.MAX_SAFE_INTEGER));
}

function writeOne(b: Buffer, at: number, kind: FieldKind, v: unknown): void {
  switch (kind) {
    case 'u8':
      b.writeUInt8(clampInt(v, 0xff), at);
      return;
    case 'u16':
      b.writeUInt16LE(clampInt(v, 0xffff), at);
      return;
    case 'u32':
      b.writeUInt32LE(clampInt(v, 0xffffffff), at);
      return;
    case 'u64':
      b.writeBigUInt64LE(u64(Number(v)), at);
      return;
    case 'fp':
      b.writeDoubleLE(Number.isFinite(Number(v)) ? Number(v) : 0, at);
      return;
    case 'iostat': {
      const s = v as IoStat;
      b.writeBigUInt64LE(u64(s.max), at);
      b.writeBigUInt64LE(u64(s.min), at + 8);
      b.writeBigUInt64LE(u64(s.samples), at + 16);
      b.writeDoubleLE(Number.isFinite(s.mean) ? s.mean : 0, at + 24);
      b.writeDoubleLE(Number.isFinite(s.s) ? s.s : 0, at + 40);
      return;
    }
    default:
      return;
  }
}

function readOne(b: Buffer, at: number, kind: FieldKind): number | IoStat {
  switch (kind) {
    case 'u8':
      return b.readUInt8(at);
    case 'u16':
      return b.readUInt16LE(at);
    case 'u32':
      return b.readUInt32LE(at);
    case 'u64':
      return Number(b.readBigUInt64LE(at));
    case 'fp':
      return finite(b.readDoubleLE(at));
    case 'iostat':
      return {
        max: Number(b.readBigUInt64LE(at)),
        min: Number(b.readBigUInt64LE(at + 8)),
        samples: Number(b.readBigUInt64LE(at + 16)),
        mean: finite(b.readDoubleLE(at + 24)),
        s: finite(b.readDoubleLE(at + 40)),
      };
    default:
      return 0;
  }
}

/** A peer's NaN or infinity becomes 0 rather than poisoning sums. */
function finite(v: number): number {
  return Number.isFinite(v) ? v : 0;
}

function clampInt(v: unknown, max: number): number {
  const n = Math.round(Number(v));
  return Number.isFinite(n) ? Math.min(Math.max(n, 0), max) : 0;
}
