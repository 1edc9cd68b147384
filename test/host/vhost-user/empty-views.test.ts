// A zero-length view over a mapped region completes with 0
// on vhost-user, as on io_uring (it needs no memory, so no region check).
import * as assert from 'node:assert/strict';
import { Qsd } from '../../support/qsd';
import { complete, connectTo, startDevice } from './helpers';

describe('virtio-blk-vhost-user zero-length views', function () {
  this.timeout(60000);
  let qsd: Qsd;
  beforeEach(async () => {
    qsd = await Qsd.start();
  });
  afterEach(() => qsd.dispose());

  it('an empty read, write and readv over a mapped region complete with 0', () => {
    const dev = startDevice(connectTo(qsd));
    const q = dev.queue(0);
    q.read(0, dev.view(4096, 0), 'read');
    q.write(0, dev.view(0, 0), 'write');
    q.readv(0, [dev.view(0, 512), dev.view(512, 0)], 'readv');
    const got = complete(q, 3).map((c) => [c.userData, c.ret, c.errorMsg]);
    assert.deepEqual(got.sort(), [['read', 0, null], ['readv', 0, null], ['write', 0, null]]);
    dev.b.destroy();
  });
});
