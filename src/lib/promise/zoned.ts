// The Promise layer's zoned-device surface: device.zones.report(),
// .reset(offset) and friends, each one request on the device's queue.
import type { Blkio } from '../blkio';
import { invalidArgument } from '../errors';
import type { Queue } from '../queue';
import { allocateZones, decodeZones, Zone } from '../zones';
import { requestOptions } from './shapes';

/** Options of a zone request: an AbortSignal, as for reads and writes. */
export interface ZoneRequestOptions {
  signal?: AbortSignal;
}

/** What a zoned device reports about itself (its zoned properties). */
export interface ZonedGeometry {
  /** 'none', 'host-aware' or 'host-managed'. */
  model: string;
  /** Bytes per zone (0 on a device without zones). */
  zoneSize: number;
  nrZones: number;
  /** 0: no limit. */
  maxOpenZones: number;
  /** 0: no limit. */
  maxActiveZones: number;
  /** 0: this driver offers no zone append. */
  maxAppendBytes: number;
}

type Submit = (what: string, signal: AbortSignal | undefined, enqueue: (queue: Queue, userData: unknown) => void) => Promise<number>;

const MAX_REPORT = 1 << 20;

/** Zone operations of an open Device (device.zones). Requests fail with ENOTSUP on a device without zones. */
export class DeviceZones {
  readonly #blkio: Blkio;
  readonly #submit: Submit;

  /** @internal Device creates it. */
  constructor(blkio: Blkio, submit: Submit) {
    this.#blkio = blkio;
    this.#submit = submit;
  }

  /** The device's zone model, geometry and limits. */
  get geometry(): ZonedGeometry {
    const b = this.#blkio;
    return {
      model: b.getStr('zoned-model'),
      zoneSize: Number(b.getUint64('zone-size')),
      nrZones: Number(b.getUint64('nr-zones')),
      maxOpenZones: Number(b.getUint64('max-open-zones')),
      maxActiveZones: Number(b.getUint64('max-active-zones')),
      maxAppendBytes: Number(b.getUint64('max-append-bytes')),
    };
  }

  /** Up to count zones, from the zone holding offset (fewer at the end of the device). */
  async report(offset: number | bigint, count: number, options?: ZoneRequestOptions): Promise<Zone[]> {
    if (!Number.isSafeInteger(count) || count < 1 || count > MAX_REPORT)
      invalidArgument(`count must be an integer from 1 to ${MAX_REPORT}, got ${String(count)}`);
    const { signal } = requestOptions(options);
    const buf = allocateZones(count);
    const n = await this.#submit('reportZones', signal, (q, ud) => q.reportZones(offset, buf, ud));
    return decodeZones(buf, n);
  }

  /** Explicitly opens the zone starting at offset. */
  open(offset: number | bigint, options?: ZoneRequestOptions): Promise<void> {
    return this.#manage('openZone', options, (q, ud) => q.openZone(offset, ud));
  }

  /** Closes the zone starting at offset. */
  close(offset: number | bigint, options?: ZoneRequestOptions): Promise<void> {
    return this.#manage('closeZone', options, (q, ud) => q.closeZone(offset, ud));
  }

  /** Makes the zone starting at offset full. */
  finish(offset: number | bigint, options?: ZoneRequestOptions): Promise<void> {
    return this.#manage('finishZone', options, (q, ud) => q.finishZone(offset, ud));
  }

  /** Moves the write pointer of the zone starting at offset back to its start. */
  reset(offset: number | bigint, options?: ZoneRequestOptions): Promise<void> {
    return this.#manage('resetZone', options, (q, ud) => q.resetZone(offset, ud));
  }

  /** Resets every zone. */
  resetAll(options?: ZoneRequestOptions): Promise<void> {
    return this.#manage('resetAllZones', options, (q, ud) => q.resetAllZones(ud));
  }

  /** Closes every open zone. */
  closeAll(options?: ZoneRequestOptions): Promise<void> {
    return this.#manage('closeAllZones', options, (q, ud) => q.closeAllZones(ud));
  }

  /** Finishes every open or closed zone. */
  finishAll(options?: ZoneRequestOptions): Promise<void> {
    return this.#manage('finishAllZones', options, (q, ud) => q.finishAllZones(ud));
  }

  /** Opens every closed zone. */
  openAll(options?: ZoneRequestOptions): Promise<void> {
    return this.#manage('openAllZones', options, (q, ud) => q.openAllZones(ud));
  }

  async #manage(what: string, options: ZoneRequestOptions | undefined, enqueue: (queue: Queue, userData: unknown) => void): Promise<void> {
    await this.#submit(what, requestOptions(options).signal, enqueue);
  }
}
