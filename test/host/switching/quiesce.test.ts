// The queue's part of moving requests to another device: a quiesced queue
// keeps new requests from its device, completes what the device holds, and
// hands back, in order, what never reached it (io_uring on a real file).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Blkio, BlkioError, Completion, create, createCompletions, Queue } from '../../../src/lib';
import { randomFile, readFileRange, tempDir } from '../../support/files';

const BLOCK = 4096;

describe('Queue quiescing and taking back unsubmitted requests', () => {
  let dir: string;
  let file: string;
  let b: Blkio;
  let q: Queue;
  let completions: Completion[];

  beforeEach(() => {
    dir = tempDir('blkio-quiesce-');
    file = randomFile(1 << 20, dir);
    b = create('io_uring');
    b.setStr('path', file);
    b.connect();
    // A small ring: requests beyond 4 wait in the queue, not in the kernel.
    b.setInt('num-entries', 4);
    b.start();
    q = b.getQueue(0)!;
    completions = createCompletions(64);
  });
  afterEach(() => {
    b.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // A block of bytes all equal to i, in a region-free buffer.
  const block = (i: number) => new Uint8Array(BLOCK).fill(i);

  it('keeps requests submitted while quiesced from the device', () => {
    q.setQuiesced(true);
    for (let i = 0; i < 8; i++) q.write(i * BLOCK, block(i + 1), i);
    assert.equal(q.doIo(completions, 0, completions.length), 0);
    assert.equal(q.inFlight, 0);
    for (let i = 0; i < 8; i++) assert.notDeepEqual(readFileRange(file, i * BLOCK, BLOCK), Buffer.from(block(i + 1)));
  });

  it('gives the kept requests to the device once quiescing is lifted', () => {
    q.setQuiesced(true);
    for (let i = 0; i < 8; i++) q.write(i * BLOCK, block(i + 1), i);
    q.doIo(completions, 0, 0);
    q.setQuiesced(false);
    let done = 0;
    while (done < 8) done += q.doIo(completions, 1, completions.length);
    for (let i = 0; i < 8; i++) assert.deepEqual(readFileRange(file, i * BLOCK, BLOCK), Buffer.from(block(i + 1)));
  });

  it('completes the requests its device holds while quiesced', () => {
    for (let i = 0; i < 8; i++) q.write(i * BLOCK, block(i + 1), i);
    q.doIo(completions, 0, 0); // 4 reach the ring, 4 wait
    q.setQuiesced(true);
    const held = q.inFlight;
    assert.ok(held > 0 && held <= 4, `the ring holds ${held}`);
    const n = q.doIo(completions, held, completions.length);
    assert.equal(n, held);
    assert.equal(q.inFlight, 0);
    assert.deepEqual(
      completions.slice(0, n).map((c) => c.userData),
      Array.from({ length: held }, (_, i) => i),
    );
  });

  it('hands back every request that never reached the device, oldest first, with its userData', () => {
    for (let i = 0; i < 8; i++) q.write(i * BLOCK, block(i + 1), `w${i}`);
    q.doIo(completions, 0, 0);
    q.setQuiesced(true);
    const held = q.inFlight;
    q.doIo(completions, held, completions.length);
    q.write(8 * BLOCK, block(9), 'w8'); // still in the JS batch
    const taken = q.takeUnsubmitted();
    assert.deepEqual(taken, ['w4', 'w5', 'w6', 'w7', 'w8'].slice(held - 4));
    assert.equal(q.pending, 0);
  });

  it('never completes a request it handed back', () => {
    for (let i = 0; i < 8; i++) q.write(i * BLOCK, block(i + 1), i);
    q.setQuiesced(true);
    q.doIo(completions, 0, 0);
    assert.equal(q.takeUnsubmitted().length, 8);
    q.setQuiesced(false);
    assert.equal(q.doIo(completions, 0, completions.length), 0);
    for (let i = 0; i < 8; i++) assert.notDeepEqual(readFileRange(file, i * BLOCK, BLOCK), Buffer.from(block(i + 1)));
  });

  it('takes nothing from a queue whose requests all reached the device', () => {
    q.write(0, block(1), 'a');
    q.doIo(completions, 0, 0);
    assert.deepEqual(q.takeUnsubmitted(), []);
    assert.equal(q.doIo(completions, 1, completions.length), 1);
    assert.equal(completions[0].userData, 'a');
  });

  it('refuses a quiescing value that is not a boolean', () => {
    assert.throws(
      () => (q.setQuiesced as (v: unknown) => void)(1),
      (e: unknown) => e instanceof BlkioError && e.code === 'EINVAL',
    );
  });
});
