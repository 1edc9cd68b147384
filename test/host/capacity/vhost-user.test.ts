// virtio-blk over vhost-user: "capacity" reads the backend's config space
// again (GET_CONFIG) each time, so a resized backend is seen while the device
// is open, and requests are bounded by the new size. A size no device could
// have is refused (EIO), and the last good one stays. Through the addon,
// libblkio.so.1 (koffi) and the Promise layer's size().
import * as assert from 'node:assert/strict';
import { Blkio, BlkioError, create, open } from '../../../src/lib';
import { expectCode } from '../../shared/behaviour';
import { complete } from '../../support/completions';
import { Qsd } from '../../support/qsd';
import { ADDON_AND_LIBRARY } from '../capi/support';
import { EvilBackend } from '../vhost-user/evil-backend/evil-backend';

const MiB = 1 << 20;

function startOn(socket: string, options: object) {
  const b = create('virtio-blk-vhost-user', options);
  b.setStr('path', socket);
  b.connect();
  b.start();
  const region = b.allocMemRegion(64 * 1024);
  b.mapMemRegion(region);
  return { b, q: b.getQueue(0)!, buf: new Uint8Array(region.buffer, 0, 4096) };
}

function sizeOnNewConnection(socket: string): bigint {
  const b: Blkio = create('virtio-blk-vhost-user');
  try {
    b.setStr('path', socket);
    b.connect();
    return b.getUint64('capacity');
  } finally {
    b.destroy();
  }
}

for (const { name, options } of ADDON_AND_LIBRARY) {
  describe(`capacity follows a resized vhost-user backend (${name})`, function () {
    this.timeout(60000);

    it('a backend whose config reports half the size later: capacity and the request bound follow', async () => {
      const backend = await EvilBackend.start('capacity-halves-later');
      const { b, q, buf } = startOn(backend.socket, options);
      try {
        assert.equal(b.getUint64('capacity'), BigInt(MiB / 2), 'connect read the config once; this read sees the resize');
        q.read(MiB / 2, buf);
        assert.equal(complete(q, 1)[0].ret, -22, 'a read past the new end fails with EINVAL');
        q.read(MiB / 2 - 4096, buf);
        assert.equal(complete(q, 1)[0].ret, 0);
      } finally {
        b.destroy();
        await backend.dispose();
      }
    });

    it('a backend reporting a capacity past 2^63 bytes later: EIO naming it, and the size seen last stays', async () => {
      const backend = await EvilBackend.start('capacity-max-later');
      const { b, q, buf } = startOn(backend.socket, options);
      try {
        expectCode(() => b.getUint64('capacity'), 'EIO', /capacity/);
        q.read(MiB, buf);
        assert.equal(complete(q, 1)[0].ret, -22, 'the size seen at connect still bounds requests');
      } finally {
        b.destroy();
        await backend.dispose();
      }
    });
  });
}

describe('capacity follows a qemu-storage-daemon image resized with block_resize', function () {
  this.timeout(60000);
  let qsd: Qsd;
  // The daemon's vhost-user-blk export updates its config on block_resize
  // from QEMU 8.0 on; 7.2 (Debian 12) keeps the size it was started with,
  // for every client. Probed once, from a new connection after a resize.
  let publishesResize = false;
  before(async () => {
    const probe = await Qsd.start({ size: MiB, random: false });
    try {
      await probe.resize(2 * MiB);
      publishesResize = sizeOnNewConnection(probe.socket) === BigInt(2 * MiB);
    } finally {
      await probe.dispose();
    }
  });
  beforeEach(async function () {
    if (!publishesResize) this.skip(); // this qemu-storage-daemon's export does not tell vhost-user clients about block_resize (QEMU < 8.0)
    qsd = await Qsd.start({ size: 4 * MiB, random: false });
  });
  afterEach(async () => qsd?.dispose());

  for (const { name, options } of ADDON_AND_LIBRARY) {
    it(`grown and shrunk while open: capacity and the request bound follow (${name})`, async () => {
      const { b, q, buf } = startOn(qsd.socket, options);
      try {
        assert.equal(b.getUint64('capacity'), BigInt(4 * MiB));
        await qsd.resize(8 * MiB);
        assert.equal(b.getUint64('capacity'), BigInt(8 * MiB));
        buf.fill(0xa5);
        q.write(8 * MiB - 4096, buf);
        assert.equal(complete(q, 1)[0].ret, 0, 'a write in the grown part succeeds');
        await qsd.resize(2 * MiB);
        assert.equal(b.getUint64('capacity'), BigInt(2 * MiB));
        q.read(2 * MiB, buf);
        assert.equal(complete(q, 1)[0].ret, -22, 'a read past the new end fails with EINVAL');
      } finally {
        b.destroy();
      }
    });
  }

  it('Device.size() reads the new size; capacity keeps the size at open', async () => {
    const dev = await open({ driver: 'virtio-blk-vhost-user', path: qsd.socket });
    try {
      await qsd.resize(6 * MiB);
      assert.equal(await dev.size(), BigInt(6 * MiB));
      assert.equal(dev.capacity, BigInt(4 * MiB));
    } finally {
      await dev.close();
    }
  });
});

describe('capacity reads and vhost-user reconnect', function () {
  this.timeout(60000);

  it('a daemon restarted with another block size is still refused after capacity was read', async () => {
    const qsd = await Qsd.start({ size: MiB, random: false });
    const dev = await open({ driver: 'virtio-blk-vhost-user', path: qsd.socket, reconnect: { timeoutMs: 1500 } });
    try {
      assert.equal(await dev.size(), BigInt(MiB), 'a capacity read (the capacity field alone)');
      await qsd.kill('SIGKILL');
      await qsd.restart({ logicalBlockSize: 4096 });
      await assert.rejects(dev.write(0, new Uint8Array(4096)), (e: unknown) => {
        assert.ok(e instanceof BlkioError);
        assert.equal(e.code, 'EIO');
        return true;
      });
    } finally {
      await dev.close();
      await qsd.dispose();
    }
  });
});
