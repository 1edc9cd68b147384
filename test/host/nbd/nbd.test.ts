// The library on an NBD export: qemu-nbd or nbdkit serves a raw image over TCP
// on 127.0.0.1, qemu-storage-daemon's nbd driver reaches it and exports it over
// vhost-user. Data is checked from outside, in the image file behind the server.
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BlkioError, Device, open } from '../../../src/lib';
import { assertCompareReport, blkbench } from '../../support/blkbench';
import { readFileRange, tempDir } from '../../support/files';
import { NbdChain, NbdServerKind } from '../../support/nbd';
import { Qsd } from '../../support/qsd';

const DRIVER = 'virtio-blk-vhost-user';
const MiB = 1 << 20;

const run = (args: string[]) => blkbench(args, { timeoutMs: 120_000 });

interface JobDoc {
  error: number;
  verified_blocks: number;
  read: { total_ios: number };
  write: { total_ios: number };
}

for (const server of ['qemu-nbd', 'nbdkit'] as NbdServerKind[]) describe(`NBD export of ${server} through qemu-storage-daemon (virtio-blk-vhost-user)`, function () {
  this.timeout(120000);
  let chain: NbdChain;
  let d: Device | undefined;

  beforeEach(async () => {
    chain = await NbdChain.start({ server, size: 16 * MiB });
  });
  afterEach(async () => {
    await d?.close().catch(() => undefined);
    d = undefined;
    await chain.dispose();
  });

  const connect = async (): Promise<Device> => (d = await open({ driver: DRIVER, path: chain.socket }));

  it('capacity is the size of the image behind the server', async () => {
    const dev = await connect();
    assert.equal(dev.capacity, BigInt(16 * MiB));
  });

  it('reads return the image file\'s bytes', async () => {
    const dev = await connect();
    for (const offset of [0, 4096, 5 * MiB + 512, 16 * MiB - 65536]) {
      assert.deepEqual((await dev.read({ buffer: Buffer.alloc(65536), position: offset })).buffer, readFileRange(chain.image, offset, 65536), `at ${offset}`);
    }
  });

  it('writes land in the image file behind the server, and nowhere else', async () => {
    const before = fs.readFileSync(chain.image);
    const dev = await connect();
    const writes = [0, 12288, 3 * MiB + 512, 16 * MiB - 8192].map((offset) => ({ offset, data: crypto.randomBytes(8192) }));
    for (const w of writes) await dev.write(w.data, { position: w.offset });
    await dev.flush();
    const expected = Buffer.from(before);
    for (const w of writes) w.data.copy(expected, w.offset);
    assert.ok(fs.readFileSync(chain.image).equals(expected), 'the image differs from what was written');
  });

  it('write zeroes reach the image file as zeros', async () => {
    const dev = await connect();
    await dev.writeZeroes(MiB, 256 * 1024);
    assert.ok(readFileRange(chain.image, MiB, 256 * 1024).equals(Buffer.alloc(256 * 1024)));
    assert.ok(!readFileRange(chain.image, MiB + 256 * 1024, 4096).equals(Buffer.alloc(4096)), 'the zeroes went beyond the range');
  });

  it('a request after the NBD server went away fails with EIO instead of hanging', async () => {
    const dev = await connect();
    await dev.read({ buffer: Buffer.alloc(4096), position: 0 });
    await chain.nbd.kill('SIGKILL');
    await assert.rejects(dev.read({ buffer: Buffer.alloc(4096), position: 4096 }), (e: unknown) => {
      assert.ok(e instanceof BlkioError, String(e));
      assert.equal(e.code, 'EIO', e.message);
      return true;
    });
  });

  it('blkbench checks every block of a crc32c verify job, and the image verifies from outside', () => {
    const job = ['--bs=4k', '--size=4m', '--verify=crc32c', '--output-format=json'];
    let r = run(['--name=nbd', `--ioengine=${DRIVER}`, `--filename=${chain.socket}`, '--rw=randwrite', '--iodepth=8', ...job]);
    assert.equal(r.code, 0, r.stderr);
    let jobDoc = (JSON.parse(r.stdout) as { jobs: JobDoc[] }).jobs[0];
    assert.equal(jobDoc.error, 0);
    assert.equal(jobDoc.write.total_ios, 1024);
    assert.equal(jobDoc.verified_blocks, 1024);
    // The same blocks, read from the file behind the server by another engine.
    r = run(['--name=outside', '--ioengine=io_uring', `--filename=${chain.image}`, '--rw=read', '--invalidate=0', ...job]);
    assert.equal(r.code, 0, r.stderr);
    jobDoc = (JSON.parse(r.stdout) as { jobs: JobDoc[] }).jobs[0];
    assert.equal(jobDoc.read.total_ios, 1024);
    assert.equal(jobDoc.verified_blocks, 1024);
  });
});

describe('blkbench compare: local file, local qemu-storage-daemon and NBD', function () {
  this.timeout(180000);

  it('runs one job on the three targets in one run, with a table and a chart of every series', async () => {
    const dir = tempDir('blkio-nbd-compare-');
    const file = path.join(dir, 'local.raw');
    fs.writeFileSync(file, crypto.randomBytes(16 * MiB));
    const local = await Qsd.start({ image: file, dir });
    const chain = await NbdChain.start({ server: 'nbdkit', size: 16 * MiB });
    try {
      const plot = path.join(dir, 'compare.svg');
      const r = run(['compare', '--rw=randread', '--bs=4k', '--iodepth=8', '--runtime=300ms', '--time_based', '--invalidate=0',
        `--target=file@io_uring:${file}`, `--target=qsd@${DRIVER}:${local.socket}`, `--target=nbd@${DRIVER}:${chain.socket}`,
        `--plot=${plot}`, '--output-format=json']);
      assert.equal(r.code, 0, r.stderr);
      assertCompareReport(r.stdout, ['file', 'qsd', 'nbd'], plot);
    } finally {
      await chain.dispose();
      await local.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
