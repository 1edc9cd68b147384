import { locateView, MappedBuffer, viewBuffer, viewByteLength, ViewLocation } from './buffers';
import { BlkioError, invalidArgument } from './errors';
import { addon, DoIo, NativeQueue } from './native/addon';
import { DESC_WORDS, DESCRIPTOR_LAYOUT, Op } from './native/descriptor';
import { ZONE_BYTES } from './zones';

export type { MappedBuffer } from './buffers';

// Every live queue of this thread, so that a region is not unmapped or
// freed while a request into it is queued or in flight (see requestsUse).
// Weak: a queue whose Blkio was dropped without destroy() is still collected.
const liveQueues = new Set<WeakRef<Queue>>();

/** @internal Whether a request not yet returned by doIo uses memory of this ArrayBuffer. */
export function requestsUse(buffer: ArrayBufferLike): boolean {
  for (const ref of liveQueues) {
    const q = ref.deref();
    if (q === undefined) liveQueues.delete(ref);
    else if (q._uses(buffer)) return true;
  }
  return false;
}

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
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 1 << 24)
    invalidArgument(`createCompletions needs an integer from 0 to 2^24, got ${String(n)}`);
  return Array.from({ length: n }, () => new Completion());
}

/** Watches a queue's completion fd from the event loop (see Queue.watchCompletions). */
export interface CompletionWatcher {
  /** Keep the process alive while watching (e.g. while requests are in flight). */
  ref(): void;
  /** Let the process exit even though the watcher is active (the default). */
  unref(): void;
  /** Stops watching; the callback is not called again. */
  close(): void;
}

const BATCH = 256;
const MAX_COMPLETIONS_PER_CALL = 1 << 16;
const TWO_32 = 2 ** 32;
const INT_MAX = 2 ** 31 - 1;
const MAX_IOVECS = 1 << 16;
const EFAULT = 14;
const ECANCELED = 125;

const messageCache: (string | null)[] = [null];
function messageText(id: number): string | null {
  let text = messageCache[id];
  if (text === undefined) text = messageCache[id] = addon.messageText(id);
  return text;
}

// min/max completions: libblkio's int, non-negative.
function checkCount(name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > INT_MAX)
    invalidArgument(`${name} must be an integer from 0 to ${INT_MAX}, got ${String(value)}`);
}

// A finite, non-negative number of nanoseconds (no NaN or Infinity reaches
// C++), capped at about 285 years, which is "never" in practice.
const MAX_TIMEOUT_NS = 9e18;
function checkTimeout(timeoutNs: unknown): number {
  if (typeof timeoutNs === 'bigint') {
    if (timeoutNs < 0n || timeoutNs >= 1n << 64n)
      invalidArgument(`timeoutNs must be from 0 to 2^64-1, got ${timeoutNs}`);
    return Math.min(Number(timeoutNs), MAX_TIMEOUT_NS);
  }
  if (typeof timeoutNs !== 'number' || !Number.isFinite(timeoutNs) || timeoutNs < 0)
    invalidArgument(`timeoutNs must be a finite non-negative number or a bigint, got ${String(timeoutNs)}`);
  return Math.min(timeoutNs, MAX_TIMEOUT_NS);
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
  readonly #self = new WeakRef(this);

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
    liveQueues.add(this.#self);
  }

  /** @internal See requestsUse. */
  _uses(buffer: ArrayBufferLike): boolean {
    for (const kept of this.#buffers) {
      if (kept === undefined || kept === null) continue;
      if (Array.isArray(kept)) {
        for (const v of kept) if (viewBuffer(v) === buffer) return true;
      } else if (viewBuffer(kept) === buffer) return true;
    }
    return false;
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

  /**
   * @internal Called when the queue is removed or its Blkio destroyed, after
   * the native side stopped touching the requests' memory. As in libblkio,
   * the requests not yet returned by doIo are abandoned: they never complete,
   * and the queue lets go of their userData and buffers.
   */
  _kill(): void {
    liveQueues.delete(this.#self);
    this.#dead = true;
    this.#watcher = null;
    this.#userData.length = 0;
    this.#buffers.length = 0;
    this.#freeSlots.length = 0;
    this.#descCount = 0;
    this.#iovCount = 0;
  }

  /** Requests enqueued and not yet returned by doIo (0 once the queue is removed or its Blkio destroyed). */
  get pending(): number {
    return this.#userData.length - this.#freeSlots.length;
  }

  /** Reads buf.byteLength bytes at start into buf (blkioq_read); the result comes back from doIo. */
  read(start: number | bigint, buf: Uint8Array, userData?: unknown, flags = 0): void {
    this.#single(Op.Read, start, buf, userData, flags);
  }

  /** Writes buf at start (blkioq_write); flags: REQ_FUA. */
  write(start: number | bigint, buf: Uint8Array, userData?: unknown, flags = 0): void {
    this.#single(Op.Write, start, buf, userData, flags);
  }

  /** Reads into each buffer in turn, from start, as one request (blkioq_readv). */
  readv(start: number | bigint, bufs: Uint8Array[], userData?: unknown, flags = 0): void {
    this.#vectored(Op.Readv, start, bufs, userData, flags);
  }

  /** Writes each buffer in turn, from start, as one request (blkioq_writev); flags: REQ_FUA. */
  writev(start: number | bigint, bufs: Uint8Array[], userData?: unknown, flags = 0): void {
    this.#vectored(Op.Writev, start, bufs, userData, flags);
  }

  /** Zeroes len bytes at start (blkioq_write_zeroes); flags: REQ_FUA, REQ_NO_UNMAP, REQ_NO_FALLBACK. */
  writeZeroes(start: number | bigint, len: number | bigint, userData?: unknown, flags = 0): void {
    this.#ranged(Op.WriteZeroes, start, len, userData, flags);
  }

  /** Discards len bytes at start (blkioq_discard): their contents become unspecified. */
  discard(start: number | bigint, len: number | bigint, userData?: unknown, flags = 0): void {
    this.#ranged(Op.Discard, start, len, userData, flags);
  }

  /** Makes writes completed before it persistent (blkioq_flush). */
  flush(userData?: unknown, flags = 0): void {
    this.#startLo = this.#startHi = 0;
    const w = this.#next(Op.Flush, flags, userData, null);
    this.#doubles[(w >> 1) + 3] = 0;
  }

  /**
   * Reports zones of a zoned device, from the zone holding offset, into
   * zones (blkioq_report_zones): room for zones.byteLength / 64 struct
   * blkio_zone entries. The completion's ret is how many were filled; read
   * them with {@link decodeZones}. A device without zones fails it with ENOTSUP.
   */
  reportZones(offset: number | bigint, zones: Uint8Array, userData?: unknown, flags = 0): void {
    if (!(zones instanceof Uint8Array) || zones.byteLength % ZONE_BYTES !== 0)
      invalidArgument(`zones must be a Uint8Array of a multiple of ${ZONE_BYTES} bytes (see allocateZones)`);
    this.#single(Op.ReportZones, offset, zones, userData, flags);
  }

  /** Explicitly opens the zone starting at offset (blkioq_open_zone). */
  openZone(offset: number | bigint, userData?: unknown, flags = 0): void {
    this.#zone(Op.ZoneOpen, offset, userData, flags);
  }

  /** Closes the open zone starting at offset (blkioq_close_zone). */
  closeZone(offset: number | bigint, userData?: unknown, flags = 0): void {
    this.#zone(Op.ZoneClose, offset, userData, flags);
  }

  /** Moves the zone starting at offset to full (blkioq_finish_zone). */
  finishZone(offset: number | bigint, userData?: unknown, flags = 0): void {
    this.#zone(Op.ZoneFinish, offset, userData, flags);
  }

  /** Resets the write pointer of the zone starting at offset to its start (blkioq_reset_zone). */
  resetZone(offset: number | bigint, userData?: unknown, flags = 0): void {
    this.#zone(Op.ZoneReset, offset, userData, flags);
  }

  /** Opens every closed zone (blkioq_open_all_zones). */
  openAllZones(userData?: unknown, flags = 0): void {
    this.#zone(Op.ZoneOpenAll, 0, userData, flags);
  }

  /** Closes every open zone (blkioq_close_all_zones). */
  closeAllZones(userData?: unknown, flags = 0): void {
    this.#zone(Op.ZoneCloseAll, 0, userData, flags);
  }

  /** Finishes every open or closed zone (blkioq_finish_all_zones). */
  finishAllZones(userData?: unknown, flags = 0): void {
    this.#zone(Op.ZoneFinishAll, 0, userData, flags);
  }

  /** Resets every zone (blkioq_reset_all_zones). */
  resetAllZones(userData?: unknown, flags = 0): void {
    this.#zone(Op.ZoneResetAll, 0, userData, flags);
  }

  /**
   * libblkio's blkioq_do_io: submits the batch, waits for at least min
   * completions (min > 0 blocks the thread), fills up to max entries of
   * completions (growing the array if it is shorter) and returns how many.
   * A timeout that expires throws BlkioError code 'ETIME'; nothing is lost.
   */
  doIo(completions: Completion[], min: number, max: number, timeoutNs?: number | bigint): number {
    // Every argument is checked before any state changes: a bad call
    // leaves the batch and the native queue exactly as they were.
    this.#checkAlive();
    if (!Array.isArray(completions)) invalidArgument('completions must be an array (see createCompletions)');
    checkCount('min_completions', min);
    checkCount('max_completions', max);
    if (min > max) invalidArgument('min_completions must not exceed max_completions');
    if (min > this.pending) invalidArgument('min_completions is larger than total outstanding requests');
    const timeout = timeoutNs === undefined ? -1 : checkTimeout(timeoutNs);
    // Completions beyond this many per call stay queued for the next call.
    if (max > MAX_COMPLETIONS_PER_CALL) max = Math.max(min, MAX_COMPLETIONS_PER_CALL);
    if (max > this.#comp.length / 3) this.#growCompletions(max);
    this.#checkBatch();
    const descriptors = this.#descCount;
    const iovecs = this.#iovCount;
    this.#descCount = 0;
    this.#iovCount = 0;
    // The native side takes the batch even when do_io itself then fails.
    const n = this.#doIo(descriptors, iovecs, min, max, timeout);
    const comp = this.#comp;
    let i = 0;
    try {
      while (completions.length < n) completions.push(new Completion());
      for (; i < n; i++) {
        const slot = comp[3 * i];
        const ret = comp[3 * i + 1];
        const c = completions[i];
        c.userData = this.#userData[slot];
        c.ret = ret;
        c.errorMsg = ret < 0 ? this.#messageText(comp[3 * i + 2]) : null;
        this.#userData[slot] = undefined;
        this.#buffers[slot] = undefined;
        this.#freeSlots.push(slot);
      }
    } catch (e) {
      // An entry that cannot be written (frozen, a setter that throws…):
      // the completions not delivered go back to the queue, first in line.
      this.#native.requeue?.(i, n - i);
      invalidArgument(`completions[${i}] cannot be written (${String(e)}); ${n - i} completion(s) stay queued`);
    }
    return n;
  }

  /**
   * Quiesces the queue (on) or lifts it (off), for moving its requests to
   * another device (docs/switching.md). While quiesced, new requests are
   * validated and kept in the queue instead of reaching the device; doIo
   * still completes the requests the device holds (see inFlight). Lifting
   * it gives the kept requests to the device at the next doIo.
   */
  setQuiesced(on: boolean): void {
    this.#checkAlive();
    if (typeof on !== 'boolean') invalidArgument('setQuiesced needs a boolean');
    this.#extension('setQuiesced').setQuiesced!(on);
  }

  /** Requests the device holds now (accepted, not yet completed); not those kept by a quiesced queue. */
  get inFlight(): number {
    this.#checkAlive();
    return this.#extension('inFlight').inFlight!();
  }

  /**
   * Removes every request that never reached the device (kept by a
   * quiesced queue, or waiting for room in it) and returns their userData,
   * oldest first. No completion comes for them: submit them elsewhere.
   */
  takeUnsubmitted(): unknown[] {
    this.#checkAlive();
    const native = this.#extension('takeUnsubmitted');
    // Described requests not handed over yet go to the native side first,
    // so that they come back in order with the others.
    this.#submitBatch();
    const slots = native.takeUnsubmitted!();
    const taken: unknown[] = new Array(slots.length);
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i];
      taken[i] = this.#userData[slot];
      this.#userData[slot] = undefined;
      this.#buffers[slot] = undefined;
      this.#freeSlots.push(slot);
    }
    return taken;
  }

  #extension(name: 'setQuiesced' | 'inFlight' | 'takeUnsubmitted'): NativeQueue {
    if (typeof this.#native[name] !== 'function')
      throw new BlkioError(`${name} is not available on this queue (the libblkio library path)`, 95 /* ENOTSUP */);
    return this.#native;
  }

  /** The eventfd that becomes readable when doIo should be called (-1 on poll queues). */
  get completionFd(): number {
    this.#checkAlive();
    return this.#native.completionFd();
  }

  /** Enables or disables the completion fd's wake-ups (off by default, as in libblkio). */
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

  // Everything that can throw (argument checks, describing the buffer)
  // happens before #next claims a slot: a request is described completely
  // or not at all.
  #single(op: Op, start: number | bigint, buf: Uint8Array, userData: unknown, flags: number): void {
    const where = locateView(buf, this.#mapped);
    this.#checkStart(start);
    const w = this.#next(op, flags, userData, buf);
    const d = w >> 1;
    this.#doubles[d + 3] = where.length;
    this.#signed[w + 3] = where.mapped ? where.mapped.slot : -1;
    this.#doubles[d + 4] = where.addr;
  }

  #vectored(op: Op, start: number | bigint, bufs: Uint8Array[], userData: unknown, flags: number): void {
    if (!Array.isArray(bufs)) invalidArgument('bufs must be an array of Uint8Array');
    // One read of the length and of each element: a Proxy or getters that
    // change their answer cannot make the table disagree with the request.
    const count = bufs.length;
    if (!Number.isSafeInteger(count) || count < 0 || count > MAX_IOVECS)
      invalidArgument(`bufs must have at most ${MAX_IOVECS} entries`);
    const views: Uint8Array[] = new Array(count);
    const where: ViewLocation[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const b = bufs[i];
      where[i] = locateView(b, this.#mapped);
      views[i] = b;
    }
    this.#checkStart(start);
    if (flags !== 0) checkFlags(flags);
    this.#checkAlive();
    if (this.#iovCount + count > this.#iov.length / 2) {
      this.#submitBatch();
      if (count > this.#iov.length / 2) this.#growIovecs(count);
    }
    const w = this.#next(op, flags, userData, views);
    const first = this.#iovCount;
    const iov = this.#iov;
    for (let i = 0; i < count; i++) {
      iov[2 * (first + i)] = where[i].addr;
      iov[2 * (first + i) + 1] = where[i].length;
    }
    this.#iovCount += count;
    const d = w >> 1;
    this.#doubles[d + 3] = count;
    this.#doubles[d + 4] = first;
  }

  // A buffer detached (transferred, or its region freed) or shrunk (a
  // resizable ArrayBuffer) after its request was described must not be touched: such requests fail with EFAULT
  // instead of reaching the native side. Runs right before every hand-over,
  // with no JS in between.
  #checkBatch(): void {
    const words = this.#words;
    const doubles = this.#doubles;
    const buffers = this.#buffers;
    for (let w = 0, end = this.#descCount * DESC_WORDS; w < end; w += DESC_WORDS) {
      const op = words[w];
      if (op > Op.Writev && op !== Op.ReportZones) continue;
      const d = w >> 1;
      if (op <= Op.Write || op === Op.ReportZones) {
        const length = doubles[d + 3];
        if (length !== 0 && viewByteLength(buffers[words[w + 2]]) < length) this.#failAtSubmit(w);
        continue;
      }
      const views = buffers[words[w + 2]] as Uint8Array[];
      const first = doubles[d + 4];
      for (let i = 0; i < views.length; i++) {
        const length = this.#iov[2 * (first + i) + 1];
        if (length !== 0 && viewByteLength(views[i]) < length) {
          this.#failAtSubmit(w);
          break;
        }
      }
    }
  }

  /**
   * @internal For the Promise layer's AbortSignal: a request still in the
   * batch (enqueued, not yet handed to the native side by doIo) is turned
   * into one that completes with ECANCELED without reaching the device.
   * False if it was handed over already (or is not in this queue).
   */
  _cancelQueued(userData: unknown): boolean {
    const words = this.#words;
    for (let w = 0, end = this.#descCount * DESC_WORDS; w < end; w += DESC_WORDS) {
      if (words[w] === Op.Fail || this.#userData[words[w + 2]] !== userData) continue;
      this.#failAtSubmit(w, ECANCELED);
      return true;
    }
    return false;
  }

  #failAtSubmit(w: number, errno = EFAULT): void {
    this.#words[w] = Op.Fail;
    this.#words[w + 1] = 0;
    this.#doubles[(w >> 1) + 3] = errno;
    this.#doubles[(w >> 1) + 4] = 0;
  }

  #ranged(op: Op, start: number | bigint, len: number | bigint, userData: unknown, flags: number): void {
    const length = typeof len === 'bigint' ? Number(len) : len;
    if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0)
      invalidArgument(`len must be a non-negative integer, got ${String(len)}`);
    this.#checkStart(start);
    const w = this.#next(op, flags, userData, null);
    this.#doubles[(w >> 1) + 3] = length;
  }

  #zone(op: Op, offset: number | bigint, userData: unknown, flags: number): void {
    this.#checkStart(offset);
    const w = this.#next(op, flags, userData, null);
    this.#doubles[(w >> 1) + 3] = 0;
  }

  // Hands a full batch to the native side now (the device may start early;
  // only doIo guarantees submission).
  #submitBatch(): void {
    this.#checkBatch();
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
