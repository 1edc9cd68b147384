// The idiomatic layer: `await open({ driver, path })` and Promise methods.
// Requests issued in the same tick go to the device in one submission;
// completions arrive through the queue's completion fd on the event loop
// (no polling, no blocked loop), drained in batches.
import { Mutex } from 'async-mutex';
import { Blkio, create } from './blkio';
import { BlkioError } from './errors';
import { BouncePool } from './bounce-pool';
import { bufferAddress } from './buffers';
import { Completion, CompletionWatcher, createCompletions, Queue } from './queue';

export interface OpenOptions {
  /** libblkio driver name: 'io_uring', 'virtio-blk-vhost-user', 'virtio-blk-vhost-vdpa'. */
  driver: string;
  path?: string;
  fd?: number;
  /** O_DIRECT (io_uring). */
  direct?: boolean;
  readOnly?: boolean;
  /** Any other properties, set before connect (created state) or before start. */
  properties?: Record<string, string | number | boolean | bigint>;
  /** Bytes of mapped memory for copying unaligned or unmapped buffers (default 8 MiB). */
  bounceBufferSize?: number;
}

// Properties that must be set before connect.
const CREATED_STATE = new Set(['path', 'fd', 'direct', 'read-only']);

const COMPLETION_BATCH = 256;

// A request's userData: settles its Promise with the completion.
type Settle = (ret: number, errorMsg: string | null) => void;

function setProperty(b: Blkio, name: string, value: string | number | boolean | bigint): void {
  if (typeof value === 'boolean') b.setBool(name, value);
  else b.setStr(name, String(value));
}

function requestError(ret: number, errorMsg: string | null, what: string): BlkioError {
  return new BlkioError(errorMsg ? `${what}: ${errorMsg}` : `${what} failed`, ret);
}

/** An open block device with Promise methods. Create it with open(). */
export class Device {
  readonly blkio: Blkio;
  /** Size in bytes. */
  readonly capacity: bigint;
  readonly requestAlignment: number;
  readonly bufAlignment: number;
  readonly #queue: Queue;
  readonly #needsRegions: boolean;
  readonly #completions: Completion[] = createCompletions(COMPLETION_BATCH);
  readonly #control = new Mutex();
  readonly #watcher: CompletionWatcher;
  readonly #bounceSize: number;
  #bounce: BouncePool | null = null;
  // Requests waiting for bounce space, in order.
  readonly #waitingForBounce: (() => void)[] = [];
  #inFlight = 0;
  #flushScheduled = false;
  #closed = false;
  #failed: Error | null = null;
  readonly #pending = new Set<Settle>();
  #idle: (() => void) | null = null;

  /** @internal use open() */
  constructor(blkio: Blkio, bounceSize: number) {
    this.blkio = blkio;
    this.capacity = blkio.getUint64('capacity');
    this.requestAlignment = blkio.getInt('request-alignment');
    this.bufAlignment = blkio.getInt('buf-alignment');
    this.#needsRegions = blkio.getBool('needs-mem-regions');
    this.#bounceSize = bounceSize;
    const q = blkio.getQueue(0);
    if (!q) throw new BlkioError('device has no queue 0', 19);
    this.#queue = q;
    this.#watcher = q.watchCompletions(() => this.#drain());
  }

  /** Reads into buffer (filling it) or into a new Uint8Array of length bytes. */
  read(offset: number | bigint, lengthOrBuffer: number | Uint8Array): Promise<Uint8Array> {
    const target = typeof lengthOrBuffer === 'number' ? new Uint8Array(lengthOrBuffer) : lengthOrBuffer;
    return this.#data(offset, target, false).then(() => target);
  }

  write(offset: number | bigint, data: Uint8Array): Promise<void> {
    return this.#data(offset, data, true);
  }

  /** Reads into each buffer in turn, as one request. */
  readv(offset: number | bigint, buffers: Uint8Array[]): Promise<void> {
    return this.#vectored(offset, buffers, false);
  }

  writev(offset: number | bigint, buffers: Uint8Array[]): Promise<void> {
    return this.#vectored(offset, buffers, true);
  }

  flush(): Promise<void> {
    return this.#submit('flush', null, (ud) => this.#queue.flush(ud));
  }

  discard(offset: number | bigint, length: number | bigint): Promise<void> {
    return this.#submit('discard', null, (ud) => this.#queue.discard(offset, length, ud));
  }

  writeZeroes(offset: number | bigint, length: number | bigint, flags = 0): Promise<void> {
    return this.#submit('writeZeroes', null, (ud) => this.#queue.writeZeroes(offset, length, ud, flags));
  }

  /**
   * Waits for in-flight requests, then releases the device. A device that
   * never completes them (e.g. a VDUSE daemon that died) does not hang the
   * caller: after timeoutMs the remaining requests are rejected with ETIME.
   */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    await this.#control.runExclusive(async () => {
      if (this.#closed) return;
      this.#closed = true;
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
      this.blkio.destroy();
    });
  }

  // A data request: zero-copy when the device can use the buffer as is,
  // otherwise through the bounce pool.
  #data(offset: number | bigint, buf: Uint8Array, writing: boolean): Promise<void> {
    if (!(buf instanceof Uint8Array)) return Promise.reject(new TypeError('buffer must be a Uint8Array'));
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
    if (this.#closed) throw new BlkioError('device is closed', 9 /* EBADF */);
    const pool = await this.#bouncePool();
    if (length > pool.size)
      throw new BlkioError(`request of ${length} bytes exceeds the bounce buffer (bounceBufferSize ${pool.size})`, 22);
    let bounce = pool.alloc(length);
    while (!bounce) {
      await new Promise<void>((resolve) => this.#waitingForBounce.push(resolve));
      if (this.#failed) throw this.#failed;
      bounce = pool.alloc(length);
    }
    try {
      await use(bounce);
    } finally {
      pool.release(bounce);
      this.#waitingForBounce.shift()?.();
      this.#maybeIdle();
    }
  }

  async #bouncePool(): Promise<BouncePool> {
    if (this.#bounce) return this.#bounce;
    return this.#control.runExclusive(() => {
      if (this.#bounce) return this.#bounce;
      const align = Number(this.blkio.getUint64('mem-region-alignment'));
      const pageAligned = Math.max(align, 4096);
      const size = Math.ceil(this.#bounceSize / pageAligned) * pageAligned;
      const region = this.blkio.allocMemRegion(size);
      this.blkio.mapMemRegion(region);
      this.#bounce = new BouncePool(region.buffer, Math.max(this.bufAlignment, 1));
      return this.#bounce;
    });
  }

  // A request with bounce space was admitted before close() (it waited for
  // that space), so it still goes ahead.
  #submit(what: string, bounce: Uint8Array | null, enqueue: (userData: Settle) => void): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (this.#closed && bounce === null) return Promise.reject(new BlkioError('device is closed', 9 /* EBADF */));
    return new Promise<void>((resolve, reject) => {
      const settle: Settle = (ret, msg) => (ret < 0 ? reject(requestError(ret, msg, what)) : resolve());
      enqueue(settle); // throws only for arguments of the wrong type
      this.#pending.add(settle);
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
    const pending = [...this.#pending];
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

/** Opens a device: create, set properties, connect, start, watch completions. */
export async function open(options: OpenOptions): Promise<Device> {
  if (typeof options !== 'object' || options === null) throw new TypeError('open() needs an options object');
  const b = create(options.driver);
  try {
    if (options.path !== undefined) b.setStr('path', options.path);
    if (options.fd !== undefined) b.setInt('fd', options.fd);
    if (options.direct !== undefined) b.setBool('direct', options.direct);
    if (options.readOnly !== undefined) b.setBool('read-only', options.readOnly);
    const props = Object.entries(options.properties ?? {});
    for (const [name, value] of props) if (CREATED_STATE.has(name)) setProperty(b, name, value);
    b.connect();
    for (const [name, value] of props) if (!CREATED_STATE.has(name)) setProperty(b, name, value);
    b.start();
    return new Device(b, options.bounceBufferSize ?? 8 << 20);
  } catch (e) {
    b.destroy();
    throw e;
  }
}
