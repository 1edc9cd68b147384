// Worker side of the queue-removal test: reads through queue `index` in a
// tight loop until the owner removes the queue (doIo then fails ENODEV).
import { parentPort, workerData } from 'node:worker_threads';
import { attach, BlkioError, createCompletions } from '../../../src/lib';

const b = attach(workerData.handle);
const q = b.getQueue(workerData.index)!;
const state: Int32Array = workerData.state;
const buf = new Uint8Array(4096);
const BATCH = 4096; // a long doIo, so the owner's removal lands inside one
const c = createCompletions(BATCH);
let rounds = 0;
let outcome = 'not removed';
for (; rounds < 100_000; rounds++) {
  Atomics.store(state, 0, rounds + 1);
  try {
    // A full batch goes to the native side from read() already.
    for (let i = 0; i < BATCH; i++) q.read(4096 * (i % 64), buf);
    q.doIo(c, BATCH, BATCH);
  } catch (e) {
    if (!(e instanceof BlkioError) || e.code !== 'ENODEV') throw e;
    outcome = 'removed';
    break;
  }
  if (c.some((x) => x.ret !== 0)) throw new Error('a read failed');
}
parentPort!.postMessage({ outcome, rounds });
b.destroy();
