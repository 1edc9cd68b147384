/**
 * Runs job clones on the library's native job loop (startJobLoop): each clone's loop runs in C++ on a
 * thread of its own over its own queue, so no JS runs per request; the main thread only draws the
 * progress line from the loops' live counters and turns their results into blkbench's JobResult.
 */
import { JobLoop, JobLoopDirection, JobLoopResult, JobLoopSamples, JobLoopSpec, startCpuJobLoop, startFileEngineJobLoop, startFileOpJobLoop, startJobLoop, startMemDeviceJobLoop, startNetJobLoop, startNullJobLoop } from '../lib/bench';
import { isBuiltInDriver, PreparedDevice } from './device';
import { exitallEndsRun, exitallStops } from './groups';
import { PROGRESS_FIELDS, STOP } from './loop';
import { OPTIONS, OptionKey } from './option-table';
import { JobSpec } from './options';
import { jobLoopSpec } from './loop-spec';
import { SINK_ENGINES } from './option-values';
import { startExecJobLoop, startPmemblkJobLoop } from '../lib/bench';
import { JobLogs } from './logs';
import { DirectionResult, JobResult } from './results';
import { StatsSnapshot } from './stats';
import { summarizeSwitches, switchPaths } from './switch-report';
import { SteadyStateMonitor } from './steadystate';
import { performance } from 'node:perf_hooks';

export { jobLoopSpec } from './loop-spec';

export interface NativeClone {
  spec: JobSpec;
  device: PreparedDevice;
  queueIndex: number;
  jobIndex: number;
}

const PROGRESS_INTERVAL_MS = 100;

/** Why the native loop cannot run this job (the JS loop runs it instead), or null. */
export function nativeLoopUnsupported(spec: JobSpec): string | null {
  if (!isBuiltInDriver(spec.driver) && !SINK_ENGINES.includes(spec.driver)) return `libblkio_driver=${spec.driver} (another libblkio library)`;
  for (const key of Object.keys(OPTIONS) as OptionKey[]) {
    if (OPTIONS[key].loop !== 'js' || !(key in spec)) continue;
    const value = (spec as unknown as Record<string, unknown>)[key];
    if (JSON.stringify(value, bigints) !== JSON.stringify(OPTIONS[key].default, bigints)) return OPTIONS[key].names[0];
  }
  return null;
}

function bigints(_key: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

/**
 * Runs every clone on a native loop of its own. progress has a slot per job index; the stop word
 * (a signal, or exit_what=all) stops every loop within one progress interval.
 */
export async function runNativeClones(
  clones: NativeClone[], progress: Float64Array, stop: Int32Array, onProgress?: (p: Float64Array) => void,
): Promise<JobResult[]> {
  const loops: JobLoop[] = [];
  try {
    clones.forEach((c) => {
      const slot = new Float64Array(progress.buffer, c.jobIndex * PROGRESS_FIELDS * 8, PROGRESS_FIELDS);
      const b = c.device.blkio;
      if (!b) {
        // ioengine=exec: the loop runs a program; ioengine=pmemblk: it reads and writes a libpmemblk pool.
        const { exec, pmemblk } = c.device;
        if (exec || pmemblk) {
          loops.push(exec ? startExecJobLoop(exec, loopSpec(c), { progress: slot }) : startPmemblkJobLoop(pmemblk!, loopSpec(c), { progress: slot }));
          return;
        }
        // ioengine=null: the loop completes its own requests; /dev/null and the like: it reads and writes them itself.
        // ioengine=falloc|ftruncate: one fallocate or ftruncate on the file per request.
        // ioengine=cpuio: each request a burst of CPU work.
        // filecreate/filestat/filedelete: one operation per file of the clone's.
        // ioengine=net: sends and receives on a socket (clone n on port + n, as fio's).
        const { memDevice, fileEngine, cpuBurn, fileOps, net } = c.device;
        const options = { progress: slot };
        if (net) loops.push(startNetJobLoop({ ...net, port: net.port === undefined ? undefined : net.port + c.queueIndex }, loopSpec(c), options));
        else if (fileOps) loops.push(startFileOpJobLoop(fileOps.files[c.queueIndex], fileOps.op, fileOps.fileSize, loopSpec(c), options));
        else if (cpuBurn) loops.push(startCpuJobLoop(loopSpec(c), cpuBurn, options));
        else if (fileEngine) loops.push(startFileEngineJobLoop(fileEngine.path, fileEngine.call, loopSpec(c), options));
        else if (memDevice !== undefined) loops.push(startMemDeviceJobLoop(memDevice, loopSpec(c), options));
        else loops.push(startNullJobLoop(loopSpec(c), options));
        return;
      }
      const queue = c.spec.hipri ? b.getPollQueue(c.queueIndex) : b.getQueue(c.queueIndex);
      if (!queue) throw new Error(`${c.spec.name}: the device has no queue ${c.queueIndex}`);
      const target = c.device.switchTarget?.getQueue(c.queueIndex);
      if (c.device.switchTarget && !target) throw new Error(`${c.spec.name}: the switch target has no queue ${c.queueIndex}`);
      loops.push(startJobLoop(queue, loopSpec(c), { progress: slot, switchTo: target ? [target] : undefined }));
    });
  } catch (e) {
    for (const l of loops) l.stop();
    await Promise.all(loops.map((l) => l.done));
    throw e;
  }
  const stopAll = () => {
    for (const l of loops) l.stop();
  };
  // ss: a job (or group) whose rate holds steady is stopped, as fio's helper thread stops it.
  const steady = SteadyStateMonitor.watch(clones, progress, (i) => loops[i].stop(), performance.now());
  const timer = setInterval(() => {
    if (Atomics.load(stop, 0) !== STOP.running) stopAll();
    steady?.tick(performance.now());
    onProgress?.(progress);
  }, PROGRESS_INTERVAL_MS);
  try {
    const results = await Promise.all(
      loops.map((l, i) =>
        l.done.then((r) => {
          // exitall: a job that is done stops the jobs its exit_what names.
          const done = clones[i].spec;
          if (exitallEndsRun(done)) Atomics.compareExchange(stop, 0, STOP.running, STOP.exitall);
          clones.forEach((c, j) => {
            if (exitallStops(done, c.spec)) loops[j].stop();
          });
          return r;
        }),
      ),
    );
    // Each job's CPU is its loop thread's, as fio counts a job's (getrusage RUSAGE_THREAD in every mode):
    // io_uring's io-wq workers (buffered writes) and the idle main thread are not in it.
    results.forEach((r, i) => writeLogs(clones[i], r));
    return results.map((r, i) => ({ ...jobResult(clones[i].spec, r, r.cpu), ...(steady ? { steadystate: steady.reportFor(i) } : {}) }));
  } finally {
    clearInterval(timer);
  }
}

function loopSpec(c: NativeClone): JobLoopSpec {
  const { spec, device } = c;
  return jobLoopSpec(spec, {
    regionStart: device.regionStart + c.queueIndex * spec.offsetIncrement, // fio's offset_increment
    regionLength: device.regionLen,
    ioLimit: device.ioLimit,
    jobIndex: c.jobIndex,
    zbd: device.zbd,
  });
}

/** fio's per-job log files from the loop's measured completions (JobLogs writes them, as for the JS loop). */
function writeLogs(c: NativeClone, r: JobLoopResult): void {
  const logs = JobLogs.forJob(c.spec, c.jobIndex);
  if (!logs) return;
  const rows = r.log ?? new Float64Array(0);
  for (let i = 0; i < rows.length; i += 6) logs.add(rows[i], rows[i + 1], rows[i + 2], rows[i + 3], rows[i + 4], rows[i + 5]);
  logs.write(r.runtimeNs / 1e6);
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
    slatHist: d.slat.hist,
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
    dirs: { read: { ...direction(r.read), ...(r.droppedReads ? { drops: r.droppedReads } : {}) }, write: direction(r.write), trim: direction(r.trim) },
    cpu,
    depth: r.depth,
    error: r.error,
    errorMessage: r.errorMessage,
    verifiedBlocks: r.verifiedBlocks,
    ignoredErrors: r.ignoredErrors,
    zoneResets: r.zoneResets,
    loop: 'native',
    ...(r.switching ? { switching: summarizeSwitches(r.switching, switchPaths(spec)) } : {}),
  };
}
