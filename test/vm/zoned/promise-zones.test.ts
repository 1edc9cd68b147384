// Runs only inside the test guest: the Promise layer's device.zones on a
// zoned null_blk device. Outside the guest this file defines no tests.
import * as assert from 'node:assert/strict';
import { BlkioError, Device, open, ZONE_STATE_EMPTY, ZONE_STATE_FULL, ZONE_STATE_IMP_OPEN } from '../../../src/lib';
import { createZonedNullBlk, ZonedNullBlk } from './null-blk';

const MiB = 1 << 20;

if (process.env.BLKIO_IN_VM === '1') {
  describe('vm guest: the Promise layer on a zoned null_blk device', function () {
    this.timeout(60_000);
    let dev: ZonedNullBlk;
    let device: Device;

    before(async () => {
      dev = createZonedNullBlk('blkio-zoned-promise', {
        zoneSizeMiB: 2, zones: 4, conventional: 0, maxOpen: 0, maxActive: 0, blockSize: 512,
      });
      device = await open({ driver: 'io_uring', path: dev.path, direct: true });
    });
    after(async () => {
      await device?.close();
      dev?.remove();
    });

    it('geometry gives the zoned properties', () => {
      assert.deepEqual(device.zones.geometry, {
        model: 'host-managed', zoneSize: 2 * MiB, nrZones: 4, maxOpenZones: 0, maxActiveZones: 0, maxAppendBytes: 0,
      });
    });

    it('report, write, finish and reset resolve, and each step shows in the next report', async () => {
      await device.zones.resetAll();
      let [z] = await device.zones.report(2 * MiB, 1);
      assert.equal(z.state, ZONE_STATE_EMPTY);
      await device.write(2 * MiB, new Uint8Array(4096).fill(9));
      [z] = await device.zones.report(2 * MiB, 1);
      assert.equal(z.state, ZONE_STATE_IMP_OPEN);
      assert.equal(z.writePointer, 2 * MiB + 4096);
      assert.ok((await device.read(2 * MiB, 4096)).every((v) => v === 9));
      await device.zones.finish(2 * MiB);
      [z] = await device.zones.report(2 * MiB, 1);
      assert.equal(z.state, ZONE_STATE_FULL);
      await device.zones.reset(2 * MiB);
      [z] = await device.zones.report(2 * MiB, 1);
      assert.equal(z.state, ZONE_STATE_EMPTY);
      assert.equal(z.writePointer, 2 * MiB);
      assert.equal((await device.zones.report(0, 16)).length, 4);
    });

    it('a write off the write pointer rejects with a BlkioError whose code is EIO', async () => {
      await device.zones.reset(0);
      await assert.rejects(device.write(8192, new Uint8Array(512)), (e: unknown) => {
        assert.ok(e instanceof BlkioError);
        assert.equal(e.code, 'EIO');
        return true;
      });
    });

    it('a report past the end rejects with EINVAL', async () => {
      await assert.rejects(device.zones.report(8 * MiB, 1), (e: unknown) => e instanceof BlkioError && e.code === 'EINVAL');
    });
  });
}
