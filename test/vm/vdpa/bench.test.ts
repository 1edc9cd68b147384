// Runs bench/vdpa-vs-io_uring.ts in the test guest, where its ratio means
// something (both sides measured under the same TCG), and prints its report.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { guestDevice } from '../../support/vdpa-targets';
import { DIST_TEST } from '../../support/paths';

const device = guestDevice('BLKIO_VDUSE_RAW');

if (device && process.env.BLKIO_VDUSE_RAW_FILE) {
  describe('bench: vhost-vdpa (VDUSE) vs io_uring on the raw file behind it', function () {
    this.timeout(300_000);

    it('reports IOPS and CPU ratios for 4 KiB random reads at QD32', function () {
      const script = path.join(DIST_TEST, 'bench', 'vdpa-vs-io_uring.js');
      const seconds = process.env.BLKIO_VDPA_BENCH_SECONDS ?? '2';
      const run = spawnSync(process.execPath, [script, seconds, '3'], { encoding: 'utf8', timeout: 240_000 });
      process.stdout.write(run.stdout.replace(/^/gm, '      '));
      assert.equal(run.status, 0, run.stderr);
      assert.equal((run.stdout.match(/ratio vhost-vdpa \/ io_uring: IOPS \d+\.\d+x/g) ?? []).length, 2, run.stdout);
    });
  });
}
