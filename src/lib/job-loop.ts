/**
 * A fio-style job loop that runs in native code on a thread of its own, driving one queue with no
 * JS per request: the measuring instrument behind blkbench, usable on any queue of this addon's
 * drivers, with fio's semantics (verify, trim, bssplit, rate and thinktime pacing, distributions).
 *
 * Clock points follow fio: `slat` runs from a request's preparation to the return of the call that
 * submitted it, `clat` from there to the reap that returned its completion, `lat` is the sum.
 * Latencies go into fio's log-linear histogram (1856 bins), so percentiles match fio's.
 *
 * While the loop runs, the queue belongs to it: `doIo` and the completion-fd calls on it throw
 * `EBUSY`. Its request buffers are a memory region it allocates and maps itself and frees at the end.
 * Destroying the Blkio stops the loop (the result then carries `ECANCELED`).
 */
import { invalidArgument } from './errors';
import { addon, JobLoopHandle } from './native/addon';
import { Queue } from './queue';

/** fio's rw values. */
export type JobLoopRw = 'read' | 'write' | 'trim' | 'randread' | 'randwrite' | 'randtrim' | 'readwrite' | 'rw' | 'randrw';

/** Per direction values (bytes/s, requests/s); a missing direction is 0 (none). */
export interface JobLoopPerDirection {
  read?: number;
  write?: number;
  trim?: number;
}

/** fio's bssplit for one direction: block sizes and their weights in percent (adding up to 100). */
export interface JobLoopBlockSizeSplit {
  sizes: number[];
  weights: number[];
}

/**
 * A job, in fio's terms. It is passed to the addon as it is (the addon checks every field), and
 * blkbench's JS loop reads the same fields, so the two loops take one definition of a job.
 */
export interface JobLoopSpec {
  /** The request pattern, as fio's `rw`. */
  rw: JobLoopRw;
  /** Percentage of reads for readwrite/randrw (default 50). */
  rwmixread?: number;
  /** Bytes per request (default 4096), or per direction. */
  blockSize?: number | JobLoopPerDirection;
  /** Weighted block sizes per direction (fio's bssplit); a direction given here ignores blockSize. */
  bssplit?: { read?: JobLoopBlockSizeSplit; write?: JobLoopBlockSizeSplit; trim?: JobLoopBlockSizeSplit };
  /** Alignment of random offsets (default: the smallest block size in use). */
  blockalign?: number;
  /** Bytes added after each sequential request (fio's rw=read:N; negative goes backwards). */
  seqAdd?: number;
  /** fio's random_distribution: zipf (theta), pareto (power), normal (deviation in %), zoned ([access %, size %] zones). */
  randomDistribution?: { kind: 'random' | 'zipf' | 'pareto' | 'normal' | 'zoned'; param?: number; zones?: Array<[number, number]> };
  /** Requests in flight (default 1). */
  iodepth?: number;
  /** fio's iodepth_batch_submit: requests prepared before each submission (default 1). */
  iodepthBatchSubmit?: number;
  /** fio's iodepth_batch_complete_min / _max: completions waited for / reaped at once (default 1 / min). */
  iodepthBatchCompleteMin?: number;
  iodepthBatchCompleteMax?: number;
  /** The device range the job works on: start (default 0) and length in bytes. */
  regionStart?: number;
  regionLength: number;
  /** Bytes to transfer per pass before the job ends (default regionLength), unless timeBased. */
  ioLimit?: number;
  /** fio's loops: passes over the region (default 1). */
  loops?: number;
  /** fio's number_ios: stop after this many requests (0: no limit). */
  numberIos?: number;
  /** Run time limit in ns (0: none); with timeBased the job repeats the region until it passes. */
  runtimeNs?: number;
  timeBased?: boolean;
  /** Warm-up time in ns before measuring starts. */
  rampTimeNs?: number;
  /** fio's startdelay in ns: a wait before the job's clock starts. */
  startdelayNs?: number;
  /** Random offsets may repeat within a pass (fio's norandommap); default: each block once per pass. */
  norandommap?: boolean;
  /** Seed of the offset, size and mix streams, and this job's stream index (numjobs clones differ by it). */
  seed?: bigint;
  jobIndex?: number;
  /** 'block' waits in the kernel (default); 'loop' busy-polls; 'eventfd' waits on the completion fd. */
  waitMode?: 'block' | 'loop' | 'eventfd';
  /**
   * Writes carry a checked header and checksum; a write job reads its blocks back, a read job checks what it reads.
   * 'meta' checks headers only (fio's header check; with verifyPattern also the data); 'pattern' has no headers:
   * every byte is verifyPattern's.
   */
  verify?: 'none' | 'crc32c' | 'md5' | 'meta' | 'pattern';
  /** fio's verify_interval: a header every this many bytes of a block (it must divide the block size; default: one per block). */
  verifyInterval?: number;
  /** fio's verify_pattern as bytes (1 to 512): the data written, repeated from each header's start, instead of random words. */
  verifyPattern?: number[];
  /** fio's do_verify (default true): false, and a verifying write job does not read its blocks back. */
  doVerify?: boolean;
  /** What writes carry: random data by default; fio's zero_buffers, refill_buffers, buffer_compress_*, dedupe_percentage. */
  writeData?: { zero?: boolean; refill?: boolean; compressPercentage?: number; compressChunk?: number; dedupePercentage?: number };
  /** fio's rate (bytes/s), rate_iops and rate_min (a direction below it fails the job with EIO). */
  rate?: JobLoopPerDirection;
  rateIops?: JobLoopPerDirection;
  rateMin?: JobLoopPerDirection;
  /** fio's thinktime: a pause of thinktimeNs after every thinktimeBlocks requests, thinktimeSpinNs of it busy. */
  thinktimeNs?: number;
  thinktimeSpinNs?: number;
  thinktimeBlocks?: number;
  /** fio's continue_on_error: request errors of these directions are counted (ignoredErrors) and passed over. */
  continueOnError?: 'none' | 'read' | 'write' | 'io' | 'verify' | 'all';
  /** Reads and writes as one-element readv/writev. */
  vectored?: boolean;
  /** Trims as write-zeroes. */
  writeZeroesOnTrim?: boolean;
  /** Each written block starts with its own device offset (u64 little-endian), so data can be checked afterwards. */
  stampWrites?: boolean;
  /** Test mode: record the first traceLimit requests issued (result.trace). */
  traceLimit?: number;
  /** Keep every measured completion (result.log), for fio's per-job log files. */
  logSamples?: boolean;
  /** fio's disable_slat, disable_clat, disable_lat: that latency is not measured (its stats stay empty). */
  disableSlat?: boolean;
  disableClat?: boolean;
  disableLat?: boolean;
  /** fio's zonemode=zbd: the job's zones; regionLength must be exactly these zones. */
  zbd?: JobLoopZones;
  /**
   * With `switchTo` queues: move to the next queue every this many ns while the job runs (stop issuing,
   * let what is in flight complete, flush the old queue if the job writes, go on on the next queue).
   */
  switchEveryNs?: number;
}

/**
 * fio's zonemode=zbd for a job loop: writes go to the write pointer of a zone the job may hold open
 * (another zone when that one is full or over the open limit, resetting zones as fio does), reads stay
 * below write pointers. Zone resets are issued on the queue (nothing else in flight) unless `emulated`.
 */
export interface JobLoopZones {
  /** Bytes per zone; zone i starts at regionStart + i × zoneSize. */
  zoneSize: number;
  /** Each zone of the region in order: writable bytes, bytes written (write pointer − start), and kind
   * (0 conventional, 1 sequential write required/preferred, 2 the same but open, 3 offline). */
  zones: Array<[capacity: number, written: number, kind: number]>;
  /** fio's max_open_zones (0: open zones are not tracked) and job_max_open_zones. */
  maxOpenZones?: number;
  jobMaxOpenZones?: number;
  /** fio's zone_reset_threshold (default 1) and zone_reset_frequency (default 0: no such resets). */
  resetThreshold?: number;
  resetFrequency?: number;
  /** fio's read_beyond_wp. */
  readBeyondWp?: boolean;
  /** No device zones behind the table (fio's zones on a device without them): resets only move its write pointers. */
  emulated?: boolean;
}

/** With switch targets: the switches and the stretches on each queue (0: the job's own, 1...: `switchTo`). */
export interface JobLoopSwitches {
  /** Per switch: when it began (ns after the loop's start), how long nothing was issued, and the queues. */
  switches: Array<{ atNs: number; pauseNs: number; from: number; to: number }>;
  /** Per stretch on one queue: when (ns after the loop's start), and what completed there in the measured phase. */
  segments: Array<{ path: number; startNs: number; endNs: number; ios: number; bytes: number; latSumNs: number }>;
}

/** One latency kind in ns: count, mean, Welford's m2, min, max and fio's histogram counts. */
export interface JobLoopLatency {
  n: number;
  mean: number;
  m2: number;
  min: number;
  max: number;
  hist: Float64Array;
}

/** CPU time in ns, context switches and page faults. */
export interface JobLoopCpu {
  usrNs: number;
  sysNs: number;
  ctx: number;
  majf: number;
  minf: number;
}

/** Per-interval samples (every 500 ms): bandwidth in KiB/s or IOPS. */
export interface JobLoopSamples {
  n: number;
  mean: number;
  m2: number;
  min: number;
  max: number;
}

/** One direction's measurements over the measured phase. */
export interface JobLoopDirection {
  /** Requests completed successfully, and their bytes. */
  ios: number;
  bytes: number;
  /** fio's slat: from preparing a request to the return of the call that submitted it. */
  slat: JobLoopLatency;
  /** fio's clat: from the submission's return to the reap that returned the completion. */
  clat: JobLoopLatency;
  /** fio's lat: slat + clat, request by request. */
  lat: JobLoopLatency;
  bw: JobLoopSamples;
  iops: JobLoopSamples;
}

/** One issued request: device offset, length, direction (0 read, 1 write, 2 trim), phase (1 ramp, 2 run, 3 verify). */
export type JobLoopTraceEntry = [offset: number, length: number, direction: number, phase: number];

export interface JobLoopResult {
  read: JobLoopDirection;
  write: JobLoopDirection;
  trim: JobLoopDirection;
  /** Blocks checked by verify (read back after a write job, or read by a read job). */
  verifiedBlocks: number;
  /** Request errors passed over by continueOnError. */
  ignoredErrors: number;
  /** With zbd: zones reset during the run. */
  zoneResets: number;
  /** startNetJobLoop over UDP: datagrams the sender numbered that never arrived (fio's drop_ios). */
  droppedReads: number;
  /** With traceLimit: the requests in the order issued. */
  trace?: JobLoopTraceEntry[];
  /** With logSamples: rows of 6 numbers per completion: ms after the measured start, direction, slat ns, clat ns, length, offset. */
  log?: Float64Array;
  /** fio's depth tables (7 buckets each): in-flight level per request, submit and complete batch sizes. */
  depth: { level: number[]; submit: number[]; complete: number[] };
  /** CPU time of the loop's own thread during the measured phase. */
  cpu: JobLoopCpu;
  /** CPU time of the whole process over the same phase (with io_uring's io-wq workers and other threads). */
  processCpu: JobLoopCpu;
  /** From the start of measuring to the last completion. */
  runtimeNs: number;
  elapsedNs: number;
  /** 0, or the first failure as a positive errno (a request error or do_io failing) with its message. */
  error: number;
  errorMessage: string | null;
  /** stop() was called. */
  stopped: boolean;
  /** Requests the queue still held at the end (only after a failure or a destroy). */
  leftInFlight: number;
  /** With switch targets (startJobLoop's `switchTo`). */
  switching?: JobLoopSwitches;
}

/** Length of the live counter array: phase (1 ramp, 2 run, 4 done), fraction done, bytes r/w/t, requests r/w/t. */
export const JOB_LOOP_PROGRESS_FIELDS = 8;

/** A running job loop. */
export class JobLoop {
  /** Live counters, updated by the loop about every 100 ms (see JOB_LOOP_PROGRESS_FIELDS). */
  readonly progress: Float64Array;
  /** Settles when the loop has ended and its buffers are freed. */
  readonly done: Promise<JobLoopResult>;
  readonly #handle: JobLoopHandle;

  /** @internal */
  constructor(handle: JobLoopHandle, progress: Float64Array, done: Promise<JobLoopResult>) {
    this.#handle = handle;
    this.progress = progress;
    this.done = done;
  }

  /** Stops issuing; requests in flight complete and are counted; `done` then resolves. */
  stop(): void {
    addon.stopJobLoop(this.#handle);
  }
}

// The addon reads and checks every field itself; a seed that is not a bigint is the one mistake it cannot tell.
function checkedSpec(spec: JobLoopSpec): JobLoopSpec {
  if (typeof spec !== 'object' || spec === null) invalidArgument('job loop spec must be an object');
  if (spec.seed !== undefined && typeof spec.seed !== 'bigint') invalidArgument('job loop spec: seed must be a bigint');
  return spec;
}

/**
 * Starts a job loop on `queue` (which must have nothing outstanding). Bad specs and an unsupported
 * queue (the koffi libblkio driver: `ENOTSUP`) throw BlkioError at once; failures during the run come
 * back in the result's `error`.
 */
export function startJobLoop(queue: Queue, spec: JobLoopSpec, options: JobLoopOptions = {}): JobLoop {
  if (!(queue instanceof Queue)) invalidArgument('startJobLoop needs a Queue');
  const progress = options.progress ?? new Float64Array(new SharedArrayBuffer(JOB_LOOP_PROGRESS_FIELDS * 8));
  const targets = options.switchTo?.map((q) => {
    if (!(q instanceof Queue)) invalidArgument('startJobLoop: switchTo must be an array of Queues');
    return Queue.nativeOf(q);
  });
  let resolve!: (r: JobLoopResult) => void;
  const done = new Promise<JobLoopResult>((res) => (resolve = res));
  const handle = addon.startJobLoop(Queue.nativeOf(queue), checkedSpec(spec), progress, (r) => resolve(withSwitches(r as RawResult)), targets);
  return new JobLoop(handle, progress, done);
}

/**
 * Starts a job loop with no queue behind it: blkbench's ioengine=null (fio's null engine). Every
 * request completes successfully at the loop's next submission or reap, without touching data, so
 * the loop measures itself: its offsets, sizes, histograms and counters are as on a queue. It has
 * no buffers, so `verify` and `stampWrites` are refused, and no completion fd (no 'eventfd'), zones
 * or switch targets.
 */
export function startNullJobLoop(spec: JobLoopSpec, options: Pick<JobLoopOptions, 'progress'> = {}): JobLoop {
  const progress = options.progress ?? new Float64Array(new SharedArrayBuffer(JOB_LOOP_PROGRESS_FIELDS * 8));
  let resolve!: (r: JobLoopResult) => void;
  const done = new Promise<JobLoopResult>((res) => (resolve = res));
  const handle = addon.startJobLoop(null, checkedSpec(spec), progress, (r) => resolve(withSwitches(r as RawResult)));
  return new JobLoop(handle, progress, done);
}

/**
 * Starts a job loop that burns CPU instead of doing I/O (fio's cpuio engine): each request is a burst
 * of `cycleNs` of work on the loop's thread when the loop reaps it, spinning on the clock ('noop') or
 * sorting pseudo-random numbers round after round ('qsort'). Requests are counted, their bytes are not.
 * The job's thinktime is the idle part of each cycle (fio's cpuload sets it); no `verify`.
 */
export function startCpuJobLoop(
  spec: JobLoopSpec, burn: { mode: 'noop' | 'qsort'; cycleNs: number }, options: Pick<JobLoopOptions, 'progress'> = {},
): JobLoop {
  if (typeof burn !== 'object' || burn === null) invalidArgument('startCpuJobLoop needs { mode, cycleNs }');
  const progress = options.progress ?? new Float64Array(new SharedArrayBuffer(JOB_LOOP_PROGRESS_FIELDS * 8));
  let resolve!: (r: JobLoopResult) => void;
  const done = new Promise<JobLoopResult>((res) => (resolve = res));
  const handle = addon.startJobLoop(null, checkedSpec(spec), progress, (r) => resolve(withSwitches(r as RawResult)), undefined,
    { cpuMode: burn.mode, cycleNs: burn.cycleNs });
  return new JobLoop(handle, progress, done);
}

/**
 * Starts a job loop over many small files, one file operation each (fio's filecreate, filestat and
 * filedelete engines): the region is the files one after another, `fileSize` bytes each, and the first
 * request of each file creates it (open with O_CREAT, then close), stats it (stat, lstat or statx) or
 * unlinks it when the loop reaps; its other requests complete as they are. Failures (a missing file)
 * come back in the result's `error`.
 */
export function startFileOpJobLoop(
  files: string[], op: 'create' | 'stat' | 'lstat' | 'statx' | 'unlink', fileSize: number, spec: JobLoopSpec,
  options: Pick<JobLoopOptions, 'progress'> = {},
): JobLoop {
  if (!Array.isArray(files)) invalidArgument('startFileOpJobLoop needs an array of paths');
  const progress = options.progress ?? new Float64Array(new SharedArrayBuffer(JOB_LOOP_PROGRESS_FIELDS * 8));
  let resolve!: (r: JobLoopResult) => void;
  const done = new Promise<JobLoopResult>((res) => (resolve = res));
  const handle = addon.startJobLoop(null, checkedSpec(spec), progress, (r) => resolve(withSwitches(r as RawResult)), undefined,
    { fileOp: op, files, fileSize });
  return new JobLoop(handle, progress, done);
}

/** The socket of a net job loop (startNetJobLoop), as fio's net engine options name it. */
export interface JobLoopNetTarget {
  /** 'tcp' | 'tcpv6' | 'udp' | 'udpv6' | 'unix'. */
  protocol: 'tcp' | 'tcpv6' | 'udp' | 'udpv6' | 'unix';
  /** The peer to connect to; a UDP reader's multicast group; a UNIX socket's path (either side). */
  host?: string;
  /** TCP and UDP: the port (1-65535); none for a UNIX socket. */
  port?: number;
  /** The side that waits for the other: a TCP job that accepts, and every UDP or UNIX reader. */
  listen?: boolean;
  /** Each read is sent back, each write waits for its echo. */
  pingpong?: boolean;
  /** TCP_NODELAY. */
  nodelay?: boolean;
  /** Multicast TTL (default 1). */
  ttl?: number;
  /** Multicast: the local interface's IPv4 address. */
  interface?: string;
  /** Socket buffer size in bytes (0: the kernel's). */
  windowSize?: number;
  /** TCP maximum segment size (0: the kernel's). */
  mss?: number;
}

/**
 * Starts a job loop whose requests are sends and receives on a socket (fio's net engine): TCP and UNIX
 * stream sockets move each block whole, UDP one datagram per request. The listening side binds before
 * this returns (a busy port throws `EADDRINUSE`); accepting, or connecting, happens on the loop's thread
 * before the job's clock starts and waits at most as long as the job may run. fio's open and close
 * messages and UDP sequence trailer are kept, so fio can be the peer. The peer closing the connection
 * (or sending the close message) ends the job without an error. Offsets are sequential: no random
 * `rw`, no trims, no `verify`.
 */
export function startNetJobLoop(target: JobLoopNetTarget, spec: JobLoopSpec, options: Pick<JobLoopOptions, 'progress'> = {}): JobLoop {
  if (typeof target !== 'object' || target === null || typeof target.protocol !== 'string') invalidArgument('startNetJobLoop needs { protocol, ... }');
  const progress = options.progress ?? new Float64Array(new SharedArrayBuffer(JOB_LOOP_PROGRESS_FIELDS * 8));
  let resolve!: (r: JobLoopResult) => void;
  const done = new Promise<JobLoopResult>((res) => (resolve = res));
  const handle = addon.startJobLoop(null, checkedSpec(spec), progress, (r) => resolve(withSwitches(r as RawResult)), undefined, { ...target });
  return new JobLoop(handle, progress, done);
}

/**
 * Starts a job loop on one of the kernel's memory character devices (/dev/null, /dev/zero, /dev/full,
 * /dev/random, /dev/urandom), which the io_uring driver, as libblkio's, does not take: each request is
 * a pread/pwrite on the device when the loop reaps, so its time is clat, as with fio's synchronous
 * engines. The loop's buffers are plain memory. Any other path throws `EINVAL`; trims fail with
 * `ENOTSUP` in the result; no 'eventfd', zones or switch targets.
 */
export function startMemDeviceJobLoop(path: string, spec: JobLoopSpec, options: Pick<JobLoopOptions, 'progress'> = {}): JobLoop {
  return startOnPath(path, 'readwrite', spec, options);
}

/**
 * Starts a job loop whose requests are fio's `falloc` or `ftruncate` engine's calls on a regular file
 * (one system call per request when the loop reaps): with 'fallocate' a read allocates keeping the
 * file's size, a write allocates, a trim punches a hole; with 'ftruncate' a write sets the file's size
 * to its offset (reads and trims fail with `EINVAL`). No data moves, so `verify` is refused.
 */
export function startFileEngineJobLoop(
  path: string, engine: 'fallocate' | 'ftruncate', spec: JobLoopSpec, options: Pick<JobLoopOptions, 'progress'> = {},
): JobLoop {
  if (engine !== 'fallocate' && engine !== 'ftruncate') invalidArgument("startFileEngineJobLoop: engine must be 'fallocate' or 'ftruncate'");
  return startOnPath(path, engine, spec, options);
}

function startOnPath(path: string, kind: 'readwrite' | 'fallocate' | 'ftruncate', spec: JobLoopSpec, options: Pick<JobLoopOptions, 'progress'>): JobLoop {
  if (typeof path !== 'string') invalidArgument('the job loop needs a path');
  const progress = options.progress ?? new Float64Array(new SharedArrayBuffer(JOB_LOOP_PROGRESS_FIELDS * 8));
  let resolve!: (r: JobLoopResult) => void;
  const done = new Promise<JobLoopResult>((res) => (resolve = res));
  const handle = addon.startJobLoop(path, checkedSpec(spec), progress, (r) => resolve(withSwitches(r as RawResult)), undefined, kind);
  return new JobLoop(handle, progress, done);
}

/** startJobLoop's options. */
export interface JobLoopOptions {
  /** Live counters (JOB_LOOP_PROGRESS_FIELDS doubles over a SharedArrayBuffer). */
  progress?: Float64Array;
  /**
   * Queues of other devices serving the same image (the same capacity), started, with nothing
   * outstanding: the loop alternates between its own queue and these every `spec.switchEveryNs`.
   * They belong to the loop while it runs, as its own queue does; its buffers are mapped into each.
   */
  switchTo?: Queue[];
}

type RawResult = JobLoopResult & { switches?: Float64Array; segments?: Float64Array };

function withSwitches(r: RawResult): JobLoopResult {
  const { switches, segments, ...rest } = r;
  if (!switches || !segments) return rest;
  const s: JobLoopSwitches = { switches: [], segments: [] };
  for (let i = 0; i < switches.length; i += 4) {
    s.switches.push({ atNs: switches[i], pauseNs: switches[i + 1], from: switches[i + 2], to: switches[i + 3] });
  }
  for (let i = 0; i < segments.length; i += 6) {
    s.segments.push({
      path: segments[i], startNs: segments[i + 1], endNs: segments[i + 2], ios: segments[i + 3], bytes: segments[i + 4], latSumNs: segments[i + 5],
    });
  }
  return { ...rest, switching: s };
}

/** Runs a job loop on `queue` to its end (see startJobLoop). */
export async function runJobLoop(queue: Queue, spec: JobLoopSpec): Promise<JobLoopResult> {
  return startJobLoop(queue, spec).done;
}


/** The program of an exec job loop (startExecJobLoop), as fio's exec engine runs it. */
export interface JobLoopProgram {
  /** What is executed: a path (the caller searches PATH first, as execvp would). */
  program: string;
  /** Its argv, argv[0] first. */
  argv: string[];
  /** Files its stdout and stderr go to (created or truncated); absent: blkbench's own. */
  stdout?: string;
  stderr?: string;
  /** How long it may take to exit after SIGTERM at the job's end before SIGKILL (default 1 s). */
  graceNs?: number;
}

/**
 * Starts a job loop that runs a program beside other jobs instead of doing I/O (fio's exec engine):
 * the first request starts it, each later one waits 50 ms, so with the job's thinktime the loop looks
 * at it as fio's engine does; requests are counted, their bytes are not. The program leads a process
 * group of its own: when the loop is done, the group gets SIGTERM, the program `graceNs` to exit, then
 * the group SIGKILL, and the program is reaped before `done` resolves. It dies with this process (its parent-death signal is SIGKILL), inherits no fd above 2,
 * and starts with default signal handling. A program that cannot be executed leaves the loop running
 * without it, as fio's engine does. A redirection file that cannot be opened throws at once.
 */
export function startExecJobLoop(program: JobLoopProgram, spec: JobLoopSpec, options: Pick<JobLoopOptions, 'progress'> = {}): JobLoop {
  if (typeof program !== 'object' || program === null || typeof program.program !== 'string') invalidArgument('startExecJobLoop needs { program, argv }');
  const { program: path, argv, stdout, stderr, graceNs = 1e9 } = program;
  return startProgramLoop({ program: path, argv, stdout, stderr, graceNs }, spec, options);
}

/** A libpmemblk pool (startPmemblkJobLoop, pmemblkPoolInfo), as fio's pmemblk engine names it. */
export interface JobLoopPmemblkPool {
  /** The pool file. */
  path: string;
  /** Its block size: to check an existing pool (0: any), and to create one. */
  bsize: number;
  /** The size of the file to create, in bytes (0: open only). */
  poolSize: number;
  /** Create the pool (bsize, poolSize) if the file does not exist. */
  create?: boolean;
}

/**
 * Opens (or creates) a libpmemblk pool and tells its block size and number of blocks; the pool is
 * closed again unless a job loop has it open. libpmemblk.so.1 is loaded on first use: without it
 * this throws `ENOENT` naming it.
 */
export function pmemblkPoolInfo(pool: JobLoopPmemblkPool): { bsize: number; nblocks: number } {
  return addon.pmemblkPoolInfo(pmemblkTarget(pool));
}

/**
 * Starts a job loop on a libpmemblk pool (fio's pmemblk engine): each read or write is one
 * pmemblk_read or pmemblk_write per pool block it covers, done when the loop reaps it, into buffers
 * of plain memory, so `verify` applies. Requests must start and end on the pool's blocks (else they
 * fail with `EINVAL`); flushes succeed, trims fail with `EINVAL`. Loops on the same path share one
 * open pool (libpmemblk locks the file against a second open).
 */
export function startPmemblkJobLoop(pool: JobLoopPmemblkPool, spec: JobLoopSpec, options: Pick<JobLoopOptions, 'progress'> = {}): JobLoop {
  return startProgramLoop(pmemblkTarget(pool), spec, options);
}

function pmemblkTarget(pool: JobLoopPmemblkPool): { pmemblk: string; bsize: number; poolSize: number; create: boolean } {
  if (typeof pool !== 'object' || pool === null || typeof pool.path !== 'string') invalidArgument('a pmemblk pool needs { path, bsize, poolSize }');
  return { pmemblk: pool.path, bsize: pool.bsize, poolSize: pool.poolSize, create: pool.create === true };
}

// The exec and pmemblk sinks' options (addon/napi/job_loop_programs.cc), startJobLoop's sixth argument.
type ProgramTarget = Parameters<typeof addon.startJobLoop>[5];

function startProgramLoop(target: object, spec: JobLoopSpec, options: Pick<JobLoopOptions, 'progress'>): JobLoop {
  const progress = options.progress ?? new Float64Array(new SharedArrayBuffer(JOB_LOOP_PROGRESS_FIELDS * 8));
  let resolve!: (r: JobLoopResult) => void;
  const done = new Promise<JobLoopResult>((res) => (resolve = res));
  const handle = addon.startJobLoop(null, checkedSpec(spec), progress, (r) => resolve(withSwitches(r as RawResult)), undefined, target as ProgramTarget);
  return new JobLoop(handle, progress, done);
}
