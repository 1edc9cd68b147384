// Data written through the library ends up in the image: checked by
// reading back through the library and, after the daemon exited, from the
// image itself (the raw file, or qemu-img compare for qcow2).
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Queue, REQ_FUA, REQ_NO_UNMAP } from '../../../src/lib';
import { convertImage, ImageFormat, imagesEqual, Qsd } from '../../support/qsd';
import { complete, completeOk, connectTo, Device, KiB, MiB, startDevice } from './helpers';

/** The device content as the tests expect it, updated by each request. */
class Model {
  constructor(readonly bytes: Buffer) {}
  write(offset: number, data: Uint8Array): void {
    this.bytes.set(data, offset);
  }
  zero(offset: number, length: number): void {
    this.bytes.fill(0, offset, offset + length);
  }
  slice(offset: number, length: number): Buffer {
    return this.bytes.subarray(offset, offset + length);
  }
}

function imageContent(qsd: Qsd): Buffer {
  if (qsd.format === 'raw') return fs.readFileSync(qsd.image);
  const raw = path.join(qsd.dir, 'content.raw');
  convertImage(qsd.image, qsd.format, raw, 'raw');
  const content = fs.readFileSync(raw);
  fs.rmSync(raw);
  return content;
}

/**
 * Every request type on queue q inside [base, base + 1 MiB), with buffers
 * from the region at bufBase; returns how many requests were enqueued.
 */
function issueEverything(dev: Device, q: Queue, model: Model, base: number, bufBase: number): number {
  const random = (offset: number, length: number) => {
    const v = dev.view(bufBase + offset, length);
    crypto.randomFillSync(v);
    return v;
  };
  const big = random(0, 64 * KiB);
  q.write(base, big, 'write');
  model.write(base, big);

  const parts = [random(64 * KiB, 4 * KiB), random(72 * KiB, 8 * KiB), random(96 * KiB, 4 * KiB)];
  q.writev(base + 128 * KiB, parts, 'writev');
  model.write(base + 128 * KiB, Buffer.concat(parts));

  const fua = random(128 * KiB, 4 * KiB);
  q.write(base + 256 * KiB, fua, 'write FUA', REQ_FUA);
  model.write(base + 256 * KiB, fua);

  const fuaV = [random(136 * KiB, 4 * KiB), random(144 * KiB, 4 * KiB)];
  q.writev(base + 272 * KiB, fuaV, 'writev FUA', REQ_FUA);
  model.write(base + 272 * KiB, Buffer.concat(fuaV));

  q.writeZeroes(base + 320 * KiB, 16 * KiB, 'writeZeroes');
  model.zero(base + 320 * KiB, 16 * KiB);
  q.writeZeroes(base + 400 * KiB, 8 * KiB, 'writeZeroes NO_UNMAP', REQ_NO_UNMAP);
  model.zero(base + 400 * KiB, 8 * KiB);
  q.writeZeroes(base + 448 * KiB, 4 * KiB, 'writeZeroes FUA', REQ_FUA);
  model.zero(base + 448 * KiB, 4 * KiB);

  // Whole 64 KiB clusters, so qcow2 deallocates them too: both read as zeros.
  q.discard(base + 512 * KiB, 128 * KiB, 'discard');
  model.zero(base + 512 * KiB, 128 * KiB);

  q.flush('flush');
  return 9;
}

/** Reads [base, base + 1 MiB) back with read and readv and compares. */
function readBack(dev: Device, q: Queue, model: Model, base: number, bufBase: number): void {
  const whole = dev.view(bufBase, 512 * KiB);
  q.read(base, whole, 'read');
  const scattered = [dev.view(bufBase + 512 * KiB, 100 * KiB), dev.view(bufBase + 700 * KiB, 412 * KiB)];
  q.readv(base + 512 * KiB, scattered, 'readv');
  completeOk(q, 2);
  assert.ok(Buffer.from(whole).equals(model.slice(base, 512 * KiB)), 'read returns the model');
  assert.ok(Buffer.concat(scattered).equals(model.slice(base + 512 * KiB, 512 * KiB)), 'readv returns the model');
}

describe('virtio-blk-vhost-user data path', function () {
  this.timeout(60000);
  let qsd: Qsd | undefined;
  afterEach(async () => {
    await qsd?.dispose();
    qsd = undefined;
  });

  for (const format of ['raw', 'qcow2'] as ImageFormat[]) {
    for (const queues of [1, 4]) {
      it(`${format} image, ${queues} queue${queues > 1 ? 's' : ''}: every request type reaches the image`, async () => {
        qsd = await Qsd.start({ format, numQueues: queues, size: 16 * MiB });
        const model = new Model(imageContent(qsd));
        const dev = startDevice(connectTo(qsd, {}, { 'num-queues': queues }), 8 * MiB);
        const slice = 4 * MiB; // queue i works in its own slice of the device
        const issued: number[] = [];
        for (let i = 0; i < queues; i++) issued.push(issueEverything(dev, dev.queue(i), model, i * slice, i * 2 * MiB));
        for (let i = 0; i < queues; i++) {
          const got = completeOk(dev.queue(i), issued[i]).map((c) => c.userData);
          assert.equal(new Set(got).size, issued[i], 'each request completes once');
          assert.equal(dev.queue(i).doIo([], 0, 0), 0);
        }
        for (let i = 0; i < queues; i++) readBack(dev, dev.queue(i), model, i * slice, i * 2 * MiB);
        dev.b.destroy();
        await qsd.stop();
        if (format === 'raw') {
          assert.ok(fs.readFileSync(qsd.image).equals(model.bytes), 'the raw image holds what was written');
        } else {
          const expected = path.join(qsd.dir, 'expected.raw');
          fs.writeFileSync(expected, model.bytes);
          assert.ok(imagesEqual(qsd.image, 'qcow2', expected, 'raw'), 'qemu-img compare finds the expected content');
        }
      });
    }
  }

  it('write-zeroes and discard longer than the device’s per-request limit are split', async () => {
    qsd = await Qsd.start({ size: 48 * MiB });
    const model = new Model(imageContent(qsd));
    const dev = startDevice(connectTo(qsd));
    const q = dev.queue(0);
    const limit = Number(dev.b.getUint64('max-write-zeroes-len'));
    assert.equal(limit, 16 * MiB);
    q.writeZeroes(MiB, 40 * MiB, 'zeroes', REQ_FUA);
    model.zero(MiB, 40 * MiB);
    q.discard(42 * MiB, 5 * MiB, 'discard');
    model.zero(42 * MiB, 5 * MiB);
    completeOk(q, 2);
    dev.b.destroy();
    await qsd.stop();
    assert.ok(fs.readFileSync(qsd.image).equals(model.bytes));
  });

  it('large and many-segment transfers', async () => {
    qsd = await Qsd.start({ size: 32 * MiB });
    const model = new Model(imageContent(qsd));
    const dev = startDevice(connectTo(qsd), 32 * MiB);
    const q = dev.queue(0);
    const big = dev.view(0, 8 * MiB);
    crypto.randomFillSync(big);
    q.write(3 * MiB, big, 'big write');
    model.write(3 * MiB, big);
    // max-segments iovecs of 512 bytes each.
    const maxSegments = dev.b.getInt('max-segments');
    const iov = Array.from({ length: maxSegments }, (_, i) => dev.view(8 * MiB + i * 4096, 512));
    for (const v of iov) crypto.randomFillSync(v);
    q.writev(20 * MiB, iov, 'many segments');
    model.write(20 * MiB, Buffer.concat(iov));
    completeOk(q, 2);
    const back = dev.view(9 * MiB, 8 * MiB);
    q.read(3 * MiB, back);
    completeOk(q, 1);
    assert.ok(Buffer.from(back).equals(model.slice(3 * MiB, 8 * MiB)));
    dev.b.destroy();
    await qsd.stop();
    assert.ok(fs.readFileSync(qsd.image).equals(model.bytes));
  });

  it('a second connection after the first one closed sees the data', async () => {
    qsd = await Qsd.start({ format: 'qcow2' });
    const data = crypto.randomBytes(64 * KiB);
    for (const round of [0, 1]) {
      const dev = startDevice(connectTo(qsd));
      const q = dev.queue(0);
      const buf = dev.view(0, data.length);
      if (round === 0) {
        buf.set(data);
        q.write(5 * MiB, buf);
      } else {
        q.read(5 * MiB, buf);
      }
      const [c] = complete(q, 1);
      assert.equal(c.ret, 0, c.errorMsg ?? '');
      if (round === 1) assert.ok(Buffer.from(buf).equals(data));
      dev.b.destroy();
    }
  });
});
