// The idiomatic layer: `await open({ driver, path })` and Promise methods.
// Requests issued in the same tick go to the device in one submission;
// completions arrive through the queue's completion fd on the event loop
// (no polling, no blocked loop), drained in batches.
import { Mutex } from 'async-mutex';
import { Blkio, create } from '../blkio';
import { BlkioError, invalidArgument } from '../errors';
import { BouncePool } from './bounce-pool';
import { bufferAddress } from '../buffers';
import { Completion, CompletionWatcher, createCompletions, Queue } from '../queue';
import type { DriverName } from '../names';
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

function checkOffset(offset: unknown): void {
  if (typeof offset === 'bigint' ? offset < 0n : !Number.isSafeInteger(offset) || (offset as number) < 0)
    invalidArgument(`offset must be a non-negative integer or bigint, got ${String(offset)}`);
}

function checkBuffer(buf: unknown, what: string): void {
  if (!(buf instanceof Uint8Array)) invalidArgument(`${what} must be a Uint8Array`);
}

function checkBuffers(buffers: unknown): void {
  if (!Array.isArray(buffers)) invalidArgument('buffers must be an array of Uint8Array');
  for (const b of buffers) checkBuffer(b, 'every buffer');
}

function requestError(ret: number, errorMsg: string | null, what: string): BlkioError {
  return new BlkioError(errorMsg ? `${what}: ${errorMsg}` : `${what} failed`, ret);
}

/** An open block device with Promise methods. Create it with open(). */
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

  /** Reads into buffer (filling it) or into a new Uint8Array of length bytes. */
  read(offset: number | bigint, lengthOrBuffer: number | Uint8Array): Promise<Uint8Array> {
    try {
      checkOffset(offset);
      let target: Uint8Array;
      if (typeof lengthOrBuffer === 'number') {
        if (!Number.isSafeInteger(lengthOrBuffer) || lengthOrBuffer < 0)
          invalidArgument(`length must be a non-negative integer, got ${lengthOrBuffer}`);
        target = new Uint8Array(lengthOrBuffer);
      } else {
        checkBuffer(lengthOrBuffer, 'buffer');
        target = lengthOrBuffer;
      }
      return this.#data(offset, target, false).then(() => target);
    } catch (e) {
      return rejectThrown(e);
    }
  }

  /** Writes data at offset; resolves once the device completed it (not a flush: see flush()). */
  write(offset: number | bigint, data: Uint8Array): Promise<void> {
    try {
      checkOffset(offset);
      checkBuffer(data, 'data');
      return this.#data(offset, data, true);
    } catch (e) {
      return rejectThrown(e);
    }
  }

  /** Reads into each buffer in turn, as one request. */
  readv(offset: number | bigint, buffers: Uint8Array[]): Promise<void> {
    return this.#vectored(offset, buffers, false);
  }

  /** Writes the buffers one after the other from offset, as one request. */
  writev(offset: number | bigint, buffers: Uint8Array[]): Promise<void> {
    return this.#vectored(offset, buffers, true);
  }

  /** Makes completed writes persistent (where `flush-needed` says the device caches them). */
  flush(): Promise<void> {
    return this.#submit('flush', null, (ud) => this.#queue.flush(ud));
  }

  /** Tells the device the range's data is no longer needed; reading it afterwards gives unspecified data. */
  discard(offset: number | bigint, length: number | bigint): Promise<void> {
    return this.#submit('discard', null, (ud) => this.#queue.discard(offset, length, ud));
  }

  /** Zeroes the range; flags: REQ_NO_UNMAP (keep it allocated), REQ_NO_FALLBACK (fail rather than write zeros). */
  writeZeroes(offset: number | bigint, length: number | bigint, flags = 0): Promise<void> {
    return this.#submit('writeZeroes', null, (ud) => this.#queue.writeZeroes(offset, length, ud, flags));
  }

  /** Zone reports and zone management on a zoned device (see DeviceZones). */
  get zones(): DeviceZones {
    return (this.#zones ??= new DeviceZones(this.blkio, (what, enqueue) => this.#counted(what, enqueue)));
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
        const flushed = this.#enqueue('flush of the old backend', (ud) => this.#queue.flush(ud));
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
      await this.#enqueue('flush of the old backend', (ud) => oldQueue.flush(ud));
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
          throw new BlkioError('cannot switch: the old backend did not complete its requests in time', 62 /* ETIME */);
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
    // The device may hold requests still (a stalled backend): waiting for
    // them happens off the event loop.
    await this.blkio._destroyInBackground();
  }

  // A data request: zero-copy when the device can use the buffer as is,
  // otherwise through the bounce pool.
  #data(offset: number | bigint, buf: Uint8Array, writing: boolean): Promise<void> {
    if (this.#held) return this.#held.then(() => this.#data(offset, buf, writing));
    const what = writing ? 'write' : 'read';
    if (!this.#needsBounce(buf)) {
      return this.#submit(what, null, (ud) =>
        writing ? this.#queue.write(offset, buf, ud) : this.#queue.read(offset, buf, ud),
      );
    }
    return this.#withBounce(buf.byteLength, (bounce) => {
      if (writing) bounce.set(buf);
      return this.#submit(what, bounce, (ud) =>
        writing ? this.#queue.write(offset, bounce, ud) : this.#queue.read(offset, bounce, ud),
      ).then(() => {
        if (!writing) buf.set(bounce);
      });
    });
  }

  #vectored(offset: number | bigint, buffers: Uint8Array[], writing: boolean): Promise<void> {
    try {
      checkOffset(offset);
      checkBuffers(buffers);
    } catch (e) {
      return rejectThrown(e);
    }
    if (this.#held) return this.#held.then(() => this.#vectored(offset, buffers, writing));
    const what = writing ? 'writev' : 'readv';
    if (!buffers.some((b) => this.#needsBounce(b))) {
      return this.#submit(what, null, (ud) =>
        writing ? this.#queue.writev(offset, buffers, ud) : this.#queue.readv(offset, buffers, ud),
      );
    }
    // Gather into one bounce buffer: the device sees a single segment.
    const total = buffers.reduce((n, b) => n + b.byteLength, 0);
    return this.#withBounce(total, (bounce) => {
      if (writing) {
        let at = 0;
        for (const b of buffers) (bounce.set(b, at), (at += b.byteLength));
      }
      return this.#submit(what, bounce, (ud) =>
        writing ? this.#queue.write(offset, bounce, ud) : this.#queue.read(offset, bounce, ud),
      ).then(() => {
        if (writing) return;
        let at = 0;
        for (const b of buffers) (b.set(bounce.subarray(at, at + b.byteLength)), (at += b.byteLength));
      });
    });
  }

  #needsBounce(buf: Uint8Array): boolean {
    if (this.#bounce && buf.buffer === this.#bounce.buffer) return false;
    if (this.#needsRegions) return true;
    const align = this.bufAlignment;
    return align > 1 && (buf.byteOffset % align !== 0 || buf.byteLength % align !== 0 || !isAlignedBase(buf, align));
  }

  async #withBounce(length: number, use: (bounce: Uint8Array) => Promise<void>): Promise<void> {
    if (this.#failed) throw this.#failed;
    if (this.#closed) throw closedError();
    const pool = await this.#bouncePool();
    if (length > pool.size)
      throw new BlkioError(`request of ${length} bytes exceeds the bounce buffer (bounceBufferSize ${pool.size})`, 22);
    // Counted until its space is released: a switch waits for that.
    this.#bouncing++;
    let bounce: Uint8Array | null = null;
    try {
      bounce = pool.alloc(length);
      while (!bounce) {
        await new Promise<void>((resolve) => this.#waitingForBounce.push(resolve));
        if (this.#failed) throw this.#failed;
        bounce = pool.alloc(length);
      }
      await use(bounce);
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

  // A request with bounce space was admitted before close() (it waited for
  // that space), so it still goes ahead.
  #submit(what: string, bounce: Uint8Array | null, enqueue: (userData: Settle) => void): Promise<void> {
    if (this.#held && bounce === null) return this.#held.then(() => this.#submit(what, null, enqueue));
    if (this.#failed) return Promise.reject(this.#failed);
    if (this.#closed && bounce === null) return Promise.reject(closedError());
    return this.#enqueue(what, enqueue);
  }

  #enqueue(what: string, enqueue: (userData: Settle) => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const settle: Settle = (ret, msg) => (ret < 0 ? reject(requestError(ret, msg, what)) : resolve());
      enqueue(settle); // throws only for arguments of the wrong type
      this.#pending.set(settle, enqueue);
      if (this.#inFlight++ === 0) this.#watcher.ref();
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        queueMicrotask(() => this.#flush());
      }
    });
  }

  // As #submit without bounce buffers, resolving with the completion's ret
  // (how many zones a report filled).
  #counted(what: string, enqueue: (queue: Queue, userData: Settle) => void): Promise<number> {
    if (this.#held) return this.#held.then(() => this.#counted(what, enqueue));
    if (this.#failed) return Promise.reject(this.#failed);
    if (this.#closed) return Promise.reject(closedError());
    return new Promise<number>((resolve, reject) => {
      const settle: Settle = (ret, msg) => (ret < 0 ? reject(requestError(ret, msg, what)) : resolve(ret));
      enqueue(this.#queue, settle); // throws only for arguments of the wrong type
      this.#pending.set(settle, (userData) => enqueue(this.#queue, userData));
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
