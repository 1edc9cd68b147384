// A program that ends without releasing what it opened exits 0: the addon
// tears down through the environment's cleanup hooks (main thread and
// workers, CJS and ESM), never after the environment is gone.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomFile, tempDir } from '../../support/files';
import { Qsd } from '../../support/qsd';
import { LIBRARY as CAPI_LIBRARY } from '../capi/support';
import { describeEnd, LIBRARY, runScript } from './child';

describe('process and worker exit with devices left open', function () {
  this.timeout(120_000);
  let dir: string;
  let disk: string;
  const lib = JSON.stringify(LIBRARY);
  const esmLib = JSON.stringify(pathToFileURL(LIBRARY).href);
  before(() => {
    dir = tempDir('blkio-exit-');
    disk = randomFile(1 << 20, dir);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function expectCleanExit(name: string, source: string, marker = 'done'): Promise<void> {
    const ended = await runScript(dir, name, source);
    assert.equal(ended.signal, null, describeEnd(ended));
    assert.equal(ended.code, 0, describeEnd(ended));
    assert.ok(ended.stdout.includes(marker), `the program ran to its end\n${describeEnd(ended)}`);
  }

  const openAndRead = () => `
    const d = await open({ driver: 'io_uring', path: ${JSON.stringify(disk)} });
    const data = await d.read({ buffer: Buffer.alloc(4096), position: 0 });
    if (data.bytesRead !== 4096) throw new Error('short read');
    console.log('done');`;

  it('a CommonJS program that never closes a device from open() exits 0, every time', async () => {
    const source = `const { open } = require(${lib});\n(async () => {${openAndRead()}\n})();`;
    for (let i = 0; i < 3; i++) await expectCleanExit('open-cjs.js', source);
  });

  it('an ES module that never closes a device from open() exits 0', async () => {
    await expectCleanExit('open-esm.mjs', `import lib from ${esmLib};\nconst { open } = lib;\n${openAndRead()}\n`);
  });

  it('a program that never closes a device of a libblkio library (koffi) exits 0, also in a worker', async () => {
    const workerFile = path.join(dir, 'koffi-worker.js');
    const program = `const { open } = require(${lib});
      (async () => {
        const d = await open({ driver: 'libblkio:io_uring', path: ${JSON.stringify(disk)} });
        if ((await d.read({ buffer: Buffer.alloc(4096), position: 0 })).bytesRead !== 4096) throw new Error('short read');
        console.log('done');
      })();`;
    fs.writeFileSync(workerFile, program.replace("'done'", "'worker done'"));
    process.env.BLKIO_LIBRARY = CAPI_LIBRARY;
    try {
      await expectCleanExit(
        'koffi.js',
        `${program}
        const { Worker } = require('node:worker_threads');
        new Worker(${JSON.stringify(workerFile)}).on('exit', (code) => console.log('worker exit ' + code));`,
        'worker exit 0',
      );
    } finally {
      delete process.env.BLKIO_LIBRARY;
    }
  });

  it('a program that never closes a vhost-user device exits 0, and the daemon serves the next one', async () => {
    const qsd = await Qsd.start();
    try {
      const source = `const { open } = require(${lib});
        (async () => {
          const d = await open({ driver: 'virtio-blk-vhost-user', path: ${JSON.stringify(qsd.socket)} });
          for (let i = 0; i < 8; i++) d.read({ buffer: Buffer.alloc(4096), position: i * 4096 }); // in flight at exit
          await d.read({ buffer: Buffer.alloc(4096), position: 0 });
          console.log('done');
        })();`;
      await expectCleanExit('vhost-user.js', source);
      await expectCleanExit('vhost-user-again.js', source);
    } finally {
      await qsd.dispose();
    }
  });

  it('a program with a live watchCompletions() watcher exits 0', async () => {
    await expectCleanExit(
      'watcher.js',
      `const { create } = require(${lib});
      const b = create('io_uring');
      b.setStr('path', ${JSON.stringify(disk)});
      b.connect();
      b.start();
      b.getQueue(0).watchCompletions(() => {});
      console.log('done');`,
    );
  });

  it('a Blkio never destroyed, with requests in flight, exits 0', async () => {
    await expectCleanExit(
      'in-flight.js',
      `const { create, createCompletions } = require(${lib});
      const b = create('io_uring');
      b.setStr('path', ${JSON.stringify(disk)});
      b.connect();
      b.start();
      const r = b.allocMemRegion(64 * 1024);
      b.mapMemRegion(r);
      const q = b.getQueue(0);
      for (let i = 0; i < 16; i++) q.read(i * 4096, new Uint8Array(r.buffer, i * 4096, 4096), i);
      q.doIo(createCompletions(16), 0, 0);
      console.log('done');`,
    );
  });

  it('process.exit() with Promise requests in flight exits with its code', async () => {
    await expectCleanExit(
      'process-exit.js',
      `const { open } = require(${lib});
      (async () => {
        const d = await open({ driver: 'io_uring', path: ${JSON.stringify(disk)} });
        for (let i = 0; i < 32; i++) d.read(Buffer.alloc(4096), 0, 4096, (i % 256) * 4096);
        console.log('done');
        process.exit(0);
      })();`,
    );
  });

  it('a program that ends while close() is still releasing the device exits 0', async () => {
    await expectCleanExit(
      'closing.js',
      `const { open } = require(${lib});
      (async () => {
        const d = await open({ driver: 'io_uring', path: ${JSON.stringify(disk)} });
        const reads = Array.from({ length: 16 }, (_, i) => d.read({ buffer: Buffer.alloc(4096), position: i * 4096 }));
        d.close();
        await Promise.allSettled(reads);
        console.log('done');
      })();`,
    );
  });

  for (const kind of ['CommonJS', 'ES module'] as const) {
    it(`a worker (${kind}) that never closes its device exits 0, and so does the process`, async () => {
      const esm = kind === 'ES module';
      const worker = esm
        ? `import lib from ${esmLib};\nconst { open } = lib;\n${openAndRead()}\n`
        : `const { open } = require(${lib});\n(async () => {${openAndRead()}\n})();`;
      const workerFile = path.join(dir, esm ? 'worker.mjs' : 'worker.js');
      fs.writeFileSync(workerFile, worker);
      await expectCleanExit(
        esm ? 'worker-main-esm.js' : 'worker-main-cjs.js',
        `const { Worker } = require('node:worker_threads');
        const runs = [];
        for (let i = 0; i < 3; i++)
          runs.push(new Promise((resolve, reject) => {
            const w = new Worker(${JSON.stringify(workerFile)}, { stdout: true });
            let out = '';
            w.stdout.on('data', (d) => (out += d));
            w.on('error', reject);
            w.on('exit', (code) => resolve({ code, out }));
          }));
        Promise.all(runs).then((ends) => {
          for (const e of ends) if (e.code !== 0 || !e.out.includes('done')) throw new Error('worker: ' + JSON.stringify(e));
          console.log('all workers done');
        });`,
        'all workers done',
      );
    });
  }

  it('workers terminated while close() releases their device end, and the process exits 0', async () => {
    const workerFile = path.join(dir, 'closing-worker.js');
    fs.writeFileSync(
      workerFile,
      `const { parentPort } = require('node:worker_threads');
      const { open } = require(${lib});
      (async () => {
        const d = await open({ driver: 'io_uring', path: ${JSON.stringify(disk)} });
        for (let i = 0; i < 32; i++) d.read({ buffer: Buffer.alloc(4096), position: i * 4096 }).catch(() => {});
        d.close();
        parentPort.postMessage('closing');
        for (;;) await new Promise((resolve) => setImmediate(resolve));
      })();`,
    );
    await expectCleanExit(
      'closing-workers.js',
      `const { Worker } = require('node:worker_threads');
      const ends = Array.from({ length: 4 }, () => new Promise((resolve) => {
        const w = new Worker(${JSON.stringify(workerFile)});
        w.on('message', () => w.terminate());
        w.on('exit', resolve);
      }));
      Promise.all(ends).then((codes) => console.log('done: ' + codes.join(',')));`,
      'done: 1,1,1,1', // terminate() ends a worker with code 1
    );
  });

  it('a worker terminated while blocked in the addon (a connect that fails later) ends, and the process exits 0', async () => {
    // The failure comes back after terminate() forbade JS: throwing it must
    // not abort the process (node-addon-api would, by default).
    const socket = path.join(dir, 'silent.sock');
    await expectCleanExit(
      'terminate-blocked.js',
      `const { Worker } = require('node:worker_threads');
      const net = require('node:net');
      // Accepts the vhost-user connection and never answers: connect() waits for its reply timeout.
      const server = net.createServer(() => {}).listen(${JSON.stringify(socket)}, () => {
        const w = new Worker(\`
          const { parentPort } = require('node:worker_threads');
          const { create } = require(${lib});
          const b = create('virtio-blk-vhost-user');
          b.setStr('path', ${JSON.stringify(socket)});
          parentPort.postMessage('connecting');
          try { b.connect(); } catch {}
        \`, { eval: true });
        w.on('message', () => setTimeout(() => w.terminate(), 200));
        w.on('exit', (code) => {
          server.close();
          console.log('done: worker ' + code);
        });
      });`,
      'done: worker 1', // terminate() ends a worker with code 1
    );
  });

  it('a worker that leaves mid-I/O on a shared device (process.exit, terminate) leaves the owner working', async () => {
    const workerFile = path.join(dir, 'attached-worker.js');
    fs.writeFileSync(
      workerFile,
      `const { parentPort, workerData } = require('node:worker_threads');
      const { attach, createCompletions } = require(${lib});
      const b = attach(workerData.handle);
      const q = b.getQueue(workerData.index);
      const r = b.allocMemRegion(128 * 1024);
      b.mapMemRegion(r);
      const c = createCompletions(32);
      for (;;) {
        for (let i = 0; i < 32; i++) q.read(i * 4096, new Uint8Array(r.buffer, i * 4096, 4096), i);
        q.doIo(c, 0, 0);
        if (workerData.exit) process.exit(0);  // requests in flight
        parentPort.postMessage('busy');
        q.doIo(c, 1, 32);
      }`,
    );
    await expectCleanExit(
      'attached-main.js',
      `const { Worker } = require('node:worker_threads');
      const { create, createCompletions } = require(${lib});
      const b = create('io_uring');
      b.setStr('path', ${JSON.stringify(disk)});
      b.connect();
      b.setInt('num-queues', 3);
      b.start();
      const handle = b.share();
      const leaving = new Worker(${JSON.stringify(workerFile)}, { workerData: { handle, index: 1, exit: true } });
      const terminated = new Worker(${JSON.stringify(workerFile)}, { workerData: { handle, index: 2, exit: false } });
      terminated.once('message', () => terminated.terminate());
      Promise.all([leaving, terminated].map((w) => new Promise((resolve) => w.on('exit', resolve)))).then((codes) => {
        const r = b.allocMemRegion(4096);
        b.mapMemRegion(r);
        const q = b.getQueue(0);
        q.read(0, new Uint8Array(r.buffer), 'owner');
        const c = createCompletions(1);
        if (q.doIo(c, 1, 1) !== 1 || c[0].ret !== 0) throw new Error('owner read failed: ' + c[0].ret);
        console.log('done, workers exited with ' + codes.join(','));
      });`,
    );
  });
});
