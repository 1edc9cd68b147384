// What a switch keeps of a write's durability: a FUA write held by a switch
// is FUA on the new backend, and a write a completed flush() acknowledged is
// on the image after a switch, read from outside.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { BlkioError, Device, open, StorageDaemon } from '../../../src/lib';
import { tempDir } from '../../support/files';
import { createRawImage, Qsd } from '../../support/qsd';
import { until } from '../../support/until';

const SIZE = 4 << 20;
const BLOCK = 4096;

/** Accepted connections on a listening unix socket (its own entry in /proc/net/unix not counted). */
function connectionsTo(socket: string): number {
  return fs.readFileSync('/proc/net/unix', 'utf8').split('\n').filter((l) => l.endsWith(` ${socket}`)).length - 1;
}

describe('Switching keeps FUA and flushed writes', function () {
  this.timeout(60000);
  let dir: string;
  let image: string;
  let dev: Device | undefined;
  const daemons: Array<{ stop?: () => Promise<void>; dispose?: () => Promise<void> }> = [];

  beforeEach(() => {
    dir = tempDir('blkio-switch-fua-');
    image = createRawImage(path.join(dir, 'disk.raw'), SIZE);
  });
  afterEach(async () => {
    await dev?.close().catch(() => undefined);
    dev = undefined;
    for (const d of daemons.splice(0)) await (d.dispose ?? d.stop)!.call(d);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a FUA write held during the pause is FUA on the new backend (its flush fails there), a plain one is not', async () => {
    // The old backend: a daemon whose throttle lets two requests a second through (flushes pass at
    // once), so the pause lasts while the writes queued there drain. The new one serves a copy of
    // the image (a second daemon cannot lock the same file for writing) and fails every flush, so a
    // write that arrives there as FUA (written, then flushed: virtio-blk has no FUA bit) fails with
    // EIO and a plain write does not.
    const oldDaemon = await StorageDaemon.start({ image, dir: tempDir('blkio-switch-old-') });
    daemons.push(oldDaemon);
    const copy = path.join(dir, 'copy.raw');
    fs.copyFileSync(image, copy);
    const newDaemon = await Qsd.start({
      image: copy, dir: tempDir('blkio-switch-new-'), blkdebug: 'inject-error.0.event=flush_to_disk,inject-error.0.errno=5',
    });
    daemons.push(newDaemon);
    dev = await open({ driver: 'virtio-blk-vhost-user', path: oldDaemon.socket });
    await oldDaemon.qmp.execute('qom-set', { path: 'tg0', property: 'limits', value: { 'iops-total': 2 } });

    const slow = [0, 1, 2, 3, 4, 5].map((i) => dev!.write(new Uint8Array(BLOCK).fill(i), 0, BLOCK, i * BLOCK));
    let drained = 0;
    for (const w of slow) void w.then(() => drained++, () => drained++);
    const switching = dev.switchTo({ driver: 'virtio-blk-vhost-user', path: newDaemon.socket });
    // Once the new backend is connected, its memory mapped and the old one flushed, requests are held.
    await until('the switch to connect to the new backend', () => connectionsTo(newDaemon.socket) > 0, { timeoutMs: 20000, intervalMs: 2 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const issuedAt = performance.now();
    assert.ok(drained < slow.length, 'the old backend drained before the writes were issued: the pause was missed');
    const fua = dev.write(new Uint8Array(BLOCK).fill(0xf0), 0, BLOCK, 16 * BLOCK, { fua: true });
    const plain = dev.write(new Uint8Array(BLOCK).fill(0x0f), 0, BLOCK, 17 * BLOCK);
    fua.catch(() => undefined);
    const report = await switching;
    // The pause began no later than the switch's end minus its length: the writes were issued within it.
    assert.ok(issuedAt >= performance.now() - report.pauseMs, `issued ${performance.now() - issuedAt} ms before the end of a ${report.pauseMs} ms pause`);
    await Promise.all(slow);
    await assert.rejects(fua, (e: unknown) => e instanceof BlkioError && e.code === 'EIO');
    await plain;
    assert.equal(dev.blkio.getStr('path'), newDaemon.socket);
  });

  it('a write acknowledged before a completed flush() is on the image after a switch to the daemon, read from outside', async () => {
    const daemon = await Qsd.start({ image, dir: tempDir('blkio-switch-qsd-') });
    daemons.push(daemon);
    dev = await open({ driver: 'io_uring', path: image });
    const data = new Uint8Array(BLOCK).fill(0x3c);
    await dev.write(data, 0, BLOCK, 5 * BLOCK);
    await dev.flush();
    await dev.switchTo({ driver: 'virtio-blk-vhost-user', path: daemon.socket });
    // The daemon now serves the image; it dies without a chance to write anything back.
    await dev.write(new Uint8Array(BLOCK).fill(0x77), 0, BLOCK, 6 * BLOCK);
    await daemon.kill('SIGKILL');
    assert.deepEqual(new Uint8Array(fs.readFileSync(image).subarray(5 * BLOCK, 6 * BLOCK)), data);
  });

  it('a write and flush() issued during the switch are on the image afterwards, read from outside', async () => {
    const daemon = await Qsd.start({ image, dir: tempDir('blkio-switch-qsd-') });
    daemons.push(daemon);
    dev = await open({ driver: 'io_uring', path: image });
    const switching = dev.switchTo({ driver: 'virtio-blk-vhost-user', path: daemon.socket });
    const data = new Uint8Array(BLOCK).fill(0xc3);
    const written = dev.write(data, 0, BLOCK, 9 * BLOCK).then(() => dev!.flush());
    await switching;
    await written;
    await daemon.kill('SIGKILL');
    assert.deepEqual(new Uint8Array(fs.readFileSync(image).subarray(9 * BLOCK, 10 * BLOCK)), data);
  });
});
