/**
 * A worker thread running one job clone on its own queue of a device the main thread started.
 * It attaches to the device, allocates and maps its buffers, reports ready, waits at the barrier,
 * runs, and posts its result (histograms transferred, not copied).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BlkioHandle, attach } from '../lib';
import { JobLayout, prepareJobLoop } from './device';
import { PROGRESS_FIELDS } from './loop';
import { JobSpec } from './options';
import { JobResult } from './results';

export interface WorkerInput {
  handle: BlkioHandle;
  /** blkbench_switch_to: the other backend's device. */
  switchHandle?: BlkioHandle;
  spec: JobSpec;
  queueIndex: number;
  jobIndex: number;
  device: JobLayout;
  progress: SharedArrayBuffer;
  barrier: SharedArrayBuffer;
  stop: SharedArrayBuffer;
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'result'; result: JobResult }
  | { type: 'error'; message: string };

const BARRIER_GO = 1;

async function main(input: WorkerInput): Promise<void> {
  const port = parentPort!;
  const { spec, device } = input;
  const b = attach(input.handle);
  const target = input.switchHandle ? attach(input.switchHandle) : undefined;
  try {
    const progress = new Float64Array(input.progress, input.jobIndex * PROGRESS_FIELDS * 8, PROGRESS_FIELDS);
    const { loop, release } = prepareJobLoop(
      b, spec, input.queueIndex, input.jobIndex, device, progress, undefined, new Int32Array(input.stop), target,
    );
    try {
      port.postMessage({ type: 'ready' } satisfies WorkerMessage);
      const barrier = new Int32Array(input.barrier);
      Atomics.wait(barrier, 0, 0);
      if (Atomics.load(barrier, 0) !== BARRIER_GO) return;
      const result = spec.waitMode === 'eventfd' ? await loop.runEvented() : loop.runSync();
      const transfer = Object.values(result.dirs).map((d) => d.hist.buffer as ArrayBuffer);
      port.postMessage({ type: 'result', result } satisfies WorkerMessage, transfer);
    } finally {
      release();
    }
  } finally {
    target?.destroy();
    b.destroy();
  }
}

if (parentPort) {
  main(workerData as WorkerInput).catch((e: Error) => {
    parentPort!.postMessage({ type: 'error', message: e.message } satisfies WorkerMessage);
  });
}
