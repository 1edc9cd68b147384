// When the backend dies, hangs or is not a vhost-user backend at all:
// errors, never hangs or crashes.
import * as assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BlkioError, create, open } from '../../../src/lib';
import { expectCode } from '../../shared/behaviour';
import { tempDir } from '../../support/files';
import { Qsd } from '../../support/qsd';
import { complete, connectTo, KiB, startDevice } from './helpers';
import { DRIVER } from './target';

const GONE = 'vhost-user backend disconnected';

/** This process's open fds, as "fd → target". */
function openFds(): Set<string> {
  const dir = '/proc/self/fd';
  const fds = new Set<string>();
  for (const fd of fs.readdirSync(dir)) {
    try {
      fds.add(`${fd} → ${fs.readlinkSync(`${dir}/${fd}`)}`);
    } catch {
      // the directory's own fd, already closed
    }
  }
  return fds;
}

/** Kills pid with SIGKILL after ms, from another process (our thread may be blocked in doIo). */
function killLater(pid: number, ms: number): ChildProcess {
  return spawn('sh', ['-c', `sleep ${ms / 1000}; kill -KILL ${pid}`], { stdio: 'ignore' });
}

// A unix socket server in a child process (connect() blocks our thread, so
// it cannot be served from this event loop) that misbehaves as told.
const FAKE_SERVER = `
const net = require('node:net');
const [path, mode] = process.argv.slice(1);
const server = net.createServer((s) => {
  s.on('error', () => {});
  if (mode === 'close') return s.destroy();
  if (mode === 'garbage') return s.write(Buffer.from('HTTP/1.1 400 Bad Request\\r\\n\\r\\n'));
  if (mode === 'no-protocol-features') {
    // Answers GET_FEATURES (1) with VERSION_1 only, as a pre-protocol backend would.
    let got = Buffer.alloc(0);
    s.on('data', (d) => {
      got = Buffer.concat([got, d]);
      while (got.length >= 12) {
        const request = got.readUInt32LE(0), size = got.readUInt32LE(8);
        if (got.length < 12 + size) break;
        got = got.subarray(12 + size);
        if (request === 1) {
          const reply = Buffer.alloc(20);
          reply.writeUInt32LE(1, 0); reply.writeUInt32LE(0x5, 4); reply.writeUInt32LE(8, 8);
          reply.writeBigUInt64LE(1n << 32n, 12);
          s.write(reply);
        }
      }
    });
  }
  // 'silent': accept and never answer.
});
server.listen(path, () => console.log('ready'));
`;

async function fakeServer(dir: string, mode: string): Promise<{ socket: string; proc: ChildProcess }> {
  const socket = path.join(dir, `${mode}.sock`);
  const proc = spawn(process.execPath, ['-e', FAKE_SERVER, socket, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.once('data', () => resolve());
    proc.once('exit', (code) => reject(new Error(`fake server exited with ${code}`)));
  });
  return { socket, proc };
}

function expectConnectFailure(socket: string, code: string, message: RegExp): number {
  const b = create(DRIVER);
  b.setStr('path', socket);
  const t0 = Date.now();
  expectCode(() => b.connect(), code, message);
  const elapsed = Date.now() - t0;
  // The instance stays usable for another attempt, and for destroy.
  assert.equal(b.getStr('path'), socket);
  b.destroy();
  return elapsed;
}

describe('virtio-blk-vhost-user faults', function () {
  this.timeout(60000);

  describe('backend killed', () => {
    let qsd: Qsd;
    beforeEach(async () => {
      qsd = await Qsd.start();
    });
    afterEach(() => qsd.dispose());

    it('with requests in flight: each completes once with an error, later requests fail, destroy is clean', async () => {
      const fdsBefore = openFds();
      const dev = startDevice(connectTo(qsd, {}, { 'queue-size': 64 }));
      const q = dev.queue(0);
      await qsd.kill('SIGSTOP'); // the requests stay on the ring
      const total = 200; // more than the ring holds: the rest waits in the backlog
      for (let i = 0; i < total; i++) {
        if (i % 2) q.read((i % 64) * 4 * KiB, dev.view((i % 64) * 4 * KiB, 4 * KiB), i);
        else q.write((i % 64) * 4 * KiB, dev.view((i % 64) * 4 * KiB, 4 * KiB), i);
      }
      q.doIo([], 0, 0);
      await qsd.kill('SIGKILL');
      const got = complete(q, total, 5000); // throws ETIME if the death went unnoticed for 5 s
      const seen = new Set(got.map((c) => c.userData));
      assert.equal(seen.size, total, 'each request completes exactly once');
      for (const c of got) {
        assert.equal(c.ret, -5);
        assert.equal(c.errorMsg, GONE);
      }
      assert.equal(q.doIo([], 0, 0), 0);
      q.read(0, dev.view(0, 4096), 'later');
      const [later] = complete(q, 1, 5000);
      assert.equal(later.ret, -5);
      assert.equal(later.errorMsg, GONE);
      expectCode(() => dev.b.mapMemRegion(dev.b.allocMemRegion(64 * KiB)), 'EIO', /disconnected/);
      dev.b.unmapMemRegion(dev.region);
      dev.b.destroy();
      // Nothing new stays open (the killed daemon's stderr closed, which is fine).
      assert.deepEqual([...openFds()].filter((fd) => !fdsBefore.has(fd)), [], 'no fd leaks');
    });

    it('while doIo blocks waiting: the wait ends and the requests fail', async () => {
      const dev = startDevice(connectTo(qsd));
      const q = dev.queue(0);
      await qsd.kill('SIGSTOP');
      for (let i = 0; i < 32; i++) q.read(i * 4096, dev.view(i * 4096, 4096), i);
      const killer = killLater(qsd.pid, 300);
      const t0 = Date.now();
      const got = complete(q, 32, 10000); // blocks in ppoll until the backend dies
      const waited = Date.now() - t0;
      // It did block; that the death ended the wait (not its 10 s timeout,
      // which throws ETIME) shows in the completions' error.
      assert.ok(waited >= 200, `waited ${waited} ms`);
      assert.ok(got.every((c) => c.ret === -5 && c.errorMsg === GONE));
      await new Promise((r) => killer.once('exit', r));
      dev.b.destroy();
    });

    it('while idle: the next request fails at once', async () => {
      const dev = startDevice(connectTo(qsd));
      const q = dev.queue(0);
      q.read(0, dev.view(0, 4096));
      assert.equal(complete(q, 1)[0].ret, 0);
      await qsd.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 100));
      q.read(0, dev.view(0, 4096), 'after');
      q.flush('flush');
      for (const c of complete(q, 2, 5000)) assert.equal(c.ret, -5);
      dev.b.destroy();
    });

    it('under the Promise layer: pending requests reject, later ones too, close resolves', async () => {
      const d = await open({ driver: DRIVER, path: qsd.socket });
      assert.equal((await d.read({ buffer: Buffer.alloc(4096), position: 0 })).bytesRead, 4096);
      await qsd.kill('SIGSTOP');
      const reads = Array.from({ length: 100 }, (_, i) => d.read({ buffer: Buffer.alloc(4096), position: i * 4096 }));
      const outcome = Promise.allSettled(reads);
      await new Promise((r) => setTimeout(r, 50));
      await qsd.kill('SIGKILL');
      const settled = await outcome; // the completion fd wakes the event loop
      for (const s of settled) {
        assert.equal(s.status, 'rejected');
        assert.equal(((s as PromiseRejectedResult).reason as BlkioError).code, 'EIO');
      }
      await assert.rejects(d.write(new Uint8Array(4096), { position: 0 }), (e: BlkioError) => e.code === 'EIO');
      await d.close();
    });
  });

  describe('connect failures', () => {
    let dir: string;
    const children: ChildProcess[] = [];
    beforeEach(() => {
      dir = tempDir('blkio-vu-fault-');
    });
    afterEach(() => {
      for (const c of children.splice(0)) c.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('a missing socket fails with ENOENT naming the path', () => {
      const socket = path.join(dir, 'nothing-here.sock');
      expectConnectFailure(socket, 'ENOENT', /Failed to connect to vhost-user socket .*nothing-here\.sock/);
    });

    it('a regular file is not a socket (ECONNREFUSED)', () => {
      const file = path.join(dir, 'file');
      fs.writeFileSync(file, 'x');
      expectConnectFailure(file, 'ECONNREFUSED', /Failed to connect/);
    });

    it('a socket path too long for sockaddr_un fails with EINVAL', () => {
      expectConnectFailure('/tmp/' + 'x'.repeat(200), 'EINVAL', /too long/);
    });

    it('a server that closes the connection at once', async () => {
      const s = await fakeServer(dir, 'close');
      children.push(s.proc);
      const b = create(DRIVER);
      b.setStr('path', s.socket);
      assert.throws(
        () => b.connect(),
        (e: BlkioError) => ['EIO', 'ECONNRESET'].includes(e.code) && /not a usable vhost-user backend/.test(e.message),
      );
      b.destroy();
    });

    it('a server that sends garbage fails with EPROTO', async () => {
      const s = await fakeServer(dir, 'garbage');
      children.push(s.proc);
      expectConnectFailure(s.socket, 'EPROTO', /not a usable vhost-user backend: .*malformed reply/);
    });

    it('a backend without protocol features fails with ENOTSUP', async () => {
      const s = await fakeServer(dir, 'no-protocol-features');
      children.push(s.proc);
      expectConnectFailure(s.socket, 'ENOTSUP', /PROTOCOL_FEATURES/);
    });

    it('a backend that never answers times out (ETIMEDOUT) instead of hanging', async () => {
      const qsd = await Qsd.start({ dir });
      try {
        await qsd.kill('SIGSTOP');
        const elapsed = expectConnectFailure(qsd.socket, 'ETIMEDOUT', /no reply/);
        // The 5 s reply timeout: a loaded machine can only lengthen the wait;
        // the upper bound tells it from a much longer (or no) timeout.
        assert.ok(elapsed >= 4500 && elapsed < 20000, `gave up after ${elapsed} ms`);
      } finally {
        await qsd.dispose();
      }
    });

    it('a second frontend while the first is connected times out with a hint', async () => {
      const qsd = await Qsd.start({ dir });
      try {
        const first = connectTo(qsd);
        expectConnectFailure(qsd.socket, 'ETIMEDOUT', /another frontend/);
        first.destroy();
        connectTo(qsd).destroy(); // served once the first has gone
      } finally {
        await qsd.dispose();
      }
    });
  });
});
