// virtio-blk-vhost-user against a backend that misbehaves on purpose
// (evil-backend/evil_backend.c): insane config fields, a socket it stops
// reading or never answers, hang-ups, stalls and corrupt used rings.
// Whatever it does: no crash, no byte written outside request buffers,
// every request settles once, every wait ends.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Blkio, BlkioError, Completion, create, createCompletions, MemRegion, open, Queue } from '../../../src/lib';
import { expectCode } from '../../shared/behaviour';
import { EvilBackend } from './evil-backend/evil-backend';

const DRIVER = 'virtio-blk-vhost-user';
const KiB = 1024;
const REGION = 256 * KiB;
const CANARY = 0xa5;
/** What the backend's disk holds at byte i. */
const diskByte = (i: number): number => (i * 7 + 3) & 0xff;

function connectTo(backend: EvilBackend): Blkio {
  const b = create(DRIVER);
  b.setStr('path', backend.socket);
  try {
    b.connect();
  } catch (e) {
    b.destroy();
    throw e;
  }
  return b;
}

function expectConnectFailure(backend: EvilBackend, code: string, message: RegExp): void {
  const b = create(DRIVER);
  b.setStr('path', backend.socket);
  expectCode(() => b.connect(), code, message);
  b.destroy();
}

interface Started {
  b: Blkio;
  q: Queue;
  region: MemRegion;
  bytes: Uint8Array;
}

/** connect + start + one mapped region filled with the canary. */
function startOn(backend: EvilBackend): Started {
  const b = connectTo(backend);
  b.start();
  const region = b.allocMemRegion(REGION);
  b.mapMemRegion(region);
  const bytes = new Uint8Array(region.buffer);
  bytes.fill(CANARY);
  return { b, q: b.getQueue(0)!, region, bytes };
}

/** Request buffers: 4 KiB at every 16 KiB of the region, the canary between them. */
const bufferAt = (i: number): number => 8 * KiB + i * 16 * KiB;

/** Asserts that the canary is intact everywhere but in the first n request buffers. */
function assertCanaryOutside(bytes: Uint8Array, n: number): void {
  for (let at = 0; at < bytes.length; at++) {
    const i = Math.floor((at - 8 * KiB) / (16 * KiB));
    const inBuffer = at >= 8 * KiB && i < n && at - bufferAt(i) < 4 * KiB;
    if (!inBuffer && bytes[at] !== CANARY) assert.fail(`byte ${at} outside the request buffers was written`);
  }
}

/**
 * doIo until every one of n requests completed or the device stays silent
 * for timeoutMs (ETIME); then checks that nothing completes twice or late.
 */
function settle(q: Queue, n: number, timeoutMs = 3000): Completion[] {
  const got: Completion[] = [];
  const c = createCompletions(n + 8);
  while (got.length < n) {
    let k: number;
    try {
      k = q.doIo(c, 1, n + 8, timeoutMs * 1e6);
    } catch (e) {
      assert.equal((e as BlkioError).code, 'ETIME');
      break;
    }
    for (let i = 0; i < k; i++) got.push(Object.assign(new Completion(), c[i]));
  }
  const ids = got.map((x) => x.userData);
  assert.equal(new Set(ids).size, ids.length, `a request completed twice: ${ids.join(',')}`);
  assert.equal(q.doIo(c, 0, n + 8), 0, 'nothing completes after everything settled');
  return got;
}

/** Reads into n buffers of the region; returns their completions. */
function readMany(s: Started, n: number): Completion[] {
  for (let i = 0; i < n; i++) s.q.read(i * 4 * KiB, new Uint8Array(s.region.buffer, bufferAt(i), 4 * KiB), i);
  return settle(s.q, n);
}

/** Runs JS in a child Node process (so a blocked syscall fails the test instead of wedging mocha). */
function inChild(body: string, args: string[], limitMs: number): { result: Record<string, unknown>; ms: number } {
  const lib = require.resolve('../../../src/lib');
  const script = `const lib = require(${JSON.stringify(lib)}); const args = process.argv.slice(1);\n(async () => {\n${body}\n})().then((r) => { console.log(JSON.stringify(r)); process.exit(0); });`;
  const t0 = Date.now();
  const child = spawnSync(process.execPath, ['-e', script, ...args], { timeout: limitMs, encoding: 'utf8' });
  const ms = Date.now() - t0;
  assert.equal(child.signal, null, `the child was still blocked after ${limitMs} ms (killed); stderr: ${child.stderr}`);
  assert.equal(child.status, 0, `the child failed: ${child.stderr}`);
  return { result: JSON.parse(child.stdout.trim().split('\n').pop()!) as Record<string, unknown>, ms };
}

describe('virtio-blk-vhost-user against a misbehaving backend', function () {
  this.timeout(60000);
  let backend: EvilBackend | undefined;
  afterEach(async () => {
    await backend?.dispose();
    backend = undefined;
  });
  async function start(...modes: string[]): Promise<EvilBackend> {
    backend = await EvilBackend.start(...modes);
    return backend;
  }

  describe('the harness', () => {
    it('a well-behaved evil backend serves reads and writes into the request buffers only', async () => {
      const s = startOn(await start());
      assert.equal(s.b.getUint64('capacity'), 1n << 20n);
      const got = readMany(s, 8);
      assert.deepEqual(got.map((c) => c.ret), Array(8).fill(0));
      for (let i = 0; i < 8; i++) {
        const view = new Uint8Array(s.region.buffer, bufferAt(i), 4 * KiB);
        for (let j = 0; j < view.length; j += 511) assert.equal(view[j], diskByte(i * 4 * KiB + j));
      }
      assertCanaryOutside(s.bytes, 8);
      const w = new Uint8Array(s.region.buffer, bufferAt(0), 4 * KiB).fill(0x5c);
      s.q.write(64 * KiB, w, 'w');
      assert.equal(settle(s.q, 1)[0].ret, 0);
      const r = new Uint8Array(s.region.buffer, bufferAt(1), 4 * KiB).fill(0);
      s.q.read(64 * KiB, r, 'r');
      assert.equal(settle(s.q, 1)[0].ret, 0);
      assert.ok(r.every((x) => x === 0x5c));
      s.b.destroy();
    });
  });

  describe('config space', () => {
    it('a capacity of 2^64-1 sectors fails connect with EIO naming capacity', async () => {
      expectConnectFailure(await start('capacity-max'), 'EIO', /capacity of 18446744073709551615 sectors/);
    });

    it('blk_size 2^31 fails connect with EIO naming blk_size', async () => {
      expectConnectFailure(await start('blk-size-huge'), 'EIO', /blk_size 2147483648 is not a power of two/);
    });

    it('a blk_size that is not a power of two fails connect with EIO', async () => {
      expectConnectFailure(await start('blk-size-odd'), 'EIO', /blk_size 1000/);
    });

    it('size_max below 512 bytes fails connect with EIO naming size_max', async () => {
      expectConnectFailure(await start('size-max-tiny'), 'EIO', /size_max 1 is below 512/);
    });

    it('discard_sector_alignment past 2^31 bytes fails connect with EIO naming it', async () => {
      expectConnectFailure(await start('discard-huge'), 'EIO', /discard_sector_alignment 4294967295/);
    });

    it('GET_QUEUE_NUM 0 fails connect with EIO', async () => {
      expectConnectFailure(await start('queue-num-0'), 'EIO', /0 queues/);
    });

    it('num_queues 0 counts as one queue, which works', async () => {
      const s = startOn(await start('queues-0'));
      assert.equal(s.b.getInt('max-queues'), 1);
      assert.deepEqual(readMany(s, 2).map((c) => c.ret), [0, 0]);
      s.b.destroy();
    });

    it('num_queues 65535 is reported as max-queues and one queue works', async () => {
      const s = startOn(await start('queues-max'));
      assert.equal(s.b.getInt('max-queues'), 65535);
      assert.deepEqual(readMany(s, 2).map((c) => c.ret), [0, 0]);
      s.b.destroy();
    });

    it('seg_max 0 counts as one segment', async () => {
      const b = connectTo(await start('seg-max-0'));
      assert.equal(b.getInt('max-segments'), 1);
      b.destroy();
    });
  });

  describe('socket', () => {
    it('a backend that stops reading its socket: mapMemRegion fails with ETIMEDOUT, destroy returns', async () => {
      const s = await start('stop-reading');
      // Each map and unmap sends a message nobody reads, until the socket buffer is full.
      const { result } = inChild(
        `const b = lib.create('virtio-blk-vhost-user');
         b.setStr('path', args[0]); b.connect(); b.start();
         const r = b.allocMemRegion(65536);
         let err;
         for (let i = 0; i < 100000 && !err; i++) {
           try { b.mapMemRegion(r); b.unmapMemRegion(r); } catch (e) { err = e; }
         }
         let later;
         try { b.mapMemRegion(r); } catch (e) { later = e.code; }
         b.destroy();
         return { code: err && err.code, message: err && err.message, later };`,
        [s.socket],
        40000,
      );
      assert.ok(result.code === 'ETIMEDOUT' || result.code === 'EIO', `code ${String(result.code)}`);
      if (result.code === 'ETIMEDOUT') assert.match(String(result.message), /stopped reading its socket/);
      assert.equal(result.later, 'EIO', 'the broken connection stays broken');
    });

    it('a listener that never accepts: connect fails with ETIMEDOUT instead of blocking', async () => {
      const s = await start(); // it accepts its first connection only
      const { result } = inChild(
        `const net = require('node:net');
         // The backend accepted one (this) connection; two more fill its backlog of 1.
         const first = lib.create('virtio-blk-vhost-user'); first.setStr('path', args[0]); first.connect();
         const extra = [];
         for (let i = 0; i < 2; i++) {
           await new Promise((resolve) => { const c = net.connect(args[0], resolve); c.on('error', resolve); extra.push(c); });
         }
         const b = lib.create('virtio-blk-vhost-user'); b.setStr('path', args[0]);
         let code, message;
         try { b.connect(); } catch (e) { code = e.code; message = e.message; }
         b.destroy(); first.destroy(); for (const c of extra) c.destroy();
         return { code, message };`,
        [s.socket],
        40000,
      );
      assert.equal(result.code, 'ETIMEDOUT', String(result.message));
    });

    it('a backend that offers REPLY_ACK and never acknowledges: connect fails with ETIMEDOUT', async () => {
      expectConnectFailure(await start('no-ack'), 'ETIMEDOUT', /no reply/);
    });

    it('a backend that stops acknowledging after start: mapMemRegion fails with ETIMEDOUT, then EIO, destroy returns', async () => {
      const b = connectTo(await start('no-ack-after-start'));
      b.start();
      const region = b.allocMemRegion(64 * KiB);
      expectCode(() => b.mapMemRegion(region), 'ETIMEDOUT', /ADD_MEM_REG: no reply/);
      expectCode(() => b.mapMemRegion(region), 'EIO', /gone|disconnected/);
      b.destroy();
    });

    it('a reply to another request fails connect with EPROTO', async () => {
      expectConnectFailure(await start('wrong-reply-id'), 'EPROTO', /GET_FEATURES: got a malformed reply/);
    });

    it('a reply of the wrong size fails connect with EPROTO', async () => {
      expectConnectFailure(await start('wrong-reply-size'), 'EPROTO', /GET_FEATURES: .*not a u64/);
    });

    it('a reply announcing a 1 MiB payload fails connect with EPROTO at once', async () => {
      expectConnectFailure(await start('huge-reply'), 'EPROTO', /oversized payload/);
    });
  });

  describe('requests', () => {
    it('a backend that hangs up mid-request: the request fails with EIO, later ones too', async () => {
      const s = startOn(await start('hang-up'));
      const got = readMany(s, 4);
      assert.equal(got.length, 4, 'every request settles');
      for (const c of got) assert.equal(c.ret, -5, String(c.errorMsg));
      s.q.read(0, new Uint8Array(s.region.buffer, bufferAt(0), 4 * KiB), 'later');
      assert.equal(settle(s.q, 1)[0].ret, -5);
      assertCanaryOutside(s.bytes, 4);
      s.b.destroy();
    });

    it('a backend that completes requests and then hangs up: those requests succeed, later ones fail with EIO', async () => {
      const s = startOn(await start('complete-then-hang-up'));
      const got = readMany(s, 4);
      assert.deepEqual(got.map((c) => c.ret), [0, 0, 0, 0], 'completions written before the hang-up count');
      for (let i = 0; i < 4; i++) assert.equal(s.bytes[bufferAt(i) + 100], diskByte(i * 4 * KiB + 100));
      s.q.read(0, new Uint8Array(s.region.buffer, bufferAt(0), 4 * KiB), 'later');
      const [later] = settle(s.q, 1);
      assert.equal(later.ret, -5);
      assert.equal(later.errorMsg, 'vhost-user backend disconnected');
      s.b.destroy();
    });

    it('a backend that stalls requests forever: doIo times out with ETIME, destroy returns and nothing is written', async () => {
      const s = startOn(await start('stall'));
      for (let i = 0; i < 4; i++) s.q.read(0, new Uint8Array(s.region.buffer, bufferAt(i), 4 * KiB), i);
      expectCode(() => s.q.doIo(createCompletions(4), 4, 4, 200e6), 'ETIME');
      assertCanaryOutside(s.bytes, 0);
      s.b.destroy(); // waits (bounded) for the stalled chains, then lets go
    });

    for (const [mode, message] of [
      ['used-id-out-of-range', /descriptor out of range/],
      ['used-id-duplicate', /not in flight|used index ran past/],
      ['used-len-oversized', /claims more bytes/],
      ['used-idx-jump', /used index ran past/],
    ] as const) {
      it(`${mode}: the device is failed, each request settles once with EIO or success, nothing outside the buffers is written`, async () => {
        const s = startOn(await start(mode));
        const got = readMany(s, 4);
        assert.equal(got.length, 4, 'every request settles');
        const failed = got.filter((c) => c.ret !== 0);
        assert.ok(failed.length > 0, 'the corrupt entry fails something');
        for (const c of failed) {
          assert.equal(c.ret, -5);
          assert.match(String(c.errorMsg), message);
        }
        assertCanaryOutside(s.bytes, 4);
        // The device stays failed: later requests and maps fail at once.
        s.q.read(0, new Uint8Array(s.region.buffer, bufferAt(0), 4 * KiB), 'later');
        const [later] = settle(s.q, 1);
        assert.equal(later.ret, -5);
        expectCode(() => s.b.mapMemRegion(s.b.allocMemRegion(64 * KiB)), 'EIO');
        s.b.destroy();
      });
    }

    it('a corrupt used ring on one queue fails the device for its other queues too', async () => {
      const b = connectTo(await start('queues-max', 'used-id-out-of-range'));
      b.setInt('num-queues', 2);
      b.start();
      const region = b.allocMemRegion(REGION);
      b.mapMemRegion(region);
      const [q0, q1] = [b.getQueue(0)!, b.getQueue(1)!];
      q0.read(0, new Uint8Array(region.buffer, 0, 4 * KiB), 'q0');
      assert.equal(settle(q0, 1)[0].ret, -5);
      q1.read(0, new Uint8Array(region.buffer, 4 * KiB, 4 * KiB), 'q1');
      const [c] = settle(q1, 1);
      assert.equal(c.ret, -5);
      assert.match(String(c.errorMsg), /virtio-blk device failed: .*out of range/);
      b.destroy();
    });

    it('under the Promise layer: every request against a corrupt used ring rejects with EIO, close resolves', async () => {
      const s = await start('used-id-out-of-range');
      const dev = await open({ driver: DRIVER, path: s.socket });
      const settled = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => dev.read({ buffer: Buffer.alloc(4 * KiB), position: i * 4 * KiB })));
      for (const r of settled) {
        assert.equal(r.status, 'rejected');
        assert.equal(((r as PromiseRejectedResult).reason as BlkioError).code, 'EIO');
      }
      await assert.rejects(dev.read({ buffer: Buffer.alloc(4 * KiB), position: 0 }), (e: BlkioError) => e.code === 'EIO');
      await dev.close();
    });
  });
});
