import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { create } from '../../../src/lib';
import { expectCode } from '../../shared/behaviour';
import { attachLoop, detachLoop, randomFile, tempDir } from '../../support/files';

describe('io_uring properties', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = tempDir();
    file = randomFile(1 << 20, dir);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function connectedTo(p: string, direct = false) {
    const b = create('io_uring');
    b.setStr('path', p);
    if (direct) b.setBool('direct', true);
    b.connect();
    return b;
  }

  it('a regular file reports the reference values', () => {
    const b = connectedTo(file);
    assert.equal(b.getUint64('capacity'), 1n << 20n);
    assert.equal(b.getInt('request-alignment'), 1);
    assert.equal(b.getInt('buf-alignment'), 1);
    assert.equal(b.getUint64('mem-region-alignment'), 1n);
    assert.equal(b.getInt('optimal-buf-alignment'), 4096);
    assert.equal(b.getBool('can-grow'), true);
    assert.equal(b.getBool('flush-needed'), true);
    assert.equal(b.getBool('needs-mem-regions'), false);
    assert.equal(b.getBool('needs-mem-region-fd'), false);
    assert.equal(b.getBool('may-pin-mem-regions'), false);
    assert.equal(b.getBool('supports-fua-natively'), false);
    assert.equal(b.getBool('supports-poll-queues'), false);
    assert.equal(b.getBool('can-add-queues'), true);
    assert.equal(b.getInt('max-queues'), 2 ** 31 - 1);
    assert.equal(b.getInt('max-segments'), 1024);
    assert.equal(b.getInt('max-transfer'), 0);
    assert.equal(b.getInt('optimal-io-size'), 0);
    assert.equal(b.getInt('discard-alignment'), 1);
    assert.equal(b.getInt('num-entries'), 128);
    assert.equal(b.getInt('num-queues'), 1);
    assert.equal(b.getInt('num-poll-queues'), 0);
    b.destroy();
  });

  it('O_DIRECT makes request and buffer alignment the logical block size', () => {
    const b = connectedTo(file, true);
    const align = b.getInt('request-alignment');
    assert.ok(align === 512 || align === 4096, `alignment ${align}`);
    assert.equal(b.getInt('buf-alignment'), align);
    assert.equal(b.getUint64('mem-region-alignment'), BigInt(align));
    b.destroy();
  });

  it('a loop device is a fixed-size block device', () => {
    const dev = attachLoop(file);
    try {
      const b = connectedTo(dev);
      assert.equal(b.getUint64('capacity'), 1n << 20n);
      assert.equal(b.getBool('can-grow'), false);
      assert.ok(b.getInt('optimal-io-alignment') >= 512);
      b.destroy();
    } finally {
      detachLoop(dev);
    }
  });

  it('path and fd together give EINVAL', () => {
    const b = create('io_uring');
    const fd = fs.openSync(file, 'r+');
    b.setStr('path', file);
    b.setInt('fd', fd);
    expectCode(() => b.connect(), 'EINVAL', /path and fd/);
    fs.closeSync(fd);
    b.destroy();
  });

  it('neither path nor fd gives EINVAL', () => {
    const b = create('io_uring');
    expectCode(() => b.connect(), 'EINVAL', /One of path and fd/);
    b.destroy();
  });

  it('a missing path fails with ENOENT naming it', () => {
    const b = create('io_uring');
    b.setStr('path', path.join(dir, 'missing'));
    expectCode(() => b.connect(), 'ENOENT', /missing/);
    b.destroy();
  });

  it('a directory is not a valid target (EINVAL)', () => {
    const b = create('io_uring');
    b.setStr('path', dir);
    b.setBool('read-only', true);
    expectCode(() => b.connect(), 'EINVAL', /block device or a regular file/);
    b.destroy();
  });

  it('an fd is adopted: read-only follows its access mode and fd reads it back', () => {
    const fd = fs.openSync(file, 'r');
    const b = create('io_uring');
    b.setInt('fd', fd);
    b.connect();
    assert.equal(b.getBool('read-only'), true);
    assert.equal(b.getInt('fd'), fd);
    expectCode(() => b.setInt('fd', fd), 'EBUSY');
    expectCode(() => b.setStr('path', ''), 'EBUSY');
    b.destroy();
    assert.throws(() => fs.fstatSync(fd), /EBADF/, 'destroy closes the adopted fd');
  });

  it('fd reads back the opened fd after connecting by path', () => {
    const b = connectedTo(file);
    assert.ok(b.getInt('fd') >= 0);
    b.destroy();
  });

  it('num-entries must be positive and at most 32768', () => {
    const b = connectedTo(file);
    expectCode(() => b.setInt('num-entries', 0), 'EINVAL');
    b.setInt('num-entries', 40000);
    expectCode(() => b.start(), 'EINVAL', /32768/);
    b.destroy();
  });

  it('poll queues on a target without poll support fail start with EINVAL', () => {
    const b = connectedTo(file);
    b.setInt('num-poll-queues', 1);
    expectCode(() => b.start(), 'EINVAL', /poll queues/);
    b.destroy();
  });

  it('zero queues are allowed because queues can be added', () => {
    const b = connectedTo(file);
    b.setInt('num-queues', 0);
    b.start();
    assert.equal(b.getQueue(0), null);
    b.destroy();
  });
});
