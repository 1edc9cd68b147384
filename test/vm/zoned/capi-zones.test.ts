// Runs only inside the test guest: a C program written against blkio.h
// (test/vm/zoned/zones-capi.c) uses the zone functions of libblkio.so.1 on a
// zoned null_blk device. Outside the guest this file defines no tests.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT, pkgConfigFlags, runC } from '../../host/capi/support';
import { createZonedNullBlk, ZonedNullBlk } from './null-blk';

if (process.env.BLKIO_IN_VM === '1') {
  describe('vm guest: the C API zone functions on a zoned null_blk device', function () {
    this.timeout(120_000);
    let dev: ZonedNullBlk;
    let dir: string;
    let exe: string;

    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkio-zones-capi-'));
      exe = path.join(dir, 'zones-capi');
      const source = path.join(ROOT, 'test', 'vm', 'zoned', 'zones-capi.c');
      execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', source, ...pkgConfigFlags(), '-o', exe]);
      dev = createZonedNullBlk('blkio-zoned-capi', {
        zoneSizeMiB: 1, zones: 6, conventional: 2, maxOpen: 0, maxActive: 0, blockSize: 4096,
      });
    });
    after(() => {
      dev?.remove();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('report, write at and off the write pointer, finish, reset, open, close and the _all_zones forms behave as zones do', () => {
      const r = runC(exe, [dev.path]);
      assert.equal(r.status, 0, r.output);
      assert.equal((r.output.match(/^ok - /gm) ?? []).length, 7, r.output);
    });
  });
}
