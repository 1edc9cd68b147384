// The shared libblkio behaviour suite on virtio-blk-vfio-pci, in the test
// guest: QEMU's virtio-blk-pci disk bound to vfio-pci. Guest only.
import * as assert from 'node:assert/strict';
import { describeBehaviour } from '../../shared/behaviour';
import { Target } from '../../support/target';
import { bindToVfio, vfioCapacity, vfioDevicePresent, vfioTarget, VFIO_BDF } from '../../support/vfio-target';

if (process.env.BLKIO_IN_VM === '1') {
  // The device path and capacity are known once the device is bound, which
  // happens in a hook; the suite itself is defined now, on a forwarding target.
  let inner: Target | undefined;
  const target: Target = {
    driver: 'virtio-blk-vfio-pci',
    description: `QEMU's virtio-blk-pci behind an IOMMU (${VFIO_BDF})`,
    setup: (opts) => {
      assert.ok(inner, 'the device was not bound to vfio-pci (see the before hook)');
      return inner.setup(opts);
    },
  };
  describe('virtio-blk-vfio-pci setup', () => {
    before(async function () {
      this.timeout(60000);
      assert.ok(vfioDevicePresent(), `no PCI device ${VFIO_BDF} in the guest (run-in-vm.sh adds it)`);
      const path = await bindToVfio();
      inner = vfioTarget(path, vfioCapacity(path));
    });
    it('binds the disk to vfio-pci', () => assert.ok(inner));
  });
  describeBehaviour(target);
}
