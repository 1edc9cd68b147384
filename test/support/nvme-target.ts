// The test guest's emulated NVMe controller (QEMU -device nvme, serial
// blkio-nvme0, from test/vm/run-in-vm.sh) as a target of the nvme-io_uring
// driver. Data is read and written outside the driver through the
// namespace's block device with O_DIRECT (dd), which bypasses the page cache
// that passthrough commands do not update.
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { Target, TargetInstance } from './target';

export const NVME_DRIVER = 'nvme-io_uring';
export const NVME_SERIAL = 'blkio-nvme0';
/** Where the guest test leaves data for the host to check in the image (see vm.test.ts). */
export const NVME_MARKER_OFFSET = 32 << 20;

export interface NvmeNamespace {
  /** The generic char device, e.g. /dev/ng0n1. */
  charDevice: string;
  /** The block device of the same namespace, e.g. /dev/nvme0n1. */
  blockDevice: string;
  capacity: number;
}

/** Namespace 1 of the controller with our serial, if this machine has it. */
export function findNvmeNamespace(serial = NVME_SERIAL): NvmeNamespace | undefined {
  const dir = '/sys/class/nvme';
  if (!fs.existsSync(dir)) return undefined;
  for (const ctrl of fs.readdirSync(dir)) {
    let s = '';
    try {
      s = fs.readFileSync(`${dir}/${ctrl}/serial`, 'utf8').trim();
    } catch {
      continue;
    }
    if (s !== serial) continue;
    const n = ctrl.replace(/^nvme/, '');
    const block = `/dev/nvme${n}n1`;
    const sizeFile = `/sys/block/nvme${n}n1/size`;
    const sectors = fs.existsSync(sizeFile) ? Number(fs.readFileSync(sizeFile, 'utf8')) : 0;
    return { charDevice: `/dev/ng${n}n1`, blockDevice: block, capacity: sectors * 512 };
  }
  return undefined;
}

/** Reads bytes of a block device with O_DIRECT (offset and length multiples of 512). */
export function readDirect(device: string, offset: number, length: number): Buffer {
  return execFileSync('dd', [`if=${device}`, 'iflag=direct,skip_bytes,count_bytes', `skip=${offset}`, `count=${length}`, 'bs=64K', 'status=none'], {
    maxBuffer: length + 1024,
  });
}

/** Writes bytes to a block device with O_DIRECT and waits for them to be stable. */
export function writeDirect(device: string, offset: number, data: Buffer): void {
  execFileSync('dd', [`of=${device}`, 'oflag=direct,seek_bytes,dsync', 'iflag=fullblock', `seek=${offset}`, 'bs=64K', 'status=none'], {
    input: data,
  });
}

// The start of every target holds random data (the shared suite checks
// that writes of zeros leave their neighbours alone).
const RANDOM_PREFIX = 256 << 10;

export function nvmeTarget(ns: NvmeNamespace): Target {
  return {
    driver: NVME_DRIVER,
    description: `QEMU's emulated NVMe (${ns.charDevice})`,
    async setup(): Promise<TargetInstance> {
      writeDirect(ns.blockDevice, 0, crypto.randomBytes(RANDOM_PREFIX));
      return {
        path: ns.charDevice,
        capacity: ns.capacity,
        readOutside: async (offset, length) => readDirect(ns.blockDevice, offset, length),
        teardown: async () => {},
      };
    },
  };
}
