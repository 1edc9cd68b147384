// virtio-blk-vhost-vdpa specifics, in the test guest: properties of the
// guest-init devices, the fd property, one open at a time, memory-region
// rules, the locked-memory limit, reopening after close. Outside the guest
// this file defines no tests.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Blkio, create, createCompletions, MemRegion, open, Queue } from '../../../src/lib';
import { bufferAddress } from '../../../src/lib/buffers';
import { expectCode } from '../../shared/behaviour';
import { DRIVER, guestDevice, SIM_CAPACITY } from '../../support/vdpa-targets';
import { LIB_DIR } from '../../support/paths';
import { completeOk } from '../../support/completions';

const sim = guestDevice('BLKIO_VDPA_SIM');
const vduseRaw = guestDevice('BLKIO_VDUSE_RAW');
const KiB = 1024;
const MiB = 1024 * KiB;

function connect(props: Record<string, string | number | boolean>): Blkio {
  const b = create(DRIVER);
  try {
    for (const [k, v] of Object.entries(props)) {
      if (typeof v === 'boolean') b.setBool(k, v);
      else b.setStr(k, String(v));
    }
    b.connect();
    return b;
  } catch (e) {
    b.destroy();
    throw e;
  }
}

function roundTrip(b: Blkio, offset: number, queue = 0): void {
  const region = b.allocMemRegion(64 * KiB);
  b.mapMemRegion(region);
  const data = crypto.randomBytes(32 * KiB);
  const view = new Uint8Array(region.buffer);
  view.set(data);
  const q = b.getQueue(queue)!;
  q.write(offset, view.subarray(0, data.length));
  completeOk(q, 1);
  q.read(offset, view.subarray(data.length, 2 * data.length));
  completeOk(q, 1);
  assert.ok(Buffer.from(view.subarray(data.length, 2 * data.length)).equals(data), 'read back what was written');
  b.unmapMemRegion(region);
  b.freeMemRegion(region);
}

function fdTarget(fd: number): string | null {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
}

// Runs a short script in a child node process under `ulimit -l kib`, which
// prints one JSON line: how far it got and the error there, if any.
function underMemlock(kib: number, devicePath: string, regionBytes: number): { stage: string; code?: string; message?: string } {
  const script = `
    const { create } = require(${JSON.stringify(LIB_DIR)});
    let stage = 'connect';
    const b = create(${JSON.stringify(DRIVER)});
    try {
      b.setStr('path', process.argv[1]);
      b.connect();
      stage = 'start'; b.start();
      stage = 'alloc'; const r = b.allocMemRegion(Number(process.argv[2]));
      stage = 'map'; b.mapMemRegion(r);
      stage = 'done';
      console.log(JSON.stringify({ stage }));
    } catch (e) {
      console.log(JSON.stringify({ stage, code: e.code, message: e.message }));
    } finally {
      b.destroy();
    }`;
  const child = spawnSync('sh', ['-c', `ulimit -l ${kib} && exec "$0" -e "$1" "$2" "$3"`, process.execPath, script, devicePath, String(regionBytes)], {
    encoding: 'utf8',
    timeout: 60000,
  });
  assert.equal(child.status, 0, `child failed: ${child.stderr}`);
  return JSON.parse(child.stdout.trim().split('\n').pop()!);
}

if (sim || vduseRaw) {
  describe('virtio-blk-vhost-vdpa driver', function () {
    this.timeout(60000);

    describe('properties', () => {
      if (sim) {
        it('vdpa_sim_blk: its config space and the vhost-vdpa limits', () => {
          const b = connect({ path: sim });
          try {
            assert.equal(b.getStr('driver'), DRIVER);
            assert.equal(b.getUint64('capacity'), BigInt(SIM_CAPACITY));
            assert.equal(b.getInt('max-queues'), 1);
            assert.equal(b.getInt('request-alignment'), 512);
            assert.equal(b.getInt('max-segments'), 32);
            assert.equal(b.getInt('max-segment-len'), 4096);
            assert.equal(b.getInt('max-transfer'), 32 * 4096);
            assert.equal(b.getUint64('mem-region-alignment'), 4096n);
            assert.equal(b.getUint64('max-mem-regions'), 255n, '256 minus the ring memory');
            assert.equal(b.getBool('needs-mem-regions'), true);
            assert.equal(b.getBool('needs-mem-region-fd'), true);
            assert.equal(b.getBool('may-pin-mem-regions'), true);
            assert.equal(b.getBool('supports-poll-queues'), true);
            assert.equal(b.getInt('queue-size'), 256);
            assert.equal(b.getInt('max-queue-size'), 32768);
          } finally {
            b.destroy();
          }
        });

        it('a queue-size above the device maximum (256) fails at start with EINVAL', () => {
          const b = connect({ path: sim });
          try {
            b.setInt('queue-size', 512);
            expectCode(() => b.start(), 'EINVAL', /queue-size 512 exceeds the device's maximum of 256/);
          } finally {
            b.destroy();
          }
        });
      }

      if (vduseRaw) {
        it('VDUSE: qemu-storage-daemon config (2 queues, seg_max 254)', () => {
          const b = connect({ path: vduseRaw });
          try {
            assert.equal(b.getUint64('capacity'), BigInt(fs.statSync(process.env.BLKIO_VDUSE_RAW_FILE!).size));
            assert.equal(b.getInt('max-queues'), Number(process.env.BLKIO_VDUSE_RAW_QUEUES ?? 2));
            assert.equal(b.getInt('max-segments'), 254);
            assert.equal(b.getUint64('mem-region-alignment'), 4096n);
          } finally {
            b.destroy();
          }
        });

        it('VDUSE: two queues and a poll queue carry I/O', () => {
          const b = connect({ path: vduseRaw });
          try {
            b.setInt('num-queues', 1);
            b.setInt('num-poll-queues', 1);
            b.start();
            roundTrip(b, 1 * MiB, 0);
            const region = b.allocMemRegion(64 * KiB);
            b.mapMemRegion(region);
            const pq = b.getPollQueue(0)!;
            assert.equal(pq.completionFd, -1, 'poll queues have no completion fd');
            pq.read(0, new Uint8Array(region.buffer, 0, 4096));
            completeOk(pq, 1);
          } finally {
            b.destroy();
          }
        });
      }
    });

    const device = sim ?? vduseRaw!;

    describe('one open at a time', () => {
      it('a second connect gets EBUSY with an explanation; it works once the first is destroyed', () => {
        const first = connect({ path: device });
        const second = create(DRIVER);
        try {
          second.setStr('path', device);
          expectCode(() => second.connect(), 'EBUSY', /busy.*open only once at a time/);
          assert.throws(() => fs.openSync(device, 'r+'), (e: NodeJS.ErrnoException) => e.code === 'EBUSY');
          first.destroy();
          second.connect();
          second.start();
          roundTrip(second, 0);
        } finally {
          first.destroy();
          second.destroy();
        }
      });

      it('a missing device names the likely cause', () => {
        const b = create(DRIVER);
        b.setStr('path', '/dev/vhost-vdpa-999');
        expectCode(() => b.connect(), 'ENOENT', /vhost_vdpa driver/);
        b.destroy();
      });

      it('connect, I/O and destroy many times in a row: close leaves the device usable', () => {
        const marker = crypto.randomBytes(4096);
        for (let round = 0; round < 10; round++) {
          const b = connect({ path: device });
          try {
            b.start();
            const region = b.allocMemRegion(64 * KiB);
            b.mapMemRegion(region);
            const view = new Uint8Array(region.buffer);
            const q = b.getQueue(0)!;
            if (round > 0) {
              q.read(512 * KiB, view.subarray(0, 4096));
              completeOk(q, 1);
              assert.ok(Buffer.from(view.subarray(0, 4096)).equals(marker), `round ${round}: the last round's data`);
            }
            crypto.randomFillSync(marker);
            view.set(marker, 8192);
            q.write(512 * KiB, view.subarray(8192, 8192 + 4096));
            completeOk(q, 1);
            // Leave reads in flight on odd rounds: destroy must cope.
            if (round % 2) for (let i = 0; i < 8; i++) q.read(i * 4096, view.subarray(16384 + i * 4096, 20480 + i * 4096));
          } finally {
            b.destroy();
          }
        }
      });
    });

    describe('the fd property', () => {
      it('connects through an fd opened O_RDWR, which the library then owns and closes', () => {
        const fd = fs.openSync(device, 'r+');
        let b: Blkio | undefined;
        try {
          b = connect({ fd });
          assert.equal(b.getInt('fd'), fd);
          expectCode(() => b!.setInt('fd', fd), 'EBUSY');
          b.start();
          roundTrip(b, 64 * KiB);
          b.destroy();
          assert.notEqual(fdTarget(fd), device, 'destroy closed the fd');
          // The device is free again.
          fs.closeSync(fs.openSync(device, 'r+'));
        } catch (e) {
          b?.destroy();
          if (fdTarget(fd) === device) fs.closeSync(fd);
          throw e;
        }
      });

      it('open({ fd }) of the Promise layer works', async () => {
        const fd = fs.openSync(device, 'r+');
        const d = await open({ driver: DRIVER, fd });
        const data = crypto.randomBytes(8192);
        await d.write(data, { position: 8192 });
        assert.ok((await d.read({ buffer: Buffer.alloc(8192), position: 8192 })).buffer.equals(data));
        await d.close();
        assert.equal(fdTarget(fd), null, 'close closed the fd');
      });

      it('path and fd together give EINVAL', () => {
        const fd = fs.openSync(device, 'r+');
        try {
          const b = create(DRIVER);
          b.setStr('path', device);
          b.setInt('fd', fd);
          expectCode(() => b.connect(), 'EINVAL', /path and fd/);
          b.destroy();
        } finally {
          fs.closeSync(fd);
        }
      });

      it('a read-only fd gives EBADF, and a failed connect leaves the fd with the caller', () => {
        const fd = fs.openSync(device, 'r');
        try {
          const b = create(DRIVER);
          b.setInt('fd', fd);
          expectCode(() => b.connect(), 'EBADF', /O_RDWR/);
          b.destroy();
          assert.equal(fdTarget(fd), device, 'still open');
        } finally {
          fs.closeSync(fd);
        }
      });

      it('an fd of something else gives a clear error and stays open', () => {
        const fd = fs.openSync('/dev/null', 'r+');
        try {
          const b = create(DRIVER);
          b.setInt('fd', fd);
          expectCode(() => b.connect(), 'ENOTTY', /not a vhost device/);
          b.destroy();
          assert.equal(fdTarget(fd), '/dev/null');
        } finally {
          fs.closeSync(fd);
        }
      });
    });

    describe('memory regions', () => {
      let b: Blkio;
      afterEach(() => b?.destroy());

      it('a page-aligned part of an allocated region can be mapped; buffers outside it are refused', () => {
        b = connect({ path: device });
        b.start();
        const whole = b.allocMemRegion(64 * KiB);
        // Without a buffer of its own: views of the whole region's buffer are found by address.
        const { buffer: _, ...fields } = whole;
        const part = { ...fields, addr: whole.addr + 16384n, len: 16384, fdOffset: 16384 } as MemRegion;
        b.mapMemRegion(part);
        const q = b.getQueue(0)!;
        const inside = new Uint8Array(whole.buffer, 16384, 8192);
        crypto.randomFillSync(inside);
        const copy = Buffer.from(inside);
        q.write(0, inside);
        completeOk(q, 1);
        q.read(0, new Uint8Array(whole.buffer, 24576, 8192));
        completeOk(q, 1);
        assert.ok(Buffer.from(whole.buffer, 24576, 8192).equals(copy));
        q.read(0, new Uint8Array(whole.buffer, 0, 4096), 'outside');
        const c = createCompletions(1);
        q.doIo(c, 1, 1, 10e9);
        assert.equal(c[0].ret, -22);
        assert.match(c[0].errorMsg ?? '', /not inside a mapped memory region/);
        b.unmapMemRegion(part);
      });

      it('regions must be page-aligned and backed by an fd', () => {
        b = connect({ path: device });
        b.start();
        expectCode(() => b.allocMemRegion(1000), 'EINVAL', /mem-region-alignment/);
        const r = b.allocMemRegion(64 * KiB);
        expectCode(() => b.mapMemRegion({ ...r, addr: r.addr + 512n, len: 4096 }), 'EINVAL', /mem-region-alignment/);
        expectCode(() => b.mapMemRegion({ ...r, fd: -1 }), 'EINVAL', /needs-mem-region-fd/);
      });

      it('memory that is not a MAP_SHARED mapping is refused (a VDUSE device would silently ignore it)', () => {
        b = connect({ path: device });
        b.start();
        const memfd = b.allocMemRegion(4096);
        const heap = Buffer.allocUnsafeSlow(256 * KiB); // malloc'd: a private mapping
        const base = bufferAddress(heap);
        const aligned = Math.ceil(base / 4096) * 4096;
        const region = { addr: BigInt(aligned), len: 64 * KiB, iova: 0n, fdOffset: 0, fd: memfd.fd, flags: 0 } as MemRegion;
        expectCode(() => b.mapMemRegion(region), 'EINVAL', /private mapping/);
        assert.ok(heap.length > 0); // keeps the memory alive until here
      });

      it('maps and unmaps many regions, and remaps after unmapping', () => {
        b = connect({ path: device });
        b.start();
        const q = b.getQueue(0)!;
        const regions = Array.from({ length: 32 }, () => b.allocMemRegion(4096));
        for (let pass = 0; pass < 2; pass++) {
          for (const r of regions) b.mapMemRegion(r);
          regions.forEach((r, i) => new Uint8Array(r.buffer).fill(i + pass));
          regions.forEach((r, i) => q.write(i * 4096, new Uint8Array(r.buffer)));
          completeOk(q, regions.length);
          const back = regions.map((r) => new Uint8Array(r.buffer));
          for (const v of back) v.fill(0xff);
          back.forEach((v, i) => q.read(i * 4096, v));
          completeOk(q, regions.length);
          back.forEach((v, i) => assert.ok(v.every((x) => x === i + pass), `region ${i}`));
          for (const r of regions) b.unmapMemRegion(r);
        }
      });
    });

    if (sim) {
      describe('the locked-memory limit (vdpa_sim pins what is mapped)', () => {
        it('a mapping beyond RLIMIT_MEMLOCK fails with ENOMEM and a message pointing at ulimit -l', () => {
          const r = underMemlock(64, sim, 1 * MiB);
          assert.equal(r.stage, 'map', JSON.stringify(r));
          assert.equal(r.code, 'ENOMEM', r.message);
          assert.match(r.message!, /locked-memory limit/);
          assert.match(r.message!, /RLIMIT_MEMLOCK is 64 KiB/);
          assert.match(r.message!, /ulimit -l/);
        });

        it('with no locked memory at all, start fails the same way (the rings are mapped too)', () => {
          const r = underMemlock(0, sim, 4096);
          assert.equal(r.stage, 'start', JSON.stringify(r));
          assert.match(r.message!, /ulimit -l/);
        });

        it('mappings within the limit work', () => {
          const r = underMemlock(256, sim, 64 * KiB);
          assert.equal(r.stage, 'done', JSON.stringify(r));
        });
      });
    }

    if (vduseRaw) {
      it('VDUSE pins nothing: the locked-memory limit does not matter', () => {
        const r = underMemlock(0, vduseRaw, 1 * MiB);
        assert.equal(r.stage, 'done', JSON.stringify(r));
      });
    }
  });
}
