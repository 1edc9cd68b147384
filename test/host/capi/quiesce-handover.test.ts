// libblkio.so.1's extension for moving requests to another device, from C:
// blkioq_set_quiesced, blkioq_get_in_flight, blkioq_take_unsubmitted.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomFile, tempDir } from '../../support/files';
import { ROOT, pkgConfigFlags, runC } from './support';

describe('C ABI: quiescing a queue and taking back unsubmitted requests', function () {
  this.timeout(120000);
  let dir: string;
  let exe: string;
  before(() => {
    dir = tempDir('blkio-capi-quiesce-');
    exe = path.join(dir, 'quiesce-handover');
    const source = path.join(ROOT, 'test', 'host', 'capi', 'quiesce-handover.c');
    execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', source, ...pkgConfigFlags(), '-o', exe]);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('completes what the device holds and hands back the rest, in order, never completed', () => {
    const r = runC(exe, [randomFile(1 << 20, dir)]);
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /^ok - /m);
  });
});
