#!/usr/bin/env node
// npm's install step. A consumer on a platform we ship a prebuilt addon for
// uses it when it loads here (no compiler needed); otherwise the addon is
// built from source. Exit status 1 means "build from source" (package.json
// then runs node-gyp). The C library (libblkio.so.1) is built only in a
// source checkout or when BLKIO_BUILD_CAPI=1 (see binding.gyp).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', '..');
const prebuilt = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'blkio.node');
const isCheckout = fs.existsSync(path.join(root, 'test'));

if (isCheckout || process.env.BLKIO_BUILD_FROM_SOURCE === '1' || !fs.existsSync(prebuilt)) process.exit(1);
try {
  require(prebuilt);
  console.log(`blkio: using the prebuilt addon ${path.relative(root, prebuilt)}`);
} catch (e) {
  console.log(`blkio: the prebuilt addon does not load here (${e.message}); building from source`);
  process.exit(1);
}
