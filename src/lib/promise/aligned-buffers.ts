// Buffers from the device's own memory regions (Device.allocBuffer): each
// is one region, allocated and mapped for this device, so requests use it
// as is, without the bounce copy. Freeing it (or closing the device)
// detaches its ArrayBuffer: later JS access sees an empty view and a
// request with it is rejected with a clear error, never reaching memory
// that is gone.
import type { Blkio, MemRegion } from '../blkio';
import { BlkioError, invalidArgument } from '../errors';
import { viewBuffer } from '../buffers';

const MAX_ALLOC = 2 ** 31;

export class AlignedBuffers {
  readonly #blkio: Blkio;
  readonly #live = new Map<ArrayBufferLike, MemRegion>();
  readonly #freed = new WeakSet<ArrayBufferLike>();
  #anyFreed = false;

  constructor(blkio: Blkio) {
    this.#blkio = blkio;
  }

  /** Whether requests can use this view's memory as mapped device memory. */
  owns(view: Uint8Array): boolean {
    return this.#live.has(viewBuffer(view));
  }

  /** Throws if the view's memory was an allocBuffer() buffer that is freed now. */
  checkNotFreed(view: Uint8Array): void {
    if (this.#anyFreed && this.#freed.has(viewBuffer(view)))
      throw new BlkioError('buffer was freed (freeBuffer() or close()) and must not be used for requests', 14 /* EFAULT */);
  }

  alloc(size: number): Buffer {
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size <= 0 || size > MAX_ALLOC)
      invalidArgument(`size must be an integer from 1 to ${MAX_ALLOC}, got ${String(size)}`);
    const alignment = Math.max(Number(this.#blkio.getUint64('mem-region-alignment')), 4096);
    const region = this.#blkio.allocMemRegion(Math.ceil(size / alignment) * alignment);
    try {
      this.#blkio.mapMemRegion(region);
    } catch (e) {
      this.#blkio.freeMemRegion(region);
      throw e;
    }
    this.#live.set(region.buffer, region);
    return Buffer.from(region.buffer, 0, size);
  }

  free(view: Uint8Array): void {
    const buffer = viewBuffer(view);
    const region = this.#live.get(buffer);
    if (!region) {
      if (this.#freed.has(buffer)) invalidArgument('buffer was freed already');
      invalidArgument('buffer is not from this device\'s allocBuffer()');
    }
    // EBUSY while a request still uses it: the buffer stays valid.
    this.#blkio.unmapMemRegion(region);
    this.#live.delete(buffer);
    this.#freed.add(buffer);
    this.#anyFreed = true;
    this.#blkio.freeMemRegion(region);
  }

  /** At close: the regions go with the Blkio (destroy detaches them). */
  forgetAll(): void {
    for (const buffer of this.#live.keys()) this.#freed.add(buffer);
    this.#anyFreed = this.#live.size > 0 || this.#anyFreed;
    this.#live.clear();
  }
}
