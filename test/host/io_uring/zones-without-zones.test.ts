// Zone requests and properties on devices without zones (a regular file, a
// loop device): zoned-model "none", zeros, and ENOTSUP in completions. The
// zoned behaviour itself is tested in the guest (test/vm/zoned) on null_blk.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { constants } from 'node:os';
import { allocateZones, Blkio, create, createCompletions, decodeZones, REQ_FUA } from '../../../src/lib';
import { expectCode } from '../../shared/behaviour';
import { complete } from '../../support/completions';
import { attachLoop, detachLoop, randomFile, tempDir } from '../../support/files';

const { EINVAL, ENOTSUP, EBADF } = constants.errno;

describe('io_uring: zone requests on devices without zones', () => {
  let dir: string;
  let file: string;
  let b: Blkio;
  beforeEach(() => {
    dir = tempDir();
    file = randomFile(1 << 20, dir);
  });
  afterEach(() => {
    b?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function started(p: string, readOnly = false): Blkio {
    b = create('io_uring');
    b.setStr('path', p);
    if (readOnly) b.setBool('read-only', true);
    b.connect();
    b.start();
    return b;
  }

  it('a regular file reports zoned-model "none" and zero zone geometry and limits', () => {
    started(file);
    assert.equal(b.getStr('zoned-model'), 'none');
    for (const name of ['nr-zones', 'zone-size', 'max-open-zones', 'max-active-zones', 'max-append-bytes'] as const)
      assert.equal(b.getUint64(name), 0n, name);
  });

  it('the zoned properties are read-only', () => {
    started(file);
    expectCode(() => b.setUint64('zone-size', 1n), 'EACCES');
    expectCode(() => b.setStr('zoned-model', 'host-managed'), 'EACCES');
  });

  it('every zone request on a regular file completes with ENOTSUP, and the message says the device is not zoned', () => {
    const q = started(file).getQueue(0)!;
    q.reportZones(0, allocateZones(2));
    q.openZone(0);
    q.closeZone(0);
    q.finishZone(0);
    q.resetZone(0);
    q.openAllZones();
    q.closeAllZones();
    q.finishAllZones();
    q.resetAllZones();
    const got = complete(q, 9);
    for (const c of got) {
      assert.equal(c.ret, -ENOTSUP);
      assert.match(String(c.errorMsg), /zoned/);
    }
  });

  it('a loop device is not zoned either: ENOTSUP', function () {
    const loop = attachLoop(file);
    try {
      const q = started(loop).getQueue(0)!;
      assert.equal(b.getStr('zoned-model'), 'none');
      q.resetAllZones();
      assert.equal(complete(q, 1)[0].ret, -ENOTSUP);
    } finally {
      b.destroy();
      detachLoop(loop);
    }
  });

  it('request flags on a zone request fail with EINVAL', () => {
    const q = started(file).getQueue(0)!;
    q.resetZone(0, undefined, REQ_FUA);
    assert.equal(complete(q, 1)[0].ret, -EINVAL);
  });

  it('zone management on a read-only device fails with EBADF; a report does not need write access', () => {
    const q = started(file, true).getQueue(0)!;
    q.resetAllZones();
    q.reportZones(0, allocateZones(1));
    const [reset, report] = complete(q, 2);
    assert.equal(reset.ret, -EBADF);
    assert.equal(report.ret, -ENOTSUP);
  });

  it('reportZones needs a Uint8Array of whole 64-byte zones', () => {
    const q = started(file).getQueue(0)!;
    expectCode(() => q.reportZones(0, new Uint8Array(65)), 'EINVAL');
    expectCode(() => q.reportZones(0, [] as unknown as Uint8Array), 'EINVAL');
    assert.equal(q.pending, 0);
    assert.equal(q.doIo(createCompletions(1), 0, 1), 0);
  });

  it('decodeZones reads struct blkio_zone fields and refuses a count beyond the buffer', () => {
    const zones = allocateZones(1);
    const view = new DataView(zones.buffer);
    view.setBigUint64(0, 4096n, true);
    view.setBigUint64(8, 8192n, true);
    view.setBigUint64(16, 4096n, true);
    view.setBigUint64(24, 2n ** 64n - 1n, true);
    zones[32] = 1;
    zones[33] = 0;
    zones[34] = 1;
    assert.deepEqual(decodeZones(zones, 1), [
      { start: 4096, len: 8192, capacity: 4096, writePointer: null, type: 1, state: 0, reset: true },
    ]);
    expectCode(() => decodeZones(zones, 2), 'EINVAL');
  });
});
