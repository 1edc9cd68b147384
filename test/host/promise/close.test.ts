// Device.close(): never blocks the event loop, and refuses requests issued
// after it was called.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { BlkioError, open } from '../../../src/lib';
import { randomFile, tempDir } from '../../support/files';
import { Qsd } from '../../support/qsd';
import { LAG_LIMIT_MS, LoopLag } from './loop-lag';

describe('Device.close()', function () {
  this.timeout(60_000);

  describe('on a stalled vhost-user device', () => {
    let qsd: Qsd;
    beforeEach(async () => (qsd = await Qsd.start()));
    afterEach(async () => qsd.dispose());

    it('never blocks the event loop while the device is released', async () => {
      const dev = await open({ driver: 'virtio-blk-vhost-user', path: qsd.socket });
      await dev.read({ buffer: Buffer.alloc(4096), position: 0 }); // the device works
      await qsd.kill('SIGSTOP'); // alive but silent: nothing to notice
      const reads = Promise.allSettled(Array.from({ length: 8 }, (_, i) => dev.read({ buffer: Buffer.alloc(4096), position: i * 4096 })));
      const lag = new LoopLag();
      await dev.close({ timeoutMs: 500 });
      const maxLag = lag.stop();
      await qsd.kill('SIGCONT');
      for (const r of await reads) assert.equal(r.status, 'rejected');
      assert.ok(maxLag < LAG_LIMIT_MS, `the event loop stalled for ${maxLag.toFixed(0)} ms during close()`);
    });

    it('makes the Blkio unusable as soon as the device is being released', async () => {
      const dev = await open({ driver: 'virtio-blk-vhost-user', path: qsd.socket });
      await dev.read({ buffer: Buffer.alloc(4096), position: 0 });
      await qsd.kill('SIGSTOP');
      const read = dev.read({ buffer: Buffer.alloc(4096), position: 0 }).catch((e: unknown) => e);
      const closing = dev.close({ timeoutMs: 100 });
      await read; // rejected at the timeout, right before the device is released
      await new Promise((resolve) => setImmediate(resolve));
      assert.throws(() => dev.blkio.getInt('request-alignment'), (e: BlkioError) => e.code === 'ENODEV');
      await qsd.kill('SIGCONT');
      await closing;
    });
  });

  describe('on a file', () => {
    let dir: string;
    let disk: string;
    before(() => {
      dir = tempDir('blkio-close-');
      disk = randomFile(1 << 20, dir);
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('rejects requests issued after close() in the same tick with ENODEV, and completes those issued before', async () => {
      const dev = await open({ driver: 'io_uring', path: disk });
      const before = dev.read({ buffer: Buffer.alloc(4096), position: 0 });
      const closing = dev.close();
      const after = [dev.read({ buffer: Buffer.alloc(4096), position: 0 }), dev.write(new Uint8Array(4096), { position: 0 }), dev.flush(), dev.discard(0, 4096)];
      for (const p of after) await assert.rejects(p, (e: BlkioError) => e instanceof BlkioError && e.code === 'ENODEV');
      assert.equal((await before).bytesRead, 4096);
      await closing;
    });

    it('rejects bounced requests issued after close() in the same tick with ENODEV', async () => {
      const dev = await open({ driver: 'io_uring', path: disk, direct: true });
      const unaligned = new Uint8Array(new ArrayBuffer(8192), 1, 4096); // needs the bounce pool under O_DIRECT
      const closing = dev.close();
      await assert.rejects(dev.read(unaligned, 0, 4096, 0), (e: BlkioError) => e instanceof BlkioError && e.code === 'ENODEV');
      await closing;
    });

    it('can be called again: later calls resolve once the first has finished', async () => {
      const dev = await open({ driver: 'io_uring', path: disk });
      await Promise.all([dev.close(), dev.close()]);
      await dev.close();
      assert.throws(() => dev.blkio.getInt('request-alignment'), (e: BlkioError) => e.code === 'ENODEV');
    });
  });
});
