// What nvme-io_uring and virtio-blk-vfio-pci refuse at connect, on any
// machine (no NVMe namespace or vfio device needed). Their I/O is tested in
// the QEMU guest (test/vm/nvme, test/vm/vfio).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { create } from '../../src/lib';
import { expectCode } from '../shared/behaviour';

describe('nvme-io_uring: connect refuses what is not an NVMe namespace char device', () => {
  const connectTo = (p: string) => {
    const b = create('nvme-io_uring');
    b.setStr('path', p);
    try {
      b.connect();
    } finally {
      b.destroy();
    }
  };

  it('the driver exists and reads back its name', () => {
    const b = create('nvme-io_uring');
    assert.equal(b.getStr('driver'), 'nvme-io_uring');
    assert.equal(b.getBool('can-add-queues'), true);
    b.destroy();
  });

  it('neither path nor fd gives EINVAL', () => {
    const b = create('nvme-io_uring');
    expectCode(() => b.connect(), 'EINVAL', /One of path and fd/);
    b.destroy();
  });

  it('a regular file gives EINVAL asking for a char device', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkio-nvme-'));
    const file = path.join(dir, 'f');
    fs.writeFileSync(file, Buffer.alloc(4096));
    try {
      expectCode(() => connectTo(file), 'EINVAL', /not a character device.*\/dev\/ngXnY/);
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });

  it('a char device that is not NVMe (/dev/null) gives EINVAL', () => {
    expectCode(() => connectTo('/dev/null'), 'EINVAL', /not an NVMe namespace/);
  });

  it('a missing path gives ENOENT', () => {
    expectCode(() => connectTo('/dev/ng-missing'), 'ENOENT', /ng-missing/);
  });

  it('the fd is not closed when connect fails on it', () => {
    const fd = fs.openSync('/dev/null', 'r');
    const b = create('nvme-io_uring');
    b.setInt('fd', fd);
    expectCode(() => b.connect(), 'EINVAL');
    b.destroy();
    assert.doesNotThrow(() => fs.fstatSync(fd));
    fs.closeSync(fd);
  });
});

describe('virtio-blk-vfio-pci: connect refuses what is not a vfio-pci device', () => {
  const connectTo = (p: string) => {
    const b = create('virtio-blk-vfio-pci');
    b.setStr('path', p);
    try {
      b.connect();
    } finally {
      b.destroy();
    }
  };

  it('the driver exists; fd is not supported (ENOENT)', () => {
    const b = create('virtio-blk-vfio-pci');
    assert.equal(b.getStr('driver'), 'virtio-blk-vfio-pci');
    expectCode(() => b.setInt('fd', 3), 'ENOENT', /fd/);
    b.destroy();
  });

  it('a directory that is not a PCI device gives EINVAL', () => {
    expectCode(() => connectTo(os.tmpdir()), 'EINVAL', /not a PCI device/);
  });

  it('a missing sysfs path gives ENOENT', () => {
    expectCode(() => connectTo('/sys/bus/pci/devices/0000:ff:1f.7'), 'ENOENT');
  });

  it('a missing VFIO group gives ENOENT', () => {
    expectCode(() => connectTo('/dev/vfio/98765'), 'ENOENT', /IOMMU group 98765/);
  });
});
