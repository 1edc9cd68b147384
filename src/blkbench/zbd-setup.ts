/**
 * zonemode=zbd before the job runs, as fio prepares it: the region cut to whole zones, the zones read
 * from the device (or laid over a device without zones when zonesize is given), the open-zone limit
 * settled against the device's, zones open beyond it reset, and a verifying write job's zones reset
 * so that no reset is needed while it writes. The result is the job loops' zone table (JobLoopZones).
 */
import type { JobLoopZones } from '../lib/bench';
import {
  Blkio, Queue, allocateZones, createCompletions, decodeZones, Zone,
  ZONE_STATE_EXP_OPEN, ZONE_STATE_FULL, ZONE_STATE_IMP_OPEN, ZONE_STATE_OFFLINE, ZONE_TYPE_CONVENTIONAL,
} from '../lib';
import { JobSpec, jobDirections, maxBlockSize } from './options';

const KIND = { conventional: 0, sequential: 1, open: 2, offline: 3 } as const;
/** fio's own cap on max_open_zones. */
const MAX_OPEN_LIMIT = 4096;

export class ZonedSetupError extends Error {
  override name = 'SetupError';
}

export interface ZonedRegion {
  regionStart: number;
  regionLen: number;
  zbd: JobLoopZones;
}

/** The job's zones and its region cut to them; throws ZonedSetupError with fio's reasons. */
export function setUpZones(b: Blkio, spec: JobSpec, region: { offset: number; size: number }, capacity: number): ZonedRegion {
  const fail = (why: string): never => {
    throw new ZonedSetupError(`${spec.name}: zonemode=zbd: ${why}`);
  };
  const model = b.getStr('zoned-model');
  const emulated = model === 'none';
  let zoneSize: number;
  if (emulated) {
    if (!spec.zonesize) fail(`'${spec.path}' is not a zoned block device; give zonesize for zones laid over it (as fio does)`);
    zoneSize = spec.zonesize!;
    if (zoneSize < 512) fail(`zonesize ${zoneSize} is below 512 bytes`);
    if (capacity < zoneSize) fail(`'${spec.path}' (${capacity} bytes) is smaller than zonesize ${zoneSize}`);
  } else {
    zoneSize = Number(b.getUint64('zone-size'));
    if (zoneSize <= 0) fail(`'${spec.path}' reports no zone size`);
    if (spec.zonesize && spec.zonesize !== zoneSize) fail(`zonesize ${spec.zonesize} does not match the device's zone size ${zoneSize}`);
  }
  // Whole zones only (fio rounds a write job's region; blkbench every job's).
  const start = Math.ceil(region.offset / zoneSize) * zoneSize;
  const end = Math.floor((region.offset + region.size) / zoneSize) * zoneSize;
  if (end <= start) fail(`the region (offset ${region.offset}, size ${region.size}) holds no whole zone of ${zoneSize} bytes`);
  const count = (end - start) / zoneSize;

  const maxOpen = settleOpenLimit(b, spec, model, fail);
  if (spec.jobMaxOpenZones > 0 && maxOpen === 0) fail('job_max_open_zones cannot be used without a global open zones limit (max_open_zones)');

  const queue = b.getQueue(0) ?? b.getPollQueue(0);
  if (!queue) fail('the device has no queue');
  let zones: Array<[number, number, number]>;
  if (emulated) {
    const cap = spec.zonecapacity || zoneSize;
    zones = Array.from({ length: count }, () => [cap, 0, KIND.sequential] as [number, number, number]);
  } else {
    zones = reportZones(queue!, start, count, zoneSize, fail).map(tableEntry);
  }
  const smallestCapacity = Math.min(...zones.filter((z) => z[2] !== KIND.conventional).map((z) => z[0]));
  const writes = jobDirections(spec.rw).includes('write');
  if (writes && maxBlockSize(spec) > zoneSize) fail(`block size ${maxBlockSize(spec)} is larger than the zone size ${zoneSize}`);
  if (spec.verify !== 'none' && zoneSize % maxBlockSize(spec) !== 0) fail(`block size ${maxBlockSize(spec)} does not divide the zone size ${zoneSize}`);
  // A verify block cut short at a zone's capacity could not be read back whole.
  const ragged = zones.find((z) => z[2] !== KIND.conventional && z[0] % maxBlockSize(spec) !== 0);
  if (spec.verify !== 'none' && ragged) fail(`block size ${maxBlockSize(spec)} does not divide the zone capacity ${ragged[0]}`);
  if (writes && Number.isFinite(smallestCapacity) && smallestCapacity < maxBlockSize(spec)) {
    fail(`a zone's capacity ${smallestCapacity} is smaller than the block size ${maxBlockSize(spec)}`);
  }

  const reset = (i: number) => {
    if (!emulated) resetZone(queue!, start + i * zoneSize, fail);
    zones[i] = [zones[i][0], 0, KIND.sequential];
  };
  // Zones already open count against the limits; those beyond them are reset, as fio does.
  let open = 0;
  const jobLimit = spec.jobMaxOpenZones > 0 ? spec.jobMaxOpenZones : Infinity;
  zones.forEach((z, i) => {
    if (z[2] !== KIND.open || maxOpen === 0) return;
    if (open < maxOpen && open < jobLimit) open++;
    else if (z[1] > 0) reset(i);
    else zones[i] = [z[0], 0, KIND.sequential];
  });
  // A verifying write job starts on empty zones: a reset while it writes would lose checked data.
  if (writes && spec.verify !== 'none') {
    zones.forEach((z, i) => {
      if (z[2] === KIND.conventional || z[2] === KIND.offline) return;
      if (z[1] > 0) reset(i);
      else zones[i] = [z[0], 0, KIND.sequential];
    });
  }
  return {
    regionStart: start,
    regionLen: end - start,
    zbd: {
      zoneSize, zones, maxOpenZones: maxOpen, jobMaxOpenZones: spec.jobMaxOpenZones,
      resetThreshold: spec.zoneResetThreshold, resetFrequency: spec.zoneResetFrequency, readBeyondWp: spec.readBeyondWp, emulated,
    },
  };
}

/** fio's rule: a host-managed device's open limit bounds max_open_zones (unless ignore_zone_limits). */
function settleOpenLimit(b: Blkio, spec: JobSpec, model: string, fail: (why: string) => never): number {
  let limit = spec.maxOpenZones;
  if (model === 'host-managed' && !spec.ignoreZoneLimits) {
    const device = Number(b.getUint64('max-open-zones'));
    if (device > 0 && limit === 0) limit = device;
    else if (device > 0 && limit > device) fail(`max_open_zones ${limit} is above the device's limit ${device}`);
  }
  if (limit > MAX_OPEN_LIMIT) fail(`max_open_zones ${limit} is above ${MAX_OPEN_LIMIT}`);
  return limit;
}

function tableEntry(z: Zone): [number, number, number] {
  if (z.type === ZONE_TYPE_CONVENTIONAL) return [z.capacity, z.capacity, KIND.conventional];
  if (z.state === ZONE_STATE_OFFLINE || z.writePointer === null) return [Math.max(1, z.capacity), 0, KIND.offline];
  const written = z.state === ZONE_STATE_FULL ? z.capacity : Math.min(z.capacity, Math.max(0, z.writePointer - z.start));
  const open = z.state === ZONE_STATE_IMP_OPEN || z.state === ZONE_STATE_EXP_OPEN;
  return [z.capacity, written, open ? KIND.open : KIND.sequential];
}

function waitOne(queue: Queue, what: string, fail: (why: string) => never): number {
  const comps = createCompletions(1);
  let n = 0;
  while (n === 0) n = queue.doIo(comps, 1, 1);
  if (comps[0].ret < 0) fail(`${what} failed: ${comps[0].errorMsg ?? `errno ${-comps[0].ret}`}`);
  return comps[0].ret;
}

function reportZones(queue: Queue, start: number, count: number, zoneSize: number, fail: (why: string) => never): Zone[] {
  const out: Zone[] = [];
  while (out.length < count) {
    const want = Math.min(count - out.length, 4096);
    const buf = allocateZones(want);
    const from = start + out.length * zoneSize;
    queue.reportZones(from, buf);
    const got = waitOne(queue, `reporting zones from offset ${from}`, fail);
    if (got <= 0) fail(`the device reported no zone at offset ${from}`);
    for (const z of decodeZones(buf, got)) {
      if (z.start !== start + out.length * zoneSize || z.len !== zoneSize) fail(`the device reported an irregular zone at offset ${z.start}`);
      out.push(z);
      if (out.length === count) break;
    }
  }
  return out;
}

function resetZone(queue: Queue, offset: number, fail: (why: string) => never): void {
  queue.resetZone(offset);
  waitOne(queue, `resetting the zone at offset ${offset}`, fail);
}
