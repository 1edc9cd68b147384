// Worker side of the busy-queue removal test: maps a region, then waits in
// doIo for a read that a stopped backend cannot complete yet.
import { parentPort, workerData } from 'node:worker_threads';
import { attach, BlkioError, createCompletions } from '../../../src/lib';

const state: Int32Array = workerData.state; // [0]: 1 = inside doIo; [1]: 1 = go
const b = attach(workerData.handle);
const q = b.getQueue(workerData.index)!;
const region = b.allocMemRegion(4096);
b.mapMemRegion(region);
parentPort!.postMessage('ready');
Atomics.wait(state, 1, 0);
q.read(0, new Uint8Array(region.buffer), 'stalled read');
const c = createCompletions(1);
Atomics.store(state, 0, 1);
let result: string;
try {
  const n = q.doIo(c, 1, 1, 20e9);
  result = n === 1 ? `ret ${c[0].ret}` : `n ${n}`;
} catch (e) {
  result = e instanceof BlkioError ? e.code : String(e);
}
parentPort!.postMessage(result);
b.unmapMemRegion(region);
b.freeMemRegion(region);
b.destroy();
