// libblkio's rule, which the mirror keeps: requests not yet returned by doIo
// when their queue is removed or their instance destroyed are abandoned. They
// never complete, the queue forgets them, and their buffers are not written
// afterwards. (The Promise layer settles every request: test/host/promise/close.test.ts.)
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { BlkioError, createCompletions } from '../../../src/lib';
import { startedFileEachTest } from '../../support/started-file';

const ENODEV = -19;

describe('requests abandoned by removeQueue() and destroy()', () => {
  const ctx = startedFileEachTest();

  function expectEnodev(fn: () => unknown): void {
    assert.throws(fn, (e: unknown) => e instanceof BlkioError && e.errno === ENODEV);
  }

  it('a request enqueued on a removed queue never completes: doIo gives ENODEV and pending is 0', () => {
    const index = ctx.b.addQueue();
    const q = ctx.b.getQueue(index)!;
    const buf = new Uint8Array(4096).fill(0xee);
    q.read(0, buf);
    assert.equal(q.pending, 1);
    ctx.b.removeQueue(index);
    assert.equal(q.pending, 0);
    expectEnodev(() => q.doIo(createCompletions(1), 0, 1));
    assert.ok(buf.every((x) => x === 0xee), 'the abandoned read wrote its buffer');
  });

  it('a request enqueued when the instance is destroyed never completes: doIo gives ENODEV and pending is 0', () => {
    const buf = new Uint8Array(4096).fill(0xee);
    ctx.q.read(0, buf);
    ctx.b.destroy();
    assert.equal(ctx.q.pending, 0);
    expectEnodev(() => ctx.q.doIo(createCompletions(1), 0, 1));
    assert.ok(buf.every((x) => x === 0xee), 'the abandoned read wrote its buffer');
  });

  it('an abandoned write does not reach the file', () => {
    const before = fs.readFileSync(ctx.file).subarray(0, 4096);
    ctx.q.write(0, new Uint8Array(4096).fill(0x5a));
    ctx.b.destroy();
    assert.deepEqual(fs.readFileSync(ctx.file).subarray(0, 4096), before);
  });
});
