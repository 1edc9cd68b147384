// Describing JS buffers to the native side by address, without a native
// call per request: the base address of each ArrayBuffer is asked once and
// cached. Holding the view in the queue's slot table until completion keeps
// its memory alive.
import { addon } from './native/addon';

const baseAddresses = new WeakMap<ArrayBufferLike, number>();

export function bufferAddress(view: Uint8Array): number {
  const ab = view.buffer;
  let base = baseAddresses.get(ab);
  if (base === undefined) {
    base = addon.bufferBase(view);
    baseAddresses.set(ab, base);
  }
  return base + view.byteOffset;
}
