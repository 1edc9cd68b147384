// virtio-blk-vfio-pci when the device is reset behind the driver's back
// (another program writing its status register through sysfs): requests
// stay in flight, do_io's timeout bounds the wait and loses nothing,
// destroy returns, and the next connect brings the device back. Guest only.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import { BlkioError, create, createCompletions } from '../../../src/lib';
import { startWithRegion } from '../../support/target';
import { bindToVfio, VFIO_BDF, VFIO_DRIVER, vfioDevicePresent, writeThroughVfio } from '../../support/vfio-target';

// QEMU's virtio-pci puts the common configuration at the start of BAR 4;
// device_status is its byte 20. Writing 0 resets the device.
const RESET_SCRIPT = `
import mmap, os
fd = os.open('/sys/bus/pci/devices/${VFIO_BDF}/resource4', os.O_RDWR | os.O_SYNC)
m = mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
m[20] = 0
`;

if (process.env.BLKIO_IN_VM === '1') {
  describe('virtio-blk-vfio-pci: a device reset under the driver', function () {
    this.timeout(120000);
    let devicePath: string;

    before(async () => {
      assert.ok(vfioDevicePresent(), `no PCI device ${VFIO_BDF} in the guest`);
      devicePath = await bindToVfio();
    });

    it('requests time out instead of hanging, destroy returns, and a new connect works', () => {
      const data = crypto.randomBytes(4096);
      writeThroughVfio(devicePath, 8192, data);

      const b = create(VFIO_DRIVER);
      b.setStr('path', devicePath);
      b.connect();
      const s = startWithRegion(b);
      execFileSync('python3', ['-c', RESET_SCRIPT]);
      for (let i = 0; i < 8; i++) s.q.read(i * 4096, s.view(i * 4096, 4096), i);
      const c = createCompletions(8);
      assert.throws(() => s.q.doIo(c, 8, 8, 1e9), (e: BlkioError) => e.code === 'ETIME');
      const started = Date.now();
      b.destroy();
      assert.ok(Date.now() - started < 30000, 'destroy returned within its bound');

      const again = startWithRegion((() => {
        const n = create(VFIO_DRIVER);
        n.setStr('path', devicePath);
        n.connect();
        return n;
      })());
      try {
        again.q.read(8192, again.view(0, 4096));
        assert.equal(again.complete(1)[0].ret, 0);
        assert.ok(Buffer.from(again.view(0, 4096)).equals(data));
      } finally {
        again.b.destroy();
      }
    });
  });
}
