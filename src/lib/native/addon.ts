// The compiled addon and the shapes of its internal classes. Only src/ uses
// these; the public API wraps them.
import { BlkioError } from '../errors';
import { loadAddon } from './loader';

export const enum PropertyType {
  Bool = 0,
  Int = 1,
  Uint64 = 2,
  Str = 3,
}

export interface NativeRegion {
  addr: bigint;
  len: number;
  iova: bigint;
  fdOffset: number;
  fd: number;
  flags: number;
  buffer: ArrayBuffer;
}

export type DoIo = (descriptors: number, iovecs: number, min: number, max: number, timeoutNs: number) => number;

export interface NativeQueue {
  setBuffers(descriptors: ArrayBuffer, iovecs: ArrayBuffer, completions: ArrayBuffer): void;
  doIo(descriptors: number, iovecs: number, min: number, max: number, timeoutNs: number): number;
  /** doIo as a plain function bound to this queue (cheaper per call), where available. */
  bindDoIo?(): DoIo;
  completionFd(): number;
  setCompletionFdEnabled(on: boolean): void;
  watch(callback: () => void): void;
  watchRef(ref: boolean): void;
  unwatch(): void;
  /** Puts completions [from, from+count) of the last doIo back in front of the queue's others. */
  requeue?(from: number, count: number): void;
  /** Quiescing for moving requests to another device (the addon's drivers). */
  setQuiesced?(on: boolean): void;
  /** Requests the device holds. */
  inFlight?(): number;
  /** Removes the requests that never reached the device; returns their slots, oldest first. */
  takeUnsubmitted?(): number[];
  // Text of a completion's message id; without it the addon's table is used.
  messageText?(id: number): string | null;
}

export interface NativeBlkio {
  connect(): void;
  start(): void;
  destroy(): void;
  /** destroy() with its waiting done off the event loop (the addon's drivers; absent on the libblkio path). */
  close?(): Promise<void>;
  /** connect() / start() on the thread pool (the addon's drivers): nothing else may use the object meanwhile. */
  connectInBackground?(): Promise<void>;
  startInBackground?(): Promise<void>;
  /** mapMemRegion() on the thread pool: nothing else may use the object meanwhile. */
  mapMemRegionInBackground?(region: NativeRegion): Promise<number>;
  /** The capacity property read on the thread pool (it asks the device). */
  capacityInBackground?(): Promise<bigint>;
  get(name: string, type: PropertyType): boolean | number | bigint | string;
  set(name: string, type: PropertyType, value: boolean | number | bigint | string): void;
  allocMemRegion(len: number): NativeRegion;
  freeMemRegion(region: NativeRegion): void;
  mapMemRegion(region: NativeRegion): number;
  unmapMemRegion(region: NativeRegion): void;
  getQueue(poll: boolean, index: number): NativeQueue | null;
  addQueue(poll: boolean): number;
  removeQueue(poll: boolean, index: number): void;
  share(): bigint;
}

interface Addon {
  NativeBlkio: new (driverOrSharedId: string | bigint) => NativeBlkio;
  setErrorClass(cls: typeof BlkioError): void;
  bufferBase(view: ArrayBufferView): number;
  messageText(id: number): string | null;
  // For the libblkio driver (src/libblkio.ts): a completion watcher on a bare
  // fd, and detaching ArrayBuffers over memory a library frees.
  watchFd(fd: number, callback: () => void): FdWatch;
  watchFdRef(watch: FdWatch, ref: boolean): void;
  unwatchFd(watch: FdWatch): void;
  detachArrayBuffer(buffer: ArrayBuffer): void;
  /** The drivers the addon has (addon/drivers/registry.cc). */
  readonly driverNames: readonly string[];
  // The native job loop (src/job-loop.ts, addon/napi/job_loop_object.cc).
  startJobLoop(
    queue: NativeQueue | null | string, spec: object, progress: Float64Array | undefined, onDone: (result: unknown) => void, switchTargets?: NativeQueue[],
    sinkOptions?: 'readwrite' | 'fallocate' | 'ftruncate' | { cpuMode: 'noop' | 'qsort'; cycleNs: number }
      | { fileOp: 'create' | 'stat' | 'lstat' | 'statx' | 'unlink'; files: string[]; fileSize: number }
      | { protocol: string; host?: string; port?: number; listen?: boolean; pingpong?: boolean; nodelay?: boolean; ttl?: number; interface?: string; windowSize?: number; mss?: number },
  ): JobLoopHandle;
  stopJobLoop(handle: JobLoopHandle): void;
  // ioengine=pmemblk: open or create a pool, and its size (addon/napi/job_loop_programs.cc).
  pmemblkPoolInfo(pool: { pmemblk: string; bsize: number; poolSize: number; create: boolean }): { bsize: number; nblocks: number };
}

/** An opaque handle from startJobLoop. */
export interface JobLoopHandle {
  readonly __jobLoop: unique symbol;
}

/** An opaque handle from watchFd; unwatchFd once. */
export interface FdWatch {
  readonly __fdWatch: unique symbol;
}

export const addon: Addon = loadAddon<Addon>();
addon.setErrorClass(BlkioError);
