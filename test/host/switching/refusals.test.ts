// A switch that cannot be done rejects with a BlkioError naming why, and the
// device stays on its old backend, working.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BlkioError, Device, open, OpenOptions } from '../../../src/lib';
import { detachLoop, tempDir } from '../../support/files';
import { createRawImage } from '../../support/qsd';
import { execFileSync } from 'node:child_process';

const SIZE = 4 << 20;
const BLOCK = 4096;

function rejectsWith(code: string, message: RegExp): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof BlkioError, `rejected with ${String(e)}, not a BlkioError`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  };
}

describe('Switches that cannot be done', function () {
  this.timeout(30000);
  let dir: string;
  let image: string;
  let dev: Device;

  beforeEach(async () => {
    dir = tempDir('blkio-switch-refused-');
    image = createRawImage(path.join(dir, 'disk.raw'), SIZE);
    dev = await open({ driver: 'io_uring', path: image });
  });
  afterEach(async () => {
    await dev.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // The device still reads and writes through the backend it had.
  async function stillWorks(): Promise<void> {
    assert.equal(dev.blkio.getStr('path'), image);
    const data = new Uint8Array(BLOCK).fill(0x77);
    await dev.write(data, 0, BLOCK, BLOCK);
    assert.deepEqual((await dev.read(new Uint8Array(BLOCK), 0, BLOCK, BLOCK)).buffer, data);
    assert.deepEqual(new Uint8Array(fs.readFileSync(image).subarray(BLOCK, 2 * BLOCK)), data);
  }

  it('refuses a backend of another capacity', async () => {
    const other = createRawImage(path.join(dir, 'other.raw'), 2 * SIZE);
    await assert.rejects(dev.switchTo({ driver: 'io_uring', path: other }), rejectsWith('EINVAL', /capacity differs/));
    await stillWorks();
  });

  it('refuses a read-only backend for a writable device', async () => {
    await assert.rejects(
      dev.switchTo({ driver: 'io_uring', path: image, readOnly: true }),
      rejectsWith('EROFS', /writable but the new backend is read-only/),
    );
    await stillWorks();
  });

  it('refuses a backend with a block size larger than the device takes', async () => {
    const loop = execFileSync('losetup', ['--find', '--show', '--sector-size', '4096', image], { encoding: 'utf8' }).trim();
    try {
      await assert.rejects(
        dev.switchTo({ driver: 'io_uring', path: loop, direct: true }),
        rejectsWith('EINVAL', /block size differs \(request-alignment 1, new backend 4096\)/),
      );
    } finally {
      detachLoop(loop);
    }
    await stillWorks();
  });

  it('rejects a backend that fails to open with its error', async () => {
    await assert.rejects(
      dev.switchTo({ driver: 'io_uring', path: path.join(dir, 'missing.raw') }),
      rejectsWith('ENOENT', /missing\.raw|No such file/),
    );
    await stillWorks();
  });

  it('rejects a driver that does not exist', async () => {
    await assert.rejects(dev.switchTo({ driver: 'no-such-driver' } as unknown as OpenOptions), (e: unknown) => e instanceof BlkioError);
    await stillWorks();
  });

  it('rejects options that are not an object', async () => {
    await assert.rejects(
      (dev.switchTo as (o: unknown) => Promise<unknown>)(null),
      rejectsWith('EINVAL', /options/),
    );
    await stillWorks();
  });

  it('rejects a second switch while one is running, and finishes the first', async () => {
    const first = dev.switchTo({ driver: 'io_uring', path: image });
    await assert.rejects(dev.switchTo({ driver: 'io_uring', path: image }), rejectsWith('EBUSY', /another switch/));
    const report = await first;
    assert.equal(report.to, `io_uring:${image}`);
    await stillWorks();
  });

  it('rejects switching a closed device', async () => {
    await dev.close();
    await assert.rejects(dev.switchTo({ driver: 'io_uring', path: image }), rejectsWith('ENODEV', /closed/));
  });

  it('rejects the switch when the device is closed while the new backend opens', async () => {
    const switching = dev.switchTo({ driver: 'io_uring', path: image });
    const closing = dev.close();
    await assert.rejects(switching, rejectsWith('ENODEV', /closed/));
    await closing;
  });
});

