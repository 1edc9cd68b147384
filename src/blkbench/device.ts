/**
 * Setting up a job's device before any I/O (its file is laid out by files.ts): create/connect/start the Blkio
 * with the job's properties, check the job's region against the capacity and alignment, and drop the
 * page cache when invalidate=1. Every problem found here stops the run before the first request.
 */
import * as fs from 'node:fs';
import type { JobLoopPmemblkPool, JobLoopProgram } from '../lib/bench';
import { Blkio, create, createCompletions } from '../lib';
import { DRIVERS, FILE_ENGINES, FILE_OP_ENGINES } from './options';
import { defaultFileName } from './files';
import { JobLoop } from './loop';
import { JobSpec, jobDirections, maxBlockSize, minBlockSize, DIRECTIONS } from './options';
import { resolveSizeOrPercent } from './units';
import { setUpZones, ZonedSetupError } from './zbd-setup';
import type { JobLoopNetTarget, JobLoopZones } from '../lib/bench';

/** A problem with the job or its target, found before I/O started. */
export class SetupError extends Error {
  override name = 'SetupError';
}

export interface PreparedDevice {
  /**
   * The started device; undefined for ioengine=null, whose requests the job loop completes itself,
   * and for a memory character device (memDevice), which the job loop reads and writes itself.
   */
  blkio: Blkio | undefined;
  /** /dev/null, /dev/zero and the like: the io_uring driver (as libblkio's) takes no character device. */
  memDevice?: string;
  /** ioengine=exec: the program the job runs; ioengine=pmemblk: the job's libpmemblk pool. */
  exec?: JobLoopProgram;
  pmemblk?: JobLoopPmemblkPool;
  /** ioengine=filecreate|filestat|filedelete: each clone's files and the operation on each. */
  fileOps?: { op: 'create' | 'stat' | 'lstat' | 'statx' | 'unlink'; fileSize: number; files: string[][] };
  /** ioengine=cpuio: how each request burns CPU. */
  cpuBurn?: { mode: 'noop' | 'qsort'; cycleNs: number };
  /** ioengine=net: the socket of clone 0 (clones use port + clone number, as fio's). */
  net?: JobLoopNetTarget;
  /** ioengine=falloc|ftruncate: the job's file and the call each request is. */
  fileEngine?: { path: string; call: 'fallocate' | 'ftruncate' };
  regionStart: number;
  regionLen: number;
  /** Bytes each job does before it stops (fio's io_size: the region's size). */
  ioLimit: number;
  capacity: number;
  slotStride: number;
  memoryLen: number;
  /** zonemode=zbd: the job's zones (the region is then exactly these zones). */
  zbd?: JobLoopZones;
  /** blkbench_switch_to: the other backend of the image, started with a queue for the job. */
  switchTarget?: Blkio;
}

/** Drivers of this package's addon; any other name is looked up in another libblkio. */
export function isBuiltInDriver(driver: string): boolean {
  return DRIVERS.includes(driver);
}

function isReadOnlyJob(spec: JobSpec): boolean {
  return jobDirections(spec.rw).every((d) => d === 'read');
}

function setProp(b: Blkio, name: string, value: string, spec: JobSpec, option: string): void {
  try {
    b.setStr(name, value);
  } catch (e) {
    throw new SetupError(`${spec.name}: ${option}: cannot set property '${name}' to '${value}': ${(e as Error).message}`);
  }
}

type Step = (what: string, f: () => void) => void;

/** Runs one setup step; a failure becomes a SetupError naming the job and the step. */
function stepsOf(spec: JobSpec): Step {
  return (what, f) => {
    try {
      f();
    } catch (e) {
      if (e instanceof SetupError) throw e;
      throw new SetupError(`${spec.name}: ${what} failed: ${(e as Error).message}`);
    }
  };
}

/**
 * ioengine=null: no device. As fio's null engine, the job's "file" is offset + size bytes (and the
 * clones' offset_increment); requests touch no memory.
 */
export function nullDevice(spec: JobSpec): PreparedDevice {
  return sizedRegion(spec);
}

/** Whether an io_uring job's target is a character device (such as /dev/null). */
export function isCharacterDevice(spec: JobSpec): boolean {
  if (spec.driver !== 'io_uring' || spec.path === undefined) return false;
  try {
    return fs.statSync(spec.path).isCharacterDevice();
  } catch {
    return false;
  }
}

/**
 * A job on /dev/null, /dev/zero, /dev/full, /dev/random or /dev/urandom, as fio runs them: the region
 * is offset + size (a character device has no size); the job loop checks the device when it opens it.
 */
export function memDevice(spec: JobSpec): PreparedDevice {
  const no = (what: string) => new SetupError(`${spec.name}: '${spec.path}' is a character device: ${what}`);
  if (spec.size === undefined || !('bytes' in spec.size) || !('bytes' in spec.offset)) throw no(`give 'size' (and 'offset') in bytes, as fio needs`);
  if (spec.verify !== 'none') throw no(`'verify' cannot be used: it keeps no data`);
  if (spec.zonemode !== 'none' || spec.switchTo !== undefined || spec.waitMode === 'eventfd' || spec.jobLoop === 'js') {
    throw no(`only the native job loop runs on it, without zonemode, blkbench_switch_to or libblkio_wait_mode=eventfd`);
  }
  return { ...sizedRegion(spec), memDevice: spec.path };
}

/**
 * ioengine=filecreate|filestat|filedelete: nrfiles files per clone, named as fio names them
 * ($jobname.$jobnum.$filenum in directory). filestat's and filedelete's are created first with
 * filesize bytes, as fio lays them out; filecreate's are for the job to create.
 */
export function fileOpDevice(spec: JobSpec): PreparedDevice {
  const fileSize = spec.filesize!;
  const op = spec.driver === 'filestat' ? spec.statType : FILE_OP_ENGINES[spec.driver];
  const files = Array.from({ length: spec.numjobs }, (_, jobnum) =>
    Array.from({ length: spec.nrfiles }, (_, filenum) => defaultFileName(spec, jobnum, filenum)));
  if (op !== 'create') {
    for (const f of files.flat()) {
      try {
        const fd = fs.openSync(f, 'a');
        try {
          if (fs.fstatSync(fd).size < fileSize) fs.ftruncateSync(fd, fileSize);
        } finally {
          fs.closeSync(fd);
        }
      } catch (e) {
        throw new SetupError(`${spec.name}: laying out '${f}' failed: ${(e as Error).message}`);
      }
    }
  }
  const region = fileSize * spec.nrfiles;
  return { blkio: undefined, regionStart: 0, regionLen: region, ioLimit: spec.ioSize ?? region, capacity: region, slotStride: 0, memoryLen: 0, fileOps: { op, fileSize, files } };
}

/** ioengine=cpuio: no target and no end but runtime (a region of 2^50 bytes to draw request offsets from). */
export function cpuDevice(spec: JobSpec): PreparedDevice {
  const region = 2 ** 50;
  return {
    blkio: undefined, regionStart: 0, regionLen: region, ioLimit: region, capacity: region, slotStride: 0, memoryLen: 0,
    cpuBurn: { mode: spec.cpumode, cycleNs: spec.cpuchunks * 1000 },
  };
}

/** ioengine=falloc|ftruncate on the job's (laid out) file: the region is checked against its size. */
export function fileEngineDevice(spec: JobSpec): PreparedDevice {
  const file = spec.path!;
  let size: number;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new SetupError(`${spec.name}: ioengine=${spec.driver} needs a regular file, and '${file}' is not one`);
    size = st.size;
  } catch (e) {
    if (e instanceof SetupError) throw e;
    throw new SetupError(`${spec.name}: cannot stat '${file}': ${(e as Error).message}`);
  }
  const region = jobRegion(spec, size, 1);
  return {
    blkio: undefined, regionStart: region.offset, regionLen: region.size, ioLimit: spec.ioSize ?? region.size, capacity: size,
    slotStride: 0, memoryLen: 0, fileEngine: { path: file, call: FILE_ENGINES[spec.driver] },
  };
}

/**
 * ioengine=net: a socket, no device. The job's region is offset + size (without a size, no end but
 * runtime or the peer's). Over UDP and UNIX sockets the reader is the listening side, as in fio.
 */
export function netDevice(spec: JobSpec): PreparedDevice {
  const listen = spec.protocol === 'tcp' || spec.protocol === 'tcpv6' ? spec.listen : spec.rw === 'read';
  const net: JobLoopNetTarget = {
    protocol: spec.protocol, host: spec.path, port: spec.port, listen, pingpong: spec.pingpong, nodelay: spec.nodelay,
    ttl: spec.ttl, interface: spec.netInterface, windowSize: spec.windowSize, mss: spec.mss,
  };
  if (spec.size !== undefined) return { ...sizedRegion(spec), net };
  const region = 2 ** 50;
  return { blkio: undefined, regionStart: 0, regionLen: region, ioLimit: spec.ioSize ?? region, capacity: region, slotStride: 0, memoryLen: 0, net };
}

function sizedRegion(spec: JobSpec): PreparedDevice {
  const size = spec.size && 'bytes' in spec.size ? spec.size.bytes : 0;
  const offset = 'bytes' in spec.offset ? spec.offset.bytes : 0;
  if (size < minBlockSize(spec)) throw new SetupError(`${spec.name}: size ${size} is smaller than the block size ${minBlockSize(spec)}`);
  const capacity = offset + (spec.numjobs - 1) * spec.offsetIncrement + size;
  return { blkio: undefined, regionStart: offset, regionLen: size, ioLimit: spec.ioSize ?? size, capacity, slotStride: 0, memoryLen: 0 };
}

/** Creates, connects and starts the job's Blkio with one queue per job clone. */
export function openDevice(spec: JobSpec): PreparedDevice {
  const step = stepsOf(spec);
  let b!: Blkio;
  // Drivers the addon does not have come from another libblkio ($BLKIO_LIBRARY) through the koffi loader.
  const name = isBuiltInDriver(spec.driver) || spec.driver.startsWith('libblkio:') ? spec.driver : `libblkio:${spec.driver}`;
  step(`creating driver '${spec.driver}'`, () => (b = create(name)));
  try {
    connect(b, spec, step);
    const capacity = Number(b.getUint64('capacity'));
    let region = jobRegion(spec, capacity, b.getInt('request-alignment'));
    start(b, spec, step);
    let zbd: JobLoopZones | undefined;
    if (spec.zonemode === 'zbd') {
      try {
        const zoned = setUpZones(b, spec, region, capacity);
        region = { offset: zoned.regionStart, size: zoned.regionLen };
        zbd = zoned.zbd;
      } catch (e) {
        if (e instanceof ZonedSetupError) throw new SetupError(e.message);
        throw new SetupError(`${spec.name}: zonemode=zbd: ${(e as Error).message}`);
      }
    }

    const bufAlign = Math.max(1, b.getInt('buf-alignment'));
    const memAlign = Math.max(1, Number(b.getUint64('mem-region-alignment')));
    const slotStride = roundUp(maxBlockSize(spec), bufAlign);
    const memoryLen = roundUp(slotStride * spec.iodepth, memAlign);

    if (spec.invalidate && spec.driver === 'io_uring' && !spec.direct) dropPageCache(spec);
    // fio's io_size: how much I/O to do over the region (more than one pass when larger).
    const ioLimit = spec.ioSize ?? region.size;
    return { blkio: b, regionStart: region.offset, regionLen: region.size, ioLimit, capacity, slotStride, memoryLen, zbd };
  } catch (e) {
    b.destroy();
    throw e;
  }
}

/**
 * blkbench_switch_to: the other backend of the job's image, started as the job's own (one queue, the
 * job's ring size and direct), refused unless it serves an image of the same size that takes the
 * job's block sizes and offset.
 */
export function openSwitchTarget(spec: JobSpec, own: PreparedDevice): Blkio {
  if (!own.blkio) throw new SetupError(`${spec.name}: blkbench_switch_to needs a device`);
  const t = spec.switchTo!;
  const label = `blkbench_switch_to=${t.driver}:${t.path}`;
  let target: PreparedDevice;
  try {
    target = openDevice({ ...spec, driver: t.driver, path: t.path, preConnectProps: [], preStartProps: [], invalidate: false });
  } catch (e) {
    const why = (e as Error).message.startsWith(`${spec.name}: `) ? (e as Error).message.slice(spec.name.length + 2) : (e as Error).message;
    throw new SetupError(`${spec.name}: ${label}: ${why}`);
  }
  if (target.capacity !== own.capacity) {
    target.blkio!.destroy();
    throw new SetupError(
      `${spec.name}: ${label} serves ${target.capacity} bytes but '${spec.path}' has ${own.capacity}: both must be the same image`,
    );
  }
  return target.blkio!;
}

/** The properties a job sets before connect, then connect. */
function connect(b: Blkio, spec: JobSpec, step: Step): void {
  step(`setting path '${spec.path}'`, () => b.setStr('path', spec.path!));
  if (spec.driver === 'io_uring') step('setting direct', () => b.setBool('direct', spec.direct));
  step('setting read-only', () => b.setBool('read-only', isReadOnlyJob(spec)));
  for (const [k, v] of spec.preConnectProps) setProp(b, k, v, spec, 'libblkio_pre_connect_props');
  step(`connecting to '${spec.path}'`, () => b.connect());
}

/** The part of the device the job works on, checked against its capacity and request-alignment. */
export function jobRegion(spec: JobSpec, capacity: number, requestAlign: number): { offset: number; size: number } {
  const offset = resolveSizeOrPercent(spec.offset, capacity, requestAlign);
  if (offset >= capacity) {
    throw new SetupError(`${spec.name}: offset ${offset} is past the end of '${spec.path}' (capacity ${capacity} bytes)`);
  }
  // offset_increment: the last clone's region starts furthest in.
  const lastShift = (spec.numjobs - 1) * spec.offsetIncrement;
  const size = spec.size === undefined ? capacity - offset - lastShift : resolveSizeOrPercent(spec.size, capacity, requestAlign);
  if (lastShift > 0 && offset + lastShift + size > capacity) {
    throw new SetupError(
      `${spec.name}: clone ${spec.numjobs - 1} at offset ${offset + lastShift} (offset_increment) goes past the end of '${spec.path}' (capacity ${capacity} bytes)`,
    );
  }
  if (offset + size > capacity) {
    throw new SetupError(`${spec.name}: size ${size} at offset ${offset} goes past the end of '${spec.path}' (capacity ${capacity} bytes)`);
  }
  if (size < minBlockSize(spec)) {
    throw new SetupError(`${spec.name}: size ${size} is smaller than the block size ${minBlockSize(spec)}`);
  }
  for (const d of DIRECTIONS) {
    for (const bs of spec.bs[d].sizes) {
      if (bs % requestAlign !== 0) {
        throw new SetupError(`${spec.name}: block size ${bs} is not a multiple of the device's request-alignment ${requestAlign}`);
      }
    }
  }
  if (offset % requestAlign !== 0) {
    throw new SetupError(`${spec.name}: offset ${offset} is not a multiple of the device's request-alignment ${requestAlign}`);
  }
  return { offset, size };
}

/** Queues (one per clone, polled with hipri), the ring size, the properties set before start, then start. */
function start(b: Blkio, spec: JobSpec, step: Step): void {
  if (spec.hipri) {
    step('setting num-poll-queues', () => b.setInt('num-poll-queues', spec.numjobs));
    step('setting num-queues', () => b.setInt('num-queues', 0));
  } else {
    step('setting num-queues', () => b.setInt('num-queues', spec.numjobs));
  }
  const uring = spec.driver === 'io_uring' || spec.driver === 'nvme-io_uring';
  const ringSize = uring ? spec.numEntries : spec.queueSize;
  const ringProp = uring ? 'num-entries' : 'queue-size';
  if (ringSize !== undefined) step(`setting ${ringProp}`, () => b.setInt(ringProp, ringSize));
  else if (spec.iodepth > 128) step(`setting ${ringProp}`, () => b.setInt(ringProp, nextPowerOfTwo(spec.iodepth)));
  for (const [k, v] of spec.preStartProps) setProp(b, k, v, spec, 'libblkio_pre_start_props');
  step('starting the device', () => b.start());
}

function roundUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}

function nextPowerOfTwo(n: number): number {
  return 2 ** Math.ceil(Math.log2(n));
}

type Fadvise = (fd: number, offset: number, len: number, advice: number) => number;
let fadvise: Fadvise | undefined;

/** invalidate=1: POSIX_FADV_DONTNEED on the file, through koffi (Node has no fadvise). */
function dropPageCache(spec: JobSpec): void {
  if (!fadvise) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const koffi = require('koffi') as { load(lib: string): { func(sig: string): Fadvise } };
      fadvise = koffi.load('libc.so.6').func('int posix_fadvise(int fd, int64_t offset, int64_t len, int advice)');
    } catch (e) {
      throw new SetupError(`${spec.name}: invalidate=1 needs koffi to drop the page cache (${(e as Error).message}); use invalidate=0`);
    }
  }
  const fd = fs.openSync(spec.path!, 'r');
  try {
    const POSIX_FADV_DONTNEED = 4;
    const rc = fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    if (rc !== 0) throw new SetupError(`${spec.name}: invalidate: posix_fadvise failed with errno ${rc}`);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A job's buffers: one mapped region of iodepth × max block size, allocated on the job's thread
 * (and mapped into the switch target too, which the job's requests also reach).
 */
export function allocJobMemory(b: Blkio, memoryLen: number, switchTarget?: Blkio): { buffer: ArrayBuffer; release: () => void } {
  const region = b.allocMemRegion(memoryLen);
  const mapped: Blkio[] = [];
  const release = () => {
    for (const m of mapped.reverse()) m.unmapMemRegion(region);
    b.freeMemRegion(region);
  };
  try {
    for (const m of switchTarget ? [b, switchTarget] : [b]) {
      m.mapMemRegion(region);
      mapped.push(m);
    }
  } catch (e) {
    release();
    throw e;
  }
  return { buffer: region.buffer, release };
}

/** Where a job clone's I/O goes: the device layout both the main thread and workers use. */
export type JobLayout = Pick<PreparedDevice, 'regionStart' | 'regionLen' | 'ioLimit' | 'slotStride' | 'memoryLen' | 'zbd'>;

/**
 * A job loop on queue `queueIndex` (a poll queue for hipri) of a started device, with its buffers
 * allocated and mapped; release() frees them after the run.
 */
export function prepareJobLoop(
  b: Blkio,
  spec: JobSpec,
  queueIndex: number,
  jobIndex: number,
  layout: JobLayout,
  progress: Float64Array,
  onTick?: () => void,
  stop?: Int32Array,
  switchTarget?: Blkio,
): { loop: JobLoop; release: () => void } {
  const queue = spec.hipri ? b.getPollQueue(queueIndex) : b.getQueue(queueIndex);
  if (!queue) throw new Error(`${spec.name}: the device has no queue ${queueIndex}`);
  const memory = allocJobMemory(b, layout.memoryLen, switchTarget);
  try {
    const other = switchTarget?.getQueue(queueIndex);
    if (switchTarget && !other) throw new Error(`${spec.name}: the switch target has no queue ${queueIndex}`);
    const loop = new JobLoop({
      spec,
      jobIndex,
      queue,
      completions: createCompletions(spec.iodepth),
      memory: memory.buffer,
      memoryOffset: 0,
      slotStride: layout.slotStride,
      regionStart: layout.regionStart,
      regionLen: layout.regionLen,
      ioLimit: layout.ioLimit,
      zbd: layout.zbd,
      progress,
      onTick,
      stop,
      switchQueues: other ? [other] : undefined,
    });
    return { loop, release: memory.release };
  } catch (e) {
    memory.release();
    throw e;
  }
}
