// Runs only inside the test guest: the io_uring driver on a zoned null_blk
// device (host-managed, memory-backed). Every step checks the zone report
// (state and write pointer) and the data. Outside the guest this file
// defines no tests.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  Blkio, create, allocateZones, Queue,
  ZONE_STATE_CLOSED, ZONE_STATE_EMPTY, ZONE_STATE_EXP_OPEN, ZONE_STATE_FULL, ZONE_STATE_IMP_OPEN,
  ZONE_TYPE_CONVENTIONAL, ZONE_TYPE_SEQWRITE_REQ,
} from '../../../src/lib';
import { complete } from '../../support/completions';
import { createZonedNullBlk, ZonedNullBlk } from './null-blk';
import { zoneSteps } from './zone-steps';

const { EINVAL, EIO, ENOTSUP } = os.constants.errno;
const ETOOMANYREFS = 109; // Linux; not in os.constants
const MiB = 1 << 20;
const ZONE = 4 * MiB;
const ZONES = 8;
const CONVENTIONAL = 1;
const BLOCK = 4096;

if (process.env.BLKIO_IN_VM === '1') {
  describe('vm guest: io_uring on a zoned null_blk device', function () {
    this.timeout(60_000);
    let dev: ZonedNullBlk;
    let b: Blkio;
    let q: Queue;
    let buf: Uint8Array;

    before(() => {
      dev = createZonedNullBlk('blkio-zoned', {
        zoneSizeMiB: ZONE / MiB, zones: ZONES, conventional: CONVENTIONAL, maxOpen: 2, maxActive: 3, blockSize: BLOCK,
      });
      b = create('io_uring');
      b.setStr('path', dev.path);
      b.setBool('direct', true);
      b.connect();
      b.start();
      q = b.getQueue(0)!;
      buf = new Uint8Array(b.allocMemRegion(4 * BLOCK).buffer);
    });
    after(() => {
      b?.destroy();
      dev?.remove();
    });

    const { run, ok, report, zoneAt } = zoneSteps(() => q, ZONE, ZONES);
    function seq(i: number): number {
      return (CONVENTIONAL + i) * ZONE;
    }
    function fill(byte: number, len: number): Uint8Array {
      const view = buf.subarray(0, len);
      view.fill(byte);
      return view;
    }
    function readBack(offset: number, len: number): Uint8Array {
      const view = buf.subarray(0, len);
      view.fill(0xee);
      ok('read', () => q.read(offset, view));
      return Uint8Array.from(view);
    }

    beforeEach(() => {
      ok('resetAllZones', () => q.resetAllZones());
    });

    it('reports the zoned properties of the device', () => {
      assert.equal(b.getStr('zoned-model'), 'host-managed');
      assert.equal(b.getUint64('zone-size'), BigInt(ZONE));
      assert.equal(b.getUint64('nr-zones'), BigInt(ZONES));
      assert.equal(b.getUint64('max-open-zones'), 2n);
      assert.equal(b.getUint64('max-active-zones'), 3n);
      assert.equal(b.getUint64('max-append-bytes'), 0n);
      assert.equal(b.getUint64('capacity'), BigInt(ZONE * ZONES));
    });

    it('reports every zone: conventional first, then empty sequential zones with the write pointer at their start', () => {
      const zones = report(0, ZONES + 4);
      assert.equal(zones.length, ZONES);
      assert.deepEqual(zones[0], {
        start: 0, len: ZONE, capacity: ZONE, writePointer: null, type: ZONE_TYPE_CONVENTIONAL, state: 0, reset: false,
      });
      for (let i = 1; i < ZONES; i++) {
        assert.deepEqual(zones[i], {
          start: i * ZONE, len: ZONE, capacity: ZONE, writePointer: i * ZONE, type: ZONE_TYPE_SEQWRITE_REQ,
          state: ZONE_STATE_EMPTY, reset: false,
        });
      }
    });

    it('reports from the zone holding the offset, at most as many zones as the buffer holds', () => {
      const zones = report(3 * ZONE + 5 * BLOCK, 2);
      assert.deepEqual(zones.map((z) => z.start), [3 * ZONE, 4 * ZONE]);
    });

    it('a write at the write pointer advances it, opens the zone implicitly, and its data reads back', () => {
      ok('write', () => q.write(seq(0), fill(0x5a, 2 * BLOCK)));
      let z = zoneAt(CONVENTIONAL);
      assert.equal(z.state, ZONE_STATE_IMP_OPEN);
      assert.equal(z.writePointer, seq(0) + 2 * BLOCK);
      ok('write', () => q.write(seq(0) + 2 * BLOCK, fill(0xa5, BLOCK)));
      z = zoneAt(CONVENTIONAL);
      assert.equal(z.writePointer, seq(0) + 3 * BLOCK);
      const data = readBack(seq(0), 3 * BLOCK);
      assert.ok(data.subarray(0, 2 * BLOCK).every((v) => v === 0x5a));
      assert.ok(data.subarray(2 * BLOCK).every((v) => v === 0xa5));
    });

    it('a write that is not at the write pointer fails with EIO and leaves zone and data unchanged', () => {
      ok('write', () => q.write(seq(0), fill(0x11, BLOCK)));
      const r = run(() => q.write(seq(0) + 2 * BLOCK, fill(0x22, BLOCK)));
      assert.equal(r.ret, -EIO, String(r.msg));
      const z = zoneAt(CONVENTIONAL);
      assert.equal(z.writePointer, seq(0) + BLOCK);
      assert.ok(readBack(seq(0), BLOCK).every((v) => v === 0x11));
    });

    it('the conventional zone takes writes anywhere', () => {
      ok('write', () => q.write(3 * BLOCK, fill(0x33, BLOCK)));
      assert.ok(readBack(3 * BLOCK, BLOCK).every((v) => v === 0x33));
      assert.equal(zoneAt(0).writePointer, null);
    });

    it('reset moves the write pointer back to the start and empties the zone, which then takes new data there', () => {
      ok('write', () => q.write(seq(1), fill(0x44, 2 * BLOCK)));
      ok('resetZone', () => q.resetZone(seq(1)));
      const z = zoneAt(CONVENTIONAL + 1);
      assert.equal(z.state, ZONE_STATE_EMPTY);
      assert.equal(z.writePointer, seq(1));
      ok('write after reset', () => q.write(seq(1), fill(0x45, BLOCK)));
      assert.equal(zoneAt(CONVENTIONAL + 1).writePointer, seq(1) + BLOCK);
      assert.ok(readBack(seq(1), BLOCK).every((v) => v === 0x45));
    });

    it('open, close and finish move a zone through explicitly open, closed and full', () => {
      ok('openZone', () => q.openZone(seq(2)));
      assert.equal(zoneAt(CONVENTIONAL + 2).state, ZONE_STATE_EXP_OPEN);
      ok('write', () => q.write(seq(2), fill(0x66, BLOCK)));
      ok('closeZone', () => q.closeZone(seq(2)));
      let z = zoneAt(CONVENTIONAL + 2);
      assert.equal(z.state, ZONE_STATE_CLOSED);
      assert.equal(z.writePointer, seq(2) + BLOCK);
      ok('finishZone', () => q.finishZone(seq(2)));
      z = zoneAt(CONVENTIONAL + 2);
      assert.equal(z.state, ZONE_STATE_FULL);
      assert.equal(z.writePointer, seq(2) + ZONE);
      assert.ok(readBack(seq(2), BLOCK).every((v) => v === 0x66));
    });

    it('a write to a full zone fails with EIO', () => {
      ok('finishZone', () => q.finishZone(seq(3)));
      const r = run(() => q.write(seq(3), fill(0x77, BLOCK)));
      assert.equal(r.ret, -EIO, String(r.msg));
      assert.equal(zoneAt(CONVENTIONAL + 3).state, ZONE_STATE_FULL);
    });

    it('opening the conventional zone is a zone state violation: EIO', () => {
      const r = run(() => q.openZone(0));
      assert.equal(r.ret, -EIO, String(r.msg));
    });

    it('explicitly opening more zones than max-open-zones fails with ETOOMANYREFS and leaves the extra zone empty', () => {
      ok('openZone', () => q.openZone(seq(0)));
      ok('openZone', () => q.openZone(seq(1)));
      const r = run(() => q.openZone(seq(2)));
      assert.equal(r.ret, -ETOOMANYREFS, String(r.msg));
      assert.equal(zoneAt(CONVENTIONAL + 2).state, ZONE_STATE_EMPTY);
    });

    it('closeAllZones closes the open zones, finishAllZones fills them, resetAllZones empties every zone', () => {
      ok('write', () => q.write(seq(0), fill(1, BLOCK)));
      ok('write', () => q.write(seq(1), fill(2, BLOCK)));
      ok('closeAllZones', () => q.closeAllZones());
      let zones = report(0);
      assert.deepEqual(zones.slice(1, 4).map((z) => z.state), [ZONE_STATE_CLOSED, ZONE_STATE_CLOSED, ZONE_STATE_EMPTY]);
      ok('openAllZones', () => q.openAllZones());
      zones = report(0);
      assert.deepEqual(zones.slice(1, 4).map((z) => z.state), [ZONE_STATE_EXP_OPEN, ZONE_STATE_EXP_OPEN, ZONE_STATE_EMPTY]);
      ok('finishAllZones', () => q.finishAllZones());
      zones = report(0);
      assert.deepEqual(zones.slice(1, 4).map((z) => z.state), [ZONE_STATE_FULL, ZONE_STATE_FULL, ZONE_STATE_EMPTY]);
      ok('resetAllZones', () => q.resetAllZones());
      zones = report(0);
      for (const z of zones.slice(1)) {
        assert.equal(z.state, ZONE_STATE_EMPTY);
        assert.equal(z.writePointer, z.start);
      }
    });

    it('a report that starts at or past the end of the device fails with EINVAL', () => {
      for (const offset of [ZONE * ZONES, ZONE * ZONES + BLOCK]) {
        const r = run(() => q.reportZones(offset, allocateZones(1)));
        assert.equal(r.ret, -EINVAL, String(r.msg));
        assert.match(String(r.msg), /beyond the end/);
      }
    });

    it('a zone operation at an offset that is not a zone start fails with EINVAL', () => {
      const r = run(() => q.resetZone(seq(0) + BLOCK));
      assert.equal(r.ret, -EINVAL, String(r.msg));
      assert.match(String(r.msg), /start of a zone/);
    });

    it('a report of zero zones completes with 0', () => {
      assert.equal(ok('reportZones', () => q.reportZones(0, allocateZones(0))), 0);
    });

    it('zone requests on a device without zones fail with ENOTSUP', () => {
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'blkio-plain-')), 'disk');
      fs.writeFileSync(file, Buffer.alloc(ZONE));
      const plain = create('io_uring');
      try {
        plain.setStr('path', file);
        plain.connect();
        plain.start();
        assert.equal(plain.getStr('zoned-model'), 'none');
        assert.equal(plain.getUint64('nr-zones'), 0n);
        const pq = plain.getQueue(0)!;
        pq.reportZones(0, allocateZones(1));
        pq.resetZone(0);
        pq.resetAllZones();
        for (const c of complete(pq, 3)) assert.equal(c.ret, -ENOTSUP, String(c.errorMsg));
      } finally {
        plain.destroy();
        fs.rmSync(path.dirname(file), { recursive: true, force: true });
      }
    });
  });
}
