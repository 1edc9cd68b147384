// Node streams over a Device, as FileHandle's createReadStream,
// createWriteStream and readableWebStream. Both keep several requests in
// flight (queueDepth) and honour backpressure: a read stream stops issuing
// reads while its consumer is full; a write stream holds the writer's
// callback while queueDepth writes are in flight.
import { Readable, Writable } from 'node:stream';
import type { ReadableStream } from 'node:stream/web';
import { invalidArgument } from '../errors';
import type { Device } from './device';

/** Options of createReadStream() and readableWebStream(). */
export interface ReadStreamOptions {
  /** First byte (default 0). */
  start?: number;
  /** Last byte, inclusive as in fs (default: the device's last byte; larger values are clamped to it). */
  end?: number;
  /** Bytes per read request and per chunk (default 64 KiB, rounded up to the logical block size). */
  highWaterMark?: number;
  /** Read requests in flight at once (default 4). */
  queueDepth?: number;
  /** Aborts the stream (it is destroyed with an AbortError). */
  signal?: AbortSignal;
}

/** Options of createWriteStream(). */
export interface WriteStreamOptions {
  /** Where the first byte goes (default 0): a multiple of the logical block size. */
  start?: number;
  /** Bytes per write request (default 64 KiB, rounded up to the logical block size). */
  highWaterMark?: number;
  /** Write requests in flight at once (default 4). */
  queueDepth?: number;
  /** Use FUA on every write, so the data is persistent when the stream finishes. */
  fua?: boolean;
  /** Aborts the stream (it is destroyed with an AbortError). */
  signal?: AbortSignal;
}

const DEFAULT_CHUNK = 64 * 1024;
const DEFAULT_DEPTH = 4;

function optionalInteger(value: unknown, what: string, min: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min)
    invalidArgument(`${what} must be an integer of at least ${min}, got ${String(value)}`);
  return value;
}

function checkOptions(options: unknown): Record<string, unknown> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) invalidArgument('stream options must be an object');
  return options as Record<string, unknown>;
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

interface PendingRead {
  position: number;
  buffer: Buffer;
  done: boolean;
}

class DeviceReadStream extends Readable {
  readonly #dev: Device;
  readonly #start: number;
  readonly #end: number; // exclusive
  readonly #alignedEnd: number;
  readonly #chunk: number;
  readonly #depth: number;
  readonly #inFlight: PendingRead[] = [];
  #next: number;
  #wanted = false;

  constructor(dev: Device, options: Record<string, unknown>) {
    const block = dev.requestAlignment;
    const capacity = Number(dev.capacity);
    const start = optionalInteger(options.start, 'start', 0, 0);
    const endInclusive = Math.min(optionalInteger(options.end, 'end', 0, capacity - 1), capacity - 1);
    if (start > endInclusive + 1) invalidArgument(`start (${start}) must not be beyond end (${endInclusive}) + 1`);
    const chunk = roundUp(optionalInteger(options.highWaterMark, 'highWaterMark', 1, DEFAULT_CHUNK), block);
    super({ highWaterMark: chunk, signal: options.signal as AbortSignal | undefined });
    this.#dev = dev;
    this.#start = start;
    this.#end = endInclusive + 1;
    this.#alignedEnd = Math.min(roundUp(this.#end, block), capacity);
    this.#next = Math.floor(start / block) * block;
    this.#chunk = chunk;
    this.#depth = optionalInteger(options.queueDepth, 'queueDepth', 1, DEFAULT_DEPTH);
  }

  override _read(): void {
    this.#wanted = true;
    this.#deliver();
  }

  #issue(): void {
    while (this.#wanted && this.#inFlight.length < this.#depth && this.#next < this.#alignedEnd && !this.destroyed) {
      const length = Math.min(this.#chunk, this.#alignedEnd - this.#next);
      const pending: PendingRead = { position: this.#next, buffer: Buffer.allocUnsafeSlow(length), done: false };
      this.#next += length;
      this.#inFlight.push(pending);
      this.#dev.read(pending.buffer, 0, length, pending.position).then(
        () => {
          pending.done = true;
          this.#deliver();
        },
        (e: Error) => this.destroy(e),
      );
    }
  }

  // Pushes completed reads in order, trimmed to [start, end).
  #deliver(): void {
    while (this.#wanted && this.#inFlight.length > 0 && this.#inFlight[0].done && !this.destroyed) {
      const { position, buffer } = this.#inFlight.shift()!;
      const from = Math.max(this.#start - position, 0);
      const to = Math.min(this.#end - position, buffer.length);
      this.#wanted = this.push(from === 0 && to === buffer.length ? buffer : buffer.subarray(from, to));
    }
    if (this.#inFlight.length === 0 && this.#next >= this.#alignedEnd) {
      if (!this.destroyed && !this.readableEnded) this.push(null);
      return;
    }
    this.#issue();
  }
}

class DeviceWriteStream extends Writable {
  readonly #dev: Device;
  readonly #chunk: number;
  readonly #depth: number;
  readonly #fua: boolean;
  #position: number;
  #staging: Buffer;
  #filled = 0;
  #inFlight = 0;
  #error: Error | null = null;
  // A writer (or _final) waiting for a write to complete.
  #waiting: (() => void) | null = null;

  constructor(dev: Device, options: Record<string, unknown>) {
    const block = dev.requestAlignment;
    const start = optionalInteger(options.start, 'start', 0, 0);
    if (start % block !== 0) invalidArgument(`start must be a multiple of the logical block size ${block}, got ${start}`);
    const chunk = roundUp(optionalInteger(options.highWaterMark, 'highWaterMark', 1, DEFAULT_CHUNK), block);
    if (options.fua !== undefined && typeof options.fua !== 'boolean') invalidArgument('fua must be a boolean');
    super({ highWaterMark: chunk, signal: options.signal as AbortSignal | undefined });
    this.#dev = dev;
    this.#position = start;
    this.#chunk = chunk;
    this.#depth = optionalInteger(options.queueDepth, 'queueDepth', 1, DEFAULT_DEPTH);
    this.#fua = options.fua === true;
    this.#staging = Buffer.allocUnsafeSlow(chunk);
  }

  override _write(data: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    let at = 0;
    while (at < data.length) {
      const n = data.copy(this.#staging, this.#filled, at);
      this.#filled += n;
      at += n;
      if (this.#filled === this.#chunk) this.#issue(this.#staging);
    }
    this.#afterSpace(callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    void this.#finish().then(() => callback(), callback);
  }

  async #finish(): Promise<void> {
    if (this.#filled > 0) {
      const block = this.#dev.requestAlignment;
      const whole = roundUp(this.#filled, block);
      if (whole !== this.#filled) {
        // A partial last block keeps the device's bytes after the data.
        const tail = Buffer.allocUnsafe(block);
        const tailAt = this.#position + whole - block;
        await this.#dev.read(tail, 0, block, tailAt);
        const keepFrom = this.#filled - (whole - block);
        tail.copy(this.#staging, this.#filled, keepFrom);
      }
      this.#issue(this.#staging.subarray(0, whole));
    }
    while (this.#inFlight > 0) await new Promise<void>((resolve) => (this.#waiting = resolve));
    if (this.#error) throw this.#error;
  }

  #issue(data: Buffer): void {
    const position = this.#position;
    this.#position += data.length;
    this.#staging = Buffer.allocUnsafeSlow(this.#chunk);
    this.#filled = 0;
    this.#inFlight++;
    this.#dev.write(data, 0, data.length, position, { fua: this.#fua }).then(
      () => this.#completed(),
      (e: Error) => {
        this.#error ??= e;
        this.#completed();
      },
    );
  }

  #completed(): void {
    this.#inFlight--;
    const waiting = this.#waiting;
    this.#waiting = null;
    waiting?.();
  }

  // The writer may go on while fewer than queueDepth writes are in flight.
  #afterSpace(callback: (error?: Error | null) => void): void {
    if (this.#error) return callback(this.#error);
    if (this.#inFlight < this.#depth) return callback();
    this.#waiting = () => this.#afterSpace(callback);
  }
}

export function createReadStream(dev: Device, options?: ReadStreamOptions): Readable {
  return new DeviceReadStream(dev, checkOptions(options));
}

export function createWriteStream(dev: Device, options?: WriteStreamOptions): Writable {
  return new DeviceWriteStream(dev, checkOptions(options));
}

export function readableWebStream(dev: Device, options?: ReadStreamOptions): ReadableStream<Uint8Array> {
  return Readable.toWeb(createReadStream(dev, options)) as ReadableStream<Uint8Array>;
}
