/**
 * PCI driver binding, for the virtio-blk-vfio-pci driver: hand a device to
 * vfio-pci (and back to its kernel driver) as `driverctl set-override` does,
 * through sysfs (`driver_override`, `unbind`, `drivers_probe`). Needs root.
 */
import { constants } from 'node:os';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { BlkioError } from './errors';

const SYSFS_PCI = '/sys/bus/pci';
const BDF = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

/** The sysfs directory of a PCI device, e.g. `/sys/bus/pci/devices/0000:00:04.0`. */
export function pciDevicePath(bdf: string): string {
  if (typeof bdf !== 'string' || !BDF.test(bdf)) {
    throw new BlkioError(`'${String(bdf)}' is not a PCI address like 0000:00:04.0 (domain:bus:slot.function, lower-case hex)`, constants.errno.EINVAL);
  }
  return path.join(SYSFS_PCI, 'devices', bdf);
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

async function writeSysfs(file: string, value: string): Promise<void> {
  try {
    await fs.writeFile(file, value);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    throw new BlkioError(`writing '${value}' to ${file} failed: ${e.message}`, (e.errno ?? -constants.errno.EIO) as number);
  }
}

/** The driver a PCI device is bound to, or undefined. */
export async function getPciDriver(bdf: string): Promise<string | undefined> {
  const dir = pciDevicePath(bdf);
  if (!(await exists(dir))) throw new BlkioError(`no PCI device ${bdf} (${dir})`, constants.errno.ENOENT);
  try {
    return path.basename(await fs.readlink(path.join(dir, 'driver')));
  } catch {
    return undefined;
  }
}

/** The VFIO group device of a PCI device (`/dev/vfio/N`), or undefined without an IOMMU group. */
export async function vfioGroupPath(bdf: string): Promise<string | undefined> {
  try {
    return path.join('/dev/vfio', path.basename(await fs.readlink(path.join(pciDevicePath(bdf), 'iommu_group'))));
  } catch {
    return undefined;
  }
}

/**
 * Binds a PCI device to `driver` (e.g. 'vfio-pci'), unbinding it from its
 * current driver first, and makes the choice stick for later probes
 * (driver_override). `null` clears the override and lets the kernel pick the
 * device's own driver again. Resolves to the device's sysfs directory, the
 * `path` the virtio-blk-vfio-pci driver takes.
 */
export async function bindPciDriver(bdf: string, driver: string | null): Promise<string> {
  const dir = pciDevicePath(bdf);
  if (driver !== null && (typeof driver !== 'string' || !/^[\w.-]+$/.test(driver))) {
    throw new BlkioError(`'${String(driver)}' is not a PCI driver name`, constants.errno.EINVAL);
  }
  const current = await getPciDriver(bdf);
  if (driver !== null) {
    const driverDir = path.join(SYSFS_PCI, 'drivers', driver);
    if (!(await exists(driverDir))) {
      const hint = driver === 'vfio-pci' ? ' (is CONFIG_VFIO_PCI enabled or the vfio-pci module loaded?)' : '';
      throw new BlkioError(`PCI driver ${driver} is not available: no ${driverDir}${hint}`, constants.errno.ENOENT);
    }
    if (driver === 'vfio-pci' && (await vfioGroupPath(bdf)) === undefined) {
      throw new BlkioError(`PCI device ${bdf} has no IOMMU group, so vfio-pci cannot take it (enable an IOMMU, e.g. intel_iommu=on)`, constants.errno.ENODEV);
    }
  }
  if (driver !== null && current === driver) return dir;
  await writeSysfs(path.join(dir, 'driver_override'), driver ?? '\n');
  if (current !== undefined) await writeSysfs(path.join(dir, 'driver', 'unbind'), bdf);
  await writeSysfs(path.join(SYSFS_PCI, 'drivers_probe'), bdf);
  const now = await getPciDriver(bdf);
  if (driver !== null && now !== driver) {
    throw new BlkioError(`PCI device ${bdf} did not bind to ${driver} (it is bound to ${now ?? 'no driver'}; see the kernel log)`, constants.errno.EIO);
  }
  if (driver === 'vfio-pci') {
    const group = (await vfioGroupPath(bdf))!;
    // devtmpfs creates the node during the bind; with udev it can lag a little.
    for (let waitedMs = 0; !(await exists(group)); waitedMs += 20) {
      if (waitedMs >= 5000) throw new BlkioError(`${group} did not appear within 5 s of binding ${bdf} to vfio-pci`, constants.errno.ETIMEDOUT);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  return dir;
}
