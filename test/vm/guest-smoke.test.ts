// Runs only inside the test guest (test/vm/run-in-vm.sh sets BLKIO_IN_VM=1):
// checks that guest-init created the vDPA devices, and that src/vdpa.ts can
// manage a device of its own. Outside the guest this file defines no tests.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as vdpa from '../../src/lib/vdpa';
import { qmp } from '../support/vdpa-targets';

// Device kinds guest-init knows, with the variable it exports for each.
const GUEST_DEVICES = [
  { kind: 'sim', variable: 'BLKIO_VDPA_SIM', mgmtdev: 'vdpasim_blk' },
  { kind: 'vduse-raw', variable: 'BLKIO_VDUSE_RAW', mgmtdev: 'vduse' },
  { kind: 'vduse-qcow2', variable: 'BLKIO_VDUSE_QCOW2', mgmtdev: 'vduse' },
] as const;

function requestedDevices(): (typeof GUEST_DEVICES)[number][] {
  const list = (process.env.BLKIO_VM_DEVICES ?? 'sim,vduse-raw,vduse-qcow2').split(',');
  return GUEST_DEVICES.filter((device) => list.includes(device.kind));
}

function openAndClose(devicePath: string): void {
  // Opening resets the device; only one opener at a time is allowed (EBUSY).
  const fd = fs.openSync(devicePath, fs.constants.O_RDWR);
  fs.closeSync(fd);
}

if (process.env.BLKIO_IN_VM === '1') {
  describe('vm guest: devices from guest-init', function () {
    this.timeout(60_000);

    for (const device of requestedDevices()) {
      it(`${device.variable} names an openable vhost-vdpa device bound to vhost_vdpa`, async function () {
        const devicePath = process.env[device.variable];
        assert.ok(devicePath, `${device.variable} is not set`);
        assert.match(devicePath, /^\/dev\/vhost-vdpa-\d+$/);
        openAndClose(devicePath);

        const name = process.env[`${device.variable}_NAME`];
        assert.ok(name, `${device.variable}_NAME is not set`);
        assert.equal(await vdpa.getDriver(name), 'vhost_vdpa');
        assert.equal(await vdpa.vhostVdpaDevicePath(name), devicePath);
        const listed = await vdpa.getDevice(name);
        assert.ok(listed, `${name} is not listed by vdpa dev show`);
        assert.equal(listed.mgmtdev, device.mgmtdev);
        assert.equal(listed.type, 'block');
      });

      if (device.kind.startsWith('vduse')) {
        it(`${device.variable}_FILE, _QMP and _PID describe the qemu-storage-daemon export`, function () {
          const file = process.env[`${device.variable}_FILE`];
          const qmp = process.env[`${device.variable}_QMP`];
          const pid = Number(process.env[`${device.variable}_PID`]);
          assert.ok(file && qmp, 'file and QMP variables are set');
          assert.ok(fs.statSync(file).isFile(), `${file} is a file`);
          assert.ok(fs.statSync(qmp).isSocket(), `${qmp} is a socket`);
          assert.ok(Number.isInteger(pid) && pid > 1, `pid ${pid}`);
          process.kill(pid, 0); // throws if qemu-storage-daemon is gone
        });

        it(`${device.variable}_QMP answers QMP and lists the vduse-blk export`, async function () {
          const [exports] = await qmp(process.env[`${device.variable}_QMP`] ?? '', [{ execute: 'query-block-exports' }]);
          assert.ok(Array.isArray(exports));
          const name = process.env[`${device.variable}_NAME`];
          assert.ok(
            exports.some((entry: { id?: string; type?: string }) => entry.id === name && entry.type === 'vduse-blk'),
            JSON.stringify(exports),
          );
        });
      }
    }

    it('the guest environment is set up for vDPA tests', function () {
      const statusText = fs.readFileSync('/proc/self/status', 'utf8');
      assert.equal(fs.readFileSync('/sys/bus/vdpa/drivers_autoprobe', 'utf8').trim(), '0');
      assert.match(fs.readFileSync('/proc/self/limits', 'utf8'), /Max locked memory\s+unlimited\s+unlimited/);
      assert.match(statusText, /^Uid:\s+0\s/m, 'runs as root');
      fs.writeFileSync('/tmp/blkio-vm-smoke', 'x'); // /tmp is writable
      fs.unlinkSync('/tmp/blkio-vm-smoke');
    });
  });

  describe('vm guest: src/vdpa.ts management', function () {
    this.timeout(60_000);
    const name = 'smoke-sim1';

    after(async function () {
      // Leave no device behind if a test failed half-way.
      if (await vdpa.getDevice(name)) await vdpa.deleteDevice(name);
      await vdpa.setAutoprobe(false);
    });

    it('lists the management devices', async function () {
      const names = (await vdpa.listMgmtDevices()).map((mgmtdev) => mgmtdev.name);
      assert.ok(names.includes('vdpasim_blk'), `mgmtdevs: ${names.join(', ')}`);
      assert.ok(names.includes('vduse'), `mgmtdevs: ${names.join(', ')}`);
      const sim = (await vdpa.listMgmtDevices()).find((mgmtdev) => mgmtdev.name === 'vdpasim_blk');
      assert.deepEqual(sim?.supportedClasses, ['block']);
    });

    it('reads and sets drivers_autoprobe', async function () {
      assert.equal(await vdpa.getAutoprobe(), false);
      await vdpa.setAutoprobe(true);
      assert.equal(await vdpa.getAutoprobe(), true);
      await vdpa.setAutoprobe(false);
      assert.equal(await vdpa.getAutoprobe(), false);
    });

    it('adds a vdpasim_blk device, moves it between drivers, and deletes it', async function () {
      const added = await vdpa.addDevice({ name, mgmtdev: 'vdpasim_blk' });
      assert.equal(added.name, name);
      assert.equal(added.type, 'block');
      assert.equal(added.mgmtdev, 'vdpasim_blk');
      assert.ok((await vdpa.listDevices()).some((device) => device.name === name));
      assert.equal(await vdpa.getDriver(name), undefined, 'autoprobe is off, so it starts unbound');

      const devicePath = await vdpa.bindDriver(name, 'vhost_vdpa');
      assert.match(devicePath, /^\/dev\/vhost-vdpa-\d+$/);
      assert.notEqual(devicePath, process.env.BLKIO_VDPA_SIM);
      assert.equal(await vdpa.getDriver(name), 'vhost_vdpa');
      openAndClose(devicePath);

      // virtio_vdpa turns it into a kernel virtio device (a /dev/vdX disk).
      assert.equal(await vdpa.bindDriver(name, 'virtio_vdpa'), undefined);
      assert.equal(await vdpa.getDriver(name), 'virtio_vdpa');
      assert.equal(await vdpa.vhostVdpaDevicePath(name), undefined);
      assert.ok(!fs.existsSync(devicePath), `${devicePath} is gone after unbinding`);
      assert.ok(
        fs.readdirSync(`/sys/bus/vdpa/devices/${name}`).some((entry) => /^virtio\d+$/.test(entry)),
        'a virtio device appeared under the vdpa device',
      );

      const reboundPath = await vdpa.bindDriver(name, 'vhost_vdpa');
      openAndClose(reboundPath);
      await vdpa.unbindDriver(name);
      assert.equal(await vdpa.getDriver(name), undefined);

      await vdpa.deleteDevice(name);
      assert.equal(await vdpa.getDevice(name), undefined);
      assert.ok(!fs.existsSync(`/sys/bus/vdpa/devices/${name}`));
    });

    it('reports the command and its stderr when vdpa fails', async function () {
      await assert.rejects(vdpa.addDevice({ name: 'smoke-bad', mgmtdev: 'no-such-mgmtdev' }), (error: unknown) => {
        assert.ok(error instanceof vdpa.VdpaCommandError);
        assert.match(error.message, /^vdpa dev add name smoke-bad mgmtdev no-such-mgmtdev failed \(exit \d+\): \S/);
        assert.ok(error.stderr.length > 0);
        return true;
      });
      await assert.rejects(vdpa.bindDriver('no-such-device', 'vhost_vdpa'), /no vdpa device named "no-such-device"/);
    });
  });
}
