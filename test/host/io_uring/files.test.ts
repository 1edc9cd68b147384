import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { create, createCompletions, REQ_NO_FALLBACK, REQ_NO_UNMAP } from '../../../src/lib';
import { randomFile, readFileRange, tempDir } from '../../support/files';

function startedOn(p: string) {
  const b = create('io_uring');
  b.setStr('path', p);
  b.connect();
  b.start();
  const q = b.getQueue(0)!;
  const c = createCompletions(8);
  const run = () => {
    assert.equal(q.doIo(c, 1, 1, 10e9), 1);
    return c[0];
  };
  return { b, q, run };
}

describe('io_uring on files', () => {
  let dir: string;
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a write past the end grows the file', () => {
    dir = tempDir();
    const file = randomFile(8192, dir);
    const { b, q, run } = startedOn(file);
    q.write(16384, new Uint8Array(4096).fill(9));
    assert.equal(run().ret, 0);
    assert.equal(fs.statSync(file).size, 20480);
    assert.equal(readFileRange(file, 20479, 1)[0], 9);
    b.destroy();
  });

  it('a read reaching past the end fills the rest with zeros', () => {
    dir = tempDir();
    const file = randomFile(6144, dir);
    const { b, q, run } = startedOn(file);
    const buf = new Uint8Array(8192).fill(0xff);
    q.read(0, buf);
    assert.equal(run().ret, 0);
    assert.deepEqual(Buffer.from(buf.subarray(0, 6144)), readFileRange(file, 0, 6144));
    assert.ok(buf.subarray(6144).every((x) => x === 0));
    b.destroy();
  });

  it('discard punches a hole', () => {
    dir = tempDir();
    const file = randomFile(1 << 20, dir);
    const before = fs.statSync(file).blocks;
    const { b, q, run } = startedOn(file);
    q.discard(0, 512 << 10);
    assert.equal(run().ret, 0);
    assert.ok(fs.statSync(file).blocks < before, 'fewer blocks allocated');
    assert.ok(readFileRange(file, 0, 4096).every((x) => x === 0));
    b.destroy();
  });

  describe('on tmpfs, which has no FALLOC_FL_ZERO_RANGE', () => {
    let shmDir: string;
    beforeEach(() => (shmDir = fs.mkdtempSync('/dev/shm/blkio-')));
    afterEach(() => fs.rmSync(shmDir, { recursive: true, force: true }));

    it('writeZeroes with NO_UNMAP falls back to writing zeros', () => {
      dir = tempDir();
      const file = randomFile(64 << 10, shmDir);
      const { b, q, run } = startedOn(file);
      q.writeZeroes(4096, 8192, null, REQ_NO_UNMAP);
      assert.equal(run().ret, 0);
      assert.ok(readFileRange(file, 4096, 8192).every((x) => x === 0));
      b.destroy();
    });

    it('writeZeroes with NO_UNMAP and NO_FALLBACK gives ENOTSUP', () => {
      dir = tempDir();
      const file = randomFile(64 << 10, shmDir);
      const { b, q, run } = startedOn(file);
      q.writeZeroes(4096, 8192, null, REQ_NO_UNMAP | REQ_NO_FALLBACK);
      const c = run();
      assert.equal(c.ret, -95);
      assert.match(c.errorMsg ?? '', /fallback/);
      b.destroy();
    });
  });

  it('a read-only open refuses writes with EBADF from the start', () => {
    dir = tempDir();
    const file = randomFile(8192, dir);
    fs.chmodSync(file, 0o444);
    const b = create('io_uring');
    b.setStr('path', path.resolve(file));
    b.setBool('read-only', true);
    b.connect();
    b.start();
    const q = b.getQueue(0)!;
    q.write(0, new Uint8Array(512));
    const c = createCompletions(1);
    q.doIo(c, 1, 1);
    assert.equal(c[0].ret, -9);
    b.destroy();
  });
});
