// A first-fit allocator over one mapped memory region, for the Promise
// layer's bounce buffers (devices that need mapped or aligned memory).
export class BouncePool {
  readonly buffer: ArrayBuffer;
  readonly #alignment: number;
  // Free extents [offset, length], sorted by offset, coalesced.
  readonly #free: [number, number][];

  constructor(buffer: ArrayBuffer, alignment: number) {
    this.buffer = buffer;
    this.#alignment = Math.max(1, alignment);
    this.#free = [[0, buffer.byteLength]];
  }

  get size(): number {
    return this.buffer.byteLength;
  }

  /** A view of `length` bytes, or null when no extent is large enough now. */
  alloc(length: number): Uint8Array | null {
    const size = Math.ceil(Math.max(length, 1) / this.#alignment) * this.#alignment;
    for (let i = 0; i < this.#free.length; i++) {
      const extent = this.#free[i];
      if (extent[1] < size) continue;
      const offset = extent[0];
      extent[0] += size;
      extent[1] -= size;
      if (extent[1] === 0) this.#free.splice(i, 1);
      return new Uint8Array(this.buffer, offset, length);
    }
    return null;
  }

  release(view: Uint8Array): void {
    const offset = view.byteOffset;
    const size = Math.ceil(Math.max(view.byteLength, 1) / this.#alignment) * this.#alignment;
    let i = 0;
    while (i < this.#free.length && this.#free[i][0] < offset) i++;
    this.#free.splice(i, 0, [offset, size]);
    // Coalesce with the neighbours.
    if (i + 1 < this.#free.length && offset + size === this.#free[i + 1][0]) {
      this.#free[i][1] += this.#free[i + 1][1];
      this.#free.splice(i + 1, 1);
    }
    if (i > 0 && this.#free[i - 1][0] + this.#free[i - 1][1] === offset) {
      this.#free[i - 1][1] += this.#free[i][1];
      this.#free.splice(i, 1);
    }
  }
}
