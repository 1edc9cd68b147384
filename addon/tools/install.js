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

// In a checkout, `npx blkbench` finds this link and runs the build in dist/ (made by `prepare`) at once;
// without it npx installs the checkout into its own cache, which builds the addon a second time.
function linkCheckoutBin() {
  const bin = path.join(root, 'node_modules', '.bin');
  const link = path.join(bin, 'blkbench');
  try {
    fs.mkdirSync(bin, { recursive: true });
    fs.rmSync(link, { force: true });
    fs.symlinkSync(path.join('..', '..', 'dist', 'blkbench', 'cli.js'), link);
  } catch (e) {
    console.log(`blkio: could not link node_modules/.bin/blkbench (${e.message}); use npm start`);
  }
}

if (isCheckout) linkCheckoutBin();
if (isCheckout || process.env.BLKIO_BUILD_FROM_SOURCE === '1' || !fs.existsSync(prebuilt)) process.exit(1);
try {
  require(prebuilt);
  console.log(`blkio: using the prebuilt addon ${path.relative(root, prebuilt)}`);
} catch (e) {
  console.log(`blkio: the prebuilt addon does not load here (${e.message}); building from source`);
  process.exit(1);
}
