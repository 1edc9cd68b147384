// The fs/promises FileHandle shapes of the Promise layer's requests: the
// argument forms read/write/readv/writev accept, normalized here into
// (position, view, options), and what they resolve to.
import { invalidArgument } from '../errors';
import { checkSignal } from './abort';

/** A byte offset on the device: a number (safe integer) or a bigint. */
export type Position = number | bigint;

/** The last argument of every request method. */
export interface RequestOptions {
  /** Aborts the request: see {@link AbortError}. */
  signal?: AbortSignal;
}

/** The last argument of write() and writev(). */
export interface WriteOptions extends RequestOptions {
  /** Force unit access: the data is persistent when the Promise resolves (libblkio BLKIO_REQ_FUA). */
  fua?: boolean;
}

/** read()'s object form, as FileHandle.read(options). */
export interface ReadParams<T extends ArrayBufferView = Buffer> extends RequestOptions {
  /** Where the data goes (default: a new 16 KiB Buffer, as in fs). */
  buffer?: T;
  /** Where in buffer the data starts (default 0). */
  offset?: number;
  /** Bytes to read (default: the rest of buffer after offset). */
  length?: number;
  /** Where on the device to read from: required, a device has no file position. */
  position: Position;
}

/** write()'s object form (the second argument), as FileHandle.write(buffer, options). */
export interface WriteParams extends WriteOptions {
  offset?: number;
  length?: number;
  /** Where on the device to write: required, a device has no file position. */
  position: Position;
}

/** What read() resolves to. Block devices never read short: bytesRead is the length asked for. */
export interface ReadResult<T extends ArrayBufferView> {
  bytesRead: number;
  buffer: T;
}

/** What write() resolves to. */
export interface WriteResult<T extends ArrayBufferView> {
  bytesWritten: number;
  buffer: T;
}

/** What readv() resolves to. */
export interface ReadvResult<T extends ArrayBufferView> {
  bytesRead: number;
  buffers: T[];
}

/** What writev() resolves to. */
export interface WritevResult<T extends ArrayBufferView> {
  bytesWritten: number;
  buffers: T[];
}

/** What stat() resolves to: the size and the limits requests are planned by. */
export interface DeviceStats {
  /** Capacity in bytes. */
  size: bigint;
  /** Smallest unit of I/O: offsets and lengths must be multiples of it (libblkio `request-alignment`). */
  logicalBlockSize: number;
  /** The device's own block: smaller writes cost a read-modify-write (`optimal-io-alignment`, at least the logical block). */
  physicalBlockSize: number;
  /** Buffer addresses and lengths must be multiples of this (`buf-alignment`); others are copied through the bounce pool. */
  bufAlignment: number;
  /** Buffer alignment that performs best (`optimal-buf-alignment`). */
  optimalBufAlignment: number;
  /** Request size that performs best, 0 if the device does not say (`optimal-io-size`). */
  optimalIoSize: number;
  /** Largest request in bytes, 0 if unlimited (`max-transfer`). */
  maxTransfer: number;
  /** Most buffers in one readv/writev, 0 if unlimited (`max-segments`). */
  maxSegments: number;
  /** Largest buffer of a readv/writev, 0 if unlimited (`max-segment-len`). */
  maxSegmentLen: number;
  /** Discards should start at multiples of this (`discard-alignment`). */
  discardAlignment: number;
  /** Largest discard in bytes, 0 if unlimited (`max-discard-len`). */
  maxDiscardLen: bigint;
  /** Largest write-zeroes in bytes, 0 if unlimited (`max-write-zeroes-len`). */
  maxWriteZeroesLen: bigint;
  /** Whether writes need flush() (or `fua`) to be persistent (`flush-needed`). */
  flushNeeded: boolean;
  /** Whether the device refuses writes. */
  readOnly: boolean;
}

/** A request normalized: the bytes to transfer, where, and how. */
export interface DataRequest<T extends ArrayBufferView> {
  /** The caller's buffer, returned in the result. */
  buffer: T;
  /** The bytes the device transfers: a Uint8Array view of buffer[offset, offset + length). */
  view: Uint8Array;
  position: Position;
  signal: AbortSignal | undefined;
  fua: boolean;
}

export function checkPosition(position: unknown, what = 'position'): Position {
  if (position === undefined || position === null || position === -1)
    invalidArgument(`${what} is required: a device has no file position`);
  if (typeof position === 'bigint') {
    if (position < 0n || position >= 1n << 64n) invalidArgument(`${what} must fit in 64 unsigned bits, got ${position}`);
    return position;
  }
  if (typeof position !== 'number' || !Number.isSafeInteger(position) || position < 0)
    invalidArgument(`${what} must be a non-negative integer or bigint, got ${String(position)}`);
  return position;
}

/** A Uint8Array over any ArrayBufferView's bytes (the view itself when it is one). */
export function bytesOf(buffer: unknown, what: string): Uint8Array {
  if (buffer instanceof Uint8Array) return buffer;
  if (!ArrayBuffer.isView(buffer)) invalidArgument(`${what} must be a Buffer, TypedArray or DataView`);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function checkInteger(value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    invalidArgument(`${what} must be an integer from ${min} to ${max}, got ${String(value)}`);
  return value;
}

function checkObject(value: unknown, what: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null) invalidArgument(`${what} must be an object`);
  return value as Record<string, unknown>;
}

function checkFua(fua: unknown): boolean {
  if (fua !== undefined && typeof fua !== 'boolean') invalidArgument('options.fua must be a boolean');
  return fua === true;
}

// buffer, offset, length, position, options: the positional form shared by
// read() and write(); offset and length default as in fs.
function positional<T extends ArrayBufferView>(
  buffer: T,
  offset: unknown,
  length: unknown,
  position: unknown,
  options: Record<string, unknown>,
  writing: boolean,
  checkView: (view: Uint8Array) => void,
): DataRequest<T> {
  const bytes = bytesOf(buffer, 'buffer');
  checkView(bytes);
  const off = offset === undefined || offset === null ? 0 : checkInteger(offset, 'offset', 0, bytes.byteLength);
  const len =
    length === undefined || length === null
      ? bytes.byteLength - off
      : checkInteger(length, 'length', 0, bytes.byteLength - off);
  const pos = checkPosition(position);
  const signal = checkSignal(options.signal);
  const fua = writing ? checkFua(options.fua) : false;
  const view = off === 0 && len === bytes.byteLength ? bytes : bytes.subarray(off, off + len);
  return { buffer, view, position: pos, signal, fua };
}

const DEFAULT_READ_BUFFER = 16384;

/** read(buffer, offset?, length?, position, options?), read(buffer, params) or read(params, options?). */
/** checkView sees the buffer before anything else is checked (a freed buffer is reported as such). */
export function readArgs(args: unknown[], checkView: (view: Uint8Array) => void): DataRequest<ArrayBufferView> {
  const [first, second] = args;
  if (ArrayBuffer.isView(first)) {
    if (typeof second === 'object' && second !== null) {
      const p = second as Record<string, unknown>;
      return positional(first, p.offset, p.length, p.position, { ...p, ...checkObject(args[2], 'options') }, false, checkView);
    }
    return positional(first, second, args[2], args[3], checkObject(args[4], 'options'), false, checkView);
  }
  if (typeof first === 'object' && first !== null) {
    const p = first as Record<string, unknown>;
    const buffer = p.buffer === undefined ? Buffer.alloc(DEFAULT_READ_BUFFER) : (p.buffer as ArrayBufferView);
    if (!ArrayBuffer.isView(buffer)) invalidArgument('buffer must be a Buffer, TypedArray or DataView');
    return positional(buffer, p.offset, p.length, p.position, { ...p, ...checkObject(second, 'options') }, false, checkView);
  }
  return invalidArgument('read() needs a buffer or an object with position (and optionally buffer, offset, length)');
}

/** write(buffer, offset?, length?, position, options?) or write(buffer, params, options?). */
export function writeArgs(args: unknown[], checkView: (view: Uint8Array) => void): DataRequest<ArrayBufferView> {
  const [buffer, second] = args;
  if (!ArrayBuffer.isView(buffer)) invalidArgument('buffer must be a Buffer, TypedArray or DataView');
  if (typeof second === 'object' && second !== null) {
    const p = second as Record<string, unknown>;
    return positional(buffer, p.offset, p.length, p.position, { ...p, ...checkObject(args[2], 'options') }, true, checkView);
  }
  return positional(buffer, second, args[2], args[3], checkObject(args[4], 'options'), true, checkView);
}

/** A vectored request normalized. */
export interface VectoredRequest<T extends ArrayBufferView> {
  buffers: T[];
  views: Uint8Array[];
  length: number;
  position: Position;
  signal: AbortSignal | undefined;
  fua: boolean;
}

/** readv(buffers, position, options?) and writev(buffers, position, options?). */
export function vectoredArgs<T extends ArrayBufferView>(
  buffers: T[],
  position: unknown,
  options: unknown,
  writing: boolean,
  checkView: (view: Uint8Array) => void,
): VectoredRequest<T> {
  if (!Array.isArray(buffers)) invalidArgument('buffers must be an array of ArrayBufferViews');
  const views = buffers.map((b) => bytesOf(b, 'every buffer'));
  views.forEach(checkView);
  const pos = checkPosition(position);
  const o = checkObject(options, 'options');
  const signal = checkSignal(o.signal);
  const fua = writing ? checkFua(o.fua) : false;
  const length = views.reduce((n, v) => n + v.byteLength, 0);
  return { buffers, views, length, position: pos, signal, fua };
}

/** The options argument of flush/discard/writeZeroes. */
export function requestOptions(options: unknown): { signal: AbortSignal | undefined } {
  return { signal: checkSignal(checkObject(options, 'options').signal) };
}
