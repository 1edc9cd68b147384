// The package as a consumer gets it: `npm pack`, then `npm install` of the
// tarball into an empty project. It holds only what a consumer needs, uses
// the prebuilt addon (no compiler run), works, and a strict TypeScript
// consumer sees only the public API.
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomFile, tempDir } from '../../support/files';
import { REPO_ROOT } from '../../support/paths';

const TSC = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('the npm package, installed by a consumer', function () {
  this.timeout(300_000);
  let dir: string;
  let consumer: string;
  let tarball: string;
  let files: string[];
  let madePrebuilds = false;

  before(function () {
    dir = tempDir('blkio-package-');
    const prebuilds = path.join(REPO_ROOT, 'prebuilds');
    madePrebuilds = !fs.existsSync(prebuilds);
    execFileSync(process.execPath, [path.join(REPO_ROOT, 'addon', 'tools', 'prebuild.js')]);
    // The tree is built already (npm test builds dist/); --ignore-scripts skips prepack's rebuild.
    const packed = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', dir], REPO_ROOT));
    tarball = path.join(dir, packed[0].filename);
    files = packed[0].files.map((f: { path: string }) => f.path);
    consumer = path.join(dir, 'consumer');
    fs.mkdirSync(consumer);
    fs.writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    npm(['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], consumer);
  });
  after(() => {
    if (madePrebuilds) fs.rmSync(path.join(REPO_ROOT, 'prebuilds'), { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('holds the library, blkbench, the prebuilt addon, the native sources, README and LICENSE', () => {
    for (const needed of ['dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/blkbench/cli.js', 'binding.gyp', 'README.md', 'LICENSE'])
      assert.ok(files.includes(needed), `${needed} is missing`);
    assert.ok(files.includes(`prebuilds/${process.platform}-${process.arch}/blkio.node`));
  });

  it('holds no tests, benchmarks, CI scripts, source maps or TypeScript sources', () => {
    const extra = files.filter((f) => /^(test|bench|\.ci|src)\/|\.js\.map$|^dist-test\//.test(f));
    assert.deepEqual(extra, []);
  });

  it('installs without compiling: the prebuilt addon is used', () => {
    assert.equal(fs.existsSync(path.join(consumer, 'node_modules', 'blkio', 'build')), false);
  });

  it('reads a file through require("blkio")', () => {
    const file = randomFile(1 << 16, dir);
    const script = `
      const { create, createCompletions } = require('blkio');
      const b = create('io_uring');
      b.setStr('path', ${JSON.stringify(file)});
      b.connect(); b.start();
      const q = b.getQueue(0), buf = new Uint8Array(4096), c = createCompletions(1);
      q.read(4096, buf);
      if (q.doIo(c, 1, 1) !== 1 || c[0].ret !== 0) process.exit(2);
      const want = require('fs').readFileSync(${JSON.stringify(file)}).subarray(4096, 8192);
      process.exit(Buffer.compare(Buffer.from(buf), want) === 0 ? 0 : 3);`;
    const r = spawnSync(process.execPath, ['-e', script], { cwd: consumer, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });

  it('the blkbench bin runs', () => {
    const r = spawnSync(path.join(consumer, 'node_modules', '.bin', 'blkbench'), ['--version'], { cwd: consumer, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /blkbench/);
  });

  it('a strict TypeScript consumer compiles against the public API', () => {
    fs.writeFileSync(
      path.join(consumer, 'ok.ts'),
      `import { create, open, BlkioError, DriverName } from 'blkio';
       import { vdpa, bindPciDriver } from 'blkio/admin';
       import { startJobLoop } from 'blkio/bench';
       export const tools = [vdpa.listDevices, bindPciDriver, startJobLoop];
       const driver: DriverName = 'io_uring';
       const b = create(driver);
       b.setBool('direct', false);
       const n: number = b.getInt('num-queues');
       export const use = async () => { const d = await open({ driver, path: '/dev/null' }); await d.close(); return [n, BlkioError]; };\n`,
    );
    const r = spawnSync(process.execPath, [TSC, '--strict', '--noEmit', '--target', 'es2022', '--types', 'node', '--typeRoots', path.join(REPO_ROOT, 'node_modules', '@types'), '--module', 'commonjs', 'ok.ts'], {
      cwd: consumer,
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stdout);
  });

  it('provisioning and the job loop are subpath entries: blkio/admin and blkio/bench', () => {
    const script = `
      const main = require('blkio'), admin = require('blkio/admin'), bench = require('blkio/bench');
      const ok = typeof admin.vdpa.listDevices === 'function' && typeof admin.bindPciDriver === 'function'
        && typeof bench.startJobLoop === 'function' && main.vdpa === undefined && main.startJobLoop === undefined;
      process.exit(ok ? 0 : 4);`;
    const r = spawnSync(process.execPath, ['-e', script], { cwd: consumer, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });

  it('internals are not in the types: _kill, native classes and deep imports fail to compile', () => {
    fs.writeFileSync(
      path.join(consumer, 'bad.ts'),
      `import { create } from 'blkio';
       import { addon } from 'blkio/dist/lib/native/addon';
       import { startJobLoop } from 'blkio';
       create('io_uring').getQueue(0)!._kill();\n`,
    );
    const r = spawnSync(process.execPath, [TSC, '--strict', '--noEmit', '--target', 'es2022', '--types', 'node', '--typeRoots', path.join(REPO_ROOT, 'node_modules', '@types'), '--module', 'node16', '--moduleResolution', 'node16', 'bad.ts'], {
      cwd: consumer,
      encoding: 'utf8',
    });
    assert.notEqual(r.status, 0);
    assert.match(r.stdout, /_kill/);
    assert.match(r.stdout, /blkio\/dist\/lib\/native\/addon/);
    assert.match(r.stdout, /startJobLoop/);
  });
});
