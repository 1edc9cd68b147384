// A libblkio-compatible shared library loaded with koffi: its C functions,
// declared once per library, and the decoding of its static error strings.
import type * as Koffi from 'koffi';
import { constants } from 'node:os';
import { BlkioError, errnoName } from '../errors';

const { ENOENT } = constants.errno;

/** The library used when none is named: $BLKIO_LIBRARY, else the system's libblkio.so.1. */
export function defaultLibraryPath(): string {
  return process.env.BLKIO_LIBRARY || 'libblkio.so.1';
}

export type CFunction = (...args: any[]) => any;

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
export interface RegionStruct {
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
export class Library {
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

export function loadLibrary(path: string): Library {
  let lib = libraries.get(path);
  if (!lib) {
    lib = new Library(path);
    libraries.set(path, lib);
  }
  return lib;
}
