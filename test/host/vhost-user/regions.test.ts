// Memory regions on vhost-user: every buffer must lie in a mapped region
// (shared with the backend through its memfd).
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { MemRegion } from '../../../src/lib';
import { expectCode } from '../../shared/behaviour';
import { readFileRange } from '../../support/files';
import { Qsd } from '../../support/qsd';
import { complete, completeOk, connectTo, KiB, MiB, startDevice } from './helpers';

const NOT_MAPPED = 'buffer is not inside a mapped memory region';

describe('virtio-blk-vhost-user memory regions', function () {
  this.timeout(60000);
  let qsd: Qsd;
  beforeEach(async () => {
    qsd = await Qsd.start();
  });
  afterEach(() => qsd.dispose());

  it('a buffer outside every mapped region completes with that error', () => {
    const dev = startDevice(connectTo(qsd));
    const q = dev.queue(0);
    const heap = new Uint8Array(4096);
    q.read(0, heap, 'heap read');
    q.write(0, heap, 'heap write');
    q.readv(0, [dev.view(0, 4096), heap], 'mixed readv');
    // Reaching past the end of the region.
    q.read(0, new Uint8Array(dev.region.buffer, dev.region.len - 2048, 2048 + 0), 'inside');
    for (const c of complete(q, 4)) {
      if (c.userData === 'inside') assert.equal(c.ret, 0, c.errorMsg ?? '');
      else {
        assert.equal(c.ret, -22, String(c.userData));
        assert.equal(c.errorMsg, NOT_MAPPED);
      }
    }
    dev.b.destroy();
  });

  it('an unmapped region is refused until mapped again', () => {
    const dev = startDevice(connectTo(qsd));
    const q = dev.queue(0);
    dev.b.unmapMemRegion(dev.region);
    q.read(0, dev.view(0, 4096), 'unmapped');
    const [c] = complete(q, 1);
    assert.equal(c.ret, -22);
    assert.equal(c.errorMsg, NOT_MAPPED);
    dev.b.mapMemRegion(dev.region);
    q.read(0, dev.view(0, 4096), 'mapped');
    completeOk(q, 1);
    dev.b.destroy();
  });

  it('max-mem-regions regions can be mapped, used, unmapped and mapped again; one more is refused', () => {
    const b = connectTo(qsd);
    b.start();
    const q = b.getQueue(0)!;
    const max = Number(b.getUint64('max-mem-regions'));
    assert.equal(max, 31);
    const regions: MemRegion[] = [];
    for (let i = 0; i < max + 1; i++) regions.push(b.allocMemRegion(64 * KiB));
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < max; i++) b.mapMemRegion(regions[i]);
      expectCode(() => b.mapMemRegion(regions[max]), 'EINVAL', /max-mem-regions/);
      for (let i = 0; i < max; i++) q.read(i * 4096, new Uint8Array(regions[i].buffer, 4096, 4096), i);
      completeOk(q, max);
      for (let i = 0; i < max; i++)
        assert.ok(Buffer.from(new Uint8Array(regions[i].buffer, 4096, 4096)).equals(readFileRange(qsd.image, i * 4096, 4096)));
      for (let i = 0; i < max; i++) b.unmapMemRegion(regions[i]);
    }
    b.destroy();
  });

  it('a region given by the caller at an offset into a memfd (fdOffset) works', () => {
    const b = connectTo(qsd);
    b.start();
    const q = b.getQueue(0)!;
    const whole = b.allocMemRegion(2 * MiB);
    const secondHalf: MemRegion = {
      addr: whole.addr + BigInt(MiB),
      len: MiB,
      iova: 0n,
      fdOffset: MiB,
      fd: whole.fd,
      flags: 0,
      // Its memory has no ArrayBuffer of its own (buffer must start at addr);
      // views of `whole` reach it by address.
      buffer: undefined as unknown as ArrayBuffer,
    };
    b.mapMemRegion(secondHalf);
    const data = new Uint8Array(whole.buffer, MiB + 64 * KiB, 64 * KiB);
    crypto.randomFillSync(data);
    q.write(2 * MiB, data, 'write');
    completeOk(q, 1);
    const back = new Uint8Array(whole.buffer, MiB + 256 * KiB, 64 * KiB);
    q.read(2 * MiB, back, 'read');
    completeOk(q, 1);
    assert.deepEqual(back, data);
    assert.ok(readFileRange(qsd.image, 2 * MiB, 64 * KiB).equals(Buffer.from(data)));
    // The first half is not mapped.
    q.read(0, new Uint8Array(whole.buffer, 0, 4096), 'first half');
    assert.equal(complete(q, 1)[0].errorMsg, NOT_MAPPED);
    b.unmapMemRegion(secondHalf);
    b.destroy();
  });

  it('a region without an fd is refused (needs-mem-region-fd)', () => {
    const b = connectTo(qsd);
    b.start();
    const r = b.allocMemRegion(64 * KiB);
    expectCode(() => b.mapMemRegion({ ...r, fd: -1 }), 'EINVAL', /file descriptor/);
    b.destroy();
  });
});
