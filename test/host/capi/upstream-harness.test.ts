// test/tools/run-upstream-tests.sh, the harness that builds and runs
// libblkio's own test programs from a checkout kept outside this repository,
// checked on a stand-in checkout written here: a tests/util.c and three
// programs that pass, skip themselves (exit 77) and fail.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../../support/files';
import { BUILD_DIR, ROOT } from './support';

const SCRIPT = path.join(ROOT, 'test', 'tools', 'run-upstream-tests.sh');

// Each program gets the driver as --driver=NAME, as upstream's do.
const PROGRAMS: Record<string, string> = {
  'util.c': '#include "blkio.h"\nint driver_arg_ok(const char *a) { return a[0] == \'-\'; }\n',
  'connects.c': `#include <stdio.h>
#include <string.h>
#include "blkio.h"
int main(int argc, char **argv) {
    struct blkio *b;
    if (argc < 2 || strncmp(argv[1], "--driver=", 9) != 0) return 2;
    if (blkio_create(argv[1] + 9, &b) < 0) return 3;
    if (blkio_set_str(b, "path", "/dev/null") < 0) return 4;
    blkio_destroy(&b);
    return 0;
}
`,
  'skips.c': 'int main(void) { return 77; }\n',
  'fails.c': '#include <stdio.h>\nint main(void) { fprintf(stderr, "this one fails\\n"); return 1; }\n',
};

describe('run-upstream-tests.sh on a stand-in upstream checkout', function () {
  this.timeout(120000);
  let dir: string;
  before(() => {
    dir = tempDir('blkio-upstream-harness-');
    fs.mkdirSync(path.join(dir, 'tests'));
    for (const [name, text] of Object.entries(PROGRAMS)) fs.writeFileSync(path.join(dir, 'tests', name), text);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('builds each program against our blkio.h and libblkio.so.1 and reports pass, skip and fail', () => {
    const r = spawnSync('bash', [SCRIPT, dir, 'io_uring'], {
      encoding: 'utf8',
      env: { ...process.env, BLKIO_LIB_DIR: BUILD_DIR },
    });
    const out = `${r.stdout}${r.stderr}`;
    assert.equal(r.status, 1, out);
    assert.match(out, /^ok - connects$/m);
    assert.match(out, /^ok - skips # SKIP/m);
    assert.match(out, /^not ok - fails: exit status 1$/m);
    assert.match(out, /^#   this one fails$/m);
    assert.match(out, /^upstream: 1 passed, 1 failed, 1 skipped$/m);
  });

  it('refuses a directory without tests/util.c', () => {
    const r = spawnSync('bash', [SCRIPT, path.join(dir, 'tests')], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /tests\/util\.c not found/);
  });
});
