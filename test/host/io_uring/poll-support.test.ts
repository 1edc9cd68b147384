// supports-poll-queues follows the block device's real poll capability
//: polled I/O needs a device whose queue polls
// (sysfs queue/io_poll = 1). A zero-length IOPOLL read succeeds on any
// O_DIRECT file, so it alone must not decide. Poll queues on a device that
// cannot poll are refused at start() with EINVAL, as libblkio does.
// The polled case (a virtio-blk disk with poll queues) is in
// test/vm/guest-poll-queues.test.ts.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Blkio, create } from '../../../src/lib';
import { expectCode } from '../../shared/behaviour';
import { LIBRARY } from '../capi/support';
import { attachLoop, detachLoop, randomFile, tempDir } from '../../support/files';

/** queue/io_poll of the block device behind a file, or of a block device; null if it has none. */
function ioPoll(p: string): string | null {
  const st = fs.statSync(p);
  const dev = st.isBlockDevice() ? st.rdev : st.dev;
  const base = `/sys/dev/block/${Math.floor(dev / 256) & 0xfff}:${(dev & 0xff) | ((dev >> 12) & ~0xff)}`;
  for (const attr of ['queue/io_poll', '../queue/io_poll']) {
    try {
      return fs.readFileSync(path.join(base, attr), 'utf8').trim();
    } catch {
      // a partition keeps its queue in the disk's directory
    }
  }
  return null;
}

function connected(p: string, driver = 'io_uring'): Blkio {
  const b = create(driver);
  b.setStr('path', p);
  b.setBool('direct', true);
  b.connect();
  return b;
}

describe('io_uring supports-poll-queues follows the device', () => {
  let dir: string;
  let file: string;
  let b: Blkio | undefined;
  beforeEach(() => {
    dir = tempDir();
    file = randomFile(1 << 20, dir);
  });
  afterEach(() => {
    b?.destroy();
    b = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('an O_DIRECT file on a block device without io_poll', () => {
    beforeEach(function () {
      const poll = ioPoll(file);
      if (poll === null) this.skip(); // the temp dir's file system has no block device (e.g. tmpfs)
      if (poll !== '0') this.skip(); // this machine's disk polls: the refusal cannot be shown here
    });

    it('reports supports-poll-queues false', () => {
      b = connected(file);
      assert.equal(b.getBool('supports-poll-queues'), false);
    });

    it('refuses start() with num-poll-queues 1: EINVAL naming poll queues', () => {
      b = connected(file);
      b.setInt('num-poll-queues', 1);
      expectCode(() => b!.start(), 'EINVAL', /poll queues/);
    });

    it('refuses start() with only poll queues (num-queues 0, num-poll-queues 1)', () => {
      b = connected(file);
      b.setInt('num-queues', 0);
      b.setInt('num-poll-queues', 1);
      expectCode(() => b!.start(), 'EINVAL', /poll queues/);
    });

    it('refuses addPollQueue() after start with EINVAL', () => {
      b = connected(file);
      b.start();
      expectCode(() => b!.addPollQueue(), 'EINVAL', /poll queues/);
      assert.equal(b.getPollQueue(0), null);
    });

    it('through the C ABI (libblkio.so.1): false, and blkio_start fails with -EINVAL', () => {
      b = connected(file, 'io_uring');
      b.destroy();
      b = create('io_uring', { library: LIBRARY });
      b.setStr('path', file);
      b.setBool('direct', true);
      b.connect();
      assert.equal(b.getBool('supports-poll-queues'), false);
      b.setInt('num-poll-queues', 1);
      expectCode(() => b!.start(), 'EINVAL');
    });
  });

  it('an O_DIRECT loop device (loop queues never poll) reports false and refuses poll queues', function () {
    const dev = attachLoop(file);
    try {
      if (ioPoll(dev) !== '0') this.skip(); // a kernel whose loop driver polls
      b = connected(dev);
      assert.equal(b.getBool('supports-poll-queues'), false);
      b.setInt('num-poll-queues', 1);
      expectCode(() => b!.start(), 'EINVAL', /poll queues/);
    } finally {
      b?.destroy();
      b = undefined;
      detachLoop(dev);
    }
  });

  it('an O_DIRECT file on tmpfs (no block device behind it) reports false', function () {
    const shm = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'blkio-poll-'));
    try {
      const f = path.join(shm, 'disk.img');
      fs.writeFileSync(f, Buffer.alloc(1 << 20));
      if (ioPoll(f) !== null) this.skip(); // not a file system without a block device
      b = create('io_uring');
      b.setStr('path', f);
      b.setBool('direct', true);
      try {
        b.connect();
      } catch {
        this.skip(); // this kernel's tmpfs has no O_DIRECT
      }
      assert.equal(b.getBool('supports-poll-queues'), false);
    } finally {
      b?.destroy();
      b = undefined;
      fs.rmSync(shm, { recursive: true, force: true });
    }
  });

  it('without direct, even a block device reports false', () => {
    b = create('io_uring');
    b.setStr('path', file);
    b.connect();
    assert.equal(b.getBool('supports-poll-queues'), false);
  });
});
