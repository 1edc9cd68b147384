// What Device.switchTo needs besides the Device's own state: checking that
// a new backend can stand in for the old one, naming backends, and the
// report. The request handling itself (holding, draining, moving) lives in
// the Device, next to its request dispatch.
import type { Blkio } from '../blkio';
import { BlkioError } from '../errors';

/** What Device.switchTo() resolves to. */
export interface SwitchReport {
  /** How long requests were held (issued during the switch, waiting for the new backend), in ms. */
  pauseMs: number;
  /**
   * Requests accepted by the old backend's queue that had not reached its
   * device, handed over (Queue.takeUnsubmitted) and submitted on the new
   * backend instead. The others completed on the old backend.
   */
  inflightMoved: number;
  /** The old backend, as `driver:path`. */
  from: string;
  /** The new backend, as `driver:path`. */
  to: string;
}

const EINVAL = 22;
const SECTOR = 512;

/** `driver:path` of a started Blkio, for reports and messages. */
export function backendName(blkio: Blkio): string {
  const driver = blkio.getStr('driver');
  let where = '';
  try {
    where = blkio.getStr('path');
  } catch {
    // A driver opened by fd has no path.
  }
  return where ? `${driver}:${where}` : driver;
}

/** What the Device promised its users, which any backend it moves to must keep. */
export interface BackendContract {
  capacity: bigint;
  requestAlignment: number;
  readOnly: boolean;
  name: string;
}

/**
 * Throws a BlkioError naming why `next` cannot serve the device's requests
 * in place of the current backend: another capacity, another read-only
 * state, or a request-alignment larger than both the current one and 512
 * bytes (every sector-addressed device takes 512-byte-aligned requests, so
 * moving from buffered io_uring's 1 to a 512-byte device is allowed).
 */
export function checkCompatible(current: BackendContract, next: Blkio): void {
  const to = backendName(next);
  const capacity = next.getUint64('capacity');
  if (capacity !== current.capacity)
    throw new BlkioError(
      `cannot switch from ${current.name} to ${to}: capacity differs (${current.capacity} bytes, new backend ${capacity} bytes)`,
      EINVAL,
    );
  const alignment = next.getInt('request-alignment');
  if (alignment > Math.max(current.requestAlignment, SECTOR))
    throw new BlkioError(
      `cannot switch from ${current.name} to ${to}: block size differs (request-alignment ${current.requestAlignment}, new backend ${alignment})`,
      EINVAL,
    );
  const readOnly = next.getBool('read-only');
  if (readOnly !== current.readOnly)
    throw new BlkioError(
      `cannot switch from ${current.name} to ${to}: the device is ${current.readOnly ? 'read-only' : 'writable'} but the new backend is ${readOnly ? 'read-only' : 'writable'}`,
      readOnly ? 30 /* EROFS */ : EINVAL,
    );
}

/**
 * Whether requests waiting in the old queue can be handed to the new one
 * as they are: their buffers were used directly (no bounce pool), and the
 * new backend takes such buffers (no mapped regions, no larger alignment).
 */
export function canMoveRequests(oldUsedBounce: boolean, oldBufAlignment: number, next: Blkio): boolean {
  return !oldUsedBounce && !next.getBool('needs-mem-regions') && next.getInt('buf-alignment') <= oldBufAlignment;
}
