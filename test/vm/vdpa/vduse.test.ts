// VDUSE devices this file makes itself (qemu-storage-daemon + src/vdpa.ts),
// in the test guest: data checked from outside after the daemon exits (raw
// bytes, qemu-img compare for qcow2), the device lifecycle through the
// management module, libvduse's region limit, and a daemon killed with I/O
// in flight. Outside the guest this file defines no tests.
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Blkio, create, createCompletions, Queue } from '../../../src/lib';
import * as vdpa from '../../../src/lib/vdpa';
import { expectCode } from '../../shared/behaviour';
import { tempDir } from '../../support/files';
import { DRIVER, inVm, sleep, VduseExport } from '../../support/vdpa-targets';
import { LIB_DIR } from '../../support/paths';
import { completeOk } from '../../support/completions';

const KiB = 1024;
const MiB = 1024 * KiB;

function connectStarted(devicePath: string, queues = 1): Blkio {
  const b = create(DRIVER);
  b.setStr('path', devicePath);
  b.connect();
  b.setInt('num-queues', queues);
  b.start();
  return b;
}

/** What a batch of writes does to an image, so the same can be applied elsewhere. */
interface Write {
  offset: number;
  data: Buffer; // all zeros for write-zeroes
  zeroes: boolean;
}

/**
 * Rounds of writes (plain, vectored, write-zeroes) spread over the queues;
 * within a round every write has its own 64 KiB chunk, so they may all be
 * in flight at once and still give one defined result.
 */
function writeRounds(b: Blkio, queues: number, size: number, rounds: number): Write[] {
  const chunk = 64 * KiB;
  const perRound = 48;
  const region = b.allocMemRegion(perRound * chunk);
  b.mapMemRegion(region);
  const all: Write[] = [];
  const chunks = size / chunk;
  for (let round = 0; round < rounds; round++) {
    const picked = new Set<number>();
    while (picked.size < Math.min(perRound, chunks)) picked.add(crypto.randomInt(chunks));
    const counts = new Array(queues).fill(0);
    [...picked].forEach((c, i) => {
      const q = b.getQueue(i % queues)!;
      const sectors = 1 + crypto.randomInt(chunk / 512);
      const len = sectors * 512;
      const offset = c * chunk + crypto.randomInt(chunk / 512 - sectors + 1) * 512;
      const view = new Uint8Array(region.buffer, i * chunk, len);
      const kind = i % 3;
      if (kind === 2) {
        q.writeZeroes(offset, len);
        all.push({ offset, data: Buffer.alloc(len), zeroes: true });
      } else {
        crypto.randomFillSync(view);
        if (kind === 1 && len >= 1024) q.writev(offset, [view.subarray(0, 512), view.subarray(512)]);
        else q.write(offset, view);
        all.push({ offset, data: Buffer.from(view), zeroes: false });
      }
      counts[i % queues]++;
    });
    counts.forEach((n, i) => completeOk(b.getQueue(i)!, n));
  }
  const q0 = b.getQueue(0)!;
  q0.flush();
  completeOk(q0, 1);
  return all;
}

function applyTo(file: string, writes: Write[]): void {
  const fd = fs.openSync(file, 'r+');
  for (const w of writes) fs.writeSync(fd, w.data, 0, w.data.length, w.offset);
  fs.closeSync(fd);
}

function readsMatch(b: Blkio, expected: Buffer): void {
  const q = b.getQueue(0)!;
  const region = b.allocMemRegion(1 * MiB);
  b.mapMemRegion(region);
  for (let at = 0; at < expected.length; at += region.len) {
    const view = new Uint8Array(region.buffer, 0, Math.min(region.len, expected.length - at));
    q.read(at, view);
    completeOk(q, 1);
    assert.ok(Buffer.from(view).equals(expected.subarray(at, at + view.length)), `data at ${at}`);
  }
}

// A child process that keeps reads in flight, kills the daemon, and reports
// what the library then does (JSON on stdout); the parent bounds it.
const KILL_SCRIPT = `
  const { create, createCompletions } = require(process.argv[3]);
  const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  const out = {};
  const b = create('virtio-blk-vhost-vdpa');
  b.setStr('path', process.argv[1]);
  b.connect();
  b.start();
  const region = b.allocMemRegion(1 << 20);
  b.mapMemRegion(region);
  const q = b.getQueue(0);
  const c = createCompletions(256);
  const readAll = (n) => { for (let i = 0; i < n; i++) q.read(i * 4096, new Uint8Array(region.buffer, i * 4096, 4096), i); };
  readAll(32);
  out.before = q.doIo(c, 32, 32, 10e9);
  readAll(64);
  q.doIo(c, 0, 0);
  process.kill(Number(process.argv[2]), 'SIGKILL');
  // Gone, or a zombie (the parent, blocked in spawnSync, reaps it later).
  const state = () => { try { return require('fs').readFileSync('/proc/' + process.argv[2] + '/stat', 'utf8').split(') ')[1][0]; } catch { return 'gone'; } };
  while (state() !== 'gone' && state() !== 'Z') sleep(20);
  process.stderr.write('daemon killed\\n');
  readAll(64);
  try {
    out.after = q.doIo(c, 128, 128, 3e9);
  } catch (e) {
    out.timeout = { code: e.code, message: e.message };
  }
  process.stderr.write('destroying\\n');
  let t = Date.now();
  b.destroy();
  out.destroyMs = Date.now() - t;
  const again = create('virtio-blk-vhost-vdpa');
  again.setStr('path', process.argv[1]);
  t = Date.now();
  try { again.connect(); out.reconnect = 'connected'; } catch (e) { out.reconnect = { code: e.code, message: e.message }; }
  out.reconnectMs = Date.now() - t;
  again.destroy();
  console.log(JSON.stringify(out));
`;

if (inVm) {
  describe('virtio-blk-vhost-vdpa on VDUSE devices of its own', function () {
    this.timeout(300_000);
    const exports: VduseExport[] = [];
    const start = async (opts: Parameters<typeof VduseExport.start>[0]) => {
      const e = await VduseExport.start(opts);
      exports.push(e);
      return e;
    };
    afterEach(async () => {
      for (const e of exports.splice(0)) await e.dispose();
    });

    it('raw: reads see the image; writes on two queues are in the file after the daemon exits', async () => {
      const e = await start({ name: 'data-raw', size: 8 * MiB, queues: 2 });
      const expected = fs.readFileSync(e.image);
      const b = connectStarted(e.devicePath, 2);
      let writes: Write[];
      try {
        readsMatch(b, expected);
        writes = writeRounds(b, 2, e.size, 3);
      } finally {
        b.destroy();
      }
      await e.stop();
      assert.equal(e.exitStatus, 0, e.stderr);
      for (const w of writes) w.data.copy(expected, w.offset);
      const actual = fs.readFileSync(e.image);
      assert.equal(actual.length, expected.length);
      assert.ok(actual.equals(expected), 'the raw file holds exactly what was written');
    });

    it('qcow2: after the daemon exits, qemu-img compare finds the image equal to a reference', async () => {
      const dir = tempDir('blkio-vdpa-ref-');
      try {
        const reference = path.join(dir, 'reference.raw');
        fs.writeFileSync(reference, crypto.randomBytes(8 * MiB));
        const e = await start({ name: 'data-qcow2', format: 'qcow2', from: reference });
        const b = connectStarted(e.devicePath);
        try {
          readsMatch(b, fs.readFileSync(reference));
          applyTo(reference, writeRounds(b, 1, e.size, 3));
        } finally {
          b.destroy();
        }
        await e.stop();
        assert.equal(e.exitStatus, 0, e.stderr);
        execFileSync('qemu-img', ['check', '-q', e.image]);
        const compare = spawnSync('qemu-img', ['compare', '-f', 'qcow2', '-F', 'raw', e.image, reference], {
          encoding: 'utf8',
        });
        assert.equal(compare.status, 0, `qemu-img compare: ${compare.stdout}${compare.stderr}`);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('src/vdpa.ts: a VDUSE device created, used through vhost_vdpa and virtio_vdpa, and deleted', async () => {
      const e = await start({ name: 'mgmt-vduse', size: 4 * MiB });
      const listed = await vdpa.getDevice(e.name);
      assert.equal(listed?.mgmtdev, 'vduse');
      assert.equal(listed?.type, 'block');
      assert.equal(await vdpa.getDriver(e.name), 'vhost_vdpa');
      assert.equal(await vdpa.vhostVdpaDevicePath(e.name), e.devicePath);

      // Written through vhost-vdpa...
      const data = crypto.randomBytes(64 * KiB);
      let b = connectStarted(e.devicePath);
      try {
        const r = b.allocMemRegion(64 * KiB);
        b.mapMemRegion(r);
        new Uint8Array(r.buffer).set(data);
        b.getQueue(0)!.write(128 * KiB, new Uint8Array(r.buffer));
        completeOk(b.getQueue(0)!, 1);
      } finally {
        b.destroy();
      }

      // ...read by the kernel's virtio-blk driver once the device moves to virtio_vdpa.
      assert.equal(await vdpa.bindDriver(e.name, 'virtio_vdpa'), undefined);
      assert.ok(!fs.existsSync(e.devicePath), 'the vhost-vdpa node went away');
      const sysdir = `/sys/bus/vdpa/devices/${e.name}`;
      const virtio = fs.readdirSync(sysdir).find((n) => /^virtio\d+$/.test(n));
      assert.ok(virtio, 'a virtio device appeared');
      let disk: string | undefined;
      for (let waited = 0; !disk && waited < 10000; waited += 100) {
        const blockDir = path.join(sysdir, virtio, 'block');
        disk = fs.existsSync(blockDir) ? fs.readdirSync(blockDir)[0] : undefined;
        if (!disk || !fs.existsSync(`/dev/${disk}`)) {
          disk = undefined;
          await sleep(100);
        }
      }
      assert.ok(disk, 'a /dev/vdX disk appeared');
      const fd = fs.openSync(`/dev/${disk}`, 'r');
      const seen = Buffer.alloc(data.length);
      fs.readSync(fd, seen, 0, seen.length, 128 * KiB);
      fs.closeSync(fd);
      assert.ok(seen.equals(data), `/dev/${disk} shows what vhost-vdpa wrote`);

      // Back to vhost_vdpa: the data is still there.
      const again = await vdpa.bindDriver(e.name, 'vhost_vdpa');
      b = connectStarted(again);
      const r = b.allocMemRegion(64 * KiB);
      b.mapMemRegion(r);
      b.getQueue(0)!.read(128 * KiB, new Uint8Array(r.buffer));
      completeOk(b.getQueue(0)!, 1);
      assert.ok(Buffer.from(r.buffer).equals(data));

      // vdpa dev del waits while the device is open, and finishes after destroy.
      let deleted = false;
      const deleting = e.deleteDevice().then(() => (deleted = true));
      await sleep(1500);
      assert.equal(deleted, false, 'deleting waits for the open device');
      b.destroy();
      await deleting;
      assert.equal(await vdpa.getDevice(e.name), undefined);
      assert.ok(!fs.existsSync(again));
      await e.stop();
      assert.equal(e.exitStatus, 0, e.stderr);
    });

    it("255 mapped regions (libvduse's limit of 256 with the rings) work, the 256th is refused", async () => {
      const e = await start({ name: 'regions-vduse', size: 4 * MiB });
      const b = connectStarted(e.devicePath);
      try {
        const max = Number(b.getUint64('max-mem-regions'));
        assert.equal(max, 255);
        const regions = Array.from({ length: max + 1 }, () => b.allocMemRegion(4096));
        for (const r of regions.slice(0, max)) b.mapMemRegion(r);
        expectCode(() => b.mapMemRegion(regions[max]), 'EINVAL', /max-mem-regions/);
        const q = b.getQueue(0)!;
        // Touch every region, so the daemon maps each of them.
        regions.slice(0, max).forEach((r, i) => q.read((i % 1024) * 4096, new Uint8Array(r.buffer), i));
        completeOk(q, max);
        b.unmapMemRegion(regions[0]);
        b.mapMemRegion(regions[max]);
        q.read(0, new Uint8Array(regions[max].buffer));
        completeOk(q, 1);
      } finally {
        b.destroy();
      }
      await e.stop();
      assert.equal(e.exitStatus, 0, `qemu-storage-daemon: ${e.stderr}`);
    });

    it('the daemon killed with I/O in flight: do_io times out, destroy is bounded, reconnect fails at once, nothing hangs', async () => {
      const e = await start({ name: 'kill-vduse', size: 4 * MiB });
      // How long the kernel waits for a dead daemon before calling the device broken.
      e.setMessageTimeout(2);
      const t0 = Date.now();
      const child = spawnSync(process.execPath, ['-e', KILL_SCRIPT, e.devicePath, String(e.pid), LIB_DIR], {
        encoding: 'utf8',
        timeout: 120_000,
        killSignal: 'SIGKILL',
      });
      const elapsed = Date.now() - t0;
      assert.equal(child.signal, null, `the child hung and was killed after ${elapsed} ms: ${child.stderr}`);
      assert.equal(child.status, 0, child.stderr);
      const out = JSON.parse(child.stdout.trim().split('\n').pop()!);
      console.log(`      after the kill: destroy ${out.destroyMs} ms, reconnect ${out.reconnectMs} ms (msg_timeout 2 s)`);
      assert.equal(out.before, 32, 'I/O worked before the kill');
      assert.equal(out.timeout?.code, 'ETIME', `doIo with a timeout reports it: ${JSON.stringify(out)}`);
      // destroy waits (bounded) for the requests and then for the kernel to give up on the daemon.
      assert.ok(out.destroyMs < 30_000, `destroy took ${out.destroyMs} ms`);
      assert.equal(out.reconnect.code, 'EIO', JSON.stringify(out.reconnect));
      assert.match(out.reconnect.message, /daemon stopped answering/);
      assert.ok(out.reconnectMs < 5000, `reconnect took ${out.reconnectMs} ms`);
    });
  });
}
