// The libblkio driver: any libblkio-compatible shared library (upstream's
// libblkio.so.1, or this project's own build of its C ABI) loaded with koffi
// and driven through its C API. It implements the addon's internal
// NativeBlkio and NativeQueue interfaces, so Blkio and Queue (argument
// checks, request batches, completions) are the same classes as on the N-API
// path; only the layer below them differs. koffi is loaded on first use.
import type * as Koffi from 'koffi';
import { constants } from 'node:os';
import { BlkioError, errnoName } from './errors';
import { addon, FdWatch, NativeBlkio, NativeQueue, NativeRegion, PropertyType } from './native';

const { EBUSY, EINVAL, ENODEV, ENOENT, ENOTSUP } = constants.errno;

/** The library used when none is named: $BLKIO_LIBRARY, else the system's libblkio.so.1. */
export function defaultLibraryPath(): string {
  return process.env.BLKIO_LIBRARY || 'libblkio.so.1';
}

type CFunction = (...args: any[]) => any;

let koffi: typeof Koffi | null = null;

// koffi's type names are global: declared once for every library.
function loadKoffi(): typeof Koffi {
  if (koffi) return koffi;
  const k: typeof Koffi = require('koffi');
  k.opaque('blkio');
  k.opaque('blkioq');
  k.struct('blkio_mem_region', {
    addr: 'void *',
    len: 'size_t',
    iova: 'uint64_t',
    fd_offset: 'int64_t',
    fd: 'int',
    flags: 'uint32_t',
  });
  return (koffi = k);
}

/** struct blkio_mem_region as koffi converts it. */
interface RegionStruct {
  addr: bigint;
  len: number;
  iova: number | bigint;
  fd_offset: number | bigint;
  fd: number;
  flags: number;
}

/**
 * One loaded library: its C functions, and the static error_msg strings of
 * its completions, decoded once each and then known by a small id.
 */
class Library {
  readonly koffi: typeof Koffi;
  readonly create: CFunction;
  readonly connect: CFunction;
  readonly start: CFunction;
  readonly destroy: CFunction;
  readonly getBool: CFunction;
  readonly getInt: CFunction;
  readonly getUint64: CFunction;
  readonly getStr: CFunction;
  readonly setBool: CFunction;
  readonly setInt: CFunction;
  readonly setUint64: CFunction;
  readonly setStr: CFunction;
  readonly allocMemRegion: CFunction;
  readonly freeMemRegion: CFunction;
  readonly mapMemRegion: CFunction;
  readonly unmapMemRegion: CFunction;
  readonly getQueue: CFunction;
  readonly getPollQueue: CFunction;
  readonly addQueue: CFunction;
  readonly addPollQueue: CFunction;
  readonly removeQueue: CFunction;
  readonly removePollQueue: CFunction;
  readonly errorMsg: CFunction;
  // The per-request functions take pointers as plain integers (queue,
  // buffer addresses from the descriptors, user_data = the JS slot), which
  // is both the cheapest conversion and the same ABI as void *.
  readonly read: CFunction;
  readonly write: CFunction;
  readonly readv: CFunction;
  readonly writev: CFunction;
  readonly writeZeroes: CFunction;
  readonly discard: CFunction;
  readonly flush: CFunction;
  readonly doIo: CFunction;
  readonly completionFd: CFunction;
  readonly setCompletionFdEnabled: CFunction;
  readonly #messageIds = new Map<number, number>();
  readonly #messages: (string | null)[] = [null];

  constructor(readonly path: string) {
    const k = (this.koffi = loadKoffi());
    let lib: Koffi.LibraryHandle;
    try {
      lib = k.load(path);
    } catch (e) {
      throw new BlkioError(`cannot load the libblkio library '${path}': ${(e as Error).message}`, ENOENT);
    }
    const fn = (decl: string): CFunction => {
      try {
        return lib.func(decl);
      } catch (e) {
        throw new BlkioError(`'${path}' is not a usable libblkio library: ${(e as Error).message}`, ENOENT);
      }
    };
    this.create = fn('int blkio_create(const char *driver, _Out_ blkio **bp)');
    this.connect = fn('int blkio_connect(blkio *b)');
    this.start = fn('int blkio_start(blkio *b)');
    this.destroy = fn('void blkio_destroy(_Inout_ blkio **bp)');
    this.getBool = fn('int blkio_get_bool(blkio *b, const char *name, _Out_ bool *value)');
    this.getInt = fn('int blkio_get_int(blkio *b, const char *name, _Out_ int *value)');
    this.getUint64 = fn('int blkio_get_uint64(blkio *b, const char *name, _Out_ uint64_t *value)');
    // A char * the caller must free: taken as a pointer, decoded, freed.
    this.getStr = fn('int blkio_get_str(blkio *b, const char *name, _Out_ void **value)');
    this.setBool = fn('int blkio_set_bool(blkio *b, const char *name, bool value)');
    this.setInt = fn('int blkio_set_int(blkio *b, const char *name, int value)');
    this.setUint64 = fn('int blkio_set_uint64(blkio *b, const char *name, uint64_t value)');
    this.setStr = fn('int blkio_set_str(blkio *b, const char *name, const char *value)');
    this.allocMemRegion = fn('int blkio_alloc_mem_region(blkio *b, _Out_ blkio_mem_region *region, size_t len)');
    this.freeMemRegion = fn('void blkio_free_mem_region(blkio *b, const blkio_mem_region *region)');
    this.mapMemRegion = fn('int blkio_map_mem_region(blkio *b, const blkio_mem_region *region)');
    this.unmapMemRegion = fn('void blkio_unmap_mem_region(blkio *b, const blkio_mem_region *region)');
    this.getQueue = fn('blkioq *blkio_get_queue(blkio *b, int index)');
    this.getPollQueue = fn('blkioq *blkio_get_poll_queue(blkio *b, int index)');
    this.addQueue = fn('int blkio_add_queue(blkio *b)');
    this.addPollQueue = fn('int blkio_add_poll_queue(blkio *b)');
    this.removeQueue = fn('int blkio_remove_queue(blkio *b, int index)');
    this.removePollQueue = fn('int blkio_remove_poll_queue(blkio *b, int index)');
    this.errorMsg = fn('const char *blkio_get_error_msg(void)');
    const data = '(uintptr_t q, uint64_t start, uintptr_t buf, size_t len, uintptr_t user_data, uint32_t flags)';
    const vectored = '(uintptr_t q, uint64_t start, uintptr_t iovec, int iovcnt, uintptr_t user_data, uint32_t flags)';
    const ranged = '(uintptr_t q, uint64_t start, uint64_t len, uintptr_t user_data, uint32_t flags)';
    this.read = fn(`void blkioq_read${data}`);
    this.write = fn(`void blkioq_write${data}`);
    this.readv = fn(`void blkioq_readv${vectored}`);
    this.writev = fn(`void blkioq_writev${vectored}`);
    this.writeZeroes = fn(`void blkioq_write_zeroes${ranged}`);
    this.discard = fn(`void blkioq_discard${ranged}`);
    this.flush = fn('void blkioq_flush(uintptr_t q, uintptr_t user_data, uint32_t flags)');
    this.doIo = fn('int blkioq_do_io(uintptr_t q, uintptr_t completions, int min, int max, uintptr_t timeout)');
    this.completionFd = fn('int blkioq_get_completion_fd(uintptr_t q)');
    this.setCompletionFdEnabled = fn('void blkioq_set_completion_fd_enabled(uintptr_t q, bool enable)');
  }

  /** The error for a failed call: ret is a negative errno; the message is the library's. */
  error(ret: number): BlkioError {
    const message: string | null = this.errorMsg();
    return new BlkioError(message || `${errnoName(ret)} from ${this.path}`, ret);
  }

  check(ret: number): number {
    if (ret < 0) throw this.error(ret);
    return ret;
  }

  /** A small id for the static string at address (0: none). */
  messageId(address: number): number {
    if (address === 0) return 0;
    let id = this.#messageIds.get(address);
    if (id === undefined) {
      id = this.#messages.length;
      this.#messages.push(this.koffi.decode(BigInt(address), 'char', -1) as string);
      this.#messageIds.set(address, id);
    }
    return id;
  }

  messageText(id: number): string | null {
    return this.#messages[id] ?? null;
  }

  /** An ArrayBuffer's memory address (ArrayBuffers never move). */
  address(buffer: ArrayBuffer): number {
    return Number(this.koffi.address(new Uint8Array(buffer)));
  }
}

const libraries = new Map<string, Library>();

function loadLibrary(path: string): Library {
  let lib = libraries.get(path);
  if (!lib) {
    lib = new Library(path);
    libraries.set(path, lib);
  }
  return lib;
}

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
class LibraryBlkio implements NativeBlkio {
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

// Request types and descriptor layout: see src/queue.ts and
// addon/napi/queue_object.h (40 bytes: u32 op, u32 flags, u32 slot, i32
// region, u32 start lo, u32 start hi, f64 len or iovec count, f64 address
// or first iovec index).
const DESC_WORDS = 10;
const OP_READ = 0;
const OP_WRITE = 1;
const OP_READV = 2;
const OP_WRITEV = 3;
const OP_WRITE_ZEROES = 4;
const OP_DISCARD = 5;
const OP_FLUSH = 6;
const TWO_32 = 2 ** 32;
// struct blkio_completion: 32 bytes = 8 words; user_data at word 0,
// error_msg at word 2, ret at word 4.
const COMPLETION_WORDS = 8;

/** struct blkioq of a library, as the addon's NativeQueue. */
class LibraryQueue implements NativeQueue {
  readonly #owner: LibraryBlkio; // keeps the instance alive while the queue is used
  readonly #lib: Library;
  readonly #q: number;
  #words = new Uint32Array(0);
  #doubles = new Float64Array(0);
  #iov = new Float64Array(0);
  #comp = new Int32Array(0);
  // The struct blkio_completion array do_io fills.
  #raw = new ArrayBuffer(0);
  #rawWords = new Uint32Array(0);
  #rawSigned = new Int32Array(0);
  #rawAddress = 0;
  readonly #timeout = new Uint32Array(new ArrayBuffer(16)); // struct timespec
  readonly #timeoutAddress: number;
  // iovec arrays of vectored requests by slot: libblkio may read them until
  // the request completes.
  readonly #iovecs: (ArrayBuffer | undefined)[] = [];
  #watch: FdWatch | null = null;
  #alive = true;

  constructor(
    owner: LibraryBlkio,
    lib: Library,
    pointer: bigint,
    readonly poll: boolean,
    readonly index: number,
  ) {
    this.#owner = owner;
    this.#lib = lib;
    this.#q = Number(pointer);
    this.#timeoutAddress = lib.address(this.#timeout.buffer as ArrayBuffer);
  }

  /** The queue was removed or its instance destroyed. */
  shutdown(): void {
    this.unwatch();
    this.#alive = false;
  }

  setBuffers(descriptors: ArrayBuffer, iovecs: ArrayBuffer, completions: ArrayBuffer): void {
    this.#words = new Uint32Array(descriptors);
    this.#doubles = new Float64Array(descriptors);
    this.#iov = new Float64Array(iovecs);
    this.#comp = new Int32Array(completions);
    this.#ensureRaw(this.#comp.length / 3);
  }

  #ensureRaw(count: number): void {
    if (this.#rawWords.length >= count * COMPLETION_WORDS) return;
    this.#raw = new ArrayBuffer(Math.max(count, 1) * COMPLETION_WORDS * 4);
    this.#rawWords = new Uint32Array(this.#raw);
    this.#rawSigned = new Int32Array(this.#raw);
    this.#rawAddress = this.#lib.address(this.#raw);
  }

  #live(): void {
    if (!this.#alive) throw new BlkioError('queue has been removed or its Blkio destroyed', ENODEV);
  }

  doIo(descriptors: number, iovecs: number, min: number, max: number, timeoutNs: number): number {
    this.#live();
    for (let i = 0; i < descriptors; i++) this.#enqueue(i * DESC_WORDS);
    if (max > 0) this.#ensureRaw(max);
    let timeout = 0;
    if (timeoutNs >= 0) {
      const sec = Math.floor(timeoutNs / 1e9);
      const t = this.#timeout;
      t[0] = sec % TWO_32;
      t[1] = Math.floor(sec / TWO_32);
      t[2] = timeoutNs - sec * 1e9;
      t[3] = 0;
      timeout = this.#timeoutAddress;
    }
    const lib = this.#lib;
    const n: number = lib.doIo(this.#q, this.#rawAddress, min, max, timeout);
    if (n < 0) throw lib.error(n);
    const raw = this.#rawWords;
    const comp = this.#comp;
    for (let i = 0; i < n; i++) {
      const w = i * COMPLETION_WORDS;
      const slot = raw[w];
      const ret = this.#rawSigned[w + 4];
      comp[3 * i] = slot;
      comp[3 * i + 1] = ret;
      comp[3 * i + 2] = ret < 0 ? lib.messageId(raw[w + 2] + raw[w + 3] * TWO_32) : 0;
      this.#iovecs[slot] = undefined;
    }
    return n;
  }

  #enqueue(w: number): void {
    const words = this.#words;
    const lib = this.#lib;
    const q = this.#q;
    const op = words[w];
    const flags = words[w + 1];
    const slot = words[w + 2];
    const hi = words[w + 5];
    // Offsets up to 2^53 as numbers, beyond as bigints.
    const start = hi < 0x200000 ? hi * TWO_32 + words[w + 4] : (BigInt(hi) << 32n) | BigInt(words[w + 4]);
    const d = w >> 1;
    const len = this.#doubles[d + 3];
    const addr = this.#doubles[d + 4];
    switch (op) {
      case OP_READ:
        return lib.read(q, start, addr, len, slot, flags);
      case OP_WRITE:
        return lib.write(q, start, addr, len, slot, flags);
      case OP_READV:
      case OP_WRITEV: {
        const array = this.#iovecArray(addr, len);
        this.#iovecs[slot] = array;
        const submit = op === OP_READV ? lib.readv : lib.writev;
        return submit(q, start, lib.address(array), len, slot, flags);
      }
      case OP_WRITE_ZEROES:
        return lib.writeZeroes(q, start, len, slot, flags);
      case OP_DISCARD:
        return lib.discard(q, start, len, slot, flags);
      case OP_FLUSH:
        return lib.flush(q, slot, flags);
      default:
        // OP_FAIL (a buffer detached before submission, see src/queue.ts):
        // a library cannot be handed a ready-made completion, so a flush
        // with an unknown flag bit makes it fail the request (EINVAL).
        return lib.flush(q, slot, 0x80000000);
    }
  }

  // struct iovec[count] from the (address, length) doubles the JS queue wrote.
  #iovecArray(first: number, count: number): ArrayBuffer {
    const array = new ArrayBuffer(Math.max(count, 1) * 16);
    const out = new Uint32Array(array);
    const iov = this.#iov;
    for (let i = 0; i < count; i++) {
      const base = iov[2 * (first + i)];
      const length = iov[2 * (first + i) + 1];
      out[4 * i] = base % TWO_32;
      out[4 * i + 1] = Math.floor(base / TWO_32);
      out[4 * i + 2] = length % TWO_32;
      out[4 * i + 3] = Math.floor(length / TWO_32);
    }
    return array;
  }

  messageText(id: number): string | null {
    return this.#lib.messageText(id);
  }

  completionFd(): number {
    this.#live();
    return this.#lib.completionFd(this.#q);
  }

  setCompletionFdEnabled(on: boolean): void {
    this.#live();
    this.#lib.setCompletionFdEnabled(this.#q, on);
  }

  watch(callback: () => void): void {
    this.#live();
    if (this.#watch) throw new BlkioError('completions of this queue are already watched', EBUSY);
    const fd = this.completionFd();
    if (fd < 0) throw new BlkioError('this queue has no completion fd (poll queues do not)', EINVAL);
    this.#watch = addon.watchFd(fd, callback);
    this.#lib.setCompletionFdEnabled(this.#q, true);
  }

  watchRef(ref: boolean): void {
    if (this.#watch) addon.watchFdRef(this.#watch, ref);
  }

  unwatch(): void {
    if (!this.#watch) return;
    addon.unwatchFd(this.#watch);
    this.#watch = null;
  }
}

/**
 * A NativeBlkio for driver in the libblkio-compatible library at path
 * (default: defaultLibraryPath()).
 */
export function createFromLibrary(driver: string, path: string = defaultLibraryPath()): NativeBlkio {
  if (typeof path !== 'string' || path === '')
    throw new BlkioError('library must be a path or a library name such as libblkio.so.1', EINVAL);
  return new LibraryBlkio(loadLibrary(path), driver);
}
