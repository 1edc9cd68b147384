// Switching a live device between two paths to one qemu-storage-daemon block
// node, in the guest: vhost-vdpa on its VDUSE export (standing in for a
// hardware vDPA device) and vhost-user on its vhost-user-blk export. A writer
// at QD32 that reads blocks back keeps going through 50 switches; afterwards
// every block of the image, read from outside, holds its last acknowledged
// write. Guest only.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { open } from '../../../src/lib';
import { DRIVER, inVm, VduseExport } from '../../support/vdpa-targets';
import { VerifyingWriter } from '../../support/verifying-writer';

const MiB = 1 << 20;
const SWITCHES = 50;

if (inVm) {
  describe('switching between vhost-vdpa (VDUSE) and vhost-user on one qemu-storage-daemon node', function () {
    this.timeout(600_000);
    let e: VduseExport;
    let socket: string;

    before(async () => {
      socket = path.join(fs.mkdtempSync('/tmp/blkio-switch-'), 'vhost-user.sock');
      e = await VduseExport.start({ name: 'vduse-switch', format: 'raw', size: 8 * MiB, vhostUserSocket: socket });
    });
    after(async () => {
      await e?.dispose();
      fs.rmSync(path.dirname(socket), { recursive: true, force: true });
    });

    it(`a QD32 writer keeps every acknowledged write through ${SWITCHES} switches, checked in the image`, async () => {
      const vdpa = { driver: DRIVER, path: e.devicePath };
      const vhostUser = { driver: 'virtio-blk-vhost-user', path: socket };
      const dev = await open(vdpa);
      const writer = new VerifyingWriter(dev, { blocks: 512, blockSize: 4096, depth: 32, flushEvery: 64 });
      const pauses: number[] = [];
      try {
        for (let i = 0; i < SWITCHES; i++) {
          const before = writer.writes;
          while (writer.writes < before + 32) await new Promise((r) => setTimeout(r, 5));
          const report = await dev.switchTo(i % 2 === 0 ? vhostUser : vdpa);
          assert.equal(report.to, i % 2 === 0 ? `virtio-blk-vhost-user:${socket}` : `${DRIVER}:${e.devicePath}`);
          pauses.push(report.pauseMs);
        }
      } finally {
        const result = await writer.stop();
        await dev.close();
        assert.equal(result.error, undefined, String(result.error));
      }
      pauses.sort((a, b) => a - b);
      console.log(`      ${SWITCHES} switches: pause median ${pauses[pauses.length >> 1].toFixed(1)} ms, worst ${pauses[pauses.length - 1].toFixed(1)} ms`);
      await e.stop(); // the daemon has written everything to the image
      writer.check(fs.readFileSync(e.image));
      assert.ok(writer.expected.size > 0);
    });
  });
}
