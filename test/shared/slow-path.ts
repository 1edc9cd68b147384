// Storage features through qemu-storage-daemon on demand: backup, throttling
// and snapshot + commit while a writer runs at queue depth 32, starting and
// ending on the fast path (io_uring on the raw image). The host and the guest
// run the same suite.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BlkioError, Device, open, SlowPath } from '../../src/lib';
import { tempDir } from '../support/files';
import { createRawImage, imagesEqual } from '../support/qsd';
import { VerifyingWriter } from '../support/verifying-writer';

const SIZE = 16 << 20;
const BLOCK = 4096;
const BLOCKS = 1024;

async function progress(writer: VerifyingWriter, count: number): Promise<void> {
  const target = writer.writes + count;
  while (writer.writes < target) await new Promise((resolve) => setTimeout(resolve, 5));
}

// The generation stamped in block i of an image (0: never written by the writer).
function generationOf(image: Buffer, i: number): number {
  const index = image.readUInt32BE(i * BLOCK);
  return index === i ? image.readUInt32BE(i * BLOCK + 4) : 0;
}

export function describeSlowPath(title: string, timeoutMs: number): void {
  describe(title, function () {
    this.timeout(timeoutMs);
    let dir: string;
    let image: string;
    let dev: Device;
    let slow: SlowPath;
    let writer: VerifyingWriter | null;

    beforeEach(async () => {
      dir = tempDir('blkio-slow-path-');
      image = createRawImage(path.join(dir, 'disk.raw'), SIZE, false);
      dev = await open({ driver: 'io_uring', path: image });
      slow = new SlowPath(dev, { image, dir });
      writer = new VerifyingWriter(dev, { blocks: BLOCKS, blockSize: BLOCK, depth: 32, flushEvery: 64 });
      await progress(writer, 100);
    });
    afterEach(async () => {
      if (writer) await writer.stop();
      await dev.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    // Stops the writer, checks it saw no error and that the image holds every acknowledged write.
    async function finish(): Promise<void> {
      const w = writer!;
      writer = null;
      const result = await w.stop();
      assert.equal(result.error, undefined, `a request failed: ${String(result.error)}`);
      assert.equal(dev.blkio.getStr('driver'), 'io_uring', 'the device did not end on the fast path');
      assert.equal(slow.daemon, null, 'the daemon still runs');
      await dev.close();
      w.check(fs.readFileSync(image));
    }

    it('takes a live backup while writes run, every block a version the writer acknowledged', async () => {
      const before = new Map(writer!.expected);
      const target = path.join(dir, 'backup.raw');
      const report = await slow.backup(target);
      const after = new Map(writer!.expected);
      assert.equal(report.toSlow?.to.startsWith('virtio-blk-vhost-user:'), true);
      assert.equal(report.toFast?.to, `io_uring:${image}`);
      const backup = fs.readFileSync(target);
      for (let i = 0; i < BLOCKS; i++) {
        const g = generationOf(backup, i);
        const low = before.get(i) ?? 0;
        // A whole block the writer wrote: not older than what was acknowledged
        // before the backup was asked for, not newer than the last write.
        const high = after.get(i) ?? 0;
        assert.ok(g >= low && g <= high, `block ${i}: backup has generation ${g}, acknowledged ${low} before and ${high} after`);
      }
      await finish();
    });

    it('takes a backup equal to the image (qemu-img compare) once writes stopped', async () => {
      const w = writer!;
      writer = null;
      assert.equal((await w.stop()).error, undefined);
      const target = path.join(dir, 'backup.raw');
      await slow.backup(target);
      assert.equal(dev.blkio.getStr('driver'), 'io_uring');
      await dev.close();
      assert.ok(imagesEqual(image, 'raw', target, 'raw'), 'qemu-img compare: backup differs from the image');
    });

    it('throttles through the daemon until lifted, then returns to the fast path', async () => {
      const { report, lift } = await slow.throttle({ 'iops-total': 500 });
      assert.equal(dev.blkio.getStr('driver'), 'virtio-blk-vhost-user');
      assert.ok(report.toSlow);
      const limits = (await slow.daemon!.qmp.execute('qom-get', { path: 'tg0', property: 'limits' })) as Record<string, number>;
      assert.equal(limits['iops-total'], 500);
      await progress(writer!, 50);
      const back = await lift();
      assert.equal(back.to, `io_uring:${image}`);
      await progress(writer!, 100);
      await finish();
    });

    it('keeps the image unchanged under a snapshot and merges the overlay back on commit', async () => {
      const overlay = path.join(dir, 'overlay.qcow2');
      await slow.snapshot(overlay);
      const info = JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', overlay], { encoding: 'utf8' }));
      assert.equal(info.format, 'qcow2');
      assert.equal(info['backing-filename'], image);
      // Once the writes in flight at the snapshot are done, the image stays as it is.
      await progress(writer!, 64);
      const frozen = fs.readFileSync(image);
      const acknowledged = writer!.writes;
      await progress(writer!, 300);
      assert.ok(writer!.writes > acknowledged);
      assert.ok(Buffer.compare(fs.readFileSync(image), frozen) === 0, 'the image changed under the snapshot');
      assert.equal(dev.blkio.getStr('driver'), 'virtio-blk-vhost-user', 'left the slow path while the overlay is in use');
      await assert.rejects(slow.backup(path.join(dir, 'b.raw')), (e: unknown) => e instanceof BlkioError && e.code === 'EBUSY');
      const report = await slow.commit();
      assert.equal(report.toFast?.to, `io_uring:${image}`);
      await progress(writer!, 100);
      await finish();
    });
  });
}
