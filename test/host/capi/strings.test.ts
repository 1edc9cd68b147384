// Strings through libblkio.so.1 from C: names and
// values must be UTF-8 (as libblkio's &str), numbers plain decimal, and a
// directory is no io_uring target. test/host/capi/strings.c does the checks.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomFile, tempDir } from '../../support/files';
import { ROOT, pkgConfigFlags, runC } from './support';

describe('C ABI: strings as a C program passes them', function () {
  this.timeout(120000);
  let dir: string;
  let exe: string;
  before(() => {
    dir = tempDir('blkio-capi-strings-');
    exe = path.join(dir, 'strings');
    const source = path.join(ROOT, 'test', 'host', 'capi', 'strings.c');
    execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', source, ...pkgConfigFlags(), '-o', exe]);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('non-UTF-8 names and values, non-decimal numbers and a directory path are EINVAL', () => {
    const sub = path.join(dir, 'a-directory');
    fs.mkdirSync(sub);
    const r = runC(exe, [randomFile(1 << 16, dir), sub]);
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /^(\d+) checks, 0 failed$/m);
  });
});
