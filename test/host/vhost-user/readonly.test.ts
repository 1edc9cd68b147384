// A read-only export (writable=off): the device offers VIRTIO_BLK_F_RO.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { open } from '../../../src/lib';
import { expectCode } from '../../shared/behaviour';
import { readFileRange } from '../../support/files';
import { Qsd } from '../../support/qsd';
import { complete, completeOk, connectTo, KiB, startDevice } from './helpers';
import { DRIVER } from './target';

describe('virtio-blk-vhost-user on a read-only export', function () {
  this.timeout(30000);
  let qsd: Qsd;
  beforeEach(async () => {
    qsd = await Qsd.start({ writable: false });
  });
  afterEach(() => qsd.dispose());

  it('start without read-only fails with EROFS', () => {
    const b = connectTo(qsd);
    expectCode(() => b.start(), 'EROFS', /read-only/);
    b.destroy();
  });

  it('with read-only=true reads and flushes work; writes, write-zeroes and discards fail with EBADF', async () => {
    const before = fs.readFileSync(qsd.image);
    const dev = startDevice(connectTo(qsd, { 'read-only': true }));
    const q = dev.queue(0);
    q.read(64 * KiB, dev.view(0, 16 * KiB), 'read');
    q.readv(0, [dev.view(16 * KiB, 4 * KiB), dev.view(32 * KiB, 4 * KiB)], 'readv');
    q.flush('flush');
    completeOk(q, 3);
    assert.ok(Buffer.from(dev.view(0, 16 * KiB)).equals(readFileRange(qsd.image, 64 * KiB, 16 * KiB)));
    q.write(0, dev.view(0, 4 * KiB), 'write');
    q.writev(0, [dev.view(0, 4 * KiB)], 'writev');
    q.writeZeroes(0, 4 * KiB, 'writeZeroes');
    q.discard(0, 4 * KiB, 'discard');
    for (const c of complete(q, 4)) {
      assert.equal(c.ret, -9, `${String(c.userData)} fails with EBADF`);
      assert.equal(c.errorMsg, 'device is read-only');
    }
    dev.b.destroy();
    await qsd.stop();
    assert.ok(fs.readFileSync(qsd.image).equals(before), 'the image is unchanged');
  });

  it('the Promise layer opens it with readOnly and rejects writes', async () => {
    await assert.rejects(open({ driver: DRIVER, path: qsd.socket }), (e: Error & { code?: string }) => e.code === 'EROFS');
    const d = await open({ driver: DRIVER, path: qsd.socket, readOnly: true });
    assert.equal((await d.read({ buffer: Buffer.alloc(4096), position: 0 })).bytesRead, 4096);
    await assert.rejects(d.write(new Uint8Array(4096), { position: 0 }), (e: Error & { code?: string }) => e.code === 'EBADF');
    await d.close();
  });
});
