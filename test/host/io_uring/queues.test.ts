import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
import { create, createCompletions } from '../../../src/lib';
import { expectCode } from '../../shared/behaviour';
import { randomFile, readFileRange, tempDir } from '../../support/files';

describe('io_uring queues', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = tempDir();
    file = randomFile(1 << 20, dir);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function startedOn(p: string) {
    const b = create('io_uring');
    b.setStr('path', p);
    b.connect();
    b.start();
    return b;
  }

  it('addQueue before start gives EBUSY', () => {
    const b = create('io_uring');
    b.setStr('path', file);
    b.connect();
    expectCode(() => b.addQueue(), 'EBUSY');
    b.destroy();
  });

  it('addQueue returns the next index and the queue does I/O', () => {
    const b = startedOn(file);
    assert.equal(b.addQueue(), 1);
    const q = b.getQueue(1)!;
    const buf = new Uint8Array(4096);
    q.read(0, buf, 'x');
    const c = createCompletions(1);
    assert.equal(q.doIo(c, 1, 1), 1);
    assert.equal(c[0].ret, 0);
    assert.deepEqual(Buffer.from(buf), readFileRange(file, 0, 4096));
    b.destroy();
  });

  it('removeQueue frees the index for reuse; removing it again gives ENOENT', () => {
    const b = startedOn(file);
    b.addQueue();
    const q1 = b.getQueue(1)!;
    b.removeQueue(1);
    assert.equal(b.getQueue(1), null);
    expectCode(() => b.removeQueue(1), 'ENOENT', /index 1/);
    expectCode(() => q1.flush(), 'ENODEV');
    assert.equal(b.addQueue(), 1);
    b.destroy();
  });

  it('a worker thread attaches to the started device and uses its own queue', async () => {
    const b = startedOn(file);
    const index = b.addQueue();
    const worker = new Worker(path.join(__dirname, 'worker-read.js'), {
      workerData: { handle: b.share(), index },
    });
    const bytes: Uint8Array = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await new Promise((resolve) => worker.once('exit', resolve));
    assert.deepEqual(Buffer.from(bytes), readFileRange(file, 8192, 4096));
    b.destroy();
  });
});
