import { bufferAddress } from './buffers';
import { BlkioError, invalidArgument } from './errors';
import { addon, DoIo, NativeQueue } from './native/addon';
import { DESC_WORDS, DESCRIPTOR_LAYOUT, Op } from './native/descriptor';

/** @internal Where a mapped region's memory is, and its slot in the native table (-1 once unmapped). */
export interface MappedBuffer {
  base: number;
  slot: number;
}

interface ViewLocation {
  addr: number;
  length: number;
  mapped: MappedBuffer | null;
}
const kWhere = Symbol('blkio.viewLocation');
type DescribedView = Uint8Array & { [kWhere]?: ViewLocation };

/** One entry of the array doIo fills; reuse the array across calls. */
export class Completion {
  /** The value given when the request was enqueued, returned identical. */
  userData: unknown = undefined;
  /** 0 on success, a negative errno on failure. */
  ret = 0;
  /** Why the request failed, when the driver says. */
  errorMsg: string | null = null;
}

/** A reusable completion array of n entries for doIo. */
export function createCompletions(n: number): Completion[] {
  return Array.from({ length: n }, () => new Completion());
}

/** Watches a queue's completion fd from the event loop (see Queue.watchCompletions). */
export interface CompletionWatcher {
  /** Keep the process alive while watching (e.g. while requests are in flight). */
  ref(): void;
  /** Let the process exit even though the watcher is active (the default). */
  unref(): void;
  close(): void;
}

const BATCH = 256;
const MAX_COMPLETIONS_PER_CALL = 1 << 16;
const TWO_32 = 2 ** 32;

const messageCache: (string | null)[] = [null];
function messageText(id: number): string | null {
  let text = messageCache[id];
  if (text === undefined) text = messageCache[id] = addon.messageText(id);
  return text;
}

function checkFlags(flags: number): void {
  if (typeof flags !== 'number' || !Number.isInteger(flags) || flags < 0 || flags > 0xffffffff)
    invalidArgument(`flags must be a 32-bit unsigned integer, got ${String(flags)}`);
}

/**
 * A libblkio queue (blkioq). Requests are described into a batch in JS and
 * handed to the native side in one call by doIo(); enqueueing never throws
 * for request errors (bad flags, misalignment, read-only…): those come back
 * as completions with a negative ret, as in libblkio. Only arguments of the
 * wrong JS type throw.
 */
export class Queue {
  readonly #native: NativeQueue;
  readonly #doIo: DoIo;
  readonly #messageText: (id: number) => string | null;
  readonly #mapped: WeakMap<ArrayBufferLike, MappedBuffer>;
  #desc!: ArrayBuffer;
  #words!: Uint32Array;
  #signed!: Int32Array;
  #doubles!: Float64Array;
  #descCount = 0;
  #iov!: Float64Array;
  #iovCount = 0;
  #comp!: Int32Array;
  // Slot i holds a request's userData and the buffers it must keep alive.
  readonly #userData: unknown[] = [];
  readonly #buffers: unknown[] = [];
  readonly #freeSlots: number[] = [];
  #watcher: CompletionWatcher | null = null;
  #dead = false;

  /** @internal The native queue behind a Queue, for the job loop (src/job-loop.ts). */
  static nativeOf(queue: Queue): NativeQueue {
    return queue.#native;
  }

  /** @internal */
  constructor(native: NativeQueue, mapped: WeakMap<ArrayBufferLike, MappedBuffer>) {
    this.#native = native;
    this.#doIo = native.bindDoIo ? native.bindDoIo() : native.doIo.bind(native);
    this.#messageText = native.messageText ? (id) => native.messageText!(id) : messageText;
    this.#mapped = mapped;
    this.#allocate(BATCH, 4 * BATCH, BATCH);
  }

  #allocate(descriptors: number, iovecs: number, completions: number): void {
    this.#desc = new ArrayBuffer(descriptors * DESCRIPTOR_LAYOUT.bytes);
    this.#words = new Uint32Array(this.#desc);
    this.#signed = new Int32Array(this.#desc);
    this.#doubles = new Float64Array(this.#desc);
    this.#iov = new Float64Array(2 * iovecs);
    this.#comp = new Int32Array(3 * completions);
    this.#native.setBuffers(this.#desc, this.#iov.buffer as ArrayBuffer, this.#comp.buffer as ArrayBuffer);
  }

  /** @internal Called when the queue is removed or its Blkio destroyed. */
  _kill(): void {
    this.#dead = true;
    this.#watcher = null;
  }

  /** Requests enqueued and not yet returned by doIo. */
  get pending(): number {
    return this.#userData.length - this.#freeSlots.length;
  }

  read(start: number | bigint, buf: Uint8Array, userData?: unknown, flags = 0): void {
    this.#single(Op.Read, start, buf, userData, flags);
  }

  write(start: number | bigint, buf: Uint8Array, userData?: unknown, flags = 0): void {
    this.#single(Op.Write, start, buf, userData, flags);
  }

  readv(start: number | bigint, bufs: Uint8Array[], userData?: unknown, flags = 0): void {
    this.#vectored(Op.Readv, start, bufs, userData, flags);
  }

  writev(start: number | bigint, bufs: Uint8Array[], userData?: unknown, flags = 0): void {
    this.#vectored(Op.Writev, start, bufs, userData, flags);
  }

  writeZeroes(start: number | bigint, len: number | bigint, userData?: unknown, flags = 0): void {
    this.#ranged(Op.WriteZeroes, start, len, userData, flags);
  }

  discard(start: number | bigint, len: number | bigint, userData?: unknown, flags = 0): void {
    this.#ranged(Op.Discard, start, len, userData, flags);
  }

  flush(userData?: unknown, flags = 0): void {
    this.#startLo = this.#startHi = 0;
    const w = this.#next(Op.Flush, flags, userData, null);
    this.#doubles[(w >> 1) + 3] = 0;
  }

  /**
   * libblkio's blkioq_do_io: submits the batch, waits for at least min
   * completions (min > 0 blocks the thread), fills up to max entries of
   * completions (growing the array if it is shorter) and returns how many.
   * A timeout that expires throws BlkioError code 'ETIME'; nothing is lost.
   */
  doIo(completions: Completion[], min: number, max: number, timeoutNs?: number | bigint): number {
    this.#checkAlive();
    if (!Array.isArray(completions)) invalidArgument('completions must be an array (see createCompletions)');
    if (!Number.isInteger(min) || !Number.isInteger(max))
      invalidArgument('min_completions and max_completions must be integers');
    let timeout = -1;
    if (timeoutNs !== undefined) {
      timeout = Number(timeoutNs);
      if (!(timeout >= 0)) invalidArgument(`timeoutNs must be a non-negative number, got ${String(timeoutNs)}`);
    }
    // Completions beyond this many per call stay queued for the next call.
    if (max > MAX_COMPLETIONS_PER_CALL) max = Math.max(min, MAX_COMPLETIONS_PER_CALL);
    if (max > this.#comp.length / 3) this.#growCompletions(max);
    const descriptors = this.#descCount;
    const iovecs = this.#iovCount;
    this.#descCount = 0;
    this.#iovCount = 0;
    // The native side takes the batch even when do_io itself then fails.
    const n = this.#doIo(descriptors, iovecs, min, max, timeout);
    const comp = this.#comp;
    while (completions.length < n) completions.push(new Completion());
    for (let i = 0; i < n; i++) {
      const slot = comp[3 * i];
      const c = completions[i];
      c.userData = this.#userData[slot];
      c.ret = comp[3 * i + 1];
      c.errorMsg = c.ret < 0 ? this.#messageText(comp[3 * i + 2]) : null;
      this.#userData[slot] = undefined;
      this.#buffers[slot] = undefined;
      this.#freeSlots.push(slot);
    }
    return n;
  }

  /** The eventfd that becomes readable when doIo should be called (-1 on poll queues). */
  get completionFd(): number {
    this.#checkAlive();
    return this.#native.completionFd();
  }

  setCompletionFdEnabled(on: boolean): void {
    this.#checkAlive();
    this.#native.setCompletionFdEnabled(on);
  }

  /**
   * Calls cb from the event loop whenever the completion fd signals (the fd
   * is already reset; call doIo(…, 0, max) then). Enables the completion fd.
   * The watcher does not keep the process alive unless ref()'d.
   */
  watchCompletions(cb: () => void): CompletionWatcher {
    this.#checkAlive();
    if (typeof cb !== 'function') invalidArgument('watchCompletions needs a callback');
    const native = this.#native;
    native.watch(cb);
    const watcher: CompletionWatcher = {
      ref: () => this.#watcher === watcher && native.watchRef(true),
      unref: () => this.#watcher === watcher && native.watchRef(false),
      close: () => {
        if (this.#watcher !== watcher) return;
        this.#watcher = null;
        native.unwatch();
      },
    } as CompletionWatcher;
    this.#watcher = watcher;
    return watcher;
  }

  #checkAlive(): void {
    if (this.#dead) throw new BlkioError('queue has been removed or its Blkio destroyed', 19 /* ENODEV */);
  }

  // Claims a slot and a descriptor; returns the descriptor's first word.
  #next(op: Op, flags: number, userData: unknown, keepAlive: unknown): number {
    this.#checkAlive();
    if (flags !== 0) checkFlags(flags);
    if (this.#descCount === this.#words.length / DESC_WORDS) this.#submitBatch();
    let slot = this.#freeSlots.pop();
    if (slot === undefined) {
      slot = this.#userData.length;
      this.#userData.push(undefined);
      this.#buffers.push(undefined);
    }
    this.#userData[slot] = userData;
    this.#buffers[slot] = keepAlive;
    const w = this.#descCount++ * DESC_WORDS;
    const words = this.#words;
    words[w] = op;
    words[w + 1] = flags;
    words[w + 2] = slot;
    this.#signed[w + 3] = -1;
    words[w + 4] = this.#startLo;
    words[w + 5] = this.#startHi;
    return w;
  }

  // Validates start before anything is claimed; #next writes it.
  #startLo = 0;
  #startHi = 0;
  #checkStart(start: number | bigint): void {
    if (typeof start === 'number') {
      if (!Number.isSafeInteger(start) || start < 0)
        invalidArgument(`start must be a non-negative integer, got ${start}`);
      this.#startLo = start % TWO_32;
      this.#startHi = Math.floor(start / TWO_32);
    } else if (typeof start === 'bigint') {
      if (start < 0n || start >= 1n << 64n) invalidArgument(`start must fit in 64 unsigned bits, got ${start}`);
      this.#startLo = Number(start & 0xffffffffn);
      this.#startHi = Number(start >> 32n);
    } else {
      invalidArgument(`start must be a number or a bigint, got ${typeof start}`);
    }
  }

  #single(op: Op, start: number | bigint, buf: Uint8Array, userData: unknown, flags: number): void {
    if (!(buf instanceof Uint8Array)) invalidArgument('buf must be a Uint8Array');
    this.#checkStart(start);
    const w = this.#next(op, flags, userData, buf);
    const d = w >> 1;
    const length = buf.byteLength;
    this.#doubles[d + 3] = length;
    let where = (buf as DescribedView)[kWhere];
    if (where === undefined || where.length !== length) where = this.#describe(buf, length);
    this.#signed[w + 3] = where.mapped ? where.mapped.slot : -1;
    this.#doubles[d + 4] = where.addr;
  }

  // Where a view's memory is, cached on the view: a request then costs one
  // property load instead of two getters and a WeakMap lookup. The cached
  // length is checked on every use, so a detached (freed) buffer is never
  // described by a stale address.
  #describe(buf: Uint8Array, length: number): ViewLocation {
    const mapped = this.#mapped.get(buf.buffer) ?? null;
    const addr = length === 0 ? 0 : mapped ? mapped.base + buf.byteOffset : bufferAddress(buf);
    const where: ViewLocation = { addr, length, mapped };
    if (length > 0) Object.defineProperty(buf, kWhere, { value: where, writable: true, configurable: true });
    return where;
  }

  #vectored(op: Op, start: number | bigint, bufs: Uint8Array[], userData: unknown, flags: number): void {
    if (!Array.isArray(bufs)) invalidArgument('bufs must be an array of Uint8Array');
    for (const b of bufs) if (!(b instanceof Uint8Array)) invalidArgument('bufs must be an array of Uint8Array');
    if (this.#iovCount + bufs.length > this.#iov.length / 2) {
      this.#submitBatch();
      if (bufs.length > this.#iov.length / 2) this.#growIovecs(bufs.length);
    }
    this.#checkStart(start);
    const w = this.#next(op, flags, userData, bufs.slice());
    const first = this.#iovCount;
    const iov = this.#iov;
    for (let i = 0; i < bufs.length; i++) {
      const b = bufs[i];
      iov[2 * (first + i)] = b.byteLength === 0 ? 0 : bufferAddress(b);
      iov[2 * (first + i) + 1] = b.byteLength;
    }
    this.#iovCount += bufs.length;
    const d = w >> 1;
    this.#doubles[d + 3] = bufs.length;
    this.#doubles[d + 4] = first;
  }

  #ranged(op: Op, start: number | bigint, len: number | bigint, userData: unknown, flags: number): void {
    const length = typeof len === 'bigint' ? Number(len) : len;
    if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0)
      invalidArgument(`len must be a non-negative integer, got ${String(len)}`);
    this.#checkStart(start);
    const w = this.#next(op, flags, userData, null);
    this.#doubles[(w >> 1) + 3] = length;
  }

  // Hands a full batch to the native side now (the device may start early;
  // only doIo guarantees submission).
  #submitBatch(): void {
    const descriptors = this.#descCount;
    const iovecs = this.#iovCount;
    this.#descCount = 0;
    this.#iovCount = 0;
    this.#doIo(descriptors, iovecs, 0, 0, -1);
  }

  #growCompletions(max: number): void {
    this.#submitBatch();
    this.#allocate(this.#words.length / DESC_WORDS, this.#iov.length / 2, max);
  }

  #growIovecs(count: number): void {
    this.#allocate(this.#words.length / DESC_WORDS, count, this.#comp.length / 3);
  }
}
