#!/usr/bin/env node
// npm's prepack step: brings dist/ and the addon up to date (an incremental
// addon build, not a rebuild) and copies the addon to prebuilds/. Every
// line of their output goes to stderr: `npm pack --json` prints only JSON.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', '..');
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: ['ignore', 2, 2] });
const npm = process.env.npm_execpath ? [process.execPath, [process.env.npm_execpath]] : ['npm', []];

run(npm[0], [...npm[1], 'run', '--silent', 'build:ts']);
const nodeGyp = process.env.npm_config_node_gyp ? [process.execPath, [process.env.npm_config_node_gyp]] : ['node-gyp', []];
if (!fs.existsSync(path.join(root, 'build', 'Makefile'))) run(nodeGyp[0], [...nodeGyp[1], 'configure']);
run(nodeGyp[0], [...nodeGyp[1], 'build']);
run(process.execPath, [path.join(__dirname, 'prebuild.js')]);
