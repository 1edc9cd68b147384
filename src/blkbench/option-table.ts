/**
 * Every job option blkbench knows, one entry each: fio's names (canonical first, then aliases), the
 * kind of value, default, range, help, and how fio reads it. The job spec's type, the parser, the
 * help text and the JSON echo all come from this table (like fio's own options table).
 *
 * Keys are the JobSpec field names; the parsed value is stored under the key.
 */
import {
  BlockSizeChoice, ContinueOnError, Distribution, FallocateMode, NET_PROTOCOLS, PerDirection, RwSpec, VerifyKind,
  parseBlockSizes, parseBsrange, parseBssplit, parseContinueOnError, parseDistribution, parseFallocate,
  parseEngine, parsePerDirection, parsePropList, parseRandseed, parseRw, parseVerify, parseVerifyPattern,
} from './option-values';
import { SwitchTarget, parseSwitchTarget } from './switch-options';
import { SteadyStateSpec, parseSteadyState } from './steadystate';
import {
  OptionError, SizeOrPercent, badValue, parseBool, parseChoice, parseIntOption, parseSize, parseSizeOrPercent, parseTimeNs,
} from './units';

export type ValueKind = 'bool' | 'int' | 'size' | 'time' | 'choice' | 'str' | 'list';

export interface OptionDef<T> {
  /** fio's spelling first; the others are aliases. */
  names: readonly string[];
  kind: ValueKind;
  default: T;
  range?: readonly [number, number];
  choices?: readonly string[];
  help: string;
  /** fio's option type and semantics, as fio documents them. */
  fio: string;
  /** Accepted for fio job files but changes nothing here; printed once as a note with the reason. */
  note?: string;
  /** Which job loops run what the option asks (see LoopSupport). */
  loop: LoopSupport;
  /** A bare flag (no value) is allowed and means 1. */
  flag?: boolean;
  parse: (text: string) => T;
  /** Some options are another option's value in disguise (rwmixwrite, buffered): stored as that one. */
  storeAs?: (text: string) => [string, string];
}

/**
 * Which job loops do what an option asks. 'both': the native loop and the JS loop (also options that
 * act before or after the loop, such as the file layout or the report); 'js': only the JS loop, so a
 * job that sets the option away from its default runs there; 'native': only the native loop (options
 * of its own engines), so blkbench_loop=js refuses a job that sets it. Every option declares it, so a
 * new option cannot slip past either loop unnoticed.
 */
export type LoopSupport = 'both' | 'js' | 'native';

type Meta = Pick<OptionDef<unknown>, 'help' | 'fio' | 'note' | 'loop'>;

const bool = (names: string[], dflt: boolean, meta: Meta): OptionDef<boolean> => ({
  names, kind: 'bool', default: dflt, flag: true, ...meta, parse: (t) => parseBool(names[0], t),
});
const int = (names: string[], dflt: number, range: [number, number], meta: Meta): OptionDef<number> => ({
  names, kind: 'int', default: dflt, range, ...meta, parse: (t) => parseIntOption(names[0], t, range[0], range[1]),
});
const optInt = (names: string[], range: [number, number], meta: Meta): OptionDef<number | undefined> => ({
  names, kind: 'int', default: undefined, range, ...meta, parse: (t) => parseIntOption(names[0], t, range[0], range[1]),
});
const size = (names: string[], dflt: number, meta: Meta): OptionDef<number> => ({
  names, kind: 'size', default: dflt, ...meta, parse: (t) => parseSize(names[0], t),
});
const optSize = (names: string[], meta: Meta): OptionDef<number | undefined> => ({
  names, kind: 'size', default: undefined, ...meta, parse: (t) => parseSize(names[0], t),
});
/** A time in ns; a bare number is in `bareUnitNs`. */
const time = (names: string[], bareUnitNs: number, meta: Meta): OptionDef<number> => ({
  names, kind: 'time', default: 0, ...meta, parse: (t) => parseTimeNs(names[0], t, bareUnitNs),
});
const choice = <C extends string>(names: string[], dflt: C, choices: readonly C[], meta: Meta): OptionDef<C> => ({
  names, kind: 'choice', default: dflt, choices, ...meta, parse: (t) => parseChoice(names[0], t, choices),
});
const str = (names: string[], meta: Meta): OptionDef<string | undefined> => ({
  names, kind: 'str', default: undefined, ...meta, parse: (t) => t,
});
const custom = <T>(names: string[], kind: ValueKind, dflt: T, parse: (t: string) => T, meta: Meta): OptionDef<T> => ({
  names, kind, default: dflt, ...meta, parse,
});
/** write_*_log: a prefix, or bare (stored as "1") for the job's name, as fio does. */
const logPrefix = (names: string[], help: string, loop: LoopSupport): OptionDef<string | undefined> => ({
  names, kind: 'str', default: undefined, flag: true, help, loop, fio: 'str: log file prefix', parse: (t) => t,
});
const perDirSize = (name: string) => (t: string) =>
  parsePerDirection(name, t, (p) => parseSize(name, p), 0);
const perDirInt = (name: string) => (t: string) =>
  parsePerDirection(name, t, (p) => parseIntOption(name, p, 0, Number.MAX_SAFE_INTEGER), 0);
/** A ratio from 0 to 1 (fio's float options such as zone_reset_threshold). */
const ratio = (names: string[], dflt: number, meta: Meta): OptionDef<number> => ({
  names, kind: 'int', default: dflt, ...meta, parse: (t) => {
    const v = Number(t.trim());
    if (t.trim() === '' || !Number.isFinite(v) || v < 0 || v > 1) throw badValue(names[0], t, 'a number from 0 to 1');
    return v;
  },
});
const ZERO3: PerDirection<number> = { read: 0, write: 0, trim: 0 };
const US = 1e3;
const S = 1e9;
const MS = 1e6;

export const WAIT_MODES = ['block', 'eventfd', 'loop'] as const;
export type WaitMode = (typeof WAIT_MODES)[number];
export const JOB_LOOP_KINDS = ['native', 'js'] as const;
export type JobLoopKind = (typeof JOB_LOOP_KINDS)[number];

/** The table. Order is the help text's order. */
export const OPTIONS = {
  // What and where.
  jobName: str(['name'], { loop: 'both', help: 'in a job section: the job\'s name (in [global]: ignored, as fio does)', fio: 'str' }),
  description: str(['description'], { loop: 'both', help: 'free text, shown nowhere', fio: 'str' }),
  thread: bool(['thread', 'threads'], true, { loop: 'both', help: 'accepted: blkbench always runs jobs as threads', fio: 'bool: threads instead of processes' }),
  ioengine: custom(['ioengine', 'driver'], 'str', 'io_uring', parseEngine, {
    loop: 'both', help: 'io_uring|nvme-io_uring|virtio-blk-vfio-pci|virtio-blk-vhost-user|virtio-blk-vhost-vdpa|libblkio; libaio, psync, sync, pvsync, pvsync2, posixaio run on io_uring; null: no target (the job loop completes every request); falloc, ftruncate: one fallocate/ftruncate per request on the file; cpuio: burns CPU (cpuload); filecreate, filestat, filedelete: one create, stat or unlink per file of nrfiles; net: sends and receives on a socket (hostname, port, protocol, listen)',
    fio: 'str: the I/O engine',
  }),
  libblkio_driver: str(['libblkio_driver'], { loop: 'both', help: 'with ioengine=libblkio: any libblkio driver name', fio: 'str: libblkio driver' }),
  filename: str(['filename', 'path', 'libblkio_path'], { loop: 'both', help: 'file, block device or socket; "\\:" for a literal colon', fio: 'str' }),
  directory: str(['directory'], { loop: 'both', help: 'directory for files named by filename_format', fio: 'str' }),
  filenameFormat: custom(['filename_format'], 'str', '$jobname.$jobnum.$filenum', (t) => t, {
    loop: 'both', help: 'file name without filename: $jobname, $jobnum, $filenum', fio: 'str: default $jobname.$jobnum.$filenum',
  }),
  nrfiles: custom(['nrfiles', 'nr_files'], 'int', 1, (t) => parseIntOption('nrfiles', t, 1, 1 << 20), {
    loop: 'both', help: 'files per job (1, or many with ioengine=filecreate|filestat|filedelete)', fio: 'int: files per job',
  }),
  openfiles: optInt(['openfiles', 'open_files'], [1, 1 << 20], {
    loop: 'both', help: 'accepted', fio: 'int: files open at once', note: 'a job has one file open at a time (filecreate closes each file it creates)',
  }),
  filesize: optSize(['filesize'], { loop: 'both', help: 'size of each file (default: size / nrfiles)', fio: 'size' }),
  fallocate: custom<FallocateMode>(['fallocate'], 'choice', 'native', parseFallocate, {
    loop: 'both', help: 'laying out a new file: none|native|posix|keep|truncate', fio: 'str: native (default), posix, keep, truncate, none',
  }),
  createSerialize: bool(['create_serialize'], true, {
    loop: 'both', help: 'accepted', fio: 'bool: lay out the jobs\' files one at a time', note: 'files are always laid out one at a time',
  }),
  createOnOpen: bool(['create_on_open'], false, { loop: 'both', help: 'create the file when the job starts, not before', fio: 'bool' }),
  unlink: bool(['unlink'], false, { loop: 'both', help: 'remove the job\'s files after the job', fio: 'bool' }),

  // What I/O.
  rw: custom<RwSpec>(['rw', 'readwrite'], 'choice', { mode: 'read', seqAdd: 0 }, parseRw, {
    loop: 'both', help: 'read|write|randread|randwrite|randrw|readwrite (rw)|trim|randtrim, sequential ones with :N to skip N bytes',
    fio: 'str: td_ddir plus ddir_seq_add',
  }),
  rwmixread: int(['rwmixread'], 50, [0, 100], { loop: 'both', help: 'percent reads in a mixed job', fio: 'int' }),
  rwmixwrite: {
    ...int(['rwmixwrite'], 50, [0, 100], { loop: 'both', help: 'percent writes in a mixed job (sets rwmixread)', fio: 'int: 100 - rwmixread' }),
    storeAs: (t: string) => ['rwmixread', String(100 - parseIntOption('rwmixwrite', t, 0, 100))] as [string, string],
  },
  bs: custom<PerDirection<BlockSizeChoice>>(['bs', 'blocksize'], 'size', parseBlockSizes('bs', '4k'), (t) => parseBlockSizes('bs', t), {
    loop: 'both', help: 'block size, or read,write,trim sizes', fio: 'size list: per direction',
  }),
  bsrange: custom<PerDirection<BlockSizeChoice> | undefined>(['bsrange', 'blocksize_range'], 'size', undefined, parseBsrange, {
    loop: 'both', help: 'MIN-MAX block sizes: power-of-two steps from MIN, and MAX, equally likely', fio: 'range list: any multiple of MIN',
  }),
  bssplit: custom<PerDirection<BlockSizeChoice> | undefined>(['bssplit'], 'list', undefined, parseBssplit, {
    loop: 'both', help: 'weighted block sizes, e.g. 4k/50:64k/50', fio: 'str',
  }),
  size: custom<SizeOrPercent | undefined>(['size'], 'size', undefined, (t) => {
    const v = parseSizeOrPercent('size', t);
    if ('bytes' in v && v.bytes <= 0) throw badValue('size', t, 'a size above 0');
    return v;
  }, { loop: 'both', help: 'bytes of I/O region per job (or N% of the device)', fio: 'size or percent' }),
  ioSize: optSize(['io_size', 'io_limit'], { loop: 'both', help: 'bytes of I/O to do (default: size)', fio: 'size' }),
  offset: custom<SizeOrPercent>(['offset'], 'size', { bytes: 0 }, (t) => parseSizeOrPercent('offset', t), {
    loop: 'both', help: 'start of the I/O region', fio: 'size or percent',
  }),
  offsetIncrement: size(['offset_increment'], 0, { loop: 'both', help: 'clone N starts at offset + N × this', fio: 'size' }),
  numberIos: optInt(['number_ios'], [1, Number.MAX_SAFE_INTEGER], { loop: 'both', help: 'stop after this many I/Os', fio: 'int' }),
  loops: int(['loops'], 1, [1, 1 << 30], { loop: 'both', help: 'passes over the region', fio: 'int' }),
  randomDistribution: custom<Distribution>(['random_distribution'], 'choice', { kind: 'random', param: 0 }, parseDistribution, {
    loop: 'both', help: 'random|zipf:THETA|pareto:POWER|normal:DEV%', fio: 'str: random, zipf, pareto, normal (gauss)',
  }),
  blockalign: optSize(['blockalign', 'blockalign_range'], {
    loop: 'both', help: 'alignment of random offsets (default: the smallest block size)', fio: 'size: ba',
  }),
  randomGenerator: choice(['random_generator'], 'tausworthe', ['tausworthe', 'lfsr', 'tausworthe64'] as const, {
    loop: 'both', help: 'accepted', fio: 'str', note: 'blkbench draws from its own generator (xoshiro128**)',
  }),
  norandommap: bool(['norandommap'], false, { loop: 'both', help: 'random offsets may repeat within a pass', fio: 'bool' }),
  randrepeat: bool(['randrepeat'], true, { loop: 'both', help: 'the same seed on every run', fio: 'bool' }),
  randseed: custom<bigint>(['randseed'], 'int', 0x5eedn, parseRandseed, { loop: 'both', help: '64-bit seed', fio: 'int' }),

  // How deep.
  iodepth: int(['iodepth'], 1, [1, 65536], { loop: 'both', help: 'requests in flight', fio: 'int' }),
  iodepthBatchSubmit: int(['iodepth_batch_submit', 'iodepth_batch'], 1, [0, 65536], {
    loop: 'both', help: 'requests per submission (0: iodepth)', fio: 'int',
  }),
  iodepthBatchCompleteMin: int(['iodepth_batch_complete_min', 'iodepth_batch_complete'], 1, [0, 65536], {
    loop: 'both', help: 'completions to wait for', fio: 'int',
  }),
  iodepthBatchCompleteMax: int(['iodepth_batch_complete_max'], 0, [0, 65536], { loop: 'both', help: 'completions to take at most', fio: 'int' }),
  iodepthLow: optInt(['iodepth_low'], [0, 65536], { loop: 'both', help: 'accepted', fio: 'int: refill watermark', note: 'the queue is refilled as soon as a slot is free' }),
  ioSubmitMode: choice(['io_submit_mode'], 'inline', ['inline', 'offload'] as const, {
    loop: 'both', help: 'inline|offload', fio: 'str', note: 'submission is always inline on the job\'s thread',
  }),
  numjobs: int(['numjobs'], 1, [1, 1024], { loop: 'both', help: 'clones of the job, one thread and queue each', fio: 'int' }),

  // How long.
  runtimeNs: time(['runtime', 'timeout'], S, { loop: 'both', help: 'stop after this time', fio: 'time, seconds' }),
  timeBased: bool(['time_based'], false, { loop: 'both', help: 'run for runtime, repeating passes', fio: 'bool' }),
  rampTimeNs: time(['ramp_time'], S, { loop: 'both', help: 'run unmeasured first', fio: 'time, seconds' }),
  startdelayNs: time(['startdelay'], S, { loop: 'both', help: 'wait before starting', fio: 'time, seconds' }),

  // ioengine=exec (fio's program runner).
  program: str(['program'], { loop: 'native', help: 'ioengine=exec: the program to run (searched in PATH; needed)', fio: 'str' }),
  execArguments: str(['arguments'], { loop: 'native', help: 'ioengine=exec: its arguments, split at spaces; %r is the runtime in seconds, %n the job name', fio: 'str' }),
  graceTime: int(['grace_time'], 1, [0, 3600], { loop: 'native', help: 'ioengine=exec: seconds between SIGTERM and SIGKILL at the job\'s end', fio: 'int: default 1' }),
  stdRedirect: bool(['std_redirect'], true, { loop: 'native', help: 'ioengine=exec: the program\'s stdout and stderr to <jobname>.stdout and .stderr', fio: 'bool: default 1' }),

  // ioengine=cpuio (fio's CPU burner).
  cpuload: int(['cpuload'], 0, [0, 100], { loop: 'native', help: 'ioengine=cpuio: percent of a CPU to burn (needed)', fio: 'int' }),
  cpumode: choice(['cpumode'], 'noop', ['noop', 'qsort'] as const, {
    loop: 'native', help: 'ioengine=cpuio: noop (spin) or qsort (sort numbers) for each cycle', fio: 'str',
  }),
  statType: choice(['stat_type'], 'stat', ['stat', 'lstat', 'statx'] as const, {
    loop: 'native', help: 'ioengine=filestat: the call that looks each file up', fio: 'str',
  }),
  cpuchunks: int(['cpuchunks'], 50000, [1, 60_000_000], { loop: 'native', help: 'ioengine=cpuio: length of each burn cycle in microseconds', fio: 'int: usec' }),

  // ioengine=net (fio's network engine).
  hostname: str(['hostname'], { loop: 'native', help: 'ioengine=net: the peer to connect to, a UDP reader\'s multicast group, or a UNIX socket\'s path (the job\'s filename, as in fio)', fio: 'str' }),
  port: optInt(['port'], [1, 65535], { loop: 'native', help: 'ioengine=net: TCP or UDP port (numjobs clones use port + clone number)', fio: 'int' }),
  protocol: choice(['protocol', 'proto'], 'tcp', NET_PROTOCOLS, { loop: 'native', help: 'ioengine=net: tcp, tcpv6, udp, udpv6 or unix', fio: 'str: default tcp' }),
  listen: bool(['listen'], false, { loop: 'native', help: 'ioengine=net: TCP: wait for the peer to connect (UDP and UNIX readers always do)', fio: 'bool' }),
  pingpong: bool(['pingpong'], false, { loop: 'native', help: 'ioengine=net: each read is sent back, each write waits for its echo', fio: 'bool' }),
  nodelay: bool(['nodelay'], false, { loop: 'native', help: 'ioengine=net: TCP_NODELAY on TCP connections', fio: 'bool' }),
  netInterface: str(['interface'], { loop: 'native', help: 'ioengine=net: the IPv4 address of the interface for UDP multicast', fio: 'str' }),
  ttl: int(['ttl'], 1, [0, 255], { loop: 'native', help: 'ioengine=net: TTL of outgoing UDP multicast datagrams', fio: 'int: default 1' }),
  windowSize: size(['window_size'], 0, { loop: 'native', help: 'ioengine=net: socket buffer size (0: the kernel\'s)', fio: 'int: bytes, with fio\'s size suffixes' }),
  mss: int(['mss'], 0, [0, 65535], { loop: 'native', help: 'ioengine=net: TCP maximum segment size (0: the kernel\'s)', fio: 'int' }),

  // Steady state (fio's ss): stop a time_based job once its IOPS or bandwidth holds steady.
  steadystate: custom<SteadyStateSpec>(['steadystate', 'ss'], 'str', parseSteadyState('iops_slope:0.01%'), parseSteadyState, {
    loop: 'both', help: 'iops|iops_slope|bw|bw_slope:LIMIT[%]: the criterion over the ss_dur window (judged once a second, per group with group_reporting)',
    fio: 'str: default iops_slope:0.01%',
  }),
  ssDurNs: time(['steadystate_duration', 'ss_dur'], S, { loop: 'both', help: 'the window in whole seconds (0: no steady-state detection)', fio: 'time, seconds' }),
  ssRampNs: time(['steadystate_ramp_time', 'ss_ramp'], S, { loop: 'both', help: 'run this long before sampling for steady state', fio: 'time, seconds' }),

  // Groups.
  stonewall: bool(['stonewall', 'wait_for_previous'], false, { loop: 'both', help: 'wait for the jobs before; start a new group', fio: 'bool' }),
  newGroup: bool(['new_group'], false, { loop: 'both', help: 'start a new reporting group', fio: 'bool' }),
  waitFor: str(['wait_for'], { loop: 'both', help: 'start when the named job is done', fio: 'str' }),
  groupReporting: bool(['group_reporting'], false, { loop: 'both', help: 'report each group as one job', fio: 'bool' }),
  exitall: bool(['exitall'], false, { loop: 'both', help: 'when this job is done, stop the jobs exit_what names', fio: 'bool' }),
  exitWhat: choice(['exit_what'], 'group', ['group', 'stonewall', 'all'] as const, {
    loop: 'both', help: 'what exitall stops: group (its reporting group), stonewall (every running job), all (and no later job runs)',
    fio: 'str: group (default), stonewall, all',
  }),

  // Pace.
  rate: custom<PerDirection<number>>(['rate'], 'size', ZERO3, perDirSize('rate'), { loop: 'both', help: 'bytes/s cap, per direction', fio: 'size list' }),
  rateMin: custom<PerDirection<number>>(['rate_min', 'ratemin'], 'size', ZERO3, perDirSize('rate_min'), {
    loop: 'both', help: 'fail the job below this bytes/s', fio: 'size list',
  }),
  rateIops: custom<PerDirection<number>>(['rate_iops'], 'int', ZERO3, perDirInt('rate_iops'), { loop: 'both', help: 'IOPS cap, per direction', fio: 'int list' }),
  rateProcess: choice(['rate_process'], 'linear', ['linear', 'poisson'] as const, { loop: 'both', help: 'linear|poisson', fio: 'str', note: 'rates are paced linearly' }),
  thinktimeNs: time(['thinktime'], US, { loop: 'both', help: 'pause after I/O (microseconds)', fio: 'time, microseconds' }),
  thinktimeSpinNs: time(['thinktime_spin'], US, { loop: 'both', help: 'busy part of thinktime', fio: 'time, microseconds' }),
  thinktimeBlocks: int(['thinktime_blocks'], 1, [1, 1 << 30], { loop: 'both', help: 'I/Os between pauses', fio: 'int' }),
  flowSleep: optInt(['flow_sleep'], [0, 1 << 30], { loop: 'both', help: 'accepted', fio: 'int: usec', note: 'jobs are not throttled against each other' }),
  flow: custom<number>(['flow'], 'int', 0, (t) => Number(parseIntOption('flow', t.replace(/^-/, ''), 0)), {
    loop: 'both', help: 'accepted', fio: 'int: flow weight between jobs', note: 'jobs are not throttled against each other',
  }),

  // Cache and data.
  direct: bool(['direct'], false, { loop: 'both', help: 'O_DIRECT', fio: 'bool' }),
  buffered: {
    ...bool(['buffered'], true, { loop: 'both', help: 'the opposite of direct', fio: 'bool: !direct' }),
    storeAs: (t: string) => ['direct', parseBool('buffered', t) ? '0' : '1'] as [string, string],
  },
  invalidate: bool(['invalidate'], true, { loop: 'both', help: 'drop the page cache first', fio: 'bool' }),
  bufferCompressPercentage: int(['buffer_compress_percentage'], 0, [0, 100], { loop: 'both', help: 'make write data this compressible', fio: 'int' }),
  bufferCompressChunk: size(['buffer_compress_chunk'], 512, { loop: 'both', help: 'granularity of compressible data', fio: 'size' }),
  refillBuffers: bool(['refill_buffers'], false, { loop: 'both', help: 'new data for every write', fio: 'bool' }),
  scrambleBuffers: bool(['scramble_buffers'], true, { loop: 'both', help: 'vary each write a little', fio: 'bool' }),
  zeroBuffers: bool(['zero_buffers'], false, { loop: 'both', help: 'write zeroes', fio: 'bool' }),
  dedupePercentage: int(['dedupe_percentage'], 0, [0, 100], { loop: 'both', help: 'percent of writes repeating an earlier block', fio: 'int' }),
  dedupeMode: choice(['dedupe_mode'], 'repeat', ['repeat', 'working_set'] as const, {
    loop: 'both', help: 'accepted', fio: 'str', note: 'a deduplicated write repeats the buffer\'s previous contents',
  }),
  dedupeGlobal: bool(['dedupe_global'], false, { loop: 'both', help: 'accepted', fio: 'bool', note: 'deduplication is within each job' }),
  dedupeWorkingSetPercentage: int(['dedupe_working_set_percentage'], 5, [0, 100], {
    loop: 'both', help: 'accepted', fio: 'int', note: 'a deduplicated write repeats the buffer\'s previous contents',
  }),

  // Errors and verification.
  verify: custom<VerifyKind>(['verify'], 'choice', 'none', parseVerify, {
    loop: 'both', help: 'crc32c|md5: checksummed blocks; meta: headers only (and verify_pattern); pattern: verify_pattern alone, no headers', fio: 'str',
  }),
  verifyPattern: custom<number[] | undefined>(['verify_pattern'], 'str', undefined, parseVerifyPattern, {
    loop: 'both', help: 'written data: hex (0x...) and decimal numbers and "text" one after another, checked on reading (alone: verify=pattern)',
    fio: 'str: pattern bytes (%o not supported here)',
  }),
  verifyInterval: optInt(['verify_interval'], [64, 1 << 30], {
    loop: 'both', help: 'a verify header every this many bytes of a block (it must divide the block size)', fio: 'int: min 2 headers\' size',
  }),
  doVerify: bool(['do_verify'], true, { loop: 'both', help: 'a verifying write job reads its blocks back afterwards', fio: 'bool' }),
  verifyFatal: bool(['verify_fatal'], false, { loop: 'both', help: 'stop at the first bad block', fio: 'bool', note: 'verification always stops at the first bad block' }),
  verifyBacklog: optInt(['verify_backlog'], [1, Number.MAX_SAFE_INTEGER], { loop: 'both', help: 'accepted', fio: 'int', note: 'blocks are verified after the write phase' }),
  verifyAsync: optInt(['verify_async'], [0, 1024], { loop: 'both', help: 'accepted', fio: 'int', note: 'verification runs on the job\'s thread' }),
  verifyDump: bool(['verify_dump'], false, { loop: 'both', help: 'accepted', fio: 'bool', note: 'bad blocks are described, not dumped' }),
  ignoreError: str(['ignore_error'], { loop: 'both', help: 'accepted', fio: 'str: errno lists', note: 'continue_on_error decides which errors are passed over' }),
  errorDump: bool(['error_dump'], true, { loop: 'both', help: 'accepted', fio: 'bool', note: 'the first error of a job is reported with its request' }),
  continueOnError: custom<ContinueOnError>(['continue_on_error'], 'choice', 'none', parseContinueOnError, {
    loop: 'both', help: 'none|read|write|io|verify|all: count errors and go on', fio: 'str',
  }),

  // Reporting and logs.
  writeLatLog: logPrefix(['write_lat_log'], 'prefix for slat/clat/lat logs (bare: the job\'s name)', 'both'),
  writeBwLog: logPrefix(['write_bw_log'], 'prefix for the bandwidth log (bare: the job\'s name)', 'both'),
  writeIopsLog: logPrefix(['write_iops_log'], 'prefix for the IOPS log (bare: the job\'s name)', 'both'),
  writeHistLog: logPrefix(['write_hist_log'], 'prefix for the latency histogram log (bare: the job\'s name)', 'both'),
  logAvgMsec: int(['log_avg_msec'], 0, [0, 1 << 30], { loop: 'both', help: 'average log entries over this many ms', fio: 'int' }),
  logHistMsec: int(['log_hist_msec'], 0, [0, 1 << 30], { loop: 'both', help: 'histogram log interval in ms', fio: 'int' }),
  gtodReduce: bool(['gtod_reduce'], false, {
    loop: 'both', help: 'measure no latencies (disable_lat, disable_clat, disable_slat) and report no percentiles', fio: 'bool',
  }),
  diskUtil: bool(['disk_util'], true, { loop: 'both', help: 'report block device utilization', fio: 'bool' }),
  disableLat: bool(['disable_lat'], false, { loop: 'both', help: 'measure no total latency (lat)', fio: 'bool' }),
  disableClat: bool(['disable_clat'], false, { loop: 'both', help: 'measure no completion latency (clat, its percentiles and latency buckets)', fio: 'bool' }),
  disableSlat: bool(['disable_slat'], false, { loop: 'both', help: 'measure no submission latency (slat)', fio: 'bool' }),
  disableBw: bool(['disable_bw_measurement', 'disable_bw'], false, {
    loop: 'both', help: 'accepted', fio: 'bool: no per-request bandwidth log entries',
    note: 'bandwidth samples are kept, as fio 3.33 keeps them with it (blkbench logs bandwidth per interval only)',
  }),
  clatPercentiles: bool(['clat_percentiles'], true, { loop: 'both', help: 'report completion latency percentiles', fio: 'bool' }),
  latPercentiles: bool(['lat_percentiles'], false, { loop: 'both', help: 'report total latency percentiles', fio: 'bool' }),
  slatPercentiles: bool(['slat_percentiles'], false, { loop: 'both', help: 'report submission latency percentiles', fio: 'bool' }),
  cpusAllowedPolicy: choice(['cpus_allowed_policy'], 'shared', ['shared', 'split'] as const, {
    loop: 'both', help: 'accepted', fio: 'str: how cpus_allowed is shared between clones', note: 'CPU pinning (cpus_allowed) is not supported',
  }),

  // Zoned block devices (docs/zoned.md).
  zonemode: custom<'none' | 'zbd'>(['zonemode'], 'choice', 'none', (t) => {
    if (t.trim().toLowerCase() === 'strided') throw new OptionError(`option 'zonemode=strided' is not supported (zonemode=none or zbd)`);
    return parseChoice('zonemode', t, ['none', 'zbd'] as const);
  }, {
    loop: 'both', help: 'none|zbd: zbd writes at zone write pointers, reads below them (fio\'s zoned block device mode)',
    fio: 'str: none, strided, zbd',
  }),
  zonesize: optSize(['zonesize'], { loop: 'both', help: 'zbd: the zone size (0 or the device\'s; zones of it on a device without zones)', fio: 'size' }),
  zonecapacity: optSize(['zonecapacity'], { loop: 'both', help: 'zbd on a device without zones: writable bytes per zone (default zonesize)', fio: 'size' }),
  zonerange: optSize(['zonerange'], {
    loop: 'both', help: 'accepted', fio: 'size: strided zone size', note: 'it applies to zonemode=strided only (fio ignores it with zonemode=zbd)',
  }),
  zoneskip: size(['zoneskip'], 0, { loop: 'both', help: 'zbd: only 0 (skipping zones is not supported)', fio: 'size' }),
  readBeyondWp: bool(['read_beyond_wp'], false, { loop: 'both', help: 'zbd: reads may go past the write pointer', fio: 'bool' }),
  maxOpenZones: int(['max_open_zones'], 0, [0, 4096], { loop: 'both', help: 'zbd: zones written at once (0: the device\'s limit or none)', fio: 'int' }),
  jobMaxOpenZones: int(['job_max_open_zones'], 0, [0, 4096], { loop: 'both', help: 'zbd: zones this job writes at once (needs a global limit)', fio: 'int' }),
  ignoreZoneLimits: bool(['ignore_zone_limits'], false, { loop: 'both', help: 'zbd: max_open_zones may exceed the device\'s limit', fio: 'bool' }),
  zoneResetThreshold: ratio(['zone_reset_threshold'], 1, { loop: 'both', help: 'zbd: share of the region holding data above which writes reset zones', fio: 'float' }),
  zoneResetFrequency: ratio(['zone_reset_frequency'], 0, { loop: 'both', help: 'zbd: above the threshold, one reset per 1/this writes', fio: 'float' }),

  // libblkio engine.
  preConnectProps: custom<Array<[string, string]>>(['libblkio_pre_connect_props'], 'list', [], (t) => parsePropList('libblkio_pre_connect_props', t), {
    loop: 'both', help: 'properties before connect: a=b:c=d', fio: 'str',
  }),
  preStartProps: custom<Array<[string, string]>>(['libblkio_pre_start_props'], 'list', [], (t) => parsePropList('libblkio_pre_start_props', t), {
    loop: 'both', help: 'properties before start', fio: 'str',
  }),
  hipri: bool(['hipri'], false, { loop: 'both', help: 'poll queues', fio: 'bool' }),
  waitMode: choice(['libblkio_wait_mode'], 'block', WAIT_MODES, { loop: 'both', help: 'block|eventfd|loop', fio: 'str' }),
  jobLoop: choice(['blkbench_loop'], 'native', JOB_LOOP_KINDS, {
    loop: 'both', help: 'native: the job loop in C++ (where it supports the job); js: the JS loop over the mirror API',
    fio: 'blkbench only',
  }),
  numEntries: optInt(['libblkio_num_entries'], [1, 32768], { loop: 'both', help: 'io_uring ring size', fio: 'int' }),
  queueSize: optInt(['libblkio_queue_size'], [1, 32768], { loop: 'both', help: 'virtqueue size', fio: 'int' }),
  vectored: bool(['libblkio_vectored'], false, { loop: 'both', help: 'readv/writev', fio: 'bool' }),
  writeZeroesOnTrim: bool(['libblkio_write_zeroes_on_trim'], false, { loop: 'both', help: 'trims as write-zeroes', fio: 'bool' }),
  switchTo: custom<SwitchTarget | undefined>(['blkbench_switch_to'], 'str', undefined, parseSwitchTarget, {
    loop: 'both', help: 'DRIVER:PATH: another backend of the same image to switch to and back while the job runs', fio: 'blkbench only',
  }),
  switchEveryNs: time(['blkbench_switch_every'], S, { loop: 'both', help: 'switch backends this often (with blkbench_switch_to)', fio: 'blkbench only' }),
};

export type OptionKey = keyof typeof OPTIONS;
export type OptionValues = { -readonly [K in OptionKey]: (typeof OPTIONS)[K] extends OptionDef<infer T> ? T : never };

/** Every written name (aliases included, lower case, underscores) → table key. */
export const OPTION_BY_NAME = new Map<string, OptionKey>();
for (const key of Object.keys(OPTIONS) as OptionKey[]) {
  for (const n of OPTIONS[key].names) OPTION_BY_NAME.set(n, key);
}

/**
 * fio options blkbench knows of but does not do, with the reason: a clear refusal rather than
 * "unknown option".
 */
export const UNSUPPORTED: Record<string, string> = {
  fsync: 'fsync after writes is not supported',
  fdatasync: 'fdatasync after writes is not supported',
  end_fsync: 'end_fsync is not supported',
  fsync_on_close: 'fsync_on_close is not supported',
  sync: 'O_SYNC writes are not supported',
  file_service_type: 'one file per job: file_service_type does not apply',
  cpus_allowed: 'CPU pinning is not supported',
  cpumask: 'CPU pinning is not supported',
  nice: 'job priorities are not supported',
  prio: 'I/O priorities are not supported',
  prioclass: 'I/O priorities are not supported',
  write_iolog: 'I/O logs are not supported',
  read_iolog: 'I/O replay is not supported',
  lockmem: 'lockmem is not supported',
  mem: 'buffer memory types are not supported (buffers are mapped memory regions)',
  iomem: 'buffer memory types are not supported (buffers are mapped memory regions)',
  exec_prerun: 'running commands is not supported',
  exec_postrun: 'running commands is not supported',
  trim_percentage: 'trim_percentage is not supported',
  latency_target: 'the latency-target queue depth search is not supported',
  latency_window: 'the latency-target queue depth search is not supported',
  latency_percentile: 'the latency-target queue depth search is not supported',
  fill_device: 'fill_device is not supported (give size)',
  fill_fs: 'fill_device is not supported (give size)',
  random_sequence_stride: 'random_distribution=sequence is not supported',
};

/** Help lines generated from the table. */
export function optionHelp(): string {
  return (Object.keys(OPTIONS) as OptionKey[])
    .map((k) => {
      const d = OPTIONS[k] as OptionDef<unknown>;
      const names = d.names.join('|');
      const range = d.range ? ` [${d.range[0]}..${d.range[1]}]` : '';
      return `  --${names}${d.flag ? '[=0|1]' : '=' + d.kind.toUpperCase()}${range}  ${d.help}${d.note ? ` (accepted: ${d.note})` : ''}`;
    })
    .join('\n');
}
