// The idiomatic layer: `await open({ driver, path })` and Promise methods
// shaped like fs/promises' FileHandle. Requests issued in the same tick go
// to the device in one submission; completions arrive through the queue's
// completion fd on the event loop (no polling, no blocked loop), drained in
// batches. Every request goes through #submit, the one dispatch point.
import { Mutex } from 'async-mutex';
import type { Readable, Writable } from 'node:stream';
import type { ReadableStream } from 'node:stream/web';
import { Blkio, create } from '../blkio';
import { BlkioError, invalidArgument } from '../errors';
import { REQ_FUA } from '../constants';
import { BouncePool } from './bounce-pool';
import { bufferAddress } from '../buffers';
import { Completion, CompletionWatcher, createCompletions, Queue } from '../queue';
import type { DriverName } from '../names';
import { AbortError, onAbort, throwIfAborted } from './abort';
import { AlignedBuffers } from './aligned-buffers';
import {
  checkPosition, DeviceStats, Position, ReadParams, ReadResult, ReadvResult, readArgs,
  RequestOptions, requestOptions, vectoredArgs, WriteOptions, WriteParams, WriteResult, WritevResult, writeArgs,
} from './shapes';
import {
  createReadStream, createWriteStream, readableWebStream, ReadStreamOptions, WriteStreamOptions,
} from './streams';
import { backendName, canMoveRequests, checkCompatible, SwitchReport } from './switching';

export type { SwitchReport } from './switching';
import { DeviceZones } from './zoned';

/** What open() connects to and how: the driver, its path, and properties to set before connect and start. */
export interface OpenOptions {
  /** libblkio driver name: 'io_uring', 'virtio-blk-vhost-user', 'virtio-blk-vhost-vdpa'. */
  driver: DriverName;
  /** The driver's `path`: a file or block device, a vhost-user socket, /dev/vhost-vdpa-N, ... */
  path?: string;
  /** An open file descriptor instead of path, where the driver takes one (`fd` property). */
  fd?: number;
  /** O_DIRECT (io_uring). */
  direct?: boolean;
  /** Open read-only: writes, discards and write-zeroes fail with EBADF. */
  readOnly?: boolean;
  /** Any other properties, set before connect (created state) or before start. */
  properties?: Record<string, string | number | boolean | bigint>;
  /** Bytes of mapped memory for copying unaligned or unmapped buffers (default 8 MiB). */
  bounceBufferSize?: number;
  /**
   * virtio-blk-vhost-user: survive a restart of the backend on the same socket. Requests wait
   * (up to timeoutMs for the backend to come back) instead of failing; see docs/reconnect.md.
   */
  reconnect?: { timeoutMs: number };
}

// Properties that must be set before connect.
const CREATED_STATE = new Set(['path', 'fd', 'direct', 'read-only', 'reconnect-timeout-ms']);

const COMPLETION_BATCH = 256;

// A request's userData: settles its Promise with the completion.
// What a request resolves to: a fixed value, or one made from the completion's ret (a zone report's count).
type Result<R> = R | ((ret: number) => R);
type Settle = (ret: number, errorMsg: string | null) => void;

function setProperty(b: Blkio, name: string, value: string | number | boolean | bigint): void {
  if (typeof value === 'boolean') b.setBool(name, value);
  else b.setStr(name, String(value));
}

const ENODEV = 19;

/** Why requests fail once close() was called: ENODEV, as for a destroyed Blkio. */
function closedError(): BlkioError {
  return new BlkioError('device is closed', ENODEV);
}

// Promise methods never throw: a bad argument (or anything else thrown
// while a request is set up) becomes a rejection, always a BlkioError.
function asBlkioError(e: unknown): BlkioError {
  if (e instanceof BlkioError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new BlkioError(`invalid argument: ${message}`, 22 /* EINVAL */);
}

function rejectThrown(e: unknown): Promise<never> {
  return Promise.reject(asBlkioError(e));
}

function requestError(ret: number, errorMsg: string | null, what: string): BlkioError {
  return new BlkioError(errorMsg ? `${what}: ${errorMsg}` : `${what} failed`, ret);
}

/**
 * An open block device with Promise methods shaped like fs/promises'
 * FileHandle (read, write, readv, writev, stat, streams), plus the block
 * requests flush, discard and writeZeroes. Create it with open(); close it
 * with close() or `await using`.
 */
export class Device {
  // The backend: replaced as a whole by switchTo().
  #blkio: Blkio;
  #bufAlignment: number;
  #queue: Queue;
  #needsRegions: boolean;
  #watcher: CompletionWatcher;
  /** Size in bytes when the device was opened; size() reads the current size. */
  readonly capacity: bigint;
  #requestAlignment: number;
  readonly #readOnly: boolean;
  readonly #completions: Completion[] = createCompletions(COMPLETION_BATCH);
  readonly #control = new Mutex();
  readonly #bounceSize: number;
  readonly #aligned: AlignedBuffers;
  readonly #checkView = (view: Uint8Array): void => this.#aligned.checkNotFreed(view);
  #bounce: BouncePool | null = null;
  // Requests waiting for bounce space, in order.
  readonly #waitingForBounce: (() => void)[] = [];
  #inFlight = 0;
  #flushScheduled = false;
  // Set synchronously by close(): later requests are rejected at once.
  #closed = false;
  #bounceFailure: Error | null = null;
  #failed: Error | null = null;
  // Each request's settle and how it was enqueued (to submit it again on
  // another backend).
  readonly #pending = new Map<Settle, (userData: Settle) => void>();
  #idle: (() => void) | null = null;
  // Switching: requests wait on #held while a switch runs; #bouncing counts
  // requests holding bounce space; #progress wakes a switch waiting for the
  // old backend to finish.
  #held: Promise<void> | null = null;
  #switching = false;
  #bouncing = 0;
  #progress: (() => void) | null = null;
  #zones: DeviceZones | null = null;

  /** @internal use open() */
  constructor(blkio: Blkio, bounceSize: number) {
    this.capacity = blkio.getUint64('capacity');
    this.#readOnly = blkio.getBool('read-only');
    this.#bounceSize = bounceSize;
    this.#aligned = new AlignedBuffers(blkio);
    [this.#blkio, this.#requestAlignment, this.#bufAlignment, this.#needsRegions, this.#queue, this.#watcher] =
      this.#attach(blkio);
  }

  #attach(blkio: Blkio): [Blkio, number, number, boolean, Queue, CompletionWatcher] {
    const q = blkio.getQueue(0);
    if (!q) throw new BlkioError('device has no queue 0', 19);
    const watcher = q.watchCompletions(() => this.#drain());
    const alignments = [blkio.getInt('request-alignment'), blkio.getInt('buf-alignment')];
    return [blkio, alignments[0], alignments[1], blkio.getBool('needs-mem-regions'), q, watcher];
  }

  /** Offsets and lengths must be multiples of this (the backend's `request-alignment`; may grow to 512 in switchTo()). */
  get requestAlignment(): number {
    return this.#requestAlignment;
  }

  /** The libblkio instance underneath (started), for properties and advanced use; another one after switchTo(). */
  get blkio(): Blkio {
    return this.#blkio;
  }

  /** Buffer addresses and lengths must be multiples of this; others go through the bounce pool. */
  get bufAlignment(): number {
    return this.#bufAlignment;
  }

  /**
   * The device's size in bytes now, read from the device (a file grown or
   * truncated, a block device or backend image resized since open).
   */
  size(): Promise<bigint> {
    if (this.#closed) return Promise.reject(closedError());
    // Off the event loop (the device is asked), and apart from other control steps on the same device.
    return this.#control.runExclusive(() => this.blkio._capacityInBackground()).catch((e: unknown) => {
      throw asBlkioError(e);
    });
  }

  /**
   * Reads `length` bytes at `position` into `buffer` from `offset`, as
   * FileHandle.read. Forms: read(buffer, offset?, length?, position,
   * options?), read(buffer, { offset, length, position }), read({ buffer,
   * offset, length, position }). `position` is required; it, and the
   * length, must be multiples of the logical block size. Resolves to
   * `{ bytesRead, buffer }`; a block device never reads short.
   */
  read<T extends ArrayBufferView>(
    buffer: T,
    offset: number | null | undefined,
    length: number | null | undefined,
    position: Position,
    options?: RequestOptions,
  ): Promise<ReadResult<T>>;
  read<T extends ArrayBufferView>(
    buffer: T,
    params: { offset?: number; length?: number; position: Position } & RequestOptions,
  ): Promise<ReadResult<T>>;
  read<T extends ArrayBufferView = Buffer>(params: ReadParams<T>, options?: RequestOptions): Promise<ReadResult<T>>;
  read(...args: unknown[]): Promise<ReadResult<ArrayBufferView>> {
    try {
      const [buffer, offset, length, position, options] = args;
      // The common positional form, checked inline (the hot path).
      if (options === undefined && buffer instanceof Uint8Array && isSmallInt(offset) && isSmallInt(length) && isSmallInt(position)) {
        this.#checkView(buffer);
        const view = plainRange(buffer, offset, length);
        return this.#data(view, position, false, 0, undefined, { bytesRead: length, buffer });
      }
      const r = readArgs(args, this.#checkView);
      return this.#data(r.view, r.position, false, 0, r.signal, { bytesRead: r.view.byteLength, buffer: r.buffer });
    } catch (e) {
      return rejectThrown(e);
    }
  }

  /**
   * Writes `length` bytes of `buffer` from `offset` at `position`, as
   * FileHandle.write: write(buffer, offset?, length?, position, options?)
   * or write(buffer, { offset, length, position }). Resolves to
   * `{ bytesWritten, buffer }` once the device completed it; that is not
   * persistence unless `options.fua` is set (or see flush()).
   */
  write<T extends ArrayBufferView>(
    buffer: T,
    offset: number | null | undefined,
    length: number | null | undefined,
    position: Position,
    options?: WriteOptions,
  ): Promise<WriteResult<T>>;
  write<T extends ArrayBufferView>(buffer: T, params: WriteParams, options?: WriteOptions): Promise<WriteResult<T>>;
  write(...args: unknown[]): Promise<WriteResult<ArrayBufferView>> {
    try {
      const [buffer, offset, length, position, options] = args;
      if (options === undefined && buffer instanceof Uint8Array && isSmallInt(offset) && isSmallInt(length) && isSmallInt(position)) {
        this.#checkView(buffer);
        const view = plainRange(buffer, offset, length);
        return this.#data(view, position, true, 0, undefined, { bytesWritten: length, buffer });
      }
      const r = writeArgs(args, this.#checkView);
      return this.#data(r.view, r.position, true, r.fua ? REQ_FUA : 0, r.signal, { bytesWritten: r.view.byteLength, buffer: r.buffer });
    } catch (e) {
      return rejectThrown(e);
    }
  }

  /** Reads into each buffer in turn from position, as one request. Resolves to `{ bytesRead, buffers }`. */
  readv<T extends ArrayBufferView>(buffers: T[], position: Position, options?: RequestOptions): Promise<ReadvResult<T>> {
    try {
      const r = vectoredArgs(buffers, position, options, false, this.#checkView);
      return this.#vectored(r.views, r.position, r.signal, false, false, { bytesRead: r.length, buffers: r.buffers });
    } catch (e) {
      return rejectThrown(e);
    }
  }

  /** Writes the buffers one after the other from position, as one request. Resolves to `{ bytesWritten, buffers }`. */
  writev<T extends ArrayBufferView>(buffers: T[], position: Position, options?: WriteOptions): Promise<WritevResult<T>> {
    try {
      const r = vectoredArgs(buffers, position, options, true, this.#checkView);
      return this.#vectored(r.views, r.position, r.signal, true, r.fua, { bytesWritten: r.length, buffers: r.buffers });
    } catch (e) {
      return rejectThrown(e);
    }
  }

  /** Makes completed writes persistent (where `flush-needed` says the device caches them). */
  flush(options?: RequestOptions): Promise<void> {
    try {
      const { signal } = requestOptions(options);
      return this.#submit('flush', null, signal, undefined, (ud) => this.#queue.flush(ud));
    } catch (e) {
      return rejectThrown(e);
    }
  }

  /** Tells the device the range's data is no longer needed; reading it afterwards gives unspecified data. */
  discard(position: Position, length: number | bigint, options?: RequestOptions): Promise<void> {
    try {
      const pos = checkPosition(position);
      const { signal } = requestOptions(options);
      return this.#submit('discard', null, signal, undefined, (ud) => this.#queue.discard(pos, length, ud));
    } catch (e) {
      return rejectThrown(e);
    }
  }

  /** Zeroes the range; flags: REQ_NO_UNMAP (keep it allocated), REQ_NO_FALLBACK (fail rather than write zeros), REQ_FUA. */
  writeZeroes(position: Position, length: number | bigint, flags = 0, options?: RequestOptions): Promise<void> {
    try {
      const pos = checkPosition(position);
      const { signal } = requestOptions(options);
      return this.#submit('writeZeroes', null, signal, undefined, (ud) =>
        this.#queue.writeZeroes(pos, length, ud, flags),
      );
    } catch (e) {
      return rejectThrown(e);
    }
  }

  /** The size and the limits requests are planned by (read now, from the device's properties). */
  stat(): Promise<DeviceStats> {
    try {
      if (this.#closed) throw closedError();
      const b = this.blkio;
      const logical = b.getInt('request-alignment');
      return Promise.resolve({
        size: this.capacity,
        logicalBlockSize: logical,
        physicalBlockSize: Math.max(logical, b.getInt('optimal-io-alignment')),
        bufAlignment: b.getInt('buf-alignment'),
        optimalBufAlignment: b.getInt('optimal-buf-alignment'),
        optimalIoSize: b.getInt('optimal-io-size'),
        maxTransfer: b.getInt('max-transfer'),
        maxSegments: b.getInt('max-segments'),
        maxSegmentLen: b.getInt('max-segment-len'),
        discardAlignment: b.getInt('discard-alignment'),
        maxDiscardLen: b.getUint64('max-discard-len'),
        maxWriteZeroesLen: b.getUint64('max-write-zeroes-len'),
        flushNeeded: b.getBool('flush-needed'),
        readOnly: b.getBool('read-only'),
      });
    } catch (e) {
      return rejectThrown(e);
    }
  }

  /**
   * A Buffer of `size` bytes in a memory region of this device's own
   * (allocated and mapped for it, aligned to `mem-region-alignment`):
   * requests use it without the bounce copy. Allocate once and reuse: each
   * call maps a region (a round trip to a vhost-user backend). Valid until
   * freeBuffer() or close(); then its memory is detached (empty in JS) and
   * a request with it is rejected with EFAULT.
   */
  allocBuffer(size: number): Buffer {
    if (this.#closed) throw closedError();
    return this.#aligned.alloc(size);
  }

  /** Releases an allocBuffer() buffer; EBUSY (and nothing freed) while a request still uses it. */
  freeBuffer(buffer: Uint8Array): void {
    if (this.#closed) throw closedError();
    if (!(buffer instanceof Uint8Array)) invalidArgument('freeBuffer() needs a buffer from allocBuffer()');
    this.#aligned.free(buffer);
  }

  /**
   * A Readable of the bytes from `start` to `end` (inclusive, as in fs;
   * default: the whole device), read `highWaterMark` bytes per request with
   * several requests in flight.
   */
  createReadStream(options?: ReadStreamOptions): Readable {
    return createReadStream(this, options);
  }

  /**
   * A Writable that writes from `start` (default 0) in requests of
   * `highWaterMark` bytes, several in flight; a tail that is not a whole
   * block is merged with the device's data (read-modify-write).
   */
  createWriteStream(options?: WriteStreamOptions): Writable {
    return createWriteStream(this, options);
  }

  /** A byte ReadableStream (WHATWG) of the device, as FileHandle.readableWebStream(). */
  readableWebStream(options?: ReadStreamOptions): ReadableStream<Uint8Array> {
    return readableWebStream(this, options);
  }

  /** Zone reports and zone management on a zoned device (see DeviceZones). */
  get zones(): DeviceZones {
    return (this.#zones ??= new DeviceZones(this.blkio, (what, signal, enqueue) =>
      this.#submit(what, null, signal, (ret: number) => ret, (ud) => enqueue(this.#queue, ud))));
  }

  /**
   * Waits for in-flight requests, then releases the device. A device that
   * never completes them (e.g. a VDUSE daemon that died) does not hang the
   * caller: after timeoutMs the remaining requests are rejected with ETIME.
   * Requests issued after this call (even in the same tick) are rejected
   * with ENODEV. Releasing the device (bounded waits for a stalled one)
   * happens off the event loop; the Promise resolves when it is done.
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    try {
      if (typeof options !== 'object' || options === null) invalidArgument('close() options must be an object');
      const timeoutMs = options.timeoutMs ?? 30_000;
      if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0))
        invalidArgument(`timeoutMs must be a non-negative number, got ${String(timeoutMs)}`);
      // Now, not when the mutex is ours: requests issued after this call
      // (even in the same tick) are rejected.
      const first = !this.#closed;
      this.#closed = true;
      return this.#control.runExclusive(() => (first ? this.#shutDown(timeoutMs) : undefined));
    } catch (e) {
      return rejectThrown(e);
    }
  }

  /** close(), for `await using dev = await open(…)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Moves the open device to another backend (`options` as for open():
   * driver, path, properties) while the application keeps issuing requests.
   * The new backend is opened and checked first; then requests issued
   * meanwhile wait, those in flight complete on the old backend (or, where
   * they had not reached its device and the new backend takes their buffers
   * as they are, move to the new one), the old backend is flushed, and the
   * waiting requests run on the new backend. Every request settles once.
   * Rejects with a BlkioError naming why (the new backend fails to open or
   * has another capacity, a larger request-alignment, another read-only
   * state; the device is closed; a switch is running; the old backend does
   * not finish within drainTimeoutMs, default 30 s); the device then stays
   * on the old backend. See docs/switching.md.
   */
  switchTo(options: OpenOptions, control: { drainTimeoutMs?: number } = {}): Promise<SwitchReport> {
    try {
      if (this.#closed) throw new BlkioError('cannot switch: the device is closed', ENODEV);
      if (this.#switching) throw new BlkioError('cannot switch: another switch of this device is running', 16 /* EBUSY */);
      if (typeof control !== 'object' || control === null) invalidArgument('switchTo() control must be an object');
      const timeoutMs = control.drainTimeoutMs ?? 30_000;
      if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0))
        invalidArgument(`drainTimeoutMs must be a non-negative number, got ${String(timeoutMs)}`);
      checkOpenOptions(options);
      this.#switching = true;
      return this.#switch(options, timeoutMs).finally(() => (this.#switching = false));
    } catch (e) {
      return rejectThrown(e);
    }
  }

  async #switch(options: OpenOptions, timeoutMs: number): Promise<SwitchReport> {
    const from = backendName(this.#blkio);
    // Opened and checked while requests still flow to the old backend.
    const next = await startBlkio(options);
    const to = backendName(next);
    let settled = false;
    let old: Blkio | null = null;
    let report: SwitchReport;
    try {
      const contract = { capacity: this.capacity, requestAlignment: this.requestAlignment, readOnly: this.#readOnly, name: from };
      checkCompatible(contract, next);
      // Before requests are held, to keep the pause short: the new backend's
      // bounce pool, and a first flush of the old backend (the one in the
      // pause then has little left to write back).
      const pool = next.getBool('needs-mem-regions') ? await this.#mapBouncePool(true, next) : null;
      if (!this.#closed && !this.#failed && !this.#held) {
        const flushed = this.#enqueue('flush of the old backend', undefined, undefined, (ud) => this.#queue.flush(ud));
        flushed.catch(() => undefined); // its failure is the switch's, or nobody's after a timeout
        await this.#until(() => settled, Date.now() + timeoutMs, flushed.then(() => (settled = true)));
      }
      report = await this.#control.runExclusive(async () => {
        if (this.#closed) throw new BlkioError('cannot switch: the device was closed meanwhile', ENODEV);
        if (this.#failed) throw new BlkioError(`cannot switch: the device failed (${this.#failed.message})`, 5 /* EIO */);
        const started = performance.now();
        let release!: () => void;
        this.#held = new Promise<void>((resolve) => (release = resolve));
        try {
          const moved = await this.#handOver(next, pool, timeoutMs);
          old = moved.old;
          return { pauseMs: performance.now() - started, inflightMoved: moved.count, from, to };
        } finally {
          this.#held = null;
          release();
        }
      });
    } catch (e) {
      await next._destroyInBackground();
      throw asBlkioError(e);
    }
    // Nothing uses the old backend any more.
    await (old as Blkio | null)?._destroyInBackground();
    return report;
  }

  // With new requests held: lets the old backend finish (taking back what
  // never reached its device, where that can move), flushes it, and puts
  // the new backend in its place. On failure the old backend stays.
  async #handOver(next: Blkio, pool: BouncePool | null, timeoutMs: number): Promise<{ old: Blkio; count: number }> {
    const oldQueue = this.#queue;
    const deadline = Date.now() + timeoutMs;
    let taken: Settle[] = [];
    if (canMoveRequests(this.#bounce !== null, this.#bufAlignment, next)) {
      oldQueue.setQuiesced(true);
      try {
        await this.#until(() => this.#failed !== null || oldQueue.inFlight === 0, deadline);
        taken = oldQueue.takeUnsubmitted() as Settle[];
      } finally {
        oldQueue.setQuiesced(false);
      }
    }
    try {
      await this.#until(
        () => this.#failed !== null || (this.#inFlight === taken.length && this.#bouncing === 0 && this.#waitingForBounce.length === 0),
        deadline,
      );
      if (this.#failed) throw this.#failed;
      // Writes the old backend acknowledged become persistent there: a
      // flush() issued later reaches the new backend only.
      await this.#enqueue('flush of the old backend', undefined, undefined, (ud) => oldQueue.flush(ud));
    } catch (e) {
      // Back where they were, in order.
      if (!this.#failed) for (const settle of taken) this.#pending.get(settle)!(settle);
      if (taken.length) this.#flush();
      throw e;
    }
    const old = this.#blkio;
    this.#watcher.close();
    [this.#blkio, this.#requestAlignment, this.#bufAlignment, this.#needsRegions, this.#queue, this.#watcher] =
      this.#attach(next);
    this.#bounce = pool;
    this.#bounceFailure = null;
    this.#zones = null; // it reads the backend's properties
    for (const settle of taken) this.#pending.get(settle)!(settle);
    if (this.#inFlight > 0) {
      this.#watcher.ref();
      this.#flush();
    }
    return { old, count: taken.length };
  }

  // Waits until done() (re-checked whenever requests progress) or the deadline.
  async #until(done: () => boolean, deadline: number, failure?: Promise<unknown>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    // A request whose failure ends the wait (its success wakes it through done()).
    let failed: unknown = null;
    failure?.then(
      () => this.#progress?.(),
      (e) => ((failed = e ?? new Error('failed')), this.#progress?.()),
    );
    try {
      while (!done()) {
        if (failed) throw failed;
        const left = deadline - Date.now();
        if (left <= 0)
          throw new BlkioError(
            `cannot switch: the old backend did not complete its requests in time (${this.#inFlight} still in flight)`,
            62 /* ETIME */,
          );
        await new Promise<void>((resolve) => {
          this.#progress = resolve;
          timer = setTimeout(resolve, left);
        });
        clearTimeout(timer);
      }
    } finally {
      clearTimeout(timer);
      this.#progress = null;
    }
  }

  async #shutDown(timeoutMs: number): Promise<void> {
    if (this.#inFlight > 0 || this.#waitingForBounce.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<boolean>((resolve) => (this.#idle = () => resolve(true)));
      const expired = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
      const finished = await Promise.race([idle, expired]);
      clearTimeout(timer);
      if (!finished) {
        this.#idle = null;
        this.#failAll(new BlkioError(`device did not complete the request within ${timeoutMs} ms of close()`, 62 /* ETIME */));
      }
    }
    this.#watcher.close();
    this.#aligned.forgetAll();
    // The device may hold requests still (a stalled backend): waiting for
    // them happens off the event loop.
    await this.blkio._destroyInBackground();
  }

  // A data request: zero-copy when the device can use the buffer as is,
  // otherwise through the bounce pool.
  #data<R>(buf: Uint8Array, offset: Position, writing: boolean, flags: number, signal: AbortSignal | undefined, result: R): Promise<R> {
    if (this.#held) return this.#held.then(() => this.#data(buf, offset, writing, flags, signal, result));
    if (buf.byteLength === 0) {
      // As fs: nothing to transfer, no request.
      throwIfAborted(signal);
      return Promise.resolve(result);
    }
    const what = writing ? 'write' : 'read';
    if (!this.#needsBounce(buf)) {
      return this.#submit(what, null, signal, result, (ud) =>
        writing ? this.#queue.write(offset, buf, ud, flags) : this.#queue.read(offset, buf, ud),
      );
    }
    return this.#withBounce(buf.byteLength, signal, (bounce) => {
      if (writing) bounce.set(buf);
      return this.#submit(what, bounce, signal, result, (ud) =>
        writing ? this.#queue.write(offset, bounce, ud, flags) : this.#queue.read(offset, bounce, ud),
      ).then((res) => {
        if (!writing) buf.set(bounce);
        return res;
      });
    });
  }

  #vectored<R>(
    buffers: Uint8Array[],
    offset: Position,
    signal: AbortSignal | undefined,
    writing: boolean,
    fua: boolean,
    result: R,
  ): Promise<R> {
    const flags = fua ? REQ_FUA : 0;
    if (this.#held) return this.#held.then(() => this.#vectored(buffers, offset, signal, writing, fua, result));
    const what = writing ? 'writev' : 'readv';
    if (!buffers.some((b) => this.#needsBounce(b))) {
      return this.#submit(what, null, signal, result, (ud) =>
        writing ? this.#queue.writev(offset, buffers, ud, flags) : this.#queue.readv(offset, buffers, ud),
      );
    }
    // Gather into one bounce buffer: the device sees a single segment.
    const total = buffers.reduce((n, b) => n + b.byteLength, 0);
    return this.#withBounce(total, signal, (bounce) => {
      if (writing) {
        let at = 0;
        for (const b of buffers) (bounce.set(b, at), (at += b.byteLength));
      }
      return this.#submit(what, bounce, signal, result, (ud) =>
        writing ? this.#queue.write(offset, bounce, ud, flags) : this.#queue.read(offset, bounce, ud),
      ).then((res) => {
        if (writing) return res;
        let at = 0;
        for (const b of buffers) (b.set(bounce.subarray(at, at + b.byteLength)), (at += b.byteLength));
        return res;
      });
    });
  }

  #needsBounce(buf: Uint8Array): boolean {
    if (this.#bounce && buf.buffer === this.#bounce.buffer) return false;
    if (this.#needsRegions && !this.#aligned.owns(buf)) return true;
    const align = this.bufAlignment;
    return align > 1 && (buf.byteOffset % align !== 0 || buf.byteLength % align !== 0 || !isAlignedBase(buf, align));
  }

  async #withBounce<R>(length: number, signal: AbortSignal | undefined, use: (bounce: Uint8Array) => Promise<R>): Promise<R> {
    let pool: BouncePool;
    for (;;) {
      if (this.#failed) throw this.#failed;
      if (this.#closed) throw closedError();
      throwIfAborted(signal);
      if (this.#held) {
        await this.#held;
        continue;
      }
      pool = await this.#bouncePool();
      // Bounce space is taken only while no switch holds requests, from the
      // pool of the backend the request will reach. A switch that began
      // during the await above has already waited for the requests holding
      // space (#bouncing) and would never see this one: it would reach the
      // old backend after its last drain, and never complete.
      if (!this.#held && pool === this.#bounce) break;
    }
    if (length > pool.size)
      throw new BlkioError(`request of ${length} bytes exceeds the bounce buffer (bounceBufferSize ${pool.size})`, 22);
    // Counted until its space is released: a switch waits for that.
    this.#bouncing++;
    let bounce: Uint8Array | null = null;
    try {
      bounce = pool.alloc(length);
      while (!bounce) {
        // Aborted while waiting: it leaves the line, nothing was issued.
        await new Promise<void>((resolve, reject) => {
          const stop = onAbort(signal, () => {
            const i = this.#waitingForBounce.indexOf(wake);
            if (i >= 0) this.#waitingForBounce.splice(i, 1);
            reject(new AbortError(signal!.reason));
          });
          const wake = (): void => (stop(), resolve());
          this.#waitingForBounce.push(wake);
        });
        if (this.#failed) throw this.#failed;
        throwIfAborted(signal);
        bounce = pool.alloc(length);
      }
      return await use(bounce);
    } finally {
      if (bounce) pool.release(bounce);
      this.#bouncing--;
      this.#waitingForBounce.shift()?.();
      this.#maybeIdle();
    }
  }

  // Allocated and mapped on first use. A mapping the device refuses (e.g.
  // its backend is gone) fails every later bounced request at once, with
  // that error, instead of allocating (and leaking) a region per request.
  async #bouncePool(): Promise<BouncePool> {
    if (this.#bounce) return this.#bounce;
    return this.#control.runExclusive(async () => {
      if (this.#bounce) return this.#bounce;
      if (this.#bounceFailure) throw this.#bounceFailure;
      // (Requests admitted before close() still get here after it.)
      this.#bounce = await this.#mapBouncePool(false);
      return this.#bounce;
    });
  }

  // Off the event loop only while nothing else can use the device (open()):
  // a request completing meanwhile would race the mapping.
  // (Also for the backend a switch is about to put in place.)
  async #mapBouncePool(inBackground: boolean, blkio = this.#blkio): Promise<BouncePool> {
    const align = Number(blkio.getUint64('mem-region-alignment'));
    const pageAligned = Math.max(align, 4096);
    const size = Math.ceil(this.#bounceSize / pageAligned) * pageAligned;
    const region = blkio.allocMemRegion(size);
    try {
      if (inBackground) await blkio._mapMemRegionInBackground(region);
      else blkio.mapMemRegion(region);
    } catch (e) {
      blkio.freeMemRegion(region);
      if (blkio === this.#blkio) this.#bounceFailure = e as Error;
      throw e;
    }
    return new BouncePool(region.buffer, Math.max(blkio.getInt('buf-alignment'), 1));
  }

  /**
   * @internal For open(): a device that needs memory regions uses the bounce
   * pool for every request, so it is mapped now, off the event loop.
   */
  async _prepare(): Promise<void> {
    if (this.#needsRegions) this.#bounce = await this.#mapBouncePool(true);
  }

  // The one dispatch point of every request. A request with bounce space
  // was admitted before close() (it waited for that space), so it still
  // goes ahead. Abort: before this point nothing is issued; until the
  // tick's submission the request is taken out of the batch; after it, no
  // driver can take a submitted request back, so the Promise rejects with
  // AbortError when the completion says the buffer is free again.
  #submit<R>(
    what: string,
    bounce: Uint8Array | null,
    signal: AbortSignal | undefined,
    result: Result<R>,
    enqueue: (userData: Settle) => void,
  ): Promise<R> {
    if (this.#held && bounce === null) return this.#held.then(() => this.#submit(what, null, signal, result, enqueue));
    if (this.#failed) return Promise.reject(this.#failed);
    if (this.#closed && bounce === null) return Promise.reject(closedError());
    if (signal?.aborted) return Promise.reject(new AbortError(signal.reason));
    return this.#enqueue(what, signal, result, enqueue);
  }

  #enqueue<R>(what: string, signal: AbortSignal | undefined, result: Result<R>, enqueue: (userData: Settle) => void): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      // Aborted while still in this tick's batch: the device never sees it.
      const stop = signal ? onAbort(signal, () => this.#queue._cancelQueued(settle)) : undefined;
      const settle: Settle = (ret, msg) => {
        stop?.();
        if (signal?.aborted) reject(new AbortError(signal.reason));
        else if (ret < 0) reject(requestError(ret, msg, what));
        else resolve(typeof result === 'function' ? (result as (ret: number) => R)(ret) : result);
      };
      enqueue(settle); // throws only for arguments of the wrong type
      this.#pending.set(settle, enqueue);
      if (this.#inFlight++ === 0) this.#watcher.ref();
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        queueMicrotask(() => this.#flush());
      }
    });
  }

  // One submission for everything enqueued this tick.
  #flush(): void {
    this.#flushScheduled = false;
    try {
      this.#queue.doIo(this.#completions, 0, 0);
    } catch (e) {
      this.#failAll(e as Error);
    }
  }

  #drain(): void {
    const completions = this.#completions;
    for (;;) {
      let n: number;
      try {
        n = this.#queue.doIo(completions, 0, completions.length);
      } catch (e) {
        this.#failAll(e as Error);
        return;
      }
      for (let i = 0; i < n; i++) {
        const c = completions[i];
        const settle = c.userData as Settle;
        c.userData = undefined;
        this.#pending.delete(settle);
        this.#inFlight--;
        settle(c.ret, c.errorMsg);
      }
      if (n < completions.length) break;
    }
    this.#maybeIdle();
  }

  #maybeIdle(): void {
    this.#progress?.();
    if (this.#inFlight > 0) return;
    this.#watcher.unref();
    if (this.#idle && this.#waitingForBounce.length === 0) {
      const idle = this.#idle;
      this.#idle = null;
      idle();
    }
  }

  // The queue itself failed (e.g. the device went away): every request
  // still pending is rejected with that error, and so is every later one.
  #failAll(error: Error): void {
    this.#failed = error;
    const pending = [...this.#pending.keys()];
    this.#pending.clear();
    this.#inFlight = 0;
    const errno = error instanceof BlkioError ? error.errno : -5; /* EIO */
    for (const settle of pending) settle(errno, error.message);
    for (const wake of this.#waitingForBounce.splice(0)) wake();
    this.#maybeIdle();
  }
}

function isSmallInt(n: unknown): n is number {
  return typeof n === 'number' && n >= 0 && n <= Number.MAX_SAFE_INTEGER && Number.isInteger(n);
}

// buffer[offset, offset + length) as a view (the buffer itself when whole),
// or EINVAL as the general path reports it.
function plainRange(buffer: Uint8Array, offset: number, length: number): Uint8Array {
  const size = buffer.byteLength;
  if (offset > size) invalidArgument(`offset must be an integer from 0 to ${size}, got ${offset}`);
  if (length > size - offset) invalidArgument(`length must be an integer from 0 to ${size - offset}, got ${length}`);
  return offset === 0 && length === size ? buffer : buffer.subarray(offset, offset + length);
}

function isAlignedBase(buf: Uint8Array, align: number): boolean {
  // Node Buffers from the pool and small typed arrays have arbitrary bases.
  return bufferAddress(buf) % align === 0;
}

function checkOpenOptions(options: OpenOptions): number {
  if (typeof options !== 'object' || options === null) invalidArgument('open() needs an options object');
  const bounceSize = options.bounceBufferSize ?? 8 << 20;
  if (!Number.isSafeInteger(bounceSize) || bounceSize <= 0)
    invalidArgument(`bounceBufferSize must be a positive integer, got ${String(options.bounceBufferSize)}`);
  if (options.properties !== undefined && (typeof options.properties !== 'object' || options.properties === null))
    invalidArgument('properties must be an object');
  return bounceSize;
}

/** Opens a device: create, set properties, connect, start, watch completions. */
export async function open(options: OpenOptions): Promise<Device> {
  const bounceSize = checkOpenOptions(options);
  const b = await startBlkio(options);
  try {
    const dev = new Device(b, bounceSize);
    await dev._prepare();
    return dev;
  } catch (e) {
    await b._destroyInBackground();
    throw asBlkioError(e);
  }
}

// A started Blkio for options (open() and switchTo()).
async function startBlkio(options: OpenOptions): Promise<Blkio> {
  const b = create(options.driver);
  try {
    if (options.path !== undefined) b.setStr('path', options.path);
    if (options.fd !== undefined) b.setInt('fd', options.fd);
    if (options.direct !== undefined) b.setBool('direct', options.direct);
    if (options.readOnly !== undefined) b.setBool('read-only', options.readOnly);
    if (options.reconnect !== undefined) b.setInt('reconnect-timeout-ms', options.reconnect?.timeoutMs);
    const props = Object.entries(options.properties ?? {});
    for (const [name, value] of props) if (CREATED_STATE.has(name)) setProperty(b, name, value);
    // Both talk to the device (a vhost-user handshake, vDPA setup): off the event loop.
    await b._connectInBackground();
    for (const [name, value] of props) if (!CREATED_STATE.has(name)) setProperty(b, name, value);
    await b._startInBackground();
    return b;
  } catch (e) {
    await b._destroyInBackground();
    throw asBlkioError(e);
  }
}

