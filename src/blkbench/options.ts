/**
 * fio's job options, as blkbench understands them: names, aliases, value checks, defaults.
 *
 * Options are gathered as raw strings first (from a job file or the command line), so that the JSON
 * report can echo them the way fio does, then resolved into a typed JobSpec with every value checked.
 */
import {
  OptionError, SizeOrPercent, badValue, parseBool, parseChoice, parseIntOption, parseSize,
  parseSizeOrPercent, parseTimeNs,
} from './units';

export const DRIVERS = ['io_uring', 'nvme-io_uring', 'virtio-blk-vfio-pci', 'virtio-blk-vhost-user', 'virtio-blk-vhost-vdpa'] as const;
export const RW_MODES = ['read', 'write', 'randread', 'randwrite', 'randrw', 'readwrite', 'trim', 'randtrim'] as const;
export type RwMode = (typeof RW_MODES)[number];
export const VERIFY_KINDS = ['crc32c', 'md5'] as const;
export type VerifyKind = 'none' | (typeof VERIFY_KINDS)[number];
export const WAIT_MODES = ['block', 'eventfd', 'loop'] as const;
export type WaitMode = (typeof WAIT_MODES)[number];
export const JOB_LOOP_KINDS = ['native', 'js'] as const;
export type JobLoopKind = (typeof JOB_LOOP_KINDS)[number];

/** Read, write, trim: the order fio uses for per-direction values ("bs=4k,64k"). */
export const DIRECTIONS = ['read', 'write', 'trim'] as const;
export type Direction = (typeof DIRECTIONS)[number];

/** Block sizes for one direction: a single size, or weighted choices from bssplit. */
export interface BlockSizeChoice {
  sizes: number[];
  /** Percentages, same length as sizes, adding up to 100. */
  weights: number[];
}

export interface JobSpec {
  name: string;
  driver: string;
  path: string | undefined;
  rw: RwMode;
  rwmixread: number;
  bs: Record<Direction, BlockSizeChoice>;
  iodepth: number;
  iodepthBatchSubmit: number;
  iodepthBatchCompleteMin: number;
  iodepthBatchCompleteMax: number;
  numjobs: number;
  size: SizeOrPercent | undefined;
  offset: SizeOrPercent;
  runtimeNs: number;
  timeBased: boolean;
  rampTimeNs: number;
  direct: boolean;
  invalidate: boolean;
  norandommap: boolean;
  randrepeat: boolean;
  randseed: bigint;
  verify: VerifyKind;
  groupReporting: boolean;
  preConnectProps: Array<[string, string]>;
  preStartProps: Array<[string, string]>;
  hipri: boolean;
  waitMode: WaitMode;
  numEntries: number | undefined;
  queueSize: number | undefined;
  vectored: boolean;
  writeZeroesOnTrim: boolean;
  /** blkbench_loop: the native job loop (default, where it supports the job) or the JS loop over the mirror API. */
  loop?: JobLoopKind;
  /** The options as written, echoed in the JSON report's "job options" (flags without a value left out). */
  echo: Record<string, string>;
}

/** Raw options of one job: canonical name → value (undefined for a bare flag). Later settings win. */
export type RawOptions = Map<string, string | undefined>;

/** How each option is written; the first name is canonical, the rest are aliases. */
const OPTION_NAMES: string[][] = [
  ['name'], ['description'], ['thread'],
  ['ioengine', 'driver'], ['libblkio_driver'],
  ['filename', 'path', 'libblkio_path'],
  ['rw', 'readwrite'], ['rwmixread'], ['rwmixwrite'],
  ['bs', 'blocksize'], ['bssplit'],
  ['iodepth'], ['iodepth_batch_submit', 'iodepth_batch'],
  ['iodepth_batch_complete_min', 'iodepth_batch_complete'], ['iodepth_batch_complete_max'],
  ['numjobs'], ['size'], ['offset'],
  ['runtime', 'timeout'], ['time_based'], ['ramp_time'],
  ['direct'], ['invalidate'], ['norandommap'], ['randrepeat'], ['randseed'],
  ['verify'], ['group_reporting'],
  ['libblkio_pre_connect_props'], ['libblkio_pre_start_props'],
  ['hipri'], ['libblkio_wait_mode'], ['libblkio_num_entries'], ['libblkio_queue_size'],
  ['libblkio_vectored'], ['libblkio_write_zeroes_on_trim'],
  ['blkbench_loop'],
];

const CANONICAL = new Map<string, string>();
for (const names of OPTION_NAMES) for (const n of names) CANONICAL.set(n, names[0]);

/** Options that mean "on" when given without a value. */
const FLAGS = new Set([
  'thread', 'time_based', 'direct', 'invalidate', 'norandommap', 'randrepeat', 'group_reporting',
  'hipri', 'libblkio_vectored', 'libblkio_write_zeroes_on_trim',
]);

/** fio spells options with underscores; blkbench also takes hyphens ("--time-based"). */
export function canonicalOptionName(written: string): string {
  const canonical = CANONICAL.get(written.trim().toLowerCase().replace(/-/g, '_'));
  if (canonical === undefined) throw new OptionError(`unknown option '${written}'`);
  return canonical;
}

/** Records one option into a job's raw options, checking the name and that a value is present. */
export function setRawOption(raw: RawOptions, written: string, value: string | undefined): void {
  const name = canonicalOptionName(written);
  if (value === undefined && !FLAGS.has(name)) throw new OptionError(`option '${written}' needs a value`);
  if (name === 'rwmixwrite') {
    // Read and write mixes are two views of one number: the later one wins, as in fio.
    const w = parseIntOption('rwmixwrite', value!, 0, 100);
    raw.delete('rwmixread');
    raw.set('rwmixread', String(100 - w));
  }
  raw.delete(name); // keep insertion order = order of last setting
  raw.set(name, value);
}

const DEFAULT_BS = 4096;

function parseBlockSizes(value: string | undefined): Record<Direction, BlockSizeChoice> {
  const parts = (value ?? '').split(',');
  if (parts.length > 3) throw badValue('bs', value!, 'up to three sizes: read,write,trim');
  const sizes = parts.map((p) => (p.trim() === '' ? undefined : parseSize('bs', p)));
  for (const s of sizes) if (s !== undefined && s <= 0) throw badValue('bs', value!, 'a size above 0');
  // fio: one size applies to every direction; "bs=4k,64k" leaves trims at the read size.
  const read = sizes[0] ?? DEFAULT_BS;
  const write = sizes.length > 1 ? (sizes[1] ?? DEFAULT_BS) : read;
  const trim = sizes.length > 2 ? (sizes[2] ?? DEFAULT_BS) : read;
  return {
    read: { sizes: [read], weights: [100] },
    write: { sizes: [write], weights: [100] },
    trim: { sizes: [trim], weights: [100] },
  };
}

/** "4k/10:64k/50:32k/40", per direction separated by commas; entries without a weight share what is left. */
export function parseBssplit(value: string): Record<Direction, BlockSizeChoice> {
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

/** Turns one job's raw options into a checked JobSpec. */
export function resolveJob(name: string, raw: RawOptions): JobSpec {
  const get = (k: string) => raw.get(k);
  const has = (k: string) => raw.has(k);
  const flag = (k: string, dflt: boolean) => (has(k) ? parseBool(k, get(k)) : dflt);
  const int = (k: string, dflt: number, min: number, max?: number) =>
    has(k) ? parseIntOption(k, get(k)!, min, max) : dflt;

  let driver = 'io_uring';
  const engine = get('ioengine');
  if (engine !== undefined) {
    const e = parseChoice('ioengine', engine, [...DRIVERS, 'libblkio']);
    if (e === 'libblkio') {
      if (!has('libblkio_driver')) throw new OptionError(`option 'ioengine=libblkio' needs 'libblkio_driver'`);
    } else driver = e;
  }
  if (has('libblkio_driver') && (engine === undefined || engine.trim() === 'libblkio')) {
    driver = parseChoice('libblkio_driver', get('libblkio_driver')!, DRIVERS);
  }

  const filename = get('filename');
  const rw = has('rw') ? parseChoice('rw', get('rw')!, RW_MODES) : 'read';
  let bs = parseBlockSizes(get('bs'));
  if (has('bssplit')) bs = parseBssplit(get('bssplit')!);

  const iodepth = int('iodepth', 1, 1, 65536);
  // fio: iodepth_batch_submit=0 means "the whole iodepth".
  const batchSubmit = int('iodepth_batch_submit', 1, 0, 65536) || iodepth;
  const completeMin = int('iodepth_batch_complete_min', 1, 0, 65536);
  const completeMaxGiven = int('iodepth_batch_complete_max', 0, 0, 65536);
  if (has('iodepth_batch_complete_max') && completeMaxGiven < completeMin) {
    throw new OptionError(
      `option 'iodepth_batch_complete_max' (${completeMaxGiven}) is below 'iodepth_batch_complete_min' (${completeMin})`,
    );
  }

  const size = has('size') ? parseSizeOrPercent('size', get('size')!) : undefined;
  if (size && 'bytes' in size && size.bytes <= 0) throw badValue('size', get('size')!, 'a size above 0');

  const verifyText = get('verify');
  let verify: VerifyKind = 'none';
  if (verifyText !== undefined) {
    const v = verifyText.trim();
    if (v === '0' || v === 'none' || v === 'null') verify = 'none';
    else if (v === 'crc32c-intel') verify = 'crc32c';
    else verify = parseChoice('verify', v, VERIFY_KINDS);
  }

  const waitMode = has('libblkio_wait_mode') ? parseChoice('libblkio_wait_mode', get('libblkio_wait_mode')!, WAIT_MODES) : 'block';
  const hipri = flag('hipri', false);
  if (hipri && waitMode === 'eventfd') {
    throw new OptionError(`option 'hipri' cannot be used with 'libblkio_wait_mode=eventfd': poll queues have no completion fd`);
  }

  let randseed = 0x5eedn;
  if (has('randseed')) {
    const t = get('randseed')!.trim();
    if (!/^\d+$/.test(t) || BigInt(t) >= 1n << 64n) throw badValue('randseed', t, 'an integer from 0 to 2^64-1');
    randseed = BigInt(t);
  }

  const spec: JobSpec = {
    name,
    driver,
    path: filename === undefined ? undefined : filename.replace(/\\:/g, ':'),
    rw,
    rwmixread: int('rwmixread', 50, 0, 100),
    bs,
    iodepth,
    iodepthBatchSubmit: Math.min(batchSubmit, iodepth),
    iodepthBatchCompleteMin: Math.min(completeMin, iodepth),
    iodepthBatchCompleteMax: Math.min(Math.max(completeMaxGiven, completeMin), iodepth),
    numjobs: int('numjobs', 1, 1, 1024),
    size,
    offset: has('offset') ? parseSizeOrPercent('offset', get('offset')!) : { bytes: 0 },
    runtimeNs: has('runtime') ? parseTimeNs('runtime', get('runtime')!) : 0,
    timeBased: flag('time_based', false),
    rampTimeNs: has('ramp_time') ? parseTimeNs('ramp_time', get('ramp_time')!) : 0,
    direct: flag('direct', false),
    invalidate: flag('invalidate', true),
    norandommap: flag('norandommap', false),
    randrepeat: flag('randrepeat', true),
    randseed,
    verify,
    groupReporting: flag('group_reporting', false),
    preConnectProps: has('libblkio_pre_connect_props') ? parsePropList('libblkio_pre_connect_props', get('libblkio_pre_connect_props')!) : [],
    preStartProps: has('libblkio_pre_start_props') ? parsePropList('libblkio_pre_start_props', get('libblkio_pre_start_props')!) : [],
    hipri,
    waitMode,
    numEntries: has('libblkio_num_entries') ? parseIntOption('libblkio_num_entries', get('libblkio_num_entries')!, 1, 32768) : undefined,
    queueSize: has('libblkio_queue_size') ? parseIntOption('libblkio_queue_size', get('libblkio_queue_size')!, 1, 32768) : undefined,
    vectored: flag('libblkio_vectored', false),
    writeZeroesOnTrim: flag('libblkio_write_zeroes_on_trim', false),
    loop: has('blkbench_loop') ? parseChoice('blkbench_loop', get('blkbench_loop')!, JOB_LOOP_KINDS) : 'native',
    echo: {},
  };
  flag('thread', true); // accepted for fio job files; blkbench jobs always run as threads
  if (spec.timeBased && spec.runtimeNs === 0) throw new OptionError(`option 'time_based' needs 'runtime'`);
  if (spec.verify !== 'none') checkVerifiable(spec);
  for (const [k, v] of raw) if (v !== undefined) spec.echo[k] = v;
  return spec;
}

function checkVerifiable(spec: JobSpec): void {
  if (spec.rw === 'trim' || spec.rw === 'randtrim') throw new OptionError(`option 'verify' cannot be used with rw=${spec.rw}`);
  if (spec.rw === 'randrw' || spec.rw === 'readwrite') {
    throw new OptionError(`option 'verify' cannot be used with rw=${spec.rw}: use a write job, then a read job`);
  }
  for (const d of DIRECTIONS) {
    if (spec.bs[d].sizes.length > 1) throw new OptionError(`option 'verify' needs one block size, not 'bssplit'`);
    if (spec.bs[d].sizes[0] < 64) throw new OptionError(`option 'verify' needs a block size of at least 64 bytes`);
  }
}

/** Which directions a job issues. */
export function jobDirections(rw: RwMode): Direction[] {
  switch (rw) {
    case 'read': case 'randread': return ['read'];
    case 'write': case 'randwrite': return ['write'];
    case 'trim': case 'randtrim': return ['trim'];
    case 'randrw': case 'readwrite': return ['read', 'write'];
  }
}

export function isRandom(rw: RwMode): boolean {
  return rw.startsWith('rand');
}

export function maxBlockSize(spec: JobSpec): number {
  return Math.max(...jobDirections(spec.rw).flatMap((d) => spec.bs[d].sizes));
}

export function minBlockSize(spec: JobSpec): number {
  return Math.min(...jobDirections(spec.rw).flatMap((d) => spec.bs[d].sizes));
}
