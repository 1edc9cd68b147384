/**
 * Parsers for option values that are more than a number or a flag: block sizes per direction,
 * bssplit, bsrange, rw with an offset modifier, random_distribution, property lists, per-direction
 * rates. Each throws an OptionError naming the option and what was expected.
 */
import { builtinDrivers } from '../lib';
import { OptionError, badValue, parseIntOption, parseSize } from './units';

export const RW_MODES = ['read', 'write', 'randread', 'randwrite', 'randrw', 'readwrite', 'trim', 'randtrim'] as const;
export type RwMode = (typeof RW_MODES)[number];

/** Read, write, trim: the order fio uses for per-direction values ("bs=4k,64k"). */
export const DIRECTIONS = ['read', 'write', 'trim'] as const;
export type Direction = (typeof DIRECTIONS)[number];

/** Block sizes for one direction: a single size, weighted choices from bssplit, or a range. */
export interface BlockSizeChoice {
  sizes: number[];
  /** Percentages, same length as sizes, adding up to 100. */
  weights: number[];
}

export type PerDirection<T> = Record<Direction, T>;

/**
 * fio's per-direction list "read,write,trim": one value applies to all three; with two, trims take
 * the read value; an empty entry keeps the default.
 */
export function parsePerDirection<T>(
  option: string, text: string, one: (part: string) => T, dflt: T, what = 'values',
): PerDirection<T> {
  const parts = text.split(',');
  if (parts.length > 3) throw badValue(option, text, `up to three ${what}: read,write,trim`);
  const v = parts.map((p) => (p.trim() === '' ? undefined : one(p)));
  const read = v[0] ?? dflt;
  return {
    read,
    write: parts.length > 1 ? (v[1] ?? dflt) : read,
    trim: parts.length > 2 ? (v[2] ?? dflt) : read,
  };
}

export const DEFAULT_BS = 4096;

function single(size: number): BlockSizeChoice {
  return { sizes: [size], weights: [100] };
}

export function parseBlockSizes(option: string, value: string): PerDirection<BlockSizeChoice> {
  return parsePerDirection(option, value, (p) => {
    const s = parseSize(option, p);
    if (s <= 0) throw badValue(option, value, 'a size above 0');
    return single(s);
  }, single(DEFAULT_BS), 'sizes');
}

/** "4k/10:64k/50:32k/40", per direction separated by commas; entries without a weight share what is left. */
export function parseBssplit(value: string): PerDirection<BlockSizeChoice> {
  const lists = value.split(',');
  if (lists.length > 3) throw badValue('bssplit', value, 'up to three lists: read,write,trim');
  const parsed = lists.map((list) => parseOneBssplit(value, list));
  const read = parsed[0];
  return { read, write: parsed[1] ?? read, trim: parsed[2] ?? read };
}

function parseOneBssplit(whole: string, list: string): BlockSizeChoice {
  const sizes: number[] = [];
  const given: Array<number | undefined> = [];
  for (const entry of list.split(':')) {
    if (entry.trim() === '') throw badValue('bssplit', whole, 'entries like 4k/10:64k/90');
    const [sizeText, weightText, ...rest] = entry.split('/');
    if (rest.length > 0) throw badValue('bssplit', whole, 'entries like 4k/10:64k/90');
    const size = parseSize('bssplit', sizeText);
    if (size <= 0) throw badValue('bssplit', whole, 'block sizes above 0');
    sizes.push(size);
    if (weightText === undefined || weightText.trim() === '') given.push(undefined);
    else given.push(parseIntOption('bssplit', weightText, 0, 100));
  }
  const fixed = given.reduce<number>((a, w) => a + (w ?? 0), 0);
  const open = given.filter((w) => w === undefined).length;
  if (fixed > 100) throw new OptionError(`weights in option 'bssplit' add up to ${fixed}, more than 100`);
  if (open === 0 && fixed !== 100) throw new OptionError(`weights in option 'bssplit' add up to ${fixed}, not 100`);
  const share = open > 0 ? (100 - fixed) / open : 0;
  return { sizes, weights: given.map((w) => w ?? share) };
}

/**
 * "1k-64k" per direction. fio draws any multiple of the minimum in the range; here the range is
 * every power-of-two multiple of the minimum up to the maximum, equally likely (plus the maximum),
 * so that buffer views are made once. Documented as a difference in the help text.
 */
export function parseBsrange(value: string): PerDirection<BlockSizeChoice> {
  return parsePerDirection('bsrange', value, (part) => {
    const m = /^([^-]+)-([^-]+)$/.exec(part.trim());
    if (!m) throw badValue('bsrange', value, 'ranges like 1k-64k');
    const lo = parseSize('bsrange', m[1]);
    const hi = parseSize('bsrange', m[2]);
    if (lo <= 0 || hi < lo) throw badValue('bsrange', value, 'a minimum above 0 and a maximum not below it');
    const sizes: number[] = [];
    for (let s = lo; s < hi; s *= 2) sizes.push(s);
    sizes.push(hi);
    return { sizes, weights: sizes.map(() => 100 / sizes.length) };
  }, single(DEFAULT_BS));
}

/** rw=MODE[:N]: N is fio's offset modifier, bytes added after each sequential I/O (may be negative). */
export interface RwSpec {
  mode: RwMode;
  seqAdd: number;
}

const RW_ALIASES: Record<string, RwMode> = { rw: 'readwrite' };

export function parseRw(text: string): RwSpec {
  const [modeText, addText, ...rest] = text.trim().split(':');
  const mode = (RW_ALIASES[modeText] ?? modeText) as RwMode;
  if (!RW_MODES.includes(mode) || rest.length > 0) {
    throw badValue('rw', text, `one of ${RW_MODES.join(', ')}, rw (optionally ':SIZE', e.g. read:-8k)`);
  }
  if (addText === undefined) return { mode, seqAdd: 0 };
  const negative = addText.trim().startsWith('-');
  const bytes = parseSize('rw', negative ? addText.trim().slice(1) : addText);
  if (mode.startsWith('rand')) {
    throw new OptionError(`option 'rw=${text.trim()}': the ':N' modifier is only supported for sequential modes`);
  }
  return { mode, seqAdd: negative ? -bytes : bytes };
}

export type DistributionKind = 'random' | 'zipf' | 'pareto' | 'normal' | 'zoned';
export interface Distribution {
  kind: DistributionKind;
  /** zipf theta, pareto power, normal: standard deviation in percent of the region. */
  param: number;
  /** zoned: [percent of accesses, percent of the region] per zone, in region order. */
  zones?: Array<[number, number]>;
}

/** fio's zoned:ACCESS%/REGION%:… (the read list; per-direction lists after a comma are refused). */
function parseZoned(text: string, body: string): Distribution {
  const expected = 'zoned:ACCESS/REGION:… with percentages, e.g. zoned:50/5:30/15:20/';
  if (body.includes(',')) throw new OptionError(`option 'random_distribution=${text.trim()}': per-direction zone lists are not supported`);
  const zones: Array<[number, number | undefined]> = body.split(':').map((z) => {
    const m = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(\d+(?:\.\d+)?)?\s*$/.exec(z);
    if (!m) throw badValue('random_distribution', text, expected);
    return [Number(m[1]), m[2] === undefined ? undefined : Number(m[2])];
  });
  const access = zones.reduce((a, [p]) => a + p, 0);
  if (Math.abs(access - 100) > 1e-9) throw new OptionError(`zone access percentages in 'random_distribution' add up to ${access}, not 100`);
  const given = zones.reduce((a, [, r]) => a + (r ?? 0), 0);
  const open = zones.filter(([, r]) => r === undefined).length;
  if (given > 100 || (open === 0 && Math.abs(given - 100) > 1e-9)) {
    throw new OptionError(`zone sizes in 'random_distribution' add up to ${given}, not 100`);
  }
  return { kind: 'zoned', param: 0, zones: zones.map(([p, r]) => [p, r ?? (100 - given) / open]) };
}

export function parseDistribution(text: string): Distribution {
  if (text.trim().startsWith('zoned:')) return parseZoned(text, text.trim().slice('zoned:'.length));
  const [kindText, paramText, ...rest] = text.trim().split(':');
  const kind = kindText === 'gauss' ? 'normal' : kindText;
  const expected = 'random, zipf:THETA, pareto:POWER, normal:DEV% or zoned:ACCESS/REGION:…';
  if (rest.length > 0) throw badValue('random_distribution', text, expected);
  if (kind === 'random') {
    if (paramText !== undefined) throw badValue('random_distribution', text, expected);
    return { kind, param: 0 };
  }
  if (kind !== 'zipf' && kind !== 'pareto' && kind !== 'normal') {
    throw badValue('random_distribution', text, expected);
  }
  const param = Number(paramText);
  if (paramText === undefined || !Number.isFinite(param)) throw badValue('random_distribution', text, expected);
  if (kind === 'zipf' && (param <= 0 || param === 1)) throw badValue('random_distribution', text, 'a zipf theta above 0, not 1');
  if (kind === 'pareto' && (param <= 0 || param >= 1)) throw badValue('random_distribution', text, 'a pareto power between 0 and 1');
  if (kind === 'normal' && (param <= 0 || param > 100)) throw badValue('random_distribution', text, 'a deviation between 0 and 100 percent');
  return { kind, param };
}

/** "name=value:name2=value2" with "\:" for a literal colon, as in fio's libblkio engine. */
export function parsePropList(option: string, value: string): Array<[string, string]> {
  const props: Array<[string, string]> = [];
  for (const item of value.split(/(?<!\\):/)) {
    if (item.trim() === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) throw badValue(option, value, 'a list like name=value:name2=value2');
    props.push([item.slice(0, eq).trim(), item.slice(eq + 1).replace(/\\:/g, ':')]);
  }
  return props;
}

export function parseRandseed(text: string): bigint {
  const t = text.trim();
  if (!/^\d+$/.test(t) || BigInt(t) >= 1n << 64n) throw badValue('randseed', t, 'an integer from 0 to 2^64-1');
  return BigInt(t);
}

export const VERIFY_KINDS = ['crc32c', 'md5', 'meta', 'pattern'] as const;
export type VerifyKind = 'none' | (typeof VERIFY_KINDS)[number];

export function parseVerify(text: string): VerifyKind {
  const v = text.trim();
  if (v === '0' || v === 'none' || v === 'null') return 'none';
  if (v === 'crc32c-intel' || v === 'crc32') return 'crc32c';
  if ((VERIFY_KINDS as readonly string[]).includes(v)) return v as VerifyKind;
  throw badValue('verify', text, `one of ${VERIFY_KINDS.join(', ')}`);
}

/** fio's longest verify_pattern. */
export const MAX_VERIFY_PATTERN = 512;

/**
 * fio's verify_pattern: numbers and quoted strings one after another, as bytes. A hex number
 * (0x...) gives its bytes in the order written (an odd leading digit is a byte of its own); a
 * decimal one, from INT_MIN to INT_MAX, its bytes from the lowest up, as many as it needs (0: one
 * zero byte); "text" its characters. fio's %o (each block's offset) is not supported.
 */
export function parseVerifyPattern(text: string): number[] {
  const bad = (what: string) => badValue('verify_pattern', text, what);
  const out: number[] = [];
  let rest = text.trim();
  if (rest === '') throw bad('a pattern such as 0xaa55 or "text"');
  while (rest !== '') {
    let m: RegExpExecArray | null;
    if (rest.startsWith('%o')) throw new OptionError(`option 'verify_pattern': %o (each block's offset) is not supported`);
    if ((m = /^"([^"]*)"/.exec(rest))) {
      out.push(...Buffer.from(m[1], 'latin1'));
    } else if ((m = /^0[xX]([0-9a-fA-F]+?)(?=0[xX]|[^0-9a-fA-F]|$)/.exec(rest))) {
      const digits = m[1];
      if (digits.length % 2 === 1) out.push(parseInt(digits[0], 16));
      for (let i = digits.length % 2; i < digits.length; i += 2) out.push(parseInt(digits.slice(i, i + 2), 16));
    } else if ((m = /^-?\d+/.exec(rest))) {
      const n = Number(m[0]);
      if (n > 2 ** 31 - 1 || n < -(2 ** 31)) throw bad('decimal numbers from -2147483648 to 2147483647 (longer ones in hex)');
      let v = n >>> 0;
      if (v === 0) out.push(0);
      for (; v !== 0; v = Math.floor(v / 256)) out.push(v & 0xff);
    } else {
      throw bad('hex (0x...) or decimal numbers and "quoted text"');
    }
    rest = rest.slice(m[0].length).trimStart();
  }
  if (out.length > MAX_VERIFY_PATTERN) throw bad(`at most ${MAX_VERIFY_PATTERN} bytes`);
  return out;
}

/** fio's fallocate modes; 0/1 are fio's old spellings of none/posix. */
export type FallocateMode = 'none' | 'native' | 'posix' | 'keep' | 'truncate';

export function parseFallocate(text: string): FallocateMode {
  const t = text.trim();
  if (t === '0') return 'none';
  if (t === '1') return 'posix';
  if (t === 'none' || t === 'native' || t === 'posix' || t === 'keep' || t === 'truncate') return t;
  throw badValue('fallocate', text, 'one of none, native, posix, keep, truncate, 0, 1');
}

/** wait_for=NAME, or continue_on_error=none|read|write|io|verify|all|0|1. */
export type ContinueOnError = 'none' | 'read' | 'write' | 'io' | 'verify' | 'all';

export function parseContinueOnError(text: string): ContinueOnError {
  const t = text.trim();
  if (t === '0') return 'none';
  if (t === '1') return 'all';
  if (['none', 'read', 'write', 'io', 'verify', 'all'].includes(t)) return t as ContinueOnError;
  throw badValue('continue_on_error', text, 'one of none, read, write, io, verify, all, 0, 1');
}

/** Drivers built into the addon (its registry). Any other libblkio driver name goes through the koffi loader. */
export const DRIVERS: readonly string[] = builtinDrivers();

/** fio engines that only change how fio talks to the kernel: here they all run on io_uring. */
export const KERNEL_ENGINES = ['libaio', 'psync', 'sync', 'pvsync', 'pvsync2', 'posixaio', 'vsync'] as const;

/** fio's exec engine: the job runs a program (program, arguments) for its runtime instead of doing I/O. */
export const EXEC_ENGINE = 'exec';

/** fio's pmemblk engine: reads and writes of a libpmemblk pool (filename=path,bsize,fsize_mib). */
export const PMEMBLK_ENGINE = 'pmemblk';

/**
 * fio's null engine: blkbench's job loop completes every request itself, with no target (no driver,
 * no file, no data touched). Also the job's `driver`.
 */
export const NULL_ENGINE = 'null';

/**
 * fio's file engines that move no data, one system call per request on the job's file (the job
 * loop's system-call sink): falloc (fallocate) and ftruncate. Engine name → the sink's call.
 */
export const FILE_ENGINES: Readonly<Record<string, 'fallocate' | 'ftruncate'>> = { falloc: 'fallocate', ftruncate: 'ftruncate' };

/** fio's cpuio: no I/O, CPU burnt in cycles (cpuload, cpumode, cpuchunks). */
export const CPU_ENGINE = 'cpuio';

/** fio's engines of one operation per file of nrfiles: engine name → the operation (filestat's is stat_type's). */
export const FILE_OP_ENGINES: Readonly<Record<string, 'create' | 'stat' | 'unlink'>> = { filecreate: 'create', filestat: 'stat', filedelete: 'unlink' };

/** fio's net engine: requests are sends and receives on a socket (hostname, port, protocol, listen, ...). */
export const NET_ENGINE = 'net';

/** fio's net protocols. */
export const NET_PROTOCOLS = ['tcp', 'tcpv6', 'udp', 'udpv6', 'unix'] as const;
export type NetProtocol = (typeof NET_PROTOCOLS)[number];

/** fio's engines that are the native loop's own sinks, with no libblkio device behind them. */
export const SINK_ENGINES: readonly string[] = [NULL_ENGINE, ...Object.keys(FILE_ENGINES), CPU_ENGINE, ...Object.keys(FILE_OP_ENGINES), NET_ENGINE, EXEC_ENGINE, PMEMBLK_ENGINE];

/** ioengine: a driver, libblkio, a kernel engine, or one of fio's engines that are the native loop's own sinks. */
export function parseEngine(text: string): string {
  const t = text.trim();
  const known = [...DRIVERS, 'libblkio', ...KERNEL_ENGINES, ...SINK_ENGINES];
  if (!known.includes(t)) throw badValue('ioengine', text, `one of ${known.join(', ')}`);
  return t;
}
