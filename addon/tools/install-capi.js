#!/usr/bin/env node
// Installs the C library for C programs (fio's libblkio engine, QEMU, ...):
//   npm run install-capi -- --prefix=DIR      (default /usr/local)
// DIR/lib/libblkio.so.1 (+ libblkio.so), DIR/include/blkio.h and a blkio.pc
// for that prefix whose Libs carry an rpath, so a program built with
// `pkg-config --cflags --libs blkio` starts without LD_LIBRARY_PATH.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', '..');
const prefixArg = process.argv.slice(2).find((a) => a.startsWith('--prefix='));
const prefix = path.resolve(prefixArg ? prefixArg.slice('--prefix='.length) : '/usr/local');
const built = path.join(root, 'build', 'Release', 'libblkio.so.1');

if (!fs.existsSync(built)) {
  console.log('install-capi: building libblkio.so.1');
  execFileSync('node-gyp', ['rebuild'], { cwd: root, stdio: 'inherit', env: { ...process.env, BLKIO_BUILD_CAPI: '1' } });
}
const version = /^Version:\s*(\S+)/m.exec(fs.readFileSync(path.join(root, 'addon', 'capi', 'blkio.pc'), 'utf8'))[1];
const libdir = path.join(prefix, 'lib');
const includedir = path.join(prefix, 'include');
const pcdir = path.join(libdir, 'pkgconfig');
for (const dir of [libdir, includedir, pcdir]) fs.mkdirSync(dir, { recursive: true });

fs.copyFileSync(built, path.join(libdir, 'libblkio.so.1'));
fs.rmSync(path.join(libdir, 'libblkio.so'), { force: true });
fs.symlinkSync('libblkio.so.1', path.join(libdir, 'libblkio.so'));
fs.copyFileSync(path.join(root, 'addon', 'capi', 'blkio.h'), path.join(includedir, 'blkio.h'));
fs.writeFileSync(
  path.join(pcdir, 'blkio.pc'),
  [
    `prefix=${prefix}`,
    'libdir=${prefix}/lib',
    'includedir=${prefix}/include',
    '',
    'Name: blkio',
    'Description: libblkio-compatible block I/O library (io_uring, virtio-blk-vhost-user, virtio-blk-vhost-vdpa)',
    'URL: https://gitlab.com/libblkio/libblkio',
    `Version: ${version}`,
    'Libs: -L${libdir} -Wl,-rpath,${libdir} -lblkio',
    'Cflags: -I${includedir}',
    '',
  ].join('\n'),
);
console.log(`install-capi: installed libblkio.so.1, blkio.h and blkio.pc under ${prefix}`);
console.log(`install-capi: PKG_CONFIG_PATH=${pcdir} pkg-config --cflags --libs blkio`);
