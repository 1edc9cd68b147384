/**
 * The job loop against a scripted queue: submission and reaping follow fio's batching options, every
 * request is accounted for, and failures stop the job with the request named.
 */
import * as assert from 'node:assert/strict';
import type { Completion, Queue } from '../../../src/lib';
import { parseCommandLine } from '../../../src/blkbench/args';
import { JobLoop } from '../../../src/blkbench/loop';

interface Call {
  submitted: number;
  min: number;
  max: number;
}

interface Request {
  seq: number;
  userData: number;
}

/**
 * An in-memory device that completes every submitted request at once, like a page-cache hit on
 * io_uring. It keeps written blocks so that reads return them.
 */
class InstantQueue {
  readonly calls: Call[] = [];
  readonly offsets: number[] = [];
  private readonly blocks = new Map<number, Uint8Array>();
  private enqueued: Request[] = [];
  private done: Request[] = [];
  /** Sequence number (in enqueue order) of a request to fail with EIO, or -1. */
  failAt = -1;

  read(start: number, buf: Uint8Array, userData: number): void {
    const stored = this.blocks.get(start);
    if (stored) buf.set(stored.subarray(0, buf.length));
    else buf.fill(0);
    this.add(start, userData);
  }

  write(start: number, buf: Uint8Array, userData: number): void {
    this.blocks.set(start, buf.slice());
    this.add(start, userData);
  }

  discard(start: number, _len: number, userData: number): void {
    this.add(start, userData);
  }

  private add(start: number, userData: number): void {
    this.enqueued.push({ seq: this.offsets.length, userData });
    this.offsets.push(start);
  }

  doIo(completions: Completion[], min: number, max: number): number {
    this.calls.push({ submitted: this.enqueued.length, min, max });
    this.done.push(...this.enqueued);
    this.enqueued = [];
    assert.ok(min <= this.done.length, `doIo min ${min} exceeds ${this.done.length} outstanding`);
    const n = Math.min(max, this.done.length);
    for (let i = 0; i < n; i++) {
      const req = this.done.shift()!;
      const failing = req.seq === this.failAt;
      completions[i].userData = req.userData;
      completions[i].ret = failing ? -5 : 0;
      completions[i].errorMsg = failing ? 'Input/output error' : null;
    }
    return n;
  }
}

function loopFor(argv: string[], queue: InstantQueue, regionLen = 1 << 20): JobLoop {
  const spec = parseCommandLine(['--filename=/dev/null', ...argv]).jobs[0];
  return new JobLoop({
    spec,
    jobIndex: 0,
    queue: queue as unknown as Queue,
    completions: Array.from({ length: spec.iodepth }, () => ({ userData: undefined, ret: 0, errorMsg: null })),
    memory: new ArrayBuffer(spec.iodepth * 65536),
    memoryOffset: 0,
    slotStride: 65536,
    regionStart: 0,
    regionLen,
    ioLimit: regionLen,
  });
}

describe('blkbench job loop', () => {
  it('with fio\'s defaults, submits each request on its own and reaps one at a time once the queue is full', () => {
    const q = new InstantQueue();
    const r = loopFor(['--rw=randread', '--bs=4k', '--iodepth=4', '--size=64k'], q, 64 << 10).runSync();
    assert.equal(r.dirs.read.ios, 16);
    assert.deepEqual(q.calls.slice(0, 5), [
      { submitted: 1, min: 0, max: 0 },
      { submitted: 1, min: 0, max: 0 },
      { submitted: 1, min: 0, max: 0 },
      { submitted: 1, min: 0, max: 0 },
      { submitted: 0, min: 1, max: 1 },
    ]);
  });

  it('submits iodepth_batch_submit requests per doIo and reaps up to iodepth_batch_complete_max', () => {
    const q = new InstantQueue();
    loopFor(['--rw=randread', '--bs=4k', '--iodepth=8', '--iodepth_batch_submit=4', '--iodepth_batch_complete_max=8', '--size=256k'], q).runSync();
    assert.deepEqual(q.calls.slice(0, 3), [
      { submitted: 4, min: 0, max: 0 },
      { submitted: 4, min: 0, max: 0 },
      { submitted: 0, min: 1, max: 8 },
    ]);
    assert.ok(q.calls.every((c) => c.submitted <= 4));
  });

  it('waits for iodepth_batch_complete_min completions when the queue is full', () => {
    const q = new InstantQueue();
    loopFor(['--rw=read', '--bs=4k', '--iodepth=8', '--iodepth_batch_submit=8', '--iodepth_batch_complete_min=4', '--size=128k'], q).runSync();
    assert.deepEqual(q.calls.slice(0, 2), [{ submitted: 8, min: 0, max: 0 }, { submitted: 0, min: 4, max: 4 }]);
  });

  it('reads a sequential region in order, each block once', () => {
    const q = new InstantQueue();
    const r = loopFor(['--rw=read', '--bs=16k', '--iodepth=2', '--size=64k'], q, 64 << 10).runSync();
    assert.deepEqual(q.offsets, [0, 16384, 32768, 49152]);
    assert.equal(r.dirs.read.bytes, 65536);
  });

  it('adds the job\'s offset to every request', () => {
    const q = new InstantQueue();
    const spec = parseCommandLine(['--filename=/dev/null', '--rw=read', '--bs=4k']).jobs[0];
    new JobLoop({
      spec, jobIndex: 0, queue: q as unknown as Queue, completions: [{ userData: 0, ret: 0, errorMsg: null }],
      memory: new ArrayBuffer(4096), memoryOffset: 0, slotStride: 4096, regionStart: 1 << 20, regionLen: 8192, ioLimit: 8192,
    }).runSync();
    assert.deepEqual(q.offsets, [1 << 20, (1 << 20) + 4096]);
  });

  it('counts every request of a size-bound random job once, with its latency', () => {
    const q = new InstantQueue();
    const r = loopFor(['--rw=randread', '--bs=4k', '--iodepth=16', '--iodepth_batch_submit=16', '--iodepth_batch_complete_max=16'], q).runSync();
    assert.equal(r.dirs.read.ios, 256);
    assert.equal(new Set(q.offsets).size, 256);
    assert.equal(r.dirs.read.lat.n, 256);
    assert.equal(r.dirs.read.hist.reduce((a, b) => a + b, 0), 256);
    assert.ok(r.dirs.read.lat.min > 0);
  });

  it('stops at the first failed request and names it', () => {
    const q = new InstantQueue();
    q.failAt = 5;
    const r = loopFor(['--rw=read', '--bs=4k', '--iodepth=4'], q).runSync();
    assert.equal(r.error, 5);
    assert.equal(r.errorMessage, 'read of 4096 bytes at offset 20480 failed: Input/output error');
    assert.ok(q.offsets.length < 256, 'the job stops issuing after the failure');
  });

  it('fails verification of blocks without a header and stops with EILSEQ', () => {
    const q = new InstantQueue();
    const r = loopFor(['--rw=read', '--bs=4k', '--iodepth=4', '--verify=crc32c'], q).runSync();
    assert.equal(r.error, 84);
    assert.match(r.errorMessage!, /^verify: bad block at offset \d+ \(length 4096\): no verify header/);
  });

  it('writes verified blocks, then reads each one back in a verify phase that is not counted as I/O', () => {
    const q = new InstantQueue();
    const r = loopFor(['--rw=randwrite', '--bs=4k', '--iodepth=4', '--verify=md5'], q, 64 << 10).runSync();
    assert.equal(r.error, 0, r.errorMessage ?? '');
    assert.equal(r.dirs.write.ios, 16);
    assert.equal(r.dirs.read.ios, 0);
    assert.equal(r.verifiedBlocks, 16);
    assert.deepEqual(q.offsets.slice(16), Array.from({ length: 16 }, (_, i) => i * 4096));
  });

  it('mixes directions by rwmixread', () => {
    const q = new InstantQueue();
    const r = loopFor(['--rw=randrw', '--rwmixread=25', '--bs=4k', '--iodepth=8'], q, 4 << 20).runSync();
    const share = r.dirs.read.ios / (r.dirs.read.ios + r.dirs.write.ios);
    assert.ok(Math.abs(share - 0.25) < 0.04, `read share ${share}`);
  });

  it('fills fio\'s depth tables: submit and complete batch sizes', () => {
    const q = new InstantQueue();
    const r = loopFor(['--rw=randread', '--bs=4k', '--iodepth=32', '--iodepth_batch_submit=32', '--iodepth_batch_complete_max=32'], q).runSync();
    assert.ok(r.depth.submit[4] > 0, 'batches of 17-32 submitted');
    assert.ok(r.depth.level[5] > 0, 'depth 32 reached');
  });
});
