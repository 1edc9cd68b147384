// Runs only inside the test guest: nvme-io_uring on QEMU's emulated Zoned
// Namespace (serial blkio-zns, 16 zones of 1 MiB, at most 3 open and 4
// active; see run-in-vm.sh): Zone Management Send/Receive through io_uring
// passthrough, with the zone report checked after every step. Also io_uring
// on the same namespace's block device. Outside the guest this file defines
// no tests.
import * as assert from 'node:assert/strict';
import * as os from 'node:os';
import {
  allocateZones, Blkio, create, Queue,
  ZONE_STATE_CLOSED, ZONE_STATE_EMPTY, ZONE_STATE_EXP_OPEN, ZONE_STATE_FULL, ZONE_STATE_IMP_OPEN, ZONE_TYPE_SEQWRITE_REQ,
} from '../../../src/lib';
import { findNvmeNamespace, NvmeNamespace } from '../../support/nvme-target';
import { zoneSteps } from './zone-steps';

const { EINVAL, EIO } = os.constants.errno;
const ETOOMANYREFS = 109; // Linux; not in os.constants
const ZONE = 1 << 20;
const ZONES = 16;
const BLOCK = 4096;

function zns(): NvmeNamespace {
  const ns = findNvmeNamespace('blkio-zns');
  if (!ns) throw new Error('no NVMe controller with serial blkio-zns in the guest (run-in-vm.sh adds it)');
  return ns;
}

if (process.env.BLKIO_IN_VM === '1') {
  for (const [driver, pathOf] of [
    ['nvme-io_uring', (ns: NvmeNamespace) => ns.charDevice],
    ['io_uring', (ns: NvmeNamespace) => ns.blockDevice],
  ] as const) {
    describe(`vm guest: ${driver} on an NVMe Zoned Namespace`, function () {
      this.timeout(60_000);
      let b: Blkio;
      let q: Queue;
      let buf: Uint8Array;

      before(() => {
        b = create(driver);
        b.setStr('path', pathOf(zns()));
        if (driver === 'io_uring') b.setBool('direct', true);
        b.connect();
        b.start();
        q = b.getQueue(0)!;
        buf = new Uint8Array(b.allocMemRegion(2 * BLOCK).buffer);
      });
      after(() => b?.destroy());

      const { run, ok, report, zoneAt } = zoneSteps(() => q, ZONE, ZONES);

      beforeEach(() => {
        ok('resetAllZones', () => q.resetAllZones());
      });

      it('reports the namespace as host-managed with its zone size, count and limits', () => {
        assert.equal(b.getStr('zoned-model'), 'host-managed');
        assert.equal(b.getUint64('zone-size'), BigInt(ZONE));
        assert.equal(b.getUint64('nr-zones'), BigInt(ZONES));
        assert.equal(b.getUint64('max-open-zones'), 3n);
        assert.equal(b.getUint64('max-active-zones'), 4n);
      });

      it('reports every zone empty, sequential-write-required, with the write pointer at its start', () => {
        const zones = report(0, ZONES + 2);
        assert.equal(zones.length, ZONES);
        zones.forEach((z, i) => {
          assert.deepEqual(z, {
            start: i * ZONE, len: ZONE, capacity: ZONE, writePointer: i * ZONE, type: ZONE_TYPE_SEQWRITE_REQ,
            state: ZONE_STATE_EMPTY, reset: false,
          });
        });
      });

      it('a write at the write pointer advances it and reads back; one elsewhere fails with EIO', () => {
        buf.fill(0x3c);
        ok('write', () => q.write(2 * ZONE, buf));
        let z = zoneAt(2);
        assert.equal(z.state, ZONE_STATE_IMP_OPEN);
        assert.equal(z.writePointer, 2 * ZONE + buf.length);
        buf.fill(0);
        ok('read', () => q.read(2 * ZONE, buf));
        assert.ok(buf.every((v) => v === 0x3c));
        const r = run(() => q.write(2 * ZONE + 4 * BLOCK, buf));
        assert.equal(r.ret, -EIO, String(r.msg));
        z = zoneAt(2);
        assert.equal(z.writePointer, 2 * ZONE + buf.length);
      });

      it('open, close, finish and reset move the zone through its states', () => {
        ok('openZone', () => q.openZone(3 * ZONE));
        assert.equal(zoneAt(3).state, ZONE_STATE_EXP_OPEN);
        ok('write', () => q.write(3 * ZONE, buf));
        ok('closeZone', () => q.closeZone(3 * ZONE));
        assert.equal(zoneAt(3).state, ZONE_STATE_CLOSED);
        ok('finishZone', () => q.finishZone(3 * ZONE));
        let z = zoneAt(3);
        assert.equal(z.state, ZONE_STATE_FULL);
        assert.equal(z.writePointer, 4 * ZONE);
        assert.equal(run(() => q.write(3 * ZONE, buf)).ret, -EIO);
        ok('resetZone', () => q.resetZone(3 * ZONE));
        z = zoneAt(3);
        assert.equal(z.state, ZONE_STATE_EMPTY);
        assert.equal(z.writePointer, 3 * ZONE);
      });

      it('the _all_zones forms: close the open zones, open the closed ones, finish them, reset everything', () => {
        ok('write', () => q.write(0, buf));
        ok('write', () => q.write(ZONE, buf));
        ok('closeAllZones', () => q.closeAllZones());
        const states = () => report(0).slice(0, 3).map((z) => z.state);
        assert.deepEqual(states(), [ZONE_STATE_CLOSED, ZONE_STATE_CLOSED, ZONE_STATE_EMPTY]);
        ok('openAllZones', () => q.openAllZones());
        assert.deepEqual(states(), [ZONE_STATE_EXP_OPEN, ZONE_STATE_EXP_OPEN, ZONE_STATE_EMPTY]);
        ok('finishAllZones', () => q.finishAllZones());
        assert.deepEqual(states(), [ZONE_STATE_FULL, ZONE_STATE_FULL, ZONE_STATE_EMPTY]);
        ok('resetAllZones', () => q.resetAllZones());
        assert.deepEqual(states(), [ZONE_STATE_EMPTY, ZONE_STATE_EMPTY, ZONE_STATE_EMPTY]);
      });

      it('explicitly opening more zones than max-open-zones fails with ETOOMANYREFS', () => {
        for (let i = 0; i < 3; i++) ok('openZone', () => q.openZone(i * ZONE));
        const r = run(() => q.openZone(3 * ZONE));
        assert.equal(r.ret, -ETOOMANYREFS, String(r.msg));
        assert.equal(zoneAt(3).state, ZONE_STATE_EMPTY);
      });

      it('a report past the end fails with EINVAL', () => {
        assert.equal(run(() => q.reportZones(ZONES * ZONE, allocateZones(1))).ret, -EINVAL);
      });
    });
  }
}
