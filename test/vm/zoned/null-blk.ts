// A zoned null_blk device made through configfs (the guest kernel has
// null_blk, zoned block devices and configfs built in), memory-backed so
// that data written can be read back.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const CONFIGFS = '/sys/kernel/config';
const NULLB = path.join(CONFIGFS, 'nullb');

export interface ZonedNullBlkSpec {
  /** Zone size in MiB. */
  zoneSizeMiB: number;
  /** Number of zones (device size = zones × zone size). */
  zones: number;
  /** Conventional zones at the start of the device. */
  conventional: number;
  /** 0: no limit. */
  maxOpen: number;
  /** 0: no limit. */
  maxActive: number;
  blockSize: number;
}

export interface ZonedNullBlk {
  name: string;
  /** /dev/<name> (or /dev/nullbN on kernels before 6.0) */
  path: string;
  remove(): void;
}

function mountConfigfs(): void {
  if (fs.existsSync(NULLB)) return;
  execFileSync('mount', ['-t', 'configfs', 'configfs', CONFIGFS]);
  if (!fs.existsSync(NULLB))
    throw new Error(`${NULLB} is missing after mounting configfs: the guest kernel needs CONFIG_BLK_DEV_NULL_BLK=y`);
}

/** Creates and powers on a zoned null_blk device named name. */
export function createZonedNullBlk(name: string, spec: ZonedNullBlkSpec): ZonedNullBlk {
  mountConfigfs();
  const dir = path.join(NULLB, name);
  if (fs.existsSync(dir)) removeDir(dir);
  fs.mkdirSync(dir);
  const set = (attr: string, value: number) => fs.writeFileSync(path.join(dir, attr), `${value}\n`);
  set('blocksize', spec.blockSize);
  set('size', spec.zoneSizeMiB * spec.zones); // MiB
  set('memory_backed', 1);
  set('zoned', 1);
  set('zone_size', spec.zoneSizeMiB);
  set('zone_nr_conv', spec.conventional);
  set('zone_max_open', spec.maxOpen);
  set('zone_max_active', spec.maxActive);
  set('power', 1);
  // Linux 6.0 and later name the disk after the configfs directory; older
  // kernels call it nullb<index>.
  const index = fs.readFileSync(path.join(dir, 'index'), 'utf8').trim();
  const disk = fs.existsSync(`/sys/block/${name}`) ? name : `nullb${index}`;
  const devicePath = `/dev/${disk}`;
  if (!fs.existsSync(devicePath)) throw new Error(`${devicePath} did not appear after powering on ${dir}`);
  return { name, path: devicePath, remove: () => removeDir(dir) };
}

function removeDir(dir: string): void {
  try {
    fs.writeFileSync(path.join(dir, 'power'), '0\n');
  } catch {
    // already off
  }
  fs.rmdirSync(dir);
}
