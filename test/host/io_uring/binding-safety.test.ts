// Whatever a JS program passes, a request only
// ever touches memory its buffer owns, is described completely or not at
// all, and every bad argument is a BlkioError EINVAL before any state changes.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Blkio, BlkioError, create, createCompletions, MemRegion, Queue } from '../../../src/lib';
import { randomFile, readFileRange, tempDir } from '../../support/files';
import { expectCode } from '../../shared/behaviour';
import { startedFileEachTest } from '../../support/started-file';

function expectEinval(fn: () => unknown, what: RegExp | string = /./): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof BlkioError, `expected a BlkioError, got ${String(e)}`);
    assert.equal(e.code, 'EINVAL');
    assert.match(e.message, typeof what === 'string' ? new RegExp(what) : what);
    return true;
  });
}


describe('io_uring binding safety', () => {
  let dir: string;
  let file: string;
  let b: Blkio;
  let q: Queue;
  const c = createCompletions(8);
  const started = startedFileEachTest();
  beforeEach(() => ({ dir, file, b, q } = started));

  function readOk(start: number, view: Uint8Array, tag: unknown = 'r'): void {
    q.read(start, view, tag);
    assert.equal(q.doIo(c, 1, 1), 1);
    assert.equal(c[0].userData, tag);
    assert.equal(c[0].ret, 0, c[0].errorMsg ?? '');
  }

  describe('buffer location comes from the engine', () => {
    it('a subclass whose byteLength getter lies gets only its real bytes', () => {
      class Liar extends Uint8Array {
        override get byteLength(): number {
          return 4096;
        }
      }
      const ab = new ArrayBuffer(8192);
      const view = new Liar(ab, 0, 16);
      readOk(0, view);
      assert.deepEqual(Buffer.from(ab, 0, 16), readFileRange(file, 0, 16));
      assert.ok(new Uint8Array(ab, 16).every((x) => x === 0), 'bytes past the view stay untouched');
    });

    it('an own byteLength property is ignored', () => {
      const ab = new ArrayBuffer(8192);
      const view = new Uint8Array(ab, 0, 16);
      Object.defineProperty(view, 'byteLength', { value: 4096 });
      readOk(0, view);
      assert.ok(new Uint8Array(ab, 16).every((x) => x === 0));
    });

    it('an own byteOffset property is ignored', () => {
      const ab = new ArrayBuffer(8192);
      const view = new Uint8Array(ab, 0, 16);
      Object.defineProperty(view, 'byteOffset', { value: 4096 });
      readOk(0, view);
      assert.deepEqual(Buffer.from(ab, 0, 16), readFileRange(file, 0, 16));
      assert.ok(new Uint8Array(ab, 4096).every((x) => x === 0));
    });

    it('an own buffer property naming a mapped region does not redirect the request', () => {
      const region = b.allocMemRegion(8192);
      b.mapMemRegion(region);
      const heap = new Uint8Array(4096);
      Object.defineProperty(heap, 'buffer', { value: region.buffer });
      readOk(0, heap);
      assert.deepEqual(Buffer.from(heap), readFileRange(file, 0, 4096));
      assert.ok(new Uint8Array(region.buffer).every((x) => x === 0), 'the region is untouched');
    });

    it('the location cached on a view cannot be rewritten through reflection', () => {
      const ab = new ArrayBuffer(8192);
      const view = new Uint8Array(ab, 0, 16);
      const other = new Uint8Array(4096);
      readOk(0, view);
      for (const key of Reflect.ownKeys(view)) {
        const cached = (view as unknown as Record<PropertyKey, unknown>)[key];
        if (typeof cached === 'object' && cached !== null)
          Object.assign(cached, { addr: (cached as { addr: number }).addr + 4096 });
      }
      readOk(4096, view);
      assert.deepEqual(Buffer.from(ab, 0, 16), readFileRange(file, 4096, 16));
      assert.ok(new Uint8Array(ab, 16).every((x) => x === 0));
      assert.ok(other.every((x) => x === 0));
    });

    it('an object that only inherits from Uint8Array.prototype is EINVAL', () => {
      expectEinval(() => q.read(0, Object.create(Uint8Array.prototype)), 'Uint8Array');
      expectEinval(() => q.writev(0, [Object.create(Uint8Array.prototype)]), 'Uint8Array');
      assert.equal(q.pending, 0);
    });

    it('a Node Buffer and a Uint8Array subclass are accepted', () => {
      class Tagged extends Uint8Array {}
      const a = Buffer.alloc(512);
      const t = new Tagged(512);
      readOk(0, a);
      readOk(512, t);
      assert.deepEqual(a, readFileRange(file, 0, 512));
      assert.deepEqual(Buffer.from(t), readFileRange(file, 512, 512));
    });
  });

  describe('a request is described completely or not at all', () => {
    it('a Proxy over a Uint8Array is EINVAL and leaves no request behind', () => {
      const good = new Uint8Array(4096);
      readOk(0, good, 'first');
      const before = Buffer.from(good);
      const proxy = new Proxy(new Uint8Array(16), {
        get() {
          throw new Error('boom');
        },
      });
      expectEinval(() => q.read(8192, proxy, 'proxy'), 'Uint8Array');
      assert.equal(q.pending, 0);
      assert.equal(q.doIo(c, 0, 8), 0, 'no half-written request is submitted');
      assert.deepEqual(Buffer.from(good), before);
    });

    it('bufs whose elements change between reads are read once: the request is what was checked', () => {
      const a = new Uint8Array(512);
      let reads = 0;
      const bufs = [a, a];
      Object.defineProperty(bufs, 1, {
        get() {
          reads++;
          if (reads > 1) throw new Error('second read');
          return a;
        },
      });
      q.readv(0, bufs, 'once');
      assert.equal(q.doIo(c, 1, 1), 1);
      assert.equal(c[0].userData, 'once');
      assert.equal(c[0].ret, 0, c[0].errorMsg ?? '');
      assert.equal(q.pending, 0);
    });

    it('a bufs Proxy whose length grows while it is read never makes the queue read past its iovec table', () => {
      const a = new Uint8Array(512);
      let lengthReads = 0;
      const bufs = new Proxy([a], {
        get(target, key) {
          if (key === 'length') return ++lengthReads > 1 ? 5000 : 1;
          return Reflect.get(target, key);
        },
      });
      q.readv(0, bufs, 'grown');
      assert.equal(q.doIo(c, 1, 1), 1);
      assert.equal(c[0].ret, 0, c[0].errorMsg ?? '');
      assert.deepEqual(Buffer.from(a), readFileRange(file, 0, 512));
      assert.equal(q.pending, 0);
    });

    it('a bad element among bufs throws before anything is enqueued', () => {
      expectEinval(() => q.readv(0, [new Uint8Array(8), 'x' as unknown as Uint8Array]), 'Uint8Array');
      assert.equal(q.pending, 0);
      assert.equal(q.doIo(c, 0, 8), 0);
    });
  });

  describe('a buffer detached after enqueue', () => {
    it('a transferred ArrayBuffer fails its read with EFAULT and the moved memory stays untouched', () => {
      const ab = new ArrayBuffer(4096);
      q.read(0, new Uint8Array(ab), 'moved');
      const moved: ArrayBuffer = structuredClone(ab, { transfer: [ab] });
      assert.equal(q.doIo(c, 1, 1), 1);
      assert.equal(c[0].userData, 'moved');
      assert.equal(c[0].ret, -14);
      assert.match(c[0].errorMsg ?? '', /detached/);
      assert.ok(new Uint8Array(moved).every((x) => x === 0));
    });

    it('a transferred buffer fails its write and the file is unchanged', () => {
      const before = readFileRange(file, 0, 4096);
      const ab = new ArrayBuffer(4096);
      q.write(0, new Uint8Array(ab), 'w');
      structuredClone(ab, { transfer: [ab] });
      assert.equal(q.doIo(c, 1, 1), 1);
      assert.equal(c[0].ret, -14);
      assert.deepEqual(readFileRange(file, 0, 4096), before);
    });

    it('a readv with one transferred buffer fails as a whole', () => {
      const keep = new Uint8Array(512);
      const ab = new ArrayBuffer(512);
      q.readv(0, [keep, new Uint8Array(ab)], 'v');
      structuredClone(ab, { transfer: [ab] });
      assert.equal(q.doIo(c, 1, 1), 1);
      assert.equal(c[0].ret, -14);
      assert.ok(keep.every((x) => x === 0));
    });

    it('a resizable ArrayBuffer shrunk after enqueue fails the read with EFAULT; one grown is read into', () => {
      const Resizable = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer & {
        resize(n: number): void;
      };
      const shrinking = new Resizable(4096, { maxByteLength: 8192 });
      const growing = new Resizable(512, { maxByteLength: 8192 });
      q.read(0, new Uint8Array(shrinking), 'shrunk'); // length-tracking views
      q.read(0, new Uint8Array(growing), 'grown');
      shrinking.resize(16);
      growing.resize(4096);
      assert.equal(q.doIo(c, 2, 2), 2);
      const byTag = new Map(c.slice(0, 2).map((x) => [x.userData, x.ret]));
      assert.equal(byTag.get('shrunk'), -14);
      assert.equal(byTag.get('grown'), 0);
      assert.deepEqual(Buffer.from(growing, 0, 512), readFileRange(file, 0, 512));
    });

    it('createCompletions with a bad count is EINVAL', () => {
      for (const n of [-1, 1.5, NaN, 2 ** 32, '4' as unknown as number]) expectEinval(() => createCompletions(n));
    });

    it('requests around the detached one still complete normally', () => {
      const ab = new ArrayBuffer(512);
      const a = new Uint8Array(512);
      q.read(0, a, 'before');
      q.read(0, new Uint8Array(ab), 'moved');
      q.read(512, new Uint8Array(512), 'after');
      structuredClone(ab, { transfer: [ab] });
      assert.equal(q.doIo(c, 3, 3), 3);
      const byTag = new Map(c.slice(0, 3).map((x) => [x.userData, x.ret]));
      assert.deepEqual([...byTag.entries()].sort(), [['after', 0], ['before', 0], ['moved', -14]]);
    });
  });

  describe('regions in use (items 5 and 8)', () => {
    it('freeing a region with a request queued into it is EBUSY; the request then completes into it', () => {
      const r1 = b.allocMemRegion(4096);
      q.read(0, new Uint8Array(r1.buffer), 'queued');
      expectCode(() => b.freeMemRegion(r1), 'EBUSY');
      const r2 = b.allocMemRegion(4096);
      assert.equal(q.doIo(c, 1, 1), 1);
      assert.equal(c[0].ret, 0);
      assert.deepEqual(Buffer.from(r1.buffer), readFileRange(file, 0, 4096));
      assert.ok(new Uint8Array(r2.buffer).every((x) => x === 0));
      b.freeMemRegion(r1);
    });

    it('unmapping a region with a request submitted and not yet reaped is EBUSY; after reaping it works', () => {
      const r = b.allocMemRegion(4096);
      b.mapMemRegion(r);
      q.read(0, new Uint8Array(r.buffer), 'in flight');
      q.doIo(c, 0, 0);
      expectCode(() => b.unmapMemRegion(r), 'EBUSY');
      expectCode(() => b.freeMemRegion(r), 'EBUSY');
      assert.equal(q.doIo(c, 1, 1), 1);
      assert.equal(c[0].ret, 0);
      b.unmapMemRegion(r);
      b.freeMemRegion(r);
    });

    it('freeing an unmapped region with a request still outstanding is EBUSY', () => {
      const r = b.allocMemRegion(4096);
      q.read(0, new Uint8Array(r.buffer, 0, 512), 'outstanding');
      expectCode(() => b.freeMemRegion(r), 'EBUSY');
      assert.equal(q.doIo(c, 1, 1), 1);
      assert.equal(c[0].ret, 0);
      assert.deepEqual(Buffer.from(r.buffer, 0, 512), readFileRange(file, 0, 512));
      b.freeMemRegion(r);
    });

    it('a region of instance A mapped into instance B cannot be freed by A until B unmaps it', () => {
      const other = create('io_uring');
      try {
        other.setStr('path', file);
        other.connect();
        other.start();
        const r = b.allocMemRegion(4096);
        other.mapMemRegion(r);
        expectCode(() => b.freeMemRegion(r), 'EBUSY');
        other.unmapMemRegion(r);
        b.freeMemRegion(r);
      } finally {
        other.destroy();
      }
    });

    it('instance A destroyed while B maps its region: B keeps reading into live pages', () => {
      const a = create('io_uring');
      a.setStr('path', file);
      a.connect();
      a.start();
      const r = a.allocMemRegion(4096);
      const shared = new Uint8Array(r.buffer);
      b.mapMemRegion(r);
      // B's own view of the same memory, made by B before A goes.
      a.destroy(); // must not unmap memory that B has mapped
      assert.equal(shared.byteLength, 0, "A's buffer is detached");
      // New memory must not land where B still has A's old pages mapped.
      const fresh = b.allocMemRegion(4096);
      readOk(0, new Uint8Array(fresh.buffer));
      assert.deepEqual(Buffer.from(fresh.buffer), readFileRange(file, 0, 4096));
      b.unmapMemRegion(r); // now A's memory may go
    });
  });

  describe('integers from JS are range-checked (items 6, 7, 17, 18)', () => {
    for (const bad of [2 ** 32, 2 ** 32 + 1, -1, 1.5, NaN, Infinity, 2 ** 31]) {
      it(`getQueue(${bad}) and removeQueue(${bad}) are EINVAL`, () => {
        expectEinval(() => b.getQueue(bad), 'queue index');
        expectEinval(() => b.removeQueue(bad), 'queue index');
        assert.ok(b.getQueue(0), 'queue 0 is still there');
      });
    }

    it('getQueue(1n) (a BigInt) is EINVAL', () => {
      expectEinval(() => b.getQueue(1n as unknown as number), 'queue index');
    });

    it('writes after getQueue(2**32) still reach the file', () => {
      expectEinval(() => b.getQueue(2 ** 32));
      const data = Buffer.alloc(512, 0xab);
      q.write(0, data, 'w');
      assert.equal(q.doIo(c, 1, 1), 1);
      assert.equal(c[0].ret, 0);
      assert.deepEqual(readFileRange(file, 0, 512), data);
    });

    for (const [min, max] of [
      [2 ** 31 - 1, 2 ** 31 - 1],
      [0, 2 ** 31],
      [-1, 1],
      [1, 0],
      [0.5, 1],
      [NaN, 1],
      [0, Infinity],
      [5, 8],
    ]) {
      it(`doIo(c, ${min}, ${max}) is EINVAL and loses nothing queued`, () => {
        const data = Buffer.alloc(512, 0xcd);
        q.write(4096, data, 'kept');
        expectEinval(() => q.doIo(c, min, max));
        assert.equal(q.pending, 1);
        assert.equal(q.doIo(c, 1, 1), 1);
        assert.equal(c[0].userData, 'kept');
        assert.equal(c[0].ret, 0);
        assert.deepEqual(readFileRange(file, 4096, 512), data);
      });
    }

    for (const t of [Infinity, -1, NaN, -1n, 2n ** 64n, '5' as unknown as number]) {
      it(`doIo timeout ${String(t)} is EINVAL`, () => {
        q.read(0, new Uint8Array(512), 'r');
        expectEinval(() => q.doIo(c, 1, 1, t), 'timeoutNs');
        assert.equal(q.doIo(c, 1, 1), 1);
      });
    }

    function region(overrides: Partial<Record<keyof MemRegion, unknown>>): MemRegion {
      const r = b.allocMemRegion(4096);
      return { ...r, ...overrides } as MemRegion;
    }
    const badRegions: [string, Partial<Record<keyof MemRegion, unknown>>][] = [
      ['len -4096', { len: -4096 }],
      ['len 0', { len: 0 }],
      ['len 1.5', { len: 1.5 }],
      ['len 2**64', { len: 2 ** 64 }],
      ['addr 2**64', { addr: 2n ** 64n }],
      ['addr -1n', { addr: -1n }],
      ['addr as a number', { addr: 4096 }],
      ['iova 2**64', { iova: 2n ** 64n }],
      ['fd 1.5', { fd: 1.5 }],
      ['fd 2**32', { fd: 2 ** 32 }],
      ['flags -1', { flags: -1 }],
      ['fdOffset NaN', { fdOffset: NaN }],
      ['fdOffset as a string', { fdOffset: '0' }],
    ];
    for (const [name, overrides] of badRegions) {
      it(`mapMemRegion, unmapMemRegion and freeMemRegion with ${name} are EINVAL`, () => {
        const r = region(overrides);
        expectEinval(() => b.mapMemRegion(r), 'region');
        expectEinval(() => b.unmapMemRegion(r), 'region');
        expectEinval(() => b.freeMemRegion(r), 'region');
      });
    }

    for (const len of [2 ** 53, -1, 0, 1.5, NaN, '4096' as unknown as number, 4096n as unknown as number]) {
      it(`allocMemRegion(${String(len)}) is EINVAL`, () => {
        expectEinval(() => b.allocMemRegion(len), 'len');
      });
    }

    it('a huge allocMemRegion is a BlkioError', () => {
      assert.throws(() => b.allocMemRegion(2 ** 52), (e: unknown) => e instanceof BlkioError);
    });

    it('start, len and flags that do not fit are EINVAL and enqueue nothing', () => {
      const buf = new Uint8Array(512);
      expectEinval(() => q.read(2 ** 64, buf));
      expectEinval(() => q.read(2n ** 64n, buf));
      expectEinval(() => q.read(-1, buf));
      expectEinval(() => q.read(0, buf, undefined, 2 ** 32));
      expectEinval(() => q.read(0, buf, undefined, 1.5));
      expectEinval(() => q.discard(0, 2n ** 60n));
      expectEinval(() => q.writeZeroes(0, -1));
      expectEinval(() => q.readv(0, { length: 1, 0: buf } as unknown as Uint8Array[]));
      assert.equal(q.pending, 0);
    });
  });

  it('a zero-length view over a mapped region completes with 0', () => {
    const r = b.allocMemRegion(4096);
    b.mapMemRegion(r);
    q.read(0, new Uint8Array(r.buffer, 4096, 0), 'empty read');
    q.write(0, new Uint8Array(r.buffer, 0, 0), 'empty write');
    assert.equal(q.doIo(c, 2, 2), 2);
    assert.deepEqual(c.slice(0, 2).map((x) => x.ret), [0, 0]);
  });

  describe('queue removal while a worker is inside doIo', () => {
    it('removeQueue during a worker\'s doIo loop is EBUSY or succeeds; the worker then gets ENODEV, no crash', async function () {
      this.timeout(60000);
      // A ring as large as the worker's batches, so one doIo takes a while.
      const owner = create('io_uring');
      owner.setStr('path', file);
      owner.connect();
      owner.setInt('num-entries', 4096);
      owner.start();
      const index = owner.addQueue();
      const state = new Int32Array(new SharedArrayBuffer(8));
      const worker = new Worker(path.join(__dirname, 'busy-worker.js'), {
        workerData: { handle: owner.share(), index, state },
      });
      const message = new Promise<{ outcome: string; rounds: number }>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
      // Once the worker's loop runs at speed, most of its time is inside doIo.
      while (Atomics.load(state, 0) < 3) await new Promise((r) => setTimeout(r, 2));
      let busy = 0;
      for (;;) {
        try {
          owner.removeQueue(index);
          break;
        } catch (e) {
          assert.ok(e instanceof BlkioError, String(e));
          assert.equal(e.code, 'EBUSY');
          busy++;
          await new Promise((r) => setImmediate(r));
        }
      }
      const { outcome } = await message;
      assert.equal(outcome, 'removed');
      assert.equal(await exited, 0);
      expectCode(() => owner.removeQueue(index), 'ENOENT');
      owner.destroy();
      console.log(`      (removal refused ${busy} times while the worker was inside doIo)`);
    });
  });
});

describe('io_uring completions that cannot be written', () => {
  let q: Queue;
  const started = startedFileEachTest(1 << 16);
  beforeEach(() => ({ q } = started));

  it('a frozen entry is EINVAL and the completions not delivered come with the next doIo', () => {
    for (let i = 0; i < 3; i++) q.read(512 * i, new Uint8Array(512), i);
    const bad = createCompletions(3);
    Object.freeze(bad[1]);
    expectEinval(() => q.doIo(bad, 3, 3), 'completions\\[1\\]');
    assert.equal(bad[0].userData, 0);
    assert.equal(q.pending, 2);
    const good = createCompletions(3);
    assert.equal(q.doIo(good, 2, 3), 2);
    assert.deepEqual(good.slice(0, 2).map((c) => c.userData).sort(), [1, 2]);
    assert.equal(q.pending, 0);
  });

  it('a frozen completions array that would have to grow is EINVAL and loses nothing', () => {
    q.read(0, new Uint8Array(512), 'kept');
    expectEinval(() => q.doIo(Object.freeze([]) as unknown as [], 1, 1), 'completions\\[0\\]');
    const c = createCompletions(1);
    assert.equal(q.doIo(c, 1, 1), 1);
    assert.equal(c[0].userData, 'kept');
  });
});
