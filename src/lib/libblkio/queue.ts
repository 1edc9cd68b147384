// struct blkioq of a loaded library, behind the addon's NativeQueue
// interface: it replays the JS queue's request descriptors as C calls.
import { constants } from 'node:os';
import { BlkioError } from '../errors';
import { addon, FdWatch, NativeQueue } from '../native/addon';
import { DESC_WORDS, Double, Op, Word } from '../native/descriptor';
import type { LibraryBlkio } from './instance';
import { Library } from './library';

const { EBUSY, EINVAL, ENODEV } = constants.errno;

const TWO_32 = 2 ** 32;
// struct blkio_completion: 32 bytes = 8 words; user_data at word 0,
// error_msg at word 2, ret at word 4.
const COMPLETION_WORDS = 8;

/** struct blkioq of a library, as the addon's NativeQueue. */
export class LibraryQueue implements NativeQueue {
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
    const op = words[w + Word.Op];
    const flags = words[w + Word.Flags];
    const slot = words[w + Word.Slot];
    const hi = words[w + Word.StartHi];
    // Offsets up to 2^53 as numbers, beyond as bigints.
    const start = hi < 0x200000 ? hi * TWO_32 + words[w + Word.StartLo] : (BigInt(hi) << 32n) | BigInt(words[w + Word.StartLo]);
    const d = w >> 1;
    const len = this.#doubles[d + Double.Len];
    const addr = this.#doubles[d + Double.Addr];
    switch (op) {
      case Op.Read:
        return lib.read(q, start, addr, len, slot, flags);
      case Op.Write:
        return lib.write(q, start, addr, len, slot, flags);
      case Op.Readv:
      case Op.Writev: {
        const array = this.#iovecArray(addr, len);
        this.#iovecs[slot] = array;
        const submit = op === Op.Readv ? lib.readv : lib.writev;
        return submit(q, start, lib.address(array), len, slot, flags);
      }
      case Op.WriteZeroes:
        return lib.writeZeroes(q, start, len, slot, flags);
      case Op.Discard:
        return lib.discard(q, start, len, slot, flags);
      case Op.Flush:
        return lib.flush(q, slot, flags);
      default:
        // Op.Fail (a buffer detached before submission, see ../queue.ts),
        // and zone requests, which are not forwarded to other libraries: a
        // library cannot be handed a ready-made completion, so a flush with
        // an unknown flag bit makes it fail the request (EINVAL).
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
