import * as assert from 'node:assert/strict';
import { create } from '../../../src/lib';
import { expectCode } from '../../shared/behaviour';
import { Qsd } from '../../support/qsd';
import { connectTo, MiB } from './helpers';
import { DRIVER } from './target';

describe('virtio-blk-vhost-user properties', function () {
  this.timeout(30000);
  let qsd: Qsd | undefined;
  afterEach(async () => {
    await qsd?.dispose();
    qsd = undefined;
  });

  it('reports libblkio’s virtio-blk values for a qemu-storage-daemon export', async () => {
    qsd = await Qsd.start({ size: 32 * MiB, numQueues: 3 });
    const b = connectTo(qsd);
    const expected: Record<string, string> = {
      driver: DRIVER,
      capacity: String(32 * MiB),
      'max-queues': '3',
      'num-queues': '1',
      'num-poll-queues': '0',
      'can-add-queues': 'false',
      'supports-poll-queues': 'true',
      'needs-mem-regions': 'true',
      'needs-mem-region-fd': 'true',
      'may-pin-mem-regions': 'true',
      'mem-region-alignment': '1',
      // qsd has 32 memory slots; the rings take one.
      'max-mem-regions': '31',
      'request-alignment': '512',
      'buf-alignment': '1',
      'optimal-buf-alignment': '1',
      'can-grow': 'false',
      'supports-fua-natively': 'false',
      // qsd: seg_max 126, SIZE_MAX offered with size_max 0 (no limit).
      'max-segments': '126',
      'max-segment-len': '0',
      'max-transfer': '0',
      // 32768 sectors each.
      'max-discard-len': String(16 * MiB),
      'max-write-zeroes-len': String(16 * MiB),
      'discard-alignment': '512',
      'discard-alignment-offset': '0',
      // CONFIG_WCE with writeback 0.
      'flush-needed': 'false',
      'queue-size': '256',
      'max-queue-size': '32768',
      fd: '-1',
      'read-only': 'false',
    };
    for (const [name, value] of Object.entries(expected)) assert.equal(b.getStr(name), value, name);
    b.destroy();
  });

  it('a 4 KiB logical block size sets the request alignment', async () => {
    qsd = await Qsd.start({ logicalBlockSize: 4096 });
    const b = connectTo(qsd);
    assert.equal(b.getInt('request-alignment'), 4096);
    assert.equal(b.getInt('optimal-io-alignment'), 4096);
    assert.equal(b.getInt('discard-alignment'), 4096);
    b.destroy();
  });

  it('queue-size must be a power of two in 1..32768 and is settable only while connected', async () => {
    qsd = await Qsd.start();
    const fresh = create(DRIVER);
    expectCode(() => fresh.setInt('queue-size', 64), 'ENODEV');
    fresh.destroy();
    const b = connectTo(qsd);
    for (const bad of [0, -1, 3, 100, 65536]) expectCode(() => b.setInt('queue-size', bad), 'EINVAL', /power of two/);
    assert.equal(b.getInt('queue-size'), 256);
    b.setInt('queue-size', 1024);
    assert.equal(b.getInt('queue-size'), 1024);
    expectCode(() => b.setInt('max-queue-size', 1), 'EACCES');
    b.start();
    expectCode(() => b.setInt('queue-size', 64), 'EBUSY');
    b.destroy();
  });

  it('fd is not supported on vhost-user (ENOENT) and reads as -1', () => {
    const b = create(DRIVER);
    assert.equal(b.getInt('fd'), -1);
    expectCode(() => b.setInt('fd', 3), 'ENOENT', /fd property not supported/);
    b.destroy();
  });

  it('connect without a path fails with EINVAL', () => {
    const b = create(DRIVER);
    expectCode(() => b.connect(), 'EINVAL', /path/);
    b.destroy();
  });

  it('zero queues are refused because queues cannot be added', async () => {
    qsd = await Qsd.start();
    const b = connectTo(qsd, {}, { 'num-queues': 0 });
    expectCode(() => b.start(), 'EINVAL');
    expectCode(() => b.addQueue(), 'ENOTSUP');
    b.destroy();
  });
});
