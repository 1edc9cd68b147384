// Device streams as FileHandle's: the same bytes as fs streams for the same
// options, several requests in flight, backpressure, and a pipeline device
// -> file -> device that is byte-exact on 1 GiB.
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlkioError, Device, open } from '../../../src/lib';
import { randomFile, tempDir } from '../../support/files';
import { Qsd } from '../../support/qsd';

const MiB = 1 << 20;

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Device streams', function () {
  this.timeout(120_000);

  describe('on a file', () => {
    let dir: string;
    let file: string;
    let dev: Device;
    beforeEach(async () => {
      dir = tempDir('blkio-streams-');
      file = randomFile(4 * MiB, dir);
      dev = await open({ driver: 'io_uring', path: file });
    });
    afterEach(async () => {
      await dev.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    for (const options of [{}, { start: 4096, end: 65535 }, { start: 1000, end: 70000, highWaterMark: 16384 }, { start: 4 * MiB - 10 }, { end: 5 * MiB }]) {
      it(`createReadStream(${JSON.stringify(options)}) gives the bytes fs.createReadStream gives`, async () => {
        const got = await collect(dev.createReadStream(options));
        const want = await collect(fs.createReadStream(file, options));
        assert.equal(got.length, want.length);
        assert.ok(got.equals(want));
      });
    }

    it('createReadStream() emits chunks of highWaterMark bytes', async () => {
      const sizes: number[] = [];
      await new Promise((resolve, reject) =>
        dev.createReadStream({ highWaterMark: 32768 }).on('data', (c: Buffer) => sizes.push(c.length)).on('end', resolve).on('error', reject),
      );
      assert.equal(sizes.length, (4 * MiB) / 32768);
      assert.ok(sizes.every((n) => n === 32768));
    });

    it('createReadStream() stops reading while its consumer does not read (backpressure)', async () => {
      const stream = dev.createReadStream({ highWaterMark: 65536, queueDepth: 4 });
      stream.on('readable', () => {}); // starts reading; nothing is consumed
      await tick(200);
      assert.ok(stream.readableLength > 0);
      assert.ok(stream.readableLength <= 65536 * 5, `buffered ${stream.readableLength} bytes`);
      assert.equal(dev.blkio.getQueue(0)!.pending, 0, 'reads still issued while the consumer is full');
      stream.destroy();
    });

    it('createReadStream({ signal }) is destroyed with an AbortError when the signal aborts', async () => {
      const c = new AbortController();
      const stream = dev.createReadStream({ highWaterMark: 4096, signal: c.signal });
      let chunks = 0;
      const done = pipeline(stream, async function* (source) {
        for await (const chunk of source) if (++chunks === 2) c.abort();
        yield* [];
      });
      await assert.rejects(done, (e: Error) => e.name === 'AbortError');
      assert.ok(chunks < (4 * MiB) / 4096, 'the stream went on to the end');
    });

    it('createWriteStream({ signal }) is destroyed with an AbortError when the signal aborts', async () => {
      const c = new AbortController();
      c.abort();
      await assert.rejects(pipeline(Readable.from([Buffer.alloc(65536)]), dev.createWriteStream({ signal: c.signal })), (e: Error) => e.name === 'AbortError');
    });

    it('readableWebStream() gives the device bytes as a WHATWG ReadableStream', async () => {
      const web = dev.readableWebStream();
      const got = await collect(web as unknown as AsyncIterable<Uint8Array>);
      assert.ok(got.equals(fs.readFileSync(file)));
    });

    it('createWriteStream({ start }) writes as fs.createWriteStream(path, { flags: "r+", start })', async () => {
      const twin = path.join(dir, 'twin.img');
      fs.copyFileSync(file, twin);
      const data = crypto.randomBytes(3 * 65536 + 1000); // a partial last block
      await pipeline(Readable.from([data.subarray(0, 5000), data.subarray(5000)]), dev.createWriteStream({ start: 8192 }));
      await pipeline(Readable.from([data]), fs.createWriteStream(twin, { flags: 'r+', start: 8192 }));
      assert.ok(fs.readFileSync(file).equals(fs.readFileSync(twin)));
    });

    it('createWriteStream() rejects a start that is not a multiple of the logical block size', function () {
      const direct = dev.requestAlignment;
      if (direct === 1) {
        // Every start is aligned without O_DIRECT: the check needs a device with blocks.
        return open({ driver: 'io_uring', path: file, direct: true }).then(async (d) => {
          try {
            assert.throws(() => d.createWriteStream({ start: 100 }), (e: BlkioError) => e.code === 'EINVAL' && /start/.test(e.message));
          } finally {
            await d.close();
          }
        });
      }
      assert.throws(() => dev.createWriteStream({ start: 100 }), (e: BlkioError) => e.code === 'EINVAL');
    });

    it('createWriteStream() fails the pipeline with the device error', async () => {
      const ro = await open({ driver: 'io_uring', path: file, readOnly: true });
      try {
        await assert.rejects(pipeline(Readable.from([Buffer.alloc(65536)]), ro.createWriteStream()), (e: BlkioError) => e.code === 'EBADF');
      } finally {
        await ro.close();
      }
    });
  });

  describe('on vhost-user, with the device held', () => {
    let qsd: Qsd;
    let dev: Device;
    beforeEach(async () => {
      qsd = await Qsd.start({ size: 16 * MiB });
      dev = await open({ driver: 'virtio-blk-vhost-user', path: qsd.socket });
    });
    afterEach(async () => {
      await qsd.kill('SIGCONT');
      await dev.close();
      await qsd.dispose();
    });

    it('createReadStream() keeps queueDepth reads in flight', async () => {
      await qsd.kill('SIGSTOP');
      const stream = dev.createReadStream({ highWaterMark: 65536, queueDepth: 4 });
      stream.on('readable', () => {});
      await tick(100);
      assert.equal(dev.blkio.getQueue(0)!.pending, 4);
      await qsd.kill('SIGCONT');
      stream.destroy();
    });

    it('createWriteStream() keeps queueDepth writes in flight and then holds the writer (backpressure)', async () => {
      await qsd.kill('SIGSTOP');
      const stream = dev.createWriteStream({ highWaterMark: 65536, queueDepth: 4 });
      let written = 1;
      while (stream.write(Buffer.alloc(65536, 1))) written++;
      await tick(100);
      assert.equal(dev.blkio.getQueue(0)!.pending, 4);
      assert.equal(written, 4, 'write() asked for a pause only once queueDepth writes were in flight');
      await qsd.kill('SIGCONT');
      stream.end();
      await new Promise((resolve, reject) => stream.on('finish', resolve).on('error', reject));
      const back = await dev.read(Buffer.alloc(65536), 0, 65536, 0);
      assert.ok(back.buffer.equals(Buffer.alloc(65536, 1)));
    });
  });

  describe('stream.pipeline of 1 GiB', () => {
    const SIZE = 1024 * MiB;
    let dir: string;

    before(function () {
      dir = tempDir('blkio-pipeline-');
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    // 1 MiB of random bytes, each copy stamped with its index: a misplaced MiB shows.
    function patterned(file: string): void {
      const chunk = crypto.randomBytes(MiB);
      const fd = fs.openSync(file, 'w');
      for (let i = 0; i < SIZE / MiB; i++) {
        chunk.writeUInt32LE(i, 0);
        fs.writeSync(fd, chunk);
      }
      fs.closeSync(fd);
    }

    function sameFiles(a: string, b: string): void {
      const fa = fs.openSync(a, 'r');
      const fb = fs.openSync(b, 'r');
      try {
        assert.equal(fs.fstatSync(fa).size, fs.fstatSync(fb).size);
        const ba = Buffer.alloc(8 * MiB);
        const bb = Buffer.alloc(8 * MiB);
        for (let at = 0; ; at += ba.length) {
          const n = fs.readSync(fa, ba, 0, ba.length, at);
          assert.equal(fs.readSync(fb, bb, 0, bb.length, at), n);
          if (n === 0) break;
          assert.ok(ba.subarray(0, n).equals(bb.subarray(0, n)), `${a} and ${b} differ in the 8 MiB at ${at}`);
        }
      } finally {
        fs.closeSync(fa);
        fs.closeSync(fb);
      }
    }

    it('device -> file -> device is byte-exact', async () => {
      const source = path.join(dir, 'source.img');
      const middle = path.join(dir, 'middle.bin');
      const target = path.join(dir, 'target.img');
      patterned(source);
      fs.writeFileSync(target, '');
      fs.truncateSync(target, SIZE);
      const from = await open({ driver: 'io_uring', path: source });
      const to = await open({ driver: 'io_uring', path: target });
      try {
        await pipeline(from.createReadStream({ highWaterMark: MiB }), fs.createWriteStream(middle));
        sameFiles(source, middle);
        await pipeline(fs.createReadStream(middle, { highWaterMark: MiB }), to.createWriteStream({ highWaterMark: MiB }));
        await to.flush();
        sameFiles(source, target);
      } finally {
        await from.close();
        await to.close();
      }
    });
  });
});
