/**
 * The payloads of fio's client/server commands (fio 3.33), as field lists (see fleet-layout).
 * Sizes checked against fio 3.33 built for x86-64: thread_stat 183888, group_run_stats 164,
 * cmd_ts_pdu 184056, jobs_eta 168 (+ run string), cmd_du_pdu 256, probe reply 112, client probe
 * 136, text 24 (+ text), job option 200.
 */
import { FieldSpec, IoStat, Layout } from './layout';

/** Directions in fio's arrays: read, write, trim. */
export const DDIRS = 3;
/** Latency histogram buckets (29 groups of 64), as blkbench's histogram. */
export const PLAT_NR = 1856;
export const PERCENTILE_SLOTS = 20;
export const MAX_BLOCK_INFOS = 8192;
/** Which histogram of io_u_plat: submission, completion, total latency. */
export const LAT_SLAT = 0;
export const LAT_CLAT = 1;
export const LAT_TOTAL = 2;

export const CLIENT_PROBE = new Layout([
  ['flags', 'u64'],
  ['server', 'str', 128],
]);
export const PROBE_FLAG_ZLIB = 1;

export const PROBE_REPLY = new Layout(
  [
    ['hostname', 'str', 64],
    ['bigendian', 'u8'],
    ['fioVersion', 'str', 32],
    ['os', 'u8'],
    ['arch', 'u8'],
    ['bpp', 'u8'],
    ['cpus', 'u32'],
    ['flags', 'u64'],
  ],
  8,
);
export const OS_LINUX = 1;
export const ARCH_X86_64 = 1;

/** Followed by `bufLen` bytes of text (no NUL on the wire). */
export const TEXT = new Layout([
  ['level', 'u32'],
  ['bufLen', 'u32'],
  ['logSec', 'u64'],
  ['logUsec', 'u64'],
]);

/** Followed by the job file; fio's client sends more bytes than the file and NUL-terminates it. */
export const JOB = new Layout([
  ['bufLen', 'u32'],
  ['clientType', 'u32'],
]);

/** Followed by `lines` entries of (u16 length, that many bytes). */
export const JOBLINE = new Layout([
  ['lines', 'u16'],
  ['clientType', 'u16'],
]);

export const START = new Layout([
  ['jobs', 'u32'],
  ['statOutputs', 'u32'],
]);

export const STOP = new Layout([
  ['error', 'u32'],
  ['signal', 'u32'],
]);

export const JOB_OPTION = new Layout([
  ['global', 'u16'],
  ['truncated', 'u16'],
  ['groupid', 'u32'],
  ['name', 'str', 64],
  ['value', 'str', 128],
]);

const PER_DIR_U64 = (name: string): FieldSpec => [name, 'u64', DDIRS];

export const GROUP_RUN_STATS = new Layout([
  PER_DIR_U64('maxRun'),
  PER_DIR_U64('minRun'),
  PER_DIR_U64('maxBw'),
  PER_DIR_U64('minBw'),
  PER_DIR_U64('iobytes'),
  PER_DIR_U64('agg'),
  ['kbBase', 'u32'],
  ['unitBase', 'u32'],
  ['sigFigs', 'u32'],
  ['groupid', 'u32'],
  ['unifiedRwRep', 'u32'],
]);

export const THREAD_STAT = new Layout(
  [
    ['name', 'str', 128],
    ['verror', 'str', 128],
    ['error', 'u32'],
    ['threadNumber', 'u32'],
    ['groupid', 'u32'],
    ['pid', 'u32'],
    ['description', 'str', 256],
    ['members', 'u32'],
    ['unifiedRwRep', 'u32'],
    ['disablePrioStat', 'u32'],
    ['pad0', 'pad', 4], // sync_stat is 8-byte aligned
    ['syncStat', 'iostat'],
    ['clatStat', 'iostat', DDIRS],
    ['slatStat', 'iostat', DDIRS],
    ['latStat', 'iostat', DDIRS],
    ['bwStat', 'iostat', DDIRS],
    ['iopsStat', 'iostat', DDIRS],
    ['usrTime', 'u64'],
    ['sysTime', 'u64'],
    ['ctx', 'u64'],
    ['minf', 'u64'],
    ['majf', 'u64'],
    ['clatPercentiles', 'u32'],
    ['latPercentiles', 'u32'],
    ['slatPercentiles', 'u32'],
    ['pad1', 'pad', 4],
    ['percentilePrecision', 'u64'],
    ['percentileList', 'fp', PERCENTILE_SLOTS],
    ['ioUMap', 'u64', 7],
    ['ioUSubmit', 'u64', 7],
    ['ioUComplete', 'u64', 7],
    ['ioULatN', 'u64', 10],
    ['ioULatU', 'u64', 10],
    ['ioULatM', 'u64', 12],
    ['ioUPlat', 'u64', 3 * DDIRS * PLAT_NR], // [slat, clat, lat][read, write, trim][bucket]
    ['ioUSyncPlat', 'u64', PLAT_NR],
    ['totalIoU', 'u64', 4],
    ['shortIoU', 'u64', DDIRS],
    ['dropIoU', 'u64', DDIRS],
    ['totalSubmit', 'u64'],
    ['totalComplete', 'u64'],
    ['ioBytes', 'u64', DDIRS],
    ['runtime', 'u64', DDIRS], // ms
    ['totalRunTime', 'u64'],
    ['continueOnError', 'u32'], // a u16 in a u32 slot
    ['firstError', 'u32'],
    ['totalErrCount', 'u64'],
    ['nrZoneResets', 'u64'],
    ['nrBlockInfos', 'u64'],
    ['blockInfos', 'pad', 4 * MAX_BLOCK_INFOS],
    ['kbBase', 'u32'],
    ['unitBase', 'u32'],
    ['latencyDepth', 'u32'],
    ['pad3', 'pad', 4],
    ['latencyTarget', 'u64'],
    ['latencyPercentile', 'fp'],
    ['latencyWindow', 'u64'],
    ['sigFigs', 'u32'],
    ['ssDur', 'u64'],
    ['ssState', 'u32'],
    ['ssHead', 'u32'],
    ['ssLimit', 'fp'],
    ['ssSlope', 'fp'],
    ['ssDeviation', 'fp'],
    ['ssCriterion', 'fp'],
    ['ioprio', 'u32'],
    ['ssIopsDataOffset', 'u64'],
    ['ssBwDataOffset', 'u64'],
    ['clatPrioOffset', 'u64', DDIRS],
    ['nrClatPrio', 'u32', DDIRS],
    ['cachehit', 'u64'],
    ['cachemiss', 'u64'],
  ],
  8,
);

/** cmd_ts_pdu: a thread_stat, then its group's group_run_stats, padded to 8 bytes. */
export const TS_PDU_SIZE = Math.ceil((THREAD_STAT.size + GROUP_RUN_STATS.size) / 8) * 8;

export interface ThreadStat {
  name: string;
  verror: string;
  error: number;
  threadNumber: number;
  groupid: number;
  pid: number;
  description: string;
  members: number;
  unifiedRwRep: number;
  syncStat: IoStat;
  clatStat: IoStat[];
  slatStat: IoStat[];
  latStat: IoStat[];
  bwStat: IoStat[];
  iopsStat: IoStat[];
  usrTime: number;
  sysTime: number;
  ctx: number;
  minf: number;
  majf: number;
  clatPercentiles: number;
  latPercentiles: number;
  slatPercentiles: number;
  percentilePrecision: number;
  percentileList: Float64Array;
  ioUMap: Float64Array;
  ioUSubmit: Float64Array;
  ioUComplete: Float64Array;
  ioULatN: Float64Array;
  ioULatU: Float64Array;
  ioULatM: Float64Array;
  ioUPlat: Float64Array;
  ioUSyncPlat: Float64Array;
  totalIoU: Float64Array;
  shortIoU: Float64Array;
  dropIoU: Float64Array;
  totalSubmit: number;
  totalComplete: number;
  ioBytes: Float64Array;
  runtime: Float64Array;
  totalRunTime: number;
  continueOnError: number;
  firstError: number;
  totalErrCount: number;
  kbBase: number;
  unitBase: number;
  latencyDepth: number;
  latencyTarget: number;
  latencyPercentile: number;
  latencyWindow: number;
  sigFigs: number;
  ioprio: number;
  nrClatPrio: Float64Array;
}

export interface GroupRunStats {
  maxRun: Float64Array;
  minRun: Float64Array;
  maxBw: Float64Array;
  minBw: Float64Array;
  iobytes: Float64Array;
  agg: Float64Array;
  kbBase: number;
  unitBase: number;
  sigFigs: number;
  groupid: number;
  unifiedRwRep: number;
}

export function encodeTs(ts: Partial<ThreadStat>, rs: Partial<GroupRunStats>): Buffer {
  const out = Buffer.alloc(TS_PDU_SIZE);
  THREAD_STAT.encode(ts as Record<string, unknown>, out, 0);
  GROUP_RUN_STATS.encode(rs as Record<string, unknown>, out, THREAD_STAT.size);
  return out;
}

/**
 * Decodes a TS payload. Per-priority latency and steady-state rings that may follow the fixed part
 * are not read (their offsets point past it); the fixed part must be whole.
 */
export function decodeTs(payload: Buffer): { ts: ThreadStat; rs: GroupRunStats } {
  if (payload.length < THREAD_STAT.size + GROUP_RUN_STATS.size) {
    throw new RangeError(`TS payload of ${payload.length} bytes is shorter than fio's ${TS_PDU_SIZE}`);
  }
  return {
    ts: THREAD_STAT.decode(payload, 0) as unknown as ThreadStat,
    rs: GROUP_RUN_STATS.decode(payload, THREAD_STAT.size) as unknown as GroupRunStats,
  };
}

export function encodeGs(rs: Partial<GroupRunStats>): Buffer {
  return GROUP_RUN_STATS.encode(rs as Record<string, unknown>);
}

export function decodeGs(payload: Buffer): GroupRunStats {
  return GROUP_RUN_STATS.decode(payload) as unknown as GroupRunStats;
}

/** jobs_eta without its trailing run string (one status character per thread, then NUL). */
export const JOBS_ETA = new Layout([
  ['nrRunning', 'u32'],
  ['nrRamp', 'u32'],
  ['nrPending', 'u32'],
  ['nrSettingUp', 'u32'],
  PER_DIR_U64('mRate'),
  PER_DIR_U64('tRate'),
  PER_DIR_U64('rate'),
  ['mIops', 'u32', DDIRS],
  ['tIops', 'u32', DDIRS],
  ['iops', 'u32', DDIRS],
  ['pad', 'pad', 4],
  ['elapsedSec', 'u64'],
  ['etaSec', 'u64'],
  ['isPow2', 'u32'],
  ['unitBase', 'u32'],
  ['sigFigs', 'u32'],
  ['filesOpen', 'u32'],
  ['nrThreads', 'u32'],
  ['pad2', 'pad', 4],
]);

export interface JobsEta {
  nrRunning: number;
  nrThreads: number;
  elapsedSec: number;
  etaSec: number;
  /** Bytes per second and IOPS per direction. */
  rate: number[];
  iops: number[];
  runStr: string;
}

export function encodeEta(e: JobsEta): Buffer {
  // fio sizes the run string at five bytes per thread.
  const run = Buffer.alloc(Math.max(1, e.nrThreads * 5));
  run.write(e.runStr.slice(0, run.length - 1), 'latin1');
  const head = JOBS_ETA.encode({ ...e, filesOpen: e.nrRunning, unitBase: 4 /* bytes per second */, isPow2: 1, sigFigs: 4 });
  return Buffer.concat([head, run]);
}

export function decodeEta(payload: Buffer): JobsEta {
  const d = JOBS_ETA.decode(payload) as Record<string, number & Float64Array>;
  const runRaw = payload.subarray(JOBS_ETA.size);
  const end = runRaw.indexOf(0);
  return {
    nrRunning: d.nrRunning,
    nrThreads: d.nrThreads,
    elapsedSec: d.elapsedSec,
    etaSec: d.etaSec,
    rate: Array.from(d.rate),
    iops: Array.from(d.iops),
    runStr: runRaw.subarray(0, end < 0 ? runRaw.length : end).toString('latin1'),
  };
}

const DISK_STATS: FieldSpec[] = [
  ['ios', 'u64', 2],
  ['merges', 'u64', 2],
  ['sectors', 'u64', 2],
  ['ticks', 'u64', 2],
  ['ioTicks', 'u64'],
  ['timeInQueue', 'u64'],
];

/** cmd_du_pdu: disk_util_stat (name, counters, msec) then disk_util_agg. */
export const DU = new Layout([
  ['name', 'str', 64],
  ...DISK_STATS,
  ['msec', 'u64'],
  ...DISK_STATS.map(([n, k, c]) => [`agg${n[0].toUpperCase()}${n.slice(1)}`, k, c] as FieldSpec),
  ['aggSlavecount', 'u32'],
  ['aggPad', 'pad', 4],
  ['aggMaxUtil', 'fp'],
]);

export interface DiskUtilPdu {
  name: string;
  ios: number[];
  merges: number[];
  sectors: number[];
  ticks: number[];
  ioTicks: number;
  timeInQueue: number;
  msec: number;
}

export function encodeDu(d: DiskUtilPdu): Buffer {
  return DU.encode(d as unknown as Record<string, unknown>);
}

export function decodeDu(payload: Buffer): DiskUtilPdu & { aggSlavecount: number; aggMaxUtil: number } {
  const d = DU.decode(payload) as Record<string, unknown>;
  const arr = (k: string) => Array.from(d[k] as Float64Array);
  return {
    name: d.name as string,
    ios: arr('ios'),
    merges: arr('merges'),
    sectors: arr('sectors'),
    ticks: arr('ticks'),
    ioTicks: d.ioTicks as number,
    timeInQueue: d.timeInQueue as number,
    msec: d.msec as number,
    aggSlavecount: d.aggSlavecount as number,
    aggMaxUtil: d.aggMaxUtil as number,
  };
}

export function encodeText(text: string, level = 0, now = Date.now()): Buffer {
  const body = Buffer.from(text, 'utf8');
  const head = TEXT.encode({ level, bufLen: body.length, logSec: Math.floor(now / 1000), logUsec: (now % 1000) * 1000 });
  return Buffer.concat([head, body]);
}

export function decodeText(payload: Buffer): { level: number; text: string } {
  const h = TEXT.decode(payload) as { level: number; bufLen: number };
  const len = Math.min(h.bufLen, payload.length - TEXT.size);
  return { level: h.level, text: payload.subarray(TEXT.size, TEXT.size + len).toString('utf8') };
}

export function encodeJob(jobText: string, clientType = 1): Buffer {
  const body = Buffer.from(jobText + '\0', 'utf8');
  return Buffer.concat([JOB.encode({ bufLen: body.length, clientType }), body]);
}

/** The job file text: up to `bufLen` bytes and the first NUL within them. */
export function decodeJob(payload: Buffer): string {
  if (payload.length < JOB.size) throw new RangeError(`JOB payload of ${payload.length} bytes has no header`);
  const h = JOB.decode(payload) as { bufLen: number };
  const body = payload.subarray(JOB.size, JOB.size + Math.min(h.bufLen, payload.length - JOB.size));
  const end = body.indexOf(0);
  return body.subarray(0, end < 0 ? body.length : end).toString('utf8');
}

/** Command-line arguments sent with JOBLINE (argv[0] first, as fio's client sends them). */
export function encodeJobLine(args: string[], clientType = 1): Buffer {
  const parts = [JOBLINE.encode({ lines: args.length, clientType })];
  for (const a of args) {
    const text = Buffer.from(a + '\0', 'utf8');
    const len = Buffer.alloc(2);
    len.writeUInt16LE(text.length);
    parts.push(len, text);
  }
  return Buffer.concat(parts);
}

export function decodeJobLine(payload: Buffer): string[] {
  if (payload.length < JOBLINE.size) throw new RangeError(`JOBLINE payload of ${payload.length} bytes has no header`);
  const lines = payload.readUInt16LE(0);
  const out: string[] = [];
  let at = JOBLINE.size;
  for (let i = 0; i < lines; i++) {
    if (at + 2 > payload.length) throw new RangeError(`JOBLINE argument ${i} runs past the payload`);
    const len = payload.readUInt16LE(at);
    if (at + 2 + len > payload.length) throw new RangeError(`JOBLINE argument ${i} runs past the payload`);
    const raw = payload.subarray(at + 2, at + 2 + len);
    const end = raw.indexOf(0);
    out.push(raw.subarray(0, end < 0 ? raw.length : end).toString('utf8'));
    at += 2 + len;
  }
  return out;
}
