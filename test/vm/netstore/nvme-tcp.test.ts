// NVMe over TCP in the test guest: the kernel's nvmet target exports a
// file-backed namespace on 127.0.0.1, the nvme-tcp initiator connects to it,
// and the library reads and writes the new namespace with nvme-io_uring on
// /dev/ngXnY and io_uring on /dev/nvmeXnY. Data is checked in the backing
// file. Then blkbench compare runs one job on a local file, an NBD export
// (nbdkit, qemu-storage-daemon over vhost-user) and the NVMe/TCP namespace.
// Guest only.
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BlkioError, Device, open } from '../../../src/lib';
import { checkBlock } from '../../../src/blkbench/verify';
import { assertCompareReport, blkbench } from '../../support/blkbench';
import { readFileRange, tempDir } from '../../support/files';
import { NbdChain } from '../../support/nbd';
import { NvmeTcpConnection, NvmetTcpTarget, NVME_TCP_MODEL } from '../../support/nvme-tcp';

const MiB = 1 << 20;
const SIZE = 16 * MiB;

const run = (args: string[]) => blkbench(args, { timeoutMs: 240_000 });

interface JobDoc {
  error: number;
  verified_blocks: number;
  read: { total_ios: number };
  write: { total_ios: number };
}

function jobOf(stdout: string): JobDoc {
  return (JSON.parse(stdout) as { jobs: JobDoc[] }).jobs[0];
}

/** Checks every 4 KiB block of [0, length) of a file with blkbench's verify (no blkbench run: TCG is slow). */
function verifyFile(file: string, length: number): number {
  // A plain Uint8Array: checkBlock's slice() must copy, which a Buffer's does not.
  const data = new Uint8Array(readFileRange(file, 0, length));
  let checked = 0;
  for (let at = 0; at < length; at += 4096) {
    const failure = checkBlock(data.subarray(at, at + 4096), at, 'crc32c');
    assert.equal(failure, null, failure?.message);
    checked++;
  }
  return checked;
}

if (process.env.BLKIO_IN_VM === '1') {
  describe('NVMe/TCP: nvmet on 127.0.0.1, the nvme-tcp initiator, the library on its namespace', function () {
    this.timeout(240000);
    let dir: string;
    let backing: string;
    let target: NvmetTcpTarget | undefined;
    let conn: NvmeTcpConnection | undefined;
    let d: Device | undefined;

    before(() => {
      dir = tempDir('blkio-nvme-tcp-');
      backing = path.join(dir, 'namespace.raw');
      fs.writeFileSync(backing, crypto.randomBytes(SIZE));
      target = NvmetTcpTarget.create({ backingFile: backing });
      conn = NvmeTcpConnection.connect(target);
    });
    afterEach(async () => {
      await d?.close();
      d = undefined;
    });
    after(() => {
      // The last test disconnects and tears down; this is for a run that stopped before it.
      conn?.disconnect();
      target?.teardown();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    const ns = () => conn!.namespace;

    // The file backend gives the namespace the file system's block size: 4 KiB LBAs on tmpfs.
    it('finds the namespace by its subsystem NQN: a tcp controller with our model and the file\'s size', () => {
      assert.equal(conn!.transport, 'tcp');
      assert.equal(conn!.model, NVME_TCP_MODEL);
      assert.equal(ns().capacity, SIZE);
      assert.match(ns().charDevice, /^\/dev\/ng\d+n1$/);
    });

    it('nvme-io_uring on /dev/ngXnY reads the backing file\'s bytes', async () => {
      d = await open({ driver: 'nvme-io_uring', path: ns().charDevice });
      assert.equal(d.capacity, BigInt(SIZE));
      for (const offset of [0, 4096, 7 * MiB + 12288, SIZE - 65536]) {
        assert.deepEqual((await d.read({ buffer: Buffer.alloc(65536), position: offset })).buffer, readFileRange(backing, offset, 65536), `at ${offset}`);
      }
    });

    it('nvme-io_uring writes land in the backing file', async () => {
      d = await open({ driver: 'nvme-io_uring', path: ns().charDevice });
      const data = crypto.randomBytes(65536);
      await d.write(data, { position: 2 * MiB + 4096 });
      await d.flush();
      assert.ok(readFileRange(backing, 2 * MiB + 4096, 65536).equals(data), 'the written bytes are not in the file');
    });

    // nvmet's file backend zeroes with fallocate(FALLOC_FL_ZERO_RANGE), which tmpfs lacks:
    // the target fails the command, and the failure must reach the caller.
    it('a Write Zeroes the target fails (file on tmpfs) rejects with EIO and leaves the data', async () => {
      d = await open({ driver: 'nvme-io_uring', path: ns().charDevice });
      const before = readFileRange(backing, 3 * MiB, 32768);
      await assert.rejects(d.writeZeroes(3 * MiB, 32768), (e: unknown) => {
        assert.ok(e instanceof BlkioError, String(e));
        assert.equal(e.code, 'EIO', e.message);
        return true;
      });
      assert.ok(readFileRange(backing, 3 * MiB, 32768).equals(before));
    });

    it('io_uring with O_DIRECT on /dev/nvmeXnY writes into and reads from the backing file', async () => {
      d = await open({ driver: 'io_uring', path: ns().blockDevice, direct: true });
      const data = crypto.randomBytes(32768);
      await d.write(data, { position: 5 * MiB });
      await d.flush();
      assert.ok(readFileRange(backing, 5 * MiB, 32768).equals(data), 'the written bytes are not in the file');
      assert.deepEqual((await d.read({ buffer: Buffer.alloc(16384), position: 9 * MiB })).buffer, readFileRange(backing, 9 * MiB, 16384));
    });

    for (const [engine, device] of [['nvme-io_uring', () => ns().charDevice], ['io_uring', () => ns().blockDevice]] as const) {
      it(`blkbench checks every block of a crc32c verify job with ${engine}, and the backing file verifies from outside`, () => {
        const r = run(['--name=tcp', `--ioengine=${engine}`, `--filename=${device()}`, '--rw=randwrite', '--iodepth=8', '--direct=1',
          '--bs=4k', '--size=2m', '--verify=crc32c', '--output-format=json']);
        assert.equal(r.code, 0, r.stderr);
        const j = jobOf(r.stdout);
        assert.equal(j.error, 0);
        assert.equal(j.write.total_ios, 512);
        assert.equal(j.verified_blocks, 512);
        assert.equal(verifyFile(backing, 2 * MiB), 512);
      });
    }

    it('blkbench compare runs one job on a local file, NBD and NVMe/TCP in one run, with the chart', async () => {
      const local = path.join(dir, 'local.raw');
      fs.writeFileSync(local, crypto.randomBytes(SIZE));
      const chain = await NbdChain.start({ server: 'nbdkit', size: SIZE, dir: tempDir('blkio-nbd-guest-') });
      try {
        const plot = path.join(dir, 'compare.svg');
        const r = run(['compare', '--rw=randread', '--bs=4k', '--iodepth=8', '--runtime=500ms', '--time_based', '--invalidate=0',
          `--target=file@io_uring:${local}`, `--target=nbd@virtio-blk-vhost-user:${chain.socket}`,
          `--target=nvme-tcp@nvme-io_uring:${ns().charDevice}`, `--plot=${plot}`, '--output-format=json']);
        assert.equal(r.code, 0, r.stderr);
        assertCompareReport(r.stdout, ['file', 'nbd', 'nvme-tcp'], plot);
      } finally {
        await chain.dispose();
        fs.rmSync(chain.dir, { recursive: true, force: true });
      }
    });

    it('disconnecting removes the controller and its devices, and the target tears down', () => {
      const { charDevice, blockDevice } = ns();
      conn!.disconnect();
      assert.ok(!fs.existsSync(charDevice), `${charDevice} is still there`);
      assert.ok(!fs.existsSync(blockDevice), `${blockDevice} is still there`);
      target!.teardown();
      assert.equal(target!.exists, false);
      conn = undefined;
      target = undefined;
    });
  });
}
