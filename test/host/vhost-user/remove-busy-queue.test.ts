// RemoveQueue(i) on the owner while a worker thread is
// inside doIo on queue i: refused with EBUSY (the queue is claimed for the
// whole call), never freed under the worker.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { BlkioError } from '../../../src/lib';
import { Qsd } from '../../support/qsd';
import { connectTo } from './helpers';

describe('virtio-blk-vhost-user queue removal during a worker\'s doIo', function () {
  this.timeout(60000);
  let qsd: Qsd;
  beforeEach(async () => {
    qsd = await Qsd.start({ numQueues: 2 });
  });
  afterEach(() => qsd.dispose());

  it('removeQueue is EBUSY while the worker waits in doIo, and succeeds after it returned', async () => {
    const b = connectTo(qsd, {}, { 'num-queues': 2 });
    b.start();
    const state = new Int32Array(new SharedArrayBuffer(8));
    const worker = new Worker(path.join(__dirname, 'stalled-worker.js'), {
      workerData: { handle: b.share(), index: 1, state },
    });
    const messages: string[] = [];
    let onMessage: () => void = () => {};
    worker.on('message', (m: string) => {
      messages.push(m);
      onMessage();
    });
    const failed = new Promise<never>((_, reject) => worker.once('error', reject));
    const next = (count: number) =>
      Promise.race([
        failed,
        new Promise<void>((resolve) => {
          onMessage = () => messages.length >= count && resolve();
          onMessage();
        }),
      ]);
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    try {
      await next(1); // region mapped
      await qsd.kill('SIGSTOP');
      Atomics.store(state, 1, 1);
      Atomics.notify(state, 1);
      while (Atomics.load(state, 0) === 0) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 200)); // the worker is blocked in doIo by now
      assert.throws(
        () => b.removeQueue(1),
        (e: unknown) => e instanceof BlkioError && e.code === 'EBUSY',
      );
    } finally {
      await qsd.kill('SIGCONT');
    }
    await next(2);
    assert.equal(messages[1], 'ret 0');
    assert.equal(await exited, 0);
    b.removeQueue(1);
    assert.equal(b.getQueue(1), null);
    b.destroy();
  });
});
