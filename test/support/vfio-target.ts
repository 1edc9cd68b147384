// The test guest's modern virtio-blk-pci disk behind the emulated IOMMU
// (test/vm/run-in-vm.sh puts it at 0000:00:10.0) as a target of the
// virtio-blk-vfio-pci driver. While vfio-pci has it the kernel has no block
// device for it, so setup writes through the library and data is checked
// from outside by handing the device back to virtio-pci (see driver.test.ts)
// and on the host (vm.test.ts).
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { create, createCompletions } from '../../src/lib';
import { bindPciDriver } from '../../src/lib/pci';
import { Target, TargetInstance } from './target';

export const VFIO_DRIVER = 'virtio-blk-vfio-pci';
export const VFIO_BDF = '0000:00:10.0';
/** Where the guest test leaves data for the host to check in the image (see vm.test.ts). */
export const VFIO_MARKER_OFFSET = 40 << 20;

export function vfioDevicePresent(): boolean {
  return fs.existsSync(`/sys/bus/pci/devices/${VFIO_BDF}`);
}

/** Binds the disk to vfio-pci; resolves to its sysfs directory (the driver's path). */
export function bindToVfio(): Promise<string> {
  return bindPciDriver(VFIO_BDF, 'vfio-pci');
}

/** The disk's capacity from its config space, through the driver. */
export function vfioCapacity(devicePath: string): number {
  const b = create(VFIO_DRIVER);
  try {
    b.setStr('path', devicePath);
    b.connect();
    return Number(b.getUint64('capacity'));
  } finally {
    b.destroy();
  }
}

/** Writes `data` at `offset` through the library (setup helper). */
export function writeThroughVfio(devicePath: string, offset: number, data: Uint8Array, flags = 0): void {
  const b = create(VFIO_DRIVER);
  try {
    b.setStr('path', devicePath);
    b.connect();
    b.start();
    const region = b.allocMemRegion(Math.ceil(data.length / 4096) * 4096);
    b.mapMemRegion(region);
    new Uint8Array(region.buffer).set(data);
    const q = b.getQueue(0)!;
    q.write(offset, new Uint8Array(region.buffer, 0, data.length), null, flags);
    const c = createCompletions(1);
    q.doIo(c, 1, 1, 10e9);
    if (c[0].ret !== 0) throw new Error(`setup write failed: ${c[0].ret} ${c[0].errorMsg}`);
  } finally {
    b.destroy();
  }
}

/** The block device virtio_blk made for the disk (after bindPciDriver(VFIO_BDF, null)). */
export function virtioBlockDevice(): string | undefined {
  const dir = `/sys/bus/pci/devices/${VFIO_BDF}`;
  for (const entry of fs.readdirSync(dir)) {
    if (!entry.startsWith('virtio')) continue;
    const blockDir = path.join(dir, entry, 'block');
    if (fs.existsSync(blockDir)) {
      const names = fs.readdirSync(blockDir);
      if (names.length > 0) return `/dev/${names[0]}`;
    }
  }
  return undefined;
}

const RANDOM_PREFIX = 256 << 10;

export function vfioTarget(devicePath: string, capacity: number): Target {
  return {
    driver: VFIO_DRIVER,
    description: `QEMU's virtio-blk-pci behind an IOMMU (${VFIO_BDF})`,
    async setup(): Promise<TargetInstance> {
      writeThroughVfio(devicePath, 0, crypto.randomBytes(RANDOM_PREFIX));
      return { path: devicePath, capacity, teardown: async () => {} };
    },
  };
}
