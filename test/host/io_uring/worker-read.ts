// Worker side of the attach() test: reads 4 KiB at 8192 through its queue.
import { parentPort, workerData } from 'node:worker_threads';
import { attach, createCompletions } from '../../../src/lib';

const b = attach(workerData.handle);
const q = b.getQueue(workerData.index)!;
const region = b.allocMemRegion(4096);
b.mapMemRegion(region);
const buf = new Uint8Array(region.buffer);
q.read(8192, buf);
const c = createCompletions(1);
q.doIo(c, 1, 1);
if (c[0].ret !== 0) throw new Error(`read failed: ${c[0].ret} ${c[0].errorMsg}`);
parentPort!.postMessage(buf.slice());
b.unmapMemRegion(region);
b.freeMemRegion(region);
b.destroy();
