/**
 * Runs a set of jobs: prepares every device on the main thread, then runs a single job on the main
 * thread, or every job clone (numjobs) on a worker thread of its own with its own queue of the shared
 * device. Workers wait on a barrier so that all clones start I/O together.
 */
import * as path from 'node:path';
import type { Blkio } from '../lib';
import { performance } from 'node:perf_hooks';
import { SteadyStateMonitor } from './steadystate';
import { Worker } from 'node:worker_threads';
import { PreparedDevice, cpuDevice, fileEngineDevice, fileOpDevice, isBuiltInDriver, isCharacterDevice, memDevice, netDevice, nullDevice, openDevice, openSwitchTarget, prepareJobLoop } from './device';
import { assignFiles, layOutJobFile, unlinkJobFile } from './files';
import { PROGRESS_FIELDS, STOP } from './loop';
import { exitallEndsRun, exitallStops, runBatches } from './groups';
import { nativeLoopUnsupported, runNativeClones } from './native-runner';
import { CPU_ENGINE, FILE_ENGINES, FILE_OP_ENGINES, JobSpec, NET_ENGINE, NULL_ENGINE } from './options';
import { JobResult, emptyDirection } from './results';
import { EXEC_ENGINE, PMEMBLK_ENGINE } from './option-values';
import { execDevice, pmemblkDevice } from './program-devices';
import type { WorkerInput, WorkerMessage } from './worker';

export interface RunHooks {
  /** Lines such as "Laying out IO file" (only shown in the human format). */
  log: (line: string) => void;
  /** Called about every 100 ms with the shared progress array (one PROGRESS_FIELDS slot per job). */
  onProgress?: (progress: Float64Array) => void;
  /** Shared stop word (loop.ts STOP): set it to end every job early (a signal); exit_what=all sets it too. */
  stop?: Int32Array;
}

interface Clone {
  spec: JobSpec;
  device: PreparedDevice;
  queueIndex: number;
  jobIndex: number;
}

export async function runJobs(jobSpecs: JobSpec[], hooks: RunHooks): Promise<JobResult[]> {
  const specs = assignFiles(jobSpecs);
  const stop = hooks.stop ?? new Int32Array(new SharedArrayBuffer(4));
  // Progress slots for every clone of every job, numbered across batches.
  const total = specs.reduce((a, s) => a + s.numjobs, 0);
  const progress = new Float64Array(new SharedArrayBuffer(total * PROGRESS_FIELDS * 8));
  const firstIndex: number[] = [];
  specs.reduce((a, s, i) => ((firstIndex[i] = a), a + s.numjobs), 0);
  const results: JobResult[] = [];
  try {
    for (const batch of runBatches(specs)) {
      const batchSpecs = batch.map((i) => specs[i]);
      const word = Atomics.load(stop, 0);
      if (word === STOP.exitall) results.push(...batchSpecs.flatMap(notRun)); // reported with no I/O, as fio does
      else if (word !== STOP.running) break;
      else results.push(...(await runBatch(batchSpecs, batch.map((i) => firstIndex[i]), progress, stop, hooks)));
    }
    return results;
  } finally {
    for (const spec of specs) unlinkJobFile(spec);
  }
}

/** The results of a job's clones that never started (an exit_what=all job ended the run before). */
function notRun(spec: JobSpec): JobResult[] {
  return Array.from({ length: spec.numjobs }, () => ({
    name: spec.name, jobs: 1, groupid: spec.groupid, spec, runtimeNs: 0, elapsedNs: 0,
    dirs: { read: emptyDirection(), write: emptyDirection(), trim: emptyDirection() },
    cpu: { usrNs: 0, sysNs: 0, ctx: 0, majf: 0, minf: 0 },
    depth: { level: new Array(7).fill(0), submit: new Array(7).fill(0), complete: new Array(7).fill(0) },
    error: 0, errorMessage: null, verifiedBlocks: 0, loop: spec.jobLoop,
  }));
}

/** Jobs that run at once: devices prepared here, then every clone on a worker of its own. */
async function runBatch(
  specs: JobSpec[], firstIndex: number[], progress: Float64Array, stop: Int32Array, hooks: RunHooks,
): Promise<JobResult[]> {
  const devices: PreparedDevice[] = [];
  try {
    for (const spec of specs) {
      await layOutJobFile(spec, hooks.log, () => Atomics.load(stop, 0) !== STOP.running);
      const device = spec.driver === NULL_ENGINE ? nullDevice(spec)
        : spec.driver === CPU_ENGINE ? cpuDevice(spec)
        : spec.driver === NET_ENGINE ? netDevice(spec)
        : spec.driver in FILE_OP_ENGINES ? fileOpDevice(spec)
        : spec.driver in FILE_ENGINES ? fileEngineDevice(spec)
        : spec.driver === EXEC_ENGINE ? execDevice(spec, hooks.log)
        : spec.driver === PMEMBLK_ENGINE ? pmemblkDevice(spec)
        : isCharacterDevice(spec) ? memDevice(spec) : openDevice(spec);
      devices.push(device);
      if (spec.switchTo) device.switchTarget = openSwitchTarget(spec, device);
    }
    const clones: Clone[] = [];
    specs.forEach((spec, i) => {
      for (let q = 0; q < spec.numjobs; q++) clones.push({ spec, device: devices[i], queueIndex: q, jobIndex: firstIndex[i] + q });
    });
    const fallback = jsLoopReason(specs);
    if (fallback === null) return await runNativeClones(clones, progress, stop, hooks.onProgress);
    if (fallback !== '') hooks.log(`note: the native job loop does not support ${fallback}: running the JS loop`);
    const results = await runJsClones(clones, progress, hooks, stop);
    for (const r of results) {
      r.loop = 'js';
      if (fallback !== '') r.loopNote = `native loop does not support ${fallback}`;
    }
    return results;
  } finally {
    for (const d of devices) {
      d.switchTarget?.destroy();
      d.blkio?.destroy();
    }
  }
}

/** null: every job runs on the native loop; '': the JS loop was asked for; else why the JS loop runs. */
function jsLoopReason(specs: JobSpec[]): string | null {
  if (specs.some((s) => s.jobLoop === 'js')) return '';
  for (const s of specs) {
    const reason = nativeLoopUnsupported(s);
    if (reason !== null) return reason;
  }
  return null;
}

async function runJsClones(clones: Clone[], progress: Float64Array, hooks: RunHooks, stop: Int32Array): Promise<JobResult[]> {
  // The main thread stays free for signals and the progress line, except for an eventfd job, whose
  // loop runs from the event loop anyway, and a driver of another libblkio (koffi cannot share it).
  const only = clones[0].spec;
  if (clones.length === 1 && (only.waitMode === 'eventfd' || !isBuiltInDriver(only.driver))) {
    const result = await runOnMainThread(clones[0], progress, hooks, stop);
    if (exitallEndsRun(only)) Atomics.compareExchange(stop, 0, STOP.running, STOP.exitall);
    return [result];
  }
  return await runOnWorkers(clones, progress, hooks, stop);
}

/** The device of a clone the JS loop runs (ioengine=null never gets here: it is the native loop's). */
function deviceOf(clone: Clone): Blkio {
  if (!clone.device.blkio) throw new Error(`${clone.spec.name}: the JS job loop needs a device`);
  return clone.device.blkio;
}

async function runOnMainThread(clone: Clone, progress: Float64Array, hooks: RunHooks, stop: Int32Array): Promise<JobResult> {
  const { spec, device } = clone;
  // The clone's own stop word: the run's (a signal) is passed on, and ss stops only this clone.
  const own = new Int32Array(new SharedArrayBuffer(4));
  const steady = SteadyStateMonitor.watch([clone], progress, () => Atomics.store(own, 0, STOP.stop), performance.now());
  const onTick = () => {
    const word = Atomics.load(stop, 0);
    if (word !== STOP.running) Atomics.store(own, 0, word);
    steady?.tick(performance.now());
    hooks.onProgress?.(progress);
  };
  const layout = { ...device, regionStart: device.regionStart + clone.queueIndex * spec.offsetIncrement };
  const { loop, release } = prepareJobLoop(deviceOf(clone), spec, 0, clone.jobIndex, layout, progress, onTick, own, device.switchTarget);
  try {
    const result = spec.waitMode === 'eventfd' ? await loop.runEvented() : loop.runSync();
    return steady ? { ...result, steadystate: steady.reportFor(0) } : result;
  } finally {
    release();
  }
}

/** Barrier word values (the worker waits while it is 0). */
const BARRIER_GO = 1;
const BARRIER_ABORT = 2;

interface StartedWorker {
  worker: Worker;
  ready: Promise<void>;
  result: Promise<JobResult>;
  exited: Promise<void>;
}

/**
 * Each clone on a worker thread of its own: all get ready, then start at once behind a barrier. Each
 * has a stop word of its own, so that exitall stops only the clones its exit_what names; the shared
 * one (a signal) is passed on to all of them.
 */
async function runOnWorkers(clones: Clone[], progress: Float64Array, hooks: RunHooks, stop: Int32Array): Promise<JobResult[]> {
  const barrier = new Int32Array(new SharedArrayBuffer(4));
  const stops = clones.map(() => new Int32Array(new SharedArrayBuffer(4)));
  const stopClone = (j: number) => {
    Atomics.store(stops[j], 0, STOP.stop);
    Atomics.notify(stops[j], 0); // wakes a job sleeping in startdelay, thinktime or a rate pause
  };
  const onDone = (done: JobSpec) => {
    if (exitallEndsRun(done)) Atomics.compareExchange(stop, 0, STOP.running, STOP.exitall);
    clones.forEach((c, j) => exitallStops(done, c.spec) && stopClone(j));
  };
  const started = clones.map((clone, j) => startWorker(clone, progress, barrier, stops[j], onDone));
  let succeeded = false;
  let steady: SteadyStateMonitor | undefined;
  const timer = setInterval(() => {
    if (Atomics.load(stop, 0) !== STOP.running) stops.forEach((_, j) => stopClone(j));
    steady?.tick(performance.now());
    hooks.onProgress?.(progress);
  }, 100);
  try {
    try {
      await Promise.all(started.map((w) => w.ready));
    } catch (e) {
      Atomics.store(barrier, 0, BARRIER_ABORT);
      Atomics.notify(barrier, 0);
      throw e;
    }
    steady = SteadyStateMonitor.watch(clones, progress, stopClone, performance.now()); // ss, as fio's helper thread
    Atomics.store(barrier, 0, BARRIER_GO);
    Atomics.notify(barrier, 0);
    const results = await Promise.all(started.map((w) => w.result));
    succeeded = true;
    return steady ? results.map((r, i) => ({ ...r, steadystate: steady!.reportFor(i) })) : results;
  } finally {
    clearInterval(timer);
    // After a result, a worker still frees its buffers and destroys its handle: let it exit by itself.
    // terminate() in the middle of that aborted Node now and then ("terminate called after throwing
    // an instance of 'Napi::Error'"); it is only for workers that failed or never got to run.
    if (succeeded) await Promise.all(started.map((w) => w.exited));
    else await Promise.all(started.map((w) => w.worker.terminate()));
  }
}

/** Starts one clone's worker on its share of the device; its promises settle from the worker's messages. */
function startWorker(
  clone: Clone, progress: Float64Array, barrier: Int32Array, stop: Int32Array, onDone: (done: JobSpec) => void,
): StartedWorker {
  const input: WorkerInput = {
    handle: deviceOf(clone).share(),
    switchHandle: clone.device.switchTarget?.share(),
    spec: clone.spec,
    queueIndex: clone.queueIndex,
    jobIndex: clone.jobIndex,
    device: {
      regionStart: clone.device.regionStart + clone.queueIndex * clone.spec.offsetIncrement, // fio's offset_increment
      regionLen: clone.device.regionLen,
      ioLimit: clone.device.ioLimit,
      slotStride: clone.device.slotStride,
      memoryLen: clone.device.memoryLen,
      zbd: clone.device.zbd,
    },
    progress: progress.buffer as SharedArrayBuffer,
    barrier: barrier.buffer as SharedArrayBuffer,
    stop: stop.buffer as SharedArrayBuffer,
  };
  const worker = new Worker(path.join(__dirname, 'worker.js'), { workerData: input });
  const ready = deferred<void>();
  const result = deferred<JobResult>();
  const fail = (e: Error) => {
    ready.reject(e);
    result.reject(e);
  };
  worker.on('message', (m: WorkerMessage) => {
    if (m.type === 'ready') ready.resolve();
    else if (m.type === 'result') {
      onDone(clone.spec); // exitall
      result.resolve(m.result);
    } else fail(new Error(m.message));
  });
  worker.on('error', fail);
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.on('exit', (code) => fail(new Error(`job '${clone.spec.name}' worker exited (code ${code}) without a result`)));
  return { worker, ready: ready.promise, result: result.promise, exited };
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: Error) => void;
}

/** A promise settled from outside; rejections are also seen through Promise.all, so never unhandled. */
function deferred<T>(): Deferred<T> {
  const d = {} as Deferred<T>;
  d.promise = new Promise<T>((res, rej) => {
    d.resolve = res;
    d.reject = rej;
  });
  d.promise.catch(() => undefined);
  return d;
}
