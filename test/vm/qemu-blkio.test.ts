// QEMU's blkio block driver on this project's libblkio.so.1 in the test
// guest: qemu-io and qemu-img built on the host (build-qemu.sh; vm.test.ts
// passes their directory in BLKIO_QEMU_BLKIO_BIN, visible over the 9p root)
// on virtio-blk-vhost-vdpa (vdpa_sim_blk, VDUSE), nvme-io_uring and
// virtio-blk-vfio-pci. Each driver: what qemu-io writes is found from
// outside QEMU (the block device, the VDUSE export's file, or this library),
// and what is written from outside is what qemu-io reads. Guest only.
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { create, createCompletions } from '../../src/lib';
import { bindPciDriver, getPciDriver } from '../../src/lib/pci';
import { readFileRange } from '../support/files';
import { findNvmeNamespace, readDirect, writeDirect } from '../support/nvme-target';
import {
  describeRun, imageOpts, parseHexDump, QEMU_BIN_VARIABLE, qemuIo, resolvedLibblkio, runTool, ToolResult,
} from '../support/qemu-blkio';
import { BUILD_DIR } from '../support/paths';
import { writeThroughLibrary } from '../support/vdpa-targets';
import { bindToVfio, VFIO_BDF, vfioDevicePresent, virtioBlockDevice, writeThroughVfio } from '../support/vfio-target';

const KiB = 1024;
const MiB = 1024 * KiB;
// Past the markers other guest suites leave (32 MiB nvme, 40 MiB vfio).
const OFFSET = 48 * MiB;

function ok(r: ToolResult, what: string): void {
  assert.equal(r.status, 0, `${what}: ${describeRun(r)}`);
  assert.doesNotMatch(r.stdout + r.stderr, /failed|error/i, `${what}: ${describeRun(r)}`);
}

/** Reads through this library (for devices with no other way in). */
function readThroughLibrary(driver: string, devicePath: string, offset: number, length: number): Buffer {
  const b = create(driver);
  try {
    b.setStr('path', devicePath);
    b.connect();
    b.start();
    const region = b.allocMemRegion(Math.ceil(length / 4096) * 4096);
    b.mapMemRegion(region);
    const q = b.getQueue(0)!;
    const c = createCompletions(1);
    // 64 KiB requests: vdpa_sim_blk's queue has too few descriptors for 1 MiB.
    for (let at = 0; at < length; at += 64 * KiB) {
      q.read(offset + at, new Uint8Array(region.buffer, at, Math.min(64 * KiB, length - at)));
      q.doIo(c, 1, 1, 10e9);
      if (c[0].ret !== 0) throw new Error(`read failed: ${c[0].ret} ${c[0].errorMsg}`);
    }
    return Buffer.from(new Uint8Array(region.buffer, 0, length));
  } finally {
    b.destroy();
  }
}

interface GuestTarget {
  opts: Record<string, string>;
  writeOutside(offset: number, data: Buffer): void;
  readOutside(offset: number, length: number): Buffer;
}

if (process.env.BLKIO_IN_VM === '1') {
  describe('QEMU blkio block driver on libblkio.so.1 in the guest', function () {
    this.timeout(300_000);
    const bin = process.env[QEMU_BIN_VARIABLE] ?? '';

    /** The checks every driver gets, on a target set up by `setup`. */
    function dataChecks(setup: () => Promise<GuestTarget>): void {
      let t: GuestTarget;
      before(async () => {
        t = await setup();
      });

      it('qemu-io writes a pattern, reads it back, and it is there from outside', () => {
        ok(qemuIo(bin, t.opts, [`write -P 0x5a ${OFFSET} 256k`, `read -P 0x5a ${OFFSET} 256k`, 'flush']), 'qemu-io');
        assert.ok(t.readOutside(OFFSET, 256 * KiB).equals(Buffer.alloc(256 * KiB, 0x5a)));
      });

      it('qemu-io reads what was written from outside (read -v)', () => {
        const data = crypto.randomBytes(4 * KiB);
        t.writeOutside(OFFSET + MiB, data);
        const r = qemuIo(bin, t.opts, [`read -v ${OFFSET + MiB} 4k`]);
        ok(r, 'qemu-io');
        assert.ok(parseHexDump(r.stdout).equals(data));
      });

      it('qemu-io write -z and writev leave what the requests say', () => {
        const base = OFFSET + 2 * MiB;
        t.writeOutside(base, crypto.randomBytes(128 * KiB));
        ok(qemuIo(bin, t.opts, [`write -z ${base} 64k`, `writev -P 0x33 ${base + 64 * KiB} 4k 60k`, 'flush']), 'qemu-io');
        const got = t.readOutside(base, 128 * KiB);
        assert.ok(got.subarray(0, 64 * KiB).equals(Buffer.alloc(64 * KiB)), 'zeroes');
        assert.ok(got.subarray(64 * KiB).equals(Buffer.alloc(64 * KiB, 0x33)), 'writev');
      });

      it('qemu-img convert copies a range out through the driver, equal to what is there', () => {
        const copy = path.join(process.env.TMPDIR ?? '/tmp', `qemu-copy-${crypto.randomUUID()}.raw`);
        try {
          const r = runTool(bin, 'qemu-img', ['convert', '--image-opts', imageOpts(t.opts), '-O', 'raw', copy]);
          assert.equal(r.status, 0, describeRun(r));
          const fd = fs.openSync(copy, 'r');
          const got = Buffer.alloc(MiB);
          fs.readSync(fd, got, 0, MiB, OFFSET);
          fs.closeSync(fd);
          assert.ok(got.equals(t.readOutside(OFFSET, MiB)));
        } finally {
          fs.rmSync(copy, { force: true });
        }
      });
    }

    it('has the host-built qemu-io, readable over 9p, on this checkout\'s libblkio.so.1', () => {
      assert.ok(bin, `${QEMU_BIN_VARIABLE} is not set (vm.test.ts sets it from build-qemu.sh)`);
      fs.accessSync(path.join(bin, 'qemu-io'), fs.constants.X_OK);
      fs.accessSync(path.join(bin, 'qemu-img'), fs.constants.X_OK);
      assert.equal(resolvedLibblkio(bin), path.join(BUILD_DIR, 'libblkio.so.1'));
    });

    describe('virtio-blk-vhost-vdpa on vdpa_sim_blk', () => {
      dataChecks(async () => {
        const dev = process.env.BLKIO_VDPA_SIM;
        assert.ok(dev, 'guest-init made no vdpa_sim_blk device (BLKIO_VDPA_SIM)');
        return {
          opts: { driver: 'virtio-blk-vhost-vdpa', path: dev, 'cache.direct': 'on' },
          writeOutside: (offset, data) => writeThroughLibrary(dev, offset, data),
          readOutside: (offset, length) => readThroughLibrary('virtio-blk-vhost-vdpa', dev, offset, length),
        };
      });
    });

    describe('virtio-blk-vhost-vdpa on a VDUSE export (checked in its raw file)', () => {
      dataChecks(async () => {
        const dev = process.env.BLKIO_VDUSE_RAW;
        const file = process.env.BLKIO_VDUSE_RAW_FILE;
        assert.ok(dev && file, 'guest-init made no VDUSE raw device (BLKIO_VDUSE_RAW, _FILE)');
        return {
          opts: { driver: 'virtio-blk-vhost-vdpa', path: dev, 'cache.direct': 'on' },
          writeOutside: (offset, data) => writeThroughLibrary(dev, offset, data),
          readOutside: (offset, length) => readFileRange(file, offset, length),
        };
      });
    });

    describe('nvme-io_uring on the emulated NVMe (checked through /dev/nvmeXn1)', () => {
      dataChecks(async () => {
        const ns = findNvmeNamespace();
        assert.ok(ns, 'no NVMe namespace with the test serial in the guest');
        return {
          opts: { driver: 'nvme-io_uring', path: ns.charDevice, 'cache.direct': 'on' },
          writeOutside: (offset, data) => writeDirect(ns.blockDevice, offset, data),
          readOutside: (offset, length) => readDirect(ns.blockDevice, offset, length),
        };
      });
    });

    describe('virtio-blk-vfio-pci on the disk behind the IOMMU', () => {
      let devicePath = '';
      dataChecks(async () => {
        assert.ok(vfioDevicePresent(), `no PCI device ${VFIO_BDF} in the guest`);
        devicePath = await bindToVfio();
        return {
          opts: { driver: 'virtio-blk-vfio-pci', path: devicePath, 'cache.direct': 'on' },
          writeOutside: (offset, data) => writeThroughVfio(devicePath, offset, data),
          readOutside: (offset, length) => readThroughLibrary('virtio-blk-vfio-pci', devicePath, offset, length),
        };
      });

      it('what qemu-io wrote is on the disk once virtio_blk has it back', async () => {
        ok(qemuIo(bin, { driver: 'virtio-blk-vfio-pci', path: devicePath, 'cache.direct': 'on' },
          [`write -P 0xc3 ${OFFSET + 4 * MiB} 64k`, 'flush']), 'qemu-io');
        await bindPciDriver(VFIO_BDF, null);
        assert.equal(await getPciDriver(VFIO_BDF), 'virtio-pci');
        let dev: string | undefined;
        for (let waited = 0; !(dev = virtioBlockDevice()) || !fs.existsSync(dev); waited += 50) {
          assert.ok(waited < 10000, 'virtio_blk made no block device for the disk');
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.ok(readDirect(dev, OFFSET + 4 * MiB, 64 * KiB).equals(Buffer.alloc(64 * KiB, 0xc3)));
      });
    });
  });
}
