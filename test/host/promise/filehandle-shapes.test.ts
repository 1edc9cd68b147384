// The Device's request methods take and return what fs/promises' FileHandle
// does: each case runs the same call on a FileHandle of one file and on a
// Device of an identical copy, and compares the results and the files.
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { BlkioError, Device, open } from '../../../src/lib';
import { tempDir } from '../../support/files';

const SIZE = 1 << 20;

// The same method, called with the same arguments on both sides.
type Call = (h: fsp.FileHandle | Device) => Promise<unknown>;

describe('Device requests in the shapes of fs/promises FileHandle', () => {
  let dir: string;
  let fileA: string;
  let fileB: string;
  let fh: fsp.FileHandle;
  let dev: Device;

  beforeEach(async () => {
    dir = tempDir('blkio-shapes-');
    fileA = path.join(dir, 'a.img');
    fileB = path.join(dir, 'b.img');
    const data = crypto.randomBytes(SIZE);
    fs.writeFileSync(fileA, data);
    fs.writeFileSync(fileB, data);
    fh = await fsp.open(fileA, 'r+');
    dev = await open({ driver: 'io_uring', path: fileB });
  });
  afterEach(async () => {
    await fh.close();
    await dev.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // Runs call on both; buffers are made fresh per side by make(). Node 20's
  // FileHandle ignores a bigint position (it uses the file position), so
  // fs gets the same position as a number.
  async function same(make: (onFs: boolean) => unknown[], call: (h: any, ...args: unknown[]) => Promise<any>): Promise<void> {
    const argsA = make(true);
    const argsB = make(false);
    const a = await call(fh, ...argsA);
    const b = await call(dev, ...argsB);
    assert.deepEqual(Object.keys(b).sort(), Object.keys(a).sort());
    for (const key of Object.keys(a)) {
      if (key === 'buffer') {
        assert.equal(b.buffer.constructor, a.buffer.constructor);
        assert.deepEqual(Buffer.from(b.buffer.buffer, b.buffer.byteOffset, b.buffer.byteLength), Buffer.from(a.buffer.buffer, a.buffer.byteOffset, a.buffer.byteLength));
      } else if (key === 'buffers') {
        assert.equal(b.buffers.length, a.buffers.length);
        a.buffers.forEach((x: Uint8Array, i: number) => assert.deepEqual(Buffer.from(b.buffers[i]), Buffer.from(x)));
      } else {
        assert.equal(b[key], a[key], key);
      }
    }
    // The result holds the caller's own buffer(s), as in fs.
    const given = argsB.find((x) => ArrayBuffer.isView(x) || Array.isArray(x)) ?? (argsB[0] as { buffer?: unknown })?.buffer;
    if (given !== undefined && 'buffer' in b) assert.equal(b.buffer, given);
    if (given !== undefined && 'buffers' in b) assert.equal(b.buffers, given);
    assert.ok(fs.readFileSync(fileB).equals(fs.readFileSync(fileA)), 'the files differ afterwards');
  }

  const read = (h: any, ...args: unknown[]) => h.read(...args);
  const write = (h: any, ...args: unknown[]) => h.write(...args);

  it('read(buffer, offset, length, position) resolves to { bytesRead, buffer }', () =>
    same(() => [Buffer.alloc(8192), 0, 8192, 65536], read));
  it('read() fills the buffer from offset, length bytes', () => same(() => [Buffer.alloc(8192), 1024, 2048, 4096], read));
  it('read() defaults length to the rest of the buffer', () => same(() => [Buffer.alloc(8192), 4096, null, 4096], read));
  it('read(buffer, { offset, length, position })', () =>
    same(() => [Buffer.alloc(8192), { offset: 512, length: 4096, position: 12288 }], read));
  it('read({ buffer, offset, length, position })', () =>
    same(() => [{ buffer: Buffer.alloc(8192), offset: 0, length: 4096, position: 8192 }], read));
  it('read({ position }) reads into a new 16 KiB Buffer', () => same(() => [{ position: 4096 }], read));
  it('read() takes a bigint position', () => same((onFs) => [Buffer.alloc(4096), 0, 4096, onFs ? 8192 : 8192n], read));
  it('read() takes any TypedArray and returns it', () => same(() => [new Float64Array(512), 0, 4096, 0], read));
  it('read() takes a DataView', () => same(() => [new DataView(new ArrayBuffer(4096)), 0, 4096, 4096], read));
  it('read() of length 0 resolves with bytesRead 0', () => same(() => [Buffer.alloc(4096), 0, 0, 0], read));

  it('write(buffer, offset, length, position) resolves to { bytesWritten, buffer }', () => {
    const data = crypto.randomBytes(8192);
    return same(() => [Buffer.from(data), 0, 8192, 16384], write);
  });
  it('write() writes length bytes from offset of the buffer', () => {
    const data = crypto.randomBytes(8192);
    return same(() => [Buffer.from(data), 1024, 4096, 4096], write);
  });
  it('write(buffer, { offset, length, position })', () => {
    const data = crypto.randomBytes(8192);
    return same(() => [Buffer.from(data), { offset: 4096, length: 4096, position: 0 }], write);
  });
  it('write() takes a bigint position and a Uint16Array', () => {
    const data = crypto.randomBytes(4096);
    return same((onFs) => [new Uint16Array(Buffer.from(data).buffer), 0, 4096, onFs ? 4096 : 4096n], write);
  });

  it('readv(buffers, position) resolves to { bytesRead, buffers }', () =>
    same(() => [[Buffer.alloc(4096), Buffer.alloc(8192)], 4096], (h, ...args) => h.readv(...args)));
  it('writev(buffers, position) resolves to { bytesWritten, buffers }', () => {
    const a = crypto.randomBytes(4096);
    const b = crypto.randomBytes(4096);
    return same(() => [[Buffer.from(a), Buffer.from(b)], 8192], (h, ...args) => h.writev(...args));
  });

  describe('rejects where fs/promises rejects', () => {
    async function bothReject(call: Call): Promise<BlkioError> {
      await assert.rejects(call(fh));
      let error: unknown;
      await assert.rejects(call(dev), (e) => ((error = e), true));
      assert.ok(error instanceof BlkioError, `rejected with ${String(error)}`);
      return error;
    }
    it('an offset beyond the buffer', async () =>
      assert.equal((await bothReject((h: any) => h.read(Buffer.alloc(4096), 4097, 1, 0))).code, 'EINVAL'));
    it('a length beyond the end of the buffer', async () =>
      assert.equal((await bothReject((h: any) => h.read(Buffer.alloc(4096), 512, 4096, 0))).code, 'EINVAL'));
    it('a buffer that is not a view', async () =>
      assert.equal((await bothReject((h) => (h.read as any)('x', 0, 1, 0))).code, 'EINVAL'));
    it('a write on a read-only handle, with EBADF as fs', async () => {
      const ro = await fsp.open(fileA, 'r');
      const roDev = await open({ driver: 'io_uring', path: fileB, readOnly: true });
      try {
        const fsError = await ro.write(Buffer.alloc(4096), 0, 4096, 0).then(() => null, (e: NodeJS.ErrnoException) => e);
        const devError = await roDev.write(Buffer.alloc(4096), 0, 4096, 0).then(() => null, (e: BlkioError) => e);
        assert.equal(fsError?.code, 'EBADF');
        assert.equal(devError?.code, fsError?.code);
      } finally {
        await ro.close();
        await roDev.close();
      }
    });
  });

  describe('what a device has and a file handle does not', () => {
    it('position is required: a device has no file position', async () => {
      await assert.rejects(dev.read(Buffer.alloc(4096), 0, 4096, null as unknown as number), /position is required/);
      await assert.rejects(dev.write(Buffer.alloc(4096), { position: undefined as unknown as number }), /position is required/);
    });
    it('never reads short: bytesRead is the length asked for', async () => {
      const { bytesRead } = await dev.read(Buffer.alloc(65536), 0, 65536, SIZE - 65536);
      assert.equal(bytesRead, 65536);
    });
    it('write() with fua resolves once the data is persistent, and writes it', async () => {
      const data = crypto.randomBytes(4096);
      const r = await dev.write(data, 0, 4096, 4096, { fua: true });
      assert.equal(r.bytesWritten, 4096);
      assert.ok(fs.readFileSync(fileB).subarray(4096, 8192).equals(data));
    });
    it('writev() takes fua too', async () => {
      const data = crypto.randomBytes(8192);
      await dev.writev([data.subarray(0, 4096), data.subarray(4096)], 0, { fua: true });
      assert.ok(fs.readFileSync(fileB).subarray(0, 8192).equals(data));
    });
    it('stat() gives the size and the limits requests are planned by', async () => {
      const s = await dev.stat();
      assert.equal(s.size, BigInt(SIZE));
      assert.equal(s.size, BigInt((await fh.stat()).size));
      assert.equal(s.logicalBlockSize, dev.blkio.getInt('request-alignment'));
      assert.ok(s.physicalBlockSize >= s.logicalBlockSize);
      assert.equal(s.bufAlignment, dev.blkio.getInt('buf-alignment'));
      assert.equal(s.maxTransfer, dev.blkio.getInt('max-transfer'));
      assert.equal(s.maxSegments, dev.blkio.getInt('max-segments'));
      assert.equal(typeof s.maxDiscardLen, 'bigint');
      assert.equal(s.readOnly, false);
    });
    it('flush, discard and writeZeroes stay, with an options argument', async () => {
      const signal = new AbortController().signal;
      await dev.flush({ signal });
      await dev.writeZeroes(0, 4096, 0, { signal });
      assert.ok(fs.readFileSync(fileB).subarray(0, 4096).equals(Buffer.alloc(4096)));
      await dev.discard(0, 4096, { signal });
    });
  });
});
