import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Blkio, create, createCompletions, Queue } from '../../../src/lib';
import { randomFile, readFileRange, tempDir } from '../../support/files';
import { startedFileEachTest } from '../../support/started-file';

describe('io_uring request buffers', () => {
  let dir: string;
  let file: string;
  let b: Blkio;
  let q: Queue;
  const c = createCompletions(4);
  const started = startedFileEachTest();
  beforeEach(() => ({ dir, file, b, q } = started));

  it('a view of a SharedArrayBuffer is read into', () => {
    const view = new Uint8Array(new SharedArrayBuffer(8192), 4096, 4096);
    q.read(4096, view);
    assert.equal(q.doIo(c, 1, 1), 1);
    assert.equal(c[0].ret, 0);
    assert.deepEqual(Buffer.from(view), readFileRange(file, 4096, 4096));
  });

  it('a pooled Node Buffer (shared ArrayBuffer, odd offset) is read into', () => {
    // Three slices of 1000 bytes fit in one 8 KiB pool after at most one
    // refill, so one of them starts inside a shared pool ArrayBuffer.
    const buf = [0, 1, 2].map(() => Buffer.allocUnsafe(1000)).find((x) => x.byteOffset > 0);
    assert.ok(buf, 'a Buffer that is a slice of the pool, past its start');
    assert.ok(buf.buffer.byteLength > buf.byteLength, 'the pool ArrayBuffer is larger than the Buffer');
    q.read(100, buf);
    assert.equal(q.doIo(c, 1, 1), 1);
    assert.deepEqual(buf, readFileRange(file, 100, 1000));
  });

  it('a view reused across regions moving is described afresh', () => {
    const r1 = b.allocMemRegion(8192);
    b.mapMemRegion(r1);
    const view = new Uint8Array(r1.buffer, 4096, 4096);
    q.read(0, view);
    q.doIo(c, 1, 1);
    b.unmapMemRegion(r1);
    q.read(8192, view);
    assert.equal(q.doIo(c, 1, 1), 1);
    assert.equal(c[0].ret, 0);
    assert.deepEqual(Buffer.from(view), readFileRange(file, 8192, 4096));
  });

  it('a view of a freed region is empty and its request touches no memory', () => {
    const r = b.allocMemRegion(8192);
    const view = new Uint8Array(r.buffer, 0, 4096);
    q.read(0, view); // describes (and caches) the view while it is live
    q.doIo(c, 1, 1);
    b.freeMemRegion(r);
    assert.equal(view.byteLength, 0);
    q.read(0, view, 'after free');
    assert.equal(q.doIo(c, 1, 1), 1);
    assert.equal(c[0].ret, 0);
    assert.equal(c[0].userData, 'after free');
  });

  it('a region mapped over part of a buffer describes views by their own address', () => {
    const whole = b.allocMemRegion(16384);
    const part = { ...whole, addr: whole.addr + 4096n, len: 12288, fdOffset: 4096 };
    b.mapMemRegion(part);
    const view = new Uint8Array(whole.buffer, 8192, 4096);
    q.read(4096, view);
    assert.equal(q.doIo(c, 1, 1), 1);
    assert.equal(c[0].ret, 0);
    assert.deepEqual(Buffer.from(view), readFileRange(file, 4096, 4096));
    b.unmapMemRegion(part);
  });

  it('doIo with an enormous max returns what is there', () => {
    q.read(0, new Uint8Array(512));
    assert.equal(q.doIo(c, 1, 1e9), 1);
  });
});
