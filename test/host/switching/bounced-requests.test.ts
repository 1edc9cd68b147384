// Requests that go through the bounce pool (their buffers are not in a
// region the device can reach) while switches start and end: every one
// settles, on the backend whose pool it took space from. The writers issue
// each request a varying number of microtask turns after the previous one
// settled, so that some arrive between a switch's checks and its hold.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { open, OpenOptions } from '../../../src/lib';
import { useExportedImage } from '../../support/exported-image';

const SIZE = 4 << 20;
const BLOCK = 4096;
const WRITERS = 32;
const SWITCHES = 40;

async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await null;
}

describe('Bounced requests across switches (vhost-user and io_uring)', function () {
  this.timeout(120000);
  const t = useExportedImage(SIZE);

  async function writeThroughSwitches(a: OpenOptions, b: OpenOptions, misalign: number): Promise<void> {
    const d = (t.dev = await open(a));
    let stop = false;
    const last = new Map<number, number>();
    const writers = Array.from({ length: WRITERS }, async (_, w) => {
      // Outside every memory region (and misaligned for O_DIRECT when asked): it bounces.
      const buf = new Uint8Array(BLOCK + misalign).subarray(misalign);
      for (let n = 0; !stop; n++) {
        await turns((n * 7 + w) % 23);
        buf.fill((n % 255) + 1);
        await d.write(buf, 0, BLOCK, w * BLOCK);
        last.set(w, (n % 255) + 1);
      }
    });
    for (let i = 0; i < SWITCHES; i++) {
      await new Promise((resolve) => setTimeout(resolve, 15));
      // A stranded request shows as a drain that never ends.
      await d.switchTo(i % 2 === 0 ? b : a, { drainTimeoutMs: 10_000 });
    }
    stop = true;
    await Promise.all(writers);
    await d.close();
    t.dev = undefined;
    const bytes = fs.readFileSync(t.image);
    for (const [w, fill] of last) assert.equal(bytes[w * BLOCK], fill, `block ${w}`);
  }

  it('settles every write bounced for vhost-user (memory regions) through switches to io_uring and back', async () => {
    await writeThroughSwitches({ driver: 'virtio-blk-vhost-user', path: t.qsd.socket }, { driver: 'io_uring', path: t.image }, 0);
  });

  it('settles every write bounced for O_DIRECT alignment through switches between two io_uring backends', async () => {
    const direct: OpenOptions = { driver: 'io_uring', path: t.image, properties: { direct: true } };
    await writeThroughSwitches(direct, direct, 1);
  });
});
