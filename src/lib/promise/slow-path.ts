// Storage features on demand: a Device on its fast path (io_uring on a raw
// image, no daemon in the request path) switches to qemu-storage-daemon's
// block layer for an operation that needs it, and back when the daemon is no
// longer needed. See docs/switching.md.
import * as fs from 'node:fs';
import { BlkioError } from '../errors';
import { NODES, StorageDaemon } from '../qmp/storage-daemon';
import type { Device, OpenOptions } from './device';
import type { SwitchReport } from './switching';

export interface SlowPathOptions {
  /** The raw image the device serves (the file its fast path opens). */
  image: string;
  /** How the device opens its fast path (default io_uring on image). */
  fast?: OpenOptions;
  /** Directory for the daemon's sockets (default a temp dir). */
  dir?: string;
  /** The qemu-storage-daemon executable (default from PATH). */
  binary?: string;
}

/** I/O limits of a throttle group (QEMU's names); 0 lifts one. */
export interface ThrottleLimits {
  'iops-total'?: number;
  'iops-read'?: number;
  'iops-write'?: number;
  'bps-total'?: number;
  'bps-read'?: number;
  'bps-write'?: number;
}

/** The switches an operation made: to the slow path, and back (when it is done). */
export interface SlowPathReport {
  toSlow: SwitchReport | null;
  toFast: SwitchReport | null;
}

const EBUSY = 16;
const EINVAL = 22;

/**
 * Runs storage operations on a Device through qemu-storage-daemon, one at
 * a time. Each starts the daemon on the image, switches the device to it
 * (vhost-user), runs, and switches back to the fast path when the daemon is
 * no longer needed in the request path; the daemon is then stopped, so
 * nothing but the device writes the image.
 */
export class SlowPath {
  readonly #device: Device;
  readonly #opts: SlowPathOptions;
  #daemon: StorageDaemon | null = null;
  #busy = false;
  #overlay = false;

  constructor(device: Device, options: SlowPathOptions) {
    if (typeof options !== 'object' || options === null || typeof options.image !== 'string')
      throw new BlkioError('SlowPath needs { image }', EINVAL);
    this.#device = device;
    this.#opts = options;
  }

  /** The running daemon while the device is on the slow path, else null. */
  get daemon(): StorageDaemon | null {
    return this.#daemon;
  }

  /**
   * A live backup of the image to target (a raw file, created with the
   * device's size if missing): blockdev-backup (copy-before-write) while
   * the application keeps writing; back on the fast path when the job
   * completed. The backup holds the image as it was when the job started.
   */
  backup(target: string): Promise<SlowPathReport> {
    return this.#exclusive(async () => {
      if (!fs.existsSync(target)) fs.writeFileSync(target, '');
      fs.truncateSync(target, Number(this.#device.capacity));
      const toSlow = await this.#enter();
      const qmp = this.#daemon!.qmp;
      await qmp.execute('blockdev-add', { driver: 'raw', 'node-name': 'backup0', file: { driver: 'file', filename: target } });
      try {
        await qmp.execute('blockdev-backup', { 'job-id': 'backup0', device: NODES.format, target: 'backup0', sync: 'full', 'auto-dismiss': false });
        await qmp.waitJob('backup0');
      } finally {
        await qmp.execute('blockdev-del', { 'node-name': 'backup0' }).catch(() => undefined);
      }
      return { toSlow, toFast: await this.#leave() };
    });
  }

  /**
   * Throttles the device's I/O (a throttle group in the daemon) until the
   * returned lift() is called, which switches back to the fast path.
   */
  throttle(limits: ThrottleLimits): Promise<{ report: SlowPathReport; lift: () => Promise<SwitchReport> }> {
    if (typeof limits !== 'object' || limits === null) return Promise.reject(new BlkioError('throttle() needs limits', EINVAL));
    for (const [k, v] of Object.entries(limits))
      if (!/^(iops|bps)-(total|read|write)$/.test(k) || !Number.isSafeInteger(v) || v < 0)
        return Promise.reject(new BlkioError(`throttle limit ${k} must be a non-negative integer, got ${String(v)}`, EINVAL));
    if (this.#busy) return Promise.reject(busy());
    this.#busy = true;
    const run = async () => {
      const toSlow = await this.#enter();
      await this.#daemon!.qmp.execute('qom-set', { path: NODES.throttleGroup, property: 'limits', value: limits });
      let lifted: Promise<SwitchReport> | null = null;
      const lift = () =>
        (lifted ??= (async () => {
          try {
            const none = Object.fromEntries(Object.keys(limits).map((k) => [k, 0]));
            await this.#daemon!.qmp.execute('qom-set', { path: NODES.throttleGroup, property: 'limits', value: none });
            return (await this.#leave())!;
          } finally {
            this.#busy = false;
          }
        })());
      return { report: { toSlow, toFast: null }, lift };
    };
    return run().catch((e) => {
      this.#busy = false;
      throw e;
    });
  }

  /**
   * An external snapshot: a qcow2 overlay (blockdev-snapshot-sync) takes
   * the writes from now on, the image stays as it is. The device stays on
   * the slow path while the overlay is in use: commit() merges it back.
   */
  snapshot(overlay: string): Promise<SlowPathReport> {
    if (this.#overlay) return Promise.reject(new BlkioError('a snapshot overlay is in use already: commit() it first', EBUSY));
    return this.#exclusive(async () => {
      const toSlow = await this.#enter();
      await this.#daemon!.qmp.execute('blockdev-snapshot-sync', {
        'node-name': NODES.format,
        'snapshot-file': overlay,
        'snapshot-node-name': 'overlay0',
        format: 'qcow2',
      });
      this.#overlay = true;
      return { toSlow, toFast: null };
    }, true);
  }

  /**
   * Commits the overlay of snapshot() into the image (block-commit of the
   * active layer), then switches back to the fast path.
   */
  commit(): Promise<SlowPathReport> {
    if (!this.#overlay) return Promise.reject(new BlkioError('no snapshot overlay to commit', EINVAL));
    this.#busy = false;
    return this.#exclusive(async () => {
      const qmp = this.#daemon!.qmp;
      await qmp.execute('block-commit', { 'job-id': 'commit0', device: NODES.throttle, 'auto-dismiss': false });
      await qmp.waitJob('commit0', 'ready');
      await qmp.execute('job-complete', { id: 'commit0' });
      await qmp.waitJob('commit0');
      this.#overlay = false;
      return { toSlow: null, toFast: await this.#leave() };
    });
  }

  // One operation at a time; keepBusy leaves the slow path claimed (an
  // overlay in use) when it succeeds.
  async #exclusive<T>(op: () => Promise<T>, keepBusy = false): Promise<T> {
    if (this.#busy) throw busy();
    this.#busy = true;
    let ok = false;
    try {
      const r = await op();
      ok = true;
      return r;
    } finally {
      if (!(ok && keepBusy)) this.#busy = false;
    }
  }

  async #enter(): Promise<SwitchReport | null> {
    if (this.#daemon) return null;
    const daemon = await StorageDaemon.start({ image: this.#opts.image, dir: this.#opts.dir, binary: this.#opts.binary });
    try {
      const report = await this.#device.switchTo({ driver: 'virtio-blk-vhost-user', path: daemon.socket });
      this.#daemon = daemon;
      return report;
    } catch (e) {
      await daemon.stop();
      throw e;
    }
  }

  // The switch drains the daemon's export and flushes it before the fast
  // path takes a request; the daemon is stopped after.
  async #leave(): Promise<SwitchReport | null> {
    const daemon = this.#daemon;
    if (!daemon) return null;
    const report = await this.#device.switchTo(this.#opts.fast ?? { driver: 'io_uring', path: this.#opts.image });
    this.#daemon = null;
    await daemon.stop();
    return report;
  }
}

function busy(): BlkioError {
  return new BlkioError('another slow-path operation is running on this device', EBUSY);
}
