// The README's first commands, in their order, on this checkout:
// `npm install && npm start` (install builds dist/ through `prepare`), then
// `npm test` (which runs `build:ts` again) and any build script, after each
// of which `npm start` and the blkbench bin still work. `npm start` runs the
// built CLI directly: no second install or build (npx would install the
// checkout into its cache and build it again).
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BLKBENCH_CLI, REPO_ROOT } from '../../support/paths';

const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));

function npmRun(args: string[]): string {
  return execFileSync('npm', args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function startWorks(): void {
  const r = spawnSync('npm', ['start', '--', '--version'], { cwd: REPO_ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /blkbench/);
}

function binWorks(): void {
  // As npm links it (node_modules/.bin/blkbench -> dist/blkbench/cli.js): executable, with its shebang.
  assert.ok((fs.statSync(BLKBENCH_CLI).mode & 0o111) !== 0, `${BLKBENCH_CLI} is not executable`);
  const r = spawnSync(BLKBENCH_CLI, ['--version'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr || String(r.error));
  assert.match(r.stdout, /blkbench/);
}

describe("the README's first commands", function () {
  this.timeout(300_000);

  it('npm start runs the built CLI, with nothing built first', () => {
    assert.equal(manifest.scripts.start, 'node dist/blkbench/cli.js');
    assert.equal(manifest.scripts.prestart, undefined);
    assert.equal(manifest.bin.blkbench, 'dist/blkbench/cli.js');
  });

  it('npm start runs the default job after npm install', () => {
    const r = spawnSync('npm', ['start'], { cwd: REPO_ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /IOPS/i);
  });

  // npm install (`prepare`), `npm test` and `npm run build` all compile dist/ through build:ts.
  it('npm start and the bin still work after npm run build:ts', () => {
    npmRun(['run', 'build:ts']);
    startWorks();
    binWorks();
  });

  it('npx blkbench in the checkout runs the built CLI through the link npm install made, installing nothing', () => {
    const link = path.join(REPO_ROOT, 'node_modules', '.bin', 'blkbench');
    assert.equal(fs.realpathSync(link), fs.realpathSync(BLKBENCH_CLI), 'npm install links node_modules/.bin/blkbench to dist/');
    const r = spawnSync('npx', ['--no-install', 'blkbench', '--version'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr || String(r.error));
    assert.match(r.stdout, /blkbench/);
  });

  it('npm install, npm test and npm run build compile dist/ through build:ts', () => {
    for (const name of ['prepare', 'build', 'test']) assert.match(manifest.scripts[name], /npm run build:ts/, name);
  });

  it('every script that compiles dist/ does it through build:ts, which keeps the bin executable', () => {
    for (const [name, command] of Object.entries<string>(manifest.scripts)) {
      if (name === 'build:ts') continue;
      assert.doesNotMatch(command, /\btsc -p \.(\s|$)/, `${name} compiles dist/ itself`);
    }
    assert.match(manifest.scripts['build:ts'], /chmodSync\('dist\/blkbench\/cli\.js'/);
  });
});
