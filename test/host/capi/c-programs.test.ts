// The C ABI as C programs see it: test/c/example.c and test/c/capi-test.c,
// built with gcc against addon/capi/blkio.h and `pkg-config blkio`, run on
// io_uring (a temp file) and virtio-blk-vhost-user (qemu-storage-daemon).
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomFile, tempDir } from '../../support/files';
import { Qsd } from '../../support/qsd';
import { BUILD_DIR, LIBRARY, PKG_CONFIG_DIR, ROOT, compileC, pkgConfigFlags, runC } from './support';

// Everything libblkio's blkio.h declares.
const API = [
  'blkio_add_poll_queue', 'blkio_add_queue', 'blkio_alloc_mem_region', 'blkio_connect', 'blkio_create',
  'blkio_destroy', 'blkio_free_mem_region', 'blkio_get_bool', 'blkio_get_error_msg', 'blkio_get_int',
  'blkio_get_poll_queue', 'blkio_get_queue', 'blkio_get_str', 'blkio_get_uint64', 'blkio_map_mem_region',
  'blkio_remove_poll_queue', 'blkio_remove_queue', 'blkio_set_bool', 'blkio_set_int', 'blkio_set_str',
  'blkio_set_uint64', 'blkio_start', 'blkio_unmap_mem_region', 'blkioq_discard', 'blkioq_do_io',
  'blkioq_do_io_interruptible', 'blkioq_flush', 'blkioq_get_completion_fd', 'blkioq_read', 'blkioq_readv',
  'blkioq_set_completion_fd_enabled', 'blkioq_write', 'blkioq_write_zeroes', 'blkioq_writev',
  // The extension for moving requests to another device (docs/switching.md).
  'blkioq_get_in_flight', 'blkioq_set_quiesced', 'blkioq_take_unsubmitted',
  // The zoned-device functions of upstream's newer blkio.h.
  'blkioq_close_all_zones', 'blkioq_close_zone', 'blkioq_finish_all_zones', 'blkioq_finish_zone',
  'blkioq_open_all_zones', 'blkioq_open_zone', 'blkioq_report_zones', 'blkioq_reset_all_zones', 'blkioq_reset_zone',
];

function checkRun(exe: string, args: string[]): string {
  const r = runC(exe, args);
  assert.equal(r.status, 0, r.output);
  return r.output;
}

function checksPassed(output: string): void {
  const m = /^(\d+) checks, 0 failed$/m.exec(output);
  assert.ok(m, output);
  assert.ok(Number(m[1]) >= 80, `only ${m[1]} checks ran:\n${output}`);
}

describe('libblkio C ABI (libblkio.so.1)', function () {
  this.timeout(180000);
  let dir: string;
  let example: string;
  let capiTest: string;

  before(() => {
    dir = tempDir('blkio-capi-');
    example = compileC('example', dir);
    capiTest = compileC('capi-test', dir);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('the library', () => {
    it('has soname libblkio.so.1 and a libblkio.so link for -lblkio', () => {
      const dynamic = execFileSync('readelf', ['-d', LIBRARY], { encoding: 'utf8' });
      assert.match(dynamic, /Library soname: \[libblkio\.so\.1\]/);
      assert.equal(fs.readlinkSync(path.join(BUILD_DIR, 'libblkio.so')), 'libblkio.so.1');
    });

    it('exports exactly libblkio\'s functions and the switching extension', () => {
      const out = execFileSync('nm', ['-D', '--defined-only', LIBRARY], { encoding: 'utf8' });
      const symbols = out
        .trim()
        .split('\n')
        .map((line) => line.split(/\s+/)[2])
        .sort();
      assert.deepEqual(symbols, [...API].sort());
    });

    it('pkg-config finds blkio.h and -lblkio', () => {
      const flags = pkgConfigFlags();
      assert.ok(flags.includes(`-I${PKG_CONFIG_DIR}`), flags.join(' '));
      assert.ok(flags.includes('-lblkio'));
      assert.ok(fs.existsSync(path.join(PKG_CONFIG_DIR, 'blkio.h')));
      const version = execFileSync('pkg-config', ['--modversion', 'blkio'], {
        env: { ...process.env, PKG_CONFIG_PATH: PKG_CONFIG_DIR },
        encoding: 'utf8',
      });
      assert.match(version.trim(), /^1\.\d+\.\d+$/);
    });

    it('the header compiles in strict ISO C (-std=c11 -pedantic)', () => {
      const source = path.join(ROOT, 'test', 'c', 'example.c');
      execFileSync('gcc', ['-std=c11', '-pedantic', '-Wall', '-Werror', '-c', source, ...pkgConfigFlags(), '-o', path.join(dir, 'strict.o')]);
    });

    it('the header compiles as C++ too', () => {
      const source = path.join(dir, 'cxx.cc');
      fs.writeFileSync(source, '#include <blkio.h>\nint main() { struct blkio *b = nullptr; blkio_destroy(&b); return 0; }\n');
      execFileSync('g++', ['-Wall', '-Werror', source, ...pkgConfigFlags(), '-o', path.join(dir, 'cxx')]);
      assert.equal(runC(path.join(dir, 'cxx'), []).status, 0);
    });
  });

  describe('io_uring on a temp file', () => {
    let file: string;
    before(() => {
      file = randomFile(8 << 20, dir);
    });

    it('example.c writes and reads back a block', () => {
      assert.match(checkRun(example, ['io_uring', file]), /match$/m);
    });

    it('capi-test.c passes every check', () => {
      checksPassed(checkRun(capiTest, ['io_uring', file]));
    });
  });

  describe('virtio-blk-vhost-user on qemu-storage-daemon', () => {
    let qsd: Qsd;
    before(async () => {
      qsd = await Qsd.start({ format: 'raw' });
    });
    after(async () => qsd?.dispose());

    it('example.c writes and reads back a block', () => {
      assert.match(checkRun(example, ['virtio-blk-vhost-user', qsd.socket]), /match$/m);
    });

    it('capi-test.c passes every check, including waits on a stalled device', () => {
      // With qsd's pid the program also stops the daemon briefly: ETIME, EINTR
      // from blkioq_do_io_interruptible, and nothing lost afterwards.
      const output = checkRun(capiTest, ['virtio-blk-vhost-user', qsd.socket, String(qsd.pid)]);
      checksPassed(output);
      assert.match(output, /^ok \d+ - a signal unblocked by the mask interrupts do_io_interruptible/m);
    });
  });
});
