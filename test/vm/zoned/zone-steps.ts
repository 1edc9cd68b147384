// One zone request at a time on a queue, for the guest's zoned suites: run it
// and take its completion, insist that it succeeded, or report zones.
import * as assert from 'node:assert/strict';
import { allocateZones, decodeZones, Queue, Zone } from '../../../src/lib';
import { complete } from '../../support/completions';

export interface ZoneSteps {
  /** Enqueues one request and returns its completion's ret and message. */
  run(enqueue: () => void): { ret: number; msg: string | null };
  /** As run(), failing the test (naming what) unless ret >= 0; returns ret. */
  ok(what: string, enqueue: () => void): number;
  /** The zones from offset on (count of them at most). */
  report(offset: number, count?: number): Zone[];
  /** The zone with this index. */
  zoneAt(index: number): Zone;
}

/** queue() gives the suite's queue (set up in its before hook); zoneSize and zones describe the device. */
export function zoneSteps(queue: () => Queue, zoneSize: number, zones: number): ZoneSteps {
  const run = (enqueue: () => void) => {
    enqueue();
    const [c] = complete(queue(), 1);
    return { ret: c.ret, msg: c.errorMsg };
  };
  const ok = (what: string, enqueue: () => void) => {
    const r = run(enqueue);
    assert.ok(r.ret >= 0, `${what}: ${r.ret} ${r.msg}`);
    return r.ret;
  };
  const report = (offset: number, count = zones) => {
    const buf = allocateZones(count);
    return decodeZones(buf, ok('reportZones', () => queue().reportZones(offset, buf)));
  };
  return { run, ok, report, zoneAt: (index) => report(index * zoneSize, 1)[0] };
}
