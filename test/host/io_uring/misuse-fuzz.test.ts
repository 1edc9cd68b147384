// A seeded misuse fuzzer: random sequences of valid and invalid
// calls on an io_uring device over a real file, against a model of the
// file in JS. Every completion must arrive exactly once with the expected
// ret, every byte read must match the model, every bad call must throw a
// BlkioError and change nothing, and the file must equal the model at the
// end. BLKIO_FUZZ_SEED=<n> replays a run; BLKIO_FUZZ_STEPS sets its length.
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { Blkio, BlkioError, create, createCompletions, MemRegion, Queue, REQ_FUA, REQ_NO_UNMAP } from '../../../src/lib';
import { randomFile, tempDir } from '../../support/files';

const FILE_SIZE = 1 << 20;
const REGION_SIZE = 64 << 10;
const SECTOR = 512;
const MAX_REGIONS = 4;
const EINVAL = -22;
const EFAULT = -14;

/** mulberry32: small, fast, good enough to drive a fuzzer reproducibly. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Kind = 'read' | 'write' | 'readv' | 'writev' | 'discard' | 'writeZeroes' | 'flush';

interface Expect {
  id: number;
  kind: Kind;
  start: number;
  len: number;
  ret: number;
  queue: Queue;
  bufs: Uint8Array[]; // where a read lands
  data: Buffer | null; // what a successful write puts in the file
  regions: RegionState[]; // regions whose memory the request uses
}

interface RegionState {
  region: MemRegion;
  mapped: boolean;
  next: number; // bump allocator over the region for request buffers
}

const seed = Number(process.env.BLKIO_FUZZ_SEED ?? crypto.randomInt(2 ** 31));
const steps = Number(process.env.BLKIO_FUZZ_STEPS ?? 15000);

describe('io_uring misuse fuzzer', function () {
  this.timeout(60000);
  let dir: string;
  let file: string;
  let b: Blkio;
  before(() => {
    dir = tempDir();
    file = randomFile(FILE_SIZE, dir);
  });
  after(() => {
    b?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`keeps every completion, byte and error right (seed ${seed}, ${steps} steps)`, () => {
    console.log(`      BLKIO_FUZZ_SEED=${seed}`);
    const rand = prng(seed);
    const int = (n: number) => Math.floor(rand() * n);
    const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
    const model = fs.readFileSync(file);
    b = create('io_uring');
    b.setStr('path', file);
    b.connect();
    b.start();
    const queues: Queue[] = [b.getQueue(0)!];
    const added: number[] = [];
    const regions: RegionState[] = [];
    const outstanding = new Map<number, Expect>();
    // Requests enqueued since their queue's last hand-over (detachable).
    const unsubmitted = new Map<Queue, { e: Expect; ab: ArrayBuffer }[]>();
    // Requests per queue since its last doIo: kept below the JS batch size,
    // so that nothing in `unsubmitted` has been handed over early.
    const sinceDoIo = new Map<Queue, number>();
    const completions = createCompletions(4);
    let nextId = 1;
    const stats = { requests: 0, completions: 0, rejected: 0, detached: 0, ebusy: 0 };

    const pendingOn = (q: Queue) => [...outstanding.values()].filter((e) => e.queue === q).length;
    const overlaps = (start: number, len: number) =>
      [...outstanding.values()].some((e) => e.kind !== 'flush' && start < e.start + e.len && e.start < start + Math.max(len, 1));

    function check(c: { userData: unknown; ret: number; errorMsg: string | null }): void {
      const id = c.userData as number;
      const e = outstanding.get(id);
      assert.ok(e, `completion for unknown or already completed request ${String(id)}`);
      outstanding.delete(id);
      stats.completions++;
      assert.equal(c.ret, e.ret, `request ${id} (${e.kind} ${e.start}+${e.len}): ${c.errorMsg}`);
      if (e.ret === 0) applySuccess(id, e);
    }

    // A request that succeeded: a read must have the model's bytes; a write changes the model.
    function applySuccess(id: number, e: Expect): void {
      if (e.kind === 'read' || e.kind === 'readv') {
        const got = Buffer.concat(e.bufs.map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength)));
        assert.ok(got.equals(model.subarray(e.start, e.start + e.len)), `request ${id} read wrong bytes`);
      }
      if (e.data) e.data.copy(model, e.start);
      if (e.kind === 'discard' || e.kind === 'writeZeroes') model.fill(0, e.start, e.start + e.len);
    }

    function doIo(q: Queue, min: number, max: number): void {
      unsubmitted.delete(q);
      sinceDoIo.delete(q);
      const before = pendingOn(q);
      const n = q.doIo(completions, min, max);
      assert.ok(n >= min && n <= max, `doIo returned ${n} for min ${min}, max ${max}`);
      for (let i = 0; i < n; i++) check(completions[i]);
      assert.equal(pendingOn(q), before - n);
      assert.equal(q.pending, before - n);
    }

    const drain = (q: Queue) => {
      while (pendingOn(q) > 0) doIo(q, pendingOn(q), pendingOn(q));
    };
    const drainAll = () => queues.forEach(drain);

    function rejected(fn: () => unknown, code = 'EINVAL'): void {
      const pending = queues.map((q) => q.pending);
      assert.throws(fn, (err: unknown) => err instanceof BlkioError && err.code === code, `expected ${code}`);
      assert.deepEqual(queues.map((q) => q.pending), pending, 'a rejected call changed no queue');
      stats.rejected++;
    }

    // A buffer for a request: fresh heap memory, or unused space of a region.
    function buffer(len: number, e: { regions: RegionState[] }): { view: Uint8Array; ab: ArrayBuffer | null } {
      const r = regions.length > 0 && rand() < 0.5 ? pick(regions) : null;
      if (r && r.next + len <= REGION_SIZE) {
        const view = new Uint8Array(r.region.buffer, r.next, len);
        r.next += Math.ceil(len / SECTOR) * SECTOR;
        e.regions.push(r);
        return { view, ab: null };
      }
      const ab = new ArrayBuffer(len);
      return { view: new Uint8Array(ab), ab };
    }

    function range(): { start: number; len: number } {
      const len = (1 + int(32)) * SECTOR;
      return { start: int((FILE_SIZE - len) / SECTOR + 1) * SECTOR, len };
    }

    function enqueue(q: Queue): void {
      const kind = pick<Kind>(['read', 'read', 'write', 'write', 'readv', 'writev', 'discard', 'writeZeroes', 'flush']);
      const { start, len } = range();
      if (kind !== 'flush' && overlaps(start, len)) return drainAll();
      if ((sinceDoIo.get(q) ?? 0) >= 200) return doIo(q, 0, 0);
      sinceDoIo.set(q, (sinceDoIo.get(q) ?? 0) + 1);
      const e: Expect = { id: nextId++, kind, start, len, ret: 0, queue: q, bufs: [], data: null, regions: [] };
      let heap: ArrayBuffer | null = null;
      let flags = 0;
      if (kind === 'read' || kind === 'write' || kind === 'readv' || kind === 'writev') {
        const segments = kind.endsWith('v') ? 1 + int(Math.min(4, len / SECTOR)) : 1;
        let left = len;
        for (let i = 0; i < segments; i++) {
          const part = i === segments - 1 ? left : SECTOR * (1 + int(left / SECTOR - (segments - i - 1)));
          left -= part;
          const { view, ab } = buffer(part, e);
          if (ab && !heap) heap = ab;
          if (kind.startsWith('write')) crypto.randomFillSync(view);
          e.bufs.push(view);
        }
        if (kind.startsWith('write')) e.data = Buffer.concat(e.bufs.map((v) => Buffer.from(v)));
        if (kind.startsWith('write') && rand() < 0.2) flags = REQ_FUA;
        if (rand() < 0.05) {
          flags = kind.startsWith('read') ? REQ_FUA : REQ_NO_UNMAP; // not allowed for this type
          e.ret = EINVAL;
          e.data = null;
        }
      }
      if (kind === 'writeZeroes' && rand() < 0.3) flags = REQ_NO_UNMAP;
      if (kind === 'flush') e.start = e.len = 0;
      outstanding.set(e.id, e);
      stats.requests++;
      switch (kind) {
        case 'read': q.read(start, e.bufs[0], e.id, flags); break;
        case 'write': q.write(start, e.bufs[0], e.id, flags); break;
        case 'readv': q.readv(start, e.bufs, e.id, flags); break;
        case 'writev': q.writev(start, e.bufs, e.id, flags); break;
        case 'discard': q.discard(start, len, e.id); break;
        case 'writeZeroes': q.writeZeroes(start, len, e.id, flags); break;
        case 'flush': q.flush(e.id); break;
      }
      if (heap && e.ret === 0) {
        const list = unsubmitted.get(q) ?? [];
        list.push({ e, ab: heap });
        unsubmitted.set(q, list);
      }
    }

    // Transfers a buffer of a request not yet handed over: it must fail with
    // EFAULT and leave the memory (now elsewhere) and the file untouched.
    function detach(): void {
      const lists = [...unsubmitted.values()].filter((l) => l.length > 0);
      if (lists.length > 0) detachOne(pick(lists));
    }

    function detachOne(list: { e: Expect; ab: ArrayBuffer }[]): void {
      const { e, ab } = list.splice(int(list.length), 1)[0];
      const before = Buffer.from(new Uint8Array(ab)); // a copy
      const moved: ArrayBuffer = structuredClone(ab, { transfer: [ab] });
      e.ret = EFAULT;
      e.data = null;
      stats.detached++;
      doIo(e.queue, 0, 0);
      assert.ok(Buffer.from(moved).equals(before), `the transferred buffer of request ${e.id} was written to`);
    }

    function misuse(q: Queue): void {
      const buf = new Uint8Array(SECTOR);
      const bad = [
        () => q.read(-1, buf),
        () => q.read(1.5, buf),
        () => q.read(2 ** 64, buf),
        () => q.write(0, new Proxy(buf, {}) as Uint8Array),
        () => q.read(0, Object.create(Uint8Array.prototype) as Uint8Array),
        () => q.read(0, 'x' as unknown as Uint8Array),
        () => q.write(0, buf, undefined, 2 ** 32),
        () => q.readv(0, [buf, {} as Uint8Array]),
        () => q.readv(0, null as unknown as Uint8Array[]),
        () => q.discard(0, -SECTOR),
        () => q.writeZeroes(0, 2 ** 60),
        () => q.doIo(completions, 2 ** 31 - 1, 2 ** 31 - 1),
        () => q.doIo(completions, q.pending + 1, q.pending + 1),
        () => q.doIo(completions, 0, 1, Infinity),
        () => q.doIo(completions, 1, 0),
        () => b.getQueue(2 ** 32),
        () => b.removeQueue(-1),
        () => b.allocMemRegion(-4096),
        () => regions.length && b.mapMemRegion({ ...regions[0].region, len: -4096 }),
        () => regions.length && b.unmapMemRegion({ ...regions[0].region, addr: 2n ** 64n }),
      ];
      // The last two need a region to misdescribe.
      rejected(bad[int(regions.length > 0 ? bad.length : bad.length - 2)]);
    }

    const uses = (r: RegionState) => [...outstanding.values()].some((e) => e.regions.includes(r));

    function regionOp(): void {
      const op = int(4);
      if (op === 0 && regions.length < MAX_REGIONS) {
        regions.push({ region: b.allocMemRegion(REGION_SIZE), mapped: false, next: 0 });
      } else if (regions.length > 0) {
        const r = pick(regions);
        if (op === 1 && !r.mapped) {
          b.mapMemRegion(r.region);
          r.mapped = true;
        } else if (op === 2 && r.mapped) {
          if (uses(r)) {
            rejected(() => b.unmapMemRegion(r.region), 'EBUSY');
            stats.ebusy++;
          } else {
            b.unmapMemRegion(r.region);
            r.mapped = false;
          }
        } else if (op === 3) {
          if (r.mapped || uses(r)) {
            rejected(() => b.freeMemRegion(r.region), 'EBUSY');
            stats.ebusy++;
          } else {
            b.freeMemRegion(r.region);
            regions.splice(regions.indexOf(r), 1);
          }
        }
      }
      for (const r of regions) if (!uses(r)) r.next = 0;
    }

    function queueOp(): void {
      if (added.length < 2 && rand() < 0.5) {
        const index = b.addQueue();
        added.push(index);
        queues.push(b.getQueue(index)!);
      } else if (added.length > 0) {
        const index = added.splice(int(added.length), 1)[0];
        const q = b.getQueue(index)!;
        drain(q);
        b.removeQueue(index);
        queues.splice(queues.indexOf(q), 1);
        assert.throws(() => q.read(0, new Uint8Array(SECTOR)), (e: unknown) => e instanceof BlkioError && e.code === 'ENODEV');
      }
    }

    for (let step = 0; step < steps; step++) {
      const q = pick(queues);
      const roll = rand();
      if (roll < 0.55) enqueue(q);
      else if (roll < 0.75) {
        const pending = pendingOn(q);
        const min = int(pending + 1);
        doIo(q, min, min + int(4));
      } else if (roll < 0.83) misuse(q);
      else if (roll < 0.88) detach();
      else if (roll < 0.96) regionOp();
      else queueOp();
    }
    drainAll();
    assert.equal(outstanding.size, 0);
    const onDisk = fs.readFileSync(file);
    assert.ok(onDisk.equals(model), 'the file equals the model');
    console.log(`      ${JSON.stringify(stats)}`);
  });
});
