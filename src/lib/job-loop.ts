/**
 * A fio-style job loop that runs in native code on a thread of its own, driving one queue with no
 * JS per request: the measuring instrument behind blkbench, usable on any queue of this addon's
 * drivers (io_uring, virtio-blk-vhost-user, virtio-blk-vhost-vdpa).
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

/** fio's rw values the native loop runs (trim is not among them). */
export type JobLoopRw = 'read' | 'write' | 'randread' | 'randwrite' | 'readwrite' | 'rw' | 'randrw';

export interface JobLoopSpec {
  /** The request pattern, as fio's `rw`. */
  rw: JobLoopRw;
  /** Percentage of reads for readwrite/randrw (default 50). */
  rwmixread?: number;
  /** Bytes per request (default 4096), or per direction. */
  blockSize?: number | { read?: number; write?: number };
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
  /** Bytes to transfer before the job ends (default regionLength), unless timeBased. */
  ioLimit?: number;
  /** Run time limit in ns (0: none); with timeBased the job repeats the region until it passes. */
  runtimeNs?: number;
  timeBased?: boolean;
  /** Warm-up time in ns before measuring starts. */
  rampTimeNs?: number;
  /** Random offsets may repeat within a pass (fio's norandommap); default: each block once per pass. */
  norandommap?: boolean;
  /** Seed of the offset and mix streams, and this job's stream index (numjobs clones differ by it). */
  seed?: bigint;
  jobIndex?: number;
  /** 'block' waits in the kernel (default); 'loop' busy-polls. */
  waitMode?: 'block' | 'loop';
  /** Each written block starts with its own device offset (u64 little-endian), so data can be checked afterwards. */
  stampWrites?: boolean;
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

export interface JobLoopResult {
  read: JobLoopDirection;
  write: JobLoopDirection;
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
}

/** Length of the live counter array: phase (1 ramp, 2 run, 4 done), fraction done, bytes r/w/t, requests r/w/t. */
export const JOB_LOOP_PROGRESS_FIELDS = 8;

const RW: Record<JobLoopRw, { random: boolean; mixed: boolean; read: boolean }> = {
  read: { random: false, mixed: false, read: true },
  write: { random: false, mixed: false, read: false },
  randread: { random: true, mixed: false, read: true },
  randwrite: { random: true, mixed: false, read: false },
  readwrite: { random: false, mixed: true, read: true },
  rw: { random: false, mixed: true, read: true },
  randrw: { random: true, mixed: true, read: true },
};

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

function nativeSpec(spec: JobLoopSpec): Record<string, unknown> {
  if (typeof spec !== 'object' || spec === null) invalidArgument('job loop spec must be an object');
  const rw = RW[spec.rw];
  if (!rw) invalidArgument(`job loop spec: rw must be one of ${Object.keys(RW).join(', ')}, got '${String(spec.rw)}'`);
  const bs = spec.blockSize ?? 4096;
  const readBs = typeof bs === 'number' ? bs : bs.read ?? 4096;
  const writeBs = typeof bs === 'number' ? bs : bs.write ?? 4096;
  if (spec.waitMode !== undefined && spec.waitMode !== 'block' && spec.waitMode !== 'loop')
    invalidArgument(`job loop spec: waitMode must be 'block' or 'loop', got '${String(spec.waitMode)}'`);
  if (spec.seed !== undefined && typeof spec.seed !== 'bigint') invalidArgument('job loop spec: seed must be a bigint');
  return {
    readPercent: rw.mixed ? spec.rwmixread ?? 50 : rw.read ? 100 : 0,
    random: rw.random,
    norandommap: spec.norandommap === true,
    readBlockSize: readBs,
    writeBlockSize: writeBs,
    iodepth: spec.iodepth ?? 1,
    batchSubmit: spec.iodepthBatchSubmit ?? 1,
    batchCompleteMin: spec.iodepthBatchCompleteMin ?? 1,
    batchCompleteMax: spec.iodepthBatchCompleteMax,
    regionStart: spec.regionStart ?? 0,
    regionLength: spec.regionLength,
    ioLimit: spec.ioLimit,
    timeBased: spec.timeBased === true,
    runtimeNs: spec.runtimeNs ?? 0,
    rampTimeNs: spec.rampTimeNs ?? 0,
    busyPoll: spec.waitMode === 'loop',
    stampWrites: spec.stampWrites === true,
    seed: spec.seed ?? 0n,
    jobIndex: spec.jobIndex ?? 0,
  };
}

/**
 * Starts a job loop on `queue` (which must have nothing outstanding). Bad specs and an unsupported
 * queue (the koffi libblkio driver: `ENOTSUP`) throw BlkioError at once; failures during the run come
 * back in the result's `error`.
 */
export function startJobLoop(queue: Queue, spec: JobLoopSpec, options: { progress?: Float64Array } = {}): JobLoop {
  if (!(queue instanceof Queue)) invalidArgument('startJobLoop needs a Queue');
  const progress = options.progress ?? new Float64Array(new SharedArrayBuffer(JOB_LOOP_PROGRESS_FIELDS * 8));
  let resolve!: (r: JobLoopResult) => void;
  const done = new Promise<JobLoopResult>((res) => (resolve = res));
  const handle = addon.startJobLoop(Queue.nativeOf(queue), nativeSpec(spec), progress, (r) => resolve(r as JobLoopResult));
  return new JobLoop(handle, progress, done);
}

/** Runs a job loop on `queue` to its end (see startJobLoop). */
export async function runJobLoop(queue: Queue, spec: JobLoopSpec): Promise<JobLoopResult> {
  return startJobLoop(queue, spec).done;
}

