// Describing JS buffers to the native side by address, without a native
// call per request. Every address and length comes from the engine: the
// base address of an ArrayBuffer from napi_get_typedarray_info, a view's
// offset, length and buffer from the built-in %TypedArray% getters captured
// at load time. JS-visible properties (a subclass's getters, own properties,
// a Proxy) are never consulted, so no program can make a request reach
// memory its view does not own. Holding the view in the queue's slot table
// until completion keeps its memory alive.
import { invalidArgument } from './errors';
import { addon } from './native/addon';

// fn.call bound to each getter once (as Node's primordials do): immune to
// later changes of Function.prototype.call or of the prototypes.
const { bind, call } = Function.prototype;
const uncurryThis = bind.bind(call) as <R>(fn: (this: unknown) => R) => (self: unknown) => R;
const typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;
function intrinsicGetter<R>(owner: object, name: PropertyKey): (self: unknown) => R {
  return uncurryThis(Object.getOwnPropertyDescriptor(owner, name)!.get as (this: unknown) => R);
}

/** The engine's byteLength of a typed array (0 once its buffer is detached). */
export const viewByteLength = intrinsicGetter<number>(typedArrayPrototype, 'byteLength');
const viewByteOffset = intrinsicGetter<number>(typedArrayPrototype, 'byteOffset');
/** The engine's buffer of a typed array. */
export const viewBuffer = intrinsicGetter<ArrayBufferLike>(typedArrayPrototype, 'buffer');
// 'Uint8Array' for a real Uint8Array (or Buffer), undefined for anything
// else, including a Proxy: the spec's brand check, which never throws.
const viewTag = intrinsicGetter<string | undefined>(typedArrayPrototype, Symbol.toStringTag);

const abByteLength = intrinsicGetter<number>(ArrayBuffer.prototype, 'byteLength');

/** The engine's byteLength of a genuine ArrayBuffer (0 once detached), -1 for anything else. */
export function arrayBufferLength(value: unknown): number {
  try {
    return abByteLength(value);
  } catch {
    return -1;
  }
}

/** True only for a genuine Uint8Array (Buffer included): not a Proxy, not a lookalike. */
export function isUint8Array(value: unknown): value is Uint8Array {
  return viewTag(value) === 'Uint8Array';
}

/** Where a mapped region's memory is, and its slot in the native table (-1 once unmapped). */
export interface MappedBuffer {
  base: number;
  slot: number;
}

/** Where a view's memory is; only this module creates these, from engine values. */
export interface ViewLocation {
  readonly addr: number;
  readonly length: number;
  readonly mapped: MappedBuffer | null;
}

const baseAddresses = new WeakMap<ArrayBufferLike, number>();

/** The address of a real Uint8Array's first byte (call isUint8Array first). */
export function bufferAddress(view: Uint8Array): number {
  if (!isUint8Array(view)) invalidArgument('buf must be a Uint8Array');
  const ab = viewBuffer(view);
  let base = baseAddresses.get(ab);
  if (base === undefined) {
    base = addon.bufferBase(view) as number;
    baseAddresses.set(ab, base);
  }
  return base + viewByteOffset(view);
}

// Adds a private field to any object (a constructor may return another
// object; fields are then installed on it). Private fields are invisible to
// reflection and writable only here, so the cache cannot be spoofed.
class Stamp {
  constructor(target: object) {
    return target;
  }
}
class LocatedView extends Stamp {
  #where: ViewLocation;
  constructor(view: Uint8Array, where: ViewLocation) {
    super(view);
    this.#where = where;
  }
  static get(view: object): ViewLocation | undefined {
    return #where in view ? view.#where : undefined;
  }
  static set(view: object, where: ViewLocation): void {
    if (#where in view) view.#where = where;
    else new LocatedView(view as Uint8Array, where);
  }
}

/**
 * Where a view's memory is, for a request. Throws BlkioError EINVAL for
 * anything but a genuine Uint8Array. The location is cached on the view and
 * checked against the engine's byteLength on every use, so a view whose
 * buffer was detached since is described afresh (empty).
 */
export function locateView(view: unknown, mappedBuffers: WeakMap<ArrayBufferLike, MappedBuffer>): ViewLocation {
  if (typeof view === 'object' && view !== null) {
    const where = LocatedView.get(view);
    if (where !== undefined && viewByteLength(view) === where.length) return where;
  }
  if (!isUint8Array(view)) invalidArgument('buf must be a Uint8Array');
  const length = viewByteLength(view);
  if (length === 0) return EMPTY;
  const mapped = mappedBuffers.get(viewBuffer(view)) ?? null;
  const addr = mapped ? mapped.base + viewByteOffset(view) : bufferAddress(view);
  const where: ViewLocation = { addr, length, mapped };
  try {
    LocatedView.set(view, where);
  } catch {
    // Not extensible in this engine: simply not cached.
  }
  return where;
}

const EMPTY: ViewLocation = Object.freeze({ addr: 0, length: 0, mapped: null });
