// struct blkio of a loaded library, behind the addon's NativeBlkio interface.
import { constants } from 'node:os';
import { BlkioError } from '../errors';
import { addon, NativeBlkio, NativeQueue, NativeRegion, PropertyType } from '../native/addon';
import { Library, RegionStruct } from './library';
import { LibraryQueue } from './queue';

const { EBUSY, EINVAL, ENODEV, ENOTSUP } = constants.errno;

// An instance collected without destroy() is destroyed then. Region
// ArrayBuffers keep their instance reachable (regionOwners), so this never
// happens while a view of its memory exists.
const unreachable = new FinalizationRegistry<{ lib: Library; handle: bigint }>(({ lib, handle }) => {
  lib.destroy([handle]);
});
const regionOwners = new WeakMap<ArrayBuffer, LibraryBlkio>();

function regionKey(region: NativeRegion): string {
  return `${region.addr}:${region.len}`;
}

function regionStruct(region: NativeRegion): RegionStruct {
  return {
    addr: region.addr,
    len: region.len,
    iova: region.iova,
    fd_offset: region.fdOffset,
    fd: region.fd,
    flags: region.flags,
  };
}

interface AllocatedRegion {
  struct: RegionStruct;
  buffer: ArrayBuffer;
}

/** struct blkio of a library, as the addon's NativeBlkio. */
export class LibraryBlkio implements NativeBlkio {
  readonly #lib: Library;
  #handle: bigint | null;
  // One object per blkioq, so watchers can be stopped before their fd closes.
  readonly #queues = new Map<bigint, LibraryQueue>();
  // blkio_free_mem_region cannot report errors (upstream aborts on a bad
  // region), so the checks the core would make are made here.
  readonly #allocated = new Map<string, AllocatedRegion>();
  readonly #mapped = new Set<string>();

  constructor(lib: Library, driver: string) {
    this.#lib = lib;
    const out: (bigint | null)[] = [null];
    lib.check(lib.create(driver, out));
    this.#handle = out[0]!;
    unreachable.register(this, { lib, handle: this.#handle }, this);
  }

  get #h(): bigint {
    if (this.#handle === null) throw new BlkioError('Blkio has been destroyed', ENODEV);
    return this.#handle;
  }

  connect(): void {
    this.#lib.check(this.#lib.connect(this.#h));
  }

  start(): void {
    this.#lib.check(this.#lib.start(this.#h));
  }

  destroy(): void {
    if (this.#handle === null) return;
    for (const q of this.#queues.values()) q.shutdown();
    this.#queues.clear();
    for (const r of this.#allocated.values()) addon.detachArrayBuffer(r.buffer);
    this.#allocated.clear();
    this.#mapped.clear();
    unreachable.unregister(this);
    this.#lib.destroy([this.#handle]);
    this.#handle = null;
  }

  get(name: string, type: PropertyType): boolean | number | bigint | string {
    const lib = this.#lib;
    const h = this.#h;
    switch (type) {
      case PropertyType.Bool: {
        const out = [false];
        lib.check(lib.getBool(h, name, out));
        return out[0];
      }
      case PropertyType.Int: {
        const out = [0];
        lib.check(lib.getInt(h, name, out));
        return out[0];
      }
      case PropertyType.Uint64: {
        const out: (number | bigint)[] = [0];
        lib.check(lib.getUint64(h, name, out));
        return BigInt(out[0]);
      }
      case PropertyType.Str: {
        const out: (bigint | null)[] = [null];
        lib.check(lib.getStr(h, name, out));
        const text = lib.koffi.decode(out[0], 'char', -1) as string;
        lib.koffi.free(out[0]);
        return text;
      }
    }
  }

  set(name: string, type: PropertyType, value: boolean | number | bigint | string): void {
    const lib = this.#lib;
    const h = this.#h;
    switch (type) {
      case PropertyType.Bool:
        lib.check(lib.setBool(h, name, value));
        return;
      case PropertyType.Int:
        lib.check(lib.setInt(h, name, value));
        return;
      case PropertyType.Uint64:
        lib.check(lib.setUint64(h, name, value));
        return;
      case PropertyType.Str:
        lib.check(lib.setStr(h, name, value));
        return;
    }
  }

  allocMemRegion(len: number): NativeRegion {
    const lib = this.#lib;
    const out = {} as RegionStruct;
    lib.check(lib.allocMemRegion(this.#h, out, len));
    const buffer = lib.koffi.view(out.addr, len);
    regionOwners.set(buffer, this);
    const region: NativeRegion = {
      addr: out.addr,
      len: Number(out.len),
      iova: BigInt(out.iova),
      fdOffset: Number(out.fd_offset),
      fd: out.fd,
      flags: out.flags,
      buffer,
    };
    this.#allocated.set(regionKey(region), { struct: out, buffer });
    return region;
  }

  freeMemRegion(region: NativeRegion): void {
    const h = this.#h;
    const key = regionKey(region);
    const allocated = this.#allocated.get(key);
    if (!allocated || allocated.struct.fd !== region.fd)
      throw new BlkioError('memory region was not allocated by this instance (or was already freed)', EINVAL);
    if (this.#mapped.has(key))
      throw new BlkioError('memory region is still mapped; unmap it before freeing it', EBUSY);
    this.#lib.freeMemRegion(h, allocated.struct);
    addon.detachArrayBuffer(allocated.buffer);
    this.#allocated.delete(key);
  }

  mapMemRegion(region: NativeRegion): number {
    this.#lib.check(this.#lib.mapMemRegion(this.#h, regionStruct(region)));
    this.#mapped.add(regionKey(region));
    return -1; // the C API has no region slots
  }

  unmapMemRegion(region: NativeRegion): void {
    this.#lib.unmapMemRegion(this.#h, regionStruct(region));
    this.#mapped.delete(regionKey(region));
  }

  getQueue(poll: boolean, index: number): NativeQueue | null {
    const lib = this.#lib;
    const pointer: bigint | null = (poll ? lib.getPollQueue : lib.getQueue)(this.#h, index);
    if (pointer === null) return null;
    let q = this.#queues.get(pointer);
    if (!q) {
      q = new LibraryQueue(this, lib, pointer, poll, index);
      this.#queues.set(pointer, q);
    }
    return q;
  }

  addQueue(poll: boolean): number {
    return this.#lib.check((poll ? this.#lib.addPollQueue : this.#lib.addQueue)(this.#h));
  }

  removeQueue(poll: boolean, index: number): void {
    const lib = this.#lib;
    const h = this.#h;
    // Its watcher must stop before the library closes the fd.
    for (const [pointer, q] of this.#queues) {
      if (q.poll !== poll || q.index !== index) continue;
      q.shutdown();
      this.#queues.delete(pointer);
    }
    lib.check((poll ? lib.removePollQueue : lib.removeQueue)(h, index));
  }

  share(): bigint {
    throw new BlkioError('an instance of a libblkio library cannot be shared with workers', ENOTSUP);
  }
}
