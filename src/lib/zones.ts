// Zoned block devices: the zone descriptor (libblkio's struct blkio_zone)
// as JS sees it, and the constants of its type and state fields.
import { invalidArgument } from './errors';

/** Size of one struct blkio_zone: a reportZones buffer holds a whole number of them. */
export const ZONE_BYTES = 64;

/** Zone types (struct blkio_zone zone_type). */
export const ZONE_TYPE_CONVENTIONAL = 0x1;
export const ZONE_TYPE_SEQWRITE_REQ = 0x2;
export const ZONE_TYPE_SEQWRITE_PREF = 0x3;

/** Zone states (struct blkio_zone zone_state; 0 for a conventional zone, which has none). */
export const ZONE_STATE_EMPTY = 0x1;
export const ZONE_STATE_IMP_OPEN = 0x2;
export const ZONE_STATE_EXP_OPEN = 0x3;
export const ZONE_STATE_CLOSED = 0x4;
export const ZONE_STATE_READONLY = 0xd;
export const ZONE_STATE_FULL = 0xe;
export const ZONE_STATE_OFFLINE = 0xf;

/** One zone as reported by Queue.reportZones (offsets and lengths in bytes). */
export interface Zone {
  start: number;
  len: number;
  /** Writable bytes from start (at most len). */
  capacity: number;
  /** The next byte a write must start at; null for a zone without one (conventional, offline). */
  writePointer: number | null;
  /** ZONE_TYPE_*. */
  type: number;
  /** ZONE_STATE_*. */
  state: number;
  /** The device recommends resetting this zone. */
  reset: boolean;
}

/** A buffer for Queue.reportZones with room for count zones. */
export function allocateZones(count: number): Uint8Array {
  if (!Number.isSafeInteger(count) || count < 0 || count > 2 ** 26)
    invalidArgument(`zone count must be an integer from 0 to 2^26, got ${String(count)}`);
  return new Uint8Array(count * ZONE_BYTES);
}

const NO_WRITE_POINTER = 2n ** 64n - 1n;

/** The first count zones of a reportZones buffer (count: the completion's ret). */
export function decodeZones(zones: Uint8Array, count: number): Zone[] {
  if (!(zones instanceof Uint8Array)) invalidArgument('zones must be a Uint8Array');
  if (!Number.isSafeInteger(count) || count < 0 || count * ZONE_BYTES > zones.byteLength)
    invalidArgument(`count must be an integer from 0 to ${Math.floor(zones.byteLength / ZONE_BYTES)}, got ${String(count)}`);
  const view = new DataView(zones.buffer, zones.byteOffset, zones.byteLength);
  const out: Zone[] = [];
  for (let i = 0; i < count; i++) {
    const o = i * ZONE_BYTES;
    const wp = view.getBigUint64(o + 24, true);
    out.push({
      start: Number(view.getBigUint64(o, true)),
      len: Number(view.getBigUint64(o + 8, true)),
      capacity: Number(view.getBigUint64(o + 16, true)),
      writePointer: wp === NO_WRITE_POINTER ? null : Number(wp),
      type: view.getUint8(o + 32),
      state: view.getUint8(o + 33),
      reset: view.getUint8(o + 34) !== 0,
    });
  }
  return out;
}
