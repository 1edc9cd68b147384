// The library on a Ceph RBD image: a one-node cluster (mon, mgr, one BlueStore
// OSD on a file) started here, qemu-storage-daemon's rbd driver exporting the
// image over vhost-user. Data is checked from outside with Ceph's own client
// (rbd export).
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Device, open } from '../../../src/lib';
import { CephCluster } from '../../support/ceph';
import { tempDir } from '../../support/files';
import { BLKBENCH_CLI } from '../../support/paths';
import { Qsd } from '../../support/qsd';

const DRIVER = 'virtio-blk-vhost-user';
const MiB = 1 << 20;
const SIZE = 16 * MiB;

interface JobDoc {
  error: number;
  verified_blocks: number;
  read: { total_ios: number };
  write: { total_ios: number };
}

function blkbenchJob(args: string[]): JobDoc {
  const r = spawnSync(process.execPath, [BLKBENCH_CLI, ...args, '--output-format=json'], { encoding: 'utf8', timeout: 120000 });
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as { jobs: JobDoc[] }).jobs[0];
}

describe('Ceph RBD image through qemu-storage-daemon (virtio-blk-vhost-user)', function () {
  this.timeout(240000);
  let ceph: CephCluster;
  let dir: string;
  let seed: Buffer;
  let qsd: Qsd;
  let d: Device | undefined;
  let n = 0;
  let image: string;

  before(async () => {
    ceph = await CephCluster.start();
    dir = tempDir('blkio-rbd-');
  });
  after(async () => {
    await ceph?.dispose();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    image = `disk${n++}`;
    seed = crypto.randomBytes(SIZE);
    const seedFile = path.join(dir, 'seed.raw');
    fs.writeFileSync(seedFile, seed);
    const source = await ceph.createImage(image, SIZE, seedFile);
    qsd = await Qsd.start({ rbd: source, size: SIZE, dir });
  });
  afterEach(async () => {
    await d?.close().catch(() => undefined);
    d = undefined;
    await qsd.dispose();
    await ceph.removeImage(image);
  });

  const connect = async (): Promise<Device> => (d = await open({ driver: DRIVER, path: qsd.socket }));
  const exported = () => ceph.exportImage(image, path.join(dir, 'export.raw'));

  it('capacity is the image size and reads return the image\'s bytes', async () => {
    const dev = await connect();
    assert.equal(dev.capacity, BigInt(SIZE));
    for (const offset of [0, 4 * MiB - 4096, 9 * MiB + 512, SIZE - 65536]) {
      assert.deepEqual(Buffer.from(await dev.read(offset, 65536)), seed.subarray(offset, offset + 65536), `at ${offset}`);
    }
  });

  it('writes and write zeroes reach the image as Ceph\'s own client reads it', async () => {
    const dev = await connect();
    const data = crypto.randomBytes(65536);
    // Across the boundary of two 4 MiB RADOS objects.
    await dev.write(4 * MiB - 32768, data);
    await dev.writeZeroes(10 * MiB, 131072);
    await dev.flush();
    await dev.close();
    d = undefined;
    await qsd.stop(); // releases the image's exclusive lock for rbd export
    const expected = Buffer.from(seed);
    data.copy(expected, 4 * MiB - 32768);
    expected.fill(0, 10 * MiB, 10 * MiB + 131072);
    assert.ok((await exported()).equals(expected), 'rbd export differs from what was written');
  });

  it('blkbench checks every block of a crc32c verify job, and the exported image verifies from outside', async () => {
    const job = ['--bs=4k', '--size=4m', '--verify=crc32c'];
    let j = blkbenchJob(['--name=rbd', `--ioengine=${DRIVER}`, `--filename=${qsd.socket}`, '--rw=randwrite', '--iodepth=8', ...job]);
    assert.equal(j.error, 0);
    assert.equal(j.write.total_ios, 1024);
    assert.equal(j.verified_blocks, 1024);
    await qsd.stop();
    const file = path.join(dir, 'export.raw');
    await exported();
    j = blkbenchJob(['--name=outside', '--ioengine=io_uring', `--filename=${file}`, '--rw=read', '--invalidate=0', ...job]);
    assert.equal(j.read.total_ios, 1024);
    assert.equal(j.verified_blocks, 1024);
  });
});
