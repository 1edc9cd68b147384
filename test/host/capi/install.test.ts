// `npm run install-capi -- --prefix=DIR` installs the C library the way a C
// program expects to find it: pkg-config finds it, and the program starts
// without LD_LIBRARY_PATH (the generated blkio.pc carries an rpath).
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomFile, tempDir } from '../../support/files';
import { REPO_ROOT } from '../../support/paths';

describe('install-capi: the C library installed under a prefix', function () {
  this.timeout(120000);
  let dir: string;
  let prefix: string;

  before(() => {
    dir = tempDir('blkio-install-capi-');
    prefix = path.join(dir, 'prefix');
    execFileSync(process.execPath, [path.join(REPO_ROOT, 'addon', 'tools', 'install-capi.js'), `--prefix=${prefix}`], {
      encoding: 'utf8',
    });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('installs libblkio.so.1, the libblkio.so link, blkio.h and blkio.pc', () => {
    assert.ok(fs.statSync(path.join(prefix, 'lib', 'libblkio.so.1')).isFile());
    assert.equal(fs.readlinkSync(path.join(prefix, 'lib', 'libblkio.so')), 'libblkio.so.1');
    assert.ok(fs.statSync(path.join(prefix, 'include', 'blkio.h')).isFile());
    assert.ok(fs.statSync(path.join(prefix, 'lib', 'pkgconfig', 'blkio.pc')).isFile());
  });

  it('pkg-config points at the prefix', () => {
    const flags = execFileSync('pkg-config', ['--cflags', '--libs', 'blkio'], {
      env: { ...process.env, PKG_CONFIG_PATH: path.join(prefix, 'lib', 'pkgconfig') },
      encoding: 'utf8',
    });
    assert.match(flags, new RegExp(`-I${prefix}/include`));
    assert.match(flags, new RegExp(`-L${prefix}/lib`));
  });

  it('a C program built with pkg-config runs without LD_LIBRARY_PATH', () => {
    const pcPath = path.join(prefix, 'lib', 'pkgconfig');
    const flags = execFileSync('pkg-config', ['--cflags', '--libs', 'blkio'], {
      env: { ...process.env, PKG_CONFIG_PATH: pcPath },
      encoding: 'utf8',
    })
      .trim()
      .split(/\s+/);
    const exe = path.join(dir, 'example');
    execFileSync('gcc', ['-O2', path.join(REPO_ROOT, 'test', 'c', 'example.c'), ...flags, '-o', exe]);
    const env = { ...process.env };
    delete env.LD_LIBRARY_PATH;
    const r = spawnSync(exe, ['io_uring', randomFile(1 << 20, dir)], { env, encoding: 'utf8' });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    const loaded = execFileSync('ldd', [exe], { env, encoding: 'utf8' });
    assert.match(loaded, new RegExp(`libblkio\\.so\\.1 => ${prefix}/lib/libblkio\\.so\\.1`));
  });
});
