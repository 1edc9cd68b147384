// fio's libblkio engine against libblkio.so.1 with iodepth above num-entries
//: one blkioq_do_io(min = all) must complete every request.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomFile, tempDir } from '../../support/files';
import { ROOT, pkgConfigFlags, runC } from './support';

describe('C ABI: blkioq_do_io(min = all) with more requests than num-entries', function () {
  this.timeout(120000);
  let dir: string;
  let file: string;
  let exe: string;
  before(() => {
    dir = tempDir('blkio-capi-backlog-');
    file = randomFile(4 << 20, dir);
    exe = path.join(dir, 'do-io-backlog');
    const source = path.join(ROOT, 'test', 'host', 'capi', 'do-io-backlog.c');
    execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', source, ...pkgConfigFlags(), '-o', exe]);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const [entries, total] of [[8, 32], [8, 1024], [16, 41]]) {
    it(`num-entries ${entries} with ${total} requests queued: all complete, each once`, () => {
      const r = runC(exe, [file, String(entries), String(total)]);
      assert.equal(r.status, 0, r.output);
      assert.match(r.output, /^ok - /m);
    });
  }
});
