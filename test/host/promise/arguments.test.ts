// Promise methods never throw: every bad argument is a rejection with a
// BlkioError EINVAL that names the problem.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { BlkioError, Device, open } from '../../../src/lib';
import { randomFile, tempDir } from '../../support/files';

/** Calls `call` (which must not throw) and checks that its Promise rejects with EINVAL. */
async function rejectsWithEinval(call: () => unknown, message?: RegExp): Promise<void> {
  let result: unknown;
  assert.doesNotThrow(() => (result = call()), 'a Promise method threw synchronously');
  assert.ok(result instanceof Promise, 'a Promise method returned something other than a Promise');
  await assert.rejects(result, (e: unknown) => {
    assert.ok(e instanceof BlkioError, `rejected with ${String(e)}, not a BlkioError`);
    assert.equal(e.code, 'EINVAL', e.message);
    assert.equal(e.errno, -22);
    if (message) assert.match(e.message, message);
    return true;
  });
}

// Calls with arguments of the wrong type, as plain JS would make them.
type Loose = (...args: unknown[]) => unknown;

describe('Promise layer arguments', () => {
  let dir: string;
  let disk: string;
  let dev: Device;
  before(async () => {
    dir = tempDir('blkio-args-');
    disk = randomFile(1 << 20, dir);
    dev = await open({ driver: 'io_uring', path: disk });
  });
  after(async () => {
    await dev.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('open()', () => {
    const loose = open as Loose;
    it('rejects null options', () => rejectsWithEinval(() => loose(null), /options/));
    it('rejects missing options', () => rejectsWithEinval(() => loose()));
    it('rejects a driver name that is not a string', () => rejectsWithEinval(() => loose({ driver: 42 }), /driver/));
    it('rejects a path that is not a string', () => rejectsWithEinval(() => loose({ driver: 'io_uring', path: 7 }), /path/));
    it('rejects a negative bounceBufferSize', () =>
      rejectsWithEinval(() => loose({ driver: 'io_uring', path: disk, bounceBufferSize: -1 }), /bounceBufferSize/));
    it('rejects properties that are not an object', () =>
      rejectsWithEinval(() => loose({ driver: 'io_uring', path: disk, properties: 'x' }), /properties/));
  });

  describe('read()', () => {
    const read = (...args: unknown[]) => (dev.read as Loose).apply(dev, args);
    it('rejects a negative offset', () => rejectsWithEinval(() => read(-1, 4096), /offset/));
    it('rejects a fractional offset', () => rejectsWithEinval(() => read(0.5, 4096), /offset/));
    it('rejects an offset that is a string', () => rejectsWithEinval(() => read('0', 4096), /offset/));
    it('rejects a negative length', () => rejectsWithEinval(() => read(0, -1), /length/));
    it('rejects a length too large to allocate', () => rejectsWithEinval(() => read(0, 2 ** 53), /length/));
    it('rejects a buffer that is not a Uint8Array', () => rejectsWithEinval(() => read(0, 'x'), /buffer/));
  });

  describe('write()', () => {
    const write = (...args: unknown[]) => (dev.write as Loose).apply(dev, args);
    it("rejects an offset that is a string ('x')", () => rejectsWithEinval(() => write('x', new Uint8Array(512)), /offset/));
    it('rejects data that is a string', () => rejectsWithEinval(() => write(0, 'x'), /data/));
    it('rejects data that is an array of numbers', () => rejectsWithEinval(() => write(0, [1, 2, 3]), /data/));
  });

  describe('readv() and writev()', () => {
    it('reject buffers that are not an array', () =>
      rejectsWithEinval(() => (dev.readv as Loose).call(dev, 0, 'x'), /buffers/));
    it('reject an array with something other than a Uint8Array in it', () =>
      rejectsWithEinval(() => (dev.writev as Loose).call(dev, 0, [new Uint8Array(512), 1]), /buffer/));
    it('reject a negative offset', () => rejectsWithEinval(() => dev.readv(-4096, [new Uint8Array(512)]), /offset/));
  });

  describe('discard(), writeZeroes() and close()', () => {
    it('discard() rejects a negative offset', () => rejectsWithEinval(() => dev.discard(-1, 4096)));
    it('writeZeroes() rejects a negative length', () => rejectsWithEinval(() => dev.writeZeroes(0, -4096)));
    it('writeZeroes() rejects negative flags', () => rejectsWithEinval(() => dev.writeZeroes(0, 4096, -1), /flags/));
    it('close() rejects null options and leaves the device open', async () => {
      await rejectsWithEinval(() => (dev.close as Loose).call(dev, null), /options/);
      assert.equal((await dev.read(0, 512)).length, 512);
    });
    it('close() rejects a timeoutMs that is not a number', () =>
      rejectsWithEinval(() => (dev.close as Loose).call(dev, { timeoutMs: 'soon' }), /timeoutMs/));
  });
});
