// QEMU's blkio block driver (block/blkio.c) as a client of this project's
// libblkio.so.1: qemu-io and qemu-img built by build-qemu.sh (cached), run on
// the library as built in this checkout, against a file (io_uring) and a
// qemu-storage-daemon export (virtio-blk-vhost-user). Data is checked outside
// QEMU's blkio path: in the file itself and with Debian's qemu-img compare.
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readFileRange, tempDir } from '../../support/files';
import { BUILD_DIR } from '../../support/paths';
import { buildQemu, describeRun, imageOpts, parseHexDump, qemuIo, resolvedLibblkio, runTool } from '../../support/qemu-blkio';
import { createRawImage, imagesEqual, Qsd } from '../../support/qsd';

const KiB = 1024;
const MiB = 1024 * KiB;

function ok(r: ReturnType<typeof qemuIo>, what: string): void {
  assert.equal(r.status, 0, `${what}: ${describeRun(r)}`);
  assert.doesNotMatch(r.stdout + r.stderr, /failed|error/i, `${what}: ${describeRun(r)}`);
}

describe('QEMU blkio block driver on libblkio.so.1', function () {
  // The first run builds QEMU's tools (about 70 s on 2 cores).
  this.timeout(30 * 60_000);
  let bin: string;
  let dir: string;

  before(async function () {
    bin = await buildQemu();
    dir = tempDir('blkio-qemu-');
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('the build', () => {
    it('qemu-io loads libblkio.so.1 from this checkout\'s build', () => {
      assert.equal(resolvedLibblkio(bin), path.join(BUILD_DIR, 'libblkio.so.1'));
    });

    it('qemu-img lists the five libblkio drivers as formats', () => {
      const r = runTool(bin, 'qemu-img', ['--help']);
      const formats = /Supported formats:(.*)/.exec(r.stdout)?.[1].trim().split(/\s+/) ?? [];
      for (const driver of ['io_uring', 'nvme-io_uring', 'virtio-blk-vfio-pci', 'virtio-blk-vhost-user', 'virtio-blk-vhost-vdpa']) {
        assert.ok(formats.includes(driver), `${driver} missing from: ${formats.join(' ')}`);
      }
    });
  });

  describe('io_uring on a file', () => {
    let file: string;
    let original: Buffer;
    beforeEach(() => {
      file = createRawImage(path.join(dir, `disk-${crypto.randomUUID()}.raw`), 4 * MiB);
      original = fs.readFileSync(file);
    });
    const opts = (extra: Record<string, string> = {}) => ({ driver: 'io_uring', filename: file, ...extra });

    it('a pattern written is read back and lands in the file, neighbours untouched', () => {
      ok(qemuIo(bin, opts(), ['write -P 0x5a 64k 64k', 'read -P 0x5a 64k 64k', 'flush']), 'qemu-io');
      const expected = Buffer.from(original);
      expected.fill(0x5a, 64 * KiB, 128 * KiB);
      assert.ok(fs.readFileSync(file).equals(expected));
    });

    it('reads what the file holds (hex dump of read -v)', () => {
      const r = qemuIo(bin, opts(), ['read -v 1m 512']);
      ok(r, 'qemu-io');
      assert.deepEqual(parseHexDump(r.stdout), original.subarray(MiB, MiB + 512));
    });

    it('with cache.direct=on (O_DIRECT) too', () => {
      ok(qemuIo(bin, opts({ 'cache.direct': 'on' }), ['write -P 0xa5 0 1m', 'read -P 0xa5 0 1m']), 'qemu-io');
      assert.ok(readFileRange(file, 0, MiB).equals(Buffer.alloc(MiB, 0xa5)));
    });

    it('write -z (write zeroes, with and without unmap), discard and FUA writes leave the data the requests say', () => {
      // discard leaves its range undefined (libblkio): only its neighbours are checked.
      ok(qemuIo(bin, opts(), ['write -z 0 64k', 'write -z -u 64k 64k', 'write -f -P 0x11 128k 4k', 'discard 1m 64k', 'flush']), 'qemu-io');
      const got = readFileRange(file, 0, 132 * KiB);
      assert.ok(got.subarray(0, 128 * KiB).equals(Buffer.alloc(128 * KiB)), 'zeroed ranges');
      assert.ok(got.subarray(128 * KiB).equals(Buffer.alloc(4 * KiB, 0x11)), 'FUA write');
      assert.ok(readFileRange(file, 132 * KiB, MiB - 132 * KiB).equals(original.subarray(132 * KiB, MiB)), 'neighbours before');
      assert.ok(readFileRange(file, MiB + 64 * KiB, MiB).equals(original.subarray(MiB + 64 * KiB, 2 * MiB + 64 * KiB)), 'neighbours after');
    });

    it('vectored writes and reads (writev/readv) of several buffers', () => {
      ok(qemuIo(bin, opts(), ['writev -P 0x33 2m 4k 8k 4k', 'readv -P 0x33 2m 8k 8k']), 'qemu-io');
      assert.ok(readFileRange(file, 2 * MiB, 16 * KiB).equals(Buffer.alloc(16 * KiB, 0x33)));
    });

    it('the length is the file size', () => {
      const r = qemuIo(bin, opts(), ['length']);
      ok(r, 'qemu-io');
      assert.match(r.stdout, /^4 MiB$/m);
    });

    it('read-only (-r): a write fails and the file is unchanged', () => {
      const r = qemuIo(bin, opts(), ['write -P 0x77 0 4k'], true);
      assert.notEqual(r.status, 0, describeRun(r));
      assert.ok(fs.readFileSync(file).equals(original));
    });

    it('qemu-img convert writes an image through it, and reads it back through it', () => {
      const source = createRawImage(path.join(dir, 'source.raw'), 4 * MiB);
      const r = runTool(bin, 'qemu-img', ['convert', '-n', '-f', 'raw', source, '--target-image-opts', imageOpts(opts())]);
      assert.equal(r.status, 0, describeRun(r));
      assert.ok(imagesEqual(source, 'raw', file, 'raw'), 'Debian qemu-img compare source vs written file');
      const copy = path.join(dir, 'copy.raw');
      const back = runTool(bin, 'qemu-img', ['convert', '--image-opts', imageOpts(opts()), '-O', 'raw', copy]);
      assert.equal(back.status, 0, describeRun(back));
      assert.ok(fs.readFileSync(copy).equals(fs.readFileSync(source)));
    });

    it('qemu-img compare through it tells equal from different images', () => {
      const same = path.join(dir, 'same.raw');
      fs.writeFileSync(same, original);
      const eq = runTool(bin, 'qemu-img', ['compare', '--image-opts', imageOpts(opts()), `driver=file,filename=${same}`]);
      assert.equal(eq.status, 0, describeRun(eq));
      const other = Buffer.from(original);
      other[3 * MiB] ^= 0xff;
      fs.writeFileSync(same, other);
      const ne = runTool(bin, 'qemu-img', ['compare', '--image-opts', imageOpts(opts()), `driver=file,filename=${same}`]);
      assert.equal(ne.status, 1, describeRun(ne));
      assert.match(ne.stdout, /Content mismatch at offset 3145728/);
    });

    it('a missing file is an open error naming it, not a hang', () => {
      const r = qemuIo(bin, { driver: 'io_uring', filename: path.join(dir, 'missing.raw') }, ['read 0 4k']);
      assert.notEqual(r.status, 0, describeRun(r));
      assert.match(r.stderr, /missing\.raw|No such file/);
    });
  });

  describe('virtio-blk-vhost-user on a qemu-storage-daemon export', () => {
    let qsd: Qsd | undefined;
    afterEach(async () => {
      await qsd?.dispose();
      qsd = undefined;
    });
    const opts = () => ({ driver: 'virtio-blk-vhost-user', path: qsd!.socket, 'cache.direct': 'on' });

    it('a pattern written is read back and is in the image after the daemon stops', async () => {
      qsd = await Qsd.start({ size: 8 * MiB });
      const expected = fs.readFileSync(qsd.image);
      ok(qemuIo(bin, opts(), ['write -P 0x5a 1m 256k', 'read -P 0x5a 1m 256k', 'write -z 4m 64k', 'flush']), 'qemu-io');
      expected.fill(0x5a, MiB, MiB + 256 * KiB);
      expected.fill(0, 4 * MiB, 4 * MiB + 64 * KiB);
      await qsd.stop();
      const want = path.join(qsd.dir, 'expected.raw');
      fs.writeFileSync(want, expected);
      assert.ok(imagesEqual(want, 'raw', qsd.image, 'raw'), 'qemu-img compare expected vs image');
    });

    it('the length is the export size', async () => {
      qsd = await Qsd.start({ size: 8 * MiB });
      const r = qemuIo(bin, opts(), ['length']);
      ok(r, 'qemu-io');
      assert.match(r.stdout, /^8 MiB$/m);
    });

    it('qemu-img convert copies the export to a file, equal to the image', async () => {
      qsd = await Qsd.start({ size: 8 * MiB });
      const copy = path.join(dir, 'vhost-user-copy.raw');
      const r = runTool(bin, 'qemu-img', ['convert', '--image-opts', imageOpts(opts()), '-O', 'raw', copy]);
      assert.equal(r.status, 0, describeRun(r));
      assert.ok(fs.readFileSync(copy).equals(fs.readFileSync(qsd.image)));
    });

    it('a read-only export opens with -r and reads, and refuses a read-write open with EROFS', async () => {
      qsd = await Qsd.start({ size: 8 * MiB, writable: false });
      const head = fs.readFileSync(qsd.image).subarray(0, 512);
      const r = qemuIo(bin, opts(), ['read -v 0 512'], true);
      ok(r, 'qemu-io -r');
      assert.ok(parseHexDump(r.stdout).equals(head));
      const rw = qemuIo(bin, opts(), ['read 0 4k']);
      assert.notEqual(rw.status, 0, describeRun(rw));
      assert.match(rw.stderr, /blkio_start failed: .*Read-only file system/);
    });

    it('cache.direct=off is refused by QEMU (the virtio drivers bypass any cache)', async () => {
      qsd = await Qsd.start({ size: 8 * MiB });
      const r = qemuIo(bin, { ...opts(), 'cache.direct': 'off' }, ['read 0 4k']);
      assert.notEqual(r.status, 0, describeRun(r));
      assert.match(r.stderr, /cache\.direct=off is not supported/);
    });

    it('a socket nobody listens on is an open error, not a hang', () => {
      const r = qemuIo(bin, { driver: 'virtio-blk-vhost-user', path: path.join(dir, 'nobody.sock'), 'cache.direct': 'on' }, ['read 0 4k']);
      assert.notEqual(r.status, 0, describeRun(r));
      assert.match(r.stderr, /blkio_connect failed/);
    });
  });
});
