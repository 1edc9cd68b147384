/**
 * blkbench zonemode=zbd end to end on a regular file (the CLI as a child process, io_uring): a device
 * without zones is refused without zonesize, as fio refuses it; with zonesize, zones are laid over it
 * and both job loops write at their write pointers. The zoned device itself is the guest suite's
 * (test/vm/zoned/blkbench-zbd.test.ts).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { blkbench } from '../../support/blkbench';

const MiB = 1 << 20;

describe('blkbench zonemode=zbd on a device without zones', function () {
  this.timeout(60000);
  let dir: string;
  let file: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkbench-zbd-'));
    file = path.join(dir, 'disk.img');
    fs.writeFileSync(file, Buffer.alloc(8 * MiB));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('is refused without zonesize, naming the file and the fix', () => {
    const r = blkbench([`--filename=${file}`, '--name=z', '--zonemode=zbd', '--rw=write', '--direct=1']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /z: zonemode=zbd: '.*disk\.img' is not a zoned block device; give zonesize for zones laid over it \(as fio does\)/);
  });

  it('verify with a block size that does not divide the zone capacity is refused', () => {
    const r = blkbench([
      `--filename=${file}`, '--name=z', '--zonemode=zbd', '--zonesize=1m', '--zonecapacity=1000k', '--rw=write', '--bs=64k',
      '--direct=1', '--verify=crc32c',
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /zonemode=zbd: block size 65536 does not divide the zone capacity 1024000/);
  });

  for (const loop of ['native', 'js']) {
    it(`with zonesize, random writes over 1 MiB zones fill the region at write pointers, resetting full zones (${loop} loop)`, () => {
      const args = [
        `--filename=${file}`, '--name=z', '--zonemode=zbd', '--zonesize=1m', '--rw=randwrite', '--bs=64k', '--direct=1',
        '--max_open_zones=2', '--size=6m', '--offset=512k', `--blkbench_loop=${loop}`,
      ];
      const r = blkbench([...args, '--output-format=json']);
      assert.equal(r.code, 0, r.stderr);
      const job = JSON.parse(r.stdout).jobs[0];
      assert.equal(job.error, 0);
      // The region is cut to whole zones: offset 512k rounds up to 1m, the end down to 6m (5 zones).
      assert.equal(job.write.io_bytes, 5 * MiB);
      const normal = blkbench(args);
      assert.match(normal.stdout, /zbd {7}: \d+ zone resets/);
    });
  }
});
