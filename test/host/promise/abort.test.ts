// AbortSignal on requests: aborted before submission nothing is issued;
// aborted in flight, the Promise rejects with AbortError only once the
// device is done with the buffer (no driver can take a submitted block
// request back).
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { AbortError, BlkioError, Device, open } from '../../../src/lib';
import { randomFile, readFileRange, tempDir } from '../../support/files';
import { Qsd } from '../../support/qsd';

function isAbortError(e: unknown, reason?: unknown): boolean {
  assert.ok(e instanceof AbortError, `rejected with ${String(e)}, not an AbortError`);
  assert.ok(e instanceof BlkioError);
  assert.equal(e.name, 'AbortError');
  assert.equal(e.code, 'ABORT_ERR'); // as Node's own AbortError
  if (reason !== undefined) assert.equal(e.cause, reason);
  return true;
}

const settledYet = (p: Promise<unknown>) => {
  const state = { settled: false };
  p.then(() => (state.settled = true), () => (state.settled = true));
  return state;
};

describe('AbortSignal on Device requests', function () {
  this.timeout(30_000);

  describe('on io_uring', () => {
    let dir: string;
    let file: string;
    let dev: Device;
    beforeEach(async () => {
      dir = tempDir('blkio-abort-');
      file = randomFile(16 << 20, dir);
      dev = await open({ driver: 'io_uring', path: file });
    });
    afterEach(async () => {
      await dev.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('a signal aborted before the call rejects with AbortError and issues nothing', async () => {
      const before = fs.readFileSync(file);
      const c = new AbortController();
      const reason = new Error('changed my mind');
      c.abort(reason);
      const data = crypto.randomBytes(4096);
      await assert.rejects(dev.write(data, 0, 4096, 0, { signal: c.signal }), (e) => isAbortError(e, reason));
      await assert.rejects(dev.writev([data], 4096, { signal: c.signal }), (e) => isAbortError(e));
      await assert.rejects(dev.writeZeroes(0, 8192, 0, { signal: c.signal }), (e) => isAbortError(e));
      await assert.rejects(dev.read(Buffer.alloc(4096), 0, 4096, 0, { signal: c.signal }), (e) => isAbortError(e));
      await assert.rejects(dev.flush({ signal: c.signal }), (e) => isAbortError(e));
      assert.ok(fs.readFileSync(file).equals(before), 'an aborted request changed the file');
    });

    it('a request aborted in the tick it was issued never reaches the device', async () => {
      const before = fs.readFileSync(file);
      const c = new AbortController();
      const writes = Array.from({ length: 8 }, (_, i) => dev.write(crypto.randomBytes(4096), 0, 4096, i * 4096, { signal: c.signal }));
      c.abort(); // before this tick's submission
      for (const w of writes) await assert.rejects(w, (e) => isAbortError(e));
      assert.ok(fs.readFileSync(file).equals(before), 'an aborted write reached the file');
    });

    it('many requests on one signal add one listener to it (no leak warning)', async () => {
      const warnings: Error[] = [];
      const onWarning = (w: Error) => warnings.push(w);
      process.on('warning', onWarning);
      try {
        const c = new AbortController();
        await Promise.all(Array.from({ length: 64 }, (_, i) => dev.read(Buffer.alloc(4096), 0, 4096, i * 4096, { signal: c.signal })));
        const aborted = Array.from({ length: 64 }, (_, i) => dev.read(Buffer.alloc(4096), 0, 4096, i * 4096, { signal: c.signal }));
        c.abort();
        for (const r of await Promise.allSettled(aborted)) assert.equal(r.status, 'rejected');
        await new Promise((resolve) => setImmediate(resolve));
      } finally {
        process.off('warning', onWarning);
      }
      assert.deepEqual(warnings.map((w) => w.name), []);
    });

    it('requests aborted in flight reject with AbortError once their buffers are filled', async () => {
      const c = new AbortController();
      const buffers = Array.from({ length: 32 }, () => Buffer.alloc(256 * 1024));
      const reads = buffers.map((b, i) => dev.read(b, 0, b.length, i * b.length, { signal: c.signal }));
      await null; // the submission (a microtask) has happened
      c.abort();
      for (let i = 0; i < reads.length; i++) {
        await assert.rejects(reads[i], (e) => isAbortError(e));
        // Rejected only after the device finished with the buffer: it holds the data.
        assert.ok(buffers[i].equals(readFileRange(file, i * buffers[i].length, buffers[i].length)), `buffer ${i}`);
      }
    });

    it('zone requests take a signal too: aborted before the call or in their tick, they reject with AbortError, not the device\'s ENOTSUP', async () => {
      const c = new AbortController();
      c.abort();
      await assert.rejects(dev.zones.reset(0, { signal: c.signal }), (e) => isAbortError(e));
      await assert.rejects(dev.zones.report(0, 1, { signal: c.signal }), (e) => isAbortError(e));
      const late = new AbortController();
      const reset = dev.zones.resetAll({ signal: late.signal });
      late.abort(); // before this tick's submission
      await assert.rejects(reset, (e) => isAbortError(e));
      // Without a signal the file (no zones) answers for itself.
      await assert.rejects(dev.zones.resetAll(), (e) => e instanceof BlkioError && e.code === 'ENOTSUP');
      await assert.rejects(dev.zones.open(0, { signal: 'no' as unknown as AbortSignal }), (e) => e instanceof BlkioError && e.code === 'EINVAL');
    });

    it('a signal that never aborts changes nothing', async () => {
      const { bytesRead } = await dev.read(Buffer.alloc(4096), 0, 4096, 0, { signal: new AbortController().signal });
      assert.equal(bytesRead, 4096);
    });

    it('AbortSignal.timeout() works as any signal', async () => {
      const signal = AbortSignal.timeout(1);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await assert.rejects(dev.read(Buffer.alloc(4096), 0, 4096, 0, { signal }), (e) => isAbortError(e));
    });
  });

  describe('on vhost-user (qemu-storage-daemon)', () => {
    let qsd: Qsd;
    let dev: Device;
    beforeEach(async () => {
      qsd = await Qsd.start();
      dev = await open({ driver: 'virtio-blk-vhost-user', path: qsd.socket, bounceBufferSize: 64 * 1024 });
    });
    afterEach(async () => {
      await qsd.kill('SIGCONT');
      await dev.close();
      await qsd.dispose();
    });

    it('a request aborted in flight settles only when the device completes it', async () => {
      const expected = Buffer.from((await dev.read(Buffer.alloc(64 * 1024), 0, 64 * 1024, 0)).buffer);
      const buffer = dev.allocBuffer(64 * 1024); // the device's own memory: it reads into it directly
      await qsd.kill('SIGSTOP'); // the device holds the request until SIGCONT
      const c = new AbortController();
      const read = dev.read(buffer, 0, buffer.length, 0, { signal: c.signal });
      const state = settledYet(read);
      await new Promise((resolve) => setTimeout(resolve, 100)); // submitted, held by the stopped daemon
      c.abort();
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(state.settled, false, 'the Promise settled while the device still held its buffer');
      await qsd.kill('SIGCONT');
      await assert.rejects(read, (e) => isAbortError(e));
      assert.ok(buffer.equals(expected), 'the device had not finished with the buffer');
      dev.freeBuffer(buffer); // no request uses it any more
    });

    it('a request waiting for bounce space leaves the line at once when aborted, never issued', async () => {
      await qsd.kill('SIGSTOP');
      const first = dev.read(Buffer.alloc(64 * 1024), 0, 64 * 1024, 0); // holds the whole bounce pool
      const c = new AbortController();
      const data = crypto.randomBytes(4096);
      const waiting = dev.write(data, 0, 4096, 1 << 20, { signal: c.signal });
      await new Promise((resolve) => setTimeout(resolve, 50));
      c.abort();
      await assert.rejects(waiting, (e) => isAbortError(e)); // while the device is still stopped
      await qsd.kill('SIGCONT');
      await first;
      const after = await dev.read(Buffer.alloc(4096), 0, 4096, 1 << 20);
      assert.ok(!after.buffer.equals(data), 'the aborted write reached the device');
    });
  });
});
