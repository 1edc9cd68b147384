// Device.switchTo between io_uring on a raw file and vhost-user to a real
// qemu-storage-daemon exporting the same file, with a writer at queue depth
// 32 running; the image is checked from outside afterwards.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BlkioError, Device, open, OpenOptions, SwitchReport } from '../../../src/lib';
import { tempDir } from '../../support/files';
import { useExportedImage } from '../../support/exported-image';
import { createRawImage } from '../../support/qsd';
import { VerifyingWriter } from '../../support/verifying-writer';

const SIZE = 16 << 20;
const BLOCK = 4096;

// Resolves once the writer acknowledged `count` more writes.
async function progress(writer: VerifyingWriter, count: number): Promise<void> {
  const target = writer.writes + count;
  while (writer.writes < target) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('Switching between io_uring and vhost-user with writes running', function () {
  this.timeout(120000);
  const t = useExportedImage(SIZE);

  const fast = (): OpenOptions => ({ driver: 'io_uring', path: t.image });
  const slow = (): OpenOptions => ({ driver: 'virtio-blk-vhost-user', path: t.qsd.socket });

  it('loses no acknowledged write across ten switches at queue depth 32', async () => {
    const dev = (t.dev = await open(fast()));
    const writer = new VerifyingWriter(dev, { blocks: 1024, blockSize: BLOCK, depth: 32, flushEvery: 64 });
    const reports: SwitchReport[] = [];
    for (let i = 0; i < 10; i++) {
      await progress(writer, 100);
      reports.push(await dev.switchTo(i % 2 === 0 ? slow() : fast()));
    }
    await progress(writer, 100);
    const result = await writer.stop();
    assert.equal(result.error, undefined, `a request failed: ${String(result.error)}`);
    await dev.close();
    t.dev = undefined;
    writer.check(fs.readFileSync(t.image));
    assert.ok(result.reads > 0);
  });

  it('reports the backends it switched between and the pause', async () => {
    const dev = (t.dev = await open(fast()));
    const writer = new VerifyingWriter(dev, { blocks: 256, blockSize: BLOCK, depth: 32 });
    await progress(writer, 50);
    const there = await dev.switchTo(slow());
    await progress(writer, 50);
    const back = await dev.switchTo(fast());
    assert.equal((await writer.stop()).error, undefined);
    assert.equal(there.from, `io_uring:${t.image}`);
    assert.equal(there.to, `virtio-blk-vhost-user:${t.qsd.socket}`);
    assert.deepEqual([back.from, back.to], [there.to, there.from]);
    for (const r of [there, back]) {
      assert.ok(Number.isFinite(r.pauseMs) && r.pauseMs >= 0, `pauseMs ${r.pauseMs}`);
      assert.ok(Number.isInteger(r.inflightMoved) && r.inflightMoved >= 0);
    }
  });

  it('runs requests issued during the switch on the new backend', async () => {
    const dev = (t.dev = await open(fast()));
    const switching = dev.switchTo(slow());
    const data = new Uint8Array(BLOCK).fill(0x5a);
    const written = dev.write(data, 0, BLOCK, 0);
    await switching;
    await written;
    assert.equal(dev.blkio.getStr('driver'), 'virtio-blk-vhost-user');
    assert.deepEqual((await dev.read(new Uint8Array(BLOCK), 0, BLOCK, 0)).buffer, data);
  });

  it('keeps writes that a flush acknowledged on the old backend', async () => {
    const dev = (t.dev = await open(slow()));
    const data = new Uint8Array(BLOCK).fill(0xa5);
    await dev.write(data, 0, BLOCK, BLOCK);
    await dev.flush();
    await dev.switchTo(fast());
    // The daemon is gone: only the t.image can hold the write now.
    await t.qsd.stop();
    assert.deepEqual((await dev.read(new Uint8Array(BLOCK), 0, BLOCK, BLOCK)).buffer, data);
    assert.deepEqual(new Uint8Array(fs.readFileSync(t.image).subarray(BLOCK, 2 * BLOCK)), data);
  });

  it('gives up a switch whose old backend does not complete in time, and stays on it', async () => {
    const dev = (t.dev = await open(slow()));
    await t.qsd.kill('SIGSTOP');
    const data = new Uint8Array(BLOCK).fill(0x99);
    const stalled = dev.write(data, 0, BLOCK, 3 * BLOCK);
    try {
      await assert.rejects(dev.switchTo(fast(), { drainTimeoutMs: 300 }), (e: unknown) => {
        assert.ok(e instanceof BlkioError && e.code === 'ETIME', String(e));
        assert.match(e.message, /did not complete/);
        return true;
      });
    } finally {
      await t.qsd.kill('SIGCONT');
    }
    await stalled;
    assert.equal(dev.blkio.getStr('driver'), 'virtio-blk-vhost-user');
    assert.deepEqual((await dev.read(new Uint8Array(BLOCK), 0, BLOCK, 3 * BLOCK)).buffer, data);
  });
});

describe('Switching between two io_uring backends', function () {
  this.timeout(60000);
  let dir: string;
  let image: string;
  let dev: Device | undefined;

  beforeEach(() => {
    dir = tempDir('blkio-switch-');
    image = createRawImage(path.join(dir, 'disk.raw'), SIZE);
  });
  afterEach(async () => {
    await dev?.close();
    dev = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('moves requests that never reached the old ring to the new one', async () => {
    // A 4-entry ring: at depth 32 most requests wait in the queue.
    const small: OpenOptions = { driver: 'io_uring', path: image, properties: { 'num-entries': 4 } };
    dev = await open(small);
    const writer = new VerifyingWriter(dev, { blocks: 512, blockSize: BLOCK, depth: 32 });
    let moved = 0;
    for (let i = 0; i < 6; i++) {
      await progress(writer, 50);
      moved += (await dev.switchTo(small)).inflightMoved;
    }
    const result = await writer.stop();
    assert.equal(result.error, undefined, `a request failed: ${String(result.error)}`);
    assert.ok(moved > 0, 'no request was moved');
    await dev.close();
    dev = undefined;
    writer.check(fs.readFileSync(image));
  });
});
