// dev.allocBuffer(): request buffers in the device's own memory regions,
// used without the bounce copy; after freeBuffer() or close() any use is a
// clear error, never a touch of memory that is gone.
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { BlkioError, Device, open } from '../../../src/lib';
import { randomFile, readFileRange, tempDir } from '../../support/files';
import { Qsd } from '../../support/qsd';

const code = (c: string, message?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof BlkioError, `not a BlkioError: ${String(e)}`);
  assert.equal(e.code, c, e.message);
  if (message) assert.match(e.message, message);
  return true;
};

describe('Device.allocBuffer()', function () {
  this.timeout(30_000);

  describe('on vhost-user, where ordinary memory is bounced', () => {
    let qsd: Qsd;
    let dev: Device;
    beforeEach(async () => {
      qsd = await Qsd.start();
      // A bounce pool far smaller than the requests: only unbounced requests can succeed.
      dev = await open({ driver: 'virtio-blk-vhost-user', path: qsd.socket, bounceBufferSize: 4096 });
    });
    afterEach(async () => {
      await dev.close();
      await qsd.dispose();
    });

    it('ordinary buffers larger than the bounce pool are refused (the premise)', async () => {
      await assert.rejects(dev.read(Buffer.alloc(65536), 0, 65536, 0), /exceeds the bounce buffer/);
    });

    it('requests with an allocated buffer skip the bounce pool: write and read 1 MiB', async () => {
      const out = dev.allocBuffer(1 << 20);
      const back = dev.allocBuffer(1 << 20);
      crypto.randomFillSync(out);
      assert.equal((await dev.write(out, 0, out.length, 0)).bytesWritten, 1 << 20);
      assert.equal((await dev.read(back, 0, back.length, 0)).bytesRead, 1 << 20);
      assert.ok(back.equals(out));
      const halves = [back.subarray(0, 1 << 19), back.subarray(1 << 19)];
      await dev.readv(halves, 0);
      assert.ok(back.equals(out));
    });
  });

  describe('lifetime', () => {
    let dir: string;
    let file: string;
    let dev: Device;
    beforeEach(async () => {
      dir = tempDir('blkio-aligned-');
      file = randomFile(1 << 20, dir);
      dev = await open({ driver: 'io_uring', path: file, direct: true });
    });
    afterEach(async () => {
      await dev.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('is a Buffer of the size asked for, usable under O_DIRECT', async () => {
      const buf = dev.allocBuffer(12288);
      assert.ok(Buffer.isBuffer(buf));
      assert.equal(buf.length, 12288);
      await dev.read(buf, 0, buf.length, 4096);
      assert.ok(buf.equals(readFileRange(file, 4096, 12288)));
    });

    it('freeBuffer() while a request uses it throws EBUSY and frees nothing', async () => {
      const buf = dev.allocBuffer(4096);
      const read = dev.read(buf, 0, 4096, 0);
      assert.throws(() => dev.freeBuffer(buf), code('EBUSY'));
      await read;
      assert.ok(buf.equals(readFileRange(file, 0, 4096)));
      dev.freeBuffer(buf);
    });

    it('a freed buffer is detached: JS sees it empty and requests with it reject with EFAULT', async () => {
      const buf = dev.allocBuffer(8192);
      const view = buf.subarray(4096);
      dev.freeBuffer(buf);
      assert.equal(buf.length, 0);
      assert.equal(view.length, 0);
      assert.equal(buf[0], undefined);
      await assert.rejects(dev.read(buf, 0, 4096, 0), code('EFAULT', /freed/));
      await assert.rejects(dev.write(view, 0, 4096, 0), code('EFAULT', /freed/));
      await assert.rejects(dev.readv([view], 0), code('EFAULT', /freed/));
    });

    it('freeing twice, or a buffer not from allocBuffer, throws EINVAL', () => {
      const buf = dev.allocBuffer(4096);
      dev.freeBuffer(buf);
      assert.throws(() => dev.freeBuffer(buf), code('EINVAL', /freed already/));
      assert.throws(() => dev.freeBuffer(Buffer.alloc(4096)), code('EINVAL', /not from this device/));
    });

    it('close() frees every allocated buffer', async () => {
      const other = await open({ driver: 'io_uring', path: file });
      const buf = other.allocBuffer(4096);
      await other.close();
      assert.equal(buf.length, 0);
      await assert.rejects(dev.read(buf, 0, 4096, 0)); // another device: an empty view, not memory of a closed one
      assert.throws(() => other.allocBuffer(4096), code('ENODEV'));
    });

    it('rejects a size that is not a positive integer', () => {
      for (const size of [0, -1, 1.5, NaN, 2 ** 40]) assert.throws(() => dev.allocBuffer(size), code('EINVAL'), String(size));
    });
  });
});
