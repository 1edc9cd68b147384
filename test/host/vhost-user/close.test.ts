import * as assert from 'node:assert/strict';
import { BlkioError, open } from '../../../src/lib';
import { Qsd } from '../../support/qsd';

describe('Promise layer close() on a device that stops answering', function () {
  this.timeout(30000);
  let qsd: Qsd;
  beforeEach(async () => (qsd = await Qsd.start()));
  afterEach(async () => qsd.dispose());

  it('rejects the requests still in flight with ETIME after the timeout, and returns', async () => {
    const dev = await open({ driver: 'virtio-blk-vhost-user', path: qsd.socket });
    await dev.read({ buffer: Buffer.alloc(4096), position: 0 }); // the device works
    await qsd.kill('SIGSTOP'); // alive but silent: no disconnect to notice
    const reads = Array.from({ length: 8 }, (_, i) => dev.read({ buffer: Buffer.alloc(4096), position: i * 4096 }));
    const settled = Promise.allSettled(reads);
    // That close() returns is enough here (the suite's timeout bounds it);
    // test/host/promise/close.test.ts measures that it never blocks the loop.
    await dev.close({ timeoutMs: 500 });
    for (const r of await settled) {
      assert.equal(r.status, 'rejected');
      const e = (r as PromiseRejectedResult).reason as BlkioError;
      assert.equal(e.code, 'ETIME');
      assert.match(e.message, /close\(\)/);
    }
    await qsd.kill('SIGCONT');
  });
});
