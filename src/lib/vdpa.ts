/**
 * vDPA device management: list management devices and devices, create and
 * delete devices, and choose which bus driver (vhost_vdpa or virtio_vdpa) a
 * device is bound to.
 *
 * Uses the iproute2 `vdpa` tool (Debian package iproute2) and the vdpa bus in
 * sysfs. Both need root (CAP_NET_ADMIN for the netlink commands, and write
 * access to /sys/bus/vdpa).
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/** The two vdpa bus drivers in mainline Linux. */
export type VdpaDriver = 'vhost_vdpa' | 'virtio_vdpa';

/** A vDPA management device: something that can create vDPA devices. */
export interface VdpaMgmtDevice {
  /** Name to pass as `mgmtdev`: "vdpasim_blk", "vduse", or "pci/0000:01:00.2". */
  name: string;
  /** Device classes it creates, e.g. ["block"] or ["net"]. */
  supportedClasses: string[];
  /** Largest number of virtqueues of a device it creates, when reported. */
  maxSupportedVqs?: number;
  /** The object `vdpa -j mgmtdev show` printed for it. */
  raw: Record<string, unknown>;
}

/** A vDPA device on the vdpa bus. */
export interface VdpaDevice {
  name: string;
  /** Device class: "block", "network", ... */
  type: string;
  /** Name of the management device that created it. */
  mgmtdev: string;
  vendorId?: number;
  maxVqs?: number;
  maxVqSize?: number;
  /** The object `vdpa -j dev show` printed for it. */
  raw: Record<string, unknown>;
}

/** A new vDPA device: its name and the management device that creates it (as `vdpa dev add`). */
export interface AddDeviceOptions {
  /** New device name. For VDUSE it must equal the name the VDUSE device was created with. */
  name: string;
  /** Management device, from listMgmtDevices(). */
  mgmtdev: string;
  /** Net devices only: MAC address. */
  mac?: string;
  /** Net devices only: MTU. */
  mtu?: number;
  /** Net devices only: number of virtqueue pairs. */
  maxVqp?: number;
}

/** An external command (the `vdpa` tool) failed. */
export class VdpaCommandError extends Error {
  constructor(
    readonly command: string,
    readonly stderr: string,
    readonly exitCode: number | string | null,
    options?: { cause?: unknown },
  ) {
    super(
      `${command} failed (exit ${exitCode ?? 'signal'})` + (stderr.trim() ? `: ${stderr.trim()}` : ''),
      options,
    );
    this.name = 'VdpaCommandError';
  }
}

const SYSFS_VDPA = '/sys/bus/vdpa';

// Debian puts vdpa in /usr/sbin, which is often not in a non-root PATH.
const VDPA_TOOL_CANDIDATES = ['vdpa', '/usr/sbin/vdpa', '/sbin/vdpa'];

function execFileAsync(
  file: string,
  args: string[],
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        reject(Object.assign(error, { stdout, stderr }));
      } else {
        resolve({ stdout, stderr });
      }
    });
  });
}

function errnoCode(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

async function runVdpa(args: string[]): Promise<string> {
  const command = `vdpa ${args.join(' ')}`;
  for (const tool of VDPA_TOOL_CANDIDATES) {
    try {
      return (await execFileAsync(tool, args)).stdout;
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') continue; // try the next location
      const e = error as Error & { stderr?: string; code?: number | string | null; signal?: string | null };
      throw new VdpaCommandError(command, e.stderr ?? e.message, e.code ?? e.signal ?? null, { cause: error });
    }
  }
  throw new VdpaCommandError(
    command,
    'the vdpa tool was not found (install the Debian package iproute2)',
    null,
  );
}

async function runVdpaJson(args: string[]): Promise<Record<string, unknown>> {
  const stdout = await runVdpa(['-j', ...args]);
  try {
    const parsed: unknown = JSON.parse(stdout.trim() === '' ? '{}' : stdout);
    if (isRecord(parsed)) return parsed;
  } catch {
    // reported below
  }
  throw new Error(`vdpa -j ${args.join(' ')} printed something that is not a JSON object: ${stdout.slice(0, 200)}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalNumber(value: unknown): number | undefined {
  return typeof value === 'number' ? value : undefined;
}

function validateName(name: string): void {
  if (name === '' || name.includes('/') || name === '.' || name === '..' || /\s/.test(name)) {
    throw new Error(`invalid vdpa device name ${JSON.stringify(name)}`);
  }
}

function deviceDir(name: string): string {
  validateName(name);
  return path.join(SYSFS_VDPA, 'devices', name);
}

async function writeSysfs(file: string, value: string): Promise<void> {
  try {
    await fs.writeFile(file, value);
  } catch (error) {
    throw new Error(`writing ${JSON.stringify(value)} to ${file} failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

/** Management devices (`vdpa -j mgmtdev show`). */
export async function listMgmtDevices(): Promise<VdpaMgmtDevice[]> {
  const json = await runVdpaJson(['mgmtdev', 'show']);
  const table = isRecord(json.mgmtdev) ? json.mgmtdev : {};
  return Object.entries(table).map(([name, value]) => {
    const raw = isRecord(value) ? value : {};
    const classes = raw.supported_classes;
    return {
      name,
      supportedClasses: Array.isArray(classes) ? classes.map(String) : [],
      maxSupportedVqs: optionalNumber(raw.max_supported_vqs),
      raw,
    };
  });
}

function toDevice(name: string, value: unknown): VdpaDevice {
  const raw = isRecord(value) ? value : {};
  return {
    name,
    type: String(raw.type ?? ''),
    mgmtdev: String(raw.mgmtdev ?? ''),
    vendorId: optionalNumber(raw.vendor_id),
    maxVqs: optionalNumber(raw.max_vqs),
    maxVqSize: optionalNumber(raw.max_vq_size),
    raw,
  };
}

/** vDPA devices (`vdpa -j dev show`). */
export async function listDevices(): Promise<VdpaDevice[]> {
  const json = await runVdpaJson(['dev', 'show']);
  const table = isRecord(json.dev) ? json.dev : {};
  return Object.entries(table).map(([name, value]) => toDevice(name, value));
}

/** One device, or undefined if there is no device of that name. */
export async function getDevice(name: string): Promise<VdpaDevice | undefined> {
  validateName(name);
  return (await listDevices()).find((device) => device.name === name);
}

/**
 * Create a device (`vdpa dev add name NAME mgmtdev MGMTDEV ...`). With bus
 * autoprobe on (the kernel default) it is bound to the first driver that
 * accepts it, usually virtio_vdpa; call setAutoprobe(false) first to keep it
 * unbound, then bindDriver().
 */
export async function addDevice(options: AddDeviceOptions): Promise<VdpaDevice> {
  validateName(options.name);
  const args = ['dev', 'add', 'name', options.name, 'mgmtdev', options.mgmtdev];
  if (options.mac !== undefined) args.push('mac', options.mac);
  if (options.mtu !== undefined) args.push('mtu', String(options.mtu));
  if (options.maxVqp !== undefined) args.push('max_vqp', String(options.maxVqp));
  await runVdpa(args);
  const device = await getDevice(options.name);
  if (device === undefined) {
    throw new Error(`vdpa ${args.join(' ')} succeeded but the device is not listed by vdpa dev show`);
  }
  return device;
}

/**
 * Delete a device (`vdpa dev del NAME`). The kernel waits until every open
 * /dev/vhost-vdpa-N of the device is closed, so close them first or this
 * never resolves.
 */
export async function deleteDevice(name: string): Promise<void> {
  validateName(name);
  await runVdpa(['dev', 'del', name]);
}

/** The driver the device is bound to, or undefined if none. */
export async function getDriver(name: string): Promise<string | undefined> {
  const dir = deviceDir(name);
  try {
    return path.basename(await fs.readlink(path.join(dir, 'driver')));
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error;
  }
  if (!(await exists(dir))) throw new Error(`no vdpa device named ${JSON.stringify(name)} in ${SYSFS_VDPA}/devices`);
  return undefined;
}

/** Detach the device from its driver, if any. */
export async function unbindDriver(name: string): Promise<void> {
  const current = await getDriver(name);
  if (current !== undefined) {
    await writeSysfs(path.join(SYSFS_VDPA, 'drivers', current, 'unbind'), name);
  }
}

/**
 * The /dev/vhost-vdpa-N character device of a device bound to vhost_vdpa, or
 * undefined if it has none. vhost_vdpa names its child device after the node.
 */
export async function vhostVdpaDevicePath(name: string): Promise<string | undefined> {
  const entries = await fs.readdir(deviceDir(name));
  const node = entries.find((entry) => /^vhost-vdpa-\d+$/.test(entry));
  return node === undefined ? undefined : path.join('/dev', node);
}

/**
 * Bind the device to `driver`, unbinding it from any other driver first. The
 * choice is stored in driver_override, so the device stays with that driver
 * if it is later reprobed. For vhost_vdpa, resolves to the /dev/vhost-vdpa-N
 * path once the node exists.
 */
export async function bindDriver(name: string, driver: 'vhost_vdpa'): Promise<string>;
export async function bindDriver(name: string, driver: 'virtio_vdpa'): Promise<undefined>;
export async function bindDriver(name: string, driver: VdpaDriver): Promise<string | undefined>;
export async function bindDriver(name: string, driver: VdpaDriver): Promise<string | undefined> {
  const dir = deviceDir(name);
  const driverDir = path.join(SYSFS_VDPA, 'drivers', driver);
  if (!(await exists(driverDir))) {
    throw new Error(`vdpa driver ${driver} is not available (no ${driverDir}; is CONFIG_${driver.toUpperCase()} enabled?)`);
  }
  const current = await getDriver(name);
  if (current !== driver) {
    if (current !== undefined) {
      await writeSysfs(path.join(SYSFS_VDPA, 'drivers', current, 'unbind'), name);
    }
    await writeSysfs(path.join(dir, 'driver_override'), driver);
    await writeSysfs(path.join(driverDir, 'bind'), name);
  }
  if (driver === 'virtio_vdpa') return undefined;

  const devicePath = await vhostVdpaDevicePath(name);
  if (devicePath === undefined) {
    throw new Error(`vdpa device ${name} is bound to vhost_vdpa but has no vhost-vdpa-N entry in ${dir}`);
  }
  // devtmpfs creates the node before bind returns; with udev it can lag a little.
  for (let waitedMs = 0; !(await exists(devicePath)); waitedMs += 20) {
    if (waitedMs >= 5000) throw new Error(`${devicePath} did not appear within 5 s of binding ${name}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return devicePath;
}

/**
 * Whether new vdpa devices are bound to a driver automatically
 * (/sys/bus/vdpa/drivers_autoprobe).
 */
export async function getAutoprobe(): Promise<boolean> {
  const file = path.join(SYSFS_VDPA, 'drivers_autoprobe');
  try {
    return (await fs.readFile(file, 'utf8')).trim() === '1';
  } catch (error) {
    throw new Error(`reading ${file} failed: ${(error as Error).message} (is CONFIG_VDPA enabled?)`, { cause: error });
  }
}

/** Turn automatic binding of new vdpa devices on or off. */
export async function setAutoprobe(enabled: boolean): Promise<void> {
  await writeSysfs(path.join(SYSFS_VDPA, 'drivers_autoprobe'), enabled ? '1' : '0');
}
