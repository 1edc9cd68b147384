// A writer for switching tests: `depth` workers keep writes in flight, each
// on blocks of its own (no two overlapping writes in flight), every block
// stamped with its index and a generation; after a write is acknowledged the
// worker sometimes reads the block back and checks it. `expected` is what
// the image must hold once the writer stopped (and the device was flushed).
import * as assert from 'node:assert/strict';
import type { Device } from '../../src/lib';

export interface WriterOptions {
  /** Number of blocks the writer uses, from offset 0. */
  blocks: number;
  blockSize: number;
  /** Writes in flight (one per worker). */
  depth: number;
  /** Flush after every this many acknowledged writes (0: never). */
  flushEvery?: number;
}

export interface WriterResult {
  writes: number;
  reads: number;
  flushes: number;
  /** The first failure of a request, if any. */
  error: unknown;
}

/** The contents of block `index` at `generation`. */
export function stamp(index: number, generation: number, blockSize: number): Uint8Array {
  const b = new Uint8Array(blockSize);
  const view = new DataView(b.buffer);
  for (let at = 0; at < blockSize; at += 8) {
    view.setUint32(at, index);
    view.setUint32(at + 4, generation);
  }
  return b;
}

export class VerifyingWriter {
  readonly expected: Map<number, number> = new Map(); // block -> generation acknowledged
  readonly #dev: Device;
  readonly #opts: Required<WriterOptions>;
  #stopping = false;
  #workers: Promise<void>[] = [];
  readonly #result: WriterResult = { writes: 0, reads: 0, flushes: 0, error: undefined };

  constructor(dev: Device, opts: WriterOptions) {
    this.#dev = dev;
    this.#opts = { flushEvery: 0, ...opts };
    for (let w = 0; w < opts.depth; w++) this.#workers.push(this.#work(w));
  }

  get writes(): number {
    return this.#result.writes;
  }

  /** The first failure of a request so far (the writer stopped then), if any. */
  get error(): unknown {
    return this.#result.error;
  }

  async #work(worker: number): Promise<void> {
    const { blocks, blockSize, depth, flushEvery } = this.#opts;
    let n = 0;
    try {
      while (!this.#stopping) {
        const index = worker + depth * (n % Math.floor(blocks / depth));
        const generation = (this.expected.get(index) ?? 0) + 1;
        await this.#dev.write(stamp(index, generation, blockSize), 0, blockSize, index * blockSize);
        this.expected.set(index, generation);
        this.#result.writes++;
        if (n % 4 === 3) {
          const { buffer: back } = await this.#dev.read(new Uint8Array(blockSize), 0, blockSize, index * blockSize);
          assert.deepEqual(back, stamp(index, generation, blockSize), `block ${index} read back wrong`);
          this.#result.reads++;
        }
        if (flushEvery > 0 && this.#result.writes % flushEvery === 0) {
          await this.#dev.flush();
          this.#result.flushes++;
        }
        n++;
      }
    } catch (e) {
      this.#result.error ??= e;
      this.#stopping = true;
    }
  }

  /** Stops issuing, waits for the workers, flushes. */
  async stop(): Promise<WriterResult> {
    this.#stopping = true;
    await Promise.all(this.#workers);
    if (this.#result.error === undefined) await this.#dev.flush();
    return this.#result;
  }

  /** Checks every written block of an image (read from outside) against what was acknowledged. */
  check(image: Uint8Array): void {
    const { blockSize } = this.#opts;
    for (const [index, generation] of this.expected) {
      const got = image.subarray(index * blockSize, (index + 1) * blockSize);
      assert.ok(
        Buffer.compare(got, stamp(index, generation, blockSize)) === 0,
        `block ${index}: expected generation ${generation}, image has ${new DataView(got.buffer, got.byteOffset).getUint32(4)}`,
      );
    }
  }
}
