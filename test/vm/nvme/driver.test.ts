// nvme-io_uring beyond the shared suite, in the test guest: properties from
// Identify, what it refuses to open, commands split at max-transfer, poll
// queues, blkbench, and data left for the host to check in the image.
// Guest only.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import { Blkio, create, createCompletions, open, REQ_FUA, REQ_NO_UNMAP } from '../../../src/lib';
import { expectCode } from '../../shared/behaviour';
import { findNvmeNamespace, NVME_DRIVER, NVME_MARKER_OFFSET, NvmeNamespace, readDirect, writeDirect } from '../../support/nvme-target';
import { startWithRegion } from '../../support/target';
import { BLKBENCH_CLI } from '../../support/paths';


if (process.env.BLKIO_IN_VM === '1') {
  describe('nvme-io_uring on the guest NVMe controller', function () {
    this.timeout(120000);
    let ns: NvmeNamespace;
    let b: Blkio | undefined;
    const connect = (): Blkio => {
      b = create(NVME_DRIVER);
      b.setStr('path', ns.charDevice);
      b.connect();
      return b;
    };

    before(function () {
      const found = findNvmeNamespace();
      assert.ok(found, 'no NVMe controller with serial blkio-nvme0 in the guest');
      ns = found;
    });
    afterEach(() => {
      b?.destroy();
      b = undefined;
    });

    describe('properties from Identify', () => {
      it('capacity is the namespace size', () => {
        assert.equal(connect().getUint64('capacity'), BigInt(ns.capacity));
      });

      it('alignments are the LBA size', () => {
        const c = connect();
        for (const name of ['request-alignment', 'buf-alignment', 'discard-alignment']) assert.equal(c.getInt(name), 512, name);
        assert.equal(c.getUint64('mem-region-alignment'), 512n);
        assert.equal(c.getInt('optimal-buf-alignment'), 4096);
      });

      it('max-transfer comes from MDTS (QEMU: 2^7 pages) and the kernel limits', () => {
        const c = connect();
        const max = c.getInt('max-transfer');
        assert.ok(max > 0 && max <= 128 * 4096, `max-transfer ${max}`);
        assert.equal(max % 512, 0);
      });

      it('ONCS gives write zeroes and discard limits; VWC gives flush-needed; FUA is native', () => {
        const c = connect();
        assert.equal(c.getUint64('max-write-zeroes-len'), BigInt(65536 * 512));
        assert.ok(c.getUint64('max-discard-len') > 0n);
        assert.equal(c.getBool('flush-needed'), true);
        assert.equal(c.getBool('supports-fua-natively'), true);
        assert.equal(c.getBool('can-grow'), false);
        assert.equal(c.getBool('can-add-queues'), true);
        assert.equal(c.getBool('needs-mem-regions'), false);
      });

      it('num-entries defaults to 128 and fd reads back the opened fd', () => {
        const c = connect();
        assert.equal(c.getInt('num-entries'), 128);
        assert.ok(c.getInt('fd') >= 0);
      });
    });

    describe('targets it refuses', () => {
      it('a block device fails with EINVAL naming the char device it needs', () => {
        const c = create(NVME_DRIVER);
        b = c;
        c.setStr('path', ns.blockDevice);
        expectCode(() => c.connect(), 'EINVAL', /not a character device/);
      });

      it('a char device that is not an NVMe namespace fails with EINVAL', () => {
        const c = create(NVME_DRIVER);
        b = c;
        c.setStr('path', '/dev/null');
        expectCode(() => c.connect(), 'EINVAL', /not an NVMe namespace/);
      });

      it('a namespace with per-block metadata fails with ENOTSUP', () => {
        const md = findNvmeNamespace('blkio-nvme-md');
        assert.ok(md, 'no NVMe controller with serial blkio-nvme-md (run-in-vm.sh adds it)');
        const c = create(NVME_DRIVER);
        b = c;
        c.setStr('path', md.charDevice);
        expectCode(() => c.connect(), 'ENOTSUP', /8 bytes of metadata/);
      });

      it('a missing path fails with ENOENT', () => {
        const c = create(NVME_DRIVER);
        b = c;
        c.setStr('path', '/dev/ng-no-such-device');
        expectCode(() => c.connect(), 'ENOENT');
      });
    });

    describe('commands', () => {
      it('a write and read longer than max-transfer are split and land intact', () => {
        const s = startWithRegion(connect(), 4 << 20);
        const len = 3 * s.b.getInt('max-transfer') + 4096;
        const data = crypto.randomBytes(len);
        s.view(0, len).set(data);
        s.q.write(1 << 20, s.view(0, len), null, REQ_FUA);
        assert.equal(s.complete(1)[0].ret, 0);
        assert.ok(readDirect(ns.blockDevice, 1 << 20, len).equals(data), 'the device holds the data');
        s.q.read(1 << 20, s.view(len, len));
        assert.equal(s.complete(1)[0].ret, 0);
        assert.ok(Buffer.from(s.view(len, len)).equals(data));
      });

      it('write zeroes without NO_UNMAP (deallocate) and with it leave zeros on the device', () => {
        const s = startWithRegion(connect());
        writeDirect(ns.blockDevice, 0, crypto.randomBytes(1 << 20));
        s.q.writeZeroes(64 << 10, 128 << 10, 'dealloc');
        s.q.writeZeroes(512 << 10, 128 << 10, 'keep', REQ_NO_UNMAP);
        for (const c of s.complete(2)) assert.equal(c.ret, 0, `${String(c.userData)}: ${c.errorMsg}`);
        const after = readDirect(ns.blockDevice, 0, 1 << 20);
        assert.ok(after.subarray(64 << 10, 192 << 10).every((x) => x === 0));
        assert.ok(after.subarray(512 << 10, 640 << 10).every((x) => x === 0));
        assert.ok(!after.subarray(192 << 10, 512 << 10).every((x) => x === 0), 'data between the ranges is untouched');
      });

      it('a discard of the whole namespace completes', () => {
        const s = startWithRegion(connect());
        s.q.discard(0, ns.capacity);
        const [c] = s.complete(1);
        assert.equal(c.ret, 0, c.errorMsg ?? '');
      });

      it('readv with more bytes than max-transfer completes with EINVAL', () => {
        const s = startWithRegion(connect(), 4 << 20);
        const max = s.b.getInt('max-transfer');
        s.q.readv(0, [s.view(0, max), s.view(max, 4096)]);
        const [c] = s.complete(1);
        assert.equal(c.ret, -22);
        assert.match(c.errorMsg ?? '', /max-transfer/);
      });
    });

    describe('poll queues (nvme.poll_queues=1)', () => {
      it('are supported and a poll queue reads what a regular queue wrote', () => {
        const c = connect();
        assert.equal(c.getBool('supports-poll-queues'), true);
        c.setInt('num-poll-queues', 1);
        const s = startWithRegion(c);
        const out = s.view(0, 4096).fill(0x6d);
        s.q.write(16384, out);
        assert.equal(s.complete(1)[0].ret, 0);
        const pq = c.getPollQueue(0)!;
        assert.equal(pq.completionFd, -1);
        const back = s.view(4096, 4096);
        pq.read(16384, back, 'polled');
        const done = createCompletions(1);
        assert.equal(pq.doIo(done, 1, 1, 10e9), 1);
        assert.equal(done[0].ret, 0, done[0].errorMsg ?? '');
        assert.equal(done[0].userData, 'polled');
        assert.deepEqual(back, out);
      });
    });

    describe('Promise layer and blkbench', () => {
      it('open() reads what it wrote', async () => {
        const d = await open({ driver: NVME_DRIVER, path: ns.charDevice });
        const data = crypto.randomBytes(16384);
        await d.write(data, { position: 8192 });
        assert.deepEqual((await d.read({ buffer: Buffer.alloc(16384), position: 8192 })).buffer, data);
        await d.close();
      });

      it('blkbench runs a verified random-write job on it', () => {
        const out = execFileSync(process.execPath, [
          BLKBENCH_CLI, '--name=nvme', `--ioengine=${NVME_DRIVER}`, `--filename=${ns.charDevice}`,
          '--rw=randwrite', '--bs=4k', '--iodepth=8', '--size=4m', '--verify=crc32c', '--output-format=json',
        ], { encoding: 'utf8', timeout: 100000 });
        const report = JSON.parse(out) as { jobs: { error: number; write: { io_bytes: number } }[] };
        assert.equal(report.jobs[0].error, 0);
        assert.equal(report.jobs[0].write.io_bytes, 4 << 20);
      });
    });

    describe('data for the host', () => {
      it('writes the host\'s marker (BLKIO_NVME_MARKER) with FUA for vm.test.ts to find in the image', function () {
        const marker = process.env.BLKIO_NVME_MARKER;
        assert.ok(marker, 'BLKIO_NVME_MARKER is unset: run the guest suites through vm.test.ts, which checks the image afterwards');
        const data = Buffer.from(marker, 'hex');
        const s = startWithRegion(connect());
        s.view(0, 4096).fill(0).set(data);
        s.q.write(NVME_MARKER_OFFSET, s.view(0, 4096), null, REQ_FUA);
        assert.equal(s.complete(1)[0].ret, 0);
      });
    });
  });
}
