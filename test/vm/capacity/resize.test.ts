// Live capacity in the test guest: a VDUSE device served by
// qemu-storage-daemon, resized with block_resize through the daemon's QMP
// monitor while vhost-vdpa has it open (the daemon updates the VDUSE config
// space; "capacity" re-reads it with VHOST_VDPA_GET_CONFIG), and
// nvme-io_uring re-reading Identify Namespace on every read. Guest only.
//
// QEMU's emulated NVMe cannot be resized (its namespace size is fixed when
// the device is realized), so the NVMe resize runs on the kernel's own NVMe
// target over TCP on loopback, whose file-backed namespace can grow.
import * as assert from 'node:assert/strict';
import { create } from '../../../src/lib';
import { completeOk, complete } from '../../support/completions';
import { findNvmeNamespace, NVME_DRIVER } from '../../support/nvme-target';
import { NvmetTcpNamespace } from '../../support/nvmet-target';
import { qmpCommand } from '../../support/qmp-command';
import { DRIVER, inVm, VduseExport } from '../../support/vdpa-targets';

const MiB = 1 << 20;

if (inVm) {
  describe('capacity follows a resized device in the guest', function () {
    this.timeout(120000);

    it('vhost-vdpa on VDUSE: block_resize while open grows and shrinks capacity and the request bound', async () => {
      const e = await VduseExport.start({ name: 'vduse-resize', format: 'raw', size: 4 * MiB });
      const b = create(DRIVER);
      try {
        b.setStr('path', e.devicePath);
        b.connect();
        b.start();
        const region = b.allocMemRegion(64 * 1024);
        b.mapMemRegion(region);
        const q = b.getQueue(0)!;
        const buf = new Uint8Array(region.buffer, 0, 4096);
        assert.equal(b.getUint64('capacity'), BigInt(4 * MiB));

        await qmpCommand(e.qmpSocket, 'block_resize', { 'node-name': 'file0', size: 8 * MiB });
        assert.equal(b.getUint64('capacity'), BigInt(8 * MiB));
        buf.fill(0x5d);
        q.write(8 * MiB - 4096, buf);
        completeOk(q, 1);

        await qmpCommand(e.qmpSocket, 'block_resize', { 'node-name': 'file0', size: 2 * MiB });
        assert.equal(b.getUint64('capacity'), BigInt(2 * MiB));
        q.read(2 * MiB, buf);
        assert.equal(complete(q, 1)[0].ret, -22, 'a read past the new end fails with EINVAL');
      } finally {
        b.destroy();
        await e.dispose();
      }
    });

    it('nvme-io_uring on an NVMe/TCP namespace: a resize by the target is seen by the next capacity read', async () => {
      const ns = await NvmetTcpNamespace.start({ nqn: 'nqn.2014-08.org.blkio:capacity', portId: 19, serviceId: 4519, size: 4 * MiB });
      const b = create(NVME_DRIVER);
      try {
        b.setStr('path', ns.charDevice);
        b.connect();
        b.start();
        assert.equal(b.getUint64('capacity'), BigInt(4 * MiB));
        ns.resize(8 * MiB);
        assert.equal(b.getUint64('capacity'), BigInt(8 * MiB));
        const region = b.allocMemRegion(64 * 1024);
        b.mapMemRegion(region);
        const q = b.getQueue(0)!;
        const buf = new Uint8Array(region.buffer, 0, 4096).fill(0x6b);
        q.write(8 * MiB - 4096, buf);
        completeOk(q, 1);
      } finally {
        b.destroy();
        ns.dispose();
      }
    });

    it("nvme-io_uring on QEMU's NVMe: each capacity read asks the namespace again (Identify) and gets its size", () => {
      const ns = findNvmeNamespace();
      assert.ok(ns, 'no NVMe controller with serial blkio-nvme0 in the guest');
      const b = create(NVME_DRIVER);
      try {
        b.setStr('path', ns.charDevice);
        b.connect();
        for (let i = 0; i < 3; i++) assert.equal(b.getUint64('capacity'), BigInt(ns.capacity));
      } finally {
        b.destroy();
      }
    });
  });
}
