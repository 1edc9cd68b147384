import { BlkioError, invalidArgument } from './errors';
import { createFromLibrary } from './libblkio';
import { arrayBufferLength, bufferAddress } from './buffers';
import { addon, NativeBlkio, NativeRegion, PropertyType } from './native/addon';
import { MappedBuffer, Queue, requestsUse } from './queue';
import type { BoolProperty, DriverName, IntProperty, StrProperty, Uint64Property } from './names';

/**
 * A memory region (libblkio struct blkio_mem_region). `buffer` is an
 * ArrayBuffer over the region's memory (memfd-backed, MAP_SHARED): views on
 * it are zero-copy request buffers. It is detached when the region is freed.
 */
export interface MemRegion {
  /** Address of the region's memory in this process. */
  readonly addr: bigint;
  /** Length in bytes. */
  readonly len: number;
  /** I/O virtual address the device uses for it (0 where the driver picks). */
  readonly iova: bigint;
  /** Offset of the region in fd. */
  readonly fdOffset: number;
  /** The memfd behind the region (-1 if none); shared with the device where it needs one. */
  readonly fd: number;
  /** libblkio's region flags (none defined yet: 0). */
  readonly flags: number;
  /** The region's memory, zero-copy; detached when the region is freed. */
  readonly buffer: ArrayBuffer;
}

/** Passes a started Blkio to a worker thread (structured-cloneable); see attach(). */
export interface BlkioHandle {
  /** Identifies the shared device inside this process (meaningless elsewhere). */
  readonly sharedBlkioId: bigint;
}

const INT_MAX = 2 ** 31 - 1;
const TWO_64 = 1n << 64n;

// Queue indexes are libblkio ints: checked here, never truncated.
function checkIndex(index: number): void {
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > INT_MAX)
    invalidArgument(`queue index must be an integer from 0 to ${INT_MAX}, got ${String(index)}`);
}

function checkName(name: string): void {
  if (typeof name !== 'string') invalidArgument('property name must be a string');
}

/**
 * A libblkio instance (struct blkio): create → set properties → connect →
 * set more properties → start → queues and memory regions → destroy.
 */
export class Blkio {
  #native: NativeBlkio | null;
  readonly #queues = new Map<string, Queue>();
  // Mapped regions by ArrayBuffer: their address and native slot, so a
  // request in one costs a single lookup.
  readonly #mapped = new WeakMap<ArrayBufferLike, MappedBuffer>();

  /** @internal use create() or attach() */
  constructor(native: NativeBlkio) {
    this.#native = native;
  }

  get #live(): NativeBlkio {
    if (!this.#native) throw new BlkioError('Blkio has been destroyed', 19 /* ENODEV */);
    return this.#native;
  }

  /** Connects to the device (created → connected): opens the path or socket and reads the device's limits; idempotent. */
  connect(): void {
    this.#live.connect();
  }

  /** Starts the device (connected → started): creates num-queues and num-poll-queues queues; idempotent. */
  start(): void {
    this.#live.start();
  }

  /**
   * Releases everything: queues (waiting, bounded, for requests the device
   * still holds), mappings and allocated regions (their ArrayBuffers are
   * detached). Idempotent. In a worker, only detaches from the shared device.
   */
  destroy(): void {
    if (!this.#native) return;
    for (const q of this.#queues.values()) q._kill();
    this.#queues.clear();
    this.#native.destroy();
    this.#native = null;
  }

  /**
   * @internal destroy() with its waiting (for requests the device still
   * holds: seconds on a stalled device) done off the event loop, for the
   * Promise layer. The object is unusable at once; the Promise resolves when
   * the device is released. On the libblkio (koffi) path it is destroy().
   */
  _destroyInBackground(): Promise<void> {
    const native = this.#native;
    if (!native) return Promise.resolve();
    for (const q of this.#queues.values()) q._kill();
    this.#queues.clear();
    this.#native = null;
    if (!native.close) {
      native.destroy();
      return Promise.resolve();
    }
    return native.close();
  }

  /**
   * @internal connect() and start() off the event loop, for open(): a
   * vhost-user handshake waits up to a reply timeout for a stalled backend.
   * The object must not be used until the Promise settles.
   */
  async _connectInBackground(): Promise<void> {
    const native = this.#live;
    if (native.connectInBackground) await native.connectInBackground();
    else native.connect();
  }

  /** @internal see _connectInBackground() */
  async _startInBackground(): Promise<void> {
    const native = this.#live;
    if (native.startInBackground) await native.startInBackground();
    else native.start();
  }

  /**
   * @internal The current capacity read off the event loop, for the Promise
   * layer: the read asks the device (a stalled vhost-user backend holds it
   * up to the reply timeout). Other users of the object must wait for it.
   */
  async _capacityInBackground(): Promise<bigint> {
    const native = this.#live;
    return native.capacityInBackground ? await native.capacityInBackground() : this.getUint64('capacity');
  }

  /** Reads a bool property (ENOENT: unknown; ENOTTY: not a bool). */
  getBool(name: BoolProperty): boolean {
    checkName(name);
    return this.#live.get(name, PropertyType.Bool) as boolean;
  }

  /** Reads an int property (ENOENT: unknown; ENOTTY: not an int). */
  getInt(name: IntProperty): number {
    checkName(name);
    return this.#live.get(name, PropertyType.Int) as number;
  }

  /** Reads a uint64 property as a bigint (ENOENT: unknown; ENOTTY: not a uint64). */
  getUint64(name: Uint64Property): bigint {
    checkName(name);
    return this.#live.get(name, PropertyType.Uint64) as bigint;
  }

  /** Works on every property, formatting its value as libblkio does. */
  getStr(name: StrProperty): string {
    checkName(name);
    return this.#live.get(name, PropertyType.Str) as string;
  }

  /** Sets a bool property where its state allows (EBUSY/ENODEV otherwise, EACCES if read-only). */
  setBool(name: BoolProperty, value: boolean): void {
    checkName(name);
    if (typeof value !== 'boolean') invalidArgument(`value of '${name}' must be a boolean`);
    this.#live.set(name, PropertyType.Bool, value);
  }

  /** Sets an int property (a 32-bit integer) where its state allows. */
  setInt(name: IntProperty, value: number): void {
    checkName(name);
    if (!Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 31)
      invalidArgument(`value of '${name}' must be a 32-bit integer, got ${String(value)}`);
    this.#live.set(name, PropertyType.Int, value);
  }

  /** Takes a bigint, or a non-negative safe-integer number. */
  setUint64(name: Uint64Property, value: bigint | number): void {
    checkName(name);
    let v: bigint;
    if (typeof value === 'bigint') v = value;
    else if (Number.isSafeInteger(value)) v = BigInt(value);
    else invalidArgument(`value of '${name}' must be a bigint or a safe integer, got ${String(value)}`);
    if (v < 0n || v >= 1n << 64n) invalidArgument(`value of '${name}' must fit in 64 unsigned bits`);
    this.#live.set(name, PropertyType.Uint64, v);
  }

  /** Works on every property, parsing the text as libblkio does. */
  setStr(name: StrProperty, value: string): void {
    checkName(name);
    if (typeof value !== 'string') invalidArgument(`value of '${name}' must be a string`);
    this.#live.set(name, PropertyType.Str, value);
  }

  /** Allocates a region suitable for this device (after connect). */
  allocMemRegion(len: number): MemRegion {
    if (typeof len !== 'number' || !Number.isSafeInteger(len) || len <= 0)
      invalidArgument(`len must be a positive integer, got ${String(len)}`);
    return Object.freeze(this.#live.allocMemRegion(len));
  }

  /** Frees a region from allocMemRegion; it must not be mapped. */
  freeMemRegion(region: MemRegion): void {
    const r = checkRegion(region);
    checkIdle(r);
    this.#live.freeMemRegion(r);
  }

  /** Makes a region usable for I/O (after start); map once, not per request. */
  mapMemRegion(region: MemRegion): void {
    const r = checkRegion(region);
    this.#recordMapped(r, this.#live.mapMemRegion(r));
  }

  /**
   * @internal mapMemRegion() off the event loop (a vhost-user backend
   * acknowledges each mapping), for open(). The object must not be used
   * until the Promise settles.
   */
  async _mapMemRegionInBackground(region: MemRegion): Promise<void> {
    const native = this.#live;
    const checked = checkRegion(region);
    const slot = native.mapMemRegionInBackground
      ? await native.mapMemRegionInBackground(checked)
      : native.mapMemRegion(checked);
    this.#recordMapped(checked, slot);
  }

  #recordMapped(r: NativeRegion, slot: number): void {
    // The buffer's own address, not region.addr: a region built over part of
    // a buffer starts inside it. A view outside the mapped part only gets a
    // wrong slot hint, which the native side checks.
    if (arrayBufferLength(r.buffer) > 0)
      this.#mapped.set(r.buffer, { base: bufferAddress(new Uint8Array(r.buffer, 0, 1)), slot });
  }

  /** Does nothing if the region is not mapped. */
  unmapMemRegion(region: MemRegion): void {
    const r = checkRegion(region);
    if (arrayBufferLength(r.buffer) >= 0 && this.#mapped.has(r.buffer)) checkIdle(r);
    this.#live.unmapMemRegion(r);
    const mapped = arrayBufferLength(r.buffer) >= 0 ? this.#mapped.get(r.buffer) : undefined;
    if (mapped) {
      mapped.slot = -1; // views that cached it stop using the hint
      this.#mapped.delete(r.buffer);
    }
  }

  /** Queue i (null if there is none, e.g. before start). */
  getQueue(index: number): Queue | null {
    return this.#queue(false, index);
  }

  /** Poll queue i (null if there is none). */
  getPollQueue(index: number): Queue | null {
    return this.#queue(true, index);
  }

  /** Adds a queue to a started instance and returns its index (io_uring). */
  addQueue(): number {
    return this.#live.addQueue(false);
  }

  /** Adds a poll queue to a started instance and returns its index (where supports-poll-queues). */
  addPollQueue(): number {
    return this.#live.addQueue(true);
  }

  /** Removes queue i (EBUSY while another thread is inside its doIo); its JS object then gives ENODEV. */
  removeQueue(index: number): void {
    this.#remove(false, index);
  }

  /** Removes poll queue i, as removeQueue does. */
  removePollQueue(index: number): void {
    this.#remove(true, index);
  }

  /** A handle that attach() turns into this device in a worker thread. */
  share(): BlkioHandle {
    return { sharedBlkioId: this.#live.share() };
  }

  #queue(poll: boolean, index: number): Queue | null {
    checkIndex(index);
    const key = `${poll ? 'p' : 'q'}${index}`;
    let q = this.#queues.get(key);
    if (q) return q;
    const native = this.#live.getQueue(poll, index);
    if (!native) return null;
    q = new Queue(native, this.#mapped);
    this.#queues.set(key, q);
    return q;
  }

  #remove(poll: boolean, index: number): void {
    checkIndex(index);
    this.#live.removeQueue(poll, index);
    const key = `${poll ? 'p' : 'q'}${index}`;
    this.#queues.get(key)?._kill();
    this.#queues.delete(key);
  }
}

// A region's memory must stay where it is while a request not yet returned
// by doIo (queued in a batch, or in flight) uses it: the device would write
// into whatever is mapped there next.
function checkIdle(region: NativeRegion): void {
  if (arrayBufferLength(region.buffer) > 0 && requestsUse(region.buffer))
    throw new BlkioError('memory region is used by requests that doIo has not returned yet', 16 /* EBUSY */);
}

// Each field read once and range-checked: what reaches the native side is
// this snapshot, whatever getters the caller's object has.
function checkRegion(region: MemRegion): NativeRegion {
  if (typeof region !== 'object' || region === null)
    invalidArgument('expected a MemRegion (from allocMemRegion or built with addr, len, iova, fdOffset, fd, flags)');
  const { addr, len, iova, fdOffset, fd, flags, buffer } = region;
  if (typeof addr !== 'bigint' || addr < 0n || addr >= TWO_64)
    invalidArgument(`region.addr must be a bigint from 0 to 2^64-1, got ${String(addr)}`);
  if (typeof len !== 'number' || !Number.isSafeInteger(len) || len <= 0)
    invalidArgument(`region.len must be a positive integer, got ${String(len)}`);
  if (addr + BigInt(len) >= TWO_64) invalidArgument('region.addr + region.len must stay below 2^64 (the region must not wrap the address space)');
  if (typeof iova !== 'bigint' || iova < 0n || iova >= TWO_64)
    invalidArgument(`region.iova must be a bigint from 0 to 2^64-1, got ${String(iova)}`);
  if (typeof fdOffset !== 'number' || !Number.isSafeInteger(fdOffset) || fdOffset < 0)
    invalidArgument(`region.fdOffset must be a non-negative integer, got ${String(fdOffset)}`);
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < -1 || fd > INT_MAX)
    invalidArgument(`region.fd must be -1 or a file descriptor, got ${String(fd)}`);
  if (typeof flags !== 'number' || !Number.isInteger(flags) || flags < 0 || flags > 0xffffffff)
    invalidArgument(`region.flags must be a 32-bit unsigned integer, got ${String(flags)}`);
  return { addr, len, iova, fdOffset, fd, flags, buffer };
}

/** Options of create(). */
export interface CreateOptions {
  /**
   * Take the driver from this libblkio-compatible shared library (a path, or
   * a name such as 'libblkio.so.1' for the dynamic linker), through koffi,
   * instead of this package's addon.
   */
  library?: string;
}

const LIBRARY_PREFIX = 'libblkio:';

/**
 * blkio_create: an instance of the named driver ('io_uring',
 * 'virtio-blk-vhost-user', …). 'libblkio:<driver>' or options.library
 * selects a driver of a libblkio shared library instead (the one named by
 * $BLKIO_LIBRARY, else the system's libblkio.so.1).
 */
export function create(driver: DriverName, options: CreateOptions = {}): Blkio {
  if (typeof driver !== 'string') invalidArgument('driver name must be a string');
  if (driver.startsWith(LIBRARY_PREFIX))
    return new Blkio(createFromLibrary(driver.slice(LIBRARY_PREFIX.length), options.library));
  if (options.library !== undefined) return new Blkio(createFromLibrary(driver, options.library));
  return new Blkio(new addon.NativeBlkio(driver));
}

/** In a worker thread: the started device behind a handle from Blkio.share(). */
export function attach(handle: BlkioHandle): Blkio {
  if (typeof handle?.sharedBlkioId !== 'bigint') invalidArgument('expected a handle from Blkio.share()');
  return new Blkio(new addon.NativeBlkio(handle.sharedBlkioId));
}
