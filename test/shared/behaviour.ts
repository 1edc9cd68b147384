// The behavioural suite every driver passes where libblkio's semantics are
// shared. Each driver's test file calls describeBehaviour with its target.
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { Blkio, BlkioError, create, createCompletions, open, REQ_FUA, REQ_NO_FALLBACK, REQ_NO_UNMAP } from '../../src/lib';
import { createConnected, expectEachCompletesOnce, startWithRegion, Started, Target, TargetInstance } from '../support/target';

const KiB = 1024;

export function expectCode(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof BlkioError, `expected a BlkioError, got ${String(e)}`);
    assert.equal(e.code, code, `wrong code for: ${e.message}`);
    assert.ok(e.errno < 0);
    assert.ok(e.message.length > 0);
    if (message) assert.match(e.message, message);
    return true;
  });
}

function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/** Sets the ring size property of whichever driver this is. */
function setRingSize(b: ReturnType<typeof create>, n: number): void {
  try {
    b.setInt('num-entries', n);
  } catch (e) {
    if ((e as BlkioError).code !== 'ENOENT') throw e;
    b.setInt('queue-size', n);
  }
}

// Whether discard / write zeroes without fallback must succeed. The virtio-blk
// and NVMe drivers report 0 in max-discard-len / max-write-zeroes-len when the
// device lacks the request. io_uring reports 0 for "no limit": on files it
// always has both (fallocate); on a block device it has what the kernel's
// queue limits say.
function supportedByReport(b: Blkio, path: string, property: 'max-discard-len' | 'max-write-zeroes-len'): boolean {
  if (b.getStr('driver') !== 'io_uring') return b.getUint64(property) > 0n;
  const st = fs.statSync(path);
  if (!st.isBlockDevice()) return true;
  const major = Math.floor(st.rdev / 256) & 0xfff;
  const minor = (st.rdev & 0xff) | (Math.floor(st.rdev / 4096) & ~0xff);
  const limit = property === 'max-discard-len' ? 'discard_max_bytes' : 'write_zeroes_max_bytes';
  return Number(fs.readFileSync(`/sys/dev/block/${major}:${minor}/queue/${limit}`, 'utf8')) > 0;
}

export function describeBehaviour(target: Target): void {
  describe(`${target.driver} on ${target.description}: shared libblkio behaviour`, function () {
    this.timeout(60000);
    let t: TargetInstance;
    let s: Started | undefined;
    const connected = (props = {}) => createConnected(target, t, props);
    const started = (props = {}) => (s = startWithRegion(connected(props)));

    beforeEach(async () => {
      t = await target.setup();
    });
    afterEach(async () => {
      s?.b.destroy();
      s = undefined;
      await t.teardown();
    });

    describe('lifecycle', () => {
      it('a second connect() or start() changes nothing: same capacity, same queue, which still works', () => {
        const b = connected();
        const capacity = b.getUint64('capacity');
        b.connect();
        assert.equal(b.getUint64('capacity'), capacity);
        b.start();
        const q = b.getQueue(0);
        const queues = b.getInt('num-queues');
        b.start();
        assert.equal(b.getQueue(0), q);
        assert.equal(b.getInt('num-queues'), queues);
        assert.equal(b.getQueue(queues), null, 'start() added no queue');
        q!.flush('f');
        const got = createCompletions(1);
        assert.equal(q!.doIo(got, 1, 1, 10e9), 1);
        assert.equal(got[0].ret, 0, got[0].errorMsg ?? '');
        b.destroy();
      });

      it('connect after start fails with EBUSY', () => {
        const { b } = started();
        expectCode(() => b.connect(), 'EBUSY');
      });

      it('start before connect fails with ENODEV', () => {
        const b = create(target.driver);
        expectCode(() => b.start(), 'ENODEV');
        b.destroy();
      });

      it('destroy is idempotent and later calls fail with ENODEV', () => {
        const b = connected();
        b.destroy();
        b.destroy();
        expectCode(() => b.getUint64('capacity'), 'ENODEV');
      });
    });

    describe('properties', () => {
      it('driver reads back the driver name and is read-only', () => {
        const b = create(target.driver);
        // A libblkio library's instance reports the library's own driver name.
        assert.equal(b.getStr('driver'), target.driver.replace(/^libblkio:/, ''));
        expectCode(() => b.setStr('driver', 'x'), 'EACCES');
        b.destroy();
      });

      it('an unknown property gives ENOENT', () => {
        const b = create(target.driver);
        expectCode(() => b.getInt('no-such-property'), 'ENOENT', /no-such-property/);
        expectCode(() => b.setInt('no-such-property', 1), 'ENOENT');
        b.destroy();
      });

      it('an accessor of the wrong type gives ENOTTY', () => {
        const b = create(target.driver);
        expectCode(() => b.getInt('path'), 'ENOTTY');
        expectCode(() => b.setBool('path', true), 'ENOTTY');
        b.destroy();
      });

      it('device limits need a connection and are read-only', () => {
        const b = create(target.driver);
        for (const name of ['capacity', 'request-alignment', 'buf-alignment', 'max-segments', 'max-queues'])
          assert.throws(() => b.getStr(name), (e: BlkioError) => e.code === 'ENODEV');
        b.setStr('path', t.path);
        for (const [k, v] of Object.entries(t.properties ?? {})) b.setStr(k, String(v));
        b.connect();
        expectCode(() => b.setUint64('capacity', 1), 'EACCES');
        expectCode(() => b.setInt('request-alignment', 1), 'EACCES');
        b.destroy();
      });

      it('path cannot be set after connect (EBUSY)', () => {
        const b = connected();
        expectCode(() => b.setStr('path', t.path), 'EBUSY');
        b.destroy();
      });

      it('num-queues is settable only between connect and start', () => {
        const b = create(target.driver);
        expectCode(() => b.setInt('num-queues', 1), 'ENODEV');
        b.destroy();
        const c = connected();
        expectCode(() => c.setInt('num-queues', -1), 'EINVAL');
        c.setInt('num-queues', 1);
        c.start();
        expectCode(() => c.setInt('num-queues', 1), 'EBUSY');
        c.destroy();
      });

      it('getStr formats and setStr parses every type', () => {
        const b = create(target.driver);
        assert.equal(b.getStr('read-only'), 'false');
        b.setStr('read-only', 'true');
        assert.equal(b.getBool('read-only'), true);
        expectCode(() => b.setStr('read-only', 'yes'), 'EINVAL', /"true" or "false"/);
        b.destroy();
      });

      it('capacity is the size of the target', () => {
        const b = connected();
        assert.equal(b.getUint64('capacity'), BigInt(t.capacity));
        b.destroy();
      });
    });

    describe('queues', () => {
      it('getQueue gives null before start and for a missing index, the same object otherwise', () => {
        const b = connected();
        assert.equal(b.getQueue(0), null);
        b.start();
        assert.ok(b.getQueue(0));
        assert.equal(b.getQueue(0), b.getQueue(0));
        assert.equal(b.getQueue(1), null);
        assert.equal(b.getPollQueue(0), null);
        b.destroy();
      });

      it('start fails with EINVAL when num-queues exceeds max-queues', function () {
        const b = connected();
        const max = b.getInt('max-queues');
        if (max === 2 ** 31 - 1) {
          b.destroy();
          this.skip(); // no num-queues exceeds it (io_uring); the vhost-user targets have a real limit
        }
        b.setInt('num-queues', max + 1);
        expectCode(() => b.start(), 'EINVAL', /max-queues/);
        b.destroy();
      });
    });

    describe('memory regions', () => {
      it('allocation needs a connection (ENODEV)', () => {
        const b = create(target.driver);
        expectCode(() => b.allocMemRegion(4096), 'ENODEV');
        b.destroy();
      });

      it('mapping needs a started device (EBUSY)', () => {
        const b = connected();
        const r = b.allocMemRegion(64 * KiB);
        expectCode(() => b.mapMemRegion(r), 'EBUSY');
        b.destroy();
      });

      it('mapping twice fails with EINVAL, unmapping twice is harmless, remapping works', () => {
        const { b, q, region, view, complete } = started();
        expectCode(() => b.mapMemRegion(region), 'EINVAL', /already mapped/);
        b.unmapMemRegion(region);
        b.unmapMemRegion(region);
        b.mapMemRegion(region);
        view(0, 4096).fill(0x41);
        q.write(0, view(0, 4096));
        assert.equal(complete(1)[0].ret, 0);
        q.read(0, view(4096, 4096));
        assert.equal(complete(1)[0].ret, 0);
        assert.deepEqual(view(4096, 4096), view(0, 4096));
      });

      it('freeing a mapped region fails with EBUSY; freeing detaches its buffer', () => {
        const { b, region } = started();
        expectCode(() => b.freeMemRegion(region), 'EBUSY');
        b.unmapMemRegion(region);
        b.freeMemRegion(region);
        assert.equal(region.buffer.byteLength, 0);
        expectCode(() => b.freeMemRegion(region), 'EINVAL');
      });

      it('region memory is a memfd shared mapping visible through buffer', () => {
        const { region } = started();
        assert.ok(region.fd >= 0);
        assert.match(fs.readlinkSync(`/proc/self/fd/${region.fd}`), /memfd:blkio-buf/);
        assert.equal(region.buffer.byteLength, region.len);
      });
    });

    describe('requests', () => {
      it('write then read returns the data, and the target holds it', async () => {
        const { q, view, complete } = started();
        const data = crypto.randomBytes(64 * KiB);
        view(0, data.length).set(data);
        q.write(128 * KiB, view(0, data.length));
        assert.equal(complete(1)[0].ret, 0);
        q.read(128 * KiB, view(data.length, data.length));
        assert.equal(complete(1)[0].ret, 0);
        assert.deepEqual(Buffer.from(view(data.length, data.length)), data);
        if (t.readOutside) assert.deepEqual(await t.readOutside(128 * KiB, data.length), data);
      });

      it('writev and readv scatter and gather', () => {
        const { q, view, complete } = started();
        const parts = [view(0, 4096), view(8192, 8192), view(32768, 4096)];
        for (const p of parts) crypto.randomFillSync(p);
        q.writev(64 * KiB, parts);
        assert.equal(complete(1)[0].ret, 0);
        const back = [view(65536, 12288), view(131072, 4096)];
        q.readv(64 * KiB, back);
        assert.equal(complete(1)[0].ret, 0);
        assert.deepEqual(Buffer.concat(back.map((b) => Buffer.from(b))), Buffer.concat(parts.map((p) => Buffer.from(p))));
      });

      it('flush completes successfully', () => {
        const { q, complete } = started();
        q.flush('f');
        const [c] = complete(1);
        assert.equal(c.ret, 0);
        assert.equal(c.userData, 'f');
      });

      it('a FUA write completes and its data is visible from outside the library', async function () {
        if (!t.readOutside) this.skip(); // nothing outside the library can read this target (vdpa_sim_blk keeps its data in its own memory)
        const { q, view, complete } = started();
        view(0, 4096).fill(0x5a);
        q.write(0, view(0, 4096), null, REQ_FUA);
        assert.equal(complete(1)[0].ret, 0);
        assert.ok((await t.readOutside!(0, 4096)).every((x) => x === 0x5a));
      });

      for (const [name, flags] of [['no flags', 0], ['FUA', REQ_FUA], ['NO_UNMAP', REQ_NO_UNMAP]] as const) {
        it(`writeZeroes with ${name} leaves zeros`, () => {
          const { q, view, complete } = started();
          q.writeZeroes(8192, 8192, null, flags);
          const [c] = complete(1);
          assert.equal(c.ret, 0, c.errorMsg ?? '');
          q.read(4096, view(0, 16384));
          assert.equal(complete(1)[0].ret, 0);
          assert.ok(view(4096, 8192).every((x) => x === 0));
          assert.ok(!view(0, 4096).every((x) => x === 0), 'data before the range is untouched');
        });
      }

      it('writeZeroes with NO_FALLBACK succeeds exactly where the driver reports native write zeroes, else ENOTSUP', () => {
        const { b, q, complete } = started();
        const want = supportedByReport(b, t.path, 'max-write-zeroes-len') ? 0 : -95;
        q.writeZeroes(0, 4096, null, REQ_NO_FALLBACK);
        const [c] = complete(1);
        assert.equal(c.ret, want, `max-write-zeroes-len ${b.getUint64('max-write-zeroes-len')}: ${c.errorMsg}`);
      });

      it('discard succeeds exactly where the driver reports discard, else ENOTSUP', () => {
        const { b, q, complete } = started();
        const want = supportedByReport(b, t.path, 'max-discard-len') ? 0 : -95;
        q.discard(0, 64 * KiB);
        const [c] = complete(1);
        assert.equal(c.ret, want, `max-discard-len ${b.getUint64('max-discard-len')}: ${c.errorMsg}`);
      });

      it('userData comes back identical', () => {
        const { q, view, complete } = started();
        const objects = [{ a: 1 }, 'text', 42n, undefined, null, Symbol('s')];
        objects.forEach((ud, i) => q.read(i * 4096, view(i * 4096, 4096), ud));
        const got = complete(objects.length).map((c) => c.userData);
        for (const o of objects) assert.ok(got.includes(o));
      });

      it('unknown flag bits complete with EINVAL and a message', () => {
        const { q, view, complete } = started();
        q.read(0, view(0, 4096), 'r', 1 << 8);
        const [c] = complete(1);
        assert.equal(c.ret, -22);
        assert.equal(c.errorMsg, 'unsupported bits in request flags');
      });

      it('a flag invalid for the request type completes with EINVAL naming it', () => {
        const { q, view, complete } = started();
        q.read(0, view(0, 4096), 'r', REQ_FUA);
        q.discard(0, 4096, 'd', REQ_NO_UNMAP);
        for (const c of complete(2)) {
          assert.equal(c.ret, -22);
          assert.equal(c.errorMsg, `BLKIO_REQ_${c.userData === 'r' ? 'FUA' : 'NO_UNMAP'} is invalid for this request type`);
        }
      });

      it('a request past the end of a fixed-size device completes with EINVAL', function () {
        const { b, q, view, complete } = started();
        if (b.getBool('can-grow')) this.skip(); // a file grows instead; loop devices and virtio-blk are fixed-size
        q.read(BigInt(t.capacity), view(0, 4096));
        assert.equal(complete(1)[0].ret, -22);
      });

      it('a start that is not a multiple of request-alignment completes with EINVAL', function () {
        const { b, q, view, complete } = started();
        if (b.getInt('request-alignment') === 1) this.skip(); // every start is aligned (buffered io_uring); O_DIRECT and virtio-blk are not
        q.read(1, view(0, 4096));
        const [c] = complete(1);
        assert.equal(c.ret, -22);
        assert.match(c.errorMsg ?? '', /request-alignment/);
      });

      it('a wrong argument type throws EINVAL at once', () => {
        const { q } = started();
        expectCode(() => q.read(-1, new Uint8Array(4096)), 'EINVAL', /start/);
        expectCode(() => q.read(0, 'x' as unknown as Uint8Array), 'EINVAL', /Uint8Array/);
        expectCode(() => q.write(0, new Uint8Array(1), null, -1), 'EINVAL', /flags/);
      });
    });

    describe('read-only', () => {
      it('writes, write-zeroes and discards fail with EBADF; reads and flushes work', () => {
        const s0 = (s = startWithRegion(connected({ 'read-only': true })));
        const { q, view, complete } = s0;
        q.write(0, view(0, 4096), 'w');
        q.writeZeroes(0, 4096, 'z');
        q.discard(0, 4096, 'd');
        q.read(0, view(0, 4096), 'r');
        q.flush('f');
        for (const c of complete(5)) {
          if (c.userData === 'r' || c.userData === 'f') assert.equal(c.ret, 0, `${c.userData}: ${c.errorMsg}`);
          else assert.equal(c.ret, -9, `${c.userData} should fail with EBADF`);
        }
      });
    });

    describe('doIo', () => {
      it('min larger than the outstanding requests gives EINVAL', () => {
        const { q, completions } = started();
        expectCode(() => q.doIo(completions, 1, 1), 'EINVAL', /outstanding/);
      });

      it('min larger than max gives EINVAL', () => {
        const { q, view, completions } = started();
        q.read(0, view(0, 4096));
        expectCode(() => q.doIo(completions, 2, 1), 'EINVAL');
        assert.equal(q.doIo(completions, 1, 1), 1, 'the request survives the failed call');
      });

      it('an expired timeout loses nothing', () => {
        const { q, view, completions } = started();
        for (let i = 0; i < 64; i++) q.read(i * 4096, view(i * 4096, 4096), i);
        const seen = new Set<unknown>();
        try {
          const n = q.doIo(completions, 64, 64, 0);
          for (let i = 0; i < n; i++) seen.add(completions[i].userData);
        } catch (e) {
          assert.equal((e as BlkioError).code, 'ETIME');
        }
        while (seen.size < 64) {
          const n = q.doIo(completions, 1, 64, 10e9);
          for (let i = 0; i < n; i++) seen.add(completions[i].userData);
        }
        assert.equal(seen.size, 64);
      });

      it('a long timeout does not expire', () => {
        const { q, view, completions } = started();
        q.read(0, view(0, 4096));
        assert.equal(q.doIo(completions, 1, 1, 2n ** 63n), 1);
      });

      it('a ring overfilled far beyond its size completes every request exactly once', () => {
        const b = connected();
        setRingSize(b, 16);
        const { q, view, completions } = (s = startWithRegion(b));
        const total = 1000;
        for (let i = 0; i < total; i++) {
          if (i % 3 === 0) q.flush(i);
          else q.read((i % 200) * 4096, view((i % 200) * 4096, 4096), i);
        }
        expectEachCompletesOnce(q, total, completions);
      });
    });

    describe('completion fd', () => {
      it('is an fd that wakes the event loop when requests complete', async () => {
        const { q, view, completions } = started();
        assert.ok(q.completionFd >= 0);
        const woke = new Promise<number>((resolve) => {
          const w = q.watchCompletions(() => {
            const n = q.doIo(completions, 0, completions.length);
            if (n > 0) {
              w.close();
              resolve(n);
            }
          });
          w.ref();
        });
        q.read(0, view(0, 4096), 'x');
        q.doIo(completions, 0, 0); // submit only
        assert.equal(await woke, 1);
        assert.equal(completions[0].userData, 'x');
      });
    });

    describe('Promise layer', () => {
      const opts = () => ({ driver: target.driver, path: t.path, properties: { ...t.properties } });

      it('reads what it wrote and the target holds it', async () => {
        const d = await open(opts());
        const data = crypto.randomBytes(8192);
        await d.write(4096, data);
        await d.flush();
        assert.deepEqual(Buffer.from(await d.read(4096, 8192)), data);
        await d.close();
        if (t.readOutside) assert.deepEqual(await t.readOutside(4096, 8192), data);
      });

      it('settles thousands of concurrent requests with the right data', async () => {
        const d = await open(opts());
        const blocks = 2048;
        const expected = t.readOutside ? await t.readOutside(0, blocks * 4096) : null;
        const reads = Array.from({ length: blocks * 2 }, (_, i) => d.read((i % blocks) * 4096, 4096));
        const results = await Promise.all(reads);
        if (expected)
          results.forEach((r, i) => assert.ok(Buffer.from(r).equals(expected.subarray((i % blocks) * 4096, (i % blocks + 1) * 4096))));
        await d.close();
      });

      it('rejects a failing request with a BlkioError', async () => {
        const d = await open({ ...opts(), readOnly: true });
        await assert.rejects(d.write(0, new Uint8Array(4096)), (e: BlkioError) => e.code === 'EBADF');
        await d.close();
      });

      it('close waits for requests in flight', async () => {
        const d = await open(opts());
        const reads = Array.from({ length: 256 }, (_, i) => d.read(i * 4096, 4096));
        await d.close();
        assert.equal((await Promise.all(reads)).length, 256);
      });
    });

    describe('destroy', () => {
      it('destroy with requests in flight does not crash or leak fds', () => {
        const before = openFds();
        for (let round = 0; round < 5; round++) {
          const { b, q, view } = startWithRegion(connected());
          for (let i = 0; i < 200; i++) q.read((i % 64) * 4096, view((i % 64) * 4096, 4096), i);
          q.doIo([], 0, 0);
          const buf = view(0, 4096);
          b.destroy();
          expectCode(() => q.read(0, buf), 'ENODEV');
        }
        assert.equal(openFds(), before);
      });

      it('destroy with requests in flight does not leak memory', () => {
        // Each round maps 4 MiB and leaves 100 requests in flight: a leak of
        // regions, rings or request pools would grow RSS by hundreds of MiB.
        const round = () => {
          const { b, q, view } = startWithRegion(connected(), 4 << 20);
          view(0, 4 << 20).fill(1); // touch the region so it counts in RSS
          for (let i = 0; i < 100; i++) q.read((i % 64) * 4096, view((i % 64) * 4096, 4096), i);
          q.doIo([], 0, 0);
          b.destroy();
        };
        for (let i = 0; i < 5; i++) round(); // warm up pools and the JIT
        const before = process.memoryUsage().rss;
        for (let i = 0; i < 60; i++) round();
        const grownMiB = (process.memoryUsage().rss - before) / (1 << 20);
        assert.ok(grownMiB < 48, `RSS grew by ${grownMiB.toFixed(1)} MiB over 60 rounds of 4 MiB`);
      });
    });
  });
}
