// Worker side of the queue-removal test: reads through queue `index` in a
// tight loop until the owner removes the queue (doIo then fails ENODEV).
import { parentPort, workerData } from 'node:worker_threads';
import { attach, BlkioError, createCompletions } from '../../../src';

const b = attach(workerData.handle);
const q = b.getQueue(workerData.index)!;
const state: Int32Array = workerData.state;
const buf = new Uint8Array(4096);
const c = createCompletions(8);
let rounds = 0;
let outcome = 'not removed';
Atomics.store(state, 0, 1);
for (; rounds < 2_000_000; rounds++) {
  for (let i = 0; i < 8; i++) q.read(4096 * i, buf);
  try {
    q.doIo(c, 8, 8);
  } catch (e) {
    if (!(e instanceof BlkioError) || e.code !== 'ENODEV') throw e;
    outcome = 'removed';
    break;
  }
  if (c.slice(0, 8).some((x) => x.ret !== 0)) throw new Error('a read failed');
}
parentPort!.postMessage({ outcome, rounds });
b.destroy();
