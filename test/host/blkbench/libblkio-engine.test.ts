/**
 * ioengine=libblkio with any libblkio_driver: the addon's drivers directly, every other name through
 * the koffi loader from the libblkio named by $BLKIO_LIBRARY (here this project's libblkio.so.1).
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LIBRARY } from '../capi/support';
import { BLKBENCH_CLI } from '../../support/paths';
import { requirePrerequisite } from '../../support/prerequisites';

const CLI = BLKBENCH_CLI;

describe('blkbench ioengine=libblkio', function () {
  this.timeout(60000);
  let dir: string;
  let file: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkbench-libblkio-'));
    file = path.join(dir, 'disk.img');
    fs.writeFileSync(file, Buffer.alloc(1 << 20, 7));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function run(driver: string, library: string) {
    const r = spawnSync(process.execPath, [CLI, '--ioengine=libblkio', `--libblkio_driver=${driver}`, `--filename=${file}`,
      '--rw=randread', '--size=256k', '--output-format=json'], { encoding: 'utf8', env: { ...process.env, BLKIO_LIBRARY: library } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it('runs a built-in driver on the addon, whatever $BLKIO_LIBRARY says', () => {
    const r = run('io_uring', '/nonexistent/libblkio.so.1');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).jobs[0].read.total_ios, 64);
  });

  it('runs a driver of another libblkio through koffi (libblkio:NAME)', function () {
    requirePrerequisite(fs.existsSync(LIBRARY), LIBRARY, "a checkout's npm install builds it");
    const r = run('libblkio:io_uring', LIBRARY);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).jobs[0].read.total_ios, 64);
  });

  it('asks the libblkio library for a driver name the addon does not have', function () {
    requirePrerequisite(fs.existsSync(LIBRARY), LIBRARY, "a checkout's npm install builds it");
    const r = run('virtio-blk-vhost-fancy', LIBRARY);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "blkbench: job1: creating driver 'virtio-blk-vhost-fancy' failed: Unknown driver name 'virtio-blk-vhost-fancy'\n");
  });

  it('names the library when it cannot be loaded', () => {
    const r = run('virtio-blk-vhost-fancy', '/nonexistent/libblkio.so.1');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /creating driver 'virtio-blk-vhost-fancy' failed: cannot load the libblkio library '\/nonexistent\/libblkio\.so\.1'/);
  });
});
