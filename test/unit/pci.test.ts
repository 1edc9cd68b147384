// bindPciDriver's argument checks (src/pci.ts); binding itself is tested in
// the guest (test/vm/vfio).
import * as assert from 'node:assert/strict';
import { BlkioError } from '../../src/lib';
import { bindPciDriver, pciDevicePath } from '../../src/lib/admin';

async function rejectsWith(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof BlkioError, `expected a BlkioError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, message);
    return true;
  });
}

describe('PCI driver binding: arguments', () => {
  it('pciDevicePath gives the sysfs directory of a PCI address', () => {
    assert.equal(pciDevicePath('0000:00:04.0'), '/sys/bus/pci/devices/0000:00:04.0');
  });

  for (const bad of ['00:04.0', '0000:00:04.8', '0000:00:04.0/../..', 'ZZZZ:00:04.0', ''])
    it(`a malformed address ('${bad}') gives EINVAL`, async () => {
      await rejectsWith(bindPciDriver(bad, 'vfio-pci'), 'EINVAL', /PCI address/);
    });

  it('a driver name with a path in it gives EINVAL', async () => {
    await rejectsWith(bindPciDriver('0000:00:04.0', '../x'), 'EINVAL', /driver name/);
  });

  it('a device that does not exist gives ENOENT', async () => {
    await rejectsWith(bindPciDriver('0000:ff:1f.7', 'vfio-pci'), 'ENOENT', /no PCI device 0000:ff:1f\.7/);
  });
});
