// supports-poll-queues in the guest: /dev/vda really
// polls (a virtio-blk poll queue, queue/io_poll 1) and reports true, while an
// O_DIRECT loop device over a file on it does not poll and reports false.
// Guest only.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Blkio, create } from '../../src/lib';
import { expectCode } from '../shared/behaviour';
import { attachLoop, detachLoop } from '../support/files';

function connectedDirect(p: string): Blkio {
  const b = create('io_uring');
  b.setStr('path', p);
  b.setBool('direct', true);
  b.connect();
  return b;
}

if (process.env.BLKIO_IN_VM === '1') {
  describe('io_uring supports-poll-queues in the guest', () => {
    it('the guest disk /dev/vda has a poll queue (queue/io_poll is 1)', () => {
      assert.equal(fs.readFileSync('/sys/block/vda/queue/io_poll', 'utf8').trim(), '1');
    });

    it('/dev/vda with direct reports true', () => {
      const b = connectedDirect('/dev/vda');
      assert.equal(b.getBool('supports-poll-queues'), true);
      b.destroy();
    });

    it('an O_DIRECT loop device (no poll queue) reports false and refuses poll queues with EINVAL', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkio-poll-'));
      const file = path.join(dir, 'disk.img');
      fs.writeFileSync(file, Buffer.alloc(1 << 20));
      const dev = attachLoop(file);
      try {
        const b = connectedDirect(dev);
        assert.equal(b.getBool('supports-poll-queues'), false);
        b.setInt('num-poll-queues', 1);
        expectCode(() => b.start(), 'EINVAL', /poll queues/);
        b.destroy();
      } finally {
        detachLoop(dev);
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
