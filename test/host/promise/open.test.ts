// open() never blocks the event loop, even on a backend that does not answer.
import * as assert from 'node:assert/strict';
import { BlkioError, open } from '../../../src/lib';
import { Qsd } from '../../support/qsd';
import { LAG_LIMIT_MS, LoopLag } from './loop-lag';

describe('open() on a stalled vhost-user backend', function () {
  this.timeout(60_000);
  let qsd: Qsd;
  beforeEach(async () => (qsd = await Qsd.start()));
  afterEach(async () => qsd.dispose());

  it('rejects with ETIMEDOUT without blocking the event loop', async () => {
    await qsd.kill('SIGSTOP'); // accepts connections (the kernel does), never answers
    const lag = new LoopLag();
    await assert.rejects(
      open({ driver: 'virtio-blk-vhost-user', path: qsd.socket }),
      (e: unknown) => e instanceof BlkioError && e.code === 'ETIMEDOUT',
    );
    const maxLag = lag.stop();
    assert.ok(maxLag < LAG_LIMIT_MS, `the event loop stalled for ${maxLag.toFixed(0)} ms during open()`);
  });

  it('still opens a device that answers', async () => {
    const dev = await open({ driver: 'virtio-blk-vhost-user', path: qsd.socket });
    assert.equal((await dev.read(0, 4096)).length, 4096);
    await dev.close();
  });
});

describe('Device.size() on a stalled vhost-user backend', function () {
  this.timeout(60_000);
  let qsd: Qsd;
  beforeEach(async () => (qsd = await Qsd.start()));
  afterEach(async () => {
    await qsd.kill('SIGCONT');
    await qsd.dispose();
  });

  it('asks the device without blocking the event loop, and rejects with ETIMEDOUT', async () => {
    const dev = await open({ driver: 'virtio-blk-vhost-user', path: qsd.socket });
    assert.equal(await dev.size(), dev.capacity);
    await qsd.kill('SIGSTOP');
    const lag = new LoopLag();
    await assert.rejects(dev.size(), (e: unknown) => e instanceof BlkioError && e.code === 'ETIMEDOUT');
    const maxLag = lag.stop();
    assert.ok(maxLag < LAG_LIMIT_MS, `the event loop stalled for ${maxLag.toFixed(0)} ms during size()`);
    await qsd.kill('SIGCONT');
    await dev.close();
  });
});
