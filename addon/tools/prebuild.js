#!/usr/bin/env node
// Copies the built addon to prebuilds/<platform>-<arch>/, where the loader
// and install.js look first. N-API keeps it valid across Node versions.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', '..');
const built = path.join(root, 'build', 'Release', 'blkio.node');
if (!fs.existsSync(built)) {
  console.error('prebuild: build/Release/blkio.node is missing; run `npm run build` first');
  process.exit(1);
}
const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
fs.mkdirSync(dir, { recursive: true });
fs.copyFileSync(built, path.join(dir, 'blkio.node'));
console.log(`prebuild: ${path.relative(root, path.join(dir, 'blkio.node'))}`);
