// "capacity" is the device's size when it is read, not when it was
// connected: a regular file grown by a write past its end or truncated from
// outside, and a loop device resized with `losetup -c`. Through the addon
// and through libblkio.so.1 (koffi), and through the Promise layer's size().
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Blkio, Queue, create, open } from '../../../src/lib';
import { attachLoop, detachLoop, readFileRange, tempDir } from '../../support/files';
import { complete } from '../../support/completions';
import { ADDON_AND_LIBRARY } from '../capi/support';

const KiB = 1024;
const MiB = 1024 * KiB;

interface Started {
  b: Blkio;
  q: Queue;
  buf: Uint8Array;
}

function startOn(target: string, options: object): Started {
  const b = create('io_uring', options);
  b.setStr('path', target);
  b.connect();
  b.start();
  const region = b.allocMemRegion(64 * KiB);
  b.mapMemRegion(region);
  return { b, q: b.getQueue(0)!, buf: new Uint8Array(region.buffer, 0, 4 * KiB) };
}

function capacity(b: Blkio): number {
  return Number(b.getUint64('capacity'));
}

for (const { name, options } of ADDON_AND_LIBRARY) {
  describe(`capacity is read from the device each time (io_uring, ${name})`, function () {
    this.timeout(30000);
    let dir: string;
    let file: string;
    let s: Started | null = null;
    beforeEach(() => {
      dir = tempDir('blkio-capacity-');
      file = path.join(dir, 'disk.img');
    });
    afterEach(() => {
      s?.b.destroy();
      s = null;
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('a new empty file has capacity 0, and a write past its end grows it to the write\'s end', () => {
      fs.writeFileSync(file, '');
      s = startOn(file, options);
      assert.equal(capacity(s.b), 0);
      assert.equal(s.b.getBool('can-grow'), true);
      s.buf.fill(0x7e);
      s.q.write(64 * KiB, s.buf);
      assert.equal(complete(s.q, 1)[0].ret, 0);
      assert.equal(capacity(s.b), 64 * KiB + s.buf.length);
    });

    it('a file truncated larger from outside reads its new size', () => {
      fs.writeFileSync(file, Buffer.alloc(MiB));
      s = startOn(file, options);
      assert.equal(capacity(s.b), MiB);
      fs.truncateSync(file, 5 * MiB);
      assert.equal(capacity(s.b), 5 * MiB);
      assert.equal(s.b.getStr('capacity'), String(5 * MiB), 'getStr reads it fresh too');
    });

    it('a file truncated smaller from outside reads its new size', () => {
      fs.writeFileSync(file, Buffer.alloc(2 * MiB));
      s = startOn(file, options);
      fs.truncateSync(file, 512 * KiB);
      assert.equal(capacity(s.b), 512 * KiB);
    });

    it('a loop device resized with losetup -c reads its new size, and writes reach the new end', () => {
      fs.writeFileSync(file, Buffer.alloc(MiB));
      const dev = attachLoop(file);
      try {
        s = startOn(dev, options);
        assert.equal(capacity(s.b), MiB);
        assert.equal(s.b.getBool('can-grow'), false);
        s.q.write(MiB, s.buf);
        assert.equal(complete(s.q, 1)[0].ret, -22, 'a write past the end fails with EINVAL before the resize');
        fs.truncateSync(file, 3 * MiB);
        execFileSync('losetup', ['-c', dev]);
        assert.equal(capacity(s.b), 3 * MiB);
        s.buf.fill(0x3c);
        s.q.write(3 * MiB - s.buf.length, s.buf);
        assert.equal(complete(s.q, 1)[0].ret, 0);
        s.q.write(3 * MiB, s.buf);
        assert.equal(complete(s.q, 1)[0].ret, -22, 'the new end bounds requests');
        s.q.flush();
        assert.equal(complete(s.q, 1)[0].ret, 0);
        s.b.destroy();
        s = null;
        assert.deepEqual(readFileRange(file, 3 * MiB - 4 * KiB, 4 * KiB), Buffer.alloc(4 * KiB, 0x3c));
      } finally {
        s?.b.destroy();
        s = null;
        detachLoop(dev);
      }
    });
  });
}

describe('Device.size() follows the device (Promise layer, io_uring)', function () {
  this.timeout(30000);
  it('reads the current size of a file written past its end and truncated from outside', async () => {
    const dir = tempDir('blkio-capacity-');
    const file = path.join(dir, 'disk.img');
    fs.writeFileSync(file, Buffer.alloc(64 * KiB));
    const dev = await open({ driver: 'io_uring', path: file });
    try {
      assert.equal(await dev.size(), BigInt(64 * KiB));
      await dev.write(128 * KiB, new Uint8Array(4 * KiB).fill(1));
      assert.equal(await dev.size(), BigInt(132 * KiB));
      fs.truncateSync(file, 4 * MiB);
      assert.equal(await dev.size(), BigInt(4 * MiB));
      assert.equal(dev.capacity, BigInt(64 * KiB), 'capacity stays the size at open');
    } finally {
      await dev.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
