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
    const buf = () => new Uint8Array(4096);
    it('rejects a missing position: a device has no file position', () => rejectsWithEinval(() => read(buf()), /position is required/));
    it('rejects a null position', () => rejectsWithEinval(() => read(buf(), 0, 4096, null), /position is required/));
    it('rejects a negative position', () => rejectsWithEinval(() => read(buf(), 0, 4096, -2), /position/));
    it('rejects a fractional position', () => rejectsWithEinval(() => read(buf(), 0, 4096, 0.5), /position/));
    it('rejects a position that is a string', () => rejectsWithEinval(() => read(buf(), 0, 4096, '0'), /position/));
    it('rejects an offset beyond the buffer', () => rejectsWithEinval(() => read(buf(), 4097, 0, 0), /offset/));
    it('rejects a length beyond the buffer', () => rejectsWithEinval(() => read(buf(), 512, 4096, 0), /length/));
    it('rejects a negative length', () => rejectsWithEinval(() => read(buf(), 0, -1, 0), /length/));
    it('rejects a buffer that is a string', () => rejectsWithEinval(() => read('x', 0, 1, 0), /buffer/));
    it('rejects an options object whose buffer is not a view', () => rejectsWithEinval(() => read({ buffer: [1], position: 0 }), /buffer/));
    it('rejects a signal that is not an AbortSignal', () =>
      rejectsWithEinval(() => read(buf(), 0, 4096, 0, { signal: {} }), /signal/));
  });

  describe('write()', () => {
    const write = (...args: unknown[]) => (dev.write as Loose).apply(dev, args);
    it('rejects a missing position', () => rejectsWithEinval(() => write(new Uint8Array(512)), /position is required/));
    it('rejects data that is a string', () => rejectsWithEinval(() => write('x', 0, 1, 0), /buffer/));
    it('rejects data that is an array of numbers', () => rejectsWithEinval(() => write([1, 2, 3], 0, 3, 0), /buffer/));
    it('rejects fua that is not a boolean', () =>
      rejectsWithEinval(() => write(new Uint8Array(512), 0, 512, 0, { fua: 1 }), /fua/));
  });

  describe('readv() and writev()', () => {
    it('reject buffers that are not an array', () =>
      rejectsWithEinval(() => (dev.readv as Loose).call(dev, 'x', 0), /buffers/));
    it('reject an array with something other than a view in it', () =>
      rejectsWithEinval(() => (dev.writev as Loose).call(dev, [new Uint8Array(512), 1], 0), /buffer/));
    it('reject a negative position', () => rejectsWithEinval(() => dev.readv([new Uint8Array(512)], -4096), /position/));
    it('reject a missing position', () =>
      rejectsWithEinval(() => (dev.readv as Loose).call(dev, [new Uint8Array(512)]), /position is required/));
  });

  describe('discard(), writeZeroes() and close()', () => {
    it('discard() rejects a negative offset', () => rejectsWithEinval(() => dev.discard(-1, 4096)));
    it('writeZeroes() rejects a negative length', () => rejectsWithEinval(() => dev.writeZeroes(0, -4096)));
    it('writeZeroes() rejects negative flags', () => rejectsWithEinval(() => dev.writeZeroes(0, 4096, -1), /flags/));
    it('close() rejects null options and leaves the device open', async () => {
      await rejectsWithEinval(() => (dev.close as Loose).call(dev, null), /options/);
      assert.equal((await dev.read({ buffer: Buffer.alloc(512), position: 0 })).bytesRead, 512);
    });
    it('close() rejects a timeoutMs that is not a number', () =>
      rejectsWithEinval(() => (dev.close as Loose).call(dev, { timeoutMs: 'soon' }), /timeoutMs/));
  });
});
