// A Device does not depend on every completion wake-up reaching the event
// loop: with the queue's completion fd silenced, requests still settle (the
// device drains itself when no wake-up came for a while). In the TCG guest a
// wake-up was seen to go missing (eventfd counter set, no callback for tens
// of seconds), which stalled a device until something else drained it.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { open } from '../../../src/lib';
import { randomFile, tempDir } from '../../support/files';

describe('Device with a silent completion fd', function () {
  this.timeout(20_000);
  let dir: string;
  beforeEach(() => (dir = tempDir('blkio-lost-wakeup-')));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('settles every request of a QD8 burst anyway, with the data written', async () => {
    const file = randomFile(1 << 20, dir);
    const dev = await open({ driver: 'io_uring', path: file });
    try {
      // No wake-ups from now on: only the device's own check can drain.
      dev.blkio.getQueue(0)!.setCompletionFdEnabled(false);
      const blocks = [...Array(8).keys()];
      await Promise.all(blocks.map((i) => dev.write(Buffer.alloc(4096, i + 1), 0, 4096, i * 4096)));
      const back = await Promise.all(blocks.map((i) => dev.read(Buffer.alloc(4096), 0, 4096, i * 4096)));
      back.forEach(({ buffer }, i) => assert.ok(buffer.equals(Buffer.alloc(4096, i + 1)), `block ${i} read back wrong`));
    } finally {
      await dev.close();
    }
    assert.ok(fs.readFileSync(path.join(dir, 'disk.img')).subarray(0, 4096).equals(Buffer.alloc(4096, 1)));
  });
});
