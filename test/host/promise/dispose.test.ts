// `await using` closes a Device and `using` destroys a Blkio. This file is
// compiled by TypeScript to ES2022, which has no `using`: it runs the
// compiler's downlevel output (checked below), as Node 20 users get it.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { BlkioError, create, Device, open } from '../../../src/lib';
import { randomFile, readFileRange, tempDir } from '../../support/files';
import { Qsd } from '../../support/qsd';

const isEnodev = (e: unknown) => e instanceof BlkioError && e.code === 'ENODEV';

describe('Explicit resource management', function () {
  this.timeout(30_000);
  let dir: string;
  let file: string;
  before(() => {
    dir = tempDir('blkio-dispose-');
    file = randomFile(4 << 20, dir);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('this suite runs TypeScript\'s downlevel output of using declarations', () => {
    const compiled = fs.readFileSync(__filename, 'utf8');
    assert.match(compiled, /__addDisposableResource/);
    assert.match(compiled, /__disposeResources/);
  });

  it('await using closes the Device at the end of the block, after its requests in flight complete', async () => {
    let kept: Device;
    const buffers = Array.from({ length: 16 }, () => Buffer.alloc(64 * 1024));
    let reads: Promise<unknown>[];
    {
      await using dev = await open({ driver: 'io_uring', path: file });
      kept = dev;
      reads = buffers.map((b, i) => dev.read(b, 0, b.length, i * b.length));
    }
    // The block's end awaited close(), which waited for these.
    for (const r of await Promise.allSettled(reads)) assert.equal(r.status, 'fulfilled');
    buffers.forEach((b, i) => assert.ok(b.equals(readFileRange(file, i * b.length, b.length))));
    await assert.rejects(kept.read(Buffer.alloc(4096), 0, 4096, 0), isEnodev);
  });

  it('await using closes the Device when the block throws', async () => {
    let kept: Device | undefined;
    await assert.rejects(async () => {
      await using dev = await open({ driver: 'io_uring', path: file });
      kept = dev;
      throw new Error('inside the block');
    }, /inside the block/);
    await assert.rejects(kept!.read(Buffer.alloc(4096), 0, 4096, 0), isEnodev);
  });

  it('await using closes a vhost-user Device with requests in flight', async () => {
    const qsd = await Qsd.start();
    try {
      let kept: Device;
      let reads: Promise<unknown>[];
      {
        await using dev = await open({ driver: 'virtio-blk-vhost-user', path: qsd.socket });
        kept = dev;
        reads = Array.from({ length: 16 }, (_, i) => dev.read(Buffer.alloc(4096), 0, 4096, i * 4096));
      }
      for (const r of await Promise.allSettled(reads)) assert.equal(r.status, 'fulfilled');
      await assert.rejects(kept.read(Buffer.alloc(4096), 0, 4096, 0), isEnodev);
    } finally {
      await qsd.dispose();
    }
  });

  it('using destroys the Blkio at the end of the block', () => {
    let kept: ReturnType<typeof create>;
    {
      using b = create('io_uring');
      kept = b;
      b.setStr('path', file);
      b.connect();
      assert.equal(b.getUint64('capacity'), 4n << 20n);
    }
    assert.throws(() => kept.getUint64('capacity'), isEnodev);
  });
});
