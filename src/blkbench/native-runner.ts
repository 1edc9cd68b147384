/**
 * Runs job clones on the library's native job loop (startJobLoop): each clone's loop runs in C++ on a
 * thread of its own over its own queue, so no JS runs per request; the main thread only draws the
 * progress line from the loops' live counters and turns their results into blkbench's JobResult.
 */
import { JobLoop, JobLoopDirection, JobLoopResult, JobLoopSamples, startJobLoop } from '../lib/bench';
import { isBuiltInDriver, PreparedDevice } from './device';
import { PROGRESS_FIELDS, STOP } from './loop';
import { OPTIONS } from './option-table';
import { JobSpec, isRandom, jobDirections } from './options';
import { Prng } from './random';
import { DirectionResult, JobResult, emptyDirection } from './results';
import { StatsSnapshot } from './stats';

export interface NativeClone {
  spec: JobSpec;
  device: PreparedDevice;
  queueIndex: number;
  jobIndex: number;
}

const PROGRESS_INTERVAL_MS = 100;

// Options only the JS loop implements: a job that sets one away from its default runs there.
const JS_LOOP_ONLY = [
  'loops', 'numberIos', 'startdelayNs', 'rate', 'rateMin', 'rateIops', 'thinktimeNs', 'randomDistribution', 'blockalign',
  'bufferCompressPercentage', 'refillBuffers', 'zeroBuffers', 'dedupePercentage', 'continueOnError',
  'writeLatLog', 'writeBwLog', 'writeIopsLog', 'writeHistLog',
] as const;

/** Why the native loop cannot run this job (the JS loop runs it instead), or null. */
export function nativeLoopUnsupported(spec: JobSpec): string | null {
  const dirs = jobDirections(spec.rw);
  if (dirs.includes('trim')) return `rw=${spec.rw} (trim)`;
  if (dirs.some((d) => spec.bs[d].sizes.length > 1)) return 'bssplit';
  if (spec.verify !== 'none') return `verify=${spec.verify}`;
  if (spec.waitMode === 'eventfd') return 'libblkio_wait_mode=eventfd';
  if (spec.vectored) return 'libblkio_vectored';
  if (!isBuiltInDriver(spec.driver)) return `libblkio_driver=${spec.driver} (another libblkio library)`;
  if (spec.seqAdd !== 0) return `rw=${spec.rw}:${spec.seqAdd}`;
  for (const key of JS_LOOP_ONLY) {
    if (JSON.stringify(spec[key]) !== JSON.stringify(OPTIONS[key].default)) return OPTIONS[key].names[0];
  }
  return null;
}

/**
 * Runs every clone on a native loop of its own. progress has a slot per job index; the stop word
 * (a signal, or exitall) stops every loop within one progress interval.
 */
export async function runNativeClones(
  clones: NativeClone[], progress: Float64Array, stop: Int32Array, onProgress?: (p: Float64Array) => void,
): Promise<JobResult[]> {
  const loops: JobLoop[] = [];
  try {
    clones.forEach((c) => {
      const queue = c.spec.hipri ? c.device.blkio.getPollQueue(c.queueIndex) : c.device.blkio.getQueue(c.queueIndex);
      if (!queue) throw new Error(`${c.spec.name}: the device has no queue ${c.queueIndex}`);
      const slot = new Float64Array(progress.buffer, c.jobIndex * PROGRESS_FIELDS * 8, PROGRESS_FIELDS);
      loops.push(startJobLoop(queue, loopSpec(c), { progress: slot }));
    });
  } catch (e) {
    for (const l of loops) l.stop();
    await Promise.all(loops.map((l) => l.done));
    throw e;
  }
  const stopAll = () => {
    for (const l of loops) l.stop();
  };
  const timer = setInterval(() => {
    if (Atomics.load(stop, 0) !== STOP.running) stopAll();
    onProgress?.(progress);
  }, PROGRESS_INTERVAL_MS);
  try {
    const results = await Promise.all(
      loops.map((l, i) =>
        l.done.then((r) => {
          // exitall: the first job to finish ends every other one.
          if (clones[i].spec.exitall) {
            Atomics.store(stop, 0, STOP.stop);
            stopAll();
          }
          return r;
        }),
      ),
    );
    // Each job's CPU is its loop thread's, as fio counts a job's (getrusage RUSAGE_THREAD in every mode):
    // io_uring's io-wq workers (buffered writes) and the idle main thread are not in it.
    return results.map((r, i) => jobResult(clones[i].spec, r, r.cpu));
  } finally {
    clearInterval(timer);
  }
}

function loopSpec(c: NativeClone): Parameters<typeof startJobLoop>[1] {
  const { spec, device } = c;
  const dirs = jobDirections(spec.rw);
  const mixed = dirs.length > 1;
  return {
    rw: mixed ? (isRandom(spec.rw) ? 'randrw' : 'readwrite') : (spec.rw as 'read' | 'write' | 'randread' | 'randwrite'),
    rwmixread: spec.rwmixread,
    blockSize: { read: spec.bs.read.sizes[0], write: spec.bs.write.sizes[0] },
    iodepth: spec.iodepth,
    iodepthBatchSubmit: spec.iodepthBatchSubmit,
    iodepthBatchCompleteMin: spec.iodepthBatchCompleteMin,
    iodepthBatchCompleteMax: spec.iodepthBatchCompleteMax,
    regionStart: device.regionStart + c.queueIndex * spec.offsetIncrement, // fio's offset_increment
    regionLength: device.regionLen,
    ioLimit: device.ioLimit,
    runtimeNs: spec.runtimeNs,
    timeBased: spec.timeBased,
    rampTimeNs: spec.rampTimeNs,
    norandommap: spec.norandommap,
    seed: spec.randrepeat ? spec.randseed : Prng.randomSeed(),
    jobIndex: c.jobIndex,
    waitMode: spec.waitMode === 'loop' ? 'loop' : 'block',
  };
}

function snapshot(s: StatsSnapshot): StatsSnapshot {
  return s.n > 0 ? { n: s.n, mean: s.mean, m2: s.m2, min: s.min, max: s.max } : { n: 0, mean: 0, m2: 0, min: Infinity, max: -Infinity };
}

function samples(s: JobLoopSamples): StatsSnapshot {
  return snapshot(s);
}

function direction(d: JobLoopDirection): DirectionResult {
  return {
    ios: d.ios,
    bytes: d.bytes,
    lat: snapshot(d.lat),
    clat: snapshot(d.clat),
    hist: d.clat.hist,
    bw: samples(d.bw),
    iops: samples(d.iops),
    slat: snapshot(d.slat),
    totalHist: d.lat.hist,
  };
}

function jobResult(spec: JobSpec, r: JobLoopResult, cpu: JobLoopResult['cpu']): JobResult {
  return {
    name: spec.name,
    jobs: 1,
    groupid: spec.groupid,
    spec,
    runtimeNs: r.runtimeNs,
    elapsedNs: r.elapsedNs,
    dirs: { read: direction(r.read), write: direction(r.write), trim: emptyDirection() },
    cpu,
    depth: r.depth,
    error: r.error,
    errorMessage: r.errorMessage,
    verifiedBlocks: 0,
    loop: 'native',
  };
}
