// Ranges at the edges of the 64-bit space: a memory region that wraps the
// address space or ends exactly at 2^64, requests whose start + length passes
// 2^63 - 1 or wraps, iovecs whose lengths add up past SSIZE_MAX. The C ABI
// (test/c/range-bounds.c, io_uring and virtio-blk-vhost-user) and the
// TypeScript API (the addon and libblkio.so.1 through koffi).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { create } from '../../../src/lib';
import { expectCode } from '../../shared/behaviour';
import { complete } from '../../support/completions';
import { randomFile, tempDir } from '../../support/files';
import { Qsd } from '../../support/qsd';
import { ADDON_AND_LIBRARY, compileC, runC } from './support';

const TWO_64 = 2n ** 64n;

function allChecksPassed(output: string, status: number | null): void {
  assert.equal(status, 0, output);
  const m = /^(\d+) checks, 0 failed$/m.exec(output);
  assert.ok(m && Number(m[1]) >= 20, output);
}

describe('range-bounds.c: start/length edges through the C ABI', function () {
  this.timeout(120000);
  let dir: string;
  let exe: string;
  before(() => {
    dir = tempDir('blkio-ranges-');
    exe = compileC('range-bounds', dir);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('every check passes on io_uring (a regular file, which can grow)', () => {
    const r = runC(exe, ['io_uring', randomFile(1 << 20, dir)]);
    allChecksPassed(r.output, r.status);
  });

  it('every check passes on virtio-blk-vhost-user (qemu-storage-daemon)', async () => {
    const qsd = await Qsd.start({ size: 1 << 20 });
    try {
      const r = runC(exe, ['virtio-blk-vhost-user', qsd.socket]);
      allChecksPassed(r.output, r.status);
    } finally {
      await qsd.dispose();
    }
  });
});

for (const { name, options } of ADDON_AND_LIBRARY) {
  describe(`start/length edges through the TypeScript API (${name})`, () => {
    let dir: string;
    let file: string;
    before(() => {
      dir = tempDir('blkio-ranges-');
      file = randomFile(1 << 16, dir);
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    function started() {
      const b = create('io_uring', options);
      b.setStr('path', file);
      b.connect();
      b.start();
      return { b, q: b.getQueue(0)! };
    }

    it('mapMemRegion of a region ending exactly at 2^64 is EINVAL', () => {
      const { b } = started();
      const region = { addr: TWO_64 - 4096n, len: 4096, iova: 0n, fdOffset: 0, fd: -1, flags: 0 };
      expectCode(() => b.mapMemRegion(region as never), 'EINVAL', /2\^64/);
      b.destroy();
    });

    it('mapMemRegion of a region running past 2^64 is EINVAL', () => {
      const { b } = started();
      const region = { addr: TWO_64 - 4096n, len: 8192, iova: 0n, fdOffset: 0, fd: -1, flags: 0 };
      expectCode(() => b.mapMemRegion(region as never), 'EINVAL', /2\^64/);
      b.destroy();
    });

    it('writeZeroes and discard whose start + length reaches 2^63 or 2^64 fail with EINVAL', () => {
      const { b, q } = started();
      q.writeZeroes(2n ** 63n - 4096n, 4096n);
      q.discard(2n ** 64n - 4096n, 4096n);
      q.writeZeroes(2n ** 64n - 1n, 1n);
      const got = complete(q, 3);
      for (const c of got) {
        assert.equal(c.ret, -22);
        assert.match(String(c.errorMsg), /2\^63/);
      }
      b.destroy();
    });

    it('a write ending just below 2^63 passes the range check (the file system decides)', () => {
      const { b, q } = started();
      q.writeZeroes(2n ** 63n - 8192n, 4096n);
      const [c] = complete(q, 1);
      assert.doesNotMatch(String(c.errorMsg), /2\^63/, 'not refused by the range check');
      b.destroy();
    });
  });
}
