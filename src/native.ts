// The compiled addon and the shapes of its internal classes. Only src/ uses
// these; the public API wraps them.
import * as path from 'node:path';
import { BlkioError } from './errors';

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
  // Text of a completion's message id; without it the addon's table is used.
  messageText?(id: number): string | null;
}

export interface NativeBlkio {
  connect(): void;
  start(): void;
  destroy(): void;
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
}

/** An opaque handle from watchFd; unwatchFd once. */
export interface FdWatch {
  readonly __fdWatch: unique symbol;
}

// dist/src/native.js → ../../build/Release/blkio.node
export const addon: Addon = require(path.join(__dirname, '..', '..', 'build', 'Release', 'blkio.node'));
addon.setErrorClass(BlkioError);
