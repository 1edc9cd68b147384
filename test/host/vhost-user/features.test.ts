// Devices without some features, emulated by withholding them from
// negotiation (BLKIO_VIRTIO_WITHHOLD_FEATURES, a test hook of the virtio-blk
// engine), and device-reported errors injected with a blkdebug node.
import * as assert from 'node:assert/strict';
import { REQ_FUA } from '../../../src/lib';
import { describeBehaviour } from '../../shared/behaviour';
import { Qsd } from '../../support/qsd';
import { complete, completeOk, connectTo, KiB, MiB, startDevice } from './helpers';
import { qsdTarget } from './target';

const HOOK = 'BLKIO_VIRTIO_WITHHOLD_FEATURES';

function withheld(bits: string, body: () => void): void {
  describe(`with feature bits ${bits} withheld`, () => {
    before(() => {
      process.env[HOOK] = bits;
    });
    after(() => {
      delete process.env[HOOK];
    });
    body();
  });
}

// 29 = VIRTIO_RING_F_EVENT_IDX: notification suppression by the flag fields
// (as on vdpa_sim_blk, which does not offer EVENT_IDX).
withheld('29', () => describeBehaviour(qsdTarget('raw')));

describe('virtio-blk-vhost-user without optional features', function () {
  this.timeout(30000);
  let qsd: Qsd | undefined;
  afterEach(async () => {
    delete process.env[HOOK];
    await qsd?.dispose();
    qsd = undefined;
  });

  it('no FLUSH, DISCARD or WRITE_ZEROES: flush succeeds at once, the others say ENOTSUP', async () => {
    qsd = await Qsd.start();
    process.env[HOOK] = '9,11,13,14'; // FLUSH, CONFIG_WCE, DISCARD, WRITE_ZEROES
    const dev = startDevice(connectTo(qsd));
    const b = dev.b;
    assert.equal(b.getBool('flush-needed'), false);
    assert.equal(b.getUint64('max-discard-len'), 0n);
    assert.equal(b.getUint64('max-write-zeroes-len'), 0n);
    const q = dev.queue(0);
    q.flush('flush');
    q.write(0, dev.view(0, 4 * KiB), 'fua write', REQ_FUA);
    q.discard(0, 4 * KiB, 'discard');
    q.writeZeroes(0, 4 * KiB, 'zeroes');
    for (const c of complete(q, 4)) {
      if (c.userData === 'discard') assert.deepEqual([c.ret, c.errorMsg], [-95, 'discard not supported']);
      else if (c.userData === 'zeroes') assert.deepEqual([c.ret, c.errorMsg], [-95, 'write zeroes not supported']);
      else assert.equal(c.ret, 0, `${String(c.userData)}: ${c.errorMsg}`);
    }
    b.destroy();
  });

  it('no MQ: one queue only', async () => {
    qsd = await Qsd.start({ numQueues: 4 });
    process.env[HOOK] = '12';
    const b = connectTo(qsd);
    assert.equal(b.getInt('max-queues'), 1);
    b.destroy();
  });
});

describe('virtio-blk-vhost-user with errors injected in the backend', function () {
  this.timeout(30000);
  let qsd: Qsd | undefined;
  afterEach(async () => {
    await qsd?.dispose();
    qsd = undefined;
  });

  it('a failed read or write completes with EIO and the device’s message; others succeed', async () => {
    // Sector 2048 = 1 MiB: reads and writes touching it fail with EIO.
    qsd = await Qsd.start({
      blkdebug: [
        'inject-error.0.event=read_aio,inject-error.0.errno=5,inject-error.0.sector=2048',
        'inject-error.1.event=write_aio,inject-error.1.errno=5,inject-error.1.sector=2048',
      ].join(','),
    });
    const dev = startDevice(connectTo(qsd));
    const q = dev.queue(0);
    q.read(0, dev.view(0, 4 * KiB), 'good read');
    q.read(MiB, dev.view(4 * KiB, 4 * KiB), 'bad read');
    q.write(2 * MiB, dev.view(8 * KiB, 4 * KiB), 'good write');
    q.write(MiB, dev.view(12 * KiB, 4 * KiB), 'bad write');
    for (const c of complete(q, 4)) {
      if (String(c.userData).startsWith('good')) assert.equal(c.ret, 0, c.errorMsg ?? '');
      else assert.deepEqual([c.ret, c.errorMsg], [-5, 'virtio-blk device reported an I/O error'], String(c.userData));
    }
    // The queue goes on working.
    q.read(2 * MiB, dev.view(0, 4 * KiB));
    completeOk(q, 1);
    dev.b.destroy();
  });

  it('a FUA write whose flush fails completes with EIO', async () => {
    qsd = await Qsd.start({ blkdebug: 'inject-error.0.event=flush_to_disk,inject-error.0.errno=5' });
    const dev = startDevice(connectTo(qsd));
    const q = dev.queue(0);
    q.write(0, dev.view(0, 4 * KiB), 'plain');
    completeOk(q, 1);
    q.write(0, dev.view(0, 4 * KiB), 'fua', REQ_FUA);
    const [c] = complete(q, 1);
    assert.equal(c.ret, -5, c.errorMsg ?? '');
    dev.b.destroy();
  });
});
