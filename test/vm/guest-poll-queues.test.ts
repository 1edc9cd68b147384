// io_uring poll queues (IORING_SETUP_IOPOLL) on the guest's /dev/vda, a
// virtio-blk disk booted with virtio_blk.poll_queues=1. Guest only.
import * as assert from 'node:assert/strict';
import { Blkio, create, createCompletions } from '../../src/lib';
import { expectCode } from '../shared/behaviour';

const POLL_DISK = '/dev/vda';

if (process.env.BLKIO_IN_VM === '1') {
  describe('io_uring poll queues on a polled virtio-blk disk', () => {
    let b: Blkio;
    beforeEach(() => {
      b = create('io_uring');
      b.setStr('path', POLL_DISK);
      b.setBool('direct', true);
      b.connect();
    });
    afterEach(() => b.destroy());

    it('the disk supports poll queues with direct=true', () => {
      assert.equal(b.getBool('supports-poll-queues'), true);
    });

    it('a poll queue reads what a regular queue wrote', () => {
      b.setInt('num-poll-queues', 1);
      b.start();
      const region = b.allocMemRegion(1 << 16);
      b.mapMemRegion(region);
      const out = new Uint8Array(region.buffer, 0, 4096).fill(0x3c);
      const back = new Uint8Array(region.buffer, 4096, 4096);
      const c = createCompletions(4);
      const q = b.getQueue(0)!;
      q.write(8192, out);
      assert.equal(q.doIo(c, 1, 1, 10e9), 1);
      assert.equal(c[0].ret, 0, c[0].errorMsg ?? '');
      const pq = b.getPollQueue(0)!;
      pq.read(8192, back, 'polled');
      assert.equal(pq.doIo(c, 1, 1, 10e9), 1);
      assert.equal(c[0].ret, 0, c[0].errorMsg ?? '');
      assert.equal(c[0].userData, 'polled');
      assert.deepEqual(back, out);
    });

    it('a poll queue has no completion fd and refuses flush, discard and write zeroes', () => {
      b.setInt('num-queues', 0);
      b.setInt('num-poll-queues', 1);
      b.start();
      const pq = b.getPollQueue(0)!;
      assert.equal(pq.completionFd, -1);
      expectCode(() => pq.watchCompletions(() => {}), 'EINVAL', /completion fd/);
      pq.flush('f');
      pq.discard(0, 4096, 'd');
      pq.writeZeroes(0, 4096, 'z');
      const c = createCompletions(3);
      assert.equal(pq.doIo(c, 3, 3), 3);
      for (const x of c) {
        assert.equal(x.ret, -95);
        assert.equal(x.errorMsg, 'request not supported on poll queues for this driver');
      }
    });

    it('addPollQueue adds another polled queue', () => {
      b.setInt('num-poll-queues', 1);
      b.start();
      assert.equal(b.addPollQueue(), 1);
      assert.ok(b.getPollQueue(1));
    });
  });
}
