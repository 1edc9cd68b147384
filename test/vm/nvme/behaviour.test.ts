// The shared libblkio behaviour suite on nvme-io_uring, in the test guest:
// QEMU's emulated NVMe controller through /dev/ngXnY. Guest only.
import { describeBehaviour } from '../../shared/behaviour';
import { findNvmeNamespace, nvmeTarget } from '../../support/nvme-target';

if (process.env.BLKIO_IN_VM === '1') {
  const ns = findNvmeNamespace();
  if (ns) {
    describeBehaviour(nvmeTarget(ns));
  } else {
    describe('nvme-io_uring', () => {
      it('finds the guest NVMe controller', () => {
        throw new Error('no NVMe controller with serial blkio-nvme0 in the guest (run-in-vm.sh adds it)');
      });
    });
  }
}
