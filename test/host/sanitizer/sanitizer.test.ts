// The sanitizer job: the addon and libblkio.so.1 built with
// -fsanitize=address,undefined (build-asan.sh, cached in ~/.cache/blkio-asan
// by a hash of the sources), then the io_uring, vhost-user and C ABI suites
// run in a child mocha whose node has gcc's libasan preloaded and loads the
// instrumented builds (BLKIO_ADDON_PATH, BLKIO_TEST_LIBBLKIO_DIR). A suite
// passes only if the child passes and no sanitizer report appears.
// Processes the suites start inherit the runtime, except QEMU and compilers.
import * as assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DIST_TEST, REPO_ROOT } from '../../support/paths';

const HERE = path.join(REPO_ROOT, 'test', 'host', 'sanitizer');
const BUILD_SCRIPT = path.join(HERE, 'build-asan.sh');
const CACHE_ROOT = process.env.BLKIO_ASAN_CACHE || path.join(os.homedir(), '.cache', 'blkio-asan');
const REPORT = /ERROR: AddressSanitizer|runtime error:|LeakSanitizer|ERROR: UndefinedBehaviorSanitizer/;

/** Every file the instrumented build is made of, and the tools that make it. */
function sourceHash(): string {
  const hash = crypto.createHash('sha256');
  const walk = (dir: string): string[] =>
    fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      const p = path.join(dir, e.name);
      return e.isDirectory() ? walk(p) : /\.(cc|h|map)$/.test(e.name) ? [p] : [];
    });
  for (const file of [...walk(path.join(REPO_ROOT, 'addon')).sort(), path.join(REPO_ROOT, 'binding.gyp'), BUILD_SCRIPT]) {
    hash.update(path.relative(REPO_ROOT, file)).update('\0').update(fs.readFileSync(file)).update('\0');
  }
  hash.update(execFileSync('g++', ['--version'], { encoding: 'utf8' })).update(process.version);
  return hash.digest('hex').slice(0, 16);
}

/** The instrumented build for the current sources: cached, else built (atomically renamed into place). */
function instrumentedBuild(): string {
  const dir = path.join(CACHE_ROOT, sourceHash());
  if (fs.existsSync(path.join(dir, 'libblkio.so.1'))) return dir;
  fs.mkdirSync(CACHE_ROOT, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(CACHE_ROOT, '.build-'));
  try {
    execFileSync('bash', [BUILD_SCRIPT, tmp], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    try {
      fs.renameSync(tmp, dir);
    } catch (e) {
      if (!fs.existsSync(path.join(dir, 'libblkio.so.1'))) throw e; // else a concurrent run won the race
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

function sanitizerRuntime(): string {
  const lib = execFileSync('gcc', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).trim();
  return fs.realpathSync(lib);
}

// Programs the suites start that must run without the sanitizer runtime:
// QEMU's coroutines hang under ASan, and compilers need nothing of it. Node
// children (worker processes loading the addon) and the C programs keep it.
const UNSANITIZED = ['qemu-storage-daemon', 'qemu-img', 'gcc', 'g++', 'cc'];

/** A directory of shims, first on the child's PATH, that start those programs without LD_PRELOAD. */
function shimDir(build: string): string {
  const dir = path.join(build, 'unsanitized-bin');
  fs.mkdirSync(dir, { recursive: true });
  for (const name of UNSANITIZED) {
    const real = (process.env.PATH ?? '')
      .split(':')
      .map((d) => path.join(d, name))
      .find((p) => p !== path.join(dir, name) && fs.existsSync(p));
    if (!real) continue;
    fs.writeFileSync(path.join(dir, name), `#!/bin/sh\nunset LD_PRELOAD\nexec ${JSON.stringify(real)} "$@"\n`, { mode: 0o755 });
  }
  return dir;
}

function childEnv(build: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: `${shimDir(build)}:${process.env.PATH ?? ''}`,
    LD_PRELOAD: sanitizerRuntime(),
    // node itself leaks at exit by design; reports stop the process.
    ASAN_OPTIONS: 'detect_leaks=0:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=0',
    UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
    BLKIO_ADDON_PATH: path.join(build, 'blkio.node'),
    BLKIO_TEST_LIBBLKIO_DIR: build,
    BLKIO_LIBRARY: path.join(build, 'libblkio.so.1'),
  };
}

interface ChildRun {
  status: number | null;
  output: string;
}

/** Runs mocha over compiled test files in a sanitized child node; never blocks the event loop. */
function runSuites(build: string, files: string[], limitMs: number): Promise<ChildRun> {
  const mocha = path.join(REPO_ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js');
  const args = [mocha, '--no-config',
    '--reporter', 'dot', '--timeout', '60000', ...files.map((f) => path.join(DIST_TEST, f))];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env: childEnv(build), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      output += `\n[sanitizer run: killed after ${limitMs} ms]\n`;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, output });
    });
  });
}

function assertClean(run: ChildRun): void {
  const report = run.output.split('\n').findIndex((line) => REPORT.test(line));
  if (report >= 0) assert.fail(`sanitizer report:\n${run.output.split('\n').slice(report, report + 60).join('\n')}`);
  assert.equal(run.status, 0, `the suites failed under the sanitizers:\n${run.output.slice(-8000)}`);
  assert.match(run.output, /\d+ passing/, run.output.slice(-2000));
}

function testFiles(dir: string, keep: (name: string) => boolean = () => true): string[] {
  return fs
    .readdirSync(path.join(DIST_TEST, dir))
    .filter((f) => f.endsWith('.test.js') && keep(f))
    .sort()
    .map((f) => path.join(dir, f));
}

describe('sanitizers: the suites under ASan and UBSan', function () {
  this.timeout(20 * 60 * 1000);
  let build: string;

  before(function () {
    assert.equal(spawnSync('g++', ['--version']).status, 0, 'g++ is needed to build the instrumented addon');
    build = instrumentedBuild();
  });

  it('the instrumented addon and libblkio.so.1 call into the sanitizer runtime', () => {
    for (const file of ['blkio.node', 'libblkio.so.1']) {
      const symbols = execFileSync('nm', ['-D', '--undefined-only', path.join(build, file)], { encoding: 'utf8' });
      assert.match(symbols, /__asan_report_/, file);
      assert.match(symbols, /__ubsan_handle_/, file);
    }
  });

  it('with these options a heap overflow and a signed overflow are reported (the job can see reports)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkio-asan-canary-'));
    try {
      const source = path.join(dir, 'canary.c');
      fs.writeFileSync(
        source,
        '#include <stdlib.h>\n#include <limits.h>\n' +
          'int main(int argc, char **argv) {\n' +
          '  if (argc > 1) { volatile int big = INT_MAX; return big + argc; }\n' +
          '  char *p = malloc(16); p[16 + argc - 1] = 1; free(p); return 0;\n}\n',
      );
      const exe = path.join(dir, 'canary');
      execFileSync('gcc', ['-O0', '-g', '-fsanitize=address,undefined', '-fno-sanitize-recover=undefined', source, '-o', exe]);
      const env = childEnv(build);
      delete env.LD_PRELOAD; // linked with the runtime itself
      for (const args of [[], ['signed']]) {
        const r = spawnSync(exe, args, { env, encoding: 'utf8' });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, REPORT);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the child node loads the instrumented addon, with the sanitizer runtime', () => {
    const probe = `require(${JSON.stringify(path.join(DIST_TEST, 'src', 'lib'))});
      const maps = require('fs').readFileSync('/proc/self/maps', 'utf8');
      console.log(maps.includes(process.env.BLKIO_ADDON_PATH) && /libasan/.test(maps) ? 'instrumented' : 'plain');`;
    const out = execFileSync(process.execPath, ['-e', probe], { env: childEnv(build), encoding: 'utf8' });
    assert.equal(out.trim(), 'instrumented');
  });

  it('io_uring suites run clean', async () => {
    assertClean(await runSuites(build, testFiles('test/host/io_uring'), 8 * 60 * 1000));
  });

  it('vhost-user suites run clean', async () => {
    assertClean(await runSuites(build, testFiles('test/host/vhost-user'), 10 * 60 * 1000));
  });

  it('capacity suites (files, loop devices and vhost-user backends that resize) run clean', async () => {
    assertClean(await runSuites(build, testFiles('test/host/capacity'), 5 * 60 * 1000));
  });

  it('C ABI suites (C programs and the koffi driver over libblkio.so.1) run clean', async () => {
    const files = testFiles('test/host/capi', (f) => f !== 'install.test.js'); // install copies build/Release
    assertClean(await runSuites(build, files, 8 * 60 * 1000));
  });
});
