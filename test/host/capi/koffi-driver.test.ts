// What is particular to the libblkio driver: choosing the library, what the
// C API cannot do (sharing with workers), buffers outside regions, queues
// added and removed, and instances dropped without destroy().
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { BlkioError, create, createCompletions, defaultLibraryPath, open } from '../../../src/lib';
import { randomFile, readFileRange, tempDir } from '../../support/files';
import { LIBRARY, withProjectLibrary } from './support';

describe('libblkio driver (koffi)', function () {
  this.timeout(30000);
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = tempDir();
    file = randomFile(4 << 20, dir);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('create(driver, { library }) loads the named library', () => {
    const b = create('io_uring', { library: LIBRARY });
    b.setStr('path', file);
    b.connect();
    assert.equal(b.getUint64('capacity'), BigInt(4 << 20));
    assert.equal(b.getStr('driver'), 'io_uring');
    b.destroy();
  });

  it('a library that cannot be loaded gives ENOENT naming it', () => {
    assert.throws(
      () => create('libblkio:io_uring', { library: '/nonexistent/libblkio.so.1' }),
      (e: BlkioError) => e.code === 'ENOENT' && /nonexistent/.test(e.message),
    );
  });

  it('an unknown driver of the library gives its ENOENT and message', () => {
    assert.throws(
      () => create('no-such-driver', { library: LIBRARY }),
      (e: BlkioError) => e.code === 'ENOENT' && /no-such-driver/.test(e.message),
    );
  });

  it('the default library is $BLKIO_LIBRARY, else libblkio.so.1', () => {
    const saved = process.env.BLKIO_LIBRARY;
    delete process.env.BLKIO_LIBRARY;
    assert.equal(defaultLibraryPath(), 'libblkio.so.1');
    process.env.BLKIO_LIBRARY = LIBRARY;
    assert.equal(defaultLibraryPath(), LIBRARY);
    if (saved === undefined) delete process.env.BLKIO_LIBRARY;
    else process.env.BLKIO_LIBRARY = saved;
  });

  withProjectLibrary(() => {
    it('plain Uint8Arrays outside regions work as request buffers', () => {
      const b = create('libblkio:io_uring');
      b.setStr('path', file);
      b.connect();
      b.start();
      const q = b.getQueue(0)!;
      const data = crypto.randomBytes(8192);
      const completions = createCompletions(1);
      q.write(4096, data, 'w');
      assert.equal(q.doIo(completions, 1, 1, 10e9), 1);
      assert.equal(completions[0].ret, 0);
      const back = new Uint8Array(8192);
      q.readv(4096, [back.subarray(0, 1000), back.subarray(1000)], 'r');
      assert.equal(q.doIo(completions, 1, 1, 10e9), 1);
      assert.equal(completions[0].ret, 0);
      assert.deepEqual(Buffer.from(back), data);
      assert.deepEqual(readFileRange(file, 4096, 8192), data);
      b.destroy();
    });

    it('offsets beyond 2^53 reach the library intact: same outcome as the addon', () => {
      const outcome = (driver: string) => {
        const b = create(driver);
        b.setStr('path', file);
        b.connect();
        b.start();
        const q = b.getQueue(0)!;
        const region = b.allocMemRegion(4096);
        q.read(2n ** 60n + 4096n, new Uint8Array(region.buffer), 'far');
        const completions = createCompletions(1);
        assert.equal(q.doIo(completions, 1, 1), 1);
        b.destroy();
        return { ret: completions[0].ret, errorMsg: completions[0].errorMsg, userData: completions[0].userData };
      };
      assert.deepEqual(outcome('libblkio:io_uring'), outcome('io_uring'));
    });

    it('queues can be added, used and removed', () => {
      const b = create('libblkio:io_uring');
      b.setStr('path', file);
      b.connect();
      b.start();
      const index = b.addQueue();
      assert.equal(index, 1);
      const q = b.getQueue(1)!;
      const buf = new Uint8Array(4096);
      q.read(0, buf);
      const completions = createCompletions(1);
      assert.equal(q.doIo(completions, 1, 1), 1);
      assert.equal(completions[0].ret, 0);
      b.removeQueue(1);
      assert.equal(b.getQueue(1), null);
      assert.throws(() => q.read(0, buf), (e: BlkioError) => e.code === 'ENODEV');
      assert.throws(() => b.removeQueue(1), (e: BlkioError) => e.code === 'ENOENT');
      b.destroy();
    });

    it('share() is not available (ENOTSUP)', () => {
      const b = create('libblkio:io_uring');
      b.setStr('path', file);
      b.connect();
      b.start();
      assert.throws(() => b.share(), (e: BlkioError) => e.code === 'ENOTSUP');
      b.destroy();
    });

    it('the Promise layer works over the library', async () => {
      const d = await open({ driver: 'libblkio:io_uring', path: file });
      const data = crypto.randomBytes(4096);
      await d.write(data, { position: 0 });
      assert.deepEqual((await d.read({ buffer: Buffer.alloc(4096), position: 0 })).buffer, data);
      await d.close();
    });

    it('an instance dropped without destroy() is destroyed when collected', async () => {
      v8.setFlagsFromString('--expose-gc');
      const gc = vm.runInNewContext('gc') as () => void;
      // This test's file is open only through the dropped instance.
      const openOnFile = () =>
        fs.readdirSync('/proc/self/fd').filter((fd) => {
          try {
            return fs.readlinkSync(`/proc/self/fd/${fd}`) === file;
          } catch {
            return false;
          }
        }).length;
      (() => {
        const b = create('libblkio:io_uring');
        b.setStr('path', file);
        b.connect();
        b.start();
        b.allocMemRegion(65536);
      })();
      assert.equal(openOnFile(), 1);
      for (let i = 0; i < 50 && openOnFile() > 0; i++) {
        gc();
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.equal(openOnFile(), 0);
    });
  });
});
